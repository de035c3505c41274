"""Helpers for the workflow-level tests (reruns, scale, SLURM): a private copy of the workflow,
running Snakemake in it, and reading which jobs a dry run plans."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "workflow_tests" / "tiny_config.yaml"
# Top-level entries a workflow copy leaves out (everything else, e.g. rules/, scripts/, config/,
# profiles/, envs/, report/, is copied); the package is imported from the installed (editable) src/.
SKIP = {".git", ".venv", ".snakemake", ".ci", "results", "data", "src", "bench", "docs", "workflow_tests", ".pytest_cache"}
_JOB = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_WC = re.compile(r"^\s*wildcards: (.*)$")


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow definition into ``dest`` so a test can edit scripts and keep its own
    .snakemake/ metadata, away from the shared working tree."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for src in sorted(ROOT.iterdir()):
        name = src.name
        if name in SKIP or name.startswith(".") or name.endswith(".egg-info"):
            continue
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def snakemake(wf: Path, *args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in the workflow copy ``wf``; raise with the output's tail when it fails."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    r = subprocess.run(cmd, cwd=wf, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}")
    return r


def planned(r: subprocess.CompletedProcess) -> dict[str, set[str]]:
    """rule -> set of wildcard strings (``""`` for jobs without wildcards) of a dry run's jobs."""
    jobs: dict[str, set[str]] = defaultdict(set)
    rule, wc = None, ""
    for line in (r.stdout + "\n" + r.stderr).splitlines():
        m = _JOB.match(line)
        if m or (rule is not None and (not line.strip() or line.startswith("Job stats"))):
            if rule is not None:
                jobs[rule].add(wc)
            rule, wc = (m[1], "") if m else (None, "")
            continue
        m = _WC.match(line)
        if m and rule is not None:
            wc = m[1].strip()
    if rule is not None:
        jobs[rule].add(wc)
    return dict(jobs)


def dry_run(wf: Path, *args: str) -> dict[str, set[str]]:
    """Jobs a dry run of ``wf`` with ``args`` would run (empty when everything is up to date)."""
    r = snakemake(wf, "--dry-run", "--cores", "1", *args)
    jobs = planned(r)
    if not jobs:
        assert "Nothing to be done" in r.stdout + r.stderr, f"no jobs parsed from a dry run that has work:\n{r.stdout[-3000:]}"
    return jobs
