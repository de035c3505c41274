"""The 32 ELAsTiCC2 training models of the mock sample and the SIM_TYPE_INDEX their files carry."""

from __future__ import annotations

# The 32 ELAsTiCC2 training models and the SIM_TYPE_INDEX their files carry.
MODELS: dict[str, int] = {
    "SNIa-SALT3": 10,
    "SNIa-91bg": 11,
    "SNIax": 12,
    "SNIb-Templates": 20,
    "SNIb+HostXT_V19": 21,
    "SNIc-Templates": 25,
    "SNIc+HostXT_V19": 26,
    "SNIcBL+HostXT_V19": 27,
    "SNII-NMF": 30,
    "SNII-Templates": 31,
    "SNII+HostXT_V19": 32,
    "SNIIn-MOSFIT": 35,
    "SNIIn+HostXT_V19": 36,
    "SNIIb+HostXT_V19": 37,
    "SLSN-I+host": 40,
    "SLSN-I_no_host": 40,
    "TDE": 42,
    "ILOT": 45,
    "CART": 46,
    "PISN": 59,
    "KN_K17": 50,
    "KN_B19": 51,
    "Mdwarf-flare": 82,
    "dwarf-nova": 84,
    "uLens-Single_PyLIMA": 87,
    "uLens-Single-GenLens": 88,
    "uLens-Binary": 89,
    "CLAGN": 60,
    "RRL": 80,
    "EB": 83,
    "Cepheid": 90,
    "d-Sct": 91,
}

# Objects per model in the ELAsTiCC2 training set (thousands), from the published relative numbers
# (../shared/facts/elasticc2_simulation.md): ORACLE's per-class totals (train + test + validation;
# the eight classes ORACLE capped at 40,000 training objects are "each >= 66.7k" there and are
# taken at that bound), split over a class's models by the published rate scale of each model
# (CC_S15 x DNDZ_ALLSCALE for the core-collapse templates) and equally where the models share a
# rate law (SLSN, KN, uLens). The 1 % real sample agrees where it can be checked: 27 M-dwarf
# flares in 40 chunks (2.7k at full scale; 2.65k here).
_CC_IBC = {
    "SNIb-Templates": 0.054,
    "SNIb+HostXT_V19": 0.054,
    "SNIc-Templates": 0.0375,
    "SNIc+HostXT_V19": 0.0375,
    "SNIcBL+HostXT_V19": 0.011,
}
_CC_II = {
    "SNII-NMF": 0.162,
    "SNII-Templates": 0.162,
    "SNII+HostXT_V19": 0.325,
    "SNIIn-MOSFIT": 0.0235,
    "SNIIn+HostXT_V19": 0.0235,
    "SNIIb+HostXT_V19": 0.109,
}
_CAPPED = 66.7  # ">= 66.7k" of the capped classes
PUBLISHED_NUMBERS: dict[str, float] = {
    "SNIa-SALT3": _CAPPED,
    "SNIa-91bg": 40.9,
    "SNIax": 40.0,
    **{m: _CAPPED * s / sum(_CC_IBC.values()) for m, s in _CC_IBC.items()},
    **{m: _CAPPED * s / sum(_CC_II.values()) for m, s in _CC_II.items()},
    "SLSN-I+host": _CAPPED / 2,
    "SLSN-I_no_host": _CAPPED / 2,
    "TDE": _CAPPED,
    "ILOT": 10.7,
    "CART": 11.7,
    "PISN": _CAPPED,
    "KN_K17": 6.3 / 2,
    "KN_B19": 6.3 / 2,
    "Mdwarf-flare": 2.65,
    "dwarf-nova": 11.5,
    "uLens-Single_PyLIMA": 25.1 / 3,
    "uLens-Single-GenLens": 25.1 / 3,
    "uLens-Binary": 25.1 / 3,
    "CLAGN": _CAPPED,
    "RRL": 20.0,
    "EB": _CAPPED,
    "Cepheid": 19.7,
    "d-Sct": 29.5,
}
MIXES = ("equal", "published")


def relative_numbers(mix: str = "equal") -> dict[str, float]:
    """Each model's share of ``objects_per_chunk``, normalised to a mean of 1 over the 32 models
    (so that the sample's size does not depend on the mix, nor a model's share on which others are
    generated). ``equal``: 1 for every model; ``published``: the training set's relative numbers."""
    if mix not in MIXES:
        raise ValueError(f"unknown mock mix {mix!r}; choose from {', '.join(MIXES)}")
    if mix == "equal":
        return dict.fromkeys(MODELS, 1.0)
    mean = sum(PUBLISHED_NUMBERS.values()) / len(PUBLISHED_NUMBERS)
    return {m: PUBLISHED_NUMBERS[m] / mean for m in MODELS}
