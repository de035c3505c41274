"""Snakemake script of rule evaluation_plots: PNG figures from the evaluation and the training log."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    from pathlib import Path

    from elasticc_classification.evaluation.evaluate import make_plots

    cfg = snakemake.params.cfg  # the evaluate settings that change the plots
    make_plots(
        Path(snakemake.input.metrics).parent,
        Path(snakemake.output.f1).parent,
        confusion_days=cfg["confusion_days"],
        n_bins=cfg["reliability_bins"],
        loss_csv=snakemake.input.loss,
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
