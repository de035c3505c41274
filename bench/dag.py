"""How long Snakemake takes to build the DAG of the full ELAsTiCC2 layout (32 models x 40 chunks).

A mock sample in the real layout (2 objects per chunk: file discovery and job count as for the real
7.4 GB set), a private copy of the workflow, then, interleaved, ``snakemake --version`` (the
start-up baseline: Python, Snakemake's imports) and the dry run of ``rule all`` (local, and with
the SLURM profile's group jobs). Printed: the best and median wall time of each, the dry run as a ratio to the start-up measured in the same run
(robust on a shared machine), and the peak RSS of each child process.

    .venv/bin/python bench/dag.py [--repeat 3] [--chunks 40] [--raw DIR] [--workflow DIR]

``--workflow`` measures another checkout's workflow (e.g. an older commit unpacked with
``git archive``; run with ``PYTHONPATH=DIR/src`` to use its package too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow_tests"))
from wfutil import copy_workflow, job_counts  # noqa: E402

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall time (s), peak RSS (MiB) of the child and its output; raises when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (interleaved)")
    ap.add_argument("--chunks", type=int, default=40, help="chunk pairs per model (the real set: 40)")
    ap.add_argument("--raw", type=Path, help="an existing raw directory in the real layout (default: a mock one)")
    ap.add_argument(
        "--workflow", type=Path, default=ROOT, help="checkout whose workflow to measure (default: this one)"
    )
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_dag_") as tmp:
        base = Path(tmp)
        raw = a.raw
        if raw is None:
            from elasticc_classification.mock import generate

            raw = base / "raw"
            t0 = time.perf_counter()
            pairs = generate(raw, n_chunks=a.chunks, objects_per_chunk=2, seed=42)
            print(f"mock layout: {len(pairs)} chunk pairs in {time.perf_counter() - t0:.1f} s")
        wf = copy_workflow(base / "wf", a.workflow)
        config = ["--config", f"raw_dir={raw}", f"results_dir={base / 'results'}"]
        cmds = {
            "snakemake --version (start-up)": [str(SNAKEMAKE), "--version"],
            "dry run, local": [str(SNAKEMAKE), "--dry-run", "--quiet", "rules", "--cores", "2", *config],
            "dry run, SLURM profile": [
                str(SNAKEMAKE),
                "--dry-run",
                "--quiet",
                "rules",
                "--cores",
                "2",
                "--workflow-profile",
                "profiles/slurm",
                *config,
            ],
        }
        walls: dict[str, list[float]] = {k: [] for k in cmds}
        rss: dict[str, float] = dict.fromkeys(cmds, 0.0)
        jobs = 0
        for _ in range(a.repeat):
            for name, cmd in cmds.items():
                w, m, out = timed(cmd, wf)
                walls[name].append(w)
                rss[name] = max(rss[name], m)
                jobs = job_counts(out).get("total", jobs)
        start = min(walls["snakemake --version (start-up)"])
        print(f"{jobs} jobs; {a.repeat} interleaved runs of each; wall s best / median; peak RSS of the process")
        for name in cmds:
            best, med = min(walls[name]), statistics.median(walls[name])
            ratio = "" if name.startswith("snakemake --version") else f"  {best / start:5.1f}x start-up"
            print(f"  {name:32s} {best:6.2f} / {med:6.2f} s{ratio}  {rss[name]:7.0f} MiB")


if __name__ == "__main__":
    main()
