"""Which observations of each light curve are kept: vectorised masks over the flattened parquet.

Light curves arrive as list columns (one row per object). We flatten them once into
contiguous arrays plus ``offsets`` (object i owns ``[offsets[i], offsets[i+1])``), sort every
light curve by MJD (SNANA writers may order by band first), and decide per observation:

1. *valid*: not saturated (``PHOTFLAG & saturation_bit``, when ``drop_saturated``) and finite
   FLUXCAL and FLUXCALERR;
2. *detection*: valid and ``PHOTFLAG & detection_bit``;
3. ``keep: detection_window`` (default, the original project's documented steps): the last valid
   non-detection before the first detection, then every valid observation from the first
   detection up to and including the last detection. ``history_days`` > 0 also keeps every valid
   observation of the ``history_days`` days before the first detection (the forced photometry an
   ELAsTiCC alert carries, up to 365 days: whether the source varied below the threshold before it
   was detected). ``keep: all``: every valid observation (ORACLE's final code).

Objects without a detection are dropped when ``drop_no_detection`` (default); otherwise all their
valid observations are kept and their "first detection" is their last kept observation (so a
window at ``d`` days keeps all of it). Objects left with no observation are always dropped.
Every count goes into :class:`KeepResult.counts` (the callers log them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KEEP_MODES = ("detection_window", "all")


@dataclass
class LightCurves:
    """Flattened light curves in MJD order: object i owns ``[offsets[i], offsets[i+1])``."""

    offsets: np.ndarray  # (N + 1,) int64
    mjd: np.ndarray  # (n,) float64, days
    photflag: np.ndarray  # (n,) integer
    fluxcal: np.ndarray  # (n,) float32 or float64, FLUXCAL (zero point 27.5)
    fluxcalerr: np.ndarray  # (n,) float32 or float64
    band_code: np.ndarray  # (n,) integer code per observation, mapped through band_lut
    band_lut: np.ndarray  # (n_codes,) int8: code -> index into u g r i z Y

    @property
    def band(self) -> np.ndarray:
        """(n,) int8 band index (u g r i z Y) of every observation."""
        return self.band_lut[self.band_code]

    def band_at(self, index: np.ndarray) -> np.ndarray:
        """Band index of the observations at ``index`` (work O(len(index)))."""
        return self.band_lut[self.band_code[index]]

    @property
    def n_objects(self) -> int:
        return len(self.offsets) - 1

    @property
    def obj(self) -> np.ndarray:
        """Object index of every observation."""
        return np.repeat(np.arange(self.n_objects), np.diff(self.offsets))

    def take(self, order: np.ndarray) -> LightCurves:
        """Observations reordered by ``order`` (a permutation that keeps objects contiguous)."""
        return LightCurves(
            self.offsets,
            self.mjd[order],
            self.photflag[order],
            self.fluxcal[order],
            self.fluxcalerr[order],
            self.band_code[order],
            self.band_lut,
        )


def sort_by_mjd(lc: LightCurves) -> tuple[LightCurves, int]:
    """``lc`` with every light curve in MJD order (stable), and the number of objects that were not."""
    back = np.diff(lc.mjd) < 0
    inner = lc.offsets[1:-1] - 1  # a step across an object boundary does not count
    back[inner[(inner >= 0) & (inner < len(back))]] = False
    if not back.any():
        return lc, 0
    obj = lc.obj
    n_unsorted = len(np.unique(obj[1:][back]))
    order = np.lexsort((lc.mjd, obj))
    return lc.take(order), n_unsorted


@dataclass
class KeepResult:
    """Kept observations: ``mask`` over the flattened observations, per-object results."""

    mask: np.ndarray  # (n,) bool: observation kept
    keep_object: np.ndarray  # (N,) bool: object kept (at least one kept observation and, by default, a detection)
    first_det: (
        np.ndarray
    )  # (N,) int64: index of the first detection among the object's kept observations (-1 if dropped)
    kept_counts: np.ndarray  # (N,) int64: kept observations per object (0 if dropped)
    index: np.ndarray  # (n_kept,) int64: positions of the kept observations, ascending (= flatnonzero(mask))
    detection: np.ndarray  # (n,) bool: valid detection
    counts: dict[str, int] = field(default_factory=dict)


def _segment_bounds(pos: np.ndarray, obj_of_pos: np.ndarray, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """For sorted positions ``pos`` with (non-decreasing) object ``obj_of_pos``: the first and the
    last position per object, -1 where the object has none."""
    objects = np.arange(n_objects)
    lo = np.searchsorted(obj_of_pos, objects, side="left")
    hi = np.searchsorted(obj_of_pos, objects, side="right")  # object k owns pos[lo[k]:hi[k]]
    has = hi > lo
    first = np.full(n_objects, -1, dtype=np.int64)
    last = np.full(n_objects, -1, dtype=np.int64)
    first[has] = pos[lo[has]]
    last[has] = pos[hi[has] - 1]
    return first, last


def ranges_index(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(lo[k], hi[k] + 1)`` over k (int64), in O(output) work."""
    lens = (hi - lo + 1).astype(np.int64)
    before = np.cumsum(lens) - lens
    return np.repeat(lo.astype(np.int64) - before, lens) + np.arange(int(lens.sum()), dtype=np.int64)


def _ranges_mask(n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Boolean mask of length ``n``: True on every ``[lo[k], hi[k]]`` (disjoint, inclusive ranges)."""
    d = np.zeros(n + 1, dtype=np.int8)
    d[lo] += 1  # ranges are disjoint: no index repeats within one of these two statements
    d[hi + 1] -= 1
    return np.cumsum(d[:-1], dtype=np.int8).view(bool)


def _history_start(mjd: np.ndarray, start: np.ndarray, first: np.ndarray, days: float) -> np.ndarray:
    """Per object, the first position in ``[start, first]`` whose MJD is at least ``days`` before
    ``mjd[first]`` (light curves in MJD order). One binary search per object over the positions
    ``start..first``, vectorised through a globally non-decreasing key (object rank + scaled MJD)."""
    if len(first) == 0:
        return first.copy()
    seg_len = first - start + 1
    pos = ranges_index(start, first)  # every position from each object's start to its first detection
    rank = np.repeat(np.arange(len(first), dtype=np.float64), seg_len)
    lo_t, hi_t = mjd[start].min(), mjd[first].max()
    scale = 1.0 / (hi_t - lo_t + days + 1.0)  # each object's times map into [rank, rank + 1)
    key = rank + (mjd[pos] - lo_t) * scale
    target = np.arange(len(first), dtype=np.float64) + (mjd[first] - days - lo_t) * scale
    k = np.searchsorted(key, target, side="left")
    seg_start = np.cumsum(seg_len) - seg_len
    return pos[np.clip(k, seg_start, seg_start + seg_len - 1)]


def keep_mask(
    lc: LightCurves,
    keep: str = "detection_window",
    drop_saturated: bool = True,
    saturation_bit: int = 1024,
    detection_bit: int = 4096,
    drop_no_detection: bool = True,
    history_days: float = 0.0,
) -> KeepResult:
    """Decide which observations and objects are kept (see the module docstring). ``lc`` must be in
    MJD order within each object (:func:`sort_by_mjd`). Vectorised: a few passes over the
    observations, per-object work on arrays of detections only."""
    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}, got {keep!r}")
    if not history_days >= 0:
        raise ValueError(f"history_days must be >= 0, got {history_days!r}")
    n_obj = lc.n_objects
    n = len(lc.mjd)
    starts, ends = lc.offsets[:-1], lc.offsets[1:]
    finite = np.isfinite(lc.fluxcal) & np.isfinite(lc.fluxcalerr)
    valid = finite
    n_saturated = 0
    if drop_saturated:
        saturated = (lc.photflag & saturation_bit) != 0
        n_saturated = int(np.count_nonzero(saturated))
        if n_saturated:
            valid = finite & ~saturated
    all_valid = n_saturated == 0 and bool(finite.all())
    det = valid & ((lc.photflag & detection_bit) != 0)

    det_pos = np.flatnonzero(det)
    det_obj = np.searchsorted(ends, det_pos, side="right")  # object of each detection
    first_det, last_det = _segment_bounds(det_pos, det_obj, n_obj)  # global positions, -1 if none
    has_det = first_det >= 0

    lengths = ends - starts
    if keep == "detection_window" and all_valid and (drop_no_detection or has_det.all()):
        # fast path (no saturated or non-finite observation): the kept observations of an object
        # are one range, [last observation before the first detection, last detection]
        fd = first_det[has_det]
        lo = np.where(fd > starts[has_det], fd - 1, fd)
        if history_days > 0:
            lo = np.minimum(lo, _history_start(lc.mjd, starts[has_det], fd, history_days))
        index = ranges_index(lo, last_det[has_det])
        mask = np.zeros(n, dtype=bool)
        mask[index] = True
        kept_counts = np.zeros(n_obj, dtype=np.int64)
        kept_counts[has_det] = last_det[has_det] - lo + 1
        fd_local = np.full(n_obj, -1, dtype=np.int64)
        fd_local[has_det] = fd - lo
        n_kept = len(index)
        counts = _counts(n_obj, n, n_saturated, 0, has_det, has_det, n_kept, int(lengths[has_det].sum()))
        return KeepResult(
            mask=mask,
            keep_object=has_det.copy(),
            first_det=fd_local,
            kept_counts=kept_counts,
            index=index,
            detection=det,
            counts=counts,
        )

    if keep == "all":
        mask = valid.copy()
    else:
        fd = first_det[has_det]
        lo = fd.copy()
        # the last valid observation before the first detection (a non-detection by definition)
        if all_valid:
            prev = fd - 1
        else:
            valid_pos = np.flatnonzero(valid)
            k = np.searchsorted(valid_pos, fd, side="left") - 1
            prev = np.where(k >= 0, valid_pos[np.maximum(k, 0)], -1)
        has_prev = prev >= starts[has_det]
        lo[has_prev] = prev[has_prev]
        if history_days > 0:  # invalid observations in the history are masked out below
            lo = np.minimum(lo, _history_start(lc.mjd, starts[has_det], fd, history_days))
        mask = _ranges_mask(n, lo, last_det[has_det])
        if not all_valid:
            mask &= valid
        if not drop_no_detection and not has_det.all():
            mask |= valid & np.repeat(~has_det, ends - starts)

    cum = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(mask, out=cum[1:])
    kept_counts = cum[ends] - cum[starts]
    keep_object = kept_counts > 0
    if drop_no_detection:
        keep_object &= has_det
    if not keep_object.all():
        mask &= np.repeat(keep_object, ends - starts)
        kept_counts = np.where(keep_object, kept_counts, 0)

    # index of the first detection within the object's kept observations
    fd_local = np.full(n_obj, -1, dtype=np.int64)
    sel = keep_object & has_det
    fd_local[sel] = cum[first_det[sel]] - cum[starts[sel]]
    nodet_kept = keep_object & ~has_det
    fd_local[nodet_kept] = kept_counts[nodet_kept] - 1

    n_kept = int(kept_counts.sum())
    if all_valid:
        valid_in_kept = int(lengths[keep_object].sum())
    else:
        cv = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(valid, out=cv[1:])
        valid_in_kept = int((cv[ends] - cv[starts])[keep_object].sum())
    counts = _counts(
        n_obj, n, n_saturated, n - int(np.count_nonzero(finite)), has_det, keep_object, n_kept, valid_in_kept
    )
    return KeepResult(
        mask=mask,
        keep_object=keep_object,
        first_det=fd_local,
        kept_counts=kept_counts,
        index=np.flatnonzero(mask),
        detection=det,
        counts=counts,
    )


def _counts(
    n_obj: int,
    n: int,
    n_saturated: int,
    n_nonfinite: int,
    has_det: np.ndarray,
    keep_object: np.ndarray,
    n_kept: int,
    valid_in_kept: int,
) -> dict[str, int]:
    """The preprocessing counts that go to the log and the shard metadata."""
    return {
        "objects_in": int(n_obj),
        "observations_in": int(n),
        "observations_saturated": int(n_saturated),
        "observations_nonfinite": int(n_nonfinite),
        "objects_without_detection": int(n_obj - np.count_nonzero(has_det)),
        "objects_dropped": int(n_obj - np.count_nonzero(keep_object)),
        "objects_kept": int(np.count_nonzero(keep_object)),
        "observations_kept": int(n_kept),
        "observations_dropped": int(n - n_kept),
        "observations_outside_window": int(valid_in_kept - n_kept),
    }
