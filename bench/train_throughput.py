"""End-to-end training throughput (windows/s): loader + augmentation + gather + forward + backward
+ optimiser, through the same Lightning Trainer, DataModule and model as ``train``; and a bare
``nn.LSTM`` (2 layers, hidden 100, fp32, data resident, Adam) in the same process as the baseline.

Scenarios (synthetic shards, :func:`elasticc_classification.model.data.synthetic_shard`):
  fixed100   every window 100 observations (augmentation none): the CPU goal's setting
  elasticc   log-normal light-curve lengths (median 60, clipped 2-500), windows drawn by the
             default augmentation (days after the first detection, d = 2**U(0, 11))
  uniform500 lengths uniform in 1-500, full light curves (the anchor of the issue)

Prints one ``FIGURE`` line per measurement (also appended to ``--figures FILE``); ratios are
against the bare baseline measured in this process; peak memory from getrusage (process) and
CUDA (per measurement).

    .venv/bin/python bench/train_throughput.py                      # CPU, fixed100 + elasticc
    python3 bench/train_throughput.py --device cuda --scenarios elasticc uniform500 fixed100 \\
        --variants 32-true:pack 32-true:pad bf16-mixed:pack bf16-mixed:pack:rnn16 --objects 200000 --steps 150

A variant is ``precision:pack|pad|auto[:rnn16][:mpNN]``: Lightning precision, the model's ``pack``
setting, ``rnn16`` to let autocast reach the LSTM (PyTorch then runs cuDNN RNNs in float16), and
``mpNN`` to set ``max_padding`` to NN % (default ``auto``).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as scripts/train.py and the CLI do (before torch loads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from elasticc_classification.config import section_defaults  # noqa: E402
from elasticc_classification.features.taxonomy import Taxonomy  # noqa: E402
from elasticc_classification.model.data import ShardDataModule, synthetic_shard, training_set_from_shard  # noqa: E402
from elasticc_classification.model.module import HierarchicalClassifier  # noqa: E402

TRAIN_DEFAULTS = section_defaults("train")  # the config schema's train section

ORACLE_EPOCH = 470_000  # training sequences in an ORACLE-size epoch


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    """Start a measurement's GPU peak afresh (the resident data stays counted)."""
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_mb(device: str) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f" gpu_peak_mb={torch.cuda.max_memory_allocated() / 2**20:.0f}" if device == "cuda" else ""
    return f"rss_peak_mb={rss:.0f}{gpu}"


def emit(line: str, figures: Path | None) -> None:
    print("FIGURE " + line, flush=True)
    if figures:
        with figures.open("a") as f:
            f.write(line + "\n")


def scenario_data(name: str, n: int, tax: Taxonomy, seed: int = 0):
    """(shard, augment config) of a scenario."""
    if name == "fixed100":
        return synthetic_shard(n, tax, seed=seed, fixed_length=100), {"mode": "none"}
    if name == "elasticc":
        return synthetic_shard(n, tax, seed=seed, median_length=60, max_length=500), {"mode": "days"}
    if name == "uniform500":
        lengths = np.random.default_rng(seed).integers(1, 501, n)
        return synthetic_shard(n, tax, seed=seed, lengths=lengths), {"mode": "none"}
    raise SystemExit(f"unknown scenario {name}")


def bare_lstm(
    device: str, lengths: np.ndarray, batch: int, steps: int, packed: bool, pad_to: int, n_features: int = 10
) -> float:
    """Windows/s of a bare 2-layer LSTM (hidden 100, fp32) + linear + Adam on resident random data."""
    _reset_peak(device)
    torch.manual_seed(0)
    rnn = nn.LSTM(n_features, 100, 2, batch_first=True).to(device)
    lin = nn.Linear(100, 26).to(device)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(lin.parameters()))
    x = torch.randn(batch, pad_to, n_features, device=device)
    rng = np.random.default_rng(0)

    def step() -> None:
        if packed:
            le = torch.from_numpy(np.minimum(rng.choice(lengths, batch), pad_to))
            _, (h, _) = rnn(pack_padded_sequence(x[:, : int(le.max())], le, batch_first=True, enforce_sorted=False))
            out = h[-1]
        else:
            out = rnn(x)[0][:, -1]
        lin(out).logsumexp(1).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * batch / (time.perf_counter() - t0)


def lightning_run(
    dm: ShardDataModule, ts, tax, device: str, precision: str, pack, rnn16: bool, steps: int, warmup: int, clip
) -> dict:
    """Windows/s of ``steps`` training steps after ``warmup`` through Lightning."""
    _reset_peak(device)
    import lightning as L

    meta = ts.data.meta
    model = HierarchicalClassifier(
        tax.to_dict(),
        meta["feature_names"],
        meta["static_names"],
        model={"pack": pack, "rnn_autocast": rnn16},
        optim={"schedule": "none"},
    )  # no validation here: a plateau schedule would need one
    model.set_normalisation(ts.x_mean, ts.x_std, ts.static_mean, ts.static_std)
    model.set_node_weights(ts.node_weight)
    stats = {"n": 0, "pad": 0, "real": 0}

    class Timer(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == warmup:
                _sync(device)
                stats["t0"] = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if "t0" in stats:
                stats["n"] += len(batch["leaf"])
                stats["pad"] += batch["x"].shape[0] * batch["x"].shape[1]
                stats["real"] += int(batch["lengths_cpu"].sum())

        def on_train_end(self, trainer, pl_module):
            _sync(device)
            stats["t1"] = time.perf_counter()

    trainer = L.Trainer(
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        precision=precision,
        max_steps=warmup + steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        gradient_clip_val=clip,
        callbacks=[Timer()],
    )
    trainer.fit(model, datamodule=dm)
    dt = stats["t1"] - stats["t0"]
    return {
        "seq_per_s": stats["n"] / dt,
        "mean_len": stats["real"] / max(stats["n"], 1),
        "pad_frac": 1 - stats["real"] / max(stats["pad"], 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, nargs="+", default=[2], help="torch CPU threads (each value measured)")
    p.add_argument("--scenarios", nargs="+", default=["fixed100", "elasticc"])
    p.add_argument("--objects", type=int, default=None, help="objects per scenario (default 3000 CPU, 200000 GPU)")
    p.add_argument("--batch-size", type=int, default=TRAIN_DEFAULTS["batch_size"])
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: about one epoch on CPU, 150 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2 CPU, 20 GPU)")
    p.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="precision:pack|pad|auto[:rnn16][:mpNN] (default 32-true:auto on CPU; four variants on GPU)",
    )
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--figures", type=Path, default=None, help="append FIGURE lines to this file")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    gpu = a.device == "cuda"
    if gpu and not torch.cuda.is_available():
        print("SKIP train_throughput --device cuda: no CUDA device", flush=True)
        return
    n_obj = a.objects or (200_000 if gpu else 3000)
    steps = a.steps or (150 if gpu else max(3, n_obj // a.batch_size))  # CPU: about one epoch
    warmup = a.warmup if a.warmup is not None else (20 if gpu else 2)
    variants = a.variants or (
        ["32-true:pack", "32-true:pad", "bf16-mixed:pack", "bf16-mixed:pack:rnn16"] if gpu else ["32-true:auto"]
    )
    tax = Taxonomy.load()
    dev_name = torch.cuda.get_device_name() if gpu else f"cpu ({a.threads} threads)"
    print(
        f"# train throughput on {dev_name}, torch {torch.__version__}, batch {a.batch_size}, {n_obj} objects, {steps} timed steps, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}",
        flush=True,
    )
    cfg = {**TRAIN_DEFAULTS, "batch_size": a.batch_size, "max_per_leaf": None, "val_days": [1.0]}
    for sc in a.scenarios:
        t0 = time.perf_counter()
        shard, aug = scenario_data(sc, n_obj, tax)
        shard.split[:] = 0
        shard.split[:10] = 1
        ts = training_set_from_shard(shard, tax, cfg)
        dm = ShardDataModule([], tax, cfg, aug, training_set=ts)
        print(
            f"# {sc}: {len(shard)} objects, {len(shard.x)} observations, built in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        for threads in a.threads if not gpu else [torch.get_num_threads()]:
            torch.set_num_threads(threads)
            tag = f"device={a.device} threads={threads}" if not gpu else f"device=cuda gpu={dev_name.replace(' ', '_')}"
            base = None
            if not a.no_baseline:
                lengths = shard.lengths
                pad_to = 500 if gpu and sc != "fixed100" else 100  # the anchors on GPUs; CPU memory stays small
                base = bare_lstm(
                    a.device, lengths, a.batch_size, steps if gpu else max(2, steps // 2), packed=False, pad_to=pad_to
                )
                emit(
                    f"train_throughput scenario={sc} {tag} model=bare_lstm_2x100_fp32 padded_to={pad_to} seq_per_s={base:.0f} {_peak_mb(a.device)}",
                    a.figures,
                )
                if sc != "fixed100" and gpu:  # a packed LSTM on the CPU runs at ~1/50 of the padded one: skipped
                    bp = bare_lstm(
                        a.device, lengths, a.batch_size, steps if gpu else max(2, steps // 2), packed=True, pad_to=500
                    )
                    emit(
                        f"train_throughput scenario={sc} {tag} model=bare_lstm_2x100_fp32_packed seq_per_s={bp:.0f} {_peak_mb(a.device)}",
                        a.figures,
                    )
            for variant in variants:
                prec, *rest = variant.split(":")
                pack = {"pack": True, "pad": False, "auto": "auto"}[rest[0] if rest else "auto"]
                rnn16 = "rnn16" in rest
                mp = [float(r[2:]) / 100 for r in rest if r.startswith("mp")]
                dm.cfg["max_padding"] = (
                    mp[0] if mp else cfg["max_padding"]
                )  # read by every epoch's plan; data stays on the device
                label = f"model=default variant={variant}"
                try:
                    r = lightning_run(
                        dm, ts, tax, a.device, prec, pack, rnn16, steps, warmup, TRAIN_DEFAULTS["gradient_clip"]
                    )
                except Exception as e:  # report and go on: one failing setting must not hide the others
                    emit(
                        f"train_throughput scenario={sc} {tag} {label} FAILED {type(e).__name__}: {str(e).splitlines()[0][:200]}",
                        a.figures,
                    )
                    continue
                ratio = f" ratio_vs_bare_padded={r['seq_per_s'] / base:.2f}" if base else ""
                goal = ""
                if sc == "elasticc" and gpu:
                    goal = f" goal_40000={'MET' if r['seq_per_s'] >= 40000 else 'NOT_MET'}"
                if sc == "fixed100" and not gpu:
                    goal = f" goal_700={'MET' if r['seq_per_s'] >= 700 else 'NOT_MET'}"
                emit(
                    f"train_throughput scenario={sc} {tag} {label} batch={a.batch_size} "
                    f"seq_per_s={r['seq_per_s']:.0f}{ratio}{goal} mean_window={r['mean_len']:.1f} padding_frac={r['pad_frac']:.3f} "
                    f"oracle_epoch_s={ORACLE_EPOCH / r['seq_per_s']:.1f} {_peak_mb(a.device)}",
                    a.figures,
                )


if __name__ == "__main__":
    main()
