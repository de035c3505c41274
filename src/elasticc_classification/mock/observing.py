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
CONSECUTIVE = 0.25  # fraction of night gaps of one day; the others 1 + Exponential(GAP_MEAN) days
GAP_MEAN, GAP_SCATTER = 4.0, 0.3
SEASON_DAYS = (140.0, 200.0)  # length of the observing season of a field (days per year)


def _draw_index(cum: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cum, v)`` for a short ascending ``cum`` (a few bins): one comparison per
    bin and value instead of a binary search per value (several times faster; the same result)."""
    idx = (v > cum[0]).astype(np.intp)
    for c in cum[1:]:
        idx += v > c
    return idx


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


def overlaps_season(lo: np.ndarray, hi: np.ndarray, ra: np.ndarray, season_len: np.ndarray) -> np.ndarray:
    """Whether [lo, hi] (MJD) meets an observing season of the field at ``ra`` (1-day margins)."""
    lo, hi = lo - 1.0, hi + 1.0
    phase = np.mod(lo - season_start(ra), 365.25)
    return (hi >= lo) & ((phase < season_len) | (phase + (hi - lo) >= 365.25))


def draw_cadence(
    rng: np.random.Generator,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    ra: np.ndarray,
    season_len: np.ndarray | None = None,
) -> Cadence:
    """Observations of each object inside its window [t_lo, t_hi] (MJD), within the survey.

    Wide-fast-deep fields as in the real files: median 3 days between nights in season (a quarter
    of the gaps one day), 1-6 visits per night (mostly pairs) in the same or neighbouring bands
    about 30 minutes apart; deep-drilling fields (``DDF_FRACTION``, 0 by default): a night every
    ~1.5 days with 3 visits. Each field is observable ``SEASON_DAYS`` per year, in phase with its
    RA; 15 % of nights are lost to weather. Candidate nights are drawn per object (ragged, flat);
    visits only for the nights kept.
    """
    n = len(t_lo)
    t_lo = np.maximum(t_lo, SURVEY_START)
    t_hi = np.minimum(t_hi, SURVEY_END)
    ddf = rng.random(n) < DDF_FRACTION
    # extra days between nights beyond the minimum of one; fields differ (real: 10-90 % of the
    # M-dwarf flares' 3-year light curves hold 198-335 observations)
    mean_gap = np.where(ddf, 0.5, GAP_MEAN * rng.lognormal(0.0, GAP_SCATTER, n))
    span = np.maximum(t_hi - t_lo, 0.0)
    # candidate nights, ragged: enough per object to cover its window (flat, object-major)
    k = (np.ceil(span / (1.0 + mean_gap * (1 - CONSECUTIVE)) * 1.3) + 8).astype(np.int64)
    cand_obj = np.repeat(np.arange(n), k)
    gaps = rng.standard_exponential(len(cand_obj)) * mean_gap[cand_obj] * (rng.random(len(cand_obj)) > CONSECUTIVE)
    gaps += 1.0
    cs = np.cumsum(gaps)
    before = np.concatenate([[0.0], cs])[np.cumsum(k) - k]  # cumulative gap before each object's first night
    night = np.floor(cs - before[cand_obj] + (t_lo - 3.0 * rng.random(n))[cand_obj])
    night += rng.uniform(0.0, 0.36, len(cand_obj))
    start = season_start(ra)
    if season_len is None:
        season_len = rng.uniform(*SEASON_DAYS, size=n)
    keep = np.mod(night - start[cand_obj], 365.25) < season_len[cand_obj]
    keep &= rng.random(len(cand_obj)) > 0.15
    keep &= (night >= t_lo[cand_obj] - 0.2) & (night <= t_hi[cand_obj])
    night_obj = cand_obj[keep]
    night = night[keep]
    m_n = len(night)
    u = rng.random(m_n)
    nvis = np.where(ddf[night_obj], 3, 1 + _draw_index(np.cumsum(VISIT_P), u * VISIT_P.sum()))
    first = np.cumsum(nvis) - nvis
    rep = np.repeat(np.arange(m_n), nvis)
    n_vis = len(rep)
    spacing = np.where(
        rng.random(n_vis) < SHORT_SPACING_P, rng.uniform(*SHORT_SPACING, n_vis), rng.uniform(*SPACING, n_vis)
    )
    spacing[first] = 0.0
    offset = np.cumsum(spacing)
    offset -= offset[first][rep]  # time since the night's first visit
    mjd = np.round(night[rep] + offset, 4)
    band0 = _draw_index(np.cumsum(BAND_WEIGHTS), rng.random(m_n) * BAND_WEIGHTS.sum())
    step = BAND_STEPS[_draw_index(np.cumsum(BAND_STEP_P), rng.random(n_vis) * BAND_STEP_P.sum())]
    step[first] = 0
    step = np.cumsum(step)
    band = np.clip(band0[rep] + step - step[first][rep], 0, 5).astype(np.int8)
    obj = night_obj[rep]
    ok = mjd <= t_hi[obj]
    if not ok.all():
        obj, mjd, band = obj[ok], mjd[ok], band[ok]
    nobs = np.bincount(obj, minlength=n)
    m = len(mjd)
    m5 = M5[band] + rng.normal(M5_OFFSET, M5_SCATTER, m)
    zeropt = ZEROPT[band] + rng.normal(0.0, 0.04, m)
    psf = rng.uniform(1.4, 2.6, m)
    return Cadence(obj, mjd, band, nobs, m5, zeropt, psf)


def flux_errors(
    rng: np.random.Generator, cad: Cadence, source_flux: np.ndarray, host_flux: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noise to add to the true flux, FLUXCALERR, SKY_SIG) of each observation (FLUXCAL units).

    ``source_flux`` is the total flux of the source (its Poisson noise counts even where a
    template is subtracted), ``host_flux`` the host light under the PSF. The sky noise is set
    so that a point source at the 5-sigma depth m5 has SNR 5; a 0.5 % calibration floor is added.
    """
    to_adu = 10.0 ** (0.4 * (cad.zeropt - 27.5))  # ADU per FLUXCAL
    f5 = mag_to_flux(cad.m5)
    sky_var = np.maximum(f5**2 / DETECT_SNR**2 - f5 / to_adu, 1e-6)
    var = sky_var + (np.maximum(source_flux, 0.0) + np.maximum(host_flux, 0.0)) / to_adu + (0.005 * source_flux) ** 2
    err = np.sqrt(var)
    noise = rng.standard_normal(len(err)) * err
    sky_sig = np.sqrt(sky_var) * to_adu / (np.sqrt(4 * np.pi) * cad.psf)
    return noise, err, sky_sig


def detection_probability(snr: np.ndarray) -> np.ndarray:
    """Probability that the difference-imaging pipeline detects a point of signal-to-noise ``snr``."""
    p = 1.0 / (1.0 + np.exp(-np.clip((snr - EFF_SNR50) / EFF_WIDTH, -50.0, 50.0)))
    return np.where(snr >= EFF_MIN_SNR, p, 0.0)


def photflags(
    rng: np.random.Generator,
    cad: Cadence,
    true_flux: np.ndarray,
    fluxcalerr: np.ndarray,
    true_mag: np.ndarray,
    fixed_u: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """PHOTFLAG: 4096 where detected (probability ``detection_probability`` of the noise-free SNR
    ``true_flux / fluxcalerr``), 6144 on each object's first detection, |1024 when saturated.
    ``fixed_u``: (observation indices, uniform deviates) of detection draws made beforehand.

    Requires observations object-major and MJD-ascending within each object (as drawn).
    """
    u = rng.random(len(true_flux))
    if fixed_u is not None:
        u[fixed_u[0]] = fixed_u[1]
    det = u < detection_probability(true_flux / np.maximum(fluxcalerr, 1e-12))
    flag = np.where(det, PHOTFLAG_DETECT, 0).astype(np.int32)
    di = np.nonzero(det)[0]
    if len(di):
        first = di[np.concatenate([[True], cad.obj[di][1:] != cad.obj[di][:-1]])]
        flag[first] |= PHOTFLAG_TRIGGER
    flag[true_mag < SATURATION_MAG] |= PHOTFLAG_SATURATED
    return flag
