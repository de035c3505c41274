"""Snakemake script of rule calibrate: fit the temperature on the validation split."""

from elasticc_classification.logs import run_script


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
