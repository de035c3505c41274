"""LSST-like observing: cadence (seasons, revisits, alternating bands, deep fields) and noise.

Everything is vectorised over objects: the cadence is drawn as flat ragged arrays of nights
and visits, one row per observation (object-major, MJD ascending within an object).
Times in MJD (days); fluxes in FLUXCAL (zero point 27.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .physics import mag_to_flux

SURVEY_START, SURVEY_END = 60275.0, 61400.0  # MJD range of the simulated survey (about 3 years)
# Median 5-sigma point-source depths (AB mag) and zero points (mag for 1 ADU/s) per band u g r i z Y.
M5 = np.array([23.9, 25.0, 24.7, 24.0, 23.3, 22.1])
ZEROPT = np.array([29.56, 31.50, 31.53, 31.32, 31.01, 30.09])
BAND_WEIGHTS = np.array([0.07, 0.10, 0.22, 0.22, 0.20, 0.19])
SATURATION_MAG = 16.0  # brighter than this: PHOTFLAG 1024
DETECT_SNR = 5.0
PHOTFLAG_DETECT, PHOTFLAG_TRIGGER, PHOTFLAG_SATURATED = 4096, 2048, 1024
DDF_FRACTION = 0.05
VISITS = 3  # at most this many visits per night
SEASON_DAYS = (150.0, 220.0)  # length of the observing season of a field (days per year)


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


def draw_cadence(rng: np.random.Generator, t_lo: np.ndarray, t_hi: np.ndarray, ra: np.ndarray) -> Cadence:
    """Observations of each object inside its window [t_lo, t_hi] (MJD), within the survey.

    Wide-fast-deep fields: a night every ~2 days in season, 1-3 visits per night in neighbouring
    bands about 30 minutes apart; deep-drilling fields (5 % of objects): a night every ~1.5 days
    with 3 visits. Each field is observable ``SEASON_DAYS`` per year, in phase with its RA;
    15 % of nights are lost to weather. Candidate nights are drawn per object (ragged, flat);
    visits only for the nights kept.
    """
    n = len(t_lo)
    t_lo = np.maximum(t_lo, SURVEY_START)
    t_hi = np.minimum(t_hi, SURVEY_END)
    ddf = rng.random(n) < DDF_FRACTION
    mean_gap = np.where(ddf, 0.5, 1.1)  # extra days between nights, beyond the minimum of one
    span = np.maximum(t_hi - t_lo, 0.0)
    # candidate nights, ragged: enough per object to cover its window (flat, object-major)
    k = (np.ceil(span / (1.0 + mean_gap) * 1.25) + 8).astype(np.int64)
    cand_obj = np.repeat(np.arange(n), k)
    gaps = rng.standard_exponential(len(cand_obj)) * mean_gap[cand_obj] + 1.0
    cs = np.cumsum(gaps)
    before = np.concatenate([[0.0], cs])[np.cumsum(k) - k]  # cumulative gap before each object's first night
    night = np.floor(cs - before[cand_obj] + (t_lo - 3.0 * rng.random(n))[cand_obj])
    night += rng.uniform(0.0, 0.36, len(cand_obj))
    season_start = SURVEY_START - 365.25 + ra / 360.0 * 365.25
    season_len = rng.uniform(*SEASON_DAYS, size=n)
    keep = np.mod(night - season_start[cand_obj], 365.25) < season_len[cand_obj]
    keep &= rng.random(len(cand_obj)) > 0.15
    keep &= (night >= t_lo[cand_obj] - 0.2) & (night <= t_hi[cand_obj])
    night_obj = cand_obj[keep]
    night = night[keep]
    m_n = len(night)
    u = rng.random(m_n)
    nvis = np.where(ddf[night_obj], VISITS, 1 + (u < 0.6) + (u < 0.05))
    first = np.cumsum(nvis) - nvis
    rep = np.repeat(np.arange(m_n), nvis)
    j = np.arange(len(rep)) - first[rep]  # visit number within its night
    spacing = rng.uniform(0.015, 0.035, m_n)
    mjd = np.round(night[rep] + j * spacing[rep], 4)
    band0 = np.searchsorted(np.cumsum(BAND_WEIGHTS), rng.random(m_n) * BAND_WEIGHTS.sum())
    band = np.clip(band0[rep] + (j > 0) * rng.integers(-1, 2, len(rep)), 0, 5).astype(np.int8)
    obj = night_obj[rep]
    ok = mjd <= t_hi[obj]
    if not ok.all():
        obj, mjd, band = obj[ok], mjd[ok], band[ok]
    nobs = np.bincount(obj, minlength=n)
    m = len(mjd)
    m5 = M5[band] + rng.normal(-0.1, 0.3, m)
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


def photflags(cad: Cadence, fluxcal: np.ndarray, fluxcalerr: np.ndarray, true_mag: np.ndarray) -> np.ndarray:
    """PHOTFLAG: 4096 where SNR >= 5, 6144 on each object's first detection, |1024 when saturated.

    Requires observations object-major and MJD-ascending within each object (as drawn).
    """
    det = fluxcal >= DETECT_SNR * fluxcalerr
    flag = np.where(det, PHOTFLAG_DETECT, 0).astype(np.int32)
    di = np.nonzero(det)[0]
    if len(di):
        first = di[np.concatenate([[True], cad.obj[di][1:] != cad.obj[di][:-1]])]
        flag[first] |= PHOTFLAG_TRIGGER
    flag[true_mag < SATURATION_MAG] |= PHOTFLAG_SATURATED
    return flag
