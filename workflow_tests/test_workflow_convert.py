"""The convert rule under Snakemake: one parquet per real chunk pair, clean failures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from elasticc_classification import layout

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(results: Path, raw_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the workflow from the repository root with outputs under ``results``."""
    cmd = [str(SNAKEMAKE), *args, "--cores", "2", "--config", f"raw_dir={raw_dir}", f"results_dir={results}"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_one_parquet_per_real_pair(realdata, tmp_path):
    raw = realdata / "elasticc2_train_1percent"
    results = tmp_path / "results"
    targets = [str(results / "parquet" / p.model / f"{p.chunk}.parquet") for p in layout.find_pairs(raw)]
    r = snakemake(results, raw, *targets)
    assert r.returncode == 0, r.stderr[-3000:]
    pairs = layout.find_pairs(raw)
    made = sorted(results.glob("parquet/*/*.parquet"))
    assert len(made) == len(pairs) == 60
    rows = {p: pq.ParquetFile(p).metadata.num_rows for p in made}
    assert sum(rows.values()) == 167
    assert sum(n == 0 for n in rows.values()) == 20  # empty pairs give 0-row parquets
    empty = next(p for p, n in rows.items() if n == 0)
    assert "MJD" in pq.read_schema(empty).names
    t = pq.read_table(results / "parquet/SNIb-Templates/0001.parquet", columns=["SNID", "MODEL"])
    assert t["SNID"].to_pylist()[0] == 1144924 and set(t["MODEL"].to_pylist()) == {"SNIb-Templates"}
    log = results / "logs/convert/SNIb-Templates/0001.log"
    assert "5 objects" in log.read_text()
    # Nothing left to do: outputs are cached per file.
    again = snakemake(results, raw, "-n", *targets)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_rule_all_includes_every_parquet(realdata, tmp_path):
    """The convert stage adds one parquet per pair to ALL_TARGETS (checked on a Snakefile of
    this stage alone, so that stages still being written cannot break this test)."""
    raw = realdata / "elasticc2_train_1percent"
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'configfile: "{ROOT}/config/config.yaml"\n'
        f'include: "{ROOT}/rules/common.smk"\n'
        f'include: "{ROOT}/rules/convert.smk"\n'
        "rule all:\n    input: ALL_TARGETS\n    default_target: True\n"
    )
    r = snakemake(tmp_path / "results", raw, "-n", "--snakefile", str(snakefile))
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get("convert") == 60 and counts.get("all") == 1, out[-2000:]


def test_bad_pair_fails_cleanly(realdata, tmp_path):
    src = realdata / "elasticc2_train_1percent" / "ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
    raw = tmp_path / "raw" / src.name
    raw.mkdir(parents=True)
    for kind in ("HEAD", "PHOT"):
        f = src / f"ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0002_{kind}.FITS.gz"
        data = f.read_bytes()
        (raw / f.name).write_bytes(data if kind == "HEAD" else data[: len(data) // 2])
    results = tmp_path / "results"
    out = results / "parquet/SNIb-Templates/0002.parquet"
    r = snakemake(results, raw.parent, str(out))
    assert r.returncode != 0
    assert not out.exists()
    log = (results / "logs/convert/SNIb-Templates/0002.log").read_text()
    assert "truncated gzip" in log and "PHOT.FITS.gz" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("damage, message", [("drop_phot", "has no PHOT partner"), ("empty", "no SNANA chunk pairs")])
def test_bad_raw_dir_fails_before_any_job(realdata, tmp_path, damage, message):
    src = realdata / "elasticc2_train_1percent" / "ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
    raw = tmp_path / "raw" / src.name
    raw.mkdir(parents=True)
    if damage == "drop_phot":
        shutil.copy(src / "ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0001_HEAD.FITS.gz", raw)
    results = tmp_path / "results"
    r = snakemake(results, raw.parent, "-n")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not results.exists()
