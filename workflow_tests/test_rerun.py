"""Only stale steps rerun (rerun-triggers: mtime, input, params, software-env; not code).

One complete run of the tiny workflow on a raw directory (mock files written once, so they are
inputs like the real download), in a private copy of the workflow; then dry runs after each change.
Files <= 1 MB are compared by checksum, so every change below changes contents, not only mtimes.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from wfutil import TINY, copy_workflow, dry_run, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake workflows: the full suite, not the fast set

MODELS = ["SNIa-SALT3", "SNII-NMF", "Mdwarf-flare"]
PER_CHUNK = {"convert", "tensorize"}
DOWNSTREAM = {"train", "evaluate"}  # read every chunk's shard / the model


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A workflow copy after one complete run; returns (workflow dir, snakemake args)."""
    base = tmp_path_factory.mktemp("rerun")
    wf = copy_workflow(base / "wf")
    raw = base / "raw"
    tiny = yaml.safe_load(TINY.read_text())["mock"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "elasticc_classification.cli",
            "mock",
            str(raw),
            "--models",
            *tiny["models"],
            "--chunks",
            str(tiny["chunks"]),
            "--objects-per-chunk",
            str(tiny["objects_per_chunk"]),
            "--seed",
            str(tiny["seed"]),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    args = ["--configfile", str(TINY), "--config", f"raw_dir={raw}", f"results_dir={base / 'results'}"]
    snakemake(wf, "--cores", "2", *args)
    return wf, args


def _chunk_files(raw: Path, model: str, chunk: str) -> list[Path]:
    return sorted(raw.glob(f"*_{model}/*-{chunk}_*.FITS.gz"))


def test_complete_run_leaves_nothing_to_do(done: tuple[Path, list[str]]) -> None:
    wf, args = done
    assert dry_run(wf, *args) == {}


def test_comment_in_a_script_reruns_nothing(done: tuple[Path, list[str]]) -> None:
    wf, args = done
    script = wf / "scripts" / "convert.py"
    original = script.read_text()
    script.write_text(original + "\n# a comment: no change in behaviour\n")
    try:
        assert dry_run(wf, *args) == {}, "a comment in scripts/convert.py must not rerun the chunks"
        # Control: with Snakemake's default triggers (code included) the same edit reruns every chunk.
        code_jobs = dry_run(wf, *args, "--rerun-triggers", "code", "input", "mtime", "params", "software-env")
        assert len(code_jobs.get("convert", ())) == 6
    finally:
        script.write_text(original)


def test_changed_raw_chunk_reruns_that_chunk_and_what_reads_all(done: tuple[Path, list[str]]) -> None:
    wf, args = done
    raw = Path(next(a for a in args if a.startswith("raw_dir=")).split("=", 1)[1])
    head = _chunk_files(raw, "SNII-NMF", "0002")[0]
    original = head.read_bytes()
    # Same FITS data, different gzip stream (level and header time): new contents, same meaning.
    head.write_bytes(gzip.compress(gzip.decompress(original), compresslevel=1, mtime=12345))
    try:
        jobs = dry_run(wf, *args)
        assert jobs.get("convert") == {"model=SNII-NMF, chunk=0002"}
        assert jobs.get("tensorize") == {"model=SNII-NMF, chunk=0002"}
        assert DOWNSTREAM <= set(jobs), f"train/evaluate must rerun, planned: {sorted(jobs)}"
        assert "mock" not in jobs
    finally:
        head.write_bytes(original)
    # Restored contents: Snakemake sees the checksum it recorded, nothing is stale again.
    assert dry_run(wf, *args) == {}


def test_changed_training_parameter_reruns_train_and_after_only(done: tuple[Path, list[str]], tmp_path: Path) -> None:
    wf, args = done
    more = tmp_path / "epochs.yaml"
    more.write_text("train: {max_epochs: 2}\n")
    i = args.index("--config")
    jobs = dry_run(wf, *args[:i], str(more), *args[i:])  # --configfile TINY more --config ...
    assert "train" in jobs and "evaluate" in jobs, f"planned: {sorted(jobs)}"
    assert not (PER_CHUNK & set(jobs)), f"convert/tensorize must not rerun, planned: {sorted(jobs)}"


def _with_config(args: list[str], path: Path) -> list[str]:
    """``args`` with config file ``path`` layered after the tiny config (before ``--config``)."""
    i = args.index("--config")
    return [*args[:i], str(path), *args[i:]]


ALL_CHUNKS = 6  # 3 models x 2 chunks
EVALUATION = {"calibrate", "evaluate", "evaluation_plots"}


@pytest.mark.parametrize(
    "change, expected",
    [
        # plot-only: the galleries, one per model, and nothing else
        ("tensorize: {gallery_objects: 2}", {"lightcurve_gallery": 3}),
        # resources and the progress bar are not params: nothing reruns
        ("train: {progress_bar: false, threads: 1, mem_mb: 4000, runtime: 30}", {}),
        ("evaluate: {threads: 1, mem_mb: 3000, runtime: 30}", {}),
        ("resources: {convert: {mem_mb: 700, runtime: 7}, tensorize: {mem_mb: 700, runtime: 7}}", {}),
        ("predict: {threads: 1, mem_mb: 1000, runtime_min: 5}", {}),
        # settings that change outputs rerun their rules and what reads their outputs
        (
            "tensorize: {test_fraction: 0.4}",
            {"tensorize": ALL_CHUNKS, "train": 1, **dict.fromkeys(EVALUATION, 1)},
        ),
        (
            "tensorize: {keep: all}",
            {"tensorize": ALL_CHUNKS, "lightcurve_gallery": 3, "train": 1, **dict.fromkeys(EVALUATION, 1)},
        ),
        ("augment: {max_log2_days: 10.0}", {"train": 1, **dict.fromkeys(EVALUATION, 1)}),
        ("evaluate: {reliability_bins: 5}", dict.fromkeys(EVALUATION, 1)),
        ("evaluate: {confusion_days: [0, 8]}", {"evaluate": 1, "evaluation_plots": 1}),
    ],
)
@pytest.mark.parametrize("triggers", [[], ["--rerun-triggers", "params"]], ids=["profile-triggers", "params-only"])
def test_a_setting_reruns_exactly_the_rules_whose_output_it_changes(
    done: tuple[Path, list[str]], tmp_path: Path, change: str, expected: dict[str, int], triggers: list[str]
) -> None:
    """Only settings marked x-changes for a rule in config/schema.yaml are its params (rules read
    them through elasticc_classification.config.rule_settings): the rest reruns nothing."""
    wf, args = done
    extra = tmp_path / "change.yaml"
    extra.write_text(change + "\n")
    jobs = dry_run(wf, *_with_config(args, extra), *triggers)
    counts = {rule: len(wcs) for rule, wcs in jobs.items() if rule != "all"}
    assert counts == expected, f"{change}: planned {jobs}"
