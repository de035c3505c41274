"""Snakemake script of rule convert: one SNANA HEAD/PHOT pair -> one parquet."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    from elasticc_classification.io.snana import convert_pair

    convert_pair(snakemake.input.head, snakemake.input.phot, snakemake.output[0], model=snakemake.params.model)


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
