"""Evaluation: truncation by days since the first detection, metrics files and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from elasticc_classification.evaluation import evaluate as E
from elasticc_classification.evaluation import metrics as M
from elasticc_classification.features.augment import pad_windows
from elasticc_classification.features.shards import Shard
from elasticc_classification.features.taxonomy import Taxonomy


def _shard(rng: np.random.Generator, n: int = 40) -> Shard:
    lengths = rng.integers(1, 60, n)
    offsets = np.r_[0, np.cumsum(lengths)]
    # days since the first kept observation: non-decreasing, with repeated times (same night)
    steps = rng.choice([0.0, 0.02, 1.0, 3.0, 40.0], int(offsets[-1]))
    t = np.concatenate([np.cumsum(steps[a:b]) - steps[a] for a, b in zip(offsets[:-1], offsets[1:])])
    x = np.column_stack([t, rng.normal(size=len(t))]).astype(np.float32)
    first_det = (rng.random(n) * lengths).astype(np.int32)
    return Shard(
        snid=np.array([str(i) for i in range(n)], object),
        model=np.array(["m"] * n, object),
        leaf=np.zeros(n, np.int16),
        split=np.full(n, 2, np.int8),
        t0=np.zeros(n),
        first_det=first_det,
        static=np.zeros((n, 1), np.float32),
        x=x,
        offsets=offsets.astype(np.int64),
        meta={},
    )


@pytest.mark.parametrize("days", [0, 1, 2, 4, 64, 1024])
def test_truncation_removes_every_later_observation(days):
    sh = _shard(np.random.default_rng(days))
    ends = E.truncation_ends(sh, days)
    xb, lengths = pad_windows(sh.x, sh.offsets, np.arange(len(sh)), ends)
    t_first = sh.x[sh.offsets[:-1] + sh.first_det, 0]
    for i in range(len(sh)):
        lc = sh.light_curve(i)[:, 0]
        kept = xb[i, : lengths[i], 0]
        # kept: a prefix, everything up to the first detection, nothing later than first detection + d
        np.testing.assert_array_equal(kept, lc[: lengths[i]])
        assert lengths[i] >= sh.first_det[i] + 1
        assert np.all(kept <= t_first[i] + days)
        # every dropped observation is later than the cut
        assert np.all(lc[lengths[i] :] > t_first[i] + days)
        assert np.all(xb[i, lengths[i] :] == 0)
    np.testing.assert_array_equal(E.truncation_ends(sh, "full"), sh.lengths)


def test_subset_keeps_the_selected_light_curves():
    sh = _shard(np.random.default_rng(1), 10)
    keep = np.array([7, 2, 5])
    sub = E.subset(sh, keep)
    assert list(sub.snid) == ["7", "2", "5"]
    for j, i in enumerate(keep):
        np.testing.assert_array_equal(sub.light_curve(j), sh.light_curve(i))


def test_fit_temperature_recovers_a_known_temperature():
    torch = pytest.importorskip("torch")
    pytest.importorskip("elasticc_classification.model.loss")
    tax = Taxonomy.load("config/taxonomy.yaml")
    rng = np.random.default_rng(0)
    n = 4000
    base = rng.normal(0, 2.0, (n, tax.n_nodes))
    # draw true leaves from the model's own probabilities at temperature 1, then sharpen logits x3
    from elasticc_classification.model.loss import log_marginals

    with torch.no_grad():
        p_leaf = log_marginals(torch.from_numpy(base), tax).exp().numpy()[:, tax.leaves]
    u = rng.random(n)[:, None]
    leaf = tax.leaves[(np.cumsum(p_leaf / p_leaf.sum(1, keepdims=True), 1) < u).sum(1).clip(max=len(tax.leaves) - 1)]
    t = E.fit_temperature(base * 3.0, leaf, tax)
    assert t == pytest.approx(3.0, rel=0.1)
    assert E.leaf_nll(base * 3.0, leaf, tax, t) < E.leaf_nll(base * 3.0, leaf, tax, 1.0)


def test_plots_from_written_evaluation(tmp_path):
    tax = Taxonomy.load("config/taxonomy.yaml")
    rng = np.random.default_rng(3)
    n = 60
    leaf = rng.choice(tax.leaves, n)
    labels = [0, 8, 64, "full"]
    marg = np.stack([M.marginals_from_leaf_proba(tax, rng.dirichlet(np.ones(len(tax.leaves)), n)) for _ in labels])
    records = [r for k, d in enumerate(labels) for r in M.level_records(tax, leaf, marg[k], d)[0]]
    E.write_metrics(records, tmp_path / "metrics.json", tmp_path / "metrics.csv")
    E.write_predictions(tmp_path / "predictions.npz", tax, leaf, labels, marg)
    loss_csv = tmp_path / "train_log.csv"
    loss_csv.write_text(
        "epoch,step,train_loss_step,train_loss_epoch,val_loss\n0,9,1.5,,\n0,9,,,1.2\n0,9,,1.4,\n1,19,,,1.0\n1,19,,1.1,\n"
    )
    written = E.make_plots(tmp_path, tmp_path / "plots", loss_csv=loss_csv)
    names = sorted(p.name for p in written)
    assert names == sorted(E.plot_names(tax) + ["loss.png"])
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    recs = json.loads((tmp_path / "metrics.json").read_text())
    assert {r["level"] for r in recs} == {"level_1", "level_2", "level_3", "leaf"}
    assert [r for r in recs if r["days"] == "full" and r["level"] == "leaf"][0]["n"] == n
    from elasticc_classification.evaluation.plots import read_loss_log

    curves = read_loss_log(loss_csv)
    assert set(curves) == {"train_loss", "val_loss"}
    np.testing.assert_allclose(curves["val_loss"][1], [1.2, 1.0])


def test_tiny_workflow_ends_with_metrics_plots_predictions_and_report(root, tmp_path):
    """The default workflow on the tiny config: calibration, metrics, plots, report (and predictions
    of the real files when they are here)."""
    import subprocess
    import sys

    import pyarrow.parquet as pq
    import torch
    from conftest import REALDATA

    res = tmp_path / "results"
    cfg = [f"results_dir={res}"]
    real = REALDATA / "elasticc2_train_1percent" / "ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
    if real.is_dir():
        cfg.append(f"predict={{input_dir: {real}}}")
    snake = [
        sys.executable,
        "-m",
        "snakemake",
        "--configfile",
        str(root / "workflow_tests/tiny_config.yaml"),
        "--config",
        *cfg,
    ]
    from wfutil import workflow

    wf = workflow(tmp_path)  # a private copy of the workflow: Snakemake never runs in the repository
    run = subprocess.run([*snake, "-c2"], cwd=wf, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    recs = json.loads((res / "evaluation/metrics.json").read_text())
    tax = Taxonomy.load(root / "config/taxonomy.yaml")
    assert {(r["level"], str(r["days"])) for r in recs} == {
        (lv, str(d)) for lv in M.level_names(tax) for d in [*M.DEFAULT_DAYS, "full"]
    }
    for r in recs:
        assert set(M.RECORD_KEYS) <= set(r) and r["n"] > 0 and 0 <= r["accuracy"] <= 1
    # observations used grow with the truncation
    mean_obs = [r["mean_n_obs"] for r in recs if r["level"] == "leaf"]
    assert mean_obs == sorted(mean_obs) and mean_obs[0] < mean_obs[-1]
    for name in E.plot_names(tax) + ["loss.png"]:
        assert (res / "evaluation/plots" / name).stat().st_size > 5000, name
    cal = json.loads((res / "evaluation/calibration.json").read_text())
    sd = torch.load(res / "model/model_calibrated.ckpt", weights_only=True)["state_dict"]
    assert float(sd["temperature"]) == pytest.approx(cal["temperature"])
    assert all(r["temperature"] == pytest.approx(cal["temperature"]) for r in recs)
    if real.is_dir():
        pred = pq.read_table(res / "predictions.parquet")
        assert pred.num_rows == 140 and list(tax.nodes) == pred.column_names[3 : 3 + tax.n_nodes]
    report = tmp_path / "report.html"
    rep = subprocess.run([*snake, "--report", str(report)], cwd=wf, capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    for needle in (
        "f1_vs_days.png",
        "confusion_leaf_full.png",
        "reliability.png",
        "roc_leaf.png",
        "loss.png",
        "metrics.csv",
        "Confusion matrices",
    ):
        assert needle in html, needle


def test_cli_evaluate_with_calibration_on_real_shards(realdata, tmp_path):
    """CLI evaluate --calibrate --plots on shards of the real files and an (untrained) model artifact."""
    import pyarrow.parquet as pq
    import torch
    from model_helpers import make_artifact

    from elasticc_classification.cli import main
    from elasticc_classification.features.tensorize import tensorize
    from elasticc_classification.io.layout import find_pairs
    from elasticc_classification.io.snana import read_pair

    shards = []
    for k, p in enumerate(find_pairs(realdata / "elasticc2_train_1percent")):
        t = read_pair(p.head, p.phot, model=p.model)
        if t.num_rows:
            pq.write_table(t, tmp_path / f"{k}.parquet")
            tensorize(tmp_path / f"{k}.parquet", tmp_path / f"{k}.arrow", taxonomy=Taxonomy.load())
            shards.append(str(tmp_path / f"{k}.arrow"))
    model = make_artifact(tmp_path / "model.ckpt", temperature=1.0)
    out = tmp_path / "eval"
    assert main(["evaluate", str(model), *shards, str(out), "--days", "0", "8", "64", "--calibrate", "--plots"]) == 0
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["n_val_objects"] > 0
    assert cal["nll_after"] <= cal["nll_before"] + 1e-6  # T = 1 lies inside the searched range
    sd = torch.load(out / "model_calibrated.ckpt", weights_only=True)["state_dict"]
    assert float(sd["temperature"]) == pytest.approx(cal["temperature"])
    recs = json.loads((out / "metrics.json").read_text())
    assert {str(r["days"]) for r in recs} == {"0", "8", "64", "full"}
    n_test = sum(int((E.read_shard(s).split == 2).sum()) for s in shards)
    assert all(r["n"] == n_test for r in recs if r["level"] in ("level_1", "leaf"))
    assert all(r["temperature"] == pytest.approx(cal["temperature"]) for r in recs)
    assert (out / "plots/confusion_leaf_full.png").exists() and (out / "per_class.csv").exists()
    # no validation objects at all: one clear error, no calibrated artifact
    only_test = [s for s in shards if not (E.read_shard(s).split == 1).any()]
    assert main(["evaluate", str(model), *only_test, str(tmp_path / "e2"), "--calibrate"]) == 2
    assert not (tmp_path / "e2" / "model_calibrated.ckpt").exists()
