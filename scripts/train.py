"""Snakemake script of rule train: every tensor shard -> the model artifact and its training log."""

import os

# OpenMP threads that sleep instead of spinning at barriers: on a shared or oversubscribed node a
# 2-thread LSTM otherwise runs ~10x slower (measured: 26-276 vs 825-861 windows/s). Set before
# torch is imported; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from elasticc_classification.logs import run_script  # noqa: E402


def main(snakemake) -> None:
    from elasticc_classification.model.train import main_snakemake

    main_snakemake(snakemake)


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
