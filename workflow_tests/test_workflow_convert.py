"""The convert rule under Snakemake: one parquet per real chunk pair, clean failures."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from wfutil import SNIB, job_counts, pair, run_workflow, stage_snakefile

from elasticc_classification.io import layout

pytestmark = pytest.mark.slow  # runs Snakemake workflows: the full suite, not the fast set


def test_one_parquet_per_real_pair(realdata, tmp_path):
    raw = realdata / "elasticc2_train_1percent"
    results = tmp_path / "results"
    targets = [str(results / "parquet" / p.model / f"{p.chunk}.parquet") for p in layout.find_pairs(raw)]
    r = run_workflow(tmp_path, results, raw, *targets)
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
    again = run_workflow(tmp_path, results, raw, "-n", *targets)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_rule_all_includes_every_parquet(realdata, tmp_path):
    """The convert stage adds one parquet per pair to ALL_TARGETS (checked on a Snakefile of
    this stage alone, so that stages still being written cannot break this test)."""
    raw = realdata / "elasticc2_train_1percent"
    snakefile = stage_snakefile(tmp_path, "convert")
    r = run_workflow(tmp_path, tmp_path / "results", raw, "-n", "--snakefile", str(snakefile))
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    counts = job_counts(out)
    assert counts.get("convert") == 60 and counts.get("all") == 1, out[-2000:]


def test_bad_pair_fails_cleanly(realdata, tmp_path):
    head, phot = pair(realdata, SNIB, 2)
    raw = tmp_path / "raw" / head.parent.name
    raw.mkdir(parents=True)
    (raw / head.name).write_bytes(head.read_bytes())
    data = phot.read_bytes()
    (raw / phot.name).write_bytes(data[: len(data) // 2])
    results = tmp_path / "results"
    out = results / "parquet/SNIb-Templates/0002.parquet"
    r = run_workflow(tmp_path, results, raw.parent, str(out))
    assert r.returncode != 0
    assert not out.exists()
    log = (results / "logs/convert/SNIb-Templates/0002.log").read_text()
    assert "truncated gzip" in log and "PHOT.FITS.gz" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("damage, message", [("drop_phot", "has no PHOT partner"), ("empty", "no SNANA chunk pairs")])
def test_bad_raw_dir_fails_before_any_job(realdata, tmp_path, damage, message):
    head, _ = pair(realdata, SNIB, 1)
    raw = tmp_path / "raw" / head.parent.name
    raw.mkdir(parents=True)
    if damage == "drop_phot":
        shutil.copy(head, raw)
    results = tmp_path / "results"
    r = run_workflow(tmp_path, results, raw.parent, "-n")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not results.exists()
