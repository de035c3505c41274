"""Snakemake glue: fetch, verify and unpack the ELAsTiCC2 training tarball (rules/download.smk)."""

from pathlib import Path

from elasticc_classification.io.download import download
from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    cfg = snakemake.params.cfg  # the download settings that change its output
    download(
        Path(snakemake.output[0]).parent,
        url=cfg["url"],
        size_bytes=cfg["size_bytes"],
        sha256=cfg["sha256"],
        keep_tarball=cfg["keep_tarball"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
