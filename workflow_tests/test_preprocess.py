"""Preprocessing: which observations are kept, on real SNANA files (indices derived by hand here)
and on small synthetic light curves for every rule (saturation, non-finite, order, no detection)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from lightcurve_tables import DET, make_table
from wfutil import MDWARF, SNIB, pair

from elasticc_classification import config
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.lightcurves import preprocess_table
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.io.snana import read_pair

# (model dir, chunk, row, SNID, NOBS, detections) from ../shared/realdata/README.md
REAL = [
    (SNIB, 1, 0, "1144924", 78, 2),
    (SNIB, 1, 1, "1293363", 258, 1),
    (SNIB, 6, 0, "569349", 191, 1),
    (MDWARF, 31, 0, "1973319", 183, 1),
]


def hand_kept(phot_rows, history_days: float = 0.0) -> list[int]:
    """Kept observation indices (into the MJD-sorted light curve) by the documented rule, one by one."""
    mjd = [float(r["MJD"]) for r in phot_rows]
    order = sorted(range(len(mjd)), key=lambda i: mjd[i])
    rows = [phot_rows[i] for i in order]
    valid = [
        not (int(r["PHOTFLAG"]) & 1024) and np.isfinite(r["FLUXCAL"]) and np.isfinite(r["FLUXCALERR"]) for r in rows
    ]
    dets = [i for i, r in enumerate(rows) if valid[i] and int(r["PHOTFLAG"]) & 4096]
    first, last = dets[0], dets[-1]
    before = [i for i in range(first) if valid[i] and not int(rows[i]["PHOTFLAG"]) & 4096]
    t_first = float(rows[first]["MJD"])
    history = [i for i in before if float(rows[i]["MJD"]) >= t_first - history_days]
    kept = sorted(set(before[-1:] + history)) + [i for i in range(first, last + 1) if valid[i]]
    return kept, rows


@pytest.fixture(scope="module")
def taxonomy(root) -> Taxonomy:
    return Taxonomy.load(root / "config/taxonomy.yaml")


@pytest.mark.parametrize("history_days", [0.0, 30.0])
@pytest.mark.parametrize("model_dir, chunk, row, snid, nobs, ndet", REAL)
def test_real_kept_observations_match_hand_derivation(
    realdata, taxonomy, model_dir, chunk, row, snid, nobs, ndet, history_days
):
    head, phot = pair(realdata, model_dir, chunk)
    with fits.open(head) as h, fits.open(phot) as p:
        hd = h[1].data
        assert hd["SNID"][row].strip() == snid
        lo, hi = int(hd["PTROBS_MIN"][row]) - 1, int(hd["PTROBS_MAX"][row])
        lc_rows = [p[1].data[k] for k in range(lo, hi)]
    assert len(lc_rows) == nobs
    kept, rows = hand_kept(lc_rows, history_days)

    shard = build_shard(read_pair(head, phot), {"history_days": history_days}, taxonomy, source=str(head))
    i = int(np.flatnonzero(shard.snid == snid)[0])
    x = shard.light_curve(i)
    assert len(x) == len(kept)
    np.testing.assert_allclose(x[:, 0] + shard.t0[i], [rows[k]["MJD"] for k in kept], atol=1e-3)
    np.testing.assert_allclose(x[:, 2], np.arcsinh([rows[k]["FLUXCAL"] for k in kept]), rtol=1e-6)
    np.testing.assert_allclose(x[:, 3], np.arcsinh([rows[k]["FLUXCALERR"] for k in kept]), rtol=1e-6)
    bands = [rows[k]["BAND"].strip() for k in kept]
    assert ["ugrizY"[j] for j in np.argmax(x[:, 4:], axis=1)] == bands
    assert x[:, 4:].sum(axis=1).tolist() == [1.0] * len(kept)
    # README: the number of detections of this object; all of them lie in the kept window
    assert int(x[:, 1].sum()) == ndet
    # the first kept observation is the last non-detection before the first detection, or with a
    # history the first observation of the history_days before it
    first = kept.index(next(k for k in kept if int(rows[k]["PHOTFLAG"]) & 4096))
    assert x[0, 1] == 0 and x[shard.first_det[i], 1] == 1 and shard.first_det[i] == first
    assert first == 1 if history_days == 0 else first >= 1
    assert shard.t0[i] == pytest.approx(rows[kept[0]]["MJD"])


@pytest.mark.parametrize("model_dir, chunk, row, snid, nobs, ndet", REAL)
def test_real_keep_all_keeps_every_observation(realdata, taxonomy, model_dir, chunk, row, snid, nobs, ndet):
    head, phot = pair(realdata, model_dir, chunk)
    shard = build_shard(read_pair(head, phot), {"keep": "all"}, taxonomy)
    i = int(np.flatnonzero(shard.snid == snid)[0])
    x = shard.light_curve(i)
    assert len(x) == nobs  # no saturation, every flux finite in these files
    assert int(x[:, 1].sum()) == ndet
    assert np.all(np.diff(x[:, 0]) >= 0) and x[0, 0] == 0


# --- synthetic light curves ------------------------------------------------------------------
def curve(snid, flags, flux=None, err=None, mjd=None, bands=None):
    n = len(flags)
    return {
        "SNID": snid,
        "MJD": list(mjd if mjd is not None else 60000.0 + np.arange(n)),
        "BAND": list(bands or ["r"] * n),
        "PHOTFLAG": list(flags),
        "FLUXCAL": list(flux if flux is not None else np.arange(n, dtype=float) + 1),
        "FLUXCALERR": list(err if err is not None else np.ones(n)),
    }


def kept_of(table, **kw):
    """(light curves, keep result, unsorted objects) of ``table`` under the ``tensorize`` settings ``kw``
    (without a history unless ``history_days`` is given: these tests check the window rule itself)."""
    return preprocess_table(table, config.resolve("tensorize", {"history_days": 0, **kw}))


def test_window_rule_on_a_handmade_curve():
    # idx:     0  1    2  3    4  5    6  7
    flags = [0, 0, DET, 0, DET, 0, 0, 0]
    lc, kr, _ = kept_of(make_table([curve(1, flags)]))
    assert np.flatnonzero(kr.mask).tolist() == [1, 2, 3, 4]  # last non-det before, then through the last det
    assert kr.first_det.tolist() == [1]
    assert kr.counts["observations_outside_window"] == 4


def test_saturated_and_nonfinite_are_never_kept_and_counted():
    flags = [0, 1024, DET, 1024 | DET, 0, DET]
    flux = [1.0, 2.0, 3.0, 4.0, np.nan, 6.0]
    lc, kr, _ = kept_of(make_table([curve(1, flags, flux=flux)]))
    # the non-det before the first det (idx 1) is saturated: idx 0 is the last valid one
    assert np.flatnonzero(kr.mask).tolist() == [0, 2, 5]
    assert kr.counts["observations_saturated"] == 2
    assert kr.counts["observations_nonfinite"] == 1
    lc, kr, _ = kept_of(make_table([curve(1, flags, flux=flux)]), drop_saturated=False)
    assert np.flatnonzero(kr.mask).tolist() == [1, 2, 3, 5]


def test_first_observation_a_detection_has_no_predecessor():
    lc, kr, _ = kept_of(make_table([curve(1, [DET, 0, DET, 0])]))
    assert np.flatnonzero(kr.mask).tolist() == [0, 1, 2]
    assert kr.first_det.tolist() == [0]


def test_predecessor_never_taken_from_the_previous_object():
    t = make_table([curve(1, [0, 0, DET]), curve(2, [DET, 0])])
    lc, kr, _ = kept_of(t)
    assert np.flatnonzero(kr.mask).tolist() == [1, 2, 3]


def test_unsorted_light_curve_is_sorted_by_mjd():
    # band-first order: MJD jumps back; the detection is the earliest r observation
    mjd = [60003.0, 60001.0, 60002.0, 60000.0]
    flags = [0, DET, 0, 0]
    lc, kr, n_unsorted = kept_of(make_table([curve(1, flags, mjd=mjd, flux=[30.0, 10.0, 20.0, 0.0])]))
    assert n_unsorted == 1
    assert lc.mjd.tolist() == sorted(mjd)
    assert lc.fluxcal[kr.mask].tolist() == [0.0, 10.0]  # 60000 (non-det before) and 60001 (det)


def test_objects_without_detection():
    t = make_table([curve(1, [0, 0, 0]), curve(2, [0, DET])])
    lc, kr, _ = kept_of(t)
    assert kr.keep_object.tolist() == [False, True]
    assert kr.counts["objects_without_detection"] == 1 and kr.counts["objects_dropped"] == 1
    lc, kr, _ = kept_of(t, drop_no_detection=False)
    assert kr.keep_object.tolist() == [True, True]
    assert np.flatnonzero(kr.mask).tolist() == [0, 1, 2, 3, 4]
    assert kr.first_det.tolist() == [2, 1]  # no detection: "first detection" is the last kept observation


def test_keep_all_keeps_every_valid_observation():
    flags = [0, 0, DET, 0, 0, 1024]
    lc, kr, _ = kept_of(make_table([curve(1, flags)]), keep="all")
    assert np.flatnonzero(kr.mask).tolist() == [0, 1, 2, 3, 4]
    assert kr.first_det.tolist() == [2]


def reference_keep(flags, flux, err, keep, drop_no_detection):
    """Kept indices of one MJD-ordered light curve, observation by observation."""
    valid = [not (f & 1024) and np.isfinite(a) and np.isfinite(b) for f, a, b in zip(flags, flux, err)]
    det = [v and bool(f & DET) for v, f in zip(valid, flags)]
    if not any(det):
        return ([i for i, v in enumerate(valid) if v], None) if not drop_no_detection else ([], None)
    if keep == "all":
        kept = [i for i, v in enumerate(valid) if v]
    else:
        first = det.index(True)
        last = len(det) - 1 - det[::-1].index(True)
        before = [i for i in range(first) if valid[i]]
        kept = before[-1:] + [i for i in range(first, last + 1) if valid[i]]
    return kept, kept.index(det.index(True))


FLAGS = st.sampled_from([0, 0, 0, DET, DET | 2048, 1024, 1024 | DET])  # PHOTFLAG of one observation


def light_curves(*columns):
    """1-8 light curves of 1-25 observations, each a tuple (PHOTFLAG, *one draw per column)."""
    return st.lists(st.lists(st.tuples(FLAGS, *columns), min_size=1, max_size=25), min_size=1, max_size=8)


@settings(max_examples=120, deadline=None)
@given(
    curves=light_curves(st.sampled_from([1.0, 1.0, 1.0, 1.0, np.nan, np.inf])),
    keep=st.sampled_from(["detection_window", "all"]),
    drop_no_detection=st.booleans(),
)
def test_keep_mask_matches_observation_by_observation_reference(curves, keep, drop_no_detection):
    table = make_table([curve(k, [f for f, _ in c], flux=[v for _, v in c]) for k, c in enumerate(curves)])
    lc, kr, _ = kept_of(table, keep=keep, drop_no_detection=drop_no_detection)
    assert np.array_equal(kr.index, np.flatnonzero(kr.mask))
    for k, c in enumerate(curves):
        flags = [f for f, _ in c]
        flux = [v for _, v in c]
        want, fd = reference_keep(flags, flux, [1.0] * len(c), keep, drop_no_detection)
        got = (np.flatnonzero(kr.mask[lc.offsets[k] : lc.offsets[k + 1]])).tolist()
        assert got == want
        assert kr.keep_object[k] == bool(want)
        assert kr.kept_counts[k] == len(want)
        if want:
            assert kr.first_det[k] == (fd if fd is not None else len(want) - 1)
    assert kr.counts["observations_kept"] == int(kr.mask.sum())


def reference_history(mjd, flags, flux, history_days, drop_no_detection=True):
    """Kept indices with ``history_days`` (detection_window), observation by observation."""
    kept, _ = reference_keep(flags, flux, [1.0] * len(flags), "detection_window", drop_no_detection)
    valid = [not (f & 1024) and np.isfinite(a) for f, a in zip(flags, flux)]
    det = [v and bool(f & DET) for v, f in zip(valid, flags)]
    if not any(det):
        return kept
    t_first = mjd[det.index(True)]
    history = [i for i in range(det.index(True)) if valid[i] and mjd[i] >= t_first - history_days]
    return sorted(set(kept) | set(history))


def test_history_days_on_a_handmade_curve():
    # nights 0 2 5 9 10 11 12 (detection on 10): 3 days of history keeps nights 9.. ; 0 keeps night 9 only
    mjd = 60000.0 + np.array([0, 2, 5, 9, 10, 11, 12])
    flags = [0, 0, 0, 0, DET, DET, 0]
    for days, want in [(0, [3, 4, 5]), (3, [3, 4, 5]), (5, [2, 3, 4, 5]), (100, [0, 1, 2, 3, 4, 5])]:
        lc, kr, _ = kept_of(make_table([curve(1, flags, mjd=mjd)]), history_days=days)
        assert np.flatnonzero(kr.mask).tolist() == want, days
        assert kr.first_det.tolist() == [want.index(4)]


@settings(max_examples=120, deadline=None)
@given(
    curves=light_curves(
        st.sampled_from([1.0, 1.0, 1.0, 1.0, np.nan]), st.sampled_from([0.0, 0.02, 1.0, 3.0, 7.5, 40.0])
    ),
    history_days=st.sampled_from([0.0, 0.5, 3.0, 10.0, 100.0]),
)
def test_history_days_matches_observation_by_observation_reference(curves, history_days):
    rows = []
    for k, c in enumerate(curves):
        mjd = 60000.0 + 50.0 * k + np.cumsum([g for _, _, g in c])  # objects overlap in time
        rows.append(curve(k, [f for f, _, _ in c], flux=[v for _, v, _ in c], mjd=mjd))
    lc, kr, _ = kept_of(make_table(rows), history_days=history_days)
    for k, c in enumerate(curves):
        want = reference_history(rows[k]["MJD"], [f for f, _, _ in c], [v for _, v, _ in c], history_days)
        got = np.flatnonzero(kr.mask[lc.offsets[k] : lc.offsets[k + 1]]).tolist()
        assert got == want
    assert kr.counts["observations_kept"] == int(kr.mask.sum())
