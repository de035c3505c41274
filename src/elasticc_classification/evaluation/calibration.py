"""Temperature calibration: the T (logits / T) that minimises the negative log-likelihood of the
true leaf on the validation split, pooled over the evaluation's truncations.

``calibrate`` streams the validation split in parts of bounded size through the model, keeps
the labelled rows' raw logits (before temperature scaling) in a temporary file
(:class:`LogitStore`, ``8 * (n_nodes + 1)`` bytes per row on disk) and runs the golden-section
search of :func:`fit_temperature` over that file in bounded batches, so its memory does not grow
with the split. It writes a copy of the model artifact with T in the network's ``temperature``
buffer, and optionally a JSON summary (temperature, NLL and leaf ECE before and after).

torch and ``model.loss`` (which needs torch) load on first use: ``evaluation.evaluate`` imports
this module, and Snakemake imports ``evaluate`` when it parses the rules (``plot_names``), where
torch's seconds of start-up would be paid on every dry run.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elasticc_classification.errors import InputError, atomic_output, write_json_atomic
from elasticc_classification.evaluation import metrics as M
from elasticc_classification.features.shards import iter_split, split_leaves
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.classifier import (
    Classifier,
    batched,
    inference_device,
    load_classifier,
    window_ends,
)

log = logging.getLogger(__name__)

#: Temperature range :func:`fit_temperature` searches by default.
TEMPERATURE_RANGE: tuple[float, float] = (0.05, 20.0)
#: Objects per part of a streamed split, per object of a forward batch (see :func:`stream_objects`).
BATCHES_PER_PART = 16
#: Bytes of logits :class:`LogitStore` reads back at a time.
STORE_BATCH_BYTES = 64 * 2**20


def stream_objects(batch_size: int) -> int:
    """Objects per part when a split is streamed (:func:`~.shards.iter_split`): ``BATCHES_PER_PART``
    forward batches, so that length-sorting within a part still leaves little padding."""
    return max(1, int(batch_size)) * BATCHES_PER_PART


# --- marginals and likelihood of logits ------------------------------------------------------
def marginals_from_logits(logits: np.ndarray, tax: Taxonomy, temperature: float = 1.0) -> np.ndarray:
    """Marginal probability of every node ``(N, n_nodes)`` (float32) from logits scaled by ``1 / temperature``."""
    import torch  # lazily: see the module docstring

    from elasticc_classification.model.loss import log_marginals

    with torch.inference_mode():
        return log_marginals(torch.from_numpy(logits / temperature), tax).exp().numpy()


def _leaf_nll_sum(logits: np.ndarray, leaf: np.ndarray, tax: Taxonomy, temperature: float) -> float:
    """Sum over rows of −log p(true leaf) at ``temperature`` (the float32 batch mean times the rows: exact)."""
    import torch  # lazily: see the module docstring

    from elasticc_classification.model.loss import log_marginals

    with torch.inference_mode():
        lm = log_marginals(torch.from_numpy(logits / temperature), tax)
        mean = float(-lm[torch.arange(len(leaf)), torch.from_numpy(leaf.astype(np.int64))].mean())
    return mean * len(leaf)


def leaf_nll(logits: np.ndarray, leaf: np.ndarray, tax: Taxonomy, temperature: float) -> float:
    """Mean −log p(true leaf) at ``temperature`` (nats per object)."""
    return _leaf_nll_sum(logits, leaf, tax, temperature) / len(leaf)


def golden_section(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-4) -> float:
    """The T in [lo, hi] minimising ``f`` (golden-section search on log T, to ``tol`` in log T)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = math.log(lo), math.log(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(math.exp(d))
    return math.exp((a + b) / 2)


def fit_temperature(
    logits: np.ndarray,
    leaf: np.ndarray,
    tax: Taxonomy,
    lo: float = TEMPERATURE_RANGE[0],
    hi: float = TEMPERATURE_RANGE[1],
    tol: float = 1e-4,
) -> float:
    """Temperature minimising :func:`leaf_nll` of in-memory ``logits`` (rows with ``leaf < 0`` ignored)."""
    ok = np.asarray(leaf) >= 0
    logits, leaf = logits[ok], np.asarray(leaf)[ok]
    if len(leaf) == 0:
        raise InputError("no labelled validation objects to fit the temperature on: check the split fractions")
    return golden_section(lambda t: leaf_nll(logits, leaf, tax, t), lo, hi, tol)


class LogitStore:
    """Rows of (raw logits (n_nodes,) float64, true leaf int64) in a temporary file, appended by
    :meth:`append` and read back ``batch_rows`` at a time: the calibration set on disk, not in memory."""

    def __init__(self, n_nodes: int, batch_rows: int | None = None, dir: str | Path | None = None) -> None:
        self.dtype = np.dtype([("logits", np.float64, (n_nodes,)), ("leaf", np.int64)])
        self.batch_rows = batch_rows or max(1, STORE_BATCH_BYTES // self.dtype.itemsize)
        self._fh = tempfile.TemporaryFile(prefix="elasticc-logits-", dir=dir)
        self.n = 0

    def __enter__(self) -> LogitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def append(self, logits: np.ndarray, leaf: np.ndarray) -> None:
        """Append the rows with a known leaf (``leaf >= 0``)."""
        ok = np.asarray(leaf) >= 0
        rows = np.empty(int(ok.sum()), self.dtype)
        rows["logits"] = logits[ok]
        rows["leaf"] = np.asarray(leaf)[ok]
        self._fh.seek(0, 2)
        self._fh.write(rows.tobytes())
        self.n += len(rows)

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(logits, leaf)`` of up to ``batch_rows`` rows at a time, in the order appended."""
        self._fh.seek(0)
        for start in range(0, self.n, self.batch_rows):
            k = min(self.batch_rows, self.n - start)  # read() of more than is left would allocate it all
            rows = np.frombuffer(self._fh.read(k * self.dtype.itemsize), self.dtype)
            yield rows["logits"], rows["leaf"]

    def leaf_nll(self, tax: Taxonomy, temperature: float) -> float:
        """Mean −log p(true leaf) over every row at ``temperature``."""
        return sum(_leaf_nll_sum(lg, lf, tax, temperature) for lg, lf in self.batches()) / self.n

    def leaf_ece(self, tax: Taxonomy, temperature: float, n_bins: int = 10) -> float:
        """Leaf-level expected calibration error over every row at ``temperature``."""
        scores = M.Reliability(n_bins)
        for lg, lf in self.batches():
            v = M.level_view(tax, "leaf", lf, marginals_from_logits(lg, tax, temperature))
            scores.add(v.proba.max(axis=1) if len(v.proba) else np.zeros(0), v.y_pred == v.y_true)
        return scores.result()["ece"]

    def fit_temperature(
        self, tax: Taxonomy, lo: float = TEMPERATURE_RANGE[0], hi: float = TEMPERATURE_RANGE[1], tol: float = 1e-4
    ) -> float:
        """Temperature minimising :meth:`leaf_nll` (as :func:`fit_temperature`)."""
        if self.n == 0:
            raise InputError("no labelled validation objects to fit the temperature on: check the split fractions")
        return golden_section(lambda t: self.leaf_nll(tax, t), lo, hi, tol)


def store_logits(
    clf: Classifier,
    shard_paths: Sequence[str | Path],
    split: str,
    days: Sequence[int | str],
    store: LogitStore,
    batch_size: int = 1024,
    part_objects: int | None = None,
) -> None:
    """Append the raw logits of every labelled object of ``split`` at every truncation ``days``
    (truncation by truncation, objects in shard order) to ``store``, one bounded part at a time."""
    if clf.logits is None:
        raise InputError(f"calibration needs the model's logits: the {clf.runtime} runtime gives none; use torch")
    for d in days:
        for part in iter_split(shard_paths, split, part_objects or stream_objects(batch_size)):
            ends = window_ends(part, d)
            store.append(batched(clf.logits, part, np.arange(len(part)), ends, batch_size), part.leaf)


# --- the calibrate step ----------------------------------------------------------------------
def calibrate(
    model_path: str | Path,
    shard_paths: Sequence[str | Path],
    out_model: str | Path,
    out_json: str | Path | None = None,
    days: Sequence[int | str] = (*M.DEFAULT_DAYS, "full"),
    batch_size: int = 1024,
    n_bins: int = 10,
    device: str = "auto",
    part_objects: int | None = None,
) -> dict[str, Any]:
    """Fit the temperature on the validation split; write the calibrated artifact ``out_model``
    (and a JSON summary ``out_json``: temperature, NLL and leaf ECE before and after).

    The split is streamed ``part_objects`` objects at a time (default :func:`stream_objects`)."""
    clf = load_classifier(model_path, "torch", inference_device(device))
    tax = clf.taxonomy
    n_val = len(split_leaves(shard_paths, "val"))
    if n_val == 0:
        raise InputError("the shards hold no validation objects: calibration needs the val split")
    with LogitStore(tax.n_nodes) as store:
        store_logits(clf, shard_paths, "val", days, store, batch_size, part_objects)
        lo, hi = TEMPERATURE_RANGE
        temp = store.fit_temperature(tax, lo, hi)
        summary = {
            "temperature": temp,
            "n_val_objects": n_val,
            "days": [str(d) for d in days],
            "nll_before": store.leaf_nll(tax, 1.0),
            "nll_after": store.leaf_nll(tax, temp),
            "leaf_ece_before": store.leaf_ece(tax, 1.0, n_bins),
            "leaf_ece_after": store.leaf_ece(tax, temp, n_bins),
        }
    at_bound = not lo * 1.02 < temp < hi * 0.995
    if n_val < 30 or at_bound:
        log.warning(
            "temperature %.3f from only %d validation objects%s: poorly constrained",
            temp,
            n_val,
            " (at the search bound)" if at_bound else "",
        )
    log.info(
        "temperature %.4f fitted on %d validation objects x %d truncations: NLL %.4f -> %.4f, leaf ECE %.4f -> %.4f",
        temp,
        n_val,
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
    import torch  # lazily: see the module docstring

    ckpt = torch.load(model_path, map_location="cpu", weights_only=False)
    keys = [k for k in ckpt.get("state_dict", {}) if k == "temperature" or k.endswith(".temperature")]
    if not keys:
        raise InputError(f"{model_path}: the model has no temperature buffer; retrain it with this version")
    for k in keys:
        ckpt["state_dict"][k] = torch.full_like(ckpt["state_dict"][k], temperature)
    ckpt["calibration"] = summary
    with atomic_output(out_model, suffix=".ckpt") as tmp:
        torch.save(ckpt, tmp)
