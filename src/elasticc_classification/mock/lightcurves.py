"""Light-curve families of the mock sample, evaluated on flattened observations.

``sample(spec, n, rng)`` draws per-object parameters (arrays of length n) including the
observing window; ``evaluate(spec, params, cad, rng)`` returns, per observation, the
difference-image flux (FLUXCAL, template subtracted) and the total source flux, and per
object the true peak time and magnitudes. Every formula works on whole arrays: parameters are
gathered to observations with ``cad.obj``; only the AGN random walk steps over the observation
rank (at most a few hundred steps, each over all objects).
"""

from __future__ import annotations

import functools

import numpy as np

from . import hsiao
from .models import Spec
from .observing import (
    DETECT_SNR,
    M5,
    M5_OFFSET,
    M5_SCATTER,
    SURVEY_END,
    SURVEY_START,
    Cadence,
    detection_probability,
)
from .physics import LAMBDA_EFF, R_BAND, bb_colour, distmod, flux_to_mag, mag_to_flux, redshift_cdf

LN10_25 = np.log(10) / 2.5
# Fitzpatrick 99 A_lambda / E(B-V) against wavelength (the LSST band values), for the SN Ia colour law
_LAM_K, _R_K = LAMBDA_EFF, R_BAND
_R_B, _R_V = float(np.interp(4400.0, LAMBDA_EFF, R_BAND)), float(np.interp(5500.0, LAMBDA_EFF, R_BAND))
PEAKMJD_RANGE = (60225.0, 61455.0)  # GENRANGE_PEAKMJD of the ELAsTiCC2 training simulation
# Transients whose true peak is fainter than this in every band (AB mag) are never simulated: none
# of them could be detected (measured: fewer than 1 in 2,000 detected mock transients peak fainter
# than 24.8 in their brightest band), and the real training set drops undetected objects anyway.
NEVER_DETECTED_MAG = 24.8
# detectable_span: (mag below the limit, factor on the inverted decline law, rest-frame days added)
SPAN_PARAMETRIC, SPAN_TEMPLATE = (0.5, 1.0, 5.0), (1.5, 1.5, 10.0)
_Z_GRID = np.linspace(0.001, 4.0, 4000)
# SN Ia: how much brighter than M_B its brightest band can be at peak: alpha x1_max (0.28) + beta |c_min|
# (0.93) + the colour law at c_min in the blue (0.35) + the template's colours (<= 0) + 0.3 to spare
TEMPLATE_MARGIN = 1.9
_M0 = distmod(_Z_GRID) - 2.5 * np.log10(1 + _Z_GRID)  # peak magnitude of M = 0 at 5000 A rest, no colour


@functools.cache
def _zcdf(law: tuple, z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
    return redshift_cdf(law, z_lo, z_hi)


def _colour_margin(spec: Spec) -> float:
    """How much brighter (mag) than M at 5000 A rest a transient's brightest band can be at its peak."""
    p = spec.p
    z = np.linspace(p["z"][0], p["z"][1], 64)[:, None, None]
    lam = LAMBDA_EFF[None, :, None] / (1 + z)
    temp = np.linspace(p["T"][0], p["T"][1], 5)[None, None, :]
    colour = bb_colour(lam, temp) + p.get("uv", 1.5) * np.clip((4000.0 - lam) / 1000.0, 0.0, None)
    if "template" in p:  # SN Ia: the template's colours, x1 and c (alpha x1 + beta |c| + colour law)
        return TEMPLATE_MARGIN
    return max(0.0, -float(colour.min())) + 0.1 + (0.4 if "secmax" in p else 0.0)  # + Phillips brightening


def draw_redshift(spec: Spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """True redshifts from the model's rate law (dN/dz = R(z) / (1+z) dV/dz) over its published range."""
    zg, cdf = _zcdf(spec.rate, float(spec.p["z"][0]), float(spec.p["z"][1]))
    return np.interp(rng.random(n), cdf, zg)


def draw_luminosity_redshift(spec: Spec, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(M, z) of transients: M ~ N(mean, sigma), z from the rate law over the published range,
    restricted to the pairs that can peak brighter than ``NEVER_DETECTED_MAG`` in some band.

    Exact, not an approximation of that restriction: M is drawn from N(M) F(z_max(M)) (F the
    redshift CDF, z_max where even the bluest colour the model can have leaves the peak fainter
    than the limit), then z from the rate law below z_max(M). The objects drawn are distributed as
    those of the full range that pass the limit; the others would only be simulated to be dropped.
    """
    p = spec.p
    mu, sig = p["M"]
    zg, cdf = _zcdf(spec.rate, float(p["z"][0]), float(p["z"][1]))
    margin = _colour_margin(spec)
    m_grid = mu + sig * np.linspace(-6.0, 6.0, 481)
    f_grid = np.interp(np.interp(NEVER_DETECTED_MAG + margin - m_grid, _M0, _Z_GRID), zg, cdf, left=0.0)
    w = np.exp(-0.5 * ((m_grid - mu) / sig) ** 2) * f_grid
    if w.sum() <= 0:
        raise ValueError(f"mock model {spec.type_name}: no object of this model can be detected")
    cm = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]))])
    M = np.interp(rng.random(n) * cm[-1], cm, m_grid)
    f_max = np.interp(np.interp(NEVER_DETECTED_MAG + margin - M, _M0, _Z_GRID), zg, cdf, left=0.0)
    z = np.interp(rng.random(n) * f_max, cdf, zg)
    return M, z


def _u(rng: np.random.Generator, lohi: tuple[float, float], n: int | tuple[int, ...]) -> np.ndarray:
    return rng.uniform(lohi[0], lohi[1], n)


def _bifurcated(rng: np.random.Generator, p: tuple, n: int) -> np.ndarray:
    """Bifurcated Gaussian (peak, sigma below, sigma above) clipped to [lo, hi] by redrawing."""
    peak, s_lo, s_hi, lo, hi = p
    out = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        g = rng.standard_normal(len(todo))
        up = rng.random(len(todo)) < s_hi / (s_lo + s_hi)  # mass of each side proportional to its sigma
        v = peak + np.where(up, np.abs(g) * s_hi, -np.abs(g) * s_lo)
        ok = (v >= lo) & (v <= hi)
        out[todo[ok]] = v[ok]
        todo = todo[~ok]
    return out


def _logu(rng: np.random.Generator, lohi: tuple[float, float], n: int | tuple[int, ...]) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lohi[0]), np.log(lohi[1]), n))


# --- parameters ------------------------------------------------------------------------------
def sample(spec: Spec, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-object parameters of ``n`` objects of ``spec``, with window ``t_lo``/``t_hi`` (MJD)."""
    p = spec.p
    P: dict[str, np.ndarray] = {}
    if spec.family == "transient":
        P["M"], P["z"] = draw_luminosity_redshift(spec, n, rng)
        P["rise"] = _u(rng, p["rise"], n)
        P["fall"] = np.maximum(_u(rng, p.get("fall", (20.0, 30.0)), n), 1.6 * P["rise"])
        P["T"] = _u(rng, p["T"], n)
        P["cool"] = _u(rng, p["cool"], n)
        if "template" in p:  # SN Ia: SALT2 x1, c; Tripp luminosity; stretch of the template's time axis
            P["x1"] = _bifurcated(rng, p["x1"], n)
            P["c"] = _bifurcated(rng, p["c"], n)
            alpha, beta = p["alpha_beta"]
            P["M"] = P["M"] - alpha * P["x1"] + beta * P["c"]
            x1 = P["x1"]
            P["stretch"] = 0.98 + 0.091 * x1 + 0.003 * x1**2 - 0.00075 * x1**3  # Guy et al. 2007
        elif "secmax" in p:  # SN Ia: second maximum in i/z; brighter, slower SNe have stronger ones
            P["secmax"] = _u(rng, p["secmax"], n)
            stretch = (P["fall"] - np.mean(p["fall"])) / np.ptp(p["fall"])
            P["M"] -= 0.8 * stretch  # Phillips relation: broader is brighter
        if "plateau" in p:
            P["plateau"] = _u(rng, p["plateau"], n)
            P["drop"] = _u(rng, p["drop"], n)
        if "bump" in p:
            P["bump"] = _u(rng, p["bump"], n)
        if "tpl" in p:
            P["tpl"] = _u(rng, p["tpl"], n)
        P["t_ref"] = rng.uniform(*PEAKMJD_RANGE, n)  # true peak (MJD)
        # the published rest-frame epochs around the peak, time-dilated
        P["t_lo"] = P["t_ref"] + spec.trest[0] * (1 + P["z"])
        P["t_hi"] = P["t_ref"] + spec.trest[1] * (1 + P["z"])
        return P
    if spec.family == "agn":
        P["z"] = draw_redshift(spec, n, rng)
        P["mag"] = _u(rng, p["mag"], n)
        P["tau"] = _logu(rng, p["tau"], n)
        P["sf"] = _u(rng, p["sf"], n)
        P["jump"] = _u(rng, p["jump"], n) * rng.choice([-1.0, 1.0], n) * (rng.random(n) < p["jump_frac"])
        P["jump_w"] = rng.uniform(20.0, 100.0, n)
    else:
        P["z"] = np.zeros(n)
        P["mag"] = _u(rng, p["mag"], n)
        P["T_star"] = _u(rng, p["T_star"], n)
    # LCLIB models: the whole survey (GENRANGE_TREST 0..1105 d from the survey start)
    length = np.full(n, SURVEY_END - SURVEY_START)
    P["t_lo"] = np.full(n, SURVEY_START)
    P["t_hi"] = np.full(n, SURVEY_END)
    if spec.family == "agn":
        P["t_jump"] = rng.uniform(P["t_lo"], P["t_hi"])
    elif spec.family == "periodic":
        P["period"] = _logu(rng, p["period"], n)
        P["amp"] = _u(rng, p["amp"], n)
        P["phase0"] = rng.random(n)
        P["phase_tpl"] = rng.random(n)
        if "rise_frac" in p:
            P["rise_frac"] = _u(rng, p["rise_frac"], n)
        if "width" in p:
            P["width"] = _u(rng, p["width"], n)
            P["depth2"] = P["amp"] * rng.uniform(0.05, 0.9, n)
            P["ellip"] = rng.uniform(0.0, 0.08, n)
    elif spec.family == "flare":
        # u-band peak of up to 4 flares: power-law flare frequency N(>F) ~ F^-alpha above a faint limit
        m_lim, alpha = p["flare_mag"]
        P["flare_mag"] = m_lim + 2.5 / alpha * np.log10(rng.random((n, 4)) + 1e-12)
        # two flare populations: hot impulsive flares with a Balmer-continuum u excess, and a share
        # of cool ones whose difference flux is detected in the red bands (i, z, Y) of the real files
        red = rng.random(n) < p["red_frac"]
        P["T_flare"] = np.where(red, _u(rng, p["T_red"], n), _u(rng, p["T_flare"], n))
        P["u_excess"] = np.where(red, 0.0, _u(rng, p["u_excess"], n))
        P["t_rise"] = _logu(rng, p["t_rise"], (n, 4))
        P["t_decay"] = _logu(rng, p["t_decay"], (n, 4))
        # the same power law sets a cool flare's i-band peak (the hot ones' u-band peak)
        red_u = bb_colour(LAMBDA_EFF[0], P["T_flare"]) - bb_colour(LAMBDA_EFF[3], P["T_flare"])
        P["flare_mag"] = P["flare_mag"] + np.where(red, red_u, 0.0)[:, None]
        P["t_flare"] = rng.uniform(P["t_lo"][:, None], P["t_hi"][:, None], (n, 4))
        P["active"] = rng.random((n, 4)) < 0.4
        P["active"][:, 0] = True  # flare 0 is placed on an observation in evaluate()
    elif spec.family == "dwarfnova":
        P["amp"] = _u(rng, p["amp"], n)
        P["T_out"] = _u(rng, p["T_out"], n)
        P["recur"] = _u(rng, p["recur"], n)
        P["dur"] = _u(rng, p["dur"], n)
        P["t0"] = P["t_lo"] + rng.random(n) * P["recur"]
        P["psi"] = rng.uniform(0, 2 * np.pi, (n, 2))
    elif spec.family == "ulens":
        med, sig = p["tE"]
        P["tE"] = np.clip(med * np.exp(rng.normal(0.0, sig, n)), 2.0, 400.0)
        P["u0"] = _u(rng, p["u0"], n)
        P["blend"] = _u(rng, p["blend"], n)
        P["t_ref"] = rng.uniform(P["t_lo"] + 0.15 * length, P["t_hi"] - 0.15 * length)
        if "caustic" in p:
            P["caustic"] = _u(rng, p["caustic"], (n, 2))
            P["dt_c"] = P["tE"][:, None] * rng.uniform(0.03, 0.4, (n, 2)) * np.array([-1.0, 1.0])
            P["w_c"] = rng.uniform(0.2, 1.5, (n, 2))
    return P


# --- evaluation ------------------------------------------------------------------------------
def _transient_logflux(t: np.ndarray, P: dict, o: np.ndarray, lam_rest: np.ndarray) -> np.ndarray:
    """ln of the rest-frame flux relative to peak (at 5000 A) at rest-frame days ``t`` after peak."""
    rise, fall = P["rise"][o], P["fall"][o]
    if "plateau" in P:  # SN II: rise, slowly declining plateau, drop, radioactive tail
        lf = -np.logaddexp(0.0, -t / rise) + np.log(2.0) - np.maximum(t, 0.0) / fall
        lf -= P["drop"][o] * LN10_25 / (1.0 + np.exp(-np.clip((t - P["plateau"][o]) / 4.0, -50, 50)))
        return lf
    if "tpl" in P:  # TDE: rise, then t^-5/3 decline
        tpl = P["tpl"][o]
        pre = -np.logaddexp(0.0, -t / rise) + np.log(2.0)
        return np.where(t < 0, pre, -5.0 / 3.0 * np.log1p(np.maximum(t, 0.0) / tpl))
    # Bazin shape with its maximum at t = 0 and value 1 there.
    t0 = -rise * np.log(fall / rise - 1.0)
    lf = -(t - t0) / fall - np.logaddexp(0.0, -(t - t0) / rise)
    lf -= t0 / fall - np.logaddexp(0.0, t0 / rise)
    if "secmax" in P or "bump" in P:
        f = np.exp(lf)
        if "secmax" in P:  # secondary maximum red-ward of ~6500 A, ~28 rest days after peak
            w = np.clip((lam_rest - 6000.0) / 1500.0, 0.0, 1.0)
            f = f + P["secmax"][o] * w * np.exp(-0.5 * ((t - 28.0) / 7.0) ** 2)
        if "bump" in P:  # SN IIb: early shock-cooling peak ~ 3 weeks before the main one
            f = f + P["bump"][o] * np.exp(-0.5 * ((t + 17.0) / 2.5) ** 2)
        lf = np.log(np.maximum(f, 1e-30))
    return lf


def _template_mag(P: dict, o: np.ndarray, t: np.ndarray, lam_rest: np.ndarray) -> np.ndarray:
    """SN Ia magnitude relative to M_B: the Hsiao template at phase t / stretch (bilinear in phase and
    wavelength, f_nu), exponential beyond its last phase, plus the colour term c k(lambda) with
    k(B) = 0, k(V) = -1 from the Fitzpatrick 99 law (the beta c dimming is in M_B)."""
    phase = t / P["stretch"][o]
    x = np.clip((phase - hsiao.PHASES[0]) / 5.0, 0.0, len(hsiao.PHASES) - 1.0)
    y = np.clip((lam_rest - hsiao.WAVELENGTHS[0]) / 100.0, 0.0, len(hsiao.WAVELENGTHS) - 1.0)
    i0 = np.minimum(x.astype(np.int64), len(hsiao.PHASES) - 2)
    j0 = np.minimum(y.astype(np.int64), len(hsiao.WAVELENGTHS) - 2)
    fx, fy = x - i0, y - j0
    F = hsiao.FNU_BAND  # averaged over a broadband filter
    f = (F[i0, j0] * (1 - fy) + F[i0, j0 + 1] * fy) * (1 - fx) + (
        F[i0 + 1, j0] * (1 - fy) + F[i0 + 1, j0 + 1] * fy
    ) * fx
    late = phase > hsiao.PHASES[-1]  # decline of the last 5 days continued (~0.02-0.03 mag/day)
    if late.any():
        last = F[-1, j0[late]] * (1 - fy[late]) + F[-1, j0[late] + 1] * fy[late]
        prev = F[-2, j0[late]] * (1 - fy[late]) + F[-2, j0[late] + 1] * fy[late]
        rate = np.log(np.maximum(prev, 1e-12) / np.maximum(last, 1e-12)) / 5.0
        f[late] = last * np.exp(-np.maximum(rate, 0.01) * (phase[late] - hsiao.PHASES[-1]))
    k = (np.interp(lam_rest, _LAM_K, _R_K) - _R_B) / (_R_B - _R_V)
    return -2.5 * np.log10(np.maximum(f, 1e-12)) + P["c"][o] * k


def rest_mag(spec: Spec, P: dict, o: np.ndarray, t: np.ndarray, lam_rest: np.ndarray) -> np.ndarray:
    """Absolute AB magnitude of transients ``P[...][o]`` at rest-frame days ``t`` from the peak and
    rest-frame wavelengths ``lam_rest`` (Angstrom): light-curve shape plus colour (no distance, no dust)."""
    if "stretch" in P:
        return P["M"][o] + _template_mag(P, o, t, lam_rest)
    lf = _transient_logflux(t, P, o, lam_rest)
    T_late = spec.p.get("T_late", 5000.0)
    temp = T_late + (P["T"][o] - T_late) * np.exp(-np.maximum(t, 0.0) / P["cool"][o])
    colour = bb_colour(lam_rest, temp) + spec.p.get("uv", 1.5) * np.clip((4000.0 - lam_rest) / 1000.0, 0.0, None)
    return P["M"][o] - lf / LN10_25 + colour


def _transient_mag(spec: Spec, P: dict, o: np.ndarray, mjd: np.ndarray, band: np.ndarray, mwebv: np.ndarray):
    z1 = (1.0 + P["z"])[o]
    t = (mjd - P["t_ref"][o]) / z1
    lam_rest = LAMBDA_EFF[band] / z1
    # per object, then gathered to the observations (the same values, a fraction of the work)
    dm = distmod(np.maximum(P["z"], 1e-4))[o]
    kcorr = (2.5 * np.log10(1 + P["z"]))[o]
    return rest_mag(spec, P, o, t, lam_rest) + dm - kcorr + R_BAND[band] * mwebv[o]


def _star_mag(P: dict, o: np.ndarray, band: np.ndarray, temp_key: str = "T_star") -> np.ndarray:
    """Mean apparent magnitude of a star (r-band mean ``mag``, blackbody colours, no extinction)."""
    return P["mag"][o] + bb_colour(LAMBDA_EFF[band], P[temp_key][o]) - bb_colour(LAMBDA_EFF[2], P[temp_key][o])


def _periodic_dmag(spec: Spec, P: dict, o: np.ndarray, phase: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Magnitude offset from the mean at ``phase`` (0..1); bluer bands vary more (``chroma``)."""
    # amplitude per (object, band), gathered: a fraction of the work of per-observation powers
    amp_b = P["amp"][:, None] * ((LAMBDA_EFF / LAMBDA_EFF[1]) ** (-spec.p["chroma"]))[None, :]
    amp = amp_b[o, band]
    shape = spec.p["shape"]
    if shape == "saw":  # fast rise, slow decline (RR Lyrae, Cepheids)
        r = P["rise_frac"][o]
        b = np.where(phase < r, phase / r, 1.0 - (phase - r) / (1.0 - r))
        return amp * (0.5 - b**1.5)
    if shape == "sin":
        return 0.5 * amp * (np.sin(2 * np.pi * phase) + 0.25 * np.sin(4 * np.pi * phase + 0.7)) / 1.1
    # eclipsing binary: two Gaussian eclipses half a period apart, plus ellipsoidal modulation
    w = P["width"][o]
    d1 = (1.0 - 10 ** (-0.4 * amp_b))[o, band]
    d2 = (1.0 - 10 ** (-0.4 * (P["depth2"] / P["amp"])[:, None] * amp_b))[o, band]
    dp1 = (phase + 0.5) % 1.0 - 0.5
    dp2 = phase % 1.0 - 0.5
    ratio = 1.0 - d1 * np.exp(-0.5 * (dp1 / w) ** 2) - d2 * np.exp(-0.5 * (dp2 / w) ** 2)
    ratio -= P["ellip"][o] * 0.5 * (1 - np.cos(4 * np.pi * phase))
    return -2.5 * np.log10(np.maximum(ratio, 1e-3))


def _drw(rng: np.random.Generator, cad: Cadence, tau: np.ndarray, sf: np.ndarray) -> np.ndarray:
    """Damped random walk (Ornstein-Uhlenbeck, mag) at each observation; steps over the rank."""
    starts = cad.starts
    x = np.empty(len(cad.mjd))
    eps = rng.standard_normal(len(cad.mjd))
    sigma = sf / np.sqrt(2.0)
    has = cad.nobs > 0
    idx = starts[has]
    x[idx] = sigma[has] * eps[idx]
    for j in range(1, int(cad.nobs.max(initial=0))):
        live = cad.nobs > j
        cur = starts[live] + j
        a = np.exp(-(cad.mjd[cur] - cad.mjd[cur - 1]) / tau[live])
        x[cur] = a * x[cur - 1] + sigma[live] * np.sqrt(1 - a * a) * eps[cur]
    return x


def evaluate(spec: Spec, P: dict, cad: Cadence, mwebv: np.ndarray, rng: np.random.Generator) -> dict:
    """Fluxes at every observation and per-object truth.

    Returns ``diff`` (difference-image FLUXCAL), ``total`` (FLUXCAL of all source light, for
    Poisson noise and SIM_MAGOBS), ``sim_peakmjd`` (n,), ``peakmag`` (n, 6) and, for
    Galactic/AGN models, ``templatemag`` (n, 6): the magnitudes in the subtracted template.
    """
    o, mjd, band = cad.obj, cad.mjd, cad.band
    n = len(P["z"])
    ext = R_BAND[band] * mwebv[o]
    allb = np.tile(np.arange(6, dtype=np.int8), n)
    ob = np.repeat(np.arange(n), 6)
    fam = spec.family
    out: dict = {}
    if fam == "transient":
        total = mag_to_flux(_transient_mag(spec, P, o, mjd, band, mwebv))
        out["diff"] = total
        out["sim_peakmjd"] = P["t_ref"]
        out["peakmag"] = transient_peakmag(spec, P, mwebv)
        out["total"] = total
        return out
    if fam == "agn":
        # power law f_nu ~ nu^-0.5 around the r-band mean; variability larger in the blue
        base = P["mag"][o] - 1.25 * np.log10(LAMBDA_EFF[band] / LAMBDA_EFF[2]) + ext
        x = _drw(rng, cad, P["tau"] * (1 + P["z"]), P["sf"])
        scale = (LAMBDA_EFF[band] / (1 + P["z"][o]) / 3000.0) ** -0.5
        step = P["jump"][o] / (1.0 + np.exp(-np.clip((mjd - P["t_jump"][o]) / P["jump_w"][o], -50, 50)))
        mag = base + x * scale - step
        tpl_b = P["mag"][ob] - 1.25 * np.log10(LAMBDA_EFF[allb] / LAMBDA_EFF[2]) + R_BAND[allb] * mwebv[ob]
        tpl_b = tpl_b + rng.normal(0.0, 1.0, n)[ob] * P["sf"][ob] / np.sqrt(2.0) * 0.5
        total = mag_to_flux(mag)
        out["templatemag"] = tpl_b.reshape(n, 6)
        out["diff"] = total - mag_to_flux(out["templatemag"][o, band])
        out["total"] = total
        out["peakmag"] = out["templatemag"] - np.abs(P["jump"])[:, None]
        out["sim_peakmjd"] = P["t_jump"]
        return out
    # quiescent / mean magnitude per (object, band), and gathered to the observations
    quiet_b = (_star_mag(P, ob, allb) + R_BAND[allb] * mwebv[ob]).reshape(n, 6)
    quiet = quiet_b[o, band]
    quiet_flux = mag_to_flux(quiet_b)[o, band]
    if fam == "periodic":
        phase = ((mjd - P["t_lo"][o]) / P["period"][o] + P["phase0"][o]) % 1.0
        mag = quiet + _periodic_dmag(spec, P, o, phase, band)
        tpl = quiet_b + _periodic_dmag(spec, P, ob, P["phase_tpl"][ob], allb).reshape(n, 6)
        total = mag_to_flux(mag)
        diff = total - mag_to_flux(tpl)[o, band]
        # time of the brightest observed point stands for the "peak" of a periodic star
        out["sim_peakmjd"] = _time_of_max(cad, diff, n)
        out.update(diff=diff, total=total, templatemag=tpl, peakmag=tpl)
        return out
    if fam == "flare":
        # flare 0 peaks just before a randomly chosen observation: objects enter the training set
        # because a flare triggered them
        # (an observation in the band drawn by ``flare_trigger``, which gets that trigger's depth)
        pick = cad.starts + np.floor(rng.random(n) * np.maximum(cad.nobs, 1)).astype(np.int64)
        match = band == P["pick_band"][o]
        count = np.bincount(o[match], minlength=n)
        k = np.floor(rng.random(n) * count).astype(np.int64)
        c = np.cumsum(match)
        rank = c - 1 - (c - match)[cad.starts][o]  # rank of a matching observation within its object
        sel = np.nonzero(match & (rank == k[o]))[0]
        pick[o[sel]] = sel
        pick = np.minimum(pick, max(len(mjd) - 1, 0))
        has = cad.nobs > 0
        tf = P["t_flare"].copy()
        if len(mjd):
            cad.m5[pick[has]] = np.where(count[has] > 0, P["pick_m5"][has], cad.m5[pick[has]])
            tf[has, 0] = mjd[pick[has]] - P["pick_delay"][has] * P["t_decay"][has, 0]
        dt = mjd[:, None] - tf[o]
        prof = np.where(
            dt < 0, np.exp(np.clip(dt / P["t_rise"][o], -50.0, 0.0)), np.exp(-np.clip(dt / P["t_decay"][o], 0.0, 50.0))
        )
        amp_u = mag_to_flux(P["flare_mag"][o]) * P["active"][o]
        colour = bb_colour(LAMBDA_EFF[band], P["T_flare"][o]) - bb_colour(LAMBDA_EFF[0], P["T_flare"][o])
        colour = colour + (band > 0) * P["u_excess"][o]  # Balmer continuum: the flare is bluest in u
        diff = (amp_u * prof).sum(axis=1) * 10 ** (-0.4 * (colour + ext))
        out["sim_peakmjd"] = tf[:, 0]
        out["fixed_u"] = (pick[has], P["pick_u"][has])  # the trigger point's detection draw
    elif fam == "dwarfnova":
        s = mjd - P["t0"][o]
        k = np.floor(s / P["recur"][o])
        jitter = 0.2 * P["recur"][o] * np.sin(1.7 * k + P["psi"][o, 0])
        s = s - k * P["recur"][o] - jitter
        dur = P["dur"][o] * (0.7 + 0.3 * np.abs(np.sin(2.3 * k + P["psi"][o, 1])))
        prof = (1.0 / (1.0 + np.exp(-np.clip(s / 0.4, -50, 50)))) / (1.0 + np.exp(-np.clip((dur - s) / 1.2, -50, 50)))
        prof *= np.exp(-np.maximum(s, 0.0) / (2.5 * dur))
        t_out = P["T_out"][:, None]
        # outburst magnitude per (object, band) from the quiescent g band, gathered
        peak_b = (
            quiet_b[:, 1:2]
            - P["amp"][:, None]
            + bb_colour(LAMBDA_EFF[None, :], t_out)
            - bb_colour(LAMBDA_EFF[1], t_out)
        )
        peak_b += (R_BAND[None, :] - R_BAND[1]) * mwebv[:, None]
        diff = mag_to_flux(peak_b)[o, band] * prof
        out["sim_peakmjd"] = _time_of_max(cad, diff, n)
    elif fam == "ulens":
        u = np.sqrt(P["u0"][o] ** 2 + ((mjd - P["t_ref"][o]) / P["tE"][o]) ** 2)
        amp = (u * u + 2) / (u * np.sqrt(u * u + 4))
        if "caustic" in P:  # binary lens: two short caustic-crossing spikes around the peak
            for j in range(2):
                amp = amp + P["caustic"][o, j] * np.exp(
                    -0.5 * ((mjd - P["t_ref"][o] - P["dt_c"][o, j]) / P["w_c"][o, j]) ** 2
                )
        diff = quiet_flux * P["blend"][o] * (amp - 1.0)  # achromatic; blend = source fraction
        out["sim_peakmjd"] = P["t_ref"]
    else:
        raise ValueError(f"unknown light-curve family {fam!r}")
    out.update(diff=diff, total=quiet_flux + np.maximum(diff, 0.0), templatemag=quiet_b, peakmag=quiet_b)
    return out


# Fractions of observations per band (u g r i z Y) in the real files, and the depth law of observing.
PICK_BAND_FRACTIONS = np.array([0.062, 0.092, 0.220, 0.225, 0.197, 0.205])


def flare_trigger(P: dict, rng: np.random.Generator) -> None:
    """Draw the observation that flare 0 is seen at into ``P``: band, 5-sigma depth, delay after
    the flare's peak (in units of its decay time) and the uniform deviate of its detection draw
    (``observing.detect`` reuses it)."""
    n = len(P["T_flare"])
    band = np.searchsorted(np.cumsum(PICK_BAND_FRACTIONS), rng.random(n) * PICK_BAND_FRACTIONS.sum())
    band = np.minimum(band, 5)
    P["pick_band"] = band.astype(np.int8)
    P["pick_m5"] = M5[band] + rng.normal(M5_OFFSET, M5_SCATTER, n)
    P["pick_delay"] = rng.random(n)
    P["pick_u"] = rng.random(n)


def flare_detectable(P: dict, mwebv: np.ndarray) -> np.ndarray:
    """True where flare 0's trigger point passes its detection draw with the sky noise alone (the
    full noise only lowers the SNR, so the others fail it anyway). Those others could only be
    detected through another flare hitting an observation by chance (~1 % of candidates): they
    are not simulated."""
    band = P["pick_band"]
    colour = bb_colour(LAMBDA_EFF[band], P["T_flare"]) - bb_colour(LAMBDA_EFF[0], P["T_flare"])
    colour = colour + (band > 0) * P["u_excess"]
    flux = mag_to_flux(P["flare_mag"][:, 0] + colour + R_BAND[band] * mwebv) * np.exp(-P["pick_delay"])
    return P["pick_u"] < detection_probability(flux / (mag_to_flux(P["pick_m5"]) / DETECT_SNR))


def detectable_span(P: dict, pm_min: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days before, days after) the peak, observer frame, outside which a transient whose peak is
    ``pm_min`` (brightest band) stays fainter than ``NEVER_DETECTED_MAG`` in every band.

    Generous: the flux limit is lowered by 0.5 mag (colour evolution can brighten a red band
    relative to the peak), each shape's own decline law is inverted, plus 5 rest-frame days; a
    second maximum, an early bump or a plateau extend it. The SN Ia template (not a Bazin shape)
    gets 1.5 mag, 1.5 times the inverted law and 10 days. Measured (``bench/mock.py --check-span
    40000``: 40,000 candidates of each of the 22 transient models simulated over their whole window):
    none of the 187,907 detected had all its detections outside this span (1 of 113,688, another seed)."""
    margin, factor, extra = SPAN_TEMPLATE if "stretch" in P else SPAN_PARAMETRIC
    z1 = 1 + P["z"]
    ln_f = np.maximum(np.log(10.0) * 0.4 * (NEVER_DETECTED_MAG + margin - pm_min), 0.1)  # ln(1 / flux fraction)
    rise, fall = P["rise"], P["fall"]
    before = factor * rise * (ln_f + np.log(np.maximum(fall / rise, 1.7)) + 2.0) + extra
    after = factor * fall * (ln_f + 1.0) + extra
    if "plateau" in P:
        after = after + P["plateau"]
    if "tpl" in P:
        after = np.maximum(after, factor * P["tpl"] * (np.exp(0.6 * ln_f) - 1.0) + extra)
    if "bump" in P:
        before = before + 30.0
    if "secmax" in P:
        after = after + 60.0
    return before * z1, after * z1


def transient_flux(spec: Spec, P: dict, cad: Cadence, mwebv: np.ndarray) -> np.ndarray:
    """True flux (FLUXCAL) of transients at each observation of ``cad`` (no host: difference = total)."""
    return mag_to_flux(_transient_mag(spec, P, cad.obj, cad.mjd, cad.band, mwebv))


def transient_peakmag(spec: Spec, P: dict, mwebv: np.ndarray) -> np.ndarray:
    """(n, 6) observed magnitudes of transients at their true peak (u g r i z Y)."""
    n = len(P["z"])
    allb = np.tile(np.arange(6, dtype=np.int8), n)
    ob = np.repeat(np.arange(n), 6)
    return _transient_mag(spec, P, ob, P["t_ref"][ob], allb, mwebv).reshape(n, 6)


def _time_of_max(cad: Cadence, flux: np.ndarray, n: int) -> np.ndarray:
    """MJD of each object's largest ``flux`` (-9 for objects without observations)."""
    out = np.full(n, -9.0)
    has = cad.nobs > 0
    if not has.any():
        return out
    best = np.maximum.reduceat(flux, cad.starts[has])
    at = np.nonzero(flux == np.repeat(best, cad.nobs[has]))[0]  # rows equal to their object's max
    first = np.concatenate([[True], cad.obj[at][1:] != cad.obj[at][:-1]])
    out[cad.obj[at][first]] = cad.mjd[at][first]
    return out


def sim_magobs(total: np.ndarray) -> np.ndarray:
    """SIM_MAGOBS: true magnitude of all source light (99 without flux)."""
    return flux_to_mag(total)
