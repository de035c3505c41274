"""Snakemake script of rule lightcurve_gallery: a few light curves of one model -> one PNG."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    import logging

    from elasticc_classification.evaluation.plots import lightcurve_gallery
    from elasticc_classification.features.taxonomy import Taxonomy

    # params.cfg: the tensorize settings that change the gallery (preprocessing, gallery_objects)
    n = lightcurve_gallery(
        snakemake.input.parquets,
        snakemake.output[0],
        cfg=snakemake.params.cfg,
        taxonomy=Taxonomy.load(snakemake.input.taxonomy),
        title=snakemake.wildcards.model,
    )
    logging.getLogger("elasticc_classification").info("%s: %d light curves drawn", snakemake.output[0], n)


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
