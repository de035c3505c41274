"""Host galaxies and redshifts of extragalactic mock objects (HEAD columns, vectorised).

Luminosities, colours, magnitude errors, sizes, shapes and spec-z presence are fitted to the 140
real SNIb hosts of ``../shared/realdata`` (the realism report, docs/mock.md); every extragalactic
model shares them (the facts do not say how ELAsTiCC2's host library differs by class). A host has
an absolute r magnitude ~ N(-20.1, 1.4); apparent magnitudes follow the distance modulus with
colours that redden with redshift, a colour type (blue star-forming .. red) and the measurement
noise of the magnitude errors; photo-z scatter grows with (1+z) and host faintness, with 8 %
catastrophic outliers. Supernovae sit in an exponential disk (Freeman 1970; core-collapse SNe
follow it, Hakobyan et al. 2009, A&A 508, 1259) whose size grows as L^0.25 (Shen et al. 2003,
MNRAS 343, 978), seen at the host's ellipticity. Objects without a matched host get the sentinels
of the real files and REDSHIFT_* = -9.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .physics import distmod, mag_to_flux
from .schema import BANDS

# Observed host colours relative to r at z = 0 and their change per unit redshift (u g r i z Y).
_COL0 = np.array([1.9, 0.6, 0.0, -0.35, -0.6, -0.8])
_COLZ = np.array([1.5, 1.2, 0.0, -0.8, -1.2, -1.4])
# Fitted to the real SNIb hosts (0.1 < z < 0.4), relative to the law above: median colour offsets; the
# loading of one colour type t ~ N(0, 1) (the first principal component of the colours once the
# measurement noise is taken out; u regressed on it); the intrinsic scatter left per band (u: mostly
# star formation). Real: u-r 1.5-3.1 and g-r 0.64-1.41 (10-90 %), the law alone gave 2.1-2.5, 0.7-1.1.
_COL_OFF = np.array([-0.07, 0.08, 0.0, 0.08, 0.14, 0.20])
_COL_TYPE = np.array([0.43, 0.24, 0.0, -0.16, -0.25, -0.29])
_COL_SCATTER = np.array([0.4, 0.15, 0.05, 0.02, 0.02, 0.02])
# HOSTGAL_MAGERR = 0.0155 + 0.1 * 10**(0.4 (mag - _MAG10)), the real files' errors per band (u: 0.05
# at 22.5, 0.27 at 24.5); the reported magnitudes scatter by it
_MAG10 = np.array([23.5, 25.4, 25.5, 25.0, 24.2, 23.3])
# Spec-z presence against host r magnitude (real SNIb hosts: 0.29-0.43 below r = 22, 0.20 at 22-23,
# 0.07 at 23-24, none fainter)
_SPECZ_MAG = np.array([22.0, 22.5, 23.5, 24.5])
_SPECZ_P = np.array([0.40, 0.20, 0.07, 0.0])
_QUANTILES = np.array([NormalDist().inv_cdf(min(max(q / 100.0, 0.001), 0.999)) for q in range(0, 101, 10)])


def host_columns(
    rng: np.random.Generator, z: np.ndarray, ra: np.ndarray, dec: np.ndarray, host_frac: float, nuclear: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """HEAD columns for hosts/redshifts of objects at true redshift ``z``.

    Returns (columns, host flux under the PSF per band (n, 6) in FLUXCAL; 0 without a host).
    Columns not returned keep the schema's sentinel for objects without a host.
    """
    n = len(z)
    mu = distmod(np.maximum(z, 1e-4))
    M_r = rng.normal(-20.1, 1.4, n)
    mag = (M_r + mu + 2.5 * np.log10(1 + z) + 1.2 * z)[:, None] + _COL0 + _COLZ * np.minimum(z, 1.5)[:, None]
    mag += _COL_OFF + rng.standard_normal(n)[:, None] * _COL_TYPE + rng.standard_normal((n, 6)) * _COL_SCATTER
    magerr = 0.0155 + 0.1 * 10 ** (0.4 * (mag - _MAG10))
    mag += rng.standard_normal((n, 6)) * np.minimum(magerr, 1.0)
    h = (rng.random(n) < host_frac) & ((mag[:, 2] < 27.0) | nuclear)  # has a host; AGN hosts are always found
    c: dict[str, np.ndarray] = {}
    # photo-z: Gaussian scatter, wider for faint hosts; catastrophic outliers
    # real SNIb files: |photo-z - z| / (1 + z) quantiles 25/50/75/90 % = 0.025/0.071/0.148/0.30
    sig = (0.05 + 0.06 * rng.random(n)) * (1 + z) * (1 + 0.3 * np.clip(mag[:, 2] - 22.0, 0, None))
    zp = z + rng.normal(0.0, 1.0, n) * sig
    outl = rng.random(n) < 0.08
    zp = np.where(outl, rng.uniform(0.02, 3.0, n), zp)
    zp = np.maximum(np.abs(zp), 0.01)
    # as in the real files, the reported error is about the photo-z itself (ratio 0.91-1.09 for 80 %)
    # and the quantiles Q010..Q090 are ~0.35 of it wide
    sig_rep = zp * rng.normal(1.0, 0.07, n)
    specz = h & (rng.random(n) < np.interp(mag[:, 2], _SPECZ_MAG, _SPECZ_P))
    zs = z + rng.normal(0.0, 0.0003, n)
    # half-light radius (arcsec), R ~ L^0.25 (9.5 / (mu - 30)^1.2 at M_r = -19.6); real SNIb files: HOSTGAL_SNSEP 10/25/50/75/90 % 0.07/0.20/0.52/0.88/1.91"
    r_e = np.clip(
        9.5 / np.maximum(mu - 30.0, 1.0) ** 1.2 * rng.lognormal(0.0, 0.65, n) * 10 ** (-0.1 * (M_r + 19.6)), 0.2, 15.0
    )
    ell = 0.72 * rng.random(n) ** 1.4  # real SNIb hosts: ellipticity 10/50/90 % 0.05/0.28/0.65
    if nuclear:
        sep = np.abs(rng.normal(0.0, 0.05, n))
    else:  # exponential disk (scale length r_e / 1.678), inclined: the minor axis shrinks by 1 - ellipticity
        r_disk = r_e / 1.678 * rng.gamma(2.0, 1.0, n)
        theta = rng.uniform(0.0, 2.0 * np.pi, n)
        sep = np.hypot(r_disk * np.cos(theta), r_disk * np.sin(theta) * (1.0 - ell))
    ang = rng.uniform(0.0, 2.0 * np.pi, n)
    c["HOSTGAL_NMATCH"] = np.where(h, 1, 0)  # one candidate host: the HOSTGAL2_* block stays at its sentinels
    c["HOSTGAL_NMATCH2"] = c["HOSTGAL_NMATCH"]
    c["HOSTGAL_OBJID"] = np.where(h, rng.integers(1_000_000_000, 12_000_000_000, n), 0)
    c["HOSTGAL_PHOTOZ"] = np.where(h, zp, -9.0)
    c["HOSTGAL_PHOTOZ_ERR"] = np.where(h, sig_rep, -9.0)
    c["HOSTGAL_SPECZ"] = np.where(specz, zs, -9.0)
    c["HOSTGAL_SPECZ_ERR"] = np.where(specz, 0.0005, -9.0)
    c["HOSTGAL_RA"] = np.where(h, ra + sep / 3600.0 * np.cos(ang) / np.cos(np.radians(dec)), -999.0)
    c["HOSTGAL_DEC"] = np.where(h, dec + sep / 3600.0 * np.sin(ang), -999.0)
    c["HOSTGAL_SNSEP"] = np.where(h, sep, -9.0)
    c["HOSTGAL_DDLR"] = np.where(h, sep / r_e * rng.uniform(0.7, 1.3, n), -9.0)
    logmass = 10.2 - 0.4 * (M_r + 20.7) + rng.normal(0.0, 0.25, n)
    c["HOSTGAL_LOGMASS"] = np.where(h, logmass, -9999.0)
    c["HOSTGAL_ELLIPTICITY"] = np.where(h, ell, -9999.0)
    c["HOSTGAL_SQRADIUS"] = np.where(h, (r_e / 0.2) ** 2 / 8.0, -9999.0)
    c["HOSTGAL_OBJID2"] = np.where(h, -9, 0)
    c["HOSTGAL_OBJID_UNIQUE"] = np.where(h, -9, 0)
    for i, q in enumerate(range(0, 101, 10)):
        c[f"HOSTGAL_ZPHOT_Q{q:03d}"] = np.where(h, np.maximum(zp + 0.35 * sig_rep * _QUANTILES[i], 0.0), -9.0)
    sb = mag_to_flux(mag) * 0.06 * np.exp(-sep / r_e)[:, None]
    for i, b in enumerate(BANDS):
        c[f"HOSTGAL_MAG_{b}"] = np.where(h, mag[:, i], 999.0)
        c[f"HOSTGAL_MAGERR_{b}"] = np.where(h, magerr[:, i], 999.0)
        c[f"HOSTGAL_SB_FLUXCAL_{b}"] = np.where(h, sb[:, i], -999.0)
    # redshift as a classifier sees it: spec-z, else host photo-z, else unknown
    zh = np.where(specz, zs, np.where(h, zp, -9.0))
    zh_err = np.where(specz, 0.001, np.where(h, sig_rep, -9.0))
    c["REDSHIFT_HELIO"] = zh
    c["REDSHIFT_HELIO_ERR"] = zh_err
    c["REDSHIFT_FINAL"] = np.where(h, zh + rng.normal(0.0, 0.0007, n), -9.0)
    c["REDSHIFT_FINAL_ERR"] = zh_err
    c["SIM_REDSHIFT_HELIO"] = z
    c["SIM_REDSHIFT_CMB"] = z + rng.normal(0.0, 0.0007, n)
    c["SIM_REDSHIFT_HOST"] = np.where(h, zs, -9.0)
    c["SIM_REDSHIFT_FLAG"] = np.where(specz, 4, np.where(h, 3, 1))
    c["SIM_VPEC"] = rng.normal(0.0, 300.0, n)
    c["SIM_HOSTLIB_GALID"] = np.where(h, c["HOSTGAL_OBJID"], -9)
    c["SIM_HOSTLIB(LOGMASS_TRUE)"] = np.where(h, logmass, -9.0)
    c["SIM_HOSTLIB(LOG_SFR)"] = np.where(h, rng.normal(0.0, 0.5, n), -9.0)
    c["SIM_DLMU"] = mu
    c["SIM_LENSDMU"] = rng.normal(0.0, 0.002, n)
    return c, np.where(h[:, None], sb, 0.0)
