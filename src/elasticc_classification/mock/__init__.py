"""Synthetic ELAsTiCC2-like training sample in the real SNANA FITS format (not for science)."""

from __future__ import annotations

from elasticc_classification.mock.catalog import MODELS
from elasticc_classification.mock.generator import generate

__all__ = ["MODELS", "generate"]
