"""Snakemake script of rule calibrate: fit the temperature on the validation split."""

import os

# OpenMP threads that sleep instead of spinning at barriers (as in scripts/train.py): on a loaded
# machine evaluate spent 45 CPU s spinning without it, 6.7 s with it. Set before torch is imported;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from elasticc_classification.logs import run_script  # noqa: E402


def main(snakemake) -> None:
    import torch

    from elasticc_classification.evaluation.calibration import calibrate

    torch.set_num_threads(snakemake.threads)
    cfg = snakemake.params.cfg  # the evaluate settings that change calibrate's output
    calibrate(
        snakemake.input.model,
        list(snakemake.input.shards),
        snakemake.output.model,
        snakemake.output.summary,
        days=[*cfg["days"], "full"],
        batch_size=cfg["batch_size"],
        n_bins=cfg["reliability_bins"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
