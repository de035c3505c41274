"""Metrics against hand-computed confusion tables, ROC areas and calibration errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from elasticc_classification.evaluation import metrics
from elasticc_classification.features.taxonomy import Taxonomy


def test_confusion_and_macro_scores_match_hand_computation():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    cm = metrics.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    pc = metrics.per_class_scores(cm)
    np.testing.assert_allclose(pc["precision"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(pc["recall"], [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(pc["f1"], [0.8, 0.5, 2 / 3])
    s = metrics.summary_scores(cm)
    assert s["n"] == 6
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["macro_precision"] == pytest.approx(2 / 3)
    assert s["macro_recall"] == pytest.approx(13 / 18)
    assert s["macro_f1"] == pytest.approx(59 / 90)


def test_class_without_true_objects_is_left_out_of_macro_average():
    # class 2 is predicted once but never true: it lowers class 0's recall, not the macro mean size
    cm = metrics.confusion_matrix(np.array([0, 0, 1]), np.array([0, 2, 1]), 3)
    s = metrics.summary_scores(cm)
    assert s["macro_recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["macro_precision"] == pytest.approx(1.0)
    assert s["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert np.isnan(metrics.summary_scores(np.zeros((3, 3), int))["accuracy"])


def test_roc_auc_equals_mann_whitney_with_ties():
    y = np.array([1, 1, 0, 0, 1, 0], bool)
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1])
    fpr, tpr, auc = metrics.roc_curve(y, s)
    pairs = [(a, b) for a, b in itertools.product(s[y], s[~y])]
    mw = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert auc == pytest.approx(mw) == pytest.approx(6.5 / 9)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.isnan(metrics.roc_curve(np.ones(3, bool), np.arange(3.0))[2])


def test_expected_calibration_error_by_hand():
    r = metrics.reliability(np.array([0.95, 0.95, 0.55, 0.55]), np.array([1, 0, 1, 1], bool), n_bins=10)
    assert r["ece"] == pytest.approx(0.45)
    assert r["count"][9] == 2 and r["count"][5] == 2 and r["count"].sum() == 4
    assert r["accuracy"][9] == pytest.approx(0.5)
    perfect = metrics.reliability(np.full(4, 0.75), np.array([1, 1, 1, 0], bool))
    assert perfect["ece"] == pytest.approx(0.0)


def test_levels_follow_the_taxonomy():
    tax = Taxonomy.load("config/taxonomy.yaml")
    leaves = tax.leaf_names
    names = ["SNIa", "SNIa", "AGN", "KN", "RR Lyrae"]
    leaf_true = np.array([tax.index[n] for n in names])
    # predicted leaves: SNIa (right), SNII (wrong leaf, right SN branch), AGN (right), TDE, EB
    pred = ["SNIa", "SNII", "AGN", "TDE", "EB"]
    p = np.full((5, len(leaves)), 0.01)
    p[np.arange(5), [leaves.index(n) for n in pred]] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    marg = metrics.marginals_from_leaf_proba(tax, p)
    np.testing.assert_allclose(marg[:, 0], 1.0)
    assert metrics.level_names(tax) == ["level_1", "level_2", "level_3", "leaf"]
    recs, per_class, cms = metrics.level_records(tax, leaf_true, marg, days=4)
    by = {r["level"]: r for r in recs}
    assert by["level_1"]["n"] == 5 and by["level_1"]["accuracy"] == pytest.approx(1.0)
    # level 2: SN, SN, AGN, Fast->Long (wrong), Periodic
    assert by["level_2"]["accuracy"] == pytest.approx(4 / 5)
    # the AGN leaf is at depth 2: not scored at level 3
    assert by["level_3"]["n"] == 4 and by["leaf"]["n"] == 5
    assert by["level_3"]["accuracy"] == pytest.approx(1 / 4)
    assert by["leaf"]["accuracy"] == pytest.approx(2 / 5)
    assert all(r["days"] == 4 for r in recs)
    assert cms["leaf"].shape == (len(leaves), len(leaves)) and cms["leaf"].sum() == 5
    snia = [r for r in per_class if r["level"] == "leaf" and r["class"] == "SNIa"][0]
    # SNIa: 2 true, 1 predicted right, 1 predicted SNII: precision 1, recall 1/2
    assert snia["support"] == 2 and snia["precision"] == 1.0 and snia["recall"] == 0.5
    # unknown truth (-1) and NaN probabilities are never scored
    recs2, _, _ = metrics.level_records(
        tax, np.r_[leaf_true, -1], np.vstack([marg, np.full(tax.n_nodes, np.nan)]), "full"
    )
    assert {r["level"]: r["n"] for r in recs2} == {r["level"]: r["n"] for r in recs}
