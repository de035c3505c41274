# Convert stage: one job per SNANA HEAD/PHOT chunk pair -> one parquet (one row per object).
# Chunks come from config raw_dir (or the mock sample); see rules/common.smk:PAIRS.


rule convert:
    input:
        unpack(chunk_pair),
    output:
        PARQUET,
    log:
        LOGS / "convert/{model}/{chunk}.log",
    benchmark:
        RESULTS / "benchmarks/convert/{model}/{chunk}.tsv"
    conda:
        CONDA_CPU
    threads: 1
    resources:
        mem_mb=config["resources"]["convert"]["mem_mb"],
        runtime=config["resources"]["convert"]["runtime"],
    params:
        model=lambda wc: wc.model,
    script:
        "../scripts/convert.py"


ALL_TARGETS.extend(all_chunk_files(PARQUET))
