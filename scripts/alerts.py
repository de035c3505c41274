"""Snakemake script of rules alerts_simulate (chunks -> alert stream) and alerts_classify (stream -> brokerClassification)."""

from elasticc_classification.logs import run_script


def main(snakemake) -> None:
    if snakemake.rule == "alerts_simulate":
        from elasticc_classification.io.alerts import simulate

        simulate(list(snakemake.input), snakemake.output[0], chunk_size=snakemake.params.cfg["chunk_size"])
        return
    import torch

    from elasticc_classification.inference.alerts import classify_alerts

    torch.set_num_threads(snakemake.threads)
    classify_alerts(
        snakemake.input.model,
        [snakemake.input.stream],
        snakemake.output[0],
        runtime=snakemake.params.cfg["runtime"],
        batch_size=snakemake.params.cfg["batch_size"],
    )


run_script(main, snakemake)  # noqa: F821 (injected by Snakemake)
