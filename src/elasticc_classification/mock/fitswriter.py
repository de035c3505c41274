"""Deterministic writer of SNANA-style FITS files: empty primary HDU + one binary table.

Header cards are formatted here (FITS fixed format, ``HIERARCH`` for long keywords), the
table is the raw bytes of a big-endian structured array, and the file is gzip-compressed
with mtime 0 and no file name, so the same content always gives the same bytes.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from types import ModuleType

try:  # ISA-L deflate: ~4x faster than zlib at the same ratio; the PHOT files dominate the time
    from isal import isal_zlib

    _deflate: ModuleType = isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency; zlib gives valid (different) bytes
    _deflate = zlib

import numpy as np

from .schema import TFORM_COMMENT

BLOCK = 2880
GZIP_LEVEL = 1


def _value(v: object) -> str:
    if isinstance(v, bool):
        return f"{'T' if v else 'F':>20}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):>20d}"
    if isinstance(v, (float, np.floating)):
        s = repr(float(v)).upper()
        return f"{s:>20}"
    s = "'" + f"{str(v).replace(chr(39), chr(39) * 2):<8}" + "'"
    return f"{s:<20}"


def card(key: str, value: object, comment: str = "") -> bytes:
    """One 80-byte header card (``HIERARCH`` when the keyword is longer than 8 characters)."""
    val = _value(value)
    if len(key) > 8:
        text = f"HIERARCH {key} = {val.strip() if not isinstance(value, str) else val.rstrip()}"
    else:
        text = f"{key:<8}= {val}"
    if comment:
        text += f" / {comment}"
    text = text[:80]
    if not text.isascii():
        raise ValueError(f"FITS header card {key!r} is not ASCII")
    return f"{text:<80}".encode("ascii")


def header_bytes(cards: list[bytes]) -> bytes:
    """Cards + END, padded with spaces to a whole FITS block."""
    raw = b"".join(cards) + f"{'END':<80}".encode()
    return raw + b" " * (-len(raw) % BLOCK)


def primary_hdu(cards: list[tuple[str, object, str]]) -> bytes:
    """An empty primary HDU (as SNANA writes it: BITPIX -32, NAXIS 1, NAXIS1 0) with ``cards``."""
    head = [
        card("SIMPLE", True, "file does conform to FITS standard"),
        card("BITPIX", -32, "number of bits per data pixel"),
        card("NAXIS", 1, "number of data axes"),
        card("NAXIS1", 0, "length of data axis 1"),
        card("EXTEND", True, "FITS dataset may contain extensions"),
    ]
    head += [card(k, v, c) for k, v, c in cards]
    return header_bytes(head)


def _space_padded(data: np.ndarray) -> np.ndarray:
    """Row bytes of ``data`` with the NUL padding of every string column turned into spaces
    (FITS character columns are space padded: SNID ``'1144924         '``, BAND ``'r '``)."""
    raw = data.view(np.uint8).reshape(len(data), data.dtype.itemsize)
    fields: dict = dict(data.dtype.fields or {})
    for name in data.dtype.names or ():
        dt, off = fields[name][:2]
        if dt.kind == "S":
            cell = raw[:, off : off + dt.itemsize]
            np.copyto(cell, 32, where=cell == 0)  # cheaper than a boolean-mask assignment
    return raw.reshape(-1)


def table_hdu(data: np.ndarray, columns: list[tuple[str, str, object]], extname: str) -> list:
    """A BINTABLE HDU holding the big-endian structured array ``data`` (columns in order),
    as buffers to write one after the other (header, rows, zero padding)."""
    names = [n for n, _, _ in columns]
    if list(data.dtype.names or ()) != names:
        raise ValueError("table columns do not match the schema")
    head = [
        card("XTENSION", "BINTABLE", "binary table extension"),
        card("BITPIX", 8, "8-bit bytes"),
        card("NAXIS", 2, "2-dimensional binary table"),
        card("NAXIS1", data.dtype.itemsize, "width of table in bytes"),
        card("NAXIS2", len(data), "number of rows in table"),
        card("PCOUNT", 0, "size of special data area"),
        card("GCOUNT", 1, "one data group (required keyword)"),
        card("TFIELDS", len(columns), "number of fields in each row"),
    ]
    for i, (name, tform, _) in enumerate(columns, start=1):
        kind = "A" if tform.endswith("A") else tform
        head += [
            card(f"TTYPE{i}", name, f"label for field {i:>3}"),
            card(f"TFORM{i}", tform, f"data format of field: {TFORM_COMMENT[kind]}"),
            card(f"TUNIT{i}", "", "physical unit of field"),
        ]
    head.append(card("EXTNAME", extname, "name of this binary table extension"))
    body = _space_padded(np.ascontiguousarray(data)) if len(data) else b""
    return [header_bytes(head), body, b"\0" * (-len(body) % BLOCK)]


def write_fits_gz(path: str | Path, primary: bytes, table: list, level: int = GZIP_LEVEL) -> None:
    """Write primary + table HDU bytes gzip-compressed (mtime 0, no name) to ``path``
    (callers pass a temporary path from :func:`errors.atomic_output`)."""
    comp = _deflate.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip wrapper, mtime 0, no name
    with open(path, "wb") as f:
        f.write(comp.compress(primary))
        for part in table:
            f.write(comp.compress(part))
        f.write(comp.flush())
