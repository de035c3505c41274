"""Chunk-pair discovery and model names (layout.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from elasticc_classification.errors import InputError
from elasticc_classification.io import layout


def touch_pair(root: Path, prefix: str, model: str, chunk: int, gz: bool = True) -> tuple[Path, Path]:
    head, phot = layout.chunk_paths(root, prefix, model, chunk, gz=gz)
    head.parent.mkdir(parents=True, exist_ok=True)
    head.write_bytes(b"")
    phot.write_bytes(b"")
    return head, phot


def test_real_subset_pairs(realdata):
    pairs = layout.find_pairs(realdata / "elasticc2_train_1percent")
    assert len(pairs) == 60
    assert {p.model for p in pairs} == {"Mdwarf-flare", "SNIb-Templates"}
    assert sum(p.model == "Mdwarf-flare" for p in pairs) == 40
    assert pairs == sorted(pairs)
    first = pairs[0]
    assert (first.model, first.chunk) == ("Mdwarf-flare", "0001")
    assert first.head.name == "ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0001_HEAD.FITS.gz"
    assert first.phot.name == first.head.name.replace("_HEAD", "_PHOT")
    assert layout.model_from_path(first.head) == "Mdwarf-flare"


def test_chunk_paths_round_trip(tmp_path):
    touch_pair(tmp_path, "ELASTICC2_TRAIN_02", "SNIb+HostXT_V19", 3)
    touch_pair(tmp_path, "ELASTICC2_TRAIN_02", "SNIb+HostXT_V19", 12, gz=False)
    touch_pair(tmp_path, "ELASTICC2_TRAIN_02", "uLens-Single_PyLIMA", 1)
    pairs = layout.find_pairs(tmp_path)
    assert [(p.model, p.chunk) for p in pairs] == [
        ("SNIb+HostXT_V19", "0003"),
        ("SNIb+HostXT_V19", "0012"),
        ("uLens-Single_PyLIMA", "0001"),
    ]
    assert pairs[1].head.name.endswith("-0012_HEAD.FITS")


def test_model_name():
    assert layout.model_name("ELASTICC2_TRAIN_02_SNIb-Templates", "ELASTICC2_TRAIN_02") == "SNIb-Templates"
    assert layout.model_name("my_dir", "ELASTICC2_TRAIN_02") == "my_dir"
    assert layout.parse_chunk_name("X_NONIaMODEL0-0040_PHOT.FITS.gz") == ("X", "0040", "PHOT")
    assert layout.parse_chunk_name("README.md") is None


def test_head_without_phot(tmp_path):
    head, phot = touch_pair(tmp_path, "P", "TDE", 1)
    phot.unlink()
    with pytest.raises(layout.LayoutError, match="has no PHOT partner") as e:
        layout.find_pairs(tmp_path)
    assert head.name in str(e.value)
    assert isinstance(e.value, InputError)


def test_phot_without_head(tmp_path):
    head, phot = touch_pair(tmp_path, "P", "TDE", 1)
    head.unlink()
    with pytest.raises(layout.LayoutError, match="has no HEAD partner"):
        layout.find_pairs(tmp_path)


def test_no_pairs_and_missing_dir(tmp_path):
    (tmp_path / "P_TDE").mkdir()
    (tmp_path / "P_TDE" / "notes.txt").write_text("x")
    with pytest.raises(layout.LayoutError, match="no SNANA chunk pairs"):
        layout.find_pairs(tmp_path)
    with pytest.raises(layout.LayoutError, match="does not exist"):
        layout.find_pairs(tmp_path / "nowhere")


def test_gz_and_plain_copy_of_one_file(tmp_path):
    touch_pair(tmp_path, "P", "TDE", 1)
    touch_pair(tmp_path, "P", "TDE", 1, gz=False)
    with pytest.raises(layout.LayoutError, match="two HEAD files"):
        layout.find_pairs(tmp_path)
