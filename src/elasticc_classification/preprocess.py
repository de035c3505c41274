"""Which observations of each light curve are kept: vectorised masks over the flattened parquet.

Light curves arrive as list columns (one row per object). We flatten them once into
contiguous arrays plus ``offsets`` (object i owns ``[offsets[i], offsets[i+1])``), sort every
light curve by MJD (SNANA writers may order by band first), and decide per observation:

1. *valid*: not saturated (``PHOTFLAG & saturation_bit``, when ``drop_saturated``) and finite
   FLUXCAL and FLUXCALERR;
2. *detection*: valid and ``PHOTFLAG & detection_bit``;
3. ``keep: detection_window`` (default, the original project's documented steps): the last valid
   non-detection before the first detection, then every valid observation from the first
   detection up to and including the last detection. ``keep: all``: every valid observation
   (ORACLE's final code).

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
    photflag: np.ndarray  # (n,) int64
    fluxcal: np.ndarray  # (n,) float64, FLUXCAL (zero point 27.5)
    fluxcalerr: np.ndarray  # (n,) float64
    band: np.ndarray  # (n,) int8 index into the band list; -1 unknown

    @property
    def n_objects(self) -> int:
        return len(self.offsets) - 1

    @property
    def obj(self) -> np.ndarray:
        """Object index of every observation."""
        return np.repeat(np.arange(self.n_objects), np.diff(self.offsets))

    def take(self, order: np.ndarray) -> "LightCurves":
        """Observations reordered by ``order`` (a permutation that keeps objects contiguous)."""
        return LightCurves(self.offsets, self.mjd[order], self.photflag[order], self.fluxcal[order],
                           self.fluxcalerr[order], self.band[order])


def sort_by_mjd(lc: LightCurves) -> tuple[LightCurves, int]:
    """``lc`` with every light curve in MJD order (stable), and the number of objects that were not."""
    obj = lc.obj
    step = np.diff(lc.mjd)
    same_obj = obj[1:] == obj[:-1]
    bad = same_obj & (step < 0)
    if not bad.any():
        return lc, 0
    n_unsorted = len(np.unique(obj[1:][bad]))
    order = np.lexsort((lc.mjd, obj))
    return lc.take(order), n_unsorted


@dataclass
class KeepResult:
    """Kept observations: ``mask`` over the flattened observations, per-object results."""

    mask: np.ndarray  # (n,) bool: observation kept
    keep_object: np.ndarray  # (N,) bool: object kept (at least one kept observation and, by default, a detection)
    first_det: np.ndarray  # (N,) int64: index of the first detection among the object's kept observations (-1 if dropped)
    detection: np.ndarray  # (n,) bool: valid detection
    counts: dict[str, int] = field(default_factory=dict)


def _segment_first(pos: np.ndarray, obj_of_pos: np.ndarray, n_objects: int) -> np.ndarray:
    """For sorted positions ``pos`` with object ``obj_of_pos``: the first position per object, -1 if none."""
    out = np.full(n_objects, -1, dtype=np.int64)
    k = np.searchsorted(obj_of_pos, np.arange(n_objects), side="left")
    has = k < len(pos)
    has[has] = obj_of_pos[k[has]] == np.arange(n_objects)[has]
    out[has] = pos[k[has]]
    return out


def _segment_last(pos: np.ndarray, obj_of_pos: np.ndarray, n_objects: int) -> np.ndarray:
    """For sorted positions ``pos`` with object ``obj_of_pos``: the last position per object, -1 if none."""
    out = np.full(n_objects, -1, dtype=np.int64)
    k = np.searchsorted(obj_of_pos, np.arange(n_objects), side="right") - 1
    has = k >= 0
    has[has] = obj_of_pos[k[has]] == np.arange(n_objects)[has]
    out[has] = pos[k[has]]
    return out


def keep_mask(
    lc: LightCurves,
    keep: str = "detection_window",
    drop_saturated: bool = True,
    saturation_bit: int = 1024,
    detection_bit: int = 4096,
    drop_no_detection: bool = True,
) -> KeepResult:
    """Decide which observations and objects are kept (see the module docstring). ``lc`` must be in
    MJD order within each object (:func:`sort_by_mjd`)."""
    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}, got {keep!r}")
    n_obj = lc.n_objects
    n = len(lc.mjd)
    obj = lc.obj
    finite = np.isfinite(lc.fluxcal) & np.isfinite(lc.fluxcalerr)
    saturated = (lc.photflag & saturation_bit) != 0 if drop_saturated else np.zeros(n, bool)
    valid = finite & ~saturated
    det = valid & ((lc.photflag & detection_bit) != 0)

    det_pos = np.flatnonzero(det)
    first_det = _segment_first(det_pos, obj[det_pos], n_obj)  # global positions
    last_det = _segment_last(det_pos, obj[det_pos], n_obj)
    has_det = first_det >= 0

    if keep == "all":
        mask = valid.copy()
    else:
        pos = np.arange(n)
        fd_obs = first_det[obj]
        ld_obs = last_det[obj]
        mask = valid & (fd_obs >= 0) & (pos >= fd_obs) & (pos <= ld_obs)
        # the last valid non-detection before the first detection
        nondet_pos = np.flatnonzero(valid & ~det)
        k = np.searchsorted(nondet_pos, first_det[has_det], side="left") - 1
        cand = np.where(k >= 0, nondet_pos[np.maximum(k, 0)], -1)
        same = (k >= 0) & (cand >= lc.offsets[:-1][has_det])
        mask[cand[same]] = True
        if not drop_no_detection:
            mask |= valid & ~has_det[obj]

    n_kept_obs_per_obj = np.bincount(obj[mask], minlength=n_obj)
    keep_object = n_kept_obs_per_obj > 0
    if drop_no_detection:
        keep_object &= has_det
    mask &= keep_object[obj]

    # index of the first detection within the object's kept observations
    kept_before = np.cumsum(mask) - mask  # kept observations before each position (global)
    kept_count = np.bincount(obj[mask], minlength=n_obj)
    start_kept = np.cumsum(kept_count) - kept_count
    fd_local = np.full(n_obj, -1, dtype=np.int64)
    sel = keep_object & has_det
    fd_local[sel] = kept_before[first_det[sel]] - start_kept[sel]
    nodet_kept = keep_object & ~has_det
    fd_local[nodet_kept] = n_kept_obs_per_obj[nodet_kept] - 1

    counts = {
        "objects_in": int(n_obj),
        "observations_in": int(n),
        "observations_saturated": int(saturated.sum()),
        "observations_nonfinite": int((~finite).sum()),
        "objects_without_detection": int((~has_det).sum()),
        "objects_dropped": int((~keep_object).sum()),
        "objects_kept": int(keep_object.sum()),
        "observations_kept": int(mask.sum()),
        "observations_dropped": int(n - mask.sum()),
        "observations_outside_window": int((valid & ~mask & keep_object[obj]).sum()),
    }
    return KeepResult(mask=mask, keep_object=keep_object, first_det=fd_local, detection=det, counts=counts)
