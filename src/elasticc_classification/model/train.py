"""Training: shards -> the model artifact ``model.ckpt`` (+ ``metrics.csv`` of the run).

Lightning Trainer (accelerator auto, precision configurable: bf16-mixed on GPUs by default),
Adam with a plateau or cosine schedule, checkpoints of the best validation loss and of the last
epoch in a stable directory (a killed run restarted with the same inputs resumes from
``last.ckpt``; different inputs or config start afresh), early stopping, seed everything, a CSV
logger (TensorBoard too when installed), multi-GPU / multi-node DDP through ``devices`` /
``num_nodes`` / ``strategy`` (under SLURM, Lightning reads the job's task layout).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from elasticc_classification import __version__, config
from elasticc_classification.configfile import read_config
from elasticc_classification.errors import InputError, atomic_output
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model.data import ShardDataModule, load_training_set
from elasticc_classification.model.module import HierarchicalClassifier, artifact_dict

log = logging.getLogger(__name__)


def _accelerator_and_precision(cfg: Mapping[str, Any]) -> tuple[str, str]:
    acc = cfg["accelerator"]
    if acc == "auto":
        acc = "gpu" if torch.cuda.is_available() else "cpu"
    prec = cfg["precision"]
    if prec == "auto":
        prec = (
            "bf16-mixed"
            if acc in ("gpu", "cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            else "32-true"
        )
    return acc, str(prec)


def _is_rank_zero() -> bool:
    return all(os.environ.get(k, "0") == "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "NODE_RANK"))


def _fingerprint(
    paths: Sequence[str | Path], cfg: Mapping[str, Any], augment_cfg: Mapping[str, Any], taxonomy: Taxonomy
) -> str:
    """Hash of what a resumed run must share with the killed one: inputs and the settings that
    change the model (:func:`config.rule_settings`), except the epoch limits (more epochs may resume)."""
    keep = {k: v for k, v in config.rule_settings(cfg, "train", "train").items() if k not in ("max_epochs", "patience")}
    files = [(str(Path(p).resolve()), Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in paths]
    blob = json.dumps([files, keep, dict(augment_cfg), taxonomy.to_dict()], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _prepare_ckpt_dir(ckpt_dir: Path, fingerprint: str) -> Path | None:
    """Return ``last.ckpt`` to resume from, or None (stale checkpoints of other inputs are removed)."""
    fp_file = ckpt_dir / "fingerprint.txt"
    last = ckpt_dir / "last.ckpt"
    same = fp_file.is_file() and fp_file.read_text().strip() == fingerprint
    if not same and _is_rank_zero():
        if ckpt_dir.exists():
            log.info("checkpoints in %s belong to other inputs or settings: starting afresh", ckpt_dir)
            shutil.rmtree(ckpt_dir)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        fp_file.write_text(fingerprint + "\n")
        return None
    if same and last.is_file():
        log.info("resuming from %s", last)
        return last
    return None


def merge_metrics(log_root: Path, out: Path) -> int:
    """Concatenate the CSV logs of every (resumed) run under ``log_root`` into ``out``; rows of an
    epoch that a later run repeated are dropped. Returns the number of rows written."""
    runs = sorted(log_root.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    tables = []
    for p in runs:
        with p.open(newline="") as f:
            tables.append(list(csv.DictReader(f)))
    rows: list[dict[str, str]] = []
    for k, t in enumerate(tables):
        later = [r for tt in tables[k + 1 :] for r in tt if r.get("epoch", "") != ""]
        first_later = min((int(float(r["epoch"])) for r in later), default=None)
        rows.extend(
            r for r in t if first_later is None or r.get("epoch", "") == "" or int(float(r["epoch"])) < first_later
        )
    keys = sorted({k for r in rows for k in r})
    with atomic_output(out) as tmp:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
    return len(rows)


class _Throughput:
    """Callback factory (keeps Lightning imports local): logs training windows per second per epoch."""

    @staticmethod
    def make():
        import lightning as L

        class Throughput(L.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                self.n, self.t0 = 0, time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                self.n += len(batch["leaf"])

            def on_train_epoch_end(self, trainer, pl_module):
                dt = time.perf_counter() - self.t0
                rate = self.n * trainer.world_size / max(dt, 1e-9)
                pl_module.log("train_seq_per_s", rate, rank_zero_only=True)
                log.info(
                    "epoch %d: %d windows in %.1f s (%.0f windows/s over %d process(es))",
                    trainer.current_epoch,
                    self.n,
                    dt,
                    rate,
                    trainer.world_size,
                )

        return Throughput()


def fit(
    shard_paths: Sequence[str | Path],
    out: str | Path,
    cfg: Mapping[str, Any] | None = None,
    augment_cfg: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
    metrics_out: str | Path | None = None,
    ckpt_dir: str | Path | None = None,
) -> HierarchicalClassifier:
    """Train on ``shard_paths`` and write the artifact ``out`` (and ``metrics_out``, the merged CSV
    log). ``taxonomy`` None: the one stored in the first shard. Returns the best model (CPU, eval)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger, Logger

    cfg = config.resolve("train", cfg)
    augment_cfg = config.resolve("augment", augment_cfg)
    out = Path(out)
    ckpt_dir = Path(ckpt_dir) if ckpt_dir else out.parent / "checkpoints"
    shard_paths = [str(p) for p in shard_paths]
    if taxonomy is None:
        from elasticc_classification.features.shards import read_shard_meta

        tx = read_shard_meta(shard_paths[0]).get("taxonomy") if shard_paths else None
        if not tx:
            raise InputError("no taxonomy given and the shards carry none: pass --taxonomy")
        taxonomy = Taxonomy.from_dict(tx, str(shard_paths[0]))

    L.seed_everything(int(cfg["seed"]), workers=True, verbose=False)
    ts = load_training_set(shard_paths, taxonomy, cfg)
    meta = ts.data.meta
    provenance = dict(
        ts.provenance,
        train_config=cfg,
        augment=augment_cfg,
        package_version=__version__,
        torch_version=torch.__version__,
        lightning_version=L.__version__,
        created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    model = HierarchicalClassifier(
        taxonomy.to_dict(),
        list(meta["feature_names"]),
        list(meta["static_names"]),
        model=cfg["model"],
        optim={**cfg["optim"], "max_epochs": int(cfg["max_epochs"])},  # the cosine schedule's length
        loss=cfg["loss"],
        preprocess=meta.get("preprocess") or {},
        provenance=json.loads(json.dumps(provenance, default=str)),
    )
    model.set_normalisation(ts.x_mean, ts.x_std, ts.static_mean, ts.static_std)
    model.set_node_weights(ts.node_weight)
    dm = ShardDataModule(shard_paths, taxonomy, cfg, augment_cfg, training_set=ts)

    resume = _prepare_ckpt_dir(ckpt_dir, _fingerprint(shard_paths, cfg, augment_cfg, taxonomy))
    ckpt_cb = ModelCheckpoint(
        dirpath=ckpt_dir, filename="best", monitor="val_loss", mode="min", save_top_k=1, save_last=True
    )
    callbacks = [
        ckpt_cb,
        EarlyStopping(monitor="val_loss", mode="min", patience=int(cfg["patience"])),
        LearningRateMonitor(logging_interval="epoch"),  # lr-Adam in metrics.csv
        _Throughput.make(),
    ]
    if cfg["progress_bar"]:
        callbacks.append(TQDMProgressBar(refresh_rate=20))
    loggers: list[Logger] = [CSVLogger(str(ckpt_dir), name="logs")]
    try:
        import tensorboard  # noqa: F401
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(ckpt_dir), name="tensorboard"))
    except ImportError:
        pass
    accelerator, precision = _accelerator_and_precision(cfg)
    n_batches = max(1, len(ts.train_idx) // int(cfg["batch_size"]))
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=cfg["devices"],
        num_nodes=int(cfg["num_nodes"]),
        strategy=cfg["strategy"],
        precision=precision,  # type: ignore[arg-type]  # a validated precision string from the config
        max_epochs=int(cfg["max_epochs"]),
        gradient_clip_val=cfg["gradient_clip"] or None,
        callbacks=callbacks,
        logger=loggers,
        log_every_n_steps=max(1, min(50, n_batches)),
        enable_progress_bar=bool(cfg["progress_bar"]),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        limit_train_batches=cfg["limit_train_batches"],
        default_root_dir=str(ckpt_dir),
    )
    log.info(
        "training on %s (precision %s, %d process(es)); checkpoints in %s",
        accelerator,
        precision,
        trainer.world_size,
        ckpt_dir,
    )
    trainer.fit(model, datamodule=dm, ckpt_path=str(resume) if resume else None)
    if not trainer.is_global_zero:
        return model
    best = ckpt_cb.best_model_path or ckpt_cb.last_model_path
    if not best:
        raise InputError("training produced no checkpoint (no epoch finished)")
    state = torch.load(best, map_location="cpu", weights_only=False)
    model = model.cpu()
    model.load_state_dict(state["state_dict"])
    score = ckpt_cb.best_model_score
    extra = {
        "epoch": int(state.get("epoch", -1)),
        "global_step": int(state.get("global_step", -1)),
        "best_val_loss": float(score) if score is not None else None,
        "epochs_run": int(trainer.current_epoch),
    }
    with atomic_output(out) as tmp:
        torch.save(artifact_dict(model, extra), tmp)
    log.info("wrote %s (best epoch %s, val_loss %s)", out, extra["epoch"], extra["best_val_loss"])
    if metrics_out:
        n = merge_metrics(ckpt_dir / "logs", Path(metrics_out))
        log.info("wrote %s (%d rows)", metrics_out, n)
    return model.eval()


def main_snakemake(snakemake: Any) -> None:
    """Entry point of ``scripts/train.py``: the model's settings from the params, the rest (progress
    bar, resources: not params, so changing them reruns nothing) from the validated config."""
    torch.set_num_threads(max(1, int(snakemake.threads)))
    cfg = {**snakemake.config["train"], **snakemake.params.train}
    fit(
        list(snakemake.input.shards),
        snakemake.output.model,
        cfg=cfg,
        augment_cfg=snakemake.params.augment,
        taxonomy=Taxonomy.load(snakemake.input.taxonomy),
        metrics_out=snakemake.output.metrics,
        ckpt_dir=snakemake.params.ckpt_dir,
    )


def run_cli(
    shards: Sequence[str | Path],
    out: str | Path,
    config_path: str | Path | None = None,
    taxonomy: str | Path | None = None,
    metrics: str | Path | None = None,
    checkpoints: str | Path | None = None,
    threads: int | None = None,
) -> None:
    """``elasticc-classification train``: the config file's ``train``/``augment`` sections (validated,
    schema defaults filled; the taxonomy only where the file names one) and fit."""
    spec: dict[str, Any] = read_config(config_path) if config_path is not None else {}
    conf = config.validate(spec, source=str(config_path or "config"))
    torch.set_num_threads(max(1, int(threads or conf["train"]["threads"])))
    tax_path = taxonomy or spec.get("taxonomy")
    if (
        tax_path is not None
        and config_path is not None
        and taxonomy is None
        and not Path(tax_path).is_absolute()
        and not Path(tax_path).exists()
    ):
        tax_path = Path(config_path).resolve().parent.parent / tax_path  # config/ sits in the repository root
    out = Path(out)
    fit(
        shards,
        out,
        cfg=conf["train"],
        augment_cfg=conf["augment"],
        taxonomy=Taxonomy.load(tax_path) if tax_path else None,
        metrics_out=Path(metrics) if metrics else out.parent / "metrics.csv",
        ckpt_dir=checkpoints,
    )
