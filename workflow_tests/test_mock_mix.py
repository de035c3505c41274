"""Objects per model of the mock (``mock.mix``): equal, or the ELAsTiCC2 training set's published
relative numbers (mock/catalog.py), checked against the facts file and the real 1 % sample."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from elasticc_classification.errors import InputError
from elasticc_classification.mock import MODELS, generate
from elasticc_classification.mock.catalog import PUBLISHED_NUMBERS, relative_numbers

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT.parent / "shared" / "facts" / "elasticc2_simulation.md"
CAP = 66.7  # thousands: the classes ORACLE capped are "each >= 66.7k" in the facts


def _class_of() -> dict[str, str]:
    return yaml.safe_load((ROOT / "config" / "taxonomy.yaml").read_text())["models"]


def _facts_totals() -> dict[str, float]:
    """Class -> objects (thousands) from ORACLE's table in the facts file: train + test + validation,
    or the facts' lower bound of 66.7k for the classes capped at (about) 40,000 training objects."""
    totals = {}
    for line in FACTS.read_text().splitlines():
        m = re.fullmatch(r"\|\s*([A-Za-z0-9/ .-]+?)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", line.strip())
        if m:
            train = int(m.group(2))
            totals[m.group(1)] = CAP if train > 37_000 else sum(int(m.group(k)) for k in (2, 3, 4)) / 1000.0
    return totals


def test_shares_have_mean_one_and_equal_is_flat():
    for mix in ("equal", "published"):
        share = relative_numbers(mix)
        assert set(share) == set(MODELS)
        assert np.isclose(np.mean(list(share.values())), 1.0)
    assert set(relative_numbers("equal").values()) == {1.0}
    with pytest.raises(ValueError, match="mix"):
        relative_numbers("natural")


def test_published_numbers_sum_to_the_facts_class_totals():
    if not FACTS.exists():
        pytest.skip(f"no facts file at {FACTS}")
    totals = _facts_totals()
    per_class: dict[str, float] = defaultdict(float)
    for model, n in PUBLISHED_NUMBERS.items():
        per_class[_class_of()[model]] += n
    assert set(per_class) == set(totals), "every leaf class has a published total"
    for cls, n in per_class.items():
        assert n == pytest.approx(totals[cls], rel=0.01), cls


def test_published_mdwarf_share_matches_the_real_one_percent_sample(realdata):
    """27 M-dwarf flares in 40 chunks at 1 % scale -> ~2.7k at full scale: the published 2.65k."""
    d = realdata / "elasticc2_train_1percent" / "ELASTICC2_TRAIN_01_1percent_Mdwarf-flare"
    n = sum(len(fits.getdata(h, 1)) for h in sorted(d.glob("*HEAD.FITS.gz")))
    assert n / 0.01 / 1000 == pytest.approx(PUBLISHED_NUMBERS["Mdwarf-flare"], rel=0.15)


def test_generate_follows_the_mix(tmp_path):
    """Per model, objects written ~ objects_per_chunk x share (Poisson), and equal = the old default."""
    models = ["SNIa-SALT3", "Mdwarf-flare"]
    out = {}
    for mix in ("equal", "published"):
        pairs = generate(tmp_path / mix, models=models, n_chunks=2, objects_per_chunk=40, seed=3, mix=mix)
        out[mix] = {m: sum(len(fits.getdata(h, 1)) for h, _ in pairs if f"_{m}/" in str(h)) for m in models}
    share = relative_numbers("published")
    for m in models:
        lam = 80 * share[m]
        assert abs(out["published"][m] - lam) < 5 * np.sqrt(lam) + 1, (m, out["published"][m], lam)
    assert out["published"]["SNIa-SALT3"] > 10 * out["published"]["Mdwarf-flare"]
    legacy = generate(tmp_path / "legacy", models=models, n_chunks=2, objects_per_chunk=40, seed=3)
    for (h1, p1), (h2, p2) in zip(
        legacy, generate(tmp_path / "eq2", models=models, n_chunks=2, objects_per_chunk=40, seed=3, mix="equal")
    ):
        assert h1.read_bytes() == h2.read_bytes() and p1.read_bytes() == p2.read_bytes()
    with pytest.raises(InputError, match="mix"):
        generate(tmp_path / "bad", models=models, mix="natural")


def test_taxonomy_prior_is_the_sum_of_the_published_numbers_per_class():
    """The taxonomy's prior (predict --prior published) and the mock's per-model numbers are one fact."""
    from elasticc_classification.features.taxonomy import Taxonomy

    per_class: dict[str, float] = defaultdict(float)
    for model, n in PUBLISHED_NUMBERS.items():
        per_class[_class_of()[model]] += n
    assert Taxonomy.load().prior == pytest.approx(dict(per_class), rel=1e-9)
