"""Figures (PNG, matplotlib Agg): evaluation plots and the light-curve gallery.

Every function writes one PNG through :func:`errors.atomic_output` and returns nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401
import numpy as np  # noqa: E402

from elasticc_classification.errors import InputError, atomic_output  # noqa: E402


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


# --- evaluation plots ---------------------------------------------------------------------
def plot_confusion(cm: np.ndarray, class_names: Sequence[str], title: str, path: str | Path) -> None:
    """Row-normalised confusion matrix (rows: true class; empty rows stay blank)."""
    cm = np.asarray(cm, np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.full_like(cm, np.nan), where=rows > 0)
    c = len(class_names)
    size = max(3.5, 0.45 * c + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(c), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(c), [f"{n} ({int(k)})" for n, k in zip(class_names, rows[:, 0])], fontsize=8)
    if c <= 20:
        for i, j in zip(*np.nonzero(np.isfinite(norm) & (norm >= 0.005))):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (objects)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    _save(fig, path)


def plot_f1_vs_days(records: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Macro F1 against days since the first detection, one line per level; "full" as a marker at the right."""
    levels = list(dict.fromkeys(r["level"] for r in records))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    finite_days = sorted({int(r["days"]) for r in records if r["days"] != "full"})
    x_full = (max(finite_days) * 2) if finite_days else 1
    for level in levels:
        rs = sorted((r for r in records if r["level"] == level and r["days"] != "full"), key=lambda r: int(r["days"]))
        line = ax.plot([int(r["days"]) + 0.5 for r in rs], [r["macro_f1"] for r in rs], marker="o", ms=3, label=level)
        full = [r for r in records if r["level"] == level and r["days"] == "full"]
        if full:
            ax.plot([x_full], [full[0]["macro_f1"]], marker="*", ms=9, color=line[0].get_color())
    ax.set_xscale("log")
    ticks = [d + 0.5 for d in finite_days] + [x_full]
    ax.set_xticks(ticks, [str(d) for d in finite_days] + ["full"], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("days since the first detection")
    ax.set_ylabel("macro F1 (test split)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str, path: str | Path) -> None:
    """One-vs-rest ROC curve of every leaf, AUC in the legend (classes without test objects are left out)."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab20")
    for k, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        if np.isfinite(auc):
            ax.plot(fpr, tpr, lw=1.2, color=cmap(k % 20), label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, loc="lower right", ncol=2 if len(curves) > 10 else 1)
    _save(fig, path)


def plot_reliability(diagrams: Mapping[str, Mapping[str, Any]], title: str, path: str | Path) -> None:
    """Reliability diagram (accuracy vs mean confidence per bin) per level, ECE in the legend."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfect calibration")
    for level, d in diagrams.items():
        ok = np.asarray(d["count"]) > 0
        ax.plot(
            np.asarray(d["confidence"])[ok],
            np.asarray(d["accuracy"])[ok],
            marker="o",
            ms=3,
            label=f"{level} (ECE {d['ece']:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    _save(fig, path)


def read_loss_log(metrics_csv: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-epoch losses from a Lightning CSVLogger ``metrics.csv``: ``{column: (epochs, values)}``
    for every column whose name contains ``loss`` (``*_step`` columns are skipped; a ``*_epoch``
    column is named without the suffix)."""
    path = Path(metrics_csv)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise InputError(f"cannot read the training log {path}: {e.strerror}") from None
    if not rows or "epoch" not in rows[0]:
        raise InputError(f"{path}: not a Lightning CSVLogger metrics file (no 'epoch' column)")
    out = {}
    for col in rows[0]:
        if "loss" not in col or col.endswith("_step"):
            continue
        pairs = [
            (float(r["epoch"]), float(r[col]))
            for r in rows
            if r.get(col) not in (None, "") and r.get("epoch") not in (None, "")
        ]
        if not pairs:
            continue
        ep, v = np.array(pairs).T
        epochs = np.unique(ep)
        means = np.array([v[ep == k].mean() for k in epochs])  # few epochs: not a hot path
        out[col.removesuffix("_epoch")] = (epochs, means)
    return out


def plot_loss(metrics_csv: str | Path, path: str | Path) -> None:
    """Training and validation loss per epoch from the trainer's CSV log."""
    curves = read_loss_log(metrics_csv)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (e, v) in sorted(curves.items()):
        ax.plot(e, v, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("loss (weighted hierarchical cross-entropy)")
    if not curves:
        ax.text(0.5, 0.5, "no loss column in the training log", ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


# --- light curves (tensorize stage) -------------------------------------------------------
BAND_COLOURS = {"u": "#6a3d9a", "g": "#1f78b4", "r": "#33a02c", "i": "#ff7f00", "z": "#e31a1c", "Y": "#8c510a"}


def plot_light_curve(
    ax: plt.Axes,
    mjd: np.ndarray,
    flux: np.ndarray,
    err: np.ndarray,
    band: np.ndarray,
    detection: np.ndarray,
    kept: np.ndarray,
    title: str,
) -> None:
    """One light curve on ``ax``: FLUXCAL ± FLUXCALERR against MJD (days), one colour per band
    (``band``: index into u g r i z Y); detections filled, non-detections open; observations the
    preprocessing drops are faint; the kept window (first to last kept MJD) shaded, the first
    detection a dashed line."""
    from elasticc_classification.features.lightcurves import BANDS

    for k, name in enumerate(BANDS):
        for det, face in ((True, BAND_COLOURS[name]), (False, "none")):
            for keep, alpha in ((True, 1.0), (False, 0.25)):
                m = (band == k) & (detection == det) & (kept == keep)
                if not m.any():
                    continue
                ax.errorbar(
                    mjd[m],
                    flux[m],
                    yerr=err[m],
                    fmt="o",
                    ms=3.5,
                    mfc=face,
                    mec=BAND_COLOURS[name],
                    ecolor=BAND_COLOURS[name],
                    elinewidth=0.6,
                    alpha=alpha,
                )
    if kept.any():
        ax.axvspan(mjd[kept].min(), mjd[kept].max(), color="0.85", zorder=0)
    if (detection & kept).any():
        ax.axvline(mjd[detection & kept].min(), color="k", ls="--", lw=0.8)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xlabel("MJD (days)")
    ax.set_ylabel("FLUXCAL (ZP 27.5)")
    ax.set_title(title, fontsize=9)


def lightcurve_gallery(
    parquets: Sequence[str | Path],
    path: str | Path,
    cfg: Mapping[str, Any] | None = None,
    taxonomy: Any = None,
    n_objects: int | None = None,
    title: str | None = None,
) -> int:
    """Gallery PNG of the first ``n_objects`` (default: ``cfg``'s ``gallery_objects``) kept objects found
    in ``parquets`` (read in order, stopping once enough are found), with the tensorize preprocessing
    ``cfg`` marking the kept window. Returns the number of objects drawn (a page saying so when there
    are none)."""
    from elasticc_classification import config
    from elasticc_classification.features.lightcurves import preprocess_table
    from elasticc_classification.io.parquet import read_parquet
    from elasticc_classification.io.snana import PHOT_REQUIRED

    cfg = config.resolve("tensorize", cfg)
    if n_objects is None:
        n_objects = int(cfg["gallery_objects"])
    cols = ["SNID", "MODEL", *PHOT_REQUIRED]
    panels: list[tuple[Any, ...]] = []  # (light curves, keep result, row, SNID, MODEL) of every object drawn
    for p in parquets:
        t = read_parquet(p, cols)
        missing = [c for c in cols if c not in t.column_names]
        if missing:
            raise InputError(f"{p}: missing column(s) {missing} for the light-curve gallery; rerun convert")
        lc, kr, _ = preprocess_table(t, cfg, str(p))
        rows = np.flatnonzero(kr.keep_object)[: n_objects - len(panels)]
        if len(rows):
            snids = t.column("SNID").take(rows).to_pylist()
            models = t.column("MODEL").take(rows).to_pylist()
            panels += [(lc, kr, int(i), snid, model) for i, snid, model in zip(rows, snids, models)]
        if len(panels) >= n_objects:
            break
    found = len(panels)
    ncol = 3 if found > 4 else max(found, 1) if found <= 2 else 2
    nrow = max(1, -(-found // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.2 * nrow), squeeze=False)
    if found == 0:
        axes[0, 0].text(0.5, 0.5, "no object with a kept observation", ha="center", va="center")
        axes[0, 0].set_axis_off()
    else:
        for k, ax in enumerate(axes.ravel()):
            if k >= found:
                ax.set_axis_off()
                continue
            lc, kr, i, snid, model = panels[k]
            s = slice(lc.offsets[i], lc.offsets[i + 1])
            leaf = taxonomy.models.get(model, "?") if taxonomy is not None else ""
            label = f"{model} → {leaf}" if leaf else str(model)
            plot_light_curve(
                ax,
                lc.mjd[s],
                lc.fluxcal[s],
                lc.fluxcalerr[s],
                lc.band[s],
                kr.detection[s],
                kr.mask[s],
                f"SNID {snid}  {label}",
            )
        from matplotlib.artist import Artist
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles: list[Artist] = [Line2D([], [], ls="", marker="o", color=c, label=b) for b, c in BAND_COLOURS.items()]
        handles += [
            Line2D([], [], ls="", marker="o", color="k", label="detection"),
            Line2D([], [], ls="", marker="o", mfc="none", color="k", label="non-detection"),
            Line2D([], [], ls="", marker="o", color="k", alpha=0.25, label="dropped"),
            Patch(color="0.85", label="kept window"),
            Line2D([], [], ls="--", color="k", lw=0.8, label="first detection"),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _save(fig, path)
    return found
