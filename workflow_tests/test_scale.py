"""The full ELAsTiCC2 layout (32 models x 40 chunks = 1,280 pairs, 2,597 jobs): the DAG is fast.

A tiny mock sample written in the real layout (2 objects per chunk); the dry run of the whole
workflow (`rule all`) over it must take <= 10 s wall time on a 2-core machine, with the plain
local set-up and with the SLURM profile (group jobs). Best of two runs, to damp a busy machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from wfutil import copy_workflow, job_counts, snakemake

LIMIT_S = 10.0
N_MODELS, N_CHUNKS = 32, 40


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("scale")
    raw = base / "raw"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "elasticc_classification.cli",
            "mock",
            str(raw),
            "--chunks",
            str(N_CHUNKS),
            "--objects-per-chunk",
            "2",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return copy_workflow(base / "wf"), raw


@pytest.mark.parametrize("profile", [[], ["--workflow-profile", "profiles/slurm"]], ids=["local", "slurm-profile"])
def test_full_layout_dry_run_under_10_s(layout: tuple[Path, Path], profile: list[str]) -> None:
    wf, raw = layout
    assert len(list(raw.glob("*/*_HEAD.FITS.gz"))) == N_MODELS * N_CHUNKS
    args = [
        "--dry-run",
        "--quiet",
        "rules",
        "--cores",
        "2",
        *profile,
        "--config",
        f"raw_dir={raw}",
        f"results_dir={wf / 'results'}",
    ]
    walls = []
    for _ in range(2):
        t0 = time.perf_counter()
        r = snakemake(wf, *args, timeout=300)
        walls.append(time.perf_counter() - t0)
    counts = job_counts(r.stdout + r.stderr)
    assert counts["convert"] == counts["tensorize"] == N_MODELS * N_CHUNKS
    assert counts["train"] == 1 and counts["total"] >= 2 * N_MODELS * N_CHUNKS + 1
    print(
        f"dry run of {counts['total']} jobs ({' '.join(profile) or 'local'}): {', '.join(f'{w:.2f}' for w in walls)} s"
    )
    assert min(walls) <= LIMIT_S, f"DAG of the full layout took {min(walls):.1f} s (best of {walls}), limit {LIMIT_S} s"
