"""Training: batches, a short fit that learns, the artifact, resume, DDP on CPU, bad input.

Kept small (a few hundred synthetic objects, a narrow model, one torch thread) for a shared
2-core machine.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from elasticc_classification import config
from elasticc_classification.cli import main as cli_main
from elasticc_classification.errors import InputError
from elasticc_classification.features import augment
from elasticc_classification.features.shards import write_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model import train
from elasticc_classification.model.data import (
    DeviceData,
    bucket_batches,
    cap_per_leaf,
    collate,
    load_training_set,
    synthetic_shard,
)
from elasticc_classification.model.module import load_model

ROOT = Path(__file__).resolve().parents[1]
TAX = Taxonomy.load(ROOT / "config" / "taxonomy.yaml")
SMALL = {
    "batch_size": 64,
    "val_batch_size": 512,
    "progress_bar": False,
    "threads": 1,
    "val_days": [8, 2048],
    "model": {"hidden": 32, "layers": 1, "static_hidden": 16, "head_hidden": 32, "dropout": 0.0},
    "optim": {"lr": 0.005},
}


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("shards")
    paths = []
    for i in range(2):
        sh = synthetic_shard(700, TAX, seed=i, median_length=30, max_length=150, signal=1.0)
        paths.append(d / f"chunk{i}.arrow")
        write_shard(sh, paths[-1])
    return paths


@pytest.fixture(scope="module")
def trained(shards, tmp_path_factory):
    """A short fit (shared by the tests below): 4 epochs, then resumed to 5."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model") / "model.ckpt"
    model = train.fit(
        shards,
        out,
        cfg={**SMALL, "max_epochs": 4},
        augment_cfg={"mode": "days"},
        taxonomy=TAX,
        metrics_out=out.parent / "metrics.csv",
    )
    return out, model


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# --- batches -----------------------------------------------------------------------------
def test_collate_gathers_exact_prefixes():
    sh = synthetic_shard(30, TAX, seed=3)
    t = DeviceData(sh).on("cpu")
    obj = torch.tensor([4, 0, 17])
    ends = torch.tensor([3, 1, 7])
    b = collate(t, obj, ends, 7)
    assert b["x"].shape == (3, 7, 10)
    for k, (o, e) in enumerate(zip(obj.tolist(), ends.tolist())):
        assert np.array_equal(b["x"][k, :e].numpy(), sh.light_curve(o)[:e])
        assert not b["x"][k, e:].any()
    ref, _ = augment.pad_windows(sh.x, sh.offsets, obj.numpy(), ends.numpy())
    assert np.array_equal(b["x"].numpy(), ref)
    assert b["leaf"].tolist() == sh.leaf[[4, 0, 17]].tolist()


def test_bucketed_batches_cover_everything_once_with_little_padding():
    rng = np.random.default_rng(0)
    ends = rng.integers(1, 500, 5000)
    batches = bucket_batches(ends, 100, 10, rng)
    allpos = np.concatenate(batches)
    assert np.array_equal(np.sort(allpos), np.arange(5000))
    padded = sum(len(b) * ends[b].max() for b in batches)
    unbucketed = sum(len(b) * ends[b].max() for b in np.array_split(np.arange(5000), 50))
    assert padded < 0.6 * unbucketed  # sorted buckets pad far less than random batches
    assert padded < 1.1 * ends.sum()
    # the long tail: log-normal lengths; capped padding splits only the widest batches
    ends = np.clip(np.exp(rng.normal(3.5, 1.0, 5000)), 1, 2000).astype(np.int64)
    capped = bucket_batches(ends, 256, 64, None, max_padding=0.25)
    assert np.array_equal(np.sort(np.concatenate(capped)), np.arange(5000))
    assert all(1 - ends[b].sum() / (len(b) * ends[b].max()) <= 0.25 or len(b) == 1 for b in capped)
    plain = bucket_batches(ends, 256, 64, None)
    assert max(1 - ends[b].sum() / (len(b) * ends[b].max()) for b in plain) > 0.25 and len(capped) > len(plain)


def test_epoch_plan_covers_training_set_once_in_descending_batches(shards):
    from elasticc_classification.model.data import ShardDataModule

    dm = ShardDataModule(shards, TAX, {"batch_size": 50, "max_per_leaf": None}, {"mode": "days"})
    dm.setup("fit")
    seen = []
    for batch in dm.train_dataloader():
        e = batch["lengths_cpu"]
        assert (np.diff(e) <= 0).all() and batch["t_max"] == e[0]
        b = dm.transfer_batch_to_device(batch, torch.device("cpu"), 0)
        assert b["x"].shape == (len(e), e[0], 10) and b["lengths"].tolist() == e.tolist()
        a, z = batch["slice"]
        seen.append(batch["plan"].obj[a:z])
    seen = np.concatenate(seen)
    assert np.array_equal(np.sort(seen), dm.ts.train_idx)
    val = np.concatenate([v["plan"].obj[v["slice"][0] : v["slice"][1]] for v in dm.val_dataloader()])
    assert np.array_equal(np.sort(val), np.sort(np.tile(dm.ts.val_idx, len(dm.cfg["val_days"]))))


def test_cap_per_leaf_is_seeded_and_caps():
    leaf = np.repeat([1, 3, 4], [50, 5, 20])
    idx = np.arange(75)
    a = cap_per_leaf(idx, leaf, 10, np.random.default_rng(1))
    b = cap_per_leaf(idx, leaf, 10, np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert np.bincount(leaf[a], minlength=5).tolist() == [0, 10, 0, 5, 10]


def test_training_set_weights_and_normalisation(shards):
    ts = load_training_set(shards, TAX, {"max_per_leaf": 20})
    counts = ts.leaf_counts[TAX.leaves]
    assert counts.max() == 20 and counts.sum() == len(ts.train_idx)
    # W_c = N_all / (N_nodes N_c): the root's weight is 1 / N_nodes
    assert ts.node_weight[0] == pytest.approx(1 / TAX.n_nodes)
    assert ts.x_std[0] > 0 and np.isfinite(ts.static_mean).all()
    assert set(ts.data.split[ts.val_idx]) == {1}


# --- a short training run ------------------------------------------------------------------
def test_training_lowers_loss_and_beats_chance(trained, shards):
    out, model = trained
    rows = _rows(out.parent / "metrics.csv")
    val = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    assert len(val) == 4
    assert min(val[1:]) < val[0]
    tr = [float(r["train_loss_epoch"]) for r in rows if r.get("train_loss_epoch")]
    assert tr[-1] < tr[0]
    # held-out test split, full light curves, through the reloaded artifact
    m = load_model(out)
    from elasticc_classification.features.shards import concat_shards, read_shard

    d = concat_shards([read_shard(p) for p in shards])
    test = np.flatnonzero(d.split == 2)
    x, lengths = augment.pad_windows(d.x, d.offsets, test, d.lengths[test])
    with torch.no_grad():
        logm = m.predict_log_marginals(torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(d.static[test]))
    pred = TAX.leaves[logm[:, TAX.leaves].argmax(1).numpy()]
    acc = (pred == d.leaf[test]).mean()
    assert acc > 2.0 / len(TAX.leaves), f"leaf accuracy {acc:.3f} is not above chance"
    # the top level (Transient / Variable) is learnt well beyond chance 0.5
    top = TAX.ancestor_at(1)
    assert (top[TAX.level_nodes(1)[logm[:, TAX.level_nodes(1)].argmax(1).numpy()]] == top[d.leaf[test]]).mean() > 0.6


def test_artifact_reload_gives_identical_predictions(trained):
    out, model = trained
    m = load_model(out)
    sh = synthetic_shard(40, TAX, seed=9, median_length=30, max_length=150)
    x, lengths = augment.pad_windows(sh.x, sh.offsets, np.arange(40), sh.lengths)
    args = (torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(sh.static))
    with torch.no_grad():
        assert torch.equal(m(*args), model(*args))
    hp = m.hparams
    assert hp["taxonomy"] == TAX.to_dict()
    assert hp["feature_names"][0] == "t" and len(hp["static_names"]) == 5
    assert hp["provenance"]["objects_train_used"] > 0 and len(hp["provenance"]["shards"]) == 2
    assert hp["provenance"]["train_config"]["batch_size"] == 64
    assert float(m.net.static_std[0]) != 1.0  # normalisation from the training split is in the artifact
    assert m.artifact_meta["best_val_loss"] is not None


def test_restart_resumes_from_last_checkpoint(trained, shards, caplog, tmp_path):
    # resume a copy of the shared fit (its artifact, checkpoints and logs): the fixture stays as trained
    shutil.copytree(trained[0].parent, tmp_path / "model")
    out = tmp_path / "model" / trained[0].name
    caplog.set_level("INFO")
    train.fit(
        shards,
        out,
        cfg={**SMALL, "max_epochs": 5},
        augment_cfg={"mode": "days"},
        taxonomy=TAX,
        metrics_out=out.parent / "metrics.csv",
    )
    assert "resuming from" in caplog.text
    epochs = [int(r["epoch"]) for r in _rows(out.parent / "metrics.csv") if r.get("val_loss")]
    assert epochs == [0, 1, 2, 3, 4]  # one more epoch, the first four not repeated
    assert load_model(out).artifact_meta["epochs_run"] == 5


def test_gru_flat_loss_cosine_schedule_train(shards, tmp_path):
    cfg = {
        **SMALL,
        "max_epochs": 2,
        "model": {**SMALL["model"], "cell": "gru"},
        "loss": {"kind": "flat"},
        "optim": {"schedule": "cosine"},
    }
    train.fit(
        shards,
        tmp_path / "m.ckpt",
        cfg=cfg,
        augment_cfg={"mode": "fraction"},
        taxonomy=TAX,
        metrics_out=tmp_path / "metrics.csv",
    )
    m = load_model(tmp_path / "m.ckpt")
    assert isinstance(m.net.rnn, torch.nn.GRU) and m.hparams["loss"]["kind"] == "flat"
    rows = _rows(tmp_path / "metrics.csv")
    lrs = [float(r["lr-Adam"]) for r in rows if r.get("lr-Adam")]
    assert len(lrs) == 2 and lrs[1] < lrs[0]  # cosine decay


def test_changed_inputs_start_afresh(tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "fingerprint.txt").write_text("old\n")
    (ck / "last.ckpt").write_bytes(b"x")
    assert train._prepare_ckpt_dir(ck, "new") is None
    assert not (ck / "last.ckpt").exists() and (ck / "fingerprint.txt").read_text().strip() == "new"
    (ck / "last.ckpt").write_bytes(b"x")
    assert train._prepare_ckpt_dir(ck, "new") == ck / "last.ckpt"


# --- bad input ------------------------------------------------------------------------------
def test_bad_config_and_data(shards, tmp_path):
    with pytest.raises(InputError, match="unknown keys"):
        config.resolve("train", {"batchsize": 3})
    with pytest.raises(InputError, match="cell"):
        config.resolve("train", {"model": {"cell": "rnn"}})
    sh = synthetic_shard(50, TAX, seed=5)
    sh.split[:] = 2
    sh.split[0] = 0
    write_shard(sh, tmp_path / "noval.arrow")
    with pytest.raises(InputError, match="no labelled validation objects"):
        load_training_set([tmp_path / "noval.arrow"], TAX)
    other = Taxonomy.from_dict({"tree": {"R": ["A", "B"]}})
    with pytest.raises(InputError, match="another taxonomy"):
        load_training_set(shards, other)


def test_training_set_memory_grows_with_kept_objects_not_the_sample(tmp_path):
    """Issue 13: only the training (capped) and validation objects are loaded; test-split shards
    add their labels (a few bytes per object) to the peak, not their light curves."""
    import tracemalloc

    paths, test_bytes = [], 0
    for i in range(8):  # 2 shards with train/val/test objects, 6 with test objects only
        sh = synthetic_shard(200, TAX, seed=20 + i, median_length=100, max_length=300)
        if i >= 2:
            sh.split[:] = 2
            test_bytes += sh.x.nbytes
        paths.append(tmp_path / f"c{i}.arrow")
        write_shard(sh, paths[-1])
    runs = []
    for k in (2, 8):
        tracemalloc.start()
        ts = load_training_set(paths[:k], TAX, {"max_per_leaf": 5})
        runs.append((ts, tracemalloc.get_traced_memory()[1]))
        tracemalloc.stop()
    (small, peak_small), (big, peak_big) = runs
    for ts in (small, big):  # the arrays hold the kept objects only: no test split, none over the cap
        kept = np.sort(np.concatenate([ts.train_idx, ts.val_idx]))
        assert np.array_equal(kept, np.arange(len(ts.data)))
        assert len(ts.data.x) == int(ts.data.lengths.sum()) and len(ts.data.static) == len(ts.data)
        assert (ts.data.split != 2).all() and ts.leaf_counts.max() == 5
        assert ts.provenance["objects_loaded"] == len(ts.data) < ts.provenance["objects"] // 2
    assert big.provenance["objects"] == 4 * small.provenance["objects"]
    assert np.array_equal(big.data.snid[big.train_idx], small.data.snid[small.train_idx])  # the same seeded selection
    assert np.array_equal(big.data.snid[big.val_idx], small.data.snid[small.val_idx])
    # all shards concatenated: the peak grew by ~85 % of the test split's bytes; streamed: ~1 %
    assert peak_big - peak_small < 0.1 * test_bytes, (peak_small, peak_big, test_bytes)


def test_without_validation_split_a_tenth_of_training_validates(tmp_path, caplog):
    sh = synthetic_shard(50, TAX, seed=5)
    sh.split[:] = 0
    write_shard(sh, tmp_path / "noval.arrow")
    ts = load_training_set([tmp_path / "noval.arrow"], TAX)
    assert len(ts.val_idx) == 5 and len(ts.train_idx) == 45
    assert not set(ts.val_idx) & set(ts.train_idx)
    assert "validating on 5 of the training objects" in caplog.text


def test_cli_reports_bad_input(tmp_path, capsys):
    (tmp_path / "bad.arrow").write_bytes(b"not arrow")
    rc = cli_main(
        [
            "train",
            str(tmp_path / "bad.arrow"),
            "--out",
            str(tmp_path / "m.ckpt"),
            "--taxonomy",
            str(ROOT / "config/taxonomy.yaml"),
        ]
    )
    assert rc == 2
    assert "not a readable shard" in capsys.readouterr().err
    assert not (tmp_path / "m.ckpt").exists()


# --- DDP ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_process_ddp_on_cpu_completes_an_epoch(shards, tmp_path):
    """Two processes (gloo) through the CLI, as the train rule would run them."""
    cfg = {
        "taxonomy": str(ROOT / "config/taxonomy.yaml"),
        "train": {**SMALL, "max_epochs": 1, "accelerator": "cpu", "devices": 2, "strategy": "ddp"},
        "augment": {"mode": "days"},
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "ddp" / "model.ckpt"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "elasticc_classification.cli",
            "train",
            *map(str, shards),
            "--out",
            str(out),
            "--config",
            str(tmp_path / "cfg.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stderr
    m = load_model(out)
    assert m.artifact_meta["epochs_run"] == 1
    rows = _rows(out.parent / "metrics.csv")
    assert any(r.get("val_loss") for r in rows)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_gpu_fit_one_epoch(shards, tmp_path, precision):
    out = tmp_path / "model.ckpt"
    cfg = {**SMALL, "max_epochs": 2, "accelerator": "gpu", "devices": 1, "precision": precision}
    train.fit(shards, out, cfg=cfg, augment_cfg={"mode": "days"}, taxonomy=TAX, metrics_out=tmp_path / "metrics.csv")
    m = load_model(out)  # CPU
    sh = synthetic_shard(20, TAX, seed=11, median_length=30, max_length=150)
    x, lengths = augment.pad_windows(sh.x, sh.offsets, np.arange(20), sh.lengths)
    with torch.no_grad():
        lp = m.predict_log_marginals(torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(sh.static))
    assert torch.isfinite(lp).all()
    val = [float(r["val_loss"]) for r in _rows(out.parent / "metrics.csv") if r.get("val_loss")]
    assert len(val) == 2 and all(np.isfinite(val))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_fused_adam_with_gradient_clipping(shards, tmp_path, precision):
    """Fused Adam (the GPU default) + gradient clipping + precision: Lightning's mixed-precision
    plugin refuses to clip for fused optimizers; the model clips itself when nothing is scaled.
    Forced here on the CPU (fused Adam runs there too), so the GPU default's path is tested in CI."""
    out = tmp_path / "model.ckpt"
    cfg = {
        **SMALL,
        "max_epochs": 1,
        "accelerator": "cpu",
        "precision": precision,
        "gradient_clip": 0.5,
        "limit_train_batches": 4,
        "optim": {**SMALL["optim"], "fused": True},
    }
    train.fit(shards, out, cfg=cfg, augment_cfg={"mode": "days"}, taxonomy=TAX, metrics_out=tmp_path / "metrics.csv")
    m = load_model(out)
    assert m.hparams["optim"]["fused"] is True
    assert all(torch.isfinite(p).all() for p in m.parameters())
    val = [float(r["val_loss"]) for r in _rows(tmp_path / "metrics.csv") if r.get("val_loss")]
    assert len(val) == 1 and np.isfinite(val[0])


def test_gradient_clipping_bounds_the_update_norm():
    """The model's own clipping (used whenever no loss scaler is active) leaves a gradient norm <= the limit."""
    from elasticc_classification.model.module import HierarchicalClassifier

    m = HierarchicalClassifier(TAX.to_dict(), [f"f{i}" for i in range(4)], ["s0"], model=SMALL["model"])
    x = torch.randn(8, 5, 4) * 100
    (m(x, torch.full((8,), 5), torch.randn(8, 1)).pow(2).sum() * 1e3).backward()
    before = torch.nn.utils.get_total_norm([p.grad for p in m.parameters() if p.grad is not None])
    assert before > 0.5
    m.configure_gradient_clipping(None, 0.5, "norm")
    after = torch.nn.utils.get_total_norm([p.grad for p in m.parameters() if p.grad is not None])
    assert after <= 0.5 * (1 + 1e-4)


def test_taxonomy_from_shard_metadata(shards, tmp_path):
    """Without a taxonomy, training takes the one the shards carry (read from the metadata alone)."""
    from elasticc_classification.features.shards import read_shard, read_shard_meta

    assert read_shard_meta(shards[0]) == read_shard(shards[0]).meta
    (tmp_path / "bad.arrow").write_bytes(b"not arrow")
    with pytest.raises(InputError, match="not a readable shard"):
        read_shard_meta(tmp_path / "bad.arrow")
    assert read_shard_meta(shards[0])["taxonomy"]
    train.fit(
        shards,
        tmp_path / "m.ckpt",
        cfg={**SMALL, "max_epochs": 1, "limit_train_batches": 2},
        augment_cfg={"mode": "days"},
        taxonomy=None,
    )
    assert load_model(tmp_path / "m.ckpt").taxonomy.to_dict() == TAX.to_dict()
