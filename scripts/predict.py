"""Snakemake script of rule predict: classify every pair (or parquet) of the input directory."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    import torch

    from elasticc_classification.inference.predict import predict

    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    predict(
        snakemake.input.model,
        [snakemake.input.inputs],
        snakemake.output[0],
        days=p.days,
        per_epoch=p.per_epoch,
        runtime=p.runtime,
        batch_size=p.batch_size,
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
