"""Helpers for tensorize-stage tests: converted-parquet-like tables built from plain lists."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

DET = 4096


def make_table(curves: Sequence[dict], static: dict[str, Sequence[float]] | None = None) -> pa.Table:
    """One row per dict of ``curves`` (keys MJD, BAND, PHOTFLAG, FLUXCAL, FLUXCALERR lists; SNID;
    MODEL), in the converter's layout: PHOT columns as list columns, HEAD columns scalar."""
    cols: dict[str, pa.Array] = {
        "SNID": pa.array([c["SNID"] for c in curves]),
        "MODEL": pa.array([c.get("MODEL", "SNIb-Templates") for c in curves], pa.string()),
        "RA": pa.array([c.get("RA", 10.0) for c in curves], pa.float64()),
        "DEC": pa.array([c.get("DEC", -30.0) for c in curves], pa.float64()),
    }
    for name, typ in (
        ("MJD", pa.float64()),
        ("BAND", pa.string()),
        ("PHOTFLAG", pa.int32()),
        ("FLUXCAL", pa.float32()),
        ("FLUXCALERR", pa.float32()),
    ):
        cols[name] = pa.array([list(c[name]) for c in curves], pa.list_(typ))
    for name, values in (static or {}).items():
        cols[name] = pa.array(values, pa.float32())
    return pa.table(cols)


def random_curve(rng: np.random.Generator, snid, n: int, p_det: float = 0.3, model: str = "SNIb-Templates") -> dict:
    """A random light curve of ``n`` observations in MJD order."""
    mjd = 60000 + np.cumsum(rng.uniform(0.01, 5.0, n))
    return {
        "SNID": snid,
        "MODEL": model,
        "MJD": mjd.tolist(),
        "BAND": rng.choice(list("ugrizY"), n).tolist(),
        "PHOTFLAG": np.where(rng.random(n) < p_det, DET, 0).tolist(),
        "FLUXCAL": rng.normal(50, 100, n).astype(np.float32).tolist(),
        "FLUXCALERR": rng.uniform(1, 30, n).astype(np.float32).tolist(),
    }
