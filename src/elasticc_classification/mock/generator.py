"""Write the synthetic ELAsTiCC2-like sample: per model, chunk pairs of HEAD/PHOT FITS files.

Each (model, chunk) has its own random stream ``SeedSequence([seed, model index, chunk])``, so
chunks can be generated in any order or in parallel and are byte-identical for the same
arguments. The number of objects in a chunk is Poisson with mean ``objects_per_chunk`` (small
means give empty chunks, as in the real sample). Like the real training set, only objects with
at least one detection (PHOTFLAG & 4096) are written: candidates are simulated in batches and
those never detected are dropped (counted in the log).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elasticc_classification.errors import InputError, atomic_output
from elasticc_classification.io import layout
from elasticc_classification.mock.catalog import MIXES, MODELS, relative_numbers

from . import schema
from .fitswriter import primary_hdu, table_hdu, write_fits_gz
from .hosts import host_columns
from .lightcurves import (
    NEVER_DETECTED_MAG,
    detectable_span,
    evaluate,
    flare_detectable,
    flare_trigger,
    sample,
    sim_magobs,
    transient_flux,
    transient_peakmag,
)
from .models import SPECS, Spec
from .observing import (
    SEASON_DAYS,
    SURVEY_END,
    SURVEY_START,
    Cadence,
    detect,
    draw_cadence,
    draw_core_cadence,
    draw_psf,
    extend_cadence,
    flag_detections,
    flux_error,
    merge_order,
    overlaps_season,
    sky_sig,
)
from .physics import R_BAND
from .sky import draw_sky

log = logging.getLogger(__name__)

MODEL_INDEX = {m: i for i, m in enumerate(MODELS)}
MAX_CHUNKS = 4096  # SNIDs: 5 bits model, 12 bits chunk, 17 bits object -> unique 34-bit ids
MAX_OBJECTS_PER_CHUNK = 100_000
PEAKMAG_MIN = 14.0  # objects brighter than this at peak in any band are dropped, as in the real files
MIN_FILTERED_BATCH = 512  # candidates drawn at least per round for models with a pre-filter
BATCH = 1500  # light curves simulated at once (bounds memory: ~ BATCH x 500 nights x 3 visits)
_BAND_BYTES = np.array([f"{b} ".encode() for b in schema.BANDS])
_SNID_MUL = np.uint64(0x2545F4915)  # odd: multiplication is a bijection modulo 2**34
_SNID_MASK = np.uint64((1 << 34) - 1)


@dataclass
class Objects:
    """Simulated objects: HEAD values (n,), observations (sum nobs,) in file order, nobs (n,)."""

    head: dict[str, np.ndarray]
    phot: dict[str, np.ndarray]
    nobs: np.ndarray

    def __len__(self) -> int:
        return len(self.nobs)

    def select(self, keep: np.ndarray) -> Objects:
        ok = np.repeat(keep, self.nobs)
        return Objects(
            {k: v[keep] for k, v in self.head.items()}, {k: v[ok] for k, v in self.phot.items()}, self.nobs[keep]
        )

    @staticmethod
    def concat(parts: list[Objects]) -> Objects:
        return Objects(
            {k: np.concatenate([p.head[k] for p in parts]) for k in parts[0].head},
            {k: np.concatenate([p.phot[k] for p in parts]) for k in parts[0].phot},
            np.concatenate([p.nobs for p in parts]),
        )


def simulate(spec: Spec, type_index: int, n: int, rng: np.random.Generator) -> tuple[Objects, int]:
    """Simulate ``n`` candidate objects of one model; return those kept (detected at least once,
    no band brighter than ``PEAKMAG_MIN`` at peak) and how many light curves were simulated.

    Transients whose true peak is fainter than ``lightcurves.NEVER_DETECTED_MAG`` in every band
    are dropped before their light curves are drawn (they could not be detected); the others are
    first simulated only where they could be detected (``_simulate_transients``). Detection is
    decided on the noise-free flux, so noise, PSF widths and the PHOT columns are drawn and built
    for the kept objects only."""
    P = sample(spec, n, rng)
    if spec.family == "flare":  # without extinction first: cheap, and only dims
        flare_trigger(P, rng)
        P = {k: v[flare_detectable(P, np.zeros(n))] for k, v in P.items()}
        n = len(P["z"])
    if spec.family == "transient":  # likewise: the peak without extinction, and no sky for the hopeless
        peak0 = transient_peakmag(spec, P, np.zeros(n))
        bright = peak0.min(axis=1) < NEVER_DETECTED_MAG
        P = {k: v[bright] for k, v in P.items()}
        peak0, n = peak0[bright], int(bright.sum())
    ra, dec, mwebv = draw_sky(rng, n, spec.dndb if spec.galactic or spec.family == "agn" else None)
    ok = None
    season_len = rng.uniform(*SEASON_DAYS, size=n)
    if spec.family == "transient":
        # never brighter than the limit, or bright only while the field is out of season or the
        # survey is off: could not be detected
        peakmag = peak0 + R_BAND[None, :] * mwebv[:, None]  # the extinction term is added last
        pm_min = peakmag.min(axis=1)
        before, after = detectable_span(P, pm_min)
        lo = np.maximum.reduce([P["t_ref"] - before, P["t_lo"], np.full(n, SURVEY_START)])
        hi = np.minimum.reduce([P["t_ref"] + after, P["t_hi"], np.full(n, SURVEY_END)])
        ok = (pm_min < NEVER_DETECTED_MAG) & overlaps_season(lo, hi, ra, season_len)
    elif spec.family == "flare":
        ok = flare_detectable(P, mwebv)
    if ok is not None:
        P = {k: v[ok] for k, v in P.items()}
        ra, dec, mwebv, season_len = ra[ok], dec[ok], mwebv[ok], season_len[ok]
        n = int(ok.sum())
    n_sim = n
    head: dict[str, np.ndarray] = {}
    if spec.family == "transient":
        peakmag, lo, hi = peakmag[ok], lo[ok], hi[ok]
        P, ra, dec, mwebv, cols, cad, lc, err, sky_var, det = _simulate_transients(
            spec, P, ra, dec, mwebv, season_len, peakmag, lo, hi, rng
        )
        head.update(cols)
        n, host_psf = len(ra), lc["host_psf"]
    else:
        cad = draw_cadence(rng, P["t_lo"], P["t_hi"], ra, season_len, with_psf=False)
        if not spec.galactic:
            cols, host_psf = host_columns(rng, P["z"], ra, dec, spec.host_frac, spec.nuclear)
            head.update(cols)
        else:
            host_psf = np.zeros((n, 6))
        lc = evaluate(spec, P, cad, mwebv, rng)
        err, sky_var = flux_error(cad, lc["total"], host_psf[cad.obj, cad.band])
        det = detect(rng, lc["diff"], err, lc.get("fixed_u"))
    ndet = np.bincount(cad.obj[det], minlength=n)
    # CUTWIN_PEAKMAG_ALL 14 999 of the real simulation: nothing brighter than 14 mag in any band
    keep = (ndet > 0) & (lc["peakmag"].min(axis=1) >= PEAKMAG_MIN)
    first = np.full(n, -9.0)
    last = np.full(n, -9.0)
    if det.any():
        od, md = cad.obj[det], cad.mjd[det]
        first[od[::-1]] = md[::-1]  # last write wins: the earliest detection
        last[od] = md

    head["RA"], head["DEC"] = ra, dec
    head["SIM_RA"], head["SIM_DEC"] = ra, dec
    head["MWEBV"], head["MWEBV_ERR"] = mwebv, 0.05 * mwebv
    head["SNTYPE"] = np.where(rng.random(n) < 0.85, 100 + type_index, type_index)
    head["MJD_TRIGGER"] = head["MJD_DETECT_FIRST"] = first
    head["MJD_DETECT_LAST"] = last
    head["SIM_PEAKMJD"] = lc["sim_peakmjd"]
    if spec.family == "transient":
        head["PEAKMJD"] = lc["sim_peakmjd"] + rng.normal(0.0, 1.5, n) * (1 + P["z"])
    else:
        head["PEAKMJD"] = lc["sim_peakmjd"]
    head["SIM_TEMPLATE_INDEX"] = rng.integers(1, 400, n)
    head["SIM_LIBID"] = rng.integers(1, 50_000, n)
    head["SIM_SEARCHEFF_MASK"] = np.where(ndet >= 3, 5, 1)
    for i, b in enumerate(schema.BANDS):
        head[f"SIM_PEAKMAG_{b}"] = lc["peakmag"][:, i]
    if spec.galactic:
        for i, b in enumerate(schema.BANDS):
            head[f"SIM_TEMPLATEMAG_{b}"] = lc["templatemag"][:, i]
    else:
        head["SIM_MWEBV"] = mwebv * rng.normal(1.0, 0.03, n)
        head["SIM_MAGSMEAR_COH"] = rng.normal(0.0, 0.1, n)
        peak_flux = 10 ** (-0.4 * (lc["peakmag"] - 27.5))
        galfrac = np.where(host_psf > 0, host_psf / np.maximum(peak_flux, 1e-6), -9.0)
        for i, b in enumerate(schema.BANDS):
            head[f"SIM_GALFRAC_{b}"] = galfrac[:, i]
    # the kept objects' observations (all of them for transients): noise and PSF widths drawn for them only
    ok = slice(None) if keep.all() else np.repeat(keep, cad.nobs)
    m = len(cad.mjd[ok])
    kept = Cadence(cad.obj[ok], cad.mjd[ok], cad.band[ok], cad.nobs[keep], cad.m5[ok], cad.zeropt[ok], draw_psf(rng, m))
    err = err[ok]
    magobs = sim_magobs(lc["total"][ok])
    phot = {
        "MJD": kept.mjd,
        "BAND": _BAND_BYTES[kept.band],
        "PHOTFLAG": flag_detections(kept.obj, det[ok], magobs),
        "FLUXCAL": lc["diff"][ok] + rng.standard_normal(m, dtype=np.float32) * err,
        "FLUXCALERR": err,
        "PSF_SIG1": np.round(kept.psf, 2),
        "SKY_SIG": sky_sig(kept, sky_var[ok]),
        "ZEROPT": np.round(kept.zeropt, 2),
        "SIM_MAGOBS": magobs,
    }
    return Objects({k: v[keep] for k, v in head.items()}, phot, cad.nobs[keep]), n_sim


def _simulate_transients(
    spec: Spec,
    P: dict[str, np.ndarray],
    ra: np.ndarray,
    dec: np.ndarray,
    mwebv: np.ndarray,
    season_len: np.ndarray,
    peakmag: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rng: np.random.Generator,
) -> tuple:
    """Transients in two passes: the cadence, fluxes, errors and detection draws of each candidate
    only over [lo, hi] (MJD; outside it, it is too faint to be detected), then, for those detected
    there (and not brighter than ``PEAKMAG_MIN``), the rest of their window (the night process
    continued both ways) and its fluxes and detection draws. Returns the kept objects'
    (P, ra, dec, mwebv, host columns, cadence without PSF widths, light curve, FLUXCALERR, sky
    variance, detected), observations in file order."""
    n = len(ra)
    core, anchors = draw_core_cadence(rng, lo, hi, P["t_lo"], P["t_hi"], ra, season_len)
    cols, host_psf = host_columns(rng, P["z"], ra, dec, spec.host_frac, spec.nuclear)
    flux_c = transient_flux(spec, P, core, mwebv)
    err_c, sky_var_c = flux_error(core, flux_c, host_psf[core.obj, core.band])
    det_c = detect(rng, flux_c, err_c)
    keep = (np.bincount(core.obj[det_c], minlength=n) > 0) & (peakmag.min(axis=1) >= PEAKMAG_MIN)
    P = {k: v[keep] for k, v in P.items()}
    ra, dec, mwebv, season_len, host_psf = ra[keep], dec[keep], mwebv[keep], season_len[keep], host_psf[keep]
    cols = {k: v[keep] for k, v in cols.items()}
    ok = keep[core.obj]
    new_id = np.cumsum(keep) - 1
    core = Cadence(
        new_id[core.obj[ok]], core.mjd[ok], core.band[ok], core.nobs[keep], core.m5[ok], core.zeropt[ok], core.psf
    )
    ext, after = extend_cadence(rng, anchors.select(keep), P["t_lo"], P["t_hi"], ra, season_len)
    flux_e = transient_flux(spec, P, ext, mwebv)
    err_e, sky_var_e = flux_error(ext, flux_e, host_psf[ext.obj, ext.band])
    det_e = detect(rng, flux_e, err_e)
    order = merge_order(core.obj, ext.obj, after)

    def cat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.concatenate([x, y])[order]

    cad = Cadence(
        cat(core.obj, ext.obj),
        cat(core.mjd, ext.mjd),
        cat(core.band, ext.band),
        core.nobs + ext.nobs,
        cat(core.m5, ext.m5),
        cat(core.zeropt, ext.zeropt),
        np.empty(0),
    )
    flux = cat(flux_c[ok], flux_e)
    lc = {"diff": flux, "total": flux, "peakmag": peakmag[keep], "sim_peakmjd": P["t_ref"], "host_psf": host_psf}
    return P, ra, dec, mwebv, cols, cad, lc, cat(err_c[ok], err_e), cat(sky_var_c[ok], sky_var_e), cat(det_c[ok], det_e)


def simulate_detected(model: str, n: int, rng: np.random.Generator) -> tuple[Objects, int, int]:
    """``n`` detected objects of ``model``, the number of candidates simulated for them and
    how many of those were never detected."""
    spec = SPECS[model]
    parts: list[Objects] = []
    have = tried = 0
    eff = 0.85  # prior detection efficiency; updated from the candidates simulated so far
    passed = 1.0  # fraction of candidates passing the peak-magnitude cut; updated likewise
    simulated = 0
    while have < n:
        cap = BATCH / max(passed, 0.002)
        m = int(min(cap, np.ceil((n - have) / max(eff, 0.0005) * 1.15) + 4))
        if spec.family in ("transient", "flare"):  # most candidates are filtered before their light curves:
            m = max(m, MIN_FILTERED_BATCH)  # cheap, and small chunks then take one or two rounds
        good, nsim = simulate(spec, MODELS[model], m, rng)
        tried += m
        simulated += nsim
        if have + len(good) > n:  # the last round's surplus: detected, not written
            parts.append(good.select(np.arange(len(good)) < n - have))
        else:
            parts.append(good)
        have += len(good)
        eff = max(have / tried, 0.0005)
        passed = max(simulated / tried, 0.002)
        if tried > 5000 * max(n, 10) and have < n:
            raise RuntimeError(f"mock model {model}: only {have} of {tried} simulated objects were detected")
    return (parts[0] if len(parts) == 1 else Objects.concat(parts)), tried, tried - have


def snids(model_index: int, chunk: int, n: int, seed: int) -> np.ndarray:
    """Unique SNIDs: a bijective scramble of (model, chunk, object) into 1 .. 2**34."""
    g = (
        (np.uint64(model_index) << np.uint64(29))
        | (np.uint64(chunk - 1) << np.uint64(17))
        | np.arange(n, dtype=np.uint64)
    )
    off = np.uint64((seed * 0x9E3779B1) % (1 << 34))
    return ((g * _SNID_MUL + off) & _SNID_MASK).astype(np.int64) + 1


def head_columns(spec: Spec) -> list:
    """The HEAD column set (name, TFORM, sentinel) of a model: Galactic or extragalactic."""
    return schema.HEAD_GALACTIC if spec.galactic else schema.HEAD_EXTRAGALACTIC


def build_tables(model: str, chunk: int, objs: Objects | None, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """HEAD and PHOT structured arrays (big-endian, real column sets) of one chunk."""
    spec = SPECS[model]
    head = schema.empty_table(head_columns(spec), n)
    if n == 0 or objs is None:
        return head, schema.empty_table(schema.PHOT_COLUMNS, 0)
    nobs = objs.nobs
    rows = int(nobs.sum()) + n
    phot = schema.empty_table(schema.PHOT_COLUMNS, rows, skip=frozenset(objs.phot))
    names = set(head.dtype.names or ())
    for k, v in objs.head.items():
        if k in names:
            head[k] = v
    head["SNID"] = np.char.encode(snids(MODEL_INDEX[model], chunk, n, seed).astype("U16"))
    start = np.concatenate([[0], np.cumsum(nobs + 1)[:-1]])
    head["NOBS"] = nobs
    head["PTROBS_MIN"] = start + 1
    head["PTROBS_MAX"] = start + nobs
    head["SIM_MODEL_NAME"] = spec.sim_model_name.encode()
    head["SIM_MODEL_INDEX"] = spec.sim_model_index
    head["SIM_TYPE_INDEX"] = MODELS[model]
    head["SIM_TYPE_NAME"] = spec.type_name.encode()
    sep = start + nobs
    is_obs = np.ones(rows, dtype=bool)
    is_obs[sep] = False
    obs_rows = np.flatnonzero(is_obs)
    for k, v in objs.phot.items():
        phot[k][obs_rows] = v
    for k, fill in schema.SEPARATOR_ROW.items():
        phot[k][sep] = fill.encode() if isinstance(fill, str) else fill
    return head, phot


def write_tables(
    head_path: str | Path, phot_path: str | Path, prefix: str, model: str, tag: str, head: np.ndarray, phot: np.ndarray
) -> None:
    """Write finished HEAD/PHOT tables of one chunk (PHOT first) as SNANA FITS.gz files with the
    primary cards of ``prefix``/``model``/chunk ``tag``; the paths are written directly."""
    spec = SPECS[model]
    extragalactic = not spec.galactic
    write_fits_gz(
        phot_path,
        primary_hdu(schema.primary_cards("PHOT", prefix, model, tag, extragalactic, spec.sim_model_index)),
        table_hdu(phot, schema.PHOT_COLUMNS, "Photometry"),
    )
    write_fits_gz(
        head_path,
        primary_hdu(schema.primary_cards("HEAD", prefix, model, tag, extragalactic, spec.sim_model_index)),
        table_hdu(head, head_columns(spec), "Header"),
    )


def write_chunk(
    outdir: str | Path, prefix: str, model: str, chunk: int, objects_per_chunk: float, seed: int
) -> tuple[Path, Path]:
    """Simulate and write one chunk pair; returns its (HEAD, PHOT) paths."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, MODEL_INDEX[model], chunk]))
    n = int(rng.poisson(objects_per_chunk)) if objects_per_chunk > 0 else 0
    n = min(n, (1 << 17) - 1)  # 17-bit object index in the SNID
    objs, tried, undetected = simulate_detected(model, n, rng) if n else (None, 0, 0)
    head, phot = build_tables(model, chunk, objs, n, seed)
    head_path, phot_path = layout.chunk_paths(outdir, prefix, model, chunk)
    tag = f"{chunk:04d}"
    with atomic_output(head_path) as th, atomic_output(phot_path) as tp:
        write_tables(th, tp, prefix, model, tag, head, phot)
    log.info(
        "mock %s chunk %s: %d objects, %d observations; %d of %d simulated candidates never detected (dropped)",
        model,
        tag,
        n,
        int(objs.nobs.sum()) if objs is not None else 0,
        undetected,
        tried,
    )
    return head_path, phot_path


def _check(models: list[str], n_chunks: int, objects_per_chunk: float, seed: int, prefix: str, mix: str) -> None:
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InputError(f"unknown mock model(s) {unknown}: choose from {', '.join(MODELS)}")
    if mix not in MIXES:
        raise InputError(f"mock mix must be one of {', '.join(MIXES)}, got {mix!r}")
    if not 1 <= n_chunks <= MAX_CHUNKS:
        raise InputError(f"mock chunks must be between 1 and {MAX_CHUNKS}, got {n_chunks}")
    if not 0 <= objects_per_chunk <= MAX_OBJECTS_PER_CHUNK:
        raise InputError(
            f"mock objects_per_chunk must be between 0 and {MAX_OBJECTS_PER_CHUNK}, got {objects_per_chunk}"
        )
    if seed < 0:
        raise InputError(f"mock seed must be a non-negative integer, got {seed}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
        raise InputError(f"mock prefix {prefix!r} may only hold letters, digits, '_', '.' and '-'")


def generate(
    outdir: str | Path,
    models: list[str] | None = None,
    n_chunks: int = 2,
    objects_per_chunk: float = 100,
    seed: int = 42,
    prefix: str = "ELASTICC2_TRAIN_02",
    mix: str = "equal",
) -> list[tuple[Path, Path]]:
    """Write ``n_chunks`` chunk pairs for each model (default: all 32) under ``outdir`` in the
    real layout ``<prefix>_<MODEL>/<prefix>_NONIaMODEL0-<NNNN>_{HEAD,PHOT}.FITS.gz``.

    Each chunk holds Poisson(``objects_per_chunk`` x the model's share) objects, every one detected
    at least once; ``mix`` sets the shares (``catalog.relative_numbers``: ``equal``, or
    ``published``, the ELAsTiCC2 training set's relative numbers; mean 1 over the 32 models).
    Returns the (HEAD, PHOT) paths written. Synthetic data, not for science.
    """
    models = list(MODELS) if models is None else list(models)
    _check(models, n_chunks, objects_per_chunk, seed, prefix, mix)
    share = relative_numbers(mix)
    return [
        write_chunk(outdir, prefix, m, c, objects_per_chunk * share[m], seed)
        for m in models
        for c in range(1, n_chunks + 1)
    ]
