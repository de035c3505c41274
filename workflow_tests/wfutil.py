"""Helpers shared by the tests: a private copy of the workflow and running Snakemake in it (never in
the repository root, whose .snakemake/ and results/ belong to the people working there), a Snakefile
of a few stages, reading which jobs a dry run plans, the package CLI, and the paths of the real
SNANA chunk pairs in ../shared/realdata (the ``realdata`` fixture)."""

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
# What a workflow copy holds: the workflow definition (envs/ for --sdm conda); the package is
# imported from the installed (editable) src/.
WORKFLOW = ("Snakefile", "rules", "scripts", "config", "report", "profiles", "envs")
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
# real SNANA chunk pairs, relative to ../shared/realdata (conftest's ``realdata`` fixture)
SNIB = "elasticc2_train_1percent/ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
MDWARF = "elasticc2_train_1percent/ELASTICC2_TRAIN_01_1percent_Mdwarf-flare"
PREFIX = "ELASTICC2_TRAIN_01_1percent_NONIaMODEL0"
_JOB = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_WC = re.compile(r"^\s*wildcards: (.*)$")


def copy_workflow(dest: Path, root: Path = ROOT) -> Path:
    """Copy the workflow definition (:data:`WORKFLOW`) of ``root`` (this repository) into ``dest`` so
    a test can edit scripts and keep its own .snakemake/ metadata, away from the shared working tree.
    Returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in WORKFLOW:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def workflow(tmp: Path) -> Path:
    """The test's private workflow copy ``tmp/wf`` (made on first use)."""
    wf = tmp / "wf"
    if not (wf / "Snakefile").is_file():
        copy_workflow(wf)
    return wf


def snakemake(wf: Path, *args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in the workflow copy ``wf``; raise with the output's tail when it fails."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    r = subprocess.run(cmd, cwd=wf, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}"
        )
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
        assert "Nothing to be done" in r.stdout + r.stderr, (
            f"no jobs parsed from a dry run that has work:\n{r.stdout[-3000:]}"
        )
    return jobs


def job_counts(text: str) -> dict[str, int]:
    """rule -> job count (and ``total``) from the first "Job stats:" block of Snakemake's output
    (empty without one)."""
    start = text.find("Job stats:")
    if start < 0:
        return {}
    block = text[start:].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def stage_snakefile(dest: Path, *stages: str) -> Path:
    """A Snakefile in the workflow copy under ``dest`` (:func:`workflow`) of the common rules and
    ``stages`` (``rules/<stage>.smk``) alone, with ``rule all`` over ALL_TARGETS: stages still being
    written cannot break a test of it. Run it from its folder (``cwd=snakefile.parent``)."""
    wf = workflow(dest)
    snakefile = wf / f"Snakefile.{'_'.join(stages)}"
    snakefile.write_text(
        'configfile: "config/config.yaml"\n'
        + "".join(f'include: "rules/{s}.smk"\n' for s in ("common", *stages))
        + "rule all:\n    input: ALL_TARGETS\n    default_target: True\n"
    )
    return snakefile


def run_workflow(tmp: Path, results: Path, raw_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Snakemake (2 cores) in the workflow copy under ``tmp`` (:func:`workflow`) on ``raw_dir``
    with outputs under ``results``; the caller checks the exit status."""
    cmd = [str(SNAKEMAKE), *args, "--cores", "2", "--config", f"raw_dir={raw_dir}", f"results_dir={results}"]
    return subprocess.run(cmd, cwd=workflow(tmp), capture_output=True, text=True, timeout=600)


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    """``python -m elasticc_classification.cli ARGS`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "elasticc_classification.cli", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


def pair(realdata: Path, model_dir: str, chunk: int) -> tuple[Path, Path]:
    """HEAD and PHOT files of real chunk ``chunk`` of ``model_dir`` (:data:`SNIB`, :data:`MDWARF`)."""
    d = realdata / model_dir
    return d / f"{PREFIX}-{chunk:04d}_HEAD.FITS.gz", d / f"{PREFIX}-{chunk:04d}_PHOT.FITS.gz"
