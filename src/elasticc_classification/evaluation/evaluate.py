"""Evaluation on the test split by days since the first detection, temperature calibration, plots.

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

``calibrate`` fits the temperature T (logits / T) that minimises the negative log-likelihood of
the true leaf on the validation split (pooled over the same truncations) and writes a copy of
the model artifact with T stored in the model's ``temperature`` buffer.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elasticc_classification.errors import InputError, atomic_output, write_json_atomic
from elasticc_classification.evaluation import metrics as M
from elasticc_classification.features.shards import SPLITS, Shard, concat_shards, read_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.classifier import batched, window_ends

log = logging.getLogger(__name__)

DEFAULT_CONFUSION_DAYS: tuple[int, ...] = (0, 8, 64)
#: Temperature range :func:`fit_temperature` searches by default.
TEMPERATURE_RANGE: tuple[float, float] = (0.05, 20.0)


# --- data ----------------------------------------------------------------------------------
def load_split(shard_paths: Sequence[str | Path], split: str) -> Shard:
    """All objects of ``split`` (train/val/test) from ``shard_paths`` in one shard."""
    if split not in SPLITS:
        raise InputError(f"split {split!r} is not one of {list(SPLITS)}")
    if not shard_paths:
        raise InputError("no shard files given: run tensorize first")
    parts = []
    for p in shard_paths:  # subset each memory-mapped shard first: only the split is copied
        sh = read_shard(p)
        parts.append(subset(sh, np.flatnonzero(sh.split == SPLITS[split])))
    return concat_shards(parts)


def subset(shard: Shard, keep: np.ndarray) -> Shard:
    """The objects ``keep`` of ``shard`` (copies their observations, vectorised)."""
    lengths = shard.lengths[keep]
    offsets = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    obs = np.repeat(shard.offsets[keep], lengths) + (np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths))
    return Shard(
        snid=shard.snid[keep],
        model=shard.model[keep],
        leaf=shard.leaf[keep],
        split=shard.split[keep],
        t0=shard.t0[keep],
        first_det=shard.first_det[keep],
        static=shard.static[keep],
        x=shard.x[obs],
        offsets=offsets,
        meta=dict(shard.meta),
    )


def truncation_ends(shard: Shard, days: int | str) -> np.ndarray:
    """Window lengths of every object at ``days`` after the first detection (``"full"``: all)."""
    return window_ends(shard, None if days == "full" else days)


# --- model forward passes ------------------------------------------------------------------
def raw_logits(model: Any, shard: Shard, ends: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits ``(N, n_nodes)`` before temperature scaling (the model's output times its temperature)."""
    import torch

    temp = float(model.temperature)

    def forward(x: np.ndarray, lengths: np.ndarray, static: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            dev = model.device
            out = model(
                torch.from_numpy(x).to(dev),
                torch.from_numpy(lengths).to(dev),
                torch.from_numpy(static).to(dev),
                lengths_cpu=torch.from_numpy(lengths),
            )
        return out.double().cpu().numpy() * temp

    return batched(forward, shard, np.arange(len(shard)), ends, batch_size)


def marginals_from_logits(logits: np.ndarray, tax: Taxonomy, temperature: float = 1.0) -> np.ndarray:
    """Marginal probability of every node from logits scaled by ``1 / temperature``."""
    import torch

    from elasticc_classification.model.loss import log_marginals

    with torch.inference_mode():
        return log_marginals(torch.from_numpy(logits / temperature), tax).exp().numpy()


def inference_device(device: str = "auto") -> str:
    """``cuda`` when asked for or (``auto``) when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda asked for, but no GPU is visible: use cpu or auto")
    return device


# --- calibration ---------------------------------------------------------------------------
def leaf_nll(logits: np.ndarray, leaf: np.ndarray, tax: Taxonomy, temperature: float) -> float:
    """Mean −log p(true leaf) at ``temperature`` (nats per object)."""
    import torch

    from elasticc_classification.model.loss import log_marginals

    with torch.inference_mode():
        lm = log_marginals(torch.from_numpy(logits / temperature), tax)
        return float(-lm[torch.arange(len(leaf)), torch.from_numpy(leaf.astype(np.int64))].mean())


def fit_temperature(
    logits: np.ndarray,
    leaf: np.ndarray,
    tax: Taxonomy,
    lo: float = TEMPERATURE_RANGE[0],
    hi: float = TEMPERATURE_RANGE[1],
    tol: float = 1e-4,
) -> float:
    """Temperature minimising :func:`leaf_nll` (golden-section search on log T in [lo, hi])."""
    ok = np.asarray(leaf) >= 0
    logits, leaf = logits[ok], np.asarray(leaf)[ok]
    if len(leaf) == 0:
        raise InputError("no labelled validation objects to fit the temperature on: check the split fractions")
    g = (math.sqrt(5) - 1) / 2
    a, b = math.log(lo), math.log(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = leaf_nll(logits, leaf, tax, math.exp(c)), leaf_nll(logits, leaf, tax, math.exp(d))
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = leaf_nll(logits, leaf, tax, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = leaf_nll(logits, leaf, tax, math.exp(d))
    return math.exp((a + b) / 2)


def calibrate(
    model_path: str | Path,
    shard_paths: Sequence[str | Path],
    out_model: str | Path,
    out_json: str | Path | None = None,
    days: Sequence[int | str] = (*M.DEFAULT_DAYS, "full"),
    batch_size: int = 1024,
    n_bins: int = 10,
    device: str = "auto",
) -> dict[str, Any]:
    """Fit the temperature on the validation split; write the calibrated artifact ``out_model``
    (and a JSON summary ``out_json``: temperature, NLL and leaf ECE before and after)."""
    from elasticc_classification.model.module import load_model

    model = load_model(model_path, map_location=inference_device(device))
    tax = model.taxonomy
    val = load_split(shard_paths, "val")
    if len(val) == 0:
        raise InputError("the shards hold no validation objects: calibration needs the val split")
    logits = np.concatenate([raw_logits(model, val, truncation_ends(val, d), batch_size) for d in days])
    leaf = np.tile(val.leaf.astype(np.int64), len(days))
    labelled = leaf >= 0  # only objects of a known class are scored
    logits, leaf = logits[labelled], leaf[labelled]
    lo, hi = TEMPERATURE_RANGE
    temp = fit_temperature(logits, leaf, tax, lo, hi)
    at_bound = not lo * 1.02 < temp < hi * 0.995
    if len(val) < 30 or at_bound:
        log.warning(
            "temperature %.3f from only %d validation objects%s: poorly constrained",
            temp,
            len(val),
            " (at the search bound)" if at_bound else "",
        )

    def leaf_ece(t: float) -> float:
        return M.level_reliability(M.level_view(tax, "leaf", leaf, marginals_from_logits(logits, tax, t)), n_bins)[
            "ece"
        ]

    summary = {
        "temperature": temp,
        "n_val_objects": len(val),
        "days": [str(d) for d in days],
        "nll_before": leaf_nll(logits, leaf, tax, 1.0),
        "nll_after": leaf_nll(logits, leaf, tax, temp),
        "leaf_ece_before": leaf_ece(1.0),
        "leaf_ece_after": leaf_ece(temp),
    }
    log.info(
        "temperature %.4f fitted on %d validation objects x %d truncations: NLL %.4f -> %.4f, leaf ECE %.4f -> %.4f",
        temp,
        len(val),
        len(days),
        summary["nll_before"],
        summary["nll_after"],
        summary["leaf_ece_before"],
        summary["leaf_ece_after"],
    )
    save_temperature(model_path, out_model, temp, summary)
    if out_json is not None:
        write_json_atomic(out_json, summary)
    return summary


def save_temperature(
    model_path: str | Path, out_model: str | Path, temperature: float, summary: dict[str, Any]
) -> None:
    """Copy checkpoint ``model_path`` to ``out_model`` with its ``temperature`` buffer set."""
    import torch

    ckpt = torch.load(model_path, map_location="cpu", weights_only=False)
    keys = [k for k in ckpt.get("state_dict", {}) if k == "temperature" or k.endswith(".temperature")]
    if not keys:
        raise InputError(f"{model_path}: the model has no temperature buffer; retrain it with this version")
    for k in keys:
        ckpt["state_dict"][k] = torch.full_like(ckpt["state_dict"][k], temperature)
    ckpt["calibration"] = summary
    with atomic_output(out_model, suffix=".ckpt") as tmp:
        torch.save(ckpt, tmp)


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
) -> list[dict[str, Any]]:
    """Score ``model_path`` on ``split`` at every truncation and on full light curves (see module doc)."""
    from elasticc_classification.model.module import load_model

    model = load_model(model_path, map_location=inference_device(device))
    tax = model.taxonomy
    temp = float(model.temperature)
    data = load_split(shard_paths, split)
    if len(data) == 0:
        raise InputError(f"the shards hold no {split} objects: nothing to evaluate (check the split fractions)")
    unlabelled = int((data.leaf < 0).sum())
    if unlabelled:
        log.info("%d of %d %s objects have no known class and are not scored", unlabelled, len(data), split)
    labels: list[int | str] = [int(d) for d in days] + ["full"]
    records: list[dict[str, Any]] = []
    per_class: list[dict[str, Any]] = []
    kept = [d for d in labels if d == "full" or int(d) in {int(p) for p in plot_days}]
    marg_kept = np.empty((len(kept), len(data), tax.n_nodes), np.float32)
    leaf = data.leaf.astype(np.int64)
    for d in labels:
        ends = truncation_ends(data, d)
        logits = raw_logits(model, data, ends, batch_size)
        marg = marginals_from_logits(logits, tax, temp)
        recs, pcs, _ = M.level_records(tax, leaf, marg, d, n_bins)
        if temp != 1.0:  # the ECE alone of the same logits at temperature 1
            raw = marginals_from_logits(logits, tax, 1.0)
            ece_raw = [M.level_reliability(M.level_view(tax, r["level"], leaf, raw), n_bins)["ece"] for r in recs]
        else:
            ece_raw = [r["ece"] for r in recs]
        for r, e0 in zip(recs, ece_raw):
            r["ece_uncalibrated"] = e0
            r["temperature"] = temp
            r["mean_n_obs"] = float(ends.mean())
        records += recs
        per_class += pcs
        if d in kept:
            marg_kept[kept.index(d)] = marg
        log.info(
            "days %s: mean %.1f observations, leaf macro F1 %.3f (n=%d)",
            d,
            ends.mean(),
            recs[-1]["macro_f1"],
            recs[-1]["n"],
        )
    out_dir = Path(out_dir)
    write_metrics(records, out_dir / "metrics.json", out_dir / "metrics.csv")
    _write_csv(per_class, out_dir / "per_class.csv")
    write_predictions(out_dir / "predictions.npz", tax, leaf, kept, marg_kept)
    return records


def write_predictions(
    path: str | Path, tax: Taxonomy, leaf: np.ndarray, labels: Sequence[int | str], marg: np.ndarray
) -> None:
    """``predictions.npz``: true ``leaf`` (N,), ``days`` labels (D,), ``marginals`` (D, N, n_nodes), taxonomy."""
    with atomic_output(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                leaf=np.asarray(leaf, np.int64),
                days=np.array([str(d) for d in labels]),
                marginals=np.asarray(marg, np.float32),
                taxonomy=json.dumps(tax.to_dict()),
            )


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
    from elasticc_classification.evaluation import plots

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
