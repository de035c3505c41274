"""Snakemake script of rule evaluate: metrics on the test split by days since the first detection."""

import os

# OpenMP threads that sleep instead of spinning at barriers (as in scripts/train.py): on a loaded
# machine evaluate spent 45 CPU s spinning without it, 6.7 s with it. Set before torch is imported;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from elasticc_classification.logs import run_script  # noqa: E402


def main(snakemake) -> None:
    from pathlib import Path

    import torch

    from elasticc_classification.evaluation.evaluate import evaluate

    torch.set_num_threads(snakemake.threads)
    cfg = snakemake.params.cfg  # the evaluate settings that change evaluate's output
    evaluate(
        snakemake.input.model,
        list(snakemake.input.shards),
        Path(snakemake.output.metrics).parent,
        days=cfg["days"],
        batch_size=cfg["batch_size"],
        n_bins=cfg["reliability_bins"],
        plot_days=cfg["confusion_days"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
