"""Where an object lies on the sky: Galactic coordinates, the low-latitude and deep-drilling-field flags.

The two engineered static features of a shard (``flags`` in the ``tensorize`` config section):
``LOW_GALACTIC_LATITUDE`` (|b| < ``galactic_latitude_deg``) and ``IN_DDF`` (within
``ddf_radius_deg`` of a deep-drilling field centre: ELAIS-S1, XMM-LSS, ECDFS, COSMOS).
"""

from __future__ import annotations

import numpy as np

FLAG_NAMES = ["LOW_GALACTIC_LATITUDE", "IN_DDF"]
# deep-drilling field centres, Galactic (l, b) in degrees
DDF_GALACTIC = {
    "ELAIS-S1": (311.30, -72.90),
    "XMM-LSS": (171.20, -58.77),
    "ECDFS": (224.07, -54.47),
    "COSMOS": (236.83, 42.09),
}
# ICRS (J2000) unit vector -> Galactic unit vector
_ICRS_TO_GAL = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)


def galactic(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude and latitude (degrees) of ICRS ``ra_deg``, ``dec_deg`` (degrees)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    g = _ICRS_TO_GAL @ v
    l = np.degrees(np.arctan2(g[1], g[0])) % 360.0
    b = np.degrees(np.arcsin(np.clip(g[2], -1.0, 1.0)))
    return l, b


def sky_flags(ra_deg: np.ndarray, dec_deg: np.ndarray, max_abs_b: float = 15.0, ddf_radius: float = 1.75) -> np.ndarray:
    """``(N, 2)`` float32 (:data:`FLAG_NAMES`): |b| < ``max_abs_b`` (degrees) and within ``ddf_radius``
    degrees of a DDF centre; NaN where RA/DEC (degrees) is NaN."""
    l, b = galactic(ra_deg, dec_deg)
    lr, br = np.radians(l), np.radians(b)
    v = np.stack([np.cos(br) * np.cos(lr), np.cos(br) * np.sin(lr), np.sin(br)], axis=1)
    lc, bc = np.radians(np.array(list(DDF_GALACTIC.values()))).T
    centres = np.stack([np.cos(bc) * np.cos(lc), np.cos(bc) * np.sin(lc), np.sin(bc)], axis=1)
    in_ddf = (v @ centres.T).max(axis=1) >= np.cos(np.radians(ddf_radius))
    out = np.stack([np.abs(b) < max_abs_b, in_ddf], axis=1).astype(np.float32)
    out[~(np.isfinite(ra_deg) & np.isfinite(dec_deg))] = np.nan
    return out
