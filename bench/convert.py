"""Benchmark the converter on a real-size chunk against the gzip floor and a per-object converter.

    .venv/bin/python bench/convert.py [--workdir DIR] [--repeat 3] [--objects 4000]

Builds a real-size chunk (about 4,000 objects, 600,000 PHOT rows) by repeating the real
SNIb-Templates light curves of ../shared/realdata under new SNIDs (written with astropy, gzipped),
then times whole processes, interleaved, ``--repeat`` rounds (best wall time and its peak RSS;
the slow per-object converter at most twice):

- floor: ``gzip -dc HEAD PHOT > /dev/null``;
- ours: ``python -m elasticc_classification.cli convert HEAD PHOT OUT.parquet``;
- astropy: ``astropy.io.fits`` reads both tables, then the same conversion, vectorised with numpy
  and pyarrow (pointers -> list columns, strings stripped): what a careful converter without our own
  FITS reader would do;
- per-object: ``sncosmo.read_snana_fits`` then one row per object (the original scripts' way).

Prints wall seconds, peak RSS (MB, ``wait4`` rusage of the child) and the ratios
ours / floor (goal <= 4), astropy / ours and per-object / ours (goal >= 8). Ratios, not absolute times, are the
result: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata" / "elasticc2_train_1percent" / "ELASTICC2_TRAIN_01_1percent_SNIb-Templates"


def build_chunk(outdir: Path, n_objects: int) -> tuple[Path, Path]:
    """Write a HEAD/PHOT pair of about ``n_objects`` objects from the real SNIb light curves."""
    import numpy as np
    from astropy.io import fits

    heads, lcs = [], []
    for head in sorted(REAL.glob("*_HEAD.FITS.gz")):
        h = fits.getdata(head, 1)
        p = fits.getdata(str(head).replace("_HEAD", "_PHOT"), 1)
        if len(h) == 0:
            continue
        heads.append(h)
        for lo, hi in zip(h["PTROBS_MIN"] - 1, h["PTROBS_MAX"] + 1):  # light curve + its separator row
            lcs.append(p[lo:hi])
    head_all = np.concatenate([np.asarray(h) for h in heads])
    reps = -(-n_objects // len(head_all))
    idx = np.tile(np.arange(len(head_all)), reps)[:n_objects]
    new_head = head_all[idx].copy()
    phot_parts = [np.asarray(lcs[i]) for i in idx]
    sizes = np.array([len(x) for x in phot_parts])
    ends = np.cumsum(sizes)
    new_head["SNID"] = np.char.ljust(np.arange(10_000_001, 10_000_001 + len(idx)).astype("U16"), 16).astype("S16")
    new_head["PTROBS_MIN"] = ends - sizes + 1
    new_head["PTROBS_MAX"] = ends - 1  # excludes the separator row
    new_phot = np.concatenate(phot_parts)
    hdr_h = fits.getheader(next(REAL.glob("*_HEAD.FITS.gz")), 1)
    hdr_p = fits.getheader(next(REAL.glob("*_PHOT.FITS.gz")), 1)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, data, hdr in (("HEAD", new_head, hdr_h), ("PHOT", new_phot, hdr_p)):
        path = outdir / f"BENCH_NONIaMODEL0-0001_{kind}.FITS.gz"
        hdu = fits.BinTableHDU(data=data, header=hdr)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
        paths.append(path)
    return paths[0], paths[1]


def per_object_convert(head: str, phot: str, out: str) -> None:
    """The straightforward converter: sncosmo reads one astropy Table per object; one row each."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sncosmo

    rows = []
    for lc in sncosmo.read_snana_fits(head, phot):
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in lc.meta.items()}
        keep = lc[lc["MJD"] != -777.0]
        keep.sort("MJD")
        for c in keep.colnames:
            col = keep[c]
            row[c] = [s.strip() for s in col.astype(str)] if col.dtype.kind in "SU" else col.data.tolist()
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), out, compression="zstd")


def astropy_convert(head: str, phot: str, out: str) -> None:
    """The same conversion on astropy's FITS reader: every column materialised, PHOT rows gathered
    per object from the HEAD pointers (separators dropped), vectorised; strings stripped."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.io import fits

    h, p = fits.getdata(head, 1), fits.getdata(phot, 1)

    def arrow(a: np.ndarray) -> pa.Array:
        if a.dtype.kind in "SU":
            return pa.array(np.char.strip(a.astype(str)))
        return pa.array(a.astype(a.dtype.newbyteorder("=")))

    lo = np.asarray(h["PTROBS_MIN"], np.int64) - 1
    sizes = np.asarray(h["PTROBS_MAX"], np.int64) - lo
    offsets = np.r_[0, np.cumsum(sizes)]
    rows = np.repeat(lo, sizes) + (np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes))
    mjd = np.asarray(p["MJD"])[rows]
    order = np.lexsort((mjd, np.repeat(np.arange(len(sizes)), sizes)))  # MJD order within objects
    rows = rows[order]
    cols = {n: arrow(np.asarray(h[n])) for n in h.columns.names}
    off = pa.array(offsets.astype(np.int32))
    for n in p.columns.names:
        cols[n] = pa.ListArray.from_arrays(off, arrow(np.asarray(p[n])[rows]))
    pq.write_table(pa.table(cols), out, compression="zstd")


def _time_child(cmd: list[str]) -> None:
    """Run ``cmd`` from this lean process (stdlib only, so the child's peak RSS is its own:
    ``ru_maxrss`` keeps the parent's high-water mark across fork/exec); print wall s and MB."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(err.decode()[-2000:])
        raise SystemExit(code)
    print(f"{wall} {usage.ru_maxrss / 1024}")  # ru_maxrss is in KiB on Linux


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child process, measured by a lean timer process."""
    r = subprocess.run([sys.executable, "-S", __file__, "--time", *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    wall, mb = map(float, r.stdout.split())
    return wall, mb


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--time"]:
        _time_child(argv[1:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=None, help="where the chunk is built (default: a temporary dir)")
    ap.add_argument("--objects", type=int, default=4400, help="objects in the chunk (4400: about 600,000 PHOT rows)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-per-object", action="store_true", help="skip the slow per-object converter")
    ap.add_argument("--per-object", nargs=3, metavar=("HEAD", "PHOT", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--astropy", nargs=3, metavar=("HEAD", "PHOT", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--build", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.build:
        build_chunk(Path(args.build[0]), int(args.build[1]))
        return
    if args.per_object:
        per_object_convert(*args.per_object)
        return
    if args.astropy:
        astropy_convert(*args.astropy)
        return
    tmp = tempfile.TemporaryDirectory(prefix="bench_convert_") if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    head, phot = work / "BENCH_NONIaMODEL0-0001_HEAD.FITS.gz", work / "BENCH_NONIaMODEL0-0001_PHOT.FITS.gz"
    if not (head.exists() and phot.exists()):  # built in a child so this process stays small
        subprocess.run([sys.executable, __file__, "--build", str(work), str(args.objects)], check=True)
    gz_mb = (head.stat().st_size + phot.stat().st_size) / 1e6
    ours_out, ref_out, apy_out = work / "ours.parquet", work / "per_object.parquet", work / "astropy.parquet"

    cmds = {
        "true": ["true"],
        "floor": ["gzip", "-dc", str(head), str(phot)],
        "ours": [
            sys.executable,
            "-m",
            "elasticc_classification.cli",
            "convert",
            str(head),
            str(phot),
            str(ours_out),
            "--model",
            "SNIb-Templates",
        ],
        "astropy": [sys.executable, __file__, "--astropy", str(head), str(phot), str(apy_out)],
        "ref": [sys.executable, __file__, "--per-object", str(head), str(phot), str(ref_out)],
    }
    if args.skip_per_object:
        del cmds["ref"]
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for i in range(args.repeat):  # interleaved, so that every command sees the same machine load
        for k, cmd in cmds.items():
            if k != "ref" or i < 2:  # the slow per-object converter: at most twice
                runs[k].append(timed(cmd))
    empty, floor, ours = min(runs["true"]), min(runs["floor"]), min(runs["ours"])
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(ours_out, columns=["SNID", "MJD", "FLUXCAL"])
    n_obs = len(pc.list_flatten(t["MJD"]))
    print(f"chunk: {t.num_rows} objects, {n_obs} observations, {gz_mb:.1f} MB gzipped ({head.name} + PHOT)")
    print(f"`true` (timer floor)    {empty[0]:7.3f} s  peak RSS {empty[1]:7.1f} MB")
    print(f"gzip -dc (floor)       {floor[0]:7.3f} s  peak RSS {floor[1]:7.1f} MB")
    print(
        f"convert (this package) {ours[0]:7.3f} s  peak RSS {ours[1]:7.1f} MB   ratio to floor {ours[0] / floor[0]:.2f} (goal <= 4)"
    )
    apy = min(runs["astropy"])
    a = pq.read_table(apy_out, columns=["SNID", "MJD", "FLUXCAL"])
    same_a = a.num_rows == t.num_rows and pc.list_flatten(a["MJD"]).equals(pc.list_flatten(t["MJD"]))
    print(
        f"astropy.io.fits + numpy {apy[0]:7.3f} s  peak RSS {apy[1]:7.1f} MB   ours is {apy[0] / ours[0]:.1f}x faster; "
        f"same light curves: {same_a}"
    )
    if not args.skip_per_object:
        ref = min(runs["ref"])
        r = pq.read_table(ref_out, columns=["SNID", "MJD", "FLUXCAL"])
        same = (
            r.num_rows == t.num_rows
            and pc.list_flatten(r["MJD"]).equals(pc.list_flatten(t["MJD"]))
            and np.allclose(
                pc.list_flatten(r["FLUXCAL"]).to_numpy(), pc.list_flatten(t["FLUXCAL"]).to_numpy(), equal_nan=True
            )
        )
        print(
            f"per-object (sncosmo)   {ref[0]:7.3f} s  peak RSS {ref[1]:7.1f} MB   speed-up {ref[0] / ours[0]:.1f}x (goal >= 8); "
            f"same light curves: {same}"
        )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
