"""Per-observation and static features and labels: a converted parquet table -> a shard (:func:`build_shard`).

Per-observation features (``encoding``), in this order; feature 0 is always the time:

``asinh`` (default, the original project): time since the first kept observation (days),
detection flag (0/1), asinh(FLUXCAL), asinh(FLUXCALERR), one-hot band u g r i z Y — 10 features.

``linear``: time (days), detection flag, FLUXCAL/1000, FLUXCALERR/1000, band mean wavelength
(µm: u 0.36, g 0.476, r 0.6215, i 0.7545, z 0.87, Y 1.015) — 5 features.

Static features: the HEAD columns listed in ``static`` (float32), then, when ``flags``, two
engineered flags from RA/DEC (:mod:`.sky`): ``LOW_GALACTIC_LATITUDE`` (|b| < ``galactic_latitude_deg``)
and ``IN_DDF`` (within ``ddf_radius_deg`` of a deep-drilling field: ELAIS-S1, XMM-LSS, ECDFS, COSMOS).
Missing values are NaN in the shard: every SNANA sentinel listed in ``sentinels`` (exact match),
every null, and every column absent from the chunk. The model replaces NaN by a fixed fill (0
after normalisation) and adds a missing-indicator per static feature (see docs/design.md).

Labels: the taxonomy leaf of each object's ``MODEL``. Split: :mod:`.split` (a hash of SNID and
``split_seed``). Light curves are flattened, sorted and masked by :mod:`.lightcurves`. ``cfg``
everywhere is the ``tensorize`` config section; its defaults live in the schema
(:func:`elasticc_classification.config.resolve` fills them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features import preprocess
from elasticc_classification.features.lightcurves import BANDS, preprocess_table
from elasticc_classification.features.shards import SPLITS, Shard
from elasticc_classification.features.sky import FLAG_NAMES, sky_flags
from elasticc_classification.features.split import assign_split, snid_strings
from elasticc_classification.features.taxonomy import Taxonomy, TaxonomyError

log = logging.getLogger(__name__)

BAND_WAVELENGTH_UM = {"u": 0.36, "g": 0.476, "r": 0.6215, "i": 0.7545, "z": 0.87, "Y": 1.015}


def feature_names(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the per-observation features for ``cfg`` (filled)."""
    if cfg["encoding"] == "linear":
        return ["time_days", "detection", "fluxcal_1000", "fluxcalerr_1000", "wavelength_um"]
    return ["time_days", "detection", "asinh_fluxcal", "asinh_fluxcalerr"] + [f"band_{b}" for b in BANDS]


def static_names(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the static features for ``cfg`` (filled)."""
    return list(cfg["static"]) + (list(FLAG_NAMES) if cfg["flags"] else [])


# --- static features -----------------------------------------------------------------------
def _scalar_column(table: pa.Table, name: str, source: str) -> np.ndarray:
    """A HEAD column as float64 (nulls NaN); not a number -> :class:`InputError`."""
    col = table.column(name)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):  # no cast kernel: nulls NaN all the same
        return np.asarray(col.to_numpy(), dtype=np.float64)
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


# --- labels -------------------------------------------------------------------------------
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
    assign_splits: bool = True,
) -> Shard:
    """Turn a converted parquet table (one row per object) into a :class:`~.shards.Shard`.

    ``cfg``: the ``tensorize`` config section (partial or ``{}``: schema defaults). With ``require_labels``
    every MODEL must be in ``taxonomy``; without, unknown or missing MODEL gives leaf -1.
    ``assign_splits=False`` (prediction, which never reads the split): no split hash, every
    object in split ``train`` and no per-split counts.
    ``source`` names the input in error messages and the log. Counts of everything dropped
    are logged and stored in ``meta["counts"]``; ``meta["preprocess"]`` holds the settings that
    change the shard (:func:`elasticc_classification.config.rule_settings`), not plot-only ones.
    """
    cfg = config.resolve("tensorize", cfg)
    have = set(table.column_names)
    for c in ("SNID",) + (("MODEL",) if require_labels else ()):
        if c not in have:
            raise InputError(f"{source}: missing required column {c}; rerun convert on this chunk")
    lc, kr, n_unsorted = preprocess_table(table, cfg, source)
    if "MODEL" in have:
        models = table.column("MODEL").combine_chunks()
        models = pc.fill_null(pc.cast(models, pa.string()), "")
        leaf, n_unlabelled = leaf_labels(models, taxonomy, require_labels, source)
    else:  # no labels (prediction): every leaf unknown
        models = pa.array([""] * table.num_rows, pa.string())
        leaf, n_unlabelled = np.full(table.num_rows, -1, np.int16), table.num_rows
    snid = np.asarray(snid_strings(table).to_numpy(zero_copy_only=False), dtype=object)
    if assign_splits:
        split = assign_split(snid, int(cfg["split_seed"]), float(cfg["test_fraction"]), float(cfg["val_fraction"]))
    else:
        split = np.full(len(snid), SPLITS["train"], np.int8)
    static, static_counts = static_features(table, cfg, source)

    keep = kr.keep_object
    kept_counts = kr.kept_counts[keep]
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(kept_counts, out=offsets[1:])
    t0 = lc.mjd[kr.index[offsets[:-1]]] if len(kept_counts) else np.zeros(0)
    x = observation_features(lc, kr.index, kr.detection, np.repeat(t0, kept_counts), cfg["encoding"])

    counts = dict(kr.counts, objects_unsorted_mjd=n_unsorted, objects_unlabelled=n_unlabelled, **static_counts)
    split_kept = split[keep]
    if assign_splits:
        for name, code in SPLITS.items():
            counts[f"objects_{name}"] = int((split_kept == code).sum())
    if log.isEnabledFor(logging.INFO):
        log.info("%s: %s", source, ", ".join(f"{k} {v}" for k, v in counts.items()))
    models_np = np.asarray(models.to_numpy(zero_copy_only=False), dtype=object)
    meta = {
        "feature_names": feature_names(cfg),
        "static_names": static_names(cfg),
        "taxonomy": taxonomy.to_dict() if taxonomy is not None else None,
        "preprocess": config.rule_settings(cfg, "tensorize", "tensorize"),
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
