# Mock stage: when config raw_dir is null, one job per model writes that model's synthetic
# SNANA chunk pairs (the real layout) under MOCK_DIR; rules/common.smk:PAIRS points convert at them.

if not config["raw_dir"]:
    _unknown_mock = [m for m in _mock_models() if m not in MOCK_MODELS]
    if _unknown_mock:
        raise WorkflowError(
            f"config mock.models: unknown model(s) {_unknown_mock}; use 'all' or names from: {', '.join(MOCK_MODELS)}"
        )

    rule mock:
        output:
            mock_outputs("{model}"),
        log:
            LOGS / "mock/{model}.log",
        benchmark:
            RESULTS / "benchmarks/mock/{model}.tsv"
        conda:
            CONDA_CPU
        threads: 1
        resources:
            # measured: 43 MB peak at 60 objects/chunk, 377 MB at 4,000 (batched); ~10,000 objects/s (CPU)
            mem_mb=lambda wc: int(300 + 0.25 * config["mock"]["objects_per_chunk"]),
            runtime=lambda wc: int(2 + config["mock"]["chunks"] * config["mock"]["objects_per_chunk"] / 60000),
        params:
            # MOCK_DIR, from the output (<MOCK_DIR>/<PREFIX>_<MODEL>/<file>)
            outdir=lambda wc, output: str(Path(output[0]).parents[1]),
            cfg=rule_settings(config["mock"], "mock", "mock"),
        script:
            "../scripts/mock.py"
