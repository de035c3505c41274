"""The tiny workflow end to end through a real one-node SLURM cluster (profiles/slurm + CI overlay).

workflow_tests/slurm_cluster.sh installs slurm-wlm and munge when missing (apt-get, root), starts
munged, slurmctld and slurmd on localhost, and stops them afterwards. Skipped, with the reason,
only when the packages cannot be installed or a real SLURM set-up owns /etc/slurm/slurm.conf.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from wfutil import ROOT, TINY, copy_workflow, dry_run, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
CLUSTER = ROOT / "workflow_tests" / "slurm_cluster.sh"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("slurm")
    r = subprocess.run(["bash", str(CLUSTER), "start", str(d)], capture_output=True, text=True, timeout=600)
    if r.returncode in (3, 4):
        pytest.skip(f"no test SLURM cluster: {r.stderr.strip()}")
    try:
        assert r.returncode == 0, f"one-node SLURM did not start:\n{r.stdout}\n{r.stderr}"
        yield {"SLURM_CONF": str(d / "slurm.conf")}
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(d)], capture_output=True, timeout=120)


def _jobs(env: dict) -> list[tuple[str, str, str]]:
    """(job id, name, state) of every job slurmctld remembers (MinJobAge=300 s keeps finished ones)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%j|%T"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    return [tuple(line.split("|")) for line in out.stdout.split()]


def test_tiny_workflow_through_slurm(cluster: dict, tmp_path: Path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    results = tmp_path / "results"
    cores = str(min(2, os.cpu_count() or 1))
    args = [
        "--profile",
        "profiles/slurm",
        "--workflow-profile",
        "profiles/ci-slurm",
        "--cores",
        cores,
        "--configfile",
        str(TINY),
        "--config",
        f"results_dir={results}",
    ]
    plan = dry_run(wf, *args)
    n_chunk_jobs = len(plan.get("convert", ())) + len(plan.get("tensorize", ()))
    assert n_chunk_jobs == 12, plan
    groups = yaml.safe_load((wf / "profiles" / "slurm" / "config.v8+.yaml").read_text())["groups"]
    # Each group of the profile is one SLURM job here (the tiny DAG fits group-components); "all" is local.
    expect_slurm_jobs = len({groups[k] for k in plan if k in groups}) + sum(
        len(v) for k, v in plan.items() if k not in groups and k != "all"
    )
    snakemake(wf, *args, timeout=1200, env=cluster)

    # Outputs of every stage, and each job's own log.
    assert len(list((results / "parquet").glob("*/*.parquet"))) == 6
    assert len(list((results / "shards").glob("*/*.arrow"))) == 6
    assert (results / "model" / "model.ckpt").stat().st_size > 0
    assert (results / "evaluation" / "metrics.json").stat().st_size > 0
    assert len(list((results / "logs" / "convert").glob("*/*.log"))) == 6

    # Jobs really went through SLURM and all completed; the 12 per-chunk jobs shared one group job.
    jobs = _jobs(cluster)
    assert jobs and all(state == "COMPLETED" for _, _, state in jobs), jobs
    group_logs = list((wf / ".snakemake" / "slurm_logs").glob("group_chunks*/*.log"))
    assert len(group_logs) == 1, f"convert+tensorize of 6 chunks should be one SLURM job: {group_logs}"
    assert len(jobs) == expect_slurm_jobs, (
        f"{len(jobs)} SLURM jobs, expected {expect_slurm_jobs} (per-chunk jobs grouped): {jobs}"
    )

    # Up to date afterwards, seen through the same profiles.
    assert dry_run(wf, *args) == {}


def test_ddp_launched_by_srun_trains_one_model(cluster: dict, tmp_path: Path) -> None:
    """The multi-GPU recipe of README (sbatch --ntasks-per-node=G + srun ... train), with CPU
    processes (gloo) in place of GPUs: Lightning reads the SLURM task layout, the two srun tasks form
    one DDP group, and rank 0 alone writes one artifact."""
    import sys

    from elasticc_classification.features.shards import write_shard
    from elasticc_classification.features.taxonomy import Taxonomy
    from elasticc_classification.model.data import synthetic_shard
    from elasticc_classification.model.module import load_model

    tax = Taxonomy.load(ROOT / "config" / "taxonomy.yaml")
    shards = []
    for i in range(2):
        shards.append(tmp_path / f"chunk{i}.arrow")
        write_shard(synthetic_shard(600, tax, seed=i, median_length=30, max_length=150), shards[-1])
    cfg = {
        "taxonomy": str(ROOT / "config" / "taxonomy.yaml"),
        "train": {
            "accelerator": "cpu",
            "devices": 2,
            "num_nodes": 1,
            "strategy": "ddp",
            "max_epochs": 1,
            "batch_size": 64,
            "progress_bar": False,
            "threads": 1,
            "val_days": [8],
            "model": {"hidden": 16, "layers": 1},
        },
        "augment": {"mode": "days"},
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "model" / "model.ckpt"
    log = tmp_path / "ddp.log"
    train = f"{sys.executable} -m elasticc_classification.cli train {' '.join(map(str, shards))} --out {out} --config {tmp_path / 'cfg.yaml'}"
    env = {**os.environ, **cluster, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--nodes=1",
            "--ntasks-per-node=2",
            "--cpus-per-task=1",
            "--mem=3000",
            f"--output={log}",
            f"--chdir={tmp_path}",
            "--job-name=ddp-test",
            f"--wrap=srun {train}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    text = log.read_text() if log.exists() else ""
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{text[-3000:]}"
    assert "2 process(es)" in text, text[-3000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in text and "GLOBAL_RANK: 1, MEMBER: 2/2" in text, text[-3000:]
    assert "SLURM auto-requeueing enabled" in text, "Lightning did not take the SLURM environment"
    assert text.count(f"wrote {out} ") == 1, "rank 0 alone writes the artifact"
    m = load_model(out)
    assert m.artifact_meta["epochs_run"] == 1
    assert not list(out.parent.glob("*.tmp*")), "partial outputs left"
