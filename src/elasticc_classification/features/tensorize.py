"""The tensorize stage: one converted chunk parquet -> one tensor shard (see :mod:`.shards`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from elasticc_classification import config
from elasticc_classification.configfile import read_config
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.shards import Shard, write_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.io.parquet import read_parquet
from elasticc_classification.io.snana import PHOT_REQUIRED

log = logging.getLogger(__name__)


def needed_columns(cfg: Mapping[str, Any]) -> list[str]:
    """Columns :func:`features.build_shard` reads with the (filled) ``cfg``."""
    return ["SNID", "MODEL", *PHOT_REQUIRED, *cfg["static"], *(("RA", "DEC") if cfg["flags"] else ())]


def load_config(path: str | Path | None) -> tuple[dict[str, Any], str | None]:
    """The ``tensorize`` section (filled with the schema defaults) and the taxonomy path (None
    unless the file names one) of a config YAML.

    A file with a top-level ``tensorize`` key is a workflow config (``config/config.yaml``, whole
    or partial), validated as a whole; otherwise the whole file is taken as the ``tensorize``
    section. ``None`` gives the defaults. A bad value raises :class:`InputError` naming the key.
    """
    if path is None:
        return config.section_defaults("tensorize"), None
    spec = read_config(path)
    if "tensorize" in spec:
        return config.validate(spec, source=str(path))["tensorize"], spec.get("taxonomy")
    return config.resolve("tensorize", spec, source=str(path)), None


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
    cfg = config.resolve("tensorize", cfg)
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
