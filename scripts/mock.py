"""Snakemake glue for rule mock: write one model's synthetic chunk pairs."""

from elasticc_classification.logs import run_script


def main(snakemake):
    from elasticc_classification.mock import generate

    cfg = snakemake.params.cfg  # the mock settings that change its files
    generate(
        snakemake.params.outdir,
        models=[snakemake.wildcards.model],
        n_chunks=cfg["chunks"],
        objects_per_chunk=cfg["objects_per_chunk"],
        seed=cfg["seed"],
        prefix=cfg["prefix"],
        mix=cfg["mix"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
