"""Snakemake glue: fetch, verify and unpack the ELAsTiCC2 training tarball (rules/download.smk)."""

from pathlib import Path

from elasticc_classification.io.download import download
from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    p = snakemake.params
    download(
        Path(snakemake.output[0]).parent,
        url=p.url,
        size_bytes=p.size_bytes,
        sha256=p.sha256,
        keep_tarball=p.keep_tarball,
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
