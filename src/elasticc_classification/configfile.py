"""Reading a user's YAML config file (the workflow's config/config.yaml or a section of it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from elasticc_classification.errors import InputError


def read_config(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of YAML file ``path`` (empty file: ``{}``); InputError otherwise."""
    try:
        spec = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as e:
        raise InputError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(spec, dict):
        raise InputError(f"{path}: a config file is a mapping of sections (tensorize:, train:, ...) at the top level")
    return spec
