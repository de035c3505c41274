"""The tensorize stage: one converted chunk parquet -> one tensor shard (see :mod:`.shards`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from .configfile import read_config
from .errors import InputError
from .features import PHOT_REQUIRED, build_shard, resolve_config
from .shards import Shard, write_shard
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)


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


def needed_columns(cfg: Mapping[str, Any]) -> list[str]:
    """Columns :func:`features.build_shard` reads with the (resolved) ``cfg``."""
    return ["SNID", "MODEL", *PHOT_REQUIRED, *cfg["static"], *(("RA", "DEC") if cfg["flags"] else ())]


def load_config(path: str | Path | None) -> tuple[dict[str, Any], str | None]:
    """The ``tensorize`` section and the taxonomy path of a workflow config YAML.

    A file with a top-level ``tensorize`` key is a workflow config (``config/config.yaml``);
    otherwise the whole file is taken as the ``tensorize`` section. ``None`` gives the defaults.
    """
    if path is None:
        return resolve_config({}), None
    spec = read_config(path)
    if "tensorize" in spec:
        return resolve_config(spec.get("tensorize") or {}), spec.get("taxonomy")
    return resolve_config(spec), None


def tensorize(
    parquet: str | Path,
    out: str | Path,
    cfg: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | str | Path | None = None,
    require_labels: bool = True,
) -> Shard:
    """Turn chunk ``parquet`` into the shard ``out`` (written atomically: no partial output on error).

    ``taxonomy``: a :class:`Taxonomy`, a taxonomy YAML path, or None for the default taxonomy.
    """
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
    cfg = resolve_config(cfg)
    table = read_parquet(parquet, needed_columns(cfg))
    shard = build_shard(table, cfg, tax, require_labels=require_labels, source=str(parquet))
    write_shard(shard, out)
    log.info("%s: wrote %d objects, %d observations, %d features, %d static features",
             out, len(shard), len(shard.x), shard.x.shape[1], shard.static.shape[1])
    return shard
