"""Shared fixtures: the real SNANA files in ../shared/realdata and the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata`` (skipped, with the reason, where this clone has none beside it)."""
    if not (REALDATA / "elasticc2_train_1percent").is_dir():
        pytest.skip(f"real SNANA test files not found at {REALDATA} (they ship beside this repository's CI checkout)")
    return REALDATA
