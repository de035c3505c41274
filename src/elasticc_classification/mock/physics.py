"""Small physics helpers of the mock sample: bands, distances, blackbody colours (all vectorised).

Magnitudes are AB; FLUXCAL has zero point 27.5 (``mag = 27.5 - 2.5 log10 FLUXCAL``).
"""

from __future__ import annotations

import numpy as np

ZP_FLUXCAL = 27.5
# Effective wavelengths of LSST u g r i z Y (Angstrom).
LAMBDA_EFF = np.array([3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 9712.0])
# A_band / E(B-V) for LSST bands (Fitzpatrick 99, R_V = 3.1).
R_BAND = np.array([4.145, 3.237, 2.273, 1.684, 1.323, 1.088])
LAMBDA_REF = 5000.0  # rest-frame wavelength at which absolute magnitudes are given (Angstrom)
_HC_K = 1.438777e8  # h c / k in Angstrom Kelvin

# Flat LambdaCDM (H0 = 70 km/s/Mpc, Omega_m = 0.3): distance modulus on a redshift grid.
_Z = np.linspace(0.0, 4.0, 4001)
_E = np.sqrt(0.3 * (1 + _Z) ** 3 + 0.7)
_DC = np.concatenate([[0.0], np.cumsum(0.5 * (1 / _E[1:] + 1 / _E[:-1]) * np.diff(_Z))]) * 299792.458 / 70.0
_MU = 5 * np.log10(np.maximum((1 + _Z) * _DC, 1e-10) * 1e5)


# Volumetric rate laws R(z) of the ELAsTiCC2 simulation (SNANA DNDZ keys), up to normalisation.
def rate(law: tuple, z: np.ndarray) -> np.ndarray:
    """Relative volumetric rate at redshift ``z`` of a rate law ``(name, *parameters)``.

    CC_S15: core-collapse rate of Strolger et al. 2015 (A (1+z)^C / (((1+z)/B)^D + 1), B 1.5,
    C 5.0, D 6.1); MD14: star-formation history of Madau & Dickinson 2014
    ((1+z)^2.7 / (1 + ((1+z)/2.9)^5.6)); POWERLAW beta: (1+z)^beta; POWERLAW2 r1 b1 r2 b2 zb:
    r1 (1+z)^b1 below zb, r2 (1+z)^b2 above (SN Ia); TDE beta: (1+z)^beta, falling with z (an
    approximation of SNANA's TDE law); PISN: MD14 x (1+z)^1.5, rising towards high z as the
    Pan, Loeb & Kasen 2012 rate does (an approximation of PISN_PLK12).
    """
    a = 1.0 + np.asarray(z, dtype=float)
    name = law[0]
    if name == "CC_S15":
        return a**5.0 / ((a / 1.5) ** 6.1 + 1.0)
    md14 = a**2.7 / (1.0 + (a / 2.9) ** 5.6)
    if name == "MD14":
        return md14
    if name == "PISN":
        return md14 * a**1.5
    if name in ("POWERLAW", "TDE"):
        return a ** law[1]
    if name == "POWERLAW2":
        r1, b1, r2, b2, zb = law[1:]
        return np.where(a - 1.0 < zb, r1 * a**b1, r2 * a**b2)
    raise ValueError(f"unknown rate law {name!r}")


def redshift_cdf(law: tuple, z_lo: float, z_hi: float, n_grid: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(z grid, CDF) of dN/dz = R(z) / (1+z) dV/dz between ``z_lo`` and ``z_hi`` (flat LambdaCDM)."""
    zg = np.linspace(z_lo, max(z_hi, z_lo + 1e-6), n_grid)
    dc = np.interp(zg, _Z, _DC)
    pdf = rate(law, zg) / (1.0 + zg) * dc**2 / np.sqrt(0.3 * (1 + zg) ** 3 + 0.7)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(zg))])
    return zg, cdf / cdf[-1]


def distmod(z: np.ndarray) -> np.ndarray:
    """Distance modulus (mag) at redshift ``z`` (0 < z <= 4)."""
    return np.interp(z, _Z, _MU)


def mag_to_flux(mag: np.ndarray) -> np.ndarray:
    """FLUXCAL of an AB magnitude."""
    return 10.0 ** (-0.4 * (mag - ZP_FLUXCAL))


def flux_to_mag(flux: np.ndarray, faint: float = 99.0) -> np.ndarray:
    """AB magnitude of a FLUXCAL (``faint`` where the flux is not positive)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = ZP_FLUXCAL - 2.5 * np.log10(flux)
    return np.where(flux > 0, np.minimum(m, faint), faint)


def bb_colour(lam: np.ndarray, temp: np.ndarray) -> np.ndarray:
    """AB magnitude at wavelength ``lam`` (Angstrom) minus that at LAMBDA_REF of a blackbody at ``temp`` (K)."""
    x = _HC_K / (lam * temp)
    x0 = _HC_K / (LAMBDA_REF * temp)
    # f_nu ~ nu^3 / (exp(h nu / kT) - 1)
    log_ratio = (
        3 * np.log(LAMBDA_REF / lam) - np.log(np.expm1(np.minimum(x, 600))) + np.log(np.expm1(np.minimum(x0, 600)))
    )
    return -2.5 / np.log(10) * log_ratio
