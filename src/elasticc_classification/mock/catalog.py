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
