"""Snakemake script of rule tensorize: one chunk parquet -> one tensor shard."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    from elasticc_classification.features.tensorize import tensorize

    tensorize(snakemake.input.parquet, snakemake.output[0], cfg=snakemake.params.cfg, taxonomy=snakemake.input.taxonomy)


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
