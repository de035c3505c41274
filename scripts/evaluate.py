"""Snakemake script of rule evaluate: metrics on the test split by days since the first detection."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    from pathlib import Path

    import torch

    from elasticc_classification.evaluation.evaluate import evaluate

    torch.set_num_threads(snakemake.threads)
    evaluate(
        snakemake.input.model,
        list(snakemake.input.shards),
        Path(snakemake.output.metrics).parent,
        days=snakemake.params.days,
        batch_size=snakemake.params.batch_size,
        n_bins=snakemake.params.bins,
        plot_days=snakemake.params.confusion_days,
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
