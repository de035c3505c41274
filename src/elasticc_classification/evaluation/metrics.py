"""Classification metrics per taxonomy level, in numpy only.

Levels are named ``level_1`` … ``level_<max depth>`` (nodes at that depth) and ``leaf`` (all
leaves, whatever their depth). At ``level_k`` an object counts only when its true leaf lies at
depth ≥ k (an AGN, a leaf at depth 2, is not scored at ``level_3``); its true class is the
ancestor of its leaf at depth k and its predicted class is the node of depth k with the largest
marginal probability. At ``leaf`` the prediction is the leaf with the largest marginal.

Macro averages run over the classes that have at least one true object in the scored set;
a class that is never predicted has precision 0 (no division by zero anywhere).

Every score here is a function of sums over objects (confusion counts, per-bin reliability sums),
so :class:`TruncationScores` accumulates them batch by batch: objects added in the same order
give bit-identical results to one call over all of them (:func:`level_records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from elasticc_classification import config
from elasticc_classification.features.taxonomy import Taxonomy

#: Days after the first detection at which light curves are truncated for evaluation (the schema's
#: ``evaluate.days`` default).
DEFAULT_DAYS: tuple[int, ...] = tuple(config.section_defaults("evaluate")["days"])
#: Keys of one record of ``metrics.json``, in order.
RECORD_KEYS = ("level", "days", "macro_precision", "macro_recall", "macro_f1", "accuracy", "n")


# --- levels --------------------------------------------------------------------------------
def level_names(tax: Taxonomy) -> list[str]:
    """``["level_1", …, "level_<max depth>", "leaf"]``."""
    return [f"level_{k}" for k in range(1, tax.max_depth + 1)] + ["leaf"]


def level_classes(tax: Taxonomy, level: str) -> np.ndarray:
    """Node indices of the classes scored at ``level`` (``level_k`` or ``leaf``), in node order."""
    if level == "leaf":
        return tax.leaves
    return tax.level_nodes(int(level.split("_", 1)[1]))


@dataclass(frozen=True)
class LevelView:
    """Objects scored at one level: class node indices, and per scored object the true and
    predicted class position (0 … C-1) and the class probabilities (renormalised over the level's
    classes, which matters only where shallower leaves hold some of the mass)."""

    level: str
    classes: np.ndarray  # (C,) node indices
    mask: np.ndarray  # (N,) bool, objects scored at this level
    y_true: np.ndarray  # (n,) int, position in classes
    y_pred: np.ndarray  # (n,) int
    proba: np.ndarray  # (n, C) float


def level_view(tax: Taxonomy, level: str, leaf_true: np.ndarray, marginals: np.ndarray) -> LevelView:
    """Truth and prediction at ``level`` for objects with true leaf ``leaf_true`` (node index,
    −1 = unknown: never scored) and marginal probabilities ``marginals`` ``(N, n_nodes)``."""
    classes = level_classes(tax, level)
    leaf_true = np.asarray(leaf_true, dtype=np.int64)
    pos = np.full(tax.n_nodes, -1, dtype=np.int64)
    pos[classes] = np.arange(len(classes))
    if level == "leaf":
        true_node = np.where(leaf_true >= 0, leaf_true, -1)
    else:
        anc = tax.ancestor_at(int(level.split("_", 1)[1]))
        true_node = np.where(leaf_true >= 0, anc[np.clip(leaf_true, 0, None)], -1)
    y_all = np.where(true_node >= 0, pos[np.clip(true_node, 0, None)], -1)
    mask = (y_all >= 0) & np.isfinite(marginals).all(axis=1)
    p = np.asarray(marginals, dtype=np.float64)[mask][:, classes]
    s = p.sum(axis=1, keepdims=True)
    p = np.divide(p, s, out=np.full_like(p, 1.0 / max(len(classes), 1)), where=s > 0)
    return LevelView(level, classes, mask, y_all[mask], p.argmax(axis=1) if len(p) else np.zeros(0, np.int64), p)


# --- confusion-table scores ----------------------------------------------------------------
def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class."""
    idx = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class of confusion table ``cm`` (0 where undefined)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    pred = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def summary_scores(cm: np.ndarray) -> dict[str, float]:
    """Macro precision/recall/F1 over classes with support > 0, accuracy and n of table ``cm``."""
    sc = per_class_scores(cm)
    present = sc["support"] > 0
    n = int(np.asarray(cm).sum())
    if n == 0:
        nan = float("nan")
        return {"macro_precision": nan, "macro_recall": nan, "macro_f1": nan, "accuracy": nan, "n": 0}
    return {
        "macro_precision": float(sc["precision"][present].mean()),
        "macro_recall": float(sc["recall"][present].mean()),
        "macro_f1": float(sc["f1"][present].mean()),
        "accuracy": float(np.trace(cm) / n),
        "n": n,
    }


# --- ROC and calibration -------------------------------------------------------------------
def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest ROC of binary truth ``y`` (bool) against ``score``: ``(fpr, tpr, auc)``.

    Tied scores form one step (the curve passes diagonally through them); AUC is the trapezoid
    area, which equals the Mann–Whitney probability P(score⁺ > score⁻) + ½ P(tie). NaN AUC when
    one of the two classes is empty.
    """
    y = np.asarray(y, bool)
    score = np.asarray(score, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0]), float("nan")
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(yy)[last]
    fp = (last + 1) - tp
    tpr = np.r_[0.0, tp / n_pos]
    fpr = np.r_[0.0, fp / n_neg]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


class Reliability:
    """Running reliability sums of equal-width confidence bins on [0, 1], filled by :meth:`add`.

    Sums are accumulated object by object in the order given (``np.add.at``), exactly as one
    ``np.bincount`` over all objects would: batching changes no bit of the result.
    """

    def __init__(self, n_bins: int = 10) -> None:
        self.edges = np.linspace(0.0, 1.0, n_bins + 1)
        self.count = np.zeros(n_bins, np.int64)
        self.sum_conf = np.zeros(n_bins)
        self.sum_ok = np.zeros(n_bins)

    def add(self, confidence: np.ndarray, correct: np.ndarray) -> Reliability:
        """Add objects: ``confidence`` (probability of the predicted class), ``correct`` (bool). Returns self."""
        conf = np.asarray(confidence, np.float64)
        ok = np.asarray(correct, np.float64)
        n_bins = len(self.count)
        b = np.clip(np.searchsorted(self.edges, conf, side="right") - 1, 0, n_bins - 1)
        np.add.at(self.count, b, 1)
        np.add.at(self.sum_conf, b, conf)
        np.add.at(self.sum_ok, b, ok)
        return self

    def result(self) -> dict[str, Any]:
        """``{"ece", "bin_edges", "count", "confidence", "accuracy"}`` (see :func:`reliability`)."""
        count = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_conf = np.where(count > 0, self.sum_conf / count, np.nan)
            acc = np.where(count > 0, self.sum_ok / count, np.nan)
        n = int(count.sum())
        ece = float(np.abs(self.sum_ok - self.sum_conf).sum() / n) if n else float("nan")
        return {"ece": ece, "bin_edges": self.edges, "count": count, "confidence": mean_conf, "accuracy": acc}


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data and expected calibration error.

    ``confidence`` is the probability of the predicted class, ``correct`` whether it was right.
    Bins are equal-width on [0, 1]; ECE = Σ_b (n_b / N) |accuracy_b − mean confidence_b|.
    Returns ``{"ece", "bin_edges", "count", "confidence", "accuracy"}`` (NaN for empty bins).
    """
    return Reliability(n_bins).add(confidence, correct).result()


def level_reliability(v: LevelView, n_bins: int = 10) -> dict[str, Any]:
    """:func:`reliability` of the predicted class's probability at one level (its ``"ece"``: the level's ECE)."""
    conf = v.proba.max(axis=1) if len(v.proba) else np.zeros(0)
    return reliability(conf, v.y_pred == v.y_true, n_bins)


# --- records -------------------------------------------------------------------------------
class TruncationScores:
    """Confusion table and reliability sums of every level for one truncation, added batch by batch
    (:meth:`add`); memory: a C x C table and the bins per level, whatever the number of objects."""

    def __init__(self, tax: Taxonomy, n_bins: int = 10) -> None:
        self.tax = tax
        self.classes = {level: level_classes(tax, level) for level in level_names(tax)}
        self.confusions = {level: np.zeros((len(c), len(c)), np.int64) for level, c in self.classes.items()}
        self.reliability = {level: Reliability(n_bins) for level in self.classes}

    def add(self, leaf_true: np.ndarray, marginals: np.ndarray) -> TruncationScores:
        """Add objects with true leaf ``leaf_true`` (node index, −1 never scored) and ``marginals``
        ``(n, n_nodes)``. Returns self."""
        for level, classes in self.classes.items():
            v = level_view(self.tax, level, leaf_true, marginals)
            self.confusions[level] += confusion_matrix(v.y_true, v.y_pred, len(classes))
            conf = v.proba.max(axis=1) if len(v.proba) else np.zeros(0)
            self.reliability[level].add(conf, v.y_pred == v.y_true)
        return self

    def ece(self) -> dict[str, float]:
        """Expected calibration error of every level."""
        return {level: r.result()["ece"] for level, r in self.reliability.items()}

    def records(self, days: int | str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, np.ndarray]]:
        """``(records, per_class, confusions)`` of the objects added so far (see :func:`level_records`)."""
        records, per_class = [], []
        ece = self.ece()
        for level, classes in self.classes.items():
            cm = self.confusions[level]
            rec = {"level": level, "days": days, **summary_scores(cm)}
            rec["ece"] = ece[level]
            records.append(rec)
            sc = per_class_scores(cm)
            for j, node in enumerate(classes):
                per_class.append(
                    {
                        "level": level,
                        "days": days,
                        "class": self.tax.nodes[node],
                        "precision": float(sc["precision"][j]),
                        "recall": float(sc["recall"][j]),
                        "f1": float(sc["f1"][j]),
                        "support": int(sc["support"][j]),
                    }
                )
        return records, per_class, dict(self.confusions)


def level_records(
    tax: Taxonomy, leaf_true: np.ndarray, marginals: np.ndarray, days: int | str, n_bins: int = 10
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, np.ndarray]]:
    """Scores of every level for one truncation ``days`` (an int or ``"full"``).

    Returns ``(records, per_class, confusions)``: one ``metrics.json`` record per level (with the
    level's ``ece`` added), one per-class row per (level, class) and the confusion table of each level.
    """
    return TruncationScores(tax, n_bins).add(leaf_true, marginals).records(days)


def marginals_from_leaf_proba(tax: Taxonomy, p_leaf: np.ndarray) -> np.ndarray:
    """Marginal probability of every node ``(N, n_nodes)`` from leaf probabilities ``(N, n_leaves)``
    (leaves in :attr:`Taxonomy.leaves` order): a node's marginal is the sum over its leaves."""
    return np.asarray(p_leaf, np.float64) @ tax.path_matrix[tax.leaves].astype(np.float64)
