"""Per-observation and static features, labels and splits: a converted parquet table -> a shard.

Per-observation features (``encoding``), in this order; feature 0 is always the time:

``asinh`` (default, the original project): time since the first kept observation (days),
detection flag (0/1), asinh(FLUXCAL), asinh(FLUXCALERR), one-hot band u g r i z Y — 10 features.

``linear``: time (days), detection flag, FLUXCAL/1000, FLUXCALERR/1000, band mean wavelength
(µm: u 0.36, g 0.476, r 0.6215, i 0.7545, z 0.87, Y 1.015) — 5 features.

Static features: the HEAD columns listed in ``static`` (float32), then, when ``flags``, two
engineered flags: ``LOW_GALACTIC_LATITUDE`` (|b| < ``galactic_latitude_deg``) and ``IN_DDF``
(within ``ddf_radius_deg`` of a deep-drilling field: ELAIS-S1, XMM-LSS, ECDFS, COSMOS), from RA/DEC.
Missing values are NaN in the shard: every SNANA sentinel listed in ``sentinels`` (exact match),
every null, and every column absent from the chunk. The model replaces NaN by a fixed fill (0
after normalisation) and adds a missing-indicator per static feature (see docs/design.md).

Labels: the taxonomy leaf of each object's ``MODEL``. Split: from a hash of (SNID as a string,
``split_seed``) — ``test_fraction`` of the objects go to test, ``val_fraction`` of the rest to
validation — so it depends on neither chunking, nor job order, nor worker count.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_classification.errors import InputError
from elasticc_classification.features import preprocess
from elasticc_classification.features.shards import SPLITS, Shard
from elasticc_classification.features.taxonomy import Taxonomy, TaxonomyError
from elasticc_classification.io.snana import PHOT_REQUIRED

log = logging.getLogger(__name__)

BANDS = ("u", "g", "r", "i", "z", "Y")
BAND_WAVELENGTH_UM = {"u": 0.36, "g": 0.476, "r": 0.6215, "i": 0.7545, "z": 0.87, "Y": 1.015}
STATIC_DEFAULT = [
    "MWEBV", "MWEBV_ERR", "REDSHIFT_HELIO", "REDSHIFT_HELIO_ERR",
    "HOSTGAL_PHOTOZ", "HOSTGAL_PHOTOZ_ERR", "HOSTGAL_SPECZ", "HOSTGAL_SPECZ_ERR",
    "HOSTGAL_RA", "HOSTGAL_DEC", "HOSTGAL_SNSEP", "HOSTGAL_ELLIPTICITY",
    "HOSTGAL_MAG_u", "HOSTGAL_MAG_g", "HOSTGAL_MAG_r", "HOSTGAL_MAG_i", "HOSTGAL_MAG_z", "HOSTGAL_MAG_Y",
]  # fmt: skip
FLAG_NAMES = ["LOW_GALACTIC_LATITUDE", "IN_DDF"]
# deep-drilling field centres, Galactic (l, b) in degrees
DDF_GALACTIC = {
    "ELAIS-S1": (311.30, -72.90),
    "XMM-LSS": (171.20, -58.77),
    "ECDFS": (224.07, -54.47),
    "COSMOS": (236.83, 42.09),
}
# ICRS (J2000) unit vector -> Galactic unit vector
_ICRS_TO_GAL = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)

DEFAULTS: dict[str, Any] = {
    "keep": "detection_window",  # detection_window | all
    "drop_saturated": True,
    "saturation_bit": 1024,
    "detection_bit": 4096,
    "drop_no_detection": True,
    "encoding": "asinh",  # asinh | linear
    "static": list(STATIC_DEFAULT),
    "flags": True,
    "galactic_latitude_deg": 15.0,
    "ddf_radius_deg": 1.75,
    "sentinels": [-9.0, -99.0, -999.0, -9999.0, 999.0],
    "split_seed": 42,
    "test_fraction": 0.3,
    "val_fraction": 0.05,
    "gallery_objects": 6,  # light curves per gallery page (plots only)
}


def default_config() -> dict[str, Any]:
    """The ``tensorize`` section's defaults (a fresh copy)."""
    return {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}


def resolve_config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """``cfg`` (the ``tensorize`` config section, possibly partial or empty) with defaults filled
    in; unknown keys or bad values raise :class:`InputError`."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise InputError(f"tensorize config: unknown keys {unknown}; known keys are {sorted(DEFAULTS)}")
    out = {**default_config(), **cfg}
    if out["keep"] not in preprocess.KEEP_MODES:
        raise InputError(f"tensorize config: keep {out['keep']!r} is not one of {list(preprocess.KEEP_MODES)}")
    if out["encoding"] not in ("asinh", "linear"):
        raise InputError(f"tensorize config: encoding {out['encoding']!r} is not 'asinh' or 'linear'")
    tf, vf = float(out["test_fraction"]), float(out["val_fraction"])
    if not (0.0 <= tf <= 1.0 and 0.0 <= vf <= 1.0):
        raise InputError(f"tensorize config: test_fraction and val_fraction must lie in [0, 1], got {tf}, {vf}")
    if not isinstance(out["static"], list) or not all(isinstance(s, str) for s in out["static"]):
        raise InputError("tensorize config: static must be a list of HEAD column names")
    if len(set(out["static"])) != len(out["static"]):
        raise InputError(f"tensorize config: static lists a column twice: {out['static']}")
    out["static"] = list(out["static"])
    out["sentinels"] = [float(s) for s in out["sentinels"]]
    return out


def feature_names(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the per-observation features for ``cfg`` (resolved)."""
    if cfg["encoding"] == "linear":
        return ["time_days", "detection", "fluxcal_1000", "fluxcalerr_1000", "wavelength_um"]
    return ["time_days", "detection", "asinh_fluxcal", "asinh_fluxcalerr"] + [f"band_{b}" for b in BANDS]


def static_names(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the static features for ``cfg`` (resolved)."""
    return list(cfg["static"]) + (list(FLAG_NAMES) if cfg["flags"] else [])


# --- flattening ----------------------------------------------------------------------------
def _list_column(table: pa.Table, name: str, source: str) -> tuple[np.ndarray, pa.Array]:
    """Offsets (int64, from 0) and flat values of list column ``name`` (null lists are empty)."""
    col = table.column(name)
    if isinstance(col, pa.ChunkedArray):
        arr = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    else:
        arr = col
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        raise InputError(
            f"{source}: column {name} is not a list column (one light curve per row) but {arr.type}; "
            "rerun convert on this chunk"
        )
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar([], arr.type))
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return offsets - offsets[0], values


def _numeric(values: pa.Array, fill: float | int | None = None) -> np.ndarray:
    """Numpy view (copy only where needed) of a numeric arrow array: float32/64 kept, nulls -> NaN
    (or ``fill``), other types cast to float64."""
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        try:
            values = pc.cast(values, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"expected numbers, got {values.type}") from None
    if values.null_count:
        if fill is None:
            values = pc.cast(values, pa.float64()) if not pa.types.is_floating(values.type) else values
            return values.to_numpy(zero_copy_only=False)
        values = pc.fill_null(values, fill)
    return values.to_numpy()


def band_codes(values: pa.Array, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Band of every observation as ``(code, lut)``: ``lut[code]`` is the index into :data:`BANDS`
    (whitespace stripped). Unknown or null bands raise :class:`InputError`.

    Dictionary-encoded input (as :func:`~elasticc_classification.io.parquet.read_parquet` reads BAND) costs O(dictionary)
    here: the codes are the parquet dictionary indices, mapped later for kept observations only."""
    if pa.types.is_dictionary(values.type):
        enc = values
    else:
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = pc.cast(values, pa.string())
        enc = values.dictionary_encode()
    names = [None if n is None else str(n).strip() for n in enc.dictionary.to_pylist()]
    indices = enc.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(names))  # the extra last entry of lut: unknown
    lut = np.array([BANDS.index(n) if n in BANDS else -1 for n in names] + [-1], dtype=np.int8)
    code = indices.to_numpy()
    if enc.indices.null_count or (lut[:-1] < 0).any():  # some name unknown: is it used?
        bad_codes = np.unique(code[lut[code] < 0])
        if len(bad_codes):
            bad = sorted(str(names[i]) if i < len(names) else "<null>" for i in bad_codes)
            raise InputError(
                f"{source}: BAND values {bad} are not LSST bands {list(BANDS)}; "
                "convert the chunk with the package's converter"
            )
    return code, lut


def flatten(table: pa.Table, source: str = "<table>") -> preprocess.LightCurves:
    """The PHOT list columns of ``table`` as flat arrays (not yet sorted)."""
    missing = [c for c in PHOT_REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(
            f"{source}: missing required column(s) {missing}; a converted chunk has "
            f"{list(PHOT_REQUIRED)} as list columns: rerun convert on it"
        )
    offs = {}
    vals = {}
    for c in PHOT_REQUIRED:
        offs[c], vals[c] = _list_column(table, c, source)
    for c in PHOT_REQUIRED[1:]:
        if not np.array_equal(offs[c], offs["MJD"]):
            bad = int(np.flatnonzero(np.diff(offs[c]) != np.diff(offs["MJD"]))[0])
            raise InputError(
                f"{source}: row {bad}: column {c} has a different number of observations than MJD; rerun convert"
            )
    code, lut = band_codes(vals["BAND"], source)
    try:
        mjd, photflag, flux, err = (
            _numeric(vals["MJD"]),
            _numeric(vals["PHOTFLAG"], 0),
            _numeric(vals["FLUXCAL"]),
            _numeric(vals["FLUXCALERR"]),
        )
    except InputError as e:
        raise InputError(f"{source}: PHOT columns must be numeric lists: {e}; rerun convert") from None
    if not pa.types.is_integer(vals["PHOTFLAG"].type):
        photflag = photflag.astype(np.int64)
    return preprocess.LightCurves(
        offsets=offs["MJD"],
        mjd=mjd.astype(np.float64, copy=False),
        photflag=photflag,
        fluxcal=flux,
        fluxcalerr=err,
        band_code=code,
        band_lut=lut,
    )


def preprocess_table(
    table: pa.Table, cfg: Mapping[str, Any], source: str = "<table>"
) -> tuple[preprocess.LightCurves, preprocess.KeepResult, int]:
    """Flatten the PHOT list columns of ``table``, sort every light curve by MJD and decide which
    observations ``cfg`` (resolved, :func:`resolve_config`) keeps: ``(light curves, keep result,
    number of objects that were not in MJD order)``."""
    lc, n_unsorted = preprocess.sort_by_mjd(flatten(table, source))
    kr = preprocess.keep_mask(
        lc,
        keep=cfg["keep"],
        drop_saturated=cfg["drop_saturated"],
        saturation_bit=int(cfg["saturation_bit"]),
        detection_bit=int(cfg["detection_bit"]),
        drop_no_detection=cfg["drop_no_detection"],
    )
    return lc, kr, n_unsorted


# --- static features -----------------------------------------------------------------------
def galactic(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude and latitude (degrees) of ICRS ``ra_deg``, ``dec_deg`` (degrees)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    g = _ICRS_TO_GAL @ v
    l = np.degrees(np.arctan2(g[1], g[0])) % 360.0
    b = np.degrees(np.arcsin(np.clip(g[2], -1.0, 1.0)))
    return l, b


def sky_flags(ra_deg: np.ndarray, dec_deg: np.ndarray, max_abs_b: float = 15.0, ddf_radius: float = 1.75) -> np.ndarray:
    """``(N, 2)`` float32: |b| < ``max_abs_b`` and within ``ddf_radius`` degrees of a DDF; NaN where RA/DEC is NaN."""
    l, b = galactic(ra_deg, dec_deg)
    lr, br = np.radians(l), np.radians(b)
    v = np.stack([np.cos(br) * np.cos(lr), np.cos(br) * np.sin(lr), np.sin(br)], axis=1)
    lc, bc = np.radians(np.array(list(DDF_GALACTIC.values()))).T
    centres = np.stack([np.cos(bc) * np.cos(lc), np.cos(bc) * np.sin(lc), np.sin(bc)], axis=1)
    in_ddf = (v @ centres.T).max(axis=1) >= np.cos(np.radians(ddf_radius))
    out = np.stack([np.abs(b) < max_abs_b, in_ddf], axis=1).astype(np.float32)
    out[~(np.isfinite(ra_deg) & np.isfinite(dec_deg))] = np.nan
    return out


def _scalar_column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """A HEAD column as float64 (nulls NaN); not a number -> :class:`InputError`."""
    col = table.column(name)
    try:
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(
            f"{source}: static column {name} has type {col.type}, not a number; remove it from tensorize.static"
        ) from None


def static_features(
    table: pa.Table, cfg: Mapping[str, Any], source: str = "<table>"
) -> tuple[np.ndarray, dict[str, int]]:
    """``(N, S)`` float32 static features (NaN = missing: sentinel, null or absent column) and counts."""
    n = table.num_rows
    names = list(cfg["static"])
    have = set(table.column_names)
    present = [k for k, c in enumerate(names) if c in have]
    absent = [c for c in names if c not in have]
    head = np.full((n, len(names)), np.nan)
    for k in present:
        head[:, k] = _scalar_column(table, names[k], source)
    head[np.isin(head, np.asarray(cfg["sentinels"], dtype=np.float64))] = np.nan  # exact matches only
    parts = [head]
    if cfg["flags"]:
        if "RA" in have and "DEC" in have:
            ra, dec = _scalar_column(table, "RA", source), _scalar_column(table, "DEC", source)
            parts.append(sky_flags(ra, dec, cfg["galactic_latitude_deg"], cfg["ddf_radius_deg"]))
        else:
            absent.append("RA/DEC (flags)")
            parts.append(np.full((n, 2), np.nan))
    static = np.concatenate(parts, axis=1).astype(np.float32)
    if absent:
        log.info("%s: static columns absent, missing for all %d objects: %s", source, n, absent)
    return static, {"static_columns_absent": len(absent), "static_values_missing": int(np.isnan(static).sum())}


# --- labels and split ----------------------------------------------------------------------
def snid_strings(table: pa.Table) -> pa.Array:
    """SNID as stripped strings (integers in decimal); ``table`` has a SNID column (:func:`build_shard`
    checks before calling)."""
    col = table.column("SNID")
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return pc.utf8_trim_whitespace(col)


def split_hash(snid: np.ndarray | pa.Array, seed: int) -> np.ndarray:
    """Uniform numbers in [0, 1) from (SNID string, seed): FNV-1a 64 over the UTF-8 bytes, seed mixed
    in, splitmix64 finaliser. Vectorised over objects (one numpy step per byte position)."""
    if isinstance(snid, (pa.Array, pa.ChunkedArray)):
        snid = np.asarray(snid.to_numpy(zero_copy_only=False), dtype=object)
    b = np.asarray(snid, dtype=object).astype(str).astype(np.bytes_)
    if b.size == 0:
        return np.zeros(0)
    width = b.dtype.itemsize
    m = np.frombuffer(b.tobytes(), dtype=np.uint8).reshape(len(b), width).astype(np.uint64)
    h = np.full(len(b), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for k in range(width):  # trailing NUL padding is skipped: independent of the batch's width
            c = m[:, k]
            h = np.where(c != 0, (h ^ c) * prime, h)
        h ^= np.uint64((int(seed) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def assign_split(snid: np.ndarray | pa.Array, seed: int, test_fraction: float, val_fraction: float) -> np.ndarray:
    """0 train / 1 validation / 2 test per object, from :func:`split_hash`."""
    u = split_hash(snid, seed)
    out = np.full(len(u), SPLITS["train"], dtype=np.int8)
    out[u < test_fraction + (1.0 - test_fraction) * val_fraction] = SPLITS["val"]
    out[u < test_fraction] = SPLITS["test"]
    return out


def leaf_labels(
    models: pa.Array, taxonomy: Taxonomy | None, require_labels: bool, source: str
) -> tuple[np.ndarray, int]:
    """Leaf node index per object (int16) and the number of objects with no known leaf (-1)."""
    enc = models.dictionary_encode()
    names = enc.dictionary.to_pylist()
    lut = np.full(len(names), -1, dtype=np.int16)
    for k, name in enumerate(names):  # loop over distinct models (a handful), not objects
        if taxonomy is not None and name in taxonomy.models:
            lut[k] = taxonomy.leaf_of_model(name)
        elif require_labels:
            if taxonomy is None:
                raise InputError(f"{source}: labels required but no taxonomy given")
            try:
                taxonomy.leaf_of_model(str(name))
            except TaxonomyError as e:
                raise InputError(f"{source}: {e}") from None
    idx = enc.indices.to_numpy(zero_copy_only=False)
    leaf = lut[idx] if len(idx) else np.zeros(0, np.int16)
    return leaf, int((leaf < 0).sum())


# --- the shard -----------------------------------------------------------------------------
def observation_features(
    lc: preprocess.LightCurves, index: np.ndarray, detection: np.ndarray, t0_obs: np.ndarray, encoding: str
) -> np.ndarray:
    """``(n_kept, F)`` float32 features of the observations at positions ``index`` (``t0_obs``: MJD
    of each one's first kept observation). Work and memory O(kept observations)."""
    n = len(index)
    f = 5 if encoding == "linear" else 10
    x = np.zeros((n, f), dtype=np.float32)
    x[:, 0] = lc.mjd[index] - t0_obs
    x[:, 1] = detection[index]
    flux = lc.fluxcal[index]
    err = lc.fluxcalerr[index]
    band = lc.band_at(index)
    if encoding == "linear":
        x[:, 2] = flux / 1000.0
        x[:, 3] = err / 1000.0
        x[:, 4] = np.array([BAND_WAVELENGTH_UM[b] for b in BANDS], dtype=np.float32)[band]
    else:
        x[:, 2] = np.arcsinh(flux)
        x[:, 3] = np.arcsinh(err)
        x[np.arange(n), 4 + band.astype(np.int64)] = 1.0
    return x


def build_shard(
    table: pa.Table,
    cfg: Mapping[str, Any] | None,
    taxonomy: Taxonomy | None,
    require_labels: bool = True,
    source: str = "<table>",
) -> Shard:
    """Turn a converted parquet table (one row per object) into a :class:`~.shards.Shard`.

    ``cfg``: the ``tensorize`` config section (``{}`` for the defaults). With ``require_labels``
    every MODEL must be in ``taxonomy``; without, unknown or missing MODEL gives leaf -1.
    ``source`` names the input in error messages and the log. Counts of everything dropped
    are logged and stored in ``meta["counts"]``.
    """
    cfg = resolve_config(cfg)
    for c in ("SNID",) + (("MODEL",) if require_labels else ()):
        if c not in table.column_names:
            raise InputError(f"{source}: missing required column {c}; rerun convert on this chunk")
    lc, kr, n_unsorted = preprocess_table(table, cfg, source)
    if "MODEL" in table.column_names:
        models = table.column("MODEL").combine_chunks()
        models = pc.fill_null(pc.cast(models, pa.string()), "")
    else:
        models = pa.array([""] * table.num_rows, pa.string())
    leaf, n_unlabelled = leaf_labels(models, taxonomy, require_labels, source)
    snid = np.asarray(snid_strings(table).to_numpy(zero_copy_only=False), dtype=object)
    split = assign_split(snid, int(cfg["split_seed"]), float(cfg["test_fraction"]), float(cfg["val_fraction"]))
    static, static_counts = static_features(table, cfg, source)

    keep = kr.keep_object
    kept_counts = kr.kept_counts[keep]
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(kept_counts, out=offsets[1:])
    t0 = lc.mjd[kr.index[offsets[:-1]]] if len(kept_counts) else np.zeros(0)
    x = observation_features(lc, kr.index, kr.detection, np.repeat(t0, kept_counts), cfg["encoding"])

    counts = dict(kr.counts, objects_unsorted_mjd=n_unsorted, objects_unlabelled=n_unlabelled, **static_counts)
    split_kept = split[keep]
    for name, code in SPLITS.items():
        counts[f"objects_{name}"] = int((split_kept == code).sum())
    log.info("%s: %s", source, ", ".join(f"{k} {v}" for k, v in counts.items()))
    models_np = np.asarray(models.to_numpy(zero_copy_only=False), dtype=object)
    meta = {
        "feature_names": feature_names(cfg),
        "static_names": static_names(cfg),
        "taxonomy": taxonomy.to_dict() if taxonomy is not None else None,
        "preprocess": cfg,
        "counts": counts,
        "source": str(source),
    }
    return Shard(
        snid=snid[keep],
        model=models_np[keep],
        leaf=leaf[keep].astype(np.int16),
        split=split_kept,
        t0=t0.astype(np.float64),
        first_det=kr.first_det[keep].astype(np.int32),
        static=static[keep],
        x=x,
        offsets=offsets,
        meta=meta,
    )
