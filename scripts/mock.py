"""Snakemake glue for rule mock: write one model's synthetic chunk pairs."""

from elasticc_classification.logs import run_script


def main(snakemake):
    from elasticc_classification.mock import generate

    p = snakemake.params
    generate(
        p.outdir,
        models=[snakemake.wildcards.model],
        n_chunks=p.chunks,
        objects_per_chunk=p.objects_per_chunk,
        seed=p.seed,
        prefix=p.prefix,
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
