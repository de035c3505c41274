"""Snakemake script of rule predict: classify every pair (or parquet) of the input directory."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    import torch

    from elasticc_classification.inference.predict import predict

    torch.set_num_threads(snakemake.threads)
    cfg = snakemake.params.cfg  # the predict settings that change its output
    predict(
        snakemake.input.model,
        [snakemake.input.inputs],
        snakemake.output[0],
        days=cfg["days"],
        per_epoch=cfg["per_epoch"],
        runtime=cfg["runtime"],
        batch_size=cfg["batch_size"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
