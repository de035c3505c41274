"""Evaluation on the test split by days since the first detection, and the evaluation plots.

``evaluate`` truncates every test light curve at d days after its first detection
(``augment.days_ends``: d = 0 keeps everything up to and including the first detection, earlier
observations included) for d in ``days`` and also scores the full light curves (``"full"``).
It writes to ``out_dir``:

``metrics.json`` / ``metrics.csv``  one record per (level, days): macro precision, recall, F1,
                                  accuracy, n, ``ece`` (of the evaluated model) and
                                  ``ece_uncalibrated`` (same logits with temperature 1)
``per_class.csv``                 precision, recall, F1 and support per (level, days, class)
``predictions.npz``               ``leaf`` (N,), ``days`` (D,) labels, ``marginals`` (D, N, n_nodes)
                                  float32 for the truncations ``plot_days`` and ``"full"``: the
                                  input of :func:`make_plots`

The split is streamed: truncation by truncation, parts of ``part_objects`` objects go through the
model in length-sorted batches, their scores are added to running sums
(:class:`~.metrics.TruncationScores`, bit-identical to scoring all objects at once) and their
marginals are written straight into ``predictions.npz``. Memory is bounded by the part size plus
2 bytes per object (the true leaves), whatever the size of the split. Temperature calibration
lives in :mod:`.calibration`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from elasticc_classification import config
from elasticc_classification.errors import InputError, atomic_output, write_json_atomic
from elasticc_classification.evaluation import metrics as M
from elasticc_classification.evaluation.calibration import marginals_from_logits, stream_objects
from elasticc_classification.features.shards import iter_split, split_leaves
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.classifier import batched, inference_device, load_classifier, window_ends

log = logging.getLogger(__name__)

#: Truncations with confusion matrices (the schema's ``evaluate.confusion_days`` default).
DEFAULT_CONFUSION_DAYS: tuple[int, ...] = tuple(config.section_defaults("evaluate")["confusion_days"])


# --- evaluation ----------------------------------------------------------------------------
def evaluate(
    model_path: str | Path,
    shard_paths: Sequence[str | Path],
    out_dir: str | Path,
    days: Sequence[int] = M.DEFAULT_DAYS,
    split: str = "test",
    batch_size: int = 1024,
    n_bins: int = 10,
    device: str = "auto",
    plot_days: Sequence[int] = DEFAULT_CONFUSION_DAYS,
    part_objects: int | None = None,
) -> list[dict[str, Any]]:
    """Score ``model_path`` on ``split`` at every truncation and on full light curves (see module
    doc); the split is streamed ``part_objects`` objects at a time (default ``calibration.stream_objects``)."""
    clf = load_classifier(model_path, "torch", inference_device(device))
    if clf.logits is None:
        raise InputError(f"evaluation needs the model's logits: the {clf.runtime} runtime gives none; use torch")
    tax, temp = clf.taxonomy, clf.temperature
    leaf = split_leaves(shard_paths, split)
    n = len(leaf)
    if n == 0:
        raise InputError(f"the shards hold no {split} objects: nothing to evaluate (check the split fractions)")
    unlabelled = int((leaf < 0).sum())
    if unlabelled:
        log.info("%d of %d %s objects have no known class and are not scored", unlabelled, n, split)
    part_objects = part_objects or stream_objects(batch_size)
    labels: list[int | str] = [int(d) for d in days] + ["full"]
    kept = [d for d in labels if d == "full" or int(d) in {int(p) for p in plot_days}]
    records: list[dict[str, Any]] = []
    per_class: list[dict[str, Any]] = []
    out_dir = Path(out_dir)
    with (
        atomic_output(out_dir / "predictions.npz", suffix=".npz") as tmp,
        PredictionsWriter(tmp, tax, leaf, kept) as pred,
    ):
        for d in labels:
            scores = M.TruncationScores(tax, n_bins)
            raw = M.TruncationScores(tax, n_bins) if temp != 1.0 else scores  # the same logits at temperature 1
            n_obs = 0
            for part in iter_split(shard_paths, split, part_objects):
                ends = window_ends(part, d)
                logits = batched(clf.logits, part, np.arange(len(part)), ends, batch_size)
                marg = marginals_from_logits(logits, tax, temp)
                scores.add(part.leaf, marg)
                if raw is not scores:
                    raw.add(part.leaf, marginals_from_logits(logits, tax, 1.0))
                if d in kept:
                    pred.write(marg)
                n_obs += int(ends.sum())
            recs, pcs, _ = scores.records(d)
            ece_raw = raw.ece()
            for r in recs:
                r["ece_uncalibrated"] = ece_raw[r["level"]]
                r["temperature"] = temp
                r["mean_n_obs"] = n_obs / n
            records += recs
            per_class += pcs
            log.info(
                "days %s: mean %.1f observations, leaf macro F1 %.3f (n=%d)",
                d,
                n_obs / n,
                recs[-1]["macro_f1"],
                recs[-1]["n"],
            )
    write_metrics(records, out_dir / "metrics.json", out_dir / "metrics.csv")
    _write_csv(per_class, out_dir / "per_class.csv")
    return records


class PredictionsWriter:
    """``predictions.npz`` written as it is computed: ``leaf``, ``days`` and ``taxonomy`` first, then
    the ``marginals`` (D, N, n_nodes) float32 member streamed truncation by truncation, part by part
    (:meth:`write`), in a zip that ``np.load`` reads like ``np.savez``'s."""

    def __init__(self, path: str | Path, tax: Taxonomy, leaf: np.ndarray, labels: Sequence[int | str]) -> None:
        self.shape = (len(labels), len(leaf), tax.n_nodes)
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)
        small = {
            "leaf": np.asarray(leaf, np.int64),
            "days": np.array([str(d) for d in labels]),
            "taxonomy": np.asarray(json.dumps(tax.to_dict())),
        }
        for name, arr in small.items():
            with self._zip.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
        self._member: IO[bytes] = self._zip.open("marginals.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
        np.lib.format.write_array_header_2_0(self._member, {**header, "shape": self.shape})
        self._rows = 0

    def write(self, marginals: np.ndarray) -> None:
        """Append rows (objects in order, truncation after truncation) of the marginals."""
        self._member.write(np.ascontiguousarray(marginals, np.float32).tobytes())
        self._rows += len(marginals)

    def __enter__(self) -> PredictionsWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._member.close()
        self._zip.close()
        if exc_type is None and self._rows != self.shape[0] * self.shape[1]:
            raise RuntimeError(f"predictions: {self._rows} rows written, {self.shape[0] * self.shape[1]} expected")


def write_predictions(
    path: str | Path, tax: Taxonomy, leaf: np.ndarray, labels: Sequence[int | str], marg: np.ndarray
) -> None:
    """``predictions.npz``: true ``leaf`` (N,), ``days`` labels (D,), ``marginals`` (D, N, n_nodes), taxonomy."""
    with atomic_output(path, suffix=".npz") as tmp, PredictionsWriter(tmp, tax, leaf, labels) as w:
        for m in marg:
            w.write(m)


def write_metrics(records: list[dict[str, Any]], json_path: str | Path, csv_path: str | Path) -> None:
    """``metrics.json`` (list of records, NaN as null) and its CSV twin."""
    write_json_atomic(json_path, [{k: _jsonable(v) for k, v in r.items()} for r in records])
    _write_csv(records, csv_path)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_output(path, suffix=".csv") as tmp:
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


# --- plots ---------------------------------------------------------------------------------
def plot_names(tax: Taxonomy, confusion_days: Sequence[int] = DEFAULT_CONFUSION_DAYS) -> list[str]:
    """File names (no directory) of every PNG :func:`make_plots` writes."""
    conf = [f"confusion_{level}_{d}.png" for level in M.level_names(tax) for d in [*map(str, confusion_days), "full"]]
    return ["f1_vs_days.png", "roc_leaf.png", "reliability.png", *conf]


def make_plots(
    eval_dir: str | Path,
    out_dir: str | Path,
    confusion_days: Sequence[int] = DEFAULT_CONFUSION_DAYS,
    n_bins: int = 10,
    loss_csv: str | Path | None = None,
) -> list[Path]:
    """Evaluation figures from ``eval_dir`` (``metrics.json``, ``predictions.npz``) into ``out_dir``;
    with ``loss_csv`` (the trainer's CSVLogger file) also ``loss.png``."""
    from elasticc_classification.evaluation import plots  # matplotlib: loaded only to draw (rules import plot_names)

    eval_dir, out_dir = Path(eval_dir), Path(out_dir)
    try:
        records = json.loads((eval_dir / "metrics.json").read_text())
        pred = np.load(eval_dir / "predictions.npz")
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the evaluation in {eval_dir} ({e}); rerun evaluate") from None
    tax = Taxonomy.from_dict(json.loads(str(pred["taxonomy"])), str(eval_dir / "predictions.npz"))
    labels = [str(d) for d in pred["days"]]
    leaf = pred["leaf"]
    marginals = pred["marginals"]  # NpzFile reads a member from the file at every access: once here

    def views(d: str) -> dict[str, M.LevelView]:
        marg = marginals[labels.index(d)].astype(np.float64)
        return {level: M.level_view(tax, level, leaf, marg) for level in M.level_names(tax)}

    written = []
    plots.plot_f1_vs_days([r for r in records if r["macro_f1"] is not None], out_dir / "f1_vs_days.png")
    full = views("full")
    v = full["leaf"]
    curves = {tax.nodes[c]: M.roc_curve(v.y_true == j, v.proba[:, j]) for j, c in enumerate(v.classes)}
    plots.plot_roc(curves, "one-vs-rest ROC per leaf (test split, full light curves)", out_dir / "roc_leaf.png")
    diagrams = {level: M.level_reliability(lv, n_bins) for level, lv in full.items()}
    plots.plot_reliability(diagrams, "reliability (test split, full light curves)", out_dir / "reliability.png")
    written += [out_dir / "f1_vs_days.png", out_dir / "roc_leaf.png", out_dir / "reliability.png"]
    for d in [*map(str, confusion_days), "full"]:
        if d not in labels:
            raise InputError(f"confusion matrix at {d} days asked for, but the evaluation has only days {labels}")
        for level, lv in (full if d == "full" else views(d)).items():
            cm = M.confusion_matrix(lv.y_true, lv.y_pred, len(lv.classes))
            when = "full light curves" if d == "full" else f"{d} days after the first detection"
            path = out_dir / f"confusion_{level}_{d}.png"
            plots.plot_confusion(cm, [tax.nodes[c] for c in lv.classes], f"{level}, {when} (n={int(cm.sum())})", path)
            written.append(path)
    if loss_csv is not None:
        plots.plot_loss(loss_csv, out_dir / "loss.png")
        written.append(out_dir / "loss.png")
    return written
