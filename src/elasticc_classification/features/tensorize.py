"""The tensorize stage: one converted chunk parquet -> one tensor shard (see :mod:`.shards`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from elasticc_classification.configfile import read_config
from elasticc_classification.features.features import build_shard, resolve_config
from elasticc_classification.features.shards import Shard, write_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.io.parquet import read_parquet
from elasticc_classification.io.snana import PHOT_REQUIRED

log = logging.getLogger(__name__)


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
    log.info(
        "%s: wrote %d objects, %d observations, %d features, %d static features",
        out,
        len(shard),
        len(shard.x),
        shard.x.shape[1],
        shard.static.shape[1],
    )
    return shard
