"""Windowing augmentation realised at batch time: window ends, never copies of light curves.

A shard stores each light curve once (``x[offsets[i]:offsets[i+1]]``). Training sees partial
light curves, as alerts arrive: for a batch of objects ``idx`` we draw a window *length*
``n`` per object and the batch holds ``x[offsets[i] : offsets[i] + n]``, a prefix. Three
schemes (config section ``augment``, key ``mode``):

``prefix``   uniform among the prefixes of at least ``min_length`` observations (the original
             project built every such prefix as its own copy; drawing one per visit is the same
             distribution without the quadratic memory).
``fraction`` a random fraction ``f ~ U(min_fraction, 1]`` of the observations, ``ceil(f * L)``
             (ORACLE).
``days``     the observations up to ``d`` days after the first detection, ``d = 2**U(0, max_log2_days)``
             (ORACLE-2; the default, ``max_log2_days`` 11 ≈ 5.6 years, i.e. the whole light curve).
``none``     the full light curve.

``t`` is ``shard.x[:, 0]`` (days since the first kept observation, non-decreasing within an
object); ``first_det`` the index of the first detection inside each light curve. Every
function here is vectorised over the batch (a binary search of ``log2(max length)`` numpy
steps, no Python loop over objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from elasticc_classification import config

MODES = ("prefix", "fraction", "days", "none")  # the schema's augment.mode values


def _as_index(idx: np.ndarray | int | None, n: int) -> np.ndarray:
    if idx is None:
        return np.arange(n, dtype=np.int64)
    return np.atleast_1d(np.asarray(idx, dtype=np.int64))


def count_leq(t: np.ndarray, starts: np.ndarray, lo: np.ndarray, hi: np.ndarray, thresh: np.ndarray) -> np.ndarray:
    """For each segment, the number ``n`` in ``[lo, hi]`` of leading values with ``t[starts + k] <= thresh``.

    ``t`` must be non-decreasing on ``starts + [0, hi)``; the first ``lo`` values are taken as
    kept without looking. Vectorised binary search: ``ceil(log2(max(hi - lo) + 1))`` numpy steps.
    """
    lo = lo.astype(np.int64).copy()
    hi = hi.astype(np.int64).copy()
    # invariant: answer in [lo, hi]; t[starts + lo - 1] <= thresh (or lo is the given floor)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi + 1) // 2  # candidate count, >= lo + 1
        ok = np.zeros_like(active)
        ok[active] = t[starts[active] + mid[active] - 1] <= thresh[active]
        lo = np.where(active & ok, mid, lo)
        hi = np.where(active & ~ok, mid - 1, hi)


def days_ends(
    t: np.ndarray,
    offsets: np.ndarray,
    first_det: np.ndarray,
    idx: np.ndarray | None,
    days: float | np.ndarray,
) -> np.ndarray:
    """Window lengths (observations, int64) of objects ``idx`` truncated ``days`` days after their
    first detection: the observations with ``t <= t[first_det] + days``.

    ``days`` is a scalar or one value per object of ``idx`` (``inf`` keeps everything). ``d = 0``
    keeps everything up to and including the first detection (earlier observations are kept),
    plus any observation at exactly the same time. Always ``first_det + 1 <= n <= length``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    first_det = np.asarray(first_det, dtype=np.int64)
    idx = _as_index(idx, len(offsets) - 1)
    starts = offsets[idx]
    lengths = offsets[idx + 1] - starts
    fd = first_det[idx]
    if np.any(fd < 0) or np.any(fd >= lengths):
        raise ValueError("first_det outside its light curve")
    days = np.broadcast_to(np.asarray(days, dtype=np.float64), idx.shape)
    thresh = t[starts + fd].astype(np.float64) + days
    return count_leq(t, starts, fd + 1, lengths, thresh)


def sample_ends(
    t: np.ndarray,
    offsets: np.ndarray,
    first_det: np.ndarray,
    idx: np.ndarray | None,
    cfg: Mapping[str, Any] | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Random window lengths (int64, ``1 <= n <= length``) for the objects ``idx`` of a training
    batch, per the ``augment`` config (partial or None: schema defaults; see the module docstring)."""
    cfg = config.resolve("augment", cfg)
    offsets = np.asarray(offsets, dtype=np.int64)
    idx = _as_index(idx, len(offsets) - 1)
    lengths = offsets[idx + 1] - offsets[idx]
    if np.any(lengths < 1):
        raise ValueError("empty light curve in batch")
    mode = cfg["mode"]
    if mode == "none":
        return lengths.copy()
    if mode == "prefix":
        lo = np.minimum(int(cfg["min_length"]), lengths)
        return rng.integers(lo, lengths + 1)
    if mode == "fraction":
        # f in (min_fraction, 1]: 1 - U[0, 1) lies in (0, 1]
        f = float(cfg["min_fraction"]) + (1.0 - float(cfg["min_fraction"])) * (1.0 - rng.random(len(idx)))
        return np.clip(np.ceil(f * lengths).astype(np.int64), 1, lengths)
    # days
    d = np.exp2(rng.uniform(0.0, float(cfg["max_log2_days"]), len(idx)))
    return days_ends(t, offsets, first_det, idx, d)


def pad_windows(
    x: np.ndarray, offsets: np.ndarray, idx: np.ndarray, ends: np.ndarray, max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Padded batch of windows: ``(B, T, F)`` float32 zeros-padded and the lengths ``(B,)``.

    Row ``b`` holds ``x[offsets[idx[b]] : offsets[idx[b]] + ends[b]]``; nothing past a window's
    end is read. ``T = max(ends)``; ``max_len`` (optional memory cap) cuts windows to their
    first ``max_len`` observations.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    idx = np.asarray(idx, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if max_len is not None:
        ends = np.minimum(ends, max_len)
    b = len(idx)
    t_max = int(ends.max()) if b else 0
    out = np.zeros((b, t_max, x.shape[1]), dtype=np.float32)
    if b == 0 or t_max == 0:
        return out, ends
    row = np.repeat(np.arange(b), ends)
    pos = np.arange(int(ends.sum())) - np.repeat(np.cumsum(ends) - ends, ends)
    out[row, pos] = x[np.repeat(offsets[idx], ends) + pos]
    return out, ends
