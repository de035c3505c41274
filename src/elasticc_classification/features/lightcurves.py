"""Light curves of a converted chunk: the PHOT list columns as flat arrays, sorted and masked.

A converted parquet (one row per object) holds every PHOT column as a list column in MJD order.
:func:`flatten` turns MJD, BAND, PHOTFLAG, FLUXCAL and FLUXCALERR into flat numpy arrays with
offsets (no per-object Python); :func:`preprocess_table` sorts them by MJD and applies the
``tensorize`` keep rules (:mod:`.preprocess`). Shared by the shards and the light-curve gallery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_classification.errors import InputError
from elasticc_classification.features import preprocess
from elasticc_classification.io.snana import BANDS, PHOT_REQUIRED


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


def band_lut(values: pa.Array) -> tuple[np.ndarray, np.ndarray, list[str | None], int]:
    """``(code, lut, names, n_null)`` of band strings: ``lut[code]`` is each value's index into
    :data:`BANDS` (whitespace stripped; -1 for an unknown or null band), ``names`` the distinct
    values, ``n_null`` the null count. Costs O(dictionary) for dictionary-encoded input."""
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
    return indices.to_numpy(), lut, names, enc.indices.null_count


def band_codes(values: pa.Array, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Band of every observation as ``(code, lut)`` (:func:`band_lut`); unknown or null bands raise
    :class:`InputError`.

    Dictionary-encoded input (as :func:`~elasticc_classification.io.parquet.read_parquet` reads BAND) costs O(dictionary)
    here: the codes are the parquet dictionary indices, mapped later for kept observations only."""
    code, lut, names, n_null = band_lut(values)
    if n_null or (lut[:-1] < 0).any():  # some name unknown: is it used?
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
    have = set(table.column_names)  # (column_names builds a new list at every access)
    missing = [c for c in PHOT_REQUIRED if c not in have]
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
    observations ``cfg`` (the ``tensorize`` section, filled by :func:`elasticc_classification.config.resolve`)
    keeps: ``(light curves, keep result, number of objects that were not in MJD order)``."""
    lc, n_unsorted = preprocess.sort_by_mjd(flatten(table, source))
    kr = preprocess.keep_mask(
        lc,
        keep=cfg["keep"],
        drop_saturated=cfg["drop_saturated"],
        saturation_bit=int(cfg["saturation_bit"]),
        detection_bit=int(cfg["detection_bit"]),
        drop_no_detection=cfg["drop_no_detection"],
        history_days=float(cfg.get("history_days", 0.0)),  # absent from models trained before the option
    )
    return lc, kr, n_unsorted
