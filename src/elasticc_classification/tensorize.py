"""The tensorize stage: one converted chunk parquet -> one tensor shard (see :mod:`.shards`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .errors import InputError
from .features import build_shard, resolve_config
from .shards import Shard, write_shard
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)


def read_parquet(path: str | Path) -> pa.Table:
    """Read a converted chunk parquet; unreadable -> :class:`InputError`."""
    if not Path(path).is_file():
        raise InputError(f"{path}: parquet file not found; run convert for this chunk first")
    try:
        return pq.read_table(str(path))
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path}: not a readable parquet file ({e}); rerun convert for this chunk") from None


def load_config(path: str | Path | None) -> tuple[dict[str, Any], str | None]:
    """The ``tensorize`` section and the taxonomy path of a workflow config YAML.

    A file with a top-level ``tensorize`` key is a workflow config (``config/config.yaml``);
    otherwise the whole file is taken as the ``tensorize`` section. ``None`` gives the defaults.
    """
    if path is None:
        return resolve_config({}), None
    try:
        spec = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as e:
        raise InputError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(spec, Mapping):
        raise InputError(f"{path}: expected a mapping at the top level")
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
    table = read_parquet(parquet)
    shard = build_shard(table, cfg or {}, tax, require_labels=require_labels, source=str(parquet))
    write_shard(shard, out)
    log.info("%s: wrote %d objects, %d observations, %d features, %d static features",
             out, len(shard), len(shard.x), shard.x.shape[1], shard.static.shape[1])
    return shard
