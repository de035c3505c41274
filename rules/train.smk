# Train stage: every tensor shard -> one model artifact (weights, taxonomy, feature configuration,
# normalisation, training config, provenance) and the merged training log for the loss plot.
# Lightning's own checkpoints live in RESULTS/model/checkpoints (not an output): a killed job
# restarted with the same inputs resumes from its last.ckpt. gpus > 0 asks the scheduler for GPUs
# (e.g. SLURM via the executor plugin); multi-GPU DDP through train.devices / num_nodes / strategy.

# Settings that change the model are params (a change reruns train); resources and the progress
# bar are not.
_TRAIN_NOT_PARAMS = ("threads", "mem_mb", "runtime", "gpus", "progress_bar")


rule train:
    input:
        shards=SHARDS,
        taxonomy=config["taxonomy"],
    output:
        model=RESULTS / "model/model.ckpt",
        metrics=RESULTS / "model/metrics.csv",
    log:
        LOGS / "train.log",
    conda:
        CONDA_TRAIN
    threads: config.get("train", {}).get("threads", 2)
    resources:
        gpu=config.get("train", {}).get("gpus", 0),
        mem_mb=config.get("train", {}).get("mem_mb", 8000),
        runtime=config.get("train", {}).get("runtime", 240),
    params:
        train={k: v for k, v in config.get("train", {}).items() if k not in _TRAIN_NOT_PARAMS},
        augment=config.get("augment", {}),
        ckpt_dir=str(RESULTS / "model/checkpoints"),
    script:
        "../scripts/train.py"


ALL_TARGETS.append(str(RESULTS / "model/model.ckpt"))
