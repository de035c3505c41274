"""A small untrained model artifact (random weights, real architecture) for predict/export tests."""

from __future__ import annotations

from pathlib import Path

import torch

from elasticc_classification import config
from elasticc_classification.features.features import feature_names, static_names
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model.module import HierarchicalClassifier, artifact_dict


def make_artifact(path: Path, hidden: int = 16, cell: str = "lstm", seed: int = 0, temperature: float = 1.0) -> Path:
    """Write a model artifact with the default taxonomy and feature configuration to ``path``."""
    torch.manual_seed(seed)
    cfg = config.resolve("tensorize", {})
    tax = Taxonomy.load()
    m = HierarchicalClassifier(
        tax.to_dict(),
        feature_names(cfg),
        static_names(cfg),
        model={"hidden": hidden, "layers": 2, "cell": cell, "head_hidden": 24},
        preprocess=cfg,
    )
    with torch.no_grad():  # larger weights than the default init: probabilities far from uniform
        for p in m.net.head.parameters():
            p.mul_(3.0)
        m.net.temperature.fill_(temperature)
    torch.save(artifact_dict(m.eval()), path)
    return path
