"""Parquet files of converted chunks (one row per object, light curves as list columns)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from elasticc_classification.errors import InputError, atomic_output


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read a converted chunk parquet (only ``columns`` that exist, when given; BAND
    dictionary-encoded); unreadable -> :class:`InputError`."""
    if not Path(path).is_file():
        raise InputError(f"{path}: parquet file not found; run convert for this chunk first")
    try:
        try:  # BAND as dictionary codes (a handful of strings, not one per observation)
            pf = pq.ParquetFile(str(path), memory_map=True, read_dictionary=["BAND.list.element"])
        except KeyError:  # no BAND column, or a writer that names list items otherwise
            pf = pq.ParquetFile(str(path), memory_map=True)
        names = pf.schema_arrow.names
        # one thread: jobs run one per core; the dataset API (pq.read_table) costs more here
        return pf.read(columns=None if columns is None else [c for c in columns if c in names], use_threads=False)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path}: not a readable parquet file ({e}); rerun convert for this chunk") from None


def write_parquet(table: pa.Table, out: str | Path) -> None:
    """Write ``table`` to ``out`` atomically (zstd; dictionary encoding for strings only;
    column statistics for the scalar HEAD columns only)."""
    # Parquet addresses a list column's values by their leaf path (``BAND.list.element``).
    strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
    strings += [
        f"{f.name}.list.element"
        for f in table.schema
        if pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type)
    ]
    scalars = [f.name for f in table.schema if not pa.types.is_list(f.type)]  # statistics only where useful
    with atomic_output(out, suffix=".parquet") as tmp:
        pq.write_table(
            table, tmp, compression="zstd", use_dictionary=strings or False, write_statistics=scalars or False
        )
