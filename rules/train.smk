# Train stage: every tensor shard -> one model artifact (weights, taxonomy, feature configuration,
# normalisation, training config, provenance) and the merged training log for the loss plot.
# Lightning's own checkpoints live in RESULTS/model/checkpoints (not an output): a killed job
# restarted with the same inputs resumes from its last.ckpt. gpus > 0 asks the scheduler for GPUs
# (e.g. SLURM via the executor plugin); multi-GPU DDP through train.devices / num_nodes / strategy.
# Params: the train and augment settings that change the model (x-changes in config/schema.yaml);
# resources and the progress bar are not params (changing them reruns nothing).


rule train:
    input:
        shards=SHARDS,
        taxonomy=config["taxonomy"],
    output:
        model=RESULTS / "model/model.ckpt",
        metrics=RESULTS / "model/metrics.csv",
    log:
        LOGS / "train.log",
    benchmark:
        RESULTS / "benchmarks/train.tsv"
    conda:
        CONDA_TRAIN
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpus"],
        mem_mb=config["train"]["mem_mb"],
        runtime=config["train"]["runtime"],
    params:
        train=rule_settings(config["train"], "train", "train"),
        augment=rule_settings(config["augment"], "augment", "train"),
        ckpt_dir=str(RESULTS / "model/checkpoints"),
    script:
        "../scripts/train.py"


ALL_TARGETS.append(str(RESULTS / "model/model.ckpt"))
