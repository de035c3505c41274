"""LSST-like observing: cadence (seasons, revisits, alternating bands, deep fields) and noise.

Everything is vectorised over objects: the cadence is drawn as flat ragged arrays of nights
and visits, one row per observation (object-major, MJD ascending within an object).
Times in MJD (days); fluxes in FLUXCAL (zero point 27.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .physics import mag_to_flux

SURVEY_START, SURVEY_END = 60275.0, 61380.0  # GENRANGE_MJD of the ELAsTiCC2 training simulation (~3 years)
# Median 5-sigma point-source depths (AB mag) per band u g r i z Y, set so that the median FLUXCALERR
# of non-detections matches the real ELAsTiCC2 training files (bench/realism.py; 1 sigma = f5 / 5), and zero points (mag
# for 1 ADU/s).
M5 = np.array([23.77, 24.45, 23.97, 23.43, 22.85, 22.13])
M5_OFFSET, M5_SCATTER = -0.1, 0.34  # each visit's depth: M5 + N(offset, scatter) (real FLUXCALERR spread)
ZEROPT = np.array([29.56, 31.50, 31.53, 31.32, 31.01, 30.09])
# Band of the first visit of a night (u g r i z Y) and the band step to each next visit of the night
# (-3..+2), both from the real files: nights mostly start blue and move redward (u, then g or r).
BAND_WEIGHTS = np.array([0.11, 0.125, 0.22, 0.20, 0.195, 0.15])
BAND_STEPS = np.array([-3, -2, -1, 0, 1, 2])
BAND_STEP_P = np.array([0.01, 0.02, 0.09, 0.37, 0.47, 0.04])
U_REPEAT = 0.4  # share of the walk's u visits after the first of a night that stay u (the others: r)
SATURATION_MAG = 14.0  # brighter than this: PHOTFLAG 1024 (CUTWIN_PEAKMAG_ALL 14: none in the real files)
DETECT_SNR = 5.0  # SNR of the 5-sigma depth
# Detection probability vs SNR (SNANA SEARCHEFF_PIPELINE_EFF): logistic fitted to the real files' PHOTFLAG & 4096
# against FLUXCAL / FLUXCALERR (real SNIb: 5 % at SNR 3-4, 24 % at 4.5-5, 55 % at 6-7, 82 % at 7-10, 100 % above).
EFF_SNR50, EFF_WIDTH, EFF_MIN_SNR = 5.6, 0.5, 3.0
PHOTFLAG_DETECT, PHOTFLAG_TRIGGER, PHOTFLAG_SATURATED = 4096, 2048, 1024
DDF_FRACTION = 0.0  # the training set was simulated on the WFD cadence only (baseline_v2.0_10yrs_WFD.simlib)
# Visits per night (1..6) and their probabilities, from the real files (pairs dominate; two pairs on 18 % of nights).
VISIT_P = np.array([0.12, 0.59, 0.05, 0.18, 0.02, 0.04])
# Time from one visit to the next in the same night (days): real median 0.023, a quarter under 0.011.
SHORT_SPACING_P, SHORT_SPACING, SPACING = 0.22, (0.0005, 0.012), (0.021, 0.026)
WEATHER_LOSS, NIGHT_JITTER = 0.15, 0.36  # fraction of nights lost; a night starts up to 0.36 d into its day
CONSECUTIVE = 0.25  # fraction of night gaps of one day; the others 1 + Exponential(GAP_MEAN) days
GAP_MEAN, GAP_SCATTER = 4.0, 0.3
SEASON_DAYS = (140.0, 200.0)  # length of the observing season of a field (days per year)
YEAR = 365.25


def _lut(p: np.ndarray, k: int) -> np.ndarray:
    """Table of ``k`` indices into ``p`` such that a uniform integer in [0, k) picks index i with
    probability p[i] / sum(p), exactly (every cumulative probability must be a multiple of 1/k)."""
    cum = np.cumsum(p) / p.sum() * k
    if not np.allclose(cum, np.round(cum)):
        raise ValueError(f"probabilities {p} are not multiples of 1/{k}")
    return np.repeat(np.arange(len(p)), np.diff(np.concatenate([[0], np.round(cum)])).astype(np.int64))


_NVIS_LUT = 1 + _lut(VISIT_P, 100)  # visits per night
_BAND0_LUT = _lut(BAND_WEIGHTS, 200)  # band of a night's first visit
_STEP_LUT = BAND_STEPS[_lut(BAND_STEP_P, 100)]  # band step to the next visit


@dataclass
class Cadence:
    """Flattened observations: ``obj`` (index of the object), ``mjd``, ``band`` (0..5 = ugrizY),
    ``nobs`` per object, ``m5`` (5-sigma depth), ``zeropt``, ``psf`` (PSF sigma in pixels)."""

    obj: np.ndarray
    mjd: np.ndarray
    band: np.ndarray
    nobs: np.ndarray
    m5: np.ndarray
    zeropt: np.ndarray
    psf: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """Index of each object's first observation in the flat arrays (n,)."""
        return np.cumsum(self.nobs) - self.nobs


def season_start(ra: np.ndarray) -> np.ndarray:
    """MJD of the start of a field's first observing season (seasons repeat every 365.25 d)."""
    return SURVEY_START - 365.25 + ra / 360.0 * 365.25


def _season_time(t: np.ndarray, start: np.ndarray, season_len: np.ndarray) -> np.ndarray:
    """Days of observing season (of the field starting its seasons at ``start``) elapsed at MJD ``t``:
    the clock of the night process, which stops while the field is out of season."""
    x = t - start
    q = np.floor(x / YEAR)
    return q * season_len + np.minimum(x - q * YEAR, season_len)


def _season_mjd(tau: np.ndarray, start: np.ndarray, season_len: np.ndarray) -> np.ndarray:
    """MJD of season time ``tau`` (the inverse of ``_season_time`` inside the seasons)."""
    q = np.floor(tau / season_len)
    return start + q * YEAR + (tau - q * season_len)


def overlaps_season(lo: np.ndarray, hi: np.ndarray, ra: np.ndarray, season_len: np.ndarray) -> np.ndarray:
    """Whether [lo, hi] (MJD) meets an observing season of the field at ``ra`` (1-day margins)."""
    lo, hi = lo - 1.0, hi + 1.0
    phase = np.mod(lo - season_start(ra), 365.25)
    return (hi >= lo) & ((phase < season_len) | (phase + (hi - lo) >= 365.25))


def _gaps(rng: np.random.Generator, mean_gap: np.ndarray) -> np.ndarray:
    """Days between consecutive candidate nights (i.i.d.): 1, or 1 + Exponential(``mean_gap``)."""
    m = len(mean_gap)
    return rng.standard_exponential(m) * mean_gap * (rng.random(m) > CONSECUTIVE) + 1.0


def _ragged_pos(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(object index, position within the object) of ragged rows with ``k`` rows per object."""
    obj = np.repeat(np.arange(len(k)), k)
    return obj, np.arange(len(obj)) - (np.cumsum(k) - k)[obj]


def _visits(
    rng: np.random.Generator,
    cand_obj: np.ndarray,
    tau: np.ndarray,
    n: int,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    start: np.ndarray,
    season_len: np.ndarray,
    ddf: np.ndarray,
    with_psf: bool = True,
) -> Cadence:
    """Observations from candidate nights at season times ``tau`` (ascending within each object,
    object-major): a night starts up to 0.36 d after the start of its day, is kept in season,
    without weather loss and inside [t_lo, t_hi]; its 1-6 visits, bands and depths are drawn (PSF
    widths if ``with_psf``)."""
    length = season_len[cand_obj]
    q = np.floor(tau / length)
    phase = tau - q * length  # days into the season
    raw = start[cand_obj] + q * YEAR + phase  # MJD (``_season_mjd``)
    # one deviate per night: lost to weather below 0.15, else (rescaled) the start within the day
    u = rng.random(len(cand_obj))
    night = np.floor(raw) + (u - WEATHER_LOSS) * (NIGHT_JITTER / (1.0 - WEATHER_LOSS))
    keep = u >= WEATHER_LOSS
    phase += night - raw  # the night's own phase: it may leave the season by a day at its edges
    keep &= (phase >= 0.0) & (phase < length)
    keep &= (night >= t_lo[cand_obj] - 0.2) & (night <= t_hi[cand_obj])
    night_obj = cand_obj[keep]
    night = night[keep]
    m_n = len(night)
    nvis = _NVIS_LUT[rng.integers(0, len(_NVIS_LUT), m_n)]
    if ddf.any():
        nvis[ddf[night_obj]] = 3
    first = np.cumsum(nvis) - nvis
    n_vis = int(nvis.sum())
    # one deviate per visit: a short spacing below SHORT_SPACING_P, else a normal one (each rescaled)
    v = rng.random(n_vis)
    spacing = np.where(
        v < SHORT_SPACING_P,
        SHORT_SPACING[0] + v * ((SHORT_SPACING[1] - SHORT_SPACING[0]) / SHORT_SPACING_P),
        SPACING[0] + (v - SHORT_SPACING_P) * ((SPACING[1] - SPACING[0]) / (1.0 - SHORT_SPACING_P)),
    )
    spacing[first] = 0.0
    offset = np.cumsum(spacing)
    offset -= np.repeat(offset[first], nvis)  # time since the night's first visit
    offset += np.repeat(night, nvis)
    mjd = np.round(offset, 4)
    band0 = _BAND0_LUT[rng.integers(0, len(_BAND0_LUT), m_n)]
    step = _STEP_LUT[rng.integers(0, len(_STEP_LUT), n_vis)]
    step[first] = 0
    step = np.cumsum(step)
    step -= np.repeat(step[first] - band0, nvis)
    band = np.clip(step, 0, 5).astype(np.int8)
    # the walk repeats u after u (and clips steps below u onto it) far more often than the real
    # cadence, where a u visit is seldom the second of its night: keep U_REPEAT of those, the others r
    again_u = band == 0
    again_u[first] = False
    k = np.flatnonzero(again_u)
    band[k[rng.random(len(k)) >= U_REPEAT]] = 2
    obj = np.repeat(night_obj, nvis)
    late = night > t_hi[night_obj] - 0.2  # only a night this late can have visits past t_hi
    if late.any():
        ok = mjd <= np.repeat(np.where(late, t_hi[night_obj], np.inf), nvis)
        obj, mjd, band = obj[ok], mjd[ok], band[ok]
    nobs = np.bincount(obj, minlength=n)
    m = len(mjd)
    m5 = M5[band] + (M5_OFFSET + M5_SCATTER * rng.standard_normal(m, dtype=np.float32))
    zeropt = ZEROPT[band] + 0.04 * rng.standard_normal(m, dtype=np.float32)
    psf = draw_psf(rng, m) if with_psf else np.empty(0)
    return Cadence(obj, mjd, band, nobs, m5, zeropt, psf)


def draw_psf(rng: np.random.Generator, m: int) -> np.ndarray:
    """PSF sigma (pixels) of ``m`` visits."""
    return rng.uniform(1.4, 2.6, m)


def _night_counts(span: np.ndarray, mean_gap: np.ndarray) -> np.ndarray:
    """Candidate nights to draw per object so that they cover ``span`` days (with a wide margin)."""
    return (np.ceil(np.maximum(span, 0.0) / (1.0 + mean_gap * (1 - CONSECUTIVE)) * 1.3) + 8).astype(np.int64)


def draw_cadence(
    rng: np.random.Generator,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    ra: np.ndarray,
    season_len: np.ndarray | None = None,
    with_psf: bool = True,
) -> Cadence:
    """Observations of each object inside its window [t_lo, t_hi] (MJD), within the survey.

    Wide-fast-deep fields as in the real files: median 3 days between nights in season (a quarter
    of the gaps one day), 1-6 visits per night (mostly pairs) in the same or neighbouring bands
    about 30 minutes apart; deep-drilling fields (``DDF_FRACTION``, 0 by default): a night every
    ~1.5 days with 3 visits. Each field is observable ``SEASON_DAYS`` per year, in phase with its
    RA; 15 % of nights are lost to weather. Candidate nights are drawn per object (ragged, flat) on
    season time (a renewal process whose clock stops out of season); visits only for the nights kept. ``with_psf=False``: no PSF widths (``draw_psf`` them later).
    """
    n = len(t_lo)
    t_lo = np.maximum(t_lo, SURVEY_START)
    t_hi = np.minimum(t_hi, SURVEY_END)
    ddf = rng.random(n) < DDF_FRACTION
    # extra days between nights beyond the minimum of one; fields differ (real: 10-90 % of the
    # M-dwarf flares' 3-year light curves hold 198-335 observations)
    mean_gap = np.where(ddf, 0.5, GAP_MEAN * rng.lognormal(0.0, GAP_SCATTER, n))
    if season_len is None:
        season_len = rng.uniform(*SEASON_DAYS, size=n)
    start = season_start(ra)
    # the night process runs on season time: no candidate nights are drawn while out of season
    tau_lo, tau_hi = _season_time(t_lo, start, season_len), _season_time(t_hi, start, season_len)
    k = _night_counts(tau_hi - tau_lo, mean_gap)  # candidate nights, ragged (flat, object-major)
    cand_obj = np.repeat(np.arange(n), k)
    cs = np.cumsum(_gaps(rng, mean_gap[cand_obj]))
    before = np.concatenate([[0.0], cs])[np.cumsum(k) - k]  # cumulative gap before each object's first night
    tau = cs - before[cand_obj] + (tau_lo - 3.0 * rng.random(n))[cand_obj]
    return _visits(rng, cand_obj, tau, n, t_lo, t_hi, start, season_len, ddf, with_psf)


@dataclass
class NightAnchors:
    """Where a core cadence's night process stopped, per object (to continue it): season time of
    its first and last candidate night, mean extra gap (days) and deep-field membership."""

    first: np.ndarray
    last: np.ndarray
    mean_gap: np.ndarray
    ddf: np.ndarray

    def select(self, keep: np.ndarray) -> NightAnchors:
        return NightAnchors(self.first[keep], self.last[keep], self.mean_gap[keep], self.ddf[keep])


def draw_core_cadence(
    rng: np.random.Generator,
    a: np.ndarray,
    b: np.ndarray,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    ra: np.ndarray,
    season_len: np.ndarray,
) -> tuple[Cadence, NightAnchors]:
    """The part of ``draw_cadence``'s observations that falls in [a, b] (MJD, inside the window
    [t_lo, t_hi]): the same night process, started just before ``a`` and stopped at its first
    candidate night after ``b``. ``extend_cadence`` draws the rest of the window for chosen objects;
    together they are the night process of ``draw_cadence`` (i.i.d. gaps on both sides). No PSF
    widths are drawn (``psf`` is empty): draw them with ``draw_psf`` for the observations kept."""
    n = len(a)
    t_lo = np.maximum(t_lo, SURVEY_START)
    t_hi = np.minimum(t_hi, SURVEY_END)
    a = np.clip(a, t_lo, t_hi)
    b = np.clip(b, a, t_hi)
    ddf = rng.random(n) < DDF_FRACTION
    mean_gap = np.where(ddf, 0.5, GAP_MEAN * rng.lognormal(0.0, GAP_SCATTER, n))
    start = season_start(ra)
    tau_a, tau_b = _season_time(a, start, season_len), _season_time(b, start, season_len)
    k = _night_counts(tau_b - tau_a + 3.0, mean_gap)
    cand_obj, pos = _ragged_pos(k)
    cs = np.cumsum(_gaps(rng, mean_gap[cand_obj]))
    before = np.concatenate([[0.0], cs])[np.cumsum(k) - k]
    tau = cs - before[cand_obj] + (tau_a - 3.0 * rng.random(n))[cand_obj]
    # stop at each object's first candidate past b (the prefix below b, plus one)
    n_below = np.bincount(cand_obj, weights=tau < tau_b[cand_obj], minlength=n).astype(np.int64)
    last = np.minimum(n_below, k - 1)
    used = pos <= last[cand_obj]
    starts = np.cumsum(k) - k
    anchors = NightAnchors(tau[starts], tau[starts + last], mean_gap, ddf)
    o = cand_obj[used]
    cad = _visits(rng, o, tau[used], n, t_lo, t_hi, start, season_len, ddf, with_psf=False)
    return cad, anchors


def extend_cadence(
    rng: np.random.Generator,
    anchors: NightAnchors,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    ra: np.ndarray,
    season_len: np.ndarray,
) -> tuple[Cadence, np.ndarray]:
    """The observations of [t_lo, t_hi] outside a core cadence (``draw_core_cadence``): its night
    process continued backward from the first and forward from the last candidate night, with
    fresh i.i.d. gaps. Returns the cadence (object-major, ascending; no PSF widths) and, per
    observation, whether it comes after the core."""
    n = len(anchors.first)
    t_lo = np.maximum(t_lo, SURVEY_START)
    t_hi = np.minimum(t_hi, SURVEY_END)
    start = season_start(ra)
    back_span = anchors.first - _season_time(t_lo, start, season_len)
    fwd_span = _season_time(t_hi, start, season_len) - anchors.last
    k_b = np.where(back_span > 0.5, _night_counts(back_span, anchors.mean_gap), 0)
    k_f = np.where(fwd_span > 0.5, _night_counts(fwd_span, anchors.mean_gap), 0)
    k = k_b + k_f
    cand_obj, pos = _ragged_pos(k)
    g = _gaps(rng, anchors.mean_gap[cand_obj])
    after = pos >= k_b[cand_obj]
    # forward: last + cumulative gaps; backward: first - cumulative gaps, stored ascending (reversed)
    cs = np.cumsum(g)
    base = np.concatenate([[0.0], cs])
    seg0 = np.where(after, (np.cumsum(k) - k + k_b)[cand_obj], (np.cumsum(k) - k)[cand_obj])
    rel = cs - base[seg0]  # cumulative gap within the backward or forward segment
    rev = np.where(after, 0, (np.cumsum(k) - k)[cand_obj] + k_b[cand_obj] - 1 - pos)  # backward: reversed slot
    tau = np.where(after, anchors.last[cand_obj] + rel, 0.0)
    back = ~after
    tau[rev[back]] = anchors.first[cand_obj[back]] - rel[back]
    cad = _visits(rng, cand_obj, tau, n, t_lo, t_hi, start, season_len, anchors.ddf, with_psf=False)
    night_after = cad.mjd > _season_mjd(anchors.first, start, season_len)[cad.obj]
    return cad, night_after


def merge_order(obj_core: np.ndarray, obj_ext: np.ndarray, ext_after: np.ndarray) -> np.ndarray:
    """Permutation that puts [core observations, extension observations] (concatenated) in file
    order: object-major, the backward extension, the core, then the forward extension."""
    key = np.concatenate([obj_core * 3 + 1, obj_ext * 3 + np.where(ext_after, 2, 0)])
    return np.argsort(key, kind="stable")


def flux_error(cad: Cadence, source_flux: np.ndarray, host_flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FLUXCALERR, sky variance in FLUXCAL^2) of each observation (FLUXCAL units).

    ``source_flux`` is the total flux of the source (its Poisson noise counts even where a
    template is subtracted), ``host_flux`` the host light under the PSF. The sky noise is set
    so that a point source at the 5-sigma depth m5 has SNR 5; a 0.5 % calibration floor is added.
    """
    to_adu = 10.0 ** (0.4 * (cad.zeropt - 27.5))  # ADU per FLUXCAL
    f5 = mag_to_flux(cad.m5)
    sky_var = np.maximum(f5**2 / DETECT_SNR**2 - f5 / to_adu, 1e-6)
    var = sky_var + (np.maximum(source_flux, 0.0) + np.maximum(host_flux, 0.0)) / to_adu + (0.005 * source_flux) ** 2
    return np.sqrt(var), sky_var


def sky_sig(cad: Cadence, sky_var: np.ndarray) -> np.ndarray:
    """SKY_SIG (ADU per pixel) of each observation from its sky variance (FLUXCAL^2) and PSF."""
    return np.sqrt(sky_var) * 10.0 ** (0.4 * (cad.zeropt - 27.5)) / (np.sqrt(4 * np.pi) * cad.psf)


def detection_probability(snr: np.ndarray) -> np.ndarray:
    """Probability that the difference-imaging pipeline detects a point of signal-to-noise ``snr``."""
    p = 1.0 / (1.0 + np.exp(-np.clip((snr - EFF_SNR50) / EFF_WIDTH, -50.0, 50.0)))
    return np.where(snr >= EFF_MIN_SNR, p, 0.0)


def detect(
    rng: np.random.Generator,
    true_flux: np.ndarray,
    fluxcalerr: np.ndarray,
    fixed_u: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Whether each point is detected: probability ``detection_probability`` of the noise-free SNR
    ``true_flux / fluxcalerr``. ``fixed_u``: (observation indices, uniform deviates) drawn beforehand."""
    u = rng.random(len(true_flux))
    if fixed_u is not None:
        u[fixed_u[0]] = fixed_u[1]
    return u < detection_probability(true_flux / np.maximum(fluxcalerr, 1e-12))


def flag_detections(obj: np.ndarray, det: np.ndarray, true_mag: np.ndarray) -> np.ndarray:
    """PHOTFLAG of detections ``det``: 4096, 6144 on each object's first, |1024 where brighter than
    ``SATURATION_MAG``. Requires observations object-major and MJD-ascending within each object."""
    flag = np.where(det, PHOTFLAG_DETECT, 0).astype(np.int32)
    di = np.nonzero(det)[0]
    if len(di):
        first = di[np.concatenate([[True], obj[di][1:] != obj[di][:-1]])]
        flag[first] |= PHOTFLAG_TRIGGER
    flag[true_mag < SATURATION_MAG] |= PHOTFLAG_SATURATED
    return flag
