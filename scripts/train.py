"""Snakemake script of rule train: every tensor shard -> the model artifact and its training log."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    from elasticc_classification.train import main_snakemake

    main_snakemake(snakemake)


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
