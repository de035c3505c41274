"""The full ELAsTiCC2 layout (32 models x 40 chunks = 1,280 pairs, 2,597 jobs): the DAG builds.

A tiny mock sample written in the real layout (2 objects per chunk); the dry run of the whole
workflow (`rule all`) over it plans one convert and one tensorize job per chunk pair, with the
plain local set-up and with the SLURM profile (group jobs). How long the DAG takes is measured by
bench/dag.py (a ratio to Snakemake's start-up in the same run), not asserted here: a wall-clock
limit fails on a loaded machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from wfutil import copy_workflow, job_counts, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake workflows: the full suite, not the fast set

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
def test_full_layout_dag_plans_every_chunk(layout: tuple[Path, Path], profile: list[str]) -> None:
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
    r = snakemake(wf, *args, timeout=600)
    counts = job_counts(r.stdout + r.stderr)
    assert counts["convert"] == counts["tensorize"] == N_MODELS * N_CHUNKS
    assert counts["lightcurve_gallery"] == N_MODELS
    assert counts["train"] == 1 and counts["total"] >= 2 * N_MODELS * N_CHUNKS + 1
