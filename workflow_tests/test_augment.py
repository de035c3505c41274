"""Batch-time windows: every window is a prefix, lengths in range, days truncation against brute
force, nothing past a window's end reaches the batch (property tests with hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lightcurve_tables import DET, make_table, random_curve

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features import augment
from elasticc_classification.features.augment import days_ends, pad_windows, sample_ends
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.taxonomy import Taxonomy

TAX = Taxonomy.load(None)


@st.composite
def ragged(draw, max_objects=12, max_len=40):
    """(t, offsets, first_det): non-decreasing times per object (with ties), first_det in range."""
    lengths = draw(st.lists(st.integers(1, max_len), min_size=1, max_size=max_objects))
    t_parts, fd = [], []
    for n in lengths:
        steps = draw(st.lists(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0, 30.0, 300.0]), min_size=n - 1, max_size=n - 1))
        t_parts.append(np.concatenate([[0.0], np.cumsum(steps)]).astype(np.float32))
        fd.append(draw(st.integers(0, n - 1)))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return np.concatenate(t_parts), offsets, np.array(fd, np.int32)


def brute_days(t, offsets, first_det, i, d):
    lc = t[offsets[i] : offsets[i + 1]]
    return int(np.sum(lc <= np.float64(lc[first_det[i]]) + d))


@settings(max_examples=150, deadline=None)
@given(data=ragged(), days=st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 2048.0, np.inf]), st.floats(0, 5000)))
def test_days_ends_matches_brute_force(data, days):
    t, offsets, fd = data
    idx = np.arange(len(offsets) - 1)
    got = days_ends(t, offsets, fd, idx, days)
    assert got.dtype == np.int64
    assert got.tolist() == [brute_days(t, offsets, fd, i, days) for i in idx]
    assert np.all(got >= fd + 1) and np.all(got <= np.diff(offsets))


def test_days_zero_keeps_through_first_detection():
    t = np.array([0, 1, 1, 2, 5, 0, 4, 9], np.float32)
    offsets = np.array([0, 5, 8])
    fd = np.array([1, 2])
    assert days_ends(t, offsets, fd, None, 0).tolist() == [3, 3]  # tie at t=1 kept
    assert days_ends(t, offsets, fd, [1, 0], [4.9, 1.0]).tolist() == [3, 4]
    assert days_ends(t, offsets, fd, None, np.inf).tolist() == [5, 3]


@settings(max_examples=100, deadline=None)
@given(
    data=ragged(),
    mode=st.sampled_from(augment.MODES),
    seed=st.integers(0, 2**32 - 1),
    min_length=st.integers(1, 50),
    min_fraction=st.floats(0, 1),
    max_log2_days=st.floats(0, 12),
)
def test_sample_ends_in_range(data, mode, seed, min_length, min_fraction, max_log2_days):
    t, offsets, fd = data
    n = len(offsets) - 1
    idx = np.random.default_rng(seed).integers(0, n, 3 * n)
    cfg = {"mode": mode, "min_length": min_length, "min_fraction": min_fraction, "max_log2_days": max_log2_days}
    ends = sample_ends(t, offsets, fd, idx, cfg, np.random.default_rng(seed))
    lengths = np.diff(offsets)[idx]
    assert ends.shape == idx.shape
    assert np.all(ends >= 1) and np.all(ends <= lengths)
    if mode == "none":
        assert np.array_equal(ends, lengths)
    if mode == "prefix":
        assert np.all(ends >= np.minimum(min_length, lengths))
    if mode == "days":
        assert np.all(ends >= fd[idx] + 1)  # at least through the first detection (d >= 1 day)
        assert np.all(ends >= days_ends(t, offsets, fd, idx, 1.0))
        assert np.all(ends <= days_ends(t, offsets, fd, idx, 2.0**max_log2_days))


def test_sample_distributions():
    rng = np.random.default_rng(0)
    offsets = np.array([0, 10])
    t = np.arange(10, dtype=np.float32) * 100  # one observation every 100 days
    fd = np.array([0])
    idx = np.zeros(20000, np.int64)
    pre = sample_ends(t, offsets, fd, idx, {"mode": "prefix", "min_length": 3}, rng)
    counts = np.bincount(pre, minlength=11)[3:]
    assert counts.min() > 0.8 * 20000 / 8 and counts.max() < 1.2 * 20000 / 8  # uniform over 3..10
    frac = sample_ends(t, offsets, fd, idx, {"mode": "fraction"}, rng)
    assert abs(frac.mean() - 5.5) < 0.1  # ceil(U(0,1] * 10): uniform over 1..10
    days = sample_ends(t, offsets, fd, idx, {"mode": "days", "max_log2_days": 11}, rng)
    # d = 2**U(0, 11): P(d < 100) = log2(100) / 11 -> window of 1 observation
    assert abs(np.mean(days == 1) - np.log2(100) / 11) < 0.015


def test_bad_augment_config():
    with pytest.raises(InputError, match="mode"):
        config.resolve("augment", {"mode": "random"})
    with pytest.raises(InputError, match="unknown keys"):
        config.resolve("augment", {"max_days": 3})
    assert config.resolve("augment", {}) == config.section_defaults("augment")


@settings(max_examples=100, deadline=None)
@given(data=ragged(), seed=st.integers(0, 2**32 - 1))
def test_windows_are_prefixes_and_nothing_past_the_end_leaks(data, seed):
    t, offsets, fd = data
    rng = np.random.default_rng(seed)
    n_obs = len(t)
    x = rng.normal(size=(n_obs, 4)).astype(np.float32)
    x[:, 0] = t
    idx = rng.integers(0, len(offsets) - 1, 8)
    ends = sample_ends(t, offsets, fd, idx, {"mode": "days"}, rng)
    batch, lengths = pad_windows(x, offsets, idx, ends)
    assert np.array_equal(lengths, ends)
    for b, (i, e) in enumerate(zip(idx, ends)):
        assert np.array_equal(batch[b, :e], x[offsets[i] : offsets[i] + e])  # a prefix of the light curve
        assert not batch[b, e:].any()  # padding is zero
    # poison every observation past each window's end: the batch must not change
    poisoned = x.copy()
    keep = np.zeros(n_obs, bool)
    for i, e in zip(idx, ends):
        keep[offsets[i] : offsets[i] + e] = True
    poisoned[~keep] = np.nan
    batch2, _ = pad_windows(poisoned, offsets, idx, ends)
    assert np.array_equal(batch, batch2)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), days=st.floats(0, 300))
def test_window_features_do_not_depend_on_later_observations(seed, days):
    """Features inside a window are the same whether or not the observations after it exist
    (keep: all) or whatever their fluxes (detection window): no future information in x."""
    rng = np.random.default_rng(seed)
    curves = [random_curve(rng, k + 1, int(rng.integers(2, 40)), p_det=0.3) for k in range(6)]
    for c in curves:
        c["PHOTFLAG"][int(rng.integers(0, len(c["PHOTFLAG"])))] = DET  # at least one detection
    full = build_shard(make_table(curves), {"keep": "all"}, TAX)
    idx = np.arange(len(full))
    ends = days_ends(full.x[:, 0], full.offsets, full.first_det, idx, days)
    cut = []
    for i, c in enumerate(curves):
        e = int(ends[i])
        cut.append({k: (v[:e] if isinstance(v, list) else v) for k, v in c.items()})
    short = build_shard(make_table(cut), {"keep": "all"}, TAX)
    a, _ = pad_windows(full.x, full.offsets, idx, ends)
    b, _ = pad_windows(short.x, short.offsets, idx, ends)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.static, short.static)

    win = build_shard(make_table(curves), {}, TAX)
    idx = np.arange(len(win))
    ends = days_ends(win.x[:, 0], win.offsets, win.first_det, idx, days)
    t_end = [win.t0[i] + win.x[win.offsets[i] + ends[i] - 1, 0] for i in idx]
    noisy = []
    for c, te in zip(curves, t_end):
        later = np.asarray(c["MJD"]) > te + 1e-3
        noisy.append(dict(c, FLUXCAL=np.where(later, rng.normal(0, 1e4, len(later)), c["FLUXCAL"]).tolist()))
    win2 = build_shard(make_table(noisy), {}, TAX)
    assert np.array_equal(win.offsets, win2.offsets)
    a, _ = pad_windows(win.x, win.offsets, idx, ends)
    b, _ = pad_windows(win2.x, win2.offsets, idx, ends)
    np.testing.assert_array_equal(a, b)
