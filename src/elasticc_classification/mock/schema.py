"""Column sets, TFORMs, fill values and primary-header cards of the real ELAsTiCC2 files.

Mirrors the SNANA v11_05d output in ``../shared/realdata`` (column order, TFORMs, sentinels):
extragalactic models carry the 170 HEAD columns of ``SNIb-Templates`` (host galaxy, photo-z
quantiles, ``SIM_HOSTLIB(...)``, ``SIM_GALFRAC_*``); Galactic (LCLIB) models carry the 146
columns of ``Mdwarf-flare`` (no quantiles, ``SIM_TEMPLATEMAG_*``), with every host field at
its sentinel. PHOT has 21 columns; one separator row (MJD -777) follows every light curve.
"""

from __future__ import annotations

import numpy as np

BANDS = "ugrizY"
_Q = [f"{q:03d}" for q in range(0, 101, 10)]

# TFORM -> big-endian numpy dtype.
TFORM_DTYPE = {"1I": ">i2", "1J": ">i4", "1K": ">i8", "1E": ">f4", "1D": ">f8"}
TFORM_COMMENT = {
    "A": "ASCII Character",
    "1I": "2-byte INTEGER",
    "1J": "4-byte INTEGER",
    "1K": "8-byte INTEGER",
    "1E": "4-byte REAL",
    "1D": "8-byte DOUBLE",
}


def _b(fmt: str, tform: str, fill) -> list[tuple[str, str, object]]:
    return [(fmt.format(b=b), tform, fill) for b in BANDS]


def _zq(prefix: str) -> list[tuple[str, str, object]]:
    return [(f"{prefix}_ZPHOT_Q{q}", "1E", -9.0) for q in _Q]


def _host_block(p: str) -> list[tuple[str, str, object]]:
    """The HOSTGAL (p='HOSTGAL') or HOSTGAL2 block up to and including *_OBJID_UNIQUE."""
    cols: list[tuple[str, str, object]] = (
        [] if p == "HOSTGAL2" else [("HOSTGAL_NMATCH", "1I", 0), ("HOSTGAL_NMATCH2", "1I", 0)]
    )
    cols += [
        (f"{p}_OBJID", "1K", 0),
        (f"{p}_FLAG", "1I", 0),
        (f"{p}_PHOTOZ", "1E", -9.0),
        (f"{p}_PHOTOZ_ERR", "1E", -9.0),
        (f"{p}_SPECZ", "1E", -9.0),
        (f"{p}_SPECZ_ERR", "1E", -9.0),
        (f"{p}_RA", "1D", -999.0),
        (f"{p}_DEC", "1D", -999.0),
        (f"{p}_SNSEP", "1E", -9.0),
        (f"{p}_DDLR", "1E", -9.0),
    ]
    if p == "HOSTGAL":
        cols.append(("HOSTGAL_CONFUSION", "1E", -99.0))
    cols += [
        (f"{p}_{k}", "1E", -9999.0)
        for k in (
            "LOGMASS",
            "LOGMASS_ERR",
            "LOGSFR",
            "LOGSFR_ERR",
            "LOGsSFR",
            "LOGsSFR_ERR",
            "COLOR",
            "COLOR_ERR",
            "ELLIPTICITY",
        )
    ]
    cols += [(f"{p}_OBJID2", "1K", 0), (f"{p}_SQRADIUS", "1E", -9999.0), (f"{p}_OBJID_UNIQUE", "1K", 0)]
    return cols


def _head_columns(extragalactic: bool) -> list[tuple[str, str, object]]:
    """(name, TFORM, fill) of every HEAD column, in the real files' order."""
    cols = [
        ("SNID", "16A", ""),
        ("IAUC", "16A", "NULL"),
        ("FAKE", "1I", 2),
        ("RA", "1D", -999.0),
        ("DEC", "1D", -999.0),
        ("PIXSIZE", "1E", 0.2),
        ("NXPIX", "1I", -9),
        ("NYPIX", "1I", -9),
        ("SNTYPE", "1J", 0),
        ("NOBS", "1J", 0),
        ("PTROBS_MIN", "1J", 0),
        ("PTROBS_MAX", "1J", 0),
        ("MWEBV", "1E", 0.0),
        ("MWEBV_ERR", "1E", 0.0),
        ("REDSHIFT_HELIO", "1E", -9.0),
        ("REDSHIFT_HELIO_ERR", "1E", -9.0),
        ("REDSHIFT_FINAL", "1E", -9.0),
        ("REDSHIFT_FINAL_ERR", "1E", -9.0),
        ("VPEC", "1E", 0.0),
        ("VPEC_ERR", "1E", 300.0 if extragalactic else 0.0),
    ]
    cols += _host_block("HOSTGAL")
    if extragalactic:
        cols += _zq("HOSTGAL")
    cols += _b("HOSTGAL_MAG_{b}", "1E", 999.0) + _b("HOSTGAL_MAGERR_{b}", "1E", 999.0)
    cols += _host_block("HOSTGAL2")
    cols += _b("HOSTGAL2_MAG_{b}", "1E", 999.0) + _b("HOSTGAL2_MAGERR_{b}", "1E", 999.0)
    if extragalactic:
        cols += _zq("HOSTGAL2")
    cols += _b("HOSTGAL_SB_FLUXCAL_{b}", "1E", -999.0)
    cols += [
        ("PEAKMJD", "1E", -9.0),
        ("MJD_TRIGGER", "1E", -9.0),
        ("MJD_DETECT_FIRST", "1E", -9.0),
        ("MJD_DETECT_LAST", "1E", -9.0),
        ("SEARCH_TYPE", "1J", -9),
        ("SIM_MODEL_NAME", "32A", ""),
        ("SIM_MODEL_INDEX", "1I", 0),
        ("SIM_TYPE_INDEX", "1I", 0),
        ("SIM_TYPE_NAME", "8A", ""),
        ("SIM_TEMPLATE_INDEX", "1J", 0),
        ("SIM_LIBID", "1J", 0),
        ("SIM_NGEN_LIBID", "1J", 1),
        ("SIM_NOBS_UNDEFINED", "1J", 0),
        ("SIM_SEARCHEFF_MASK", "1J", 1),
        ("SIM_REDSHIFT_HELIO", "1E", 0.0),
        ("SIM_REDSHIFT_CMB", "1E", 0.0),
        ("SIM_REDSHIFT_HOST", "1E", 0.0),
        ("SIM_REDSHIFT_FLAG", "1I", 2),
        ("SIM_VPEC", "1E", 0.0),
        ("SIM_HOSTLIB_GALID", "1K", -9),
    ]
    if extragalactic:
        cols += [("SIM_HOSTLIB(LOGMASS_TRUE)", "1E", -9.0), ("SIM_HOSTLIB(LOG_SFR)", "1E", -9.0)]
    cols += [
        ("SIM_DLMU", "1E", 0.0),
        ("SIM_LENSDMU", "1E", 0.0),
        ("SIM_RA", "1D", -999.0),
        ("SIM_DEC", "1D", -999.0),
        ("SIM_MWEBV", "1E", 0.0),
        ("SIM_PEAKMJD", "1E", -9.0),
        ("SIM_MJD_EXPLODE", "1E", -9.0),
        ("SIM_MAGSMEAR_COH", "1E", 0.0),
        ("SIM_AV", "1E", -9.0),
        ("SIM_RV", "1E", -9.0),
    ]
    cols += _b("SIM_PEAKMAG_{b}", "1E", 99.0)
    if not extragalactic:
        cols += _b("SIM_TEMPLATEMAG_{b}", "1E", 99.0)
    cols += _b("SIM_EXPOSURE_{b}", "1E", 1.0)
    if extragalactic:
        cols += _b("SIM_GALFRAC_{b}", "1E", -9.0)
    cols += [("SIM_SUBSAMPLE_INDEX", "1I", -9)]
    return cols


HEAD_EXTRAGALACTIC = _head_columns(True)
HEAD_GALACTIC = _head_columns(False)

PHOT_COLUMNS: list[tuple[str, str, object]] = [
    ("MJD", "1D", 0.0),
    ("BAND", "2A", ""),
    ("CCDNUM", "1I", -9),
    ("FIELD", "12A", "VOID"),
    ("PHOTFLAG", "1J", 0),
    ("PHOTPROB", "1E", -9.0),
    ("FLUXCAL", "1E", 0.0),
    ("FLUXCALERR", "1E", 0.0),
    ("PSF_SIG1", "1E", 0.0),
    ("PSF_SIG2", "1E", 0.0),
    ("PSF_RATIO", "1E", 0.0),
    ("SKY_SIG", "1E", 0.0),
    ("SKY_SIG_T", "1E", 0.0),
    ("RDNOISE", "1E", 0.25),
    ("ZEROPT", "1E", 0.0),
    ("ZEROPT_ERR", "1E", 0.005),
    ("GAIN", "1E", 1.0),
    ("XPIX", "1E", -9.0),
    ("YPIX", "1E", -9.0),
    ("SIM_FLUXCAL_HOSTERR", "1E", 0.0),
    ("SIM_MAGOBS", "1E", 99.0),
]

# The separator row written after every light curve (values as in the real files).
SEPARATOR_ROW: dict[str, object] = {
    "MJD": -777.0,
    "BAND": "-",
    "CCDNUM": -9,
    "FIELD": "XXXX",
    "PHOTFLAG": 0,
    "PHOTPROB": 0.0,
    "FLUXCAL": -777.0,
    "FLUXCALERR": -777.0,
    "PSF_SIG1": -9.0,
    "PSF_SIG2": 0.0,
    "PSF_RATIO": 0.0,
    "SKY_SIG": -9.0,
    "SKY_SIG_T": 0.0,
    "RDNOISE": -9.0,
    "ZEROPT": -9.0,
    "ZEROPT_ERR": 0.0,
    "GAIN": -9.0,
    "XPIX": -9.0,
    "YPIX": -9.0,
    "SIM_FLUXCAL_HOSTERR": 0.0,
    "SIM_MAGOBS": 99.0,
}


def dtype_of(columns: list[tuple[str, str, object]]) -> np.dtype:
    """Big-endian structured dtype of a column list (strings as fixed-width bytes)."""
    return np.dtype([(n, f"S{t[:-1]}" if t.endswith("A") else TFORM_DTYPE[t]) for n, t, _ in columns])


def empty_table(columns: list[tuple[str, str, object]], n: int, skip: frozenset[str] = frozenset()) -> np.ndarray:
    """``n`` rows of ``columns``, every column at its fill value (the real files' sentinel),
    except the columns in ``skip``, left at zero for the caller to fill."""
    row = np.zeros(1, dtype=dtype_of(columns))
    for name, tform, fill in columns:
        if name not in skip:
            row[name] = str(fill).encode() if tform.endswith("A") else fill
    return np.tile(row, n)  # one row copied n times: one pass, not one per column (docs/mock.md, Performance)


def primary_cards(
    kind: str, prefix: str, model: str, chunk: str, extragalactic: bool, sim_model_index: int
) -> list[tuple[str, object, str]]:
    """(keyword, value, comment) of HDU 0 as SNANA writes it; ``kind`` is ``HEAD`` or ``PHOT``.

    No dates or host names: the same arguments give the same bytes.
    """
    base = f"{prefix}_NONIaMODEL0-{chunk}"
    cards: list[tuple[str, object, str]] = [
        ("CODE_IVERSION", 22, "Internal SNFTSIO code version"),
        ("SNANA_PATH", "elasticc_classification.mock", "SNANA"),
        ("SNANA_VERSION", "v11_05d-mock", "SNANA version"),
        ("SURVEY", "LSST", "Survey"),
        ("SUBSURVEY_FLAG", 0, "SUBSURVEY_FLAG"),
        ("MWEBV_APPLYFLAG", 0, "1 -> Apply MWEBV cor to FLUXCAL"),
        ("PHOTFLAG_DETECT", 4096, "PHOTFLAG mask for detection"),
        ("FILTERS", BANDS, "List of Filters"),
        ("VERSION", f"MOCK_{prefix}_{model}_NONIaMODEL0-{chunk}", ""),
        ("PHOTFILE", f"{base}_PHOT.FITS", "Photometry"),
    ]
    if kind == "HEAD":
        cards += [
            ("NPRIVATE", 0, "Number of private variables"),
            ("NZPHOT_Q", 11 if extragalactic else 0, "number of Q zphot quantiles"),
        ]
        if extragalactic:
            cards += [(f"PERCENTILE_ZPHOT_Q{i:02d}", 10 * i, f"PERCENTILE_ZPHOT_Q{i:02d}") for i in range(11)]
    cards += [
        ("DATATYPE", "SIM_SNANA", "SNANA Simulation"),
        ("SIMLIB_FILE", "MOCK_LSST_baseline_v2.0_10yrs_WFD.simlib", "SIMLIB Cadence/conditions File"),
        ("KCOR_FILE", "MOCK_kcor_LSST.fits", "KCOR/calibration file"),
        ("SIMLIB_MSKOPT", 128, "SIMLIB options mask"),
        ("HOSTLIB_FILE", "MOCK_LSST.HOSTLIB" if extragalactic else "NONE", "name of HOSTLIB file"),
        ("SIM_MODEL_INDEX", sim_model_index, "SIM MODEL index"),
        ("SIMOPT_MWCOLORLAW", 99, "option for MW color law"),
        ("SIM_MWRV", 3.1, "RV for Galactic extinction"),
        ("SIMOPT_MWEBV", 3, "option for MWEBV_SFD"),
        ("SIMOPT_FLUXERR", 0, "option for fudgeing fluxErrors"),
    ]
    if extragalactic:
        cards += [
            ("SIM_HOSTLIB_NPAR", 2, "Number of SIM_HOSTLIB params"),
            ("SIM_HOSTLIB_PAR00", "SIM_HOSTLIB(LOGMASS_TRUE)", "HOSTLIB column name"),
            ("SIM_HOSTLIB_PAR01", "SIM_HOSTLIB(LOG_SFR)", "HOSTLIB column name"),
        ]
    cards += [
        ("SIM_NSUBSAMPLE_MARK", 0, "Number of marked subSamples"),
        ("SIM_VARNAME_SNRMON", "", "PHOT varName for SNR(MAGMONITOR)"),
        ("SIM_SL_FLAG", 0, "Strong lens flag"),
        ("SIM_BIASCOR_MASK", 0, "biasCor mask"),
        ("MOCKDATA", True, "synthetic sample, not for science"),
    ]
    return cards
