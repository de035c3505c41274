"""Converted tables from what a user gives: parquet files, HEAD/PHOT pairs, raw or model directories.

Every file is found and checked for a partner first (bad input fails before any work); the tables
are read one at a time by the returned loaders. Used by ``predict`` and the alert-stream simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import pyarrow as pa

from elasticc_classification.errors import InputError
from elasticc_classification.io.layout import LayoutError, find_pairs, model_from_path
from elasticc_classification.io.parquet import read_parquet
from elasticc_classification.io.snana import read_pair

#: ``(source name, loader)`` of one table.
Source = tuple[str, Callable[[], pa.Table]]


def sources(inputs: Sequence[str | Path]) -> list[Source]:
    """:func:`input_sources` of every input; two FITS files are one HEAD/PHOT pair."""
    if len(inputs) == 2 and all(str(p).upper().endswith((".FITS", ".FITS.GZ")) for p in inputs):
        head, phot = sorted(inputs, key=lambda p: "_PHOT.FITS" in str(p).upper())
        return input_sources(head, phot=phot)
    return [t for p in inputs for t in input_sources(p)]


def input_sources(path: str | Path, phot: str | Path | None = None) -> list[Source]:
    """``(source name, loader)`` per parquet file or HEAD/PHOT pair of ``path``: every file is found
    and checked for a partner first (bad input fails before any work); tables are read one at a time.

    ``path`` is a parquet file, a HEAD file (with ``phot`` or its ``_PHOT`` partner beside it),
    or a raw directory of chunk pairs (or of parquet files).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist: give a HEAD/PHOT pair, a raw directory or a parquet file")
    if path.is_dir():
        try:
            pairs = find_pairs(path)
        except LayoutError:  # not a raw directory: a model directory of pairs, or parquet files
            heads = sorted(path.glob("*_HEAD.FITS*"))
            if heads:
                return [t for h in heads for t in input_sources(h)]
            parquets = sorted(path.glob("*.parquet"))
            if not parquets:
                raise InputError(
                    f"{path}: no HEAD/PHOT pairs (in <MODEL>/ subdirectories or directly) and no parquet files; "
                    "give a raw directory, a model directory, or parquet files"
                ) from None
            return [(str(p), partial(read_parquet, p)) for p in parquets]
        return [(str(p.head), partial(read_pair, p.head, p.phot, model=p.model)) for p in pairs]
    name = path.name.upper()
    if name.endswith(".PARQUET"):
        return [(str(path), partial(read_parquet, path))]
    if phot is None:
        if "_HEAD.FITS" not in name and "_PHOT.FITS" not in name:
            raise InputError(f"{path}: not a parquet file nor a *_HEAD.FITS[.gz] file; give the PHOT file too")
        kind, other = ("_HEAD.", "_PHOT.") if "_HEAD.FITS" in name else ("_PHOT.", "_HEAD.")
        i = name.rfind(kind)
        if path.name[i : i + len(kind)].islower():
            other = other.lower()
        partner = path.with_name(path.name[:i] + other + path.name[i + len(kind) :])
        if not partner.exists():
            raise InputError(f"{path}: its partner {partner.name} is not beside it; give both files")
        head, phot = (path, partner) if kind == "_HEAD." else (partner, path)
    else:
        head = path
    return [(str(head), partial(read_pair, head, phot, model=_model_or_unknown(head)))]


def _model_or_unknown(head: Path) -> str:
    try:
        return model_from_path(head)
    except Exception:  # noqa: BLE001 - any odd directory: the model name is only a label here
        return "unknown"
