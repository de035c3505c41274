"""Realism report: the mock next to the real ELAsTiCC2 files, quantity by quantity.

    .venv/bin/python bench/realism.py [--real ../shared/realdata/elasticc2_train_1percent]
        [--objects 1500] [--seed 42] [--figures docs] [--json out.json]

For every model with real files (``SNIb-Templates``, ``Mdwarf-flare`` in ``../shared/realdata``),
a mock sample of the same model (``--objects`` objects) is generated in a temporary directory and
both are read with the package's own reader (``io.snana.read_pair``). Per quantity it prints the
real and mock medians and the two-sample Kolmogorov-Smirnov statistic D (0: same distribution,
1: disjoint) with the real sample's size; ``--figures`` writes overlaid histograms
(``<dir>/realism_<model>.png``). The quantities are what a classifier sees: light-curve lengths,
cadence, fluxes and noise, detection logic (PHOTFLAG), host columns, MWEBV, redshifts and the sky.
``workflow_tests/test_realism.py`` keeps D below measured thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from elasticc_classification.io.layout import find_pairs  # noqa: E402
from elasticc_classification.io.snana import read_pair  # noqa: E402
from elasticc_classification.mock import generate  # noqa: E402
from elasticc_classification.mock.sky import galactic_latitude  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata" / "elasticc2_train_1percent"
REAL_MODELS = ("SNIb-Templates", "Mdwarf-flare")
BANDS = "ugrizY"
DETECT, TRIGGER = 4096, 2048
SENTINELS = (-9.0, -99.0, -999.0, -9999.0, 999.0)
# LSST deep-drilling fields (RA, DEC in degrees; EDFS's two pointings as one) and their radius
DDF_CENTRES = np.array([[9.45, -44.03], [35.71, -4.75], [53.13, -28.10], [150.10, 2.18], [61.24, -48.42]])
DDF_RADIUS = 1.75

# quantity -> (label, log10 scale in the plot)
QUANTITIES: dict[str, tuple[str, bool]] = {
    "nobs": ("observations per object", False),
    "ndet": ("detections per object", False),
    "window_days": ("kept window: last non-detection before the first detection -> last detection (d)", False),
    "window_nobs": ("observations in the kept window", False),
    "span_days": ("first -> last observation (d)", False),
    "dt_night": ("days between nights (any band)", True),
    "dt_band": ("days between observations in the same band", True),
    "visits_per_night": ("observations per night", False),
    "band_index": ("band of each observation (0..5 = ugrizY)", False),
    "det_band_index": ("band of each detection (0..5 = ugrizY)", False),
    "peak_flux": ("peak FLUXCAL of detections", True),
    "peak_snr": ("peak SNR of detections", True),
    "det_snr": ("FLUXCAL / FLUXCALERR of detections", True),
    "err_nondet": ("FLUXCALERR of non-detections", True),
    "snr_nondet": ("FLUXCAL / FLUXCALERR of non-detections", False),
    "rise_days": ("first detection -> brightest detection (d)", False),
    "decline_days": ("brightest detection -> last detection (d)", False),
    "neg_fraction": ("fraction of negative FLUXCAL per object", False),
    "pre_det_days": ("first observation -> first detection (d)", False),
    "trigger_count": ("PHOTFLAG 2048 per object", False),
    "photflag_other": ("observations with a PHOTFLAG other than 0/4096/6144 per object", False),
    "MWEBV": ("MWEBV", True),
    "REDSHIFT_HELIO": ("REDSHIFT_HELIO (sentinel -> -1)", False),
    "HOSTGAL_PHOTOZ": ("HOSTGAL_PHOTOZ (sentinel -> -1)", False),
    "HOSTGAL_PHOTOZ_ERR": ("HOSTGAL_PHOTOZ_ERR (sentinel -> -1)", False),
    "has_specz": ("HOSTGAL_SPECZ present", False),
    **{f"HOSTGAL_MAG_{b}": (f"HOSTGAL_MAG_{b} (sentinel -> 35)", False) for b in BANDS},
    **{f"host_{a}_{b}": (f"host colour {a} - {b} (mag; 0 without a host)", False) for a, b in zip(BANDS, BANDS[1:])},
    "HOSTGAL_SNSEP": ("HOSTGAL_SNSEP (arcsec, sentinel -> -1)", False),
    "HOSTGAL_ELLIPTICITY": ("HOSTGAL_ELLIPTICITY (sentinel -> -1)", False),
    "abs_b": ("|Galactic latitude| (deg)", False),
    "in_ddf": ("inside a deep-drilling field", False),
    "DEC": ("DEC (deg)", False),
    # truth (never a feature): shows whether the mock's detected population matches
    "SIM_REDSHIFT_HELIO": ("true redshift (truth, not a feature)", False),
    "SIM_PEAKMAG_r": ("true peak r magnitude (truth, not a feature)", False),
    "SIM_PEAKMAG_g": ("true peak g magnitude (truth, not a feature)", False),
}
TRUTH = ("SIM_REDSHIFT_HELIO", "SIM_PEAKMAG_r", "SIM_PEAKMAG_g")


def load_real(root: Path, model: str) -> pa.Table:
    """Every real chunk of ``model`` under ``root`` as one table."""
    tables = [read_pair(p.head, p.phot, model=p.model) for p in find_pairs(root) if p.model == model]
    return pa.concat_tables([t for t in tables if t.num_rows], promote_options="default")


def load_mock(model: str, objects: int, seed: int) -> pa.Table:
    """A mock sample of ``model``: 4 chunks of ``objects / 4`` objects (Poisson mean)."""
    with tempfile.TemporaryDirectory() as tmp:
        pairs = generate(tmp, models=[model], n_chunks=4, objects_per_chunk=objects / 4, seed=seed, prefix="REAL")
        return pa.concat_tables([read_pair(h, p, model=model) for h, p in pairs])


def _flat(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).combine_chunks().flatten().to_numpy(zero_copy_only=False)


def _head(table: pa.Table, name: str) -> np.ndarray | None:
    if name not in table.column_names:
        return None
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def quantities(table: pa.Table) -> dict[str, np.ndarray]:
    """Per-object (and a few per-observation) quantities of one sample, vectorised over rows."""
    nobs = np.asarray(table.column("MJD").combine_chunks().value_lengths().to_numpy(zero_copy_only=False))
    n = len(nobs)
    obj = np.repeat(np.arange(n), nobs)
    starts = np.cumsum(nobs) - nobs
    mjd = _flat(table, "MJD").astype(np.float64)
    names, inverse = np.unique(np.char.strip(_flat(table, "BAND").astype(str)), return_inverse=True)
    band = np.array([BANDS.index(b) if b in BANDS else -1 for b in names], dtype=np.int64)[inverse]
    flux = _flat(table, "FLUXCAL").astype(np.float64)
    err = _flat(table, "FLUXCALERR").astype(np.float64)
    flag = _flat(table, "PHOTFLAG").astype(np.int64)
    det = (flag & DETECT) > 0
    snr = flux / np.where(err > 0, err, np.inf)
    q: dict[str, np.ndarray] = {"nobs": nobs.astype(float)}
    ndet = np.bincount(obj[det], minlength=n)
    q["ndet"] = ndet.astype(float)
    big = 1e18
    first_det = np.full(n, big)
    np.minimum.at(first_det, obj[det], mjd[det])
    last_det = np.full(n, -big)
    np.maximum.at(last_det, obj[det], mjd[det])
    has = ndet > 0
    before = ~det & (mjd < first_det[obj])
    last_nd = np.full(n, -big)
    np.maximum.at(last_nd, obj[before], mjd[before])
    w_lo = np.where(last_nd > -big, last_nd, first_det)
    q["window_days"] = (last_det - w_lo)[has]
    in_win = (mjd >= w_lo[obj]) & (mjd <= last_det[obj])
    q["window_nobs"] = np.bincount(obj[in_win], minlength=n)[has].astype(float)
    first_obs = mjd[starts[nobs > 0]]
    last_obs = mjd[(starts + nobs - 1)[nobs > 0]]
    q["span_days"] = last_obs - first_obs
    q["pre_det_days"] = (first_det - np.where(nobs > 0, mjd[np.minimum(starts, len(mjd) - 1)], 0.0))[has]
    same = obj[1:] == obj[:-1]
    night = np.floor(mjd - 0.5)
    new_night = np.concatenate([[True], ~same | (night[1:] != night[:-1])])
    nidx = np.nonzero(new_night)[0]
    q["visits_per_night"] = np.diff(np.append(nidx, len(mjd))).astype(float)
    nmjd, nobj = mjd[nidx], obj[nidx]
    q["dt_night"] = np.diff(nmjd)[nobj[1:] == nobj[:-1]]
    order = np.lexsort((mjd, band, obj))
    ob, bb, mb = obj[order], band[order], mjd[order]
    sb = (ob[1:] == ob[:-1]) & (bb[1:] == bb[:-1])
    q["dt_band"] = np.maximum(np.diff(mb)[sb], 1e-3)
    q["band_index"] = band.astype(float)
    q["det_band_index"] = band[det].astype(float)
    # brightest detection per object (first one on ties)
    fd = np.where(det, flux, -np.inf)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, obj, fd)
    at = det & (fd == peak[obj])
    t_peak = np.full(n, big)
    np.minimum.at(t_peak, obj[at], mjd[at])
    q["peak_flux"] = np.maximum(peak[has], 1.0)
    psnr = np.full(n, -np.inf)
    np.maximum.at(psnr, obj[det], snr[det])
    q["peak_snr"] = psnr[has]
    q["rise_days"] = (t_peak - first_det)[has]
    q["decline_days"] = (last_det - t_peak)[has]
    q["det_snr"] = np.maximum(snr[det], 0.1)
    q["err_nondet"] = np.maximum(err[~det], 1e-2)
    q["snr_nondet"] = np.clip(snr[~det], -10, 10)
    q["neg_fraction"] = (np.bincount(obj[flux < 0], minlength=n) / np.maximum(nobs, 1)).astype(float)
    q["trigger_count"] = np.bincount(obj[(flag & TRIGGER) > 0], minlength=n).astype(float)
    other = ~np.isin(flag, [0, DETECT, DETECT | TRIGGER])
    q["photflag_other"] = np.bincount(obj[other], minlength=n).astype(float)
    for col, fill in (
        ("MWEBV", None),
        ("REDSHIFT_HELIO", -1.0),
        ("HOSTGAL_PHOTOZ", -1.0),
        ("HOSTGAL_PHOTOZ_ERR", -1.0),
        *((f"HOSTGAL_MAG_{b}", 35.0) for b in BANDS),
        ("HOSTGAL_SNSEP", -1.0),
        ("HOSTGAL_ELLIPTICITY", -1.0),
        ("DEC", None),
        ("SIM_REDSHIFT_HELIO", None),
        ("SIM_PEAKMAG_r", None),
        ("SIM_PEAKMAG_g", None),
    ):
        v = _head(table, col)
        if v is None:
            continue
        if fill is not None:
            v = np.where(np.isin(v, SENTINELS) | ~np.isfinite(v), fill, v)
        q[col] = v
    for a, b in zip(BANDS, BANDS[1:]):
        if f"HOSTGAL_MAG_{a}" in q and f"HOSTGAL_MAG_{b}" in q:
            ma, mb = q[f"HOSTGAL_MAG_{a}"], q[f"HOSTGAL_MAG_{b}"]
            q[f"host_{a}_{b}"] = np.where((ma < 35.0) & (mb < 35.0), ma - mb, 0.0)
    sz = _head(table, "HOSTGAL_SPECZ")
    if sz is not None:
        q["has_specz"] = (sz > 0).astype(float)
    ra, dec = _head(table, "RA"), _head(table, "DEC")
    assert ra is not None and dec is not None, "RA/DEC missing"
    q["abs_b"] = np.abs(galactic_latitude(ra, dec))
    q["in_ddf"] = in_ddf(ra, dec).astype(float)
    q["MWEBV"] = np.maximum(q["MWEBV"], 1e-3)
    return q


def _unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)


def in_ddf(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Whether each position (degrees) lies within ``DDF_RADIUS`` of a deep-drilling field."""
    cos_sep = _unit(ra, dec) @ _unit(DDF_CENTRES[:, 0], DDF_CENTRES[:, 1]).T
    return cos_sep.max(axis=1) >= np.cos(np.radians(DDF_RADIUS))


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic D = max |F_a - F_b| (0 when either is empty)."""
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if not len(a) or not len(b):
        return 0.0
    x = np.concatenate([a, b])
    fa = np.searchsorted(a, x, side="right") / len(a)
    fb = np.searchsorted(b, x, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def compare(real: dict[str, np.ndarray], mock: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per quantity: KS D, the real sample size, medians of both."""
    out = {}
    for k in QUANTITIES:
        if k not in real or k not in mock:
            continue
        r, m = real[k], mock[k]
        out[k] = {
            "ks": round(ks(r, m), 4),
            "n_real": int(np.isfinite(r).sum()),
            "median_real": float(np.median(r)) if len(r) else float("nan"),
            "median_mock": float(np.median(m)) if len(m) else float("nan"),
            "mean_real": float(np.mean(r)) if len(r) else float("nan"),
            "mean_mock": float(np.mean(m)) if len(m) else float("nan"),
        }
    return out


def report(real_root: Path, objects: int, seed: int) -> dict[str, dict]:
    """{model: {"quantities": (real, mock), "stats": compare(...)}} for every real model present."""
    out = {}
    for model in REAL_MODELS:
        real = quantities(load_real(real_root, model))
        mock = quantities(load_mock(model, objects, seed))
        out[model] = {"real": real, "mock": mock, "stats": compare(real, mock)}
    return out


def plot(model: str, real: dict, mock: dict, stats: dict, path: Path) -> None:
    """Overlaid (density-normalised) histograms of every quantity, KS D in each title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in QUANTITIES if k in stats]
    cols = 5
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows))
    for ax, k in zip(axes.flat, keys, strict=False):
        r, m = real[k][np.isfinite(real[k])], mock[k][np.isfinite(mock[k])]
        label, logx = QUANTITIES[k]
        both = np.concatenate([r, m])
        if logx:
            both = both[both > 0]
            lo, hi = np.percentile(both, [0.5, 99.5]) if len(both) else (1, 10)
            bins = np.logspace(np.log10(max(lo, 1e-3)), np.log10(max(hi, lo * 1.01 + 1e-3)), 30)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
        else:
            lo, hi = np.percentile(both, [0.5, 99.5]) if len(both) else (0, 1)
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
        ax.hist(m, bins=bins, density=True, histtype="stepfilled", alpha=0.4, color="C0", label="mock")
        ax.hist(r, bins=bins, density=True, histtype="step", lw=1.5, color="C3", label="real")
        ax.set_title(f"{k}  D={stats[k]['ks']:.2f}", fontsize=8)
        ax.set_xlabel(label, fontsize=6)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{model}: real ELAsTiCC2 training files vs mock (KS D per quantity)", fontsize=10)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.98))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--objects", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--figures", type=Path, default=None, help="write <dir>/realism_<model>.png")
    ap.add_argument("--json", type=Path, default=None, help="write the statistics as JSON")
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(f"error: no real files at {args.real}", file=sys.stderr)
        return 2
    rep = report(args.real, args.objects, args.seed)
    for model, r in rep.items():
        print(f"\n{model}: {len(r['real']['nobs'])} real, {len(r['mock']['nobs'])} mock objects")
        print(f"  {'quantity':20s} {'KS D':>6s} {'n_real':>7s} {'med real':>10s} {'med mock':>10s}")
        for k, s in r["stats"].items():
            print(
                f"  {k:20s} {s['ks']:6.3f} {s['n_real']:7d} {s['median_real']:10.4g} {s['median_mock']:10.4g}"
                f"   mean {s['mean_real']:.4g} / {s['mean_mock']:.4g}"
            )
        if args.figures:
            args.figures.mkdir(parents=True, exist_ok=True)
            plot(model, r["real"], r["mock"], r["stats"], args.figures / f"realism_{model}.png")
    if args.json:
        args.json.write_text(json.dumps({m: r["stats"] for m, r in rep.items()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
