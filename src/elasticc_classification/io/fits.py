"""FITS binary tables read without astropy, viewed in place as numpy, columns turned into Arrow.

Each file is decompressed once (gzip via ISA-L, or plain), the header cards of the first
binary-table HDU are parsed, and the table bytes are viewed as a big-endian numpy structured
array built from the TFORMs. Fixed-width strings are stripped vectorised (a uint8 view of the
bytes) and turned into Arrow string arrays from offsets and bytes. :mod:`.snana` builds the
SNANA HEAD/PHOT conversion on top of this reader.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa

from elasticc_classification.errors import InputError

_inflate: ModuleType
try:  # ISA-L inflates gzip about 1.7x faster than zlib (a dependency; zlib is the fallback)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover
    _inflate = zlib

BLOCK = 2880  # bytes per FITS block
CARD = 80  # bytes per header card

# FITS binary-table type codes -> big-endian numpy dtypes (A: strings, L: logical).
_TFORM_DTYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_TFORM_RE = re.compile(r"^\s*(\d*)\s*([A-Z])")
# TZERO values that mark unsigned (or signed-byte) integers, as the FITS standard defines them.
_UNSIGNED_TZERO = {"B": (-128, "i1"), "I": (32768, "u2"), "J": (2**31, "u4"), "K": (2**63, "u8")}


class FitsFormatError(InputError):
    """A file is not a readable FITS binary table."""


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
        fields = self.data.dtype.fields
        assert fields is not None  # a structured dtype, built by read_fits_table
        return int(fields[name][1])


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (every member)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FitsFormatError(f"{path}: file not found") from None
    except OSError as e:
        raise FitsFormatError(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    parts = []
    rest = raw
    try:
        while rest:
            d = _inflate.decompressobj(wbits=31)
            parts.append(d.decompress(rest))
            if not d.eof:
                raise FitsFormatError(
                    f"{path}: truncated gzip stream (the file was cut short); download or copy it again"
                )
            rest = d.unused_data
            if rest[:2] != b"\x1f\x8b":  # trailing zero padding after the last member is tolerated
                if rest.strip(b"\x00"):
                    raise FitsFormatError(f"{path}: trailing garbage after the gzip data; the file is corrupt")
                break
    except (zlib.error, _inflate.error) as e:
        raise FitsFormatError(f"{path}: corrupt gzip data ({e}); download or copy the file again") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _parse_header(raw: bytes, start: int, path: Path) -> tuple[dict[str, str], int]:
    """Cards of the header starting at byte ``start`` -> (keyword -> raw value string, data start)."""
    cards: dict[str, str] = {}
    pos = start
    n = len(raw)
    while True:
        if pos + BLOCK > n:
            raise FitsFormatError(f"{path}: FITS header without END card (file truncated or not FITS)")
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
        raise FitsFormatError(f"{path}: FITS header keyword {key} missing (not a FITS binary table?)")
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
            raise FitsFormatError(f"{path}: bad value for FITS keyword {key}: {v!r}") from None


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

    Raises :class:`FitsFormatError` for unreadable, corrupt or truncated files, files that
    are not FITS, and files without a binary table.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.startswith(b"SIMPLE  ="):
        raise FitsFormatError(
            f"{path}: not a FITS file (no SIMPLE card at the start); expected a SNANA HEAD/PHOT .FITS[.gz]"
        )
    pos = 0
    while True:
        cards, data_start = _parse_header(raw, pos, path)
        xt = _value(cards, "XTENSION", path, "") if pos else ""
        if xt == "BINTABLE":
            break
        pos = data_start + _hdu_data_bytes(cards, path)
        if pos >= len(raw):
            raise FitsFormatError(f"{path}: no binary table HDU in this FITS file; expected a SNANA HEAD/PHOT file")
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
            raise FitsFormatError(f"{path}: column {name} has an unreadable TFORM {tform!r}")
        repeat = int(m[1]) if m[1] else 1
        code = m[2]
        if name in kinds:
            raise FitsFormatError(f"{path}: column {name} appears twice in the binary table")
        if code == "A":
            fmt, width = f"S{repeat}" if repeat else "V0", repeat
        elif code in _TFORM_DTYPES:
            if repeat != 1:
                raise FitsFormatError(
                    f"{path}: column {name} has TFORM {tform!r}; only scalar numeric columns are supported"
                )
            fmt = _TFORM_DTYPES[code]
            width = np.dtype(fmt).itemsize
        else:
            raise FitsFormatError(
                f"{path}: column {name} has TFORM {tform!r} (type {code} is not supported in SNANA tables)"
            )
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
        raise FitsFormatError(
            f"{path}: column widths add up to {off} bytes but NAXIS1 says {row_bytes}; the header is corrupt"
        )
    need = data_start + row_bytes * nrows
    if need > len(raw):
        raise FitsFormatError(
            f"{path}: file truncated: the table needs {need} bytes ({nrows} rows) but the file has {len(raw)}; download or copy it again"
        )
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": row_bytes})
    data = np.frombuffer(raw, dtype=dtype, count=nrows, offset=data_start) if nrows else np.zeros(0, dtype)
    return FitsTable(path, names, kinds, tzero, tscal, data, raw, data_start)


# --- columns -> Arrow -----------------------------------------------------------------------
def string_bytes(t: FitsTable, name: str) -> np.ndarray:
    """(nrows, width) uint8 view of fixed-width string column ``name`` (no copy)."""
    w = t.data.dtype[name].itemsize
    if t.nrows == 0 or w == 0:
        return np.zeros((t.nrows, w), np.uint8)
    return np.ndarray(
        (t.nrows, w),
        np.uint8,
        buffer=t.raw,
        offset=t.offset + t.column_offset(name),
        strides=(t.data.dtype.itemsize, 1),
    )


def strip(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def string_array(data: np.ndarray, offsets: np.ndarray, path: Path, name: str) -> pa.Array:
    """Arrow string array from ASCII bytes and offsets (int64)."""
    if data.size and data.max() >= 128:
        raise FitsFormatError(f"{path}: column {name} holds non-ASCII bytes; the file is corrupt or not a SNANA file")
    n = len(offsets) - 1
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.tobytes()))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def _strip_repetitive(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`strip`, for long columns of few distinct values (BAND, FIELD): the fixed-width
    values are dictionary-encoded (Arrow hash kernel), only the distinct ones stripped, and the
    result gathered back by index. Falls back to :func:`strip` when values are mostly distinct."""
    n, w = b.shape
    if n < 4096 or w == 0:
        return strip(b)
    b = np.ascontiguousarray(b)
    enc = pa.FixedSizeBinaryArray.from_buffers(pa.binary(w), n, [None, pa.py_buffer(b)]).dictionary_encode()
    k = len(enc.dictionary)
    if k > n // 8:
        return strip(b)
    idx = np.frombuffer(enc.indices.buffers()[1], enc.indices.type.to_pandas_dtype(), count=n)
    uniq = np.frombuffer(enc.dictionary.buffers()[1], np.uint8, count=k * w).reshape(k, w)
    udata, uoff = strip(uniq)
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
    return string_array(data, offsets, Path(path), name)


def numeric(t: FitsTable, name: str, rows: np.ndarray | None) -> np.ndarray:
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


def repeat_string(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as an Arrow string array (no Python list of n items)."""
    b = value.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(b)
    return string_array(np.frombuffer(b * n, np.uint8), offsets, Path("<model>"), "MODEL")


def column(t: FitsTable, name: str, rows: np.ndarray | None = None) -> pa.Array:
    """Column ``name`` as an Arrow array (rows ``rows`` or all)."""
    if t.kinds[name] == "A":
        b = string_bytes(t, name)
        return strip_strings(b if rows is None else b[rows], t.path, name)
    return to_arrow(numeric(t, name, rows))
