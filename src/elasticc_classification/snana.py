"""SNANA HEAD/PHOT FITS pairs -> one Arrow table (and parquet), one row per object.

The files are read without astropy: each file is decompressed once (gzip via ISA-L, or plain), the
header cards of the first binary-table HDU are parsed, and the table bytes are viewed as a
big-endian numpy structured array built from the TFORMs. Fixed-width strings are stripped
vectorised (a uint8 view of the bytes) and turned into Arrow string arrays from offsets and
bytes. PHOT columns become list columns from the HEAD pointers (PTROBS_MIN/PTROBS_MAX,
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
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .errors import InputError, atomic_output

try:  # ISA-L inflates gzip about 1.7x faster than zlib (a dependency; zlib is the fallback)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover
    _inflate = zlib

log = logging.getLogger(__name__)

CONVERTER_VERSION = "1"
METADATA_KEY = b"elasticc_classification"
SEPARATOR_MJD = -777.0
BLOCK = 2880  # bytes per FITS block
CARD = 80  # bytes per header card

HEAD_REQUIRED = ("SNID", "PTROBS_MIN", "PTROBS_MAX")
PHOT_REQUIRED = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR")
# Older SNANA names, written under the current ones.
RENAMES = {"FLT": "BAND", "DECL": "DEC"}

# FITS binary-table type codes -> big-endian numpy dtypes (A: strings, L: logical).
_TFORM_DTYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_TFORM_RE = re.compile(r"^\s*(\d*)\s*([A-Z])")
# TZERO values that mark unsigned (or signed-byte) integers, as the FITS standard defines them.
_UNSIGNED_TZERO = {"B": (-128, "i1"), "I": (32768, "u2"), "J": (2**31, "u4"), "K": (2**63, "u8")}


class SnanaFormatError(InputError):
    """A HEAD/PHOT file is not a usable SNANA FITS file, or the pair does not fit together."""


# --- FITS binary tables ---------------------------------------------------------------------
@dataclass
class FitsTable:
    """One FITS binary table viewed in place: ``names`` in file order, per-column ``kind``
    (``"A"`` string, ``"L"`` logical, else numeric), ``data`` (big-endian structured array over
    the decompressed bytes; its dtype gives column widths and the row length), ``raw`` (the
    bytes), ``offset`` (byte of row 0)."""

    path: Path
    names: list[str]
    kinds: dict[str, str]
    tzero: dict[str, float]
    tscal: dict[str, float]
    data: np.ndarray
    raw: bytes
    offset: int

    @property
    def nrows(self) -> int:
        return len(self.data)

    def column_offset(self, name: str) -> int:
        return self.data.dtype.fields[name][1]


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (every member)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SnanaFormatError(f"{path}: file not found") from None
    except OSError as e:
        raise SnanaFormatError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    parts = []
    rest = raw
    try:
        while rest:
            d = _inflate.decompressobj(wbits=31)
            parts.append(d.decompress(rest))
            if not d.eof:
                raise SnanaFormatError(f"{path}: truncated gzip stream (the file was cut short); download or copy it again")
            rest = d.unused_data
            if rest[:2] != b"\x1f\x8b":  # trailing zero padding after the last member is tolerated
                if rest.strip(b"\x00"):
                    raise SnanaFormatError(f"{path}: trailing garbage after the gzip data; the file is corrupt")
                break
    except (zlib.error, _inflate.error) as e:
        raise SnanaFormatError(f"{path}: corrupt gzip data ({e}); download or copy the file again") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _parse_header(raw: bytes, start: int, path: Path) -> tuple[dict[str, str], int]:
    """Cards of the header starting at byte ``start`` -> (keyword -> raw value string, data start)."""
    cards: dict[str, str] = {}
    pos = start
    n = len(raw)
    while True:
        if pos + BLOCK > n:
            raise SnanaFormatError(f"{path}: FITS header without END card (file truncated or not FITS)")
        block = raw[pos : pos + BLOCK]
        pos += BLOCK
        for i in range(0, BLOCK, CARD):
            card = block[i : i + CARD].decode("ascii", errors="replace")
            key = card[:8].strip()
            if key == "END":
                return cards, pos
            if card[8:10] == "= " and key not in cards:
                cards[key] = card[10:]


def _value(cards: dict[str, str], key: str, path: Path, default=None):
    """Parsed value of header keyword ``key`` (int, float, bool or str)."""
    if key not in cards:
        if default is not None:
            return default
        raise SnanaFormatError(f"{path}: FITS header keyword {key} missing (not a FITS binary table?)")
    v = cards[key].strip()
    if v.startswith("'"):
        end = v.find("'", 1)
        while end != -1 and v[end + 1 : end + 2] == "'":  # '' escapes a quote
            end = v.find("'", end + 2)
        return v[1:end].replace("''", "'").rstrip() if end != -1 else v[1:].rstrip()
    v = v.split("/", 1)[0].strip()
    if v in ("T", "F"):
        return v == "T"
    try:
        return int(v)
    except ValueError:
        try:
            return float(v.replace("D", "E"))
        except ValueError:
            raise SnanaFormatError(f"{path}: bad value for FITS keyword {key}: {v!r}") from None


def _hdu_data_bytes(cards: dict[str, str], path: Path) -> int:
    """Bytes of data following a header (padded to whole blocks)."""
    naxis = _value(cards, "NAXIS", path)
    if naxis == 0:
        return 0
    size = 1
    for i in range(1, naxis + 1):
        size *= _value(cards, f"NAXIS{i}", path)
    bitpix = abs(_value(cards, "BITPIX", path))
    nbytes = (bitpix // 8) * _value(cards, "GCOUNT", path, 1) * (_value(cards, "PCOUNT", path, 0) + size)
    return -(-nbytes // BLOCK) * BLOCK


def read_fits_table(path: str | Path) -> FitsTable:
    """First binary-table HDU of ``path`` (``.FITS`` or ``.FITS.gz``), viewed without copying.

    Raises :class:`SnanaFormatError` for unreadable, corrupt or truncated files, files that
    are not FITS, and files without a binary table.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.startswith(b"SIMPLE  ="):
        raise SnanaFormatError(f"{path}: not a FITS file (no SIMPLE card at the start); expected a SNANA HEAD/PHOT .FITS[.gz]")
    pos = 0
    while True:
        cards, data_start = _parse_header(raw, pos, path)
        xt = _value(cards, "XTENSION", path, "") if pos else ""
        if xt == "BINTABLE":
            break
        pos = data_start + _hdu_data_bytes(cards, path)
        if pos >= len(raw):
            raise SnanaFormatError(f"{path}: no binary table HDU in this FITS file; expected a SNANA HEAD/PHOT file")
    row_bytes = _value(cards, "NAXIS1", path)
    nrows = _value(cards, "NAXIS2", path)
    nfields = _value(cards, "TFIELDS", path)
    names, formats, offsets = [], [], []
    kinds: dict[str, str] = {}
    tzero: dict[str, float] = {}
    tscal: dict[str, float] = {}
    off = 0
    for i in range(1, nfields + 1):
        name = str(_value(cards, f"TTYPE{i}", path, f"COL{i}")).strip()
        tform = str(_value(cards, f"TFORM{i}", path))
        m = _TFORM_RE.match(tform)
        if m is None:
            raise SnanaFormatError(f"{path}: column {name} has an unreadable TFORM {tform!r}")
        repeat = int(m[1]) if m[1] else 1
        code = m[2]
        if name in kinds:
            raise SnanaFormatError(f"{path}: column {name} appears twice in the binary table")
        if code == "A":
            fmt, width = f"S{repeat}" if repeat else "V0", repeat
        elif code in _TFORM_DTYPES:
            if repeat != 1:
                raise SnanaFormatError(f"{path}: column {name} has TFORM {tform!r}; only scalar numeric columns are supported")
            fmt = _TFORM_DTYPES[code]
            width = np.dtype(fmt).itemsize
        else:
            raise SnanaFormatError(f"{path}: column {name} has TFORM {tform!r} (type {code} is not supported in SNANA tables)")
        names.append(name)
        formats.append(fmt)
        offsets.append(off)
        kinds[name] = code
        if f"TZERO{i}" in cards:
            tzero[name] = float(_value(cards, f"TZERO{i}", path))
        if f"TSCAL{i}" in cards:
            tscal[name] = float(_value(cards, f"TSCAL{i}", path))
        off += width
    if off != row_bytes:
        raise SnanaFormatError(f"{path}: column widths add up to {off} bytes but NAXIS1 says {row_bytes}; the header is corrupt")
    need = data_start + row_bytes * nrows
    if need > len(raw):
        raise SnanaFormatError(
            f"{path}: file truncated: the table needs {need} bytes ({nrows} rows) but the file has {len(raw)}; download or copy it again"
        )
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": row_bytes})
    data = np.frombuffer(raw, dtype=dtype, count=nrows, offset=data_start) if nrows else np.zeros(0, dtype)
    return FitsTable(path, names, kinds, tzero, tscal, data, raw, data_start)


# --- columns -> Arrow -----------------------------------------------------------------------
def _string_bytes(t: FitsTable, name: str) -> np.ndarray:
    """(nrows, width) uint8 view of fixed-width string column ``name`` (no copy)."""
    w = t.data.dtype[name].itemsize
    if t.nrows == 0 or w == 0:
        return np.zeros((t.nrows, w), np.uint8)
    return np.ndarray((t.nrows, w), np.uint8, buffer=t.raw, offset=t.offset + t.column_offset(name),
                      strides=(t.data.dtype.itemsize, 1))


def _strip(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-width strings (n, width) uint8 -> (concatenated bytes, offsets (n+1,) int64):
    leading and trailing blanks (spaces, control characters) removed, a NUL ends a string (FITS);
    no loop over rows."""
    n, w = b.shape
    if n == 0 or w == 0:
        return np.zeros(0, np.uint8), np.zeros(n + 1, np.int64)
    keep = b > 32  # neither space nor NUL (nor other control characters)
    nul = b == 0
    if nul.any():  # characters after the first NUL are not part of the string
        has = nul.any(axis=1)
        end = np.where(has, nul.argmax(axis=1), w)
        keep &= np.arange(w) < end[:, None]
    any_keep = keep.any(axis=1)
    first = np.where(any_keep, keep.argmax(axis=1), 0)
    last = np.where(any_keep, w - keep[:, ::-1].argmax(axis=1), 0)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(last - first, out=offsets[1:])
    if offsets[-1] == n * w:
        data = np.ascontiguousarray(b).reshape(-1)
    else:
        cols = np.arange(w)
        data = b[(cols >= first[:, None]) & (cols < last[:, None])]
    return data, offsets


def _string_array(data: np.ndarray, offsets: np.ndarray, path: Path, name: str) -> pa.Array:
    """Arrow string array from ASCII bytes and offsets (int64)."""
    if data.size and data.max() >= 128:
        raise SnanaFormatError(f"{path}: column {name} holds non-ASCII bytes; the file is corrupt or not a SNANA file")
    n = len(offsets) - 1
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.tobytes()))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def _strip_repetitive(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_strip`, for long columns of few distinct values (BAND, FIELD): the fixed-width
    values are dictionary-encoded (Arrow hash kernel), only the distinct ones stripped, and the
    result gathered back by index. Falls back to :func:`_strip` when values are mostly distinct."""
    n, w = b.shape
    if n < 4096 or w == 0:
        return _strip(b)
    b = np.ascontiguousarray(b)
    enc = pa.FixedSizeBinaryArray.from_buffers(pa.binary(w), n, [None, pa.py_buffer(b)]).dictionary_encode()
    k = len(enc.dictionary)
    if k > n // 8:
        return _strip(b)
    idx = np.frombuffer(enc.indices.buffers()[1], enc.indices.type.to_pandas_dtype(), count=n)
    uniq = np.frombuffer(enc.dictionary.buffers()[1], np.uint8, count=k * w).reshape(k, w)
    udata, uoff = _strip(uniq)
    ulen = np.diff(uoff)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(ulen[idx], out=offsets[1:])
    m = int(ulen.max()) if k else 0
    if m == 0:
        return np.zeros(0, np.uint8), offsets
    padded = np.zeros((k, m), np.uint8)
    mask = np.arange(m) < ulen[:, None]
    padded[mask] = udata
    if np.all(ulen == m):
        return padded[idx].reshape(-1), offsets
    return padded[idx][mask[idx]], offsets


def strip_strings(b: np.ndarray, path: Path | str = "<array>", name: str = "?") -> pa.Array:
    """Arrow strings from a (n, width) uint8 array of fixed-width FITS strings, stripped."""
    data, offsets = _strip_repetitive(b)
    return _string_array(data, offsets, Path(path), name)


def _numeric(t: FitsTable, name: str, rows: np.ndarray | None) -> np.ndarray:
    """Numeric/logical column ``name`` (rows ``rows`` or all) in native byte order, TZERO/TSCAL applied."""
    a = t.data[name]
    if rows is not None:
        a = a[rows]
    code = t.kinds[name]
    if code == "L":
        return a == ord("T")
    native = a.astype(a.dtype.newbyteorder("="))
    zero, scale = t.tzero.get(name, 0.0), t.tscal.get(name, 1.0)
    if code in _UNSIGNED_TZERO and scale == 1.0 and zero == _UNSIGNED_TZERO[code][0]:
        size = native.dtype.itemsize  # FITS unsigned (or signed-byte) convention: flip the sign bit
        flipped = native.view(f"u{size}") ^ np.array(1 << (8 * size - 1), f"u{size}")
        return flipped.view(_UNSIGNED_TZERO[code][1])
    if zero != 0.0 or scale != 1.0:
        return native.astype(np.float64) * scale + zero
    return native


def to_arrow(a: np.ndarray) -> pa.Array:
    """Arrow array over a 1-d numeric or bool numpy array (native byte order), from its buffer.

    Used instead of ``pa.array(ndarray)``, whose first call imports pandas (about 0.4 s and
    50 MB per process; the converter runs as thousands of short jobs)."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), len(a), [None, pa.py_buffer(np.packbits(a, bitorder="little"))])
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a), [None, pa.py_buffer(a)])


def _repeat_string(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as an Arrow string array (no Python list of n items)."""
    b = value.encode()
    offsets = (np.arange(n + 1, dtype=np.int64) * len(b))
    return _string_array(np.frombuffer(b * n, np.uint8), offsets, Path("<model>"), "MODEL")


def _column(t: FitsTable, name: str, rows: np.ndarray | None = None) -> pa.Array:
    """Column ``name`` as an Arrow array (rows ``rows`` or all)."""
    if t.kinds[name] == "A":
        b = _string_bytes(t, name)
        return strip_strings(b if rows is None else b[rows], t.path, name)
    return to_arrow(_numeric(t, name, rows))


def _snid_column(t: FitsTable) -> pa.Array:
    """SNID as int64 when every value is an integer, else the stripped strings."""
    if t.kinds["SNID"] != "A":
        a = _numeric(t, "SNID", None)
        if a.dtype.kind in "iub" or (np.all(np.isfinite(a)) and np.all(a == np.round(a))):
            return to_arrow(a.astype(np.int64))
        return to_arrow(a).cast(pa.string())
    data, offsets = _strip(_string_bytes(t, "SNID"))
    lengths = np.diff(offsets)
    digits = (data >= ord("0")) & (data <= ord("9"))
    if np.all((lengths > 0) & (lengths <= 18)) and digits.all():
        # every SNID has 1..18 decimal digits: parse vectorised (powers of ten by position)
        n = len(lengths)
        obj = np.repeat(np.arange(n), lengths)
        pos_from_end = offsets[1:][obj] - 1 - np.arange(len(data))
        vals = (data.astype(np.int64) - ord("0")) * (10 ** pos_from_end)
        return to_arrow(np.add.reduceat(vals, offsets[:-1]) if n else np.zeros(0, np.int64))
    return _string_array(data, offsets, t.path, "SNID")


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
        raise SnanaFormatError(f"{t.path}: required {kind} column(s) {', '.join(shown)} missing; is this a SNANA {kind} file?")


def _pointer_index(head: FitsTable, phot: FitsTable, snid: pa.Array,
                   mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the HEAD pointers against PHOT; return the PHOT row of each kept observation (in
    object order, then file order), its MJD (``mjd[rows]``), and the offsets (n+1,) of each
    object's observations in those (cumulative counts, from 0)."""
    pmin = _numeric(head, "PTROBS_MIN", None).astype(np.int64)
    pmax = _numeric(head, "PTROBS_MAX", None).astype(np.int64)
    nphot = phot.nrows
    counts = pmax - pmin + 1

    def fail(i: int, what: str) -> None:
        raise SnanaFormatError(f"{head.path}: object SNID {snid[int(i)].as_py()} (HEAD row {int(i) + 1}): {what}; "
                               f"HEAD and PHOT ({phot.path.name}) do not belong together or one of them was cut short")

    if "NOBS" in head.names:
        nobs = _numeric(head, "NOBS", None).astype(np.int64)
        bad = np.flatnonzero(nobs != counts)
        if bad.size:
            i = bad[0]
            fail(i, f"NOBS = {nobs[i]} but PTROBS_MAX - PTROBS_MIN + 1 = {pmax[i]} - {pmin[i]} + 1 = {counts[i]}")
    bad = np.flatnonzero((counts < 0) | ((counts > 0) & ((pmin < 1) | (pmax > nphot))))
    if bad.size:
        i = bad[0]
        fail(i, f"pointers PTROBS_MIN = {pmin[i]}, PTROBS_MAX = {pmax[i]} are outside the {nphot} rows of the PHOT file")
    nz = np.flatnonzero(counts > 0)
    if nz.size > 1:
        order = nz[np.argsort(pmin[nz], kind="stable")]
        overlap = np.flatnonzero(pmin[order[1:]] <= pmax[order[:-1]])
        if overlap.size:
            a, b = order[overlap[0]], order[overlap[0] + 1]
            fail(b, f"PHOT rows {pmin[b]}..{pmax[b]} overlap those of SNID {snid[int(a)].as_py()} ({pmin[a]}..{pmax[a]})")
    total = int(counts.sum())
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    rows = np.arange(total, dtype=np.int64) + np.repeat(pmin - 1 - starts[:-1], counts)
    t = mjd[rows]
    sep = np.flatnonzero(t == SEPARATOR_MJD)
    if sep.size:
        obj = int(np.searchsorted(starts, sep[0], side="right") - 1)
        fail(obj, f"its PHOT range {pmin[obj]}..{pmax[obj]} contains a separator row (MJD = -777) at row {rows[sep[0]] + 1}")
    return rows, t, starts


def read_pair(head: str | Path, phot: str | Path, model: str | None = None) -> pa.Table:
    """Read a SNANA HEAD/PHOT pair into a table, one row per object (schema in the module doc).

    ``model``: value of the ``MODEL`` column (default: the model directory name without the
    chunk files' prefix). Raises :class:`SnanaFormatError` for bad files or pointers.
    """
    from . import layout

    head, phot = Path(head), Path(phot)
    for p, kind, other in ((head, "HEAD", phot), (phot, "PHOT", head)):
        if not p.is_file():
            raise SnanaFormatError(f"{p}: {kind} file not found (partner of {other}); restore it or convert a complete pair")
    if model is None:
        model = layout.model_from_path(head)
    h = read_fits_table(head)
    p = read_fits_table(phot)
    hnames, pnames = _renamed(h.names), _renamed(p.names)
    _require(h, hnames, HEAD_REQUIRED, "HEAD")
    _require(p, pnames, PHOT_REQUIRED, "PHOT")
    pfile = {v: k for k, v in pnames.items()}

    snid = _snid_column(h)
    mjd = _numeric(p, pfile["MJD"], None)
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
        cols[hnames[name]] = snid if name == "SNID" else _column(h, name)
    for name in p.names:
        out = pnames[name]
        if out in cols:
            out = f"PHOT_{out}"
            log.warning("%s: column %s also in HEAD; written as %s", phot, pnames[name], out)
        values = to_arrow(t) if name == pfile["MJD"] else _column(p, name, rows)
        cols[out] = list_type.from_arrays(off_arr, values)
    if "MODEL" in cols:
        raise SnanaFormatError(f"{head}: has a column named MODEL, which the converter writes itself")
    cols["MODEL"] = _repeat_string(model, n_obj)
    meta = {"head": head.name, "phot": phot.name, "converter_version": CONVERTER_VERSION, "model": model}
    table = pa.table(cols).replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    log.info("%s + %s: %d objects, %d observations (%d separator rows removed), model %s",
             head.name, phot.name, n_obj, len(rows), n_sep, model)
    return table


def write_parquet(table: pa.Table, out: str | Path) -> None:
    """Write ``table`` to ``out`` atomically (zstd; dictionary encoding for strings only;
    column statistics for the scalar HEAD columns only)."""
    import pyarrow.parquet as pq

    # Parquet addresses a list column's values by their leaf path (``BAND.list.element``).
    strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
    strings += [f"{f.name}.list.element" for f in table.schema
                if pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type)]
    scalars = [f.name for f in table.schema if not pa.types.is_list(f.type)]  # statistics only where useful
    with atomic_output(out, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=strings or False, write_statistics=scalars or False)


def convert_pair(head: str | Path, phot: str | Path, out: str | Path, model: str | None = None) -> pa.Table:
    """Convert a HEAD/PHOT pair to the parquet file ``out`` (atomically); return the table."""
    table = read_pair(head, phot, model=model)
    write_parquet(table, out)
    return table
