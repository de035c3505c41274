"""Benchmark the mock generator: objects per second on one core at realistic light-curve lengths.

    .venv/bin/python bench/mock.py [--objects 4000] [--models all] [--repeat 2] [--layout] [--check-span N]

For each model (default: all 32) one real-size chunk of ``--objects`` objects (Poisson mean)
is written ``--repeat`` times; the best CPU time per chunk counts. In the same process, on the
same tables, it times the floor: writing the finished HEAD/PHOT arrays with the same FITS/gzip
writer (what any generator of these files must pay). Prints, per model and in total:
objects, mean observations per object, CPU seconds, objects/s (goal >= 5,000 on one core),
ratio ours / floor, and the peak RSS of the process. ``--layout`` also writes the full real
layout (32 models x 40 chunks) at 2 objects per chunk and checks every pair was written.
``--check-span N`` instead simulates N candidates of each transient model over its whole window and
counts the detected ones that simulating only the detectable span (what the generator does) loses.
Ratios, not absolute times, compare across machines: this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from elasticc_classification.mock import MODELS, generate  # noqa: E402
from elasticc_classification.mock import generator as g  # noqa: E402


def _cpu() -> float:
    return time.process_time()


def floor_write(outdir: Path, model: str, objects: int, seed: int) -> tuple[float, int, int]:
    """(CPU s to write already-simulated tables of one chunk, objects, observations)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, g.MODEL_INDEX[model], 1]))
    n = int(rng.poisson(objects))
    objs, _, _ = g.simulate_detected(model, n, rng)
    head, phot = g.build_tables(model, 1, objs, n, seed)
    t = _cpu()
    g.write_tables(outdir / "floor_HEAD.FITS.gz", outdir / "floor_PHOT.FITS.gz", "P", model, "0001", head, phot)
    return _cpu() - t, n, int(objs.nobs.sum())


def check_span(models: list[str], n: int, seed: int) -> int:
    """Detected transients lost by simulating only their detectable span: ``n`` candidates per model
    simulated over their whole window; prints, per model, those detected anywhere and those with no
    detection inside ``lightcurves.detectable_span`` (the generator drops these). Returns the total lost."""
    from elasticc_classification.mock import lightcurves as L
    from elasticc_classification.mock import observing as O
    from elasticc_classification.mock.models import SPECS
    from elasticc_classification.mock.sky import draw_sky

    lost_all = 0
    for model in models:
        spec = SPECS[model]
        if spec.family != "transient":
            continue
        rng = np.random.default_rng(np.random.SeedSequence([seed, g.MODEL_INDEX[model]]))
        P = L.sample(spec, n, rng)
        ra, _, mwebv = draw_sky(rng, n, None)
        pm = L.transient_peakmag(spec, P, mwebv).min(axis=1)
        cad = O.draw_cadence(rng, P["t_lo"], P["t_hi"], ra, rng.uniform(O.SEASON_DAYS[0], O.SEASON_DAYS[1], size=n))
        flux = L.transient_flux(spec, P, cad, mwebv)
        det = O.detect(rng, flux, O.flux_error(cad, flux, np.zeros(len(flux)))[0])
        o = cad.obj
        found = (np.bincount(o[det], minlength=n) > 0) & (pm < L.NEVER_DETECTED_MAG)
        before, after = L.detectable_span(P, pm)
        inside = (cad.mjd >= P["t_ref"][o] - before[o]) & (cad.mjd <= P["t_ref"][o] + after[o])
        lost = found & ~(np.bincount(o[det & inside], minlength=n) > 0)
        share = inside[(pm < L.NEVER_DETECTED_MAG)[o]].sum() / max((pm < L.NEVER_DETECTED_MAG).sum(), 1)
        print(f"{model:22s} detected {found.sum():6d}  lost {lost.sum():3d}  span obs/candidate {share:5.0f}")
        lost_all += int(lost.sum())
    return lost_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=4000, help="objects per chunk (Poisson mean)")
    ap.add_argument("--models", nargs="+", default=["all"])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--layout", action="store_true", help="also write the full 32 x 40 layout at 2 objects/chunk")
    ap.add_argument(
        "--check-span", type=int, default=0, metavar="N", help="only check the detectable span on N candidates/model"
    )
    args = ap.parse_args(argv)
    models = list(MODELS) if args.models == ["all"] else args.models
    if args.check_span:
        print(f"lost in total: {check_span(models, args.check_span, args.seed)}")
        return 0
    tot_obj = tot_obs = 0
    tot_ours = tot_floor = 0.0
    print(f"{'model':22s} {'objects':>7s} {'obs/obj':>7s} {'cpu_s':>7s} {'obj/s':>8s} {'ours/floor':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for model in models:
            best = np.inf
            for _ in range(args.repeat):
                t = _cpu()
                g.write_chunk(out, "BENCH", model, 1, args.objects, args.seed)
                best = min(best, _cpu() - t)
            floors = [floor_write(out, model, args.objects, args.seed) for _ in range(args.repeat)]
            fl = min(f[0] for f in floors)
            _, n, nobs = floors[0]  # the same simulated chunk every time
            tot_obj += n
            tot_obs += nobs
            tot_ours += best
            tot_floor += fl
            print(f"{model:22s} {n:7d} {nobs / max(n, 1):7.0f} {best:7.3f} {n / best:8.0f} {best / fl:10.2f}")
        print(
            f"{'TOTAL':22s} {tot_obj:7d} {tot_obs / tot_obj:7.0f} {tot_ours:7.3f} {tot_obj / tot_ours:8.0f} "
            f"{tot_ours / tot_floor:10.2f}"
        )
        print(
            f"goal >= 5000 objects/s on one core: {'met' if tot_obj / tot_ours >= 5000 else 'NOT met'} "
            f"({tot_obj / tot_ours:.0f} objects/s, CPU time)"
        )
        if args.layout:
            t = time.perf_counter()
            pairs = generate(out / "layout", n_chunks=40, objects_per_chunk=2, seed=args.seed)
            ok = all(h.exists() and p.exists() for h, p in pairs)
            print(f"full layout: {len(pairs)} pairs in {time.perf_counter() - t:.1f} s wall, all written: {ok}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
