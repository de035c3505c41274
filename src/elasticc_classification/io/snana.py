"""SNANA HEAD/PHOT FITS pairs -> one Arrow table (and parquet), one row per object.

The files are read without astropy (:mod:`.fits`). PHOT columns become list columns from the HEAD pointers (PTROBS_MIN/PTROBS_MAX,
1-based, inclusive), separator rows (MJD = -777) dropped, observations ordered by MJD
within each object (one stable lexsort, skipped when already ordered).

Output schema: every HEAD column as a scalar column under its SNANA name, every PHOT column
as a list column under its SNANA name (``FLT`` -> ``BAND``, ``DECL`` -> ``DEC``), native
byte order, FITS dtypes kept, ``SNID`` int64 when every SNID is an integer (else string), and
a ``MODEL`` string column. Schema metadata key ``elasticc_classification`` holds JSON with
the source file names, converter version and model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from elasticc_classification.io.fits import (
    FitsFormatError,
    FitsTable,
    column,
    numeric,
    read_fits_table,
    repeat_string,
    string_array,
    string_bytes,
    strip,
    to_arrow,
)
from elasticc_classification.io.parquet import write_parquet

log = logging.getLogger(__name__)

CONVERTER_VERSION = "1"
METADATA_KEY = b"elasticc_classification"
SEPARATOR_MJD = -777.0

HEAD_REQUIRED = ("SNID", "PTROBS_MIN", "PTROBS_MAX")
PHOT_REQUIRED = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR")
#: LSST bands, as SNANA writes BAND and ELAsTiCC alerts write filterName.
BANDS = ("u", "g", "r", "i", "z", "Y")
# Older SNANA names, written under the current ones.
RENAMES = {"FLT": "BAND", "DECL": "DEC"}


class SnanaFormatError(FitsFormatError):
    """A HEAD/PHOT file is not a usable SNANA FITS file, or the pair does not fit together."""


def _snid_column(t: FitsTable) -> pa.Array:
    """SNID as int64 when every value is an integer, else the stripped strings."""
    if t.kinds["SNID"] != "A":
        a = numeric(t, "SNID", None)
        if a.dtype.kind in "iub" or (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            return to_arrow(a.astype(np.int64))
        return to_arrow(a).cast(pa.string())
    data, offsets = strip(string_bytes(t, "SNID"))
    lengths = np.diff(offsets)
    digits = (data >= ord("0")) & (data <= ord("9"))
    if np.all((lengths > 0) & (lengths <= 18)) and digits.all():
        # every SNID has 1..18 decimal digits: parse vectorised (powers of ten by position)
        n = len(lengths)
        obj = np.repeat(np.arange(n), lengths)
        pos_from_end = offsets[1:][obj] - 1 - np.arange(len(data))
        vals = (data.astype(np.int64) - ord("0")) * (10**pos_from_end)
        return to_arrow(np.add.reduceat(vals, offsets[:-1]) if n else np.zeros(0, np.int64))
    return string_array(data, offsets, t.path, "SNID")


# --- the pair -------------------------------------------------------------------------------
def _renamed(names: list[str]) -> dict[str, str]:
    """file column name -> output name (old SNANA names mapped when the new one is absent)."""
    out = {}
    for n in names:
        new = RENAMES.get(n, n)
        out[n] = new if new == n or new not in names else n
    return out


def _require(t: FitsTable, names: dict[str, str], required: tuple[str, ...], kind: str) -> None:
    have = set(names.values())
    missing = [c for c in required if c not in have]
    if missing:
        alias = {v: k for k, v in RENAMES.items()}
        shown = [f"{c} (or {alias[c]})" if c in alias else c for c in missing]
        raise SnanaFormatError(
            f"{t.path}: required {kind} column(s) {', '.join(shown)} missing; is this a SNANA {kind} file?"
        )


def _pointer_index(
    head: FitsTable, phot: FitsTable, snid: pa.Array, mjd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the HEAD pointers against PHOT; return the PHOT row of each kept observation (in
    object order, then file order), its MJD (``mjd[rows]``), and the offsets (n+1,) of each
    object's observations in those (cumulative counts, from 0)."""
    pmin = numeric(head, "PTROBS_MIN", None).astype(np.int64)
    pmax = numeric(head, "PTROBS_MAX", None).astype(np.int64)
    nphot = phot.nrows
    counts = pmax - pmin + 1

    def fail(i: int, what: str) -> None:
        raise SnanaFormatError(
            f"{head.path}: object SNID {snid[int(i)].as_py()} (HEAD row {int(i) + 1}): {what}; "
            f"HEAD and PHOT ({phot.path.name}) do not belong together or one of them was cut short"
        )

    if "NOBS" in head.names:
        nobs = numeric(head, "NOBS", None).astype(np.int64)
        bad = np.flatnonzero(nobs != counts)
        if bad.size:
            i = bad[0]
            fail(i, f"NOBS = {nobs[i]} but PTROBS_MAX - PTROBS_MIN + 1 = {pmax[i]} - {pmin[i]} + 1 = {counts[i]}")
    bad = np.flatnonzero((counts < 0) | ((counts > 0) & ((pmin < 1) | (pmax > nphot))))
    if bad.size:
        i = bad[0]
        fail(
            i, f"pointers PTROBS_MIN = {pmin[i]}, PTROBS_MAX = {pmax[i]} are outside the {nphot} rows of the PHOT file"
        )
    nz = np.flatnonzero(counts > 0)
    if nz.size > 1:
        order = nz[np.argsort(pmin[nz], kind="stable")]
        overlap = np.flatnonzero(pmin[order[1:]] <= pmax[order[:-1]])
        if overlap.size:
            a, b = order[overlap[0]], order[overlap[0] + 1]
            fail(
                b, f"PHOT rows {pmin[b]}..{pmax[b]} overlap those of SNID {snid[int(a)].as_py()} ({pmin[a]}..{pmax[a]})"
            )
    total = int(counts.sum())
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    rows = np.arange(total, dtype=np.int64) + np.repeat(pmin - 1 - starts[:-1], counts)
    t = mjd[rows]
    sep = np.flatnonzero(t == SEPARATOR_MJD)
    if sep.size:
        obj = int(np.searchsorted(starts, sep[0], side="right") - 1)
        fail(
            obj,
            f"its PHOT range {pmin[obj]}..{pmax[obj]} contains a separator row (MJD = -777) at row {rows[sep[0]] + 1}",
        )
    return rows, t, starts


def read_pair(head: str | Path, phot: str | Path, model: str | None = None) -> pa.Table:
    """Read a SNANA HEAD/PHOT pair into a table, one row per object (schema in the module doc).

    ``model``: value of the ``MODEL`` column (default: the model directory name without the
    chunk files' prefix). Raises :class:`SnanaFormatError` for bad files or pointers.
    """
    from elasticc_classification.io import layout

    head, phot = Path(head), Path(phot)
    for path, kind, other in ((head, "HEAD", phot), (phot, "PHOT", head)):
        if not path.is_file():
            raise SnanaFormatError(
                f"{path}: {kind} file not found (partner of {other}); restore it or convert a complete pair"
            )
    if model is None:
        model = layout.model_from_path(head)
    h = read_fits_table(head)
    p = read_fits_table(phot)
    hnames, pnames = _renamed(h.names), _renamed(p.names)
    _require(h, hnames, HEAD_REQUIRED, "HEAD")
    _require(p, pnames, PHOT_REQUIRED, "PHOT")
    pfile = {v: k for k, v in pnames.items()}

    snid = _snid_column(h)
    mjd = numeric(p, pfile["MJD"], None)
    rows, t, offsets = _pointer_index(h, p, snid, mjd)
    n_obj = len(offsets) - 1
    n_sep = int(np.count_nonzero(mjd == SEPARATOR_MJD))
    uncovered = p.nrows - len(rows) - n_sep
    if uncovered:
        log.warning("%s: %d PHOT rows are not separators and belong to no HEAD object; dropped", phot, uncovered)

    # MJD order within each object: one stable lexsort, skipped when already ordered.
    step_back = np.flatnonzero(t[1:] < t[:-1])
    if step_back.size:
        obj = np.repeat(np.arange(n_obj, dtype=np.int64), np.diff(offsets))
        if np.any(obj[step_back] == obj[step_back + 1]):
            order = np.lexsort((t, obj))
            rows = rows[order]
            t = t[order]
            log.info("%s: observations re-ordered by MJD within objects", phot)
    off_arr = to_arrow(offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets)
    list_type = pa.ListArray if off_arr.type == pa.int32() else pa.LargeListArray

    cols: dict[str, pa.Array] = {}
    for name in h.names:
        cols[hnames[name]] = snid if name == "SNID" else column(h, name)
    for name in p.names:
        out = pnames[name]
        if out in cols:
            out = f"PHOT_{out}"
            log.warning("%s: column %s also in HEAD; written as %s", phot, pnames[name], out)
        values = to_arrow(t) if name == pfile["MJD"] else column(p, name, rows)
        cols[out] = list_type.from_arrays(off_arr, values)
    if "MODEL" in cols:
        raise SnanaFormatError(f"{head}: has a column named MODEL, which the converter writes itself")
    cols["MODEL"] = repeat_string(model, n_obj)
    meta = {"head": head.name, "phot": phot.name, "converter_version": CONVERTER_VERSION, "model": model}
    table = pa.table(cols).replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    log.info(
        "%s + %s: %d objects, %d observations (%d separator rows removed), model %s",
        head.name,
        phot.name,
        n_obj,
        len(rows),
        n_sep,
        model,
    )
    return table


def convert_pair(head: str | Path, phot: str | Path, out: str | Path, model: str | None = None) -> pa.Table:
    """Convert a HEAD/PHOT pair to the parquet file ``out`` (atomically); return the table."""
    table = read_pair(head, phot, model=model)
    write_parquet(table, out)
    return table
