# Tensorize stage: one job per chunk parquet -> one tensor shard (light curves stored once,
# ragged; windows are drawn at batch time by elasticc_classification.features.augment), and one
# light-curve gallery PNG per model. Each rule's params are the tensorize settings that change its
# output (x-changes in config/schema.yaml): gallery_objects reruns only the galleries.


rule tensorize:
    input:
        parquet=PARQUET,
        taxonomy=config["taxonomy"],
    output:
        SHARD,
    log:
        LOGS / "tensorize/{model}/{chunk}.log",
    benchmark:
        RESULTS / "benchmarks/tensorize/{model}/{chunk}.tsv"
    conda:
        CONDA_CPU
    threads: 1
    resources:
        mem_mb=config["resources"]["tensorize"]["mem_mb"],
        runtime=config["resources"]["tensorize"]["runtime"],
    params:
        cfg=rule_settings(config["tensorize"], "tensorize", "tensorize"),
    script:
        "../scripts/tensorize.py"


rule lightcurve_gallery:
    input:
        parquets=model_parquets,
        taxonomy=config["taxonomy"],
    output:
        report(
            RESULTS / "plots/lightcurves/{model}.png",
            caption="../report/lightcurves.rst",
            category="Light curves",
            labels={"model": "{model}"},
        ),
    log:
        LOGS / "lightcurve_gallery/{model}.log",
    conda:
        CONDA_CPU
    threads: 1
    resources:
        mem_mb=config["resources"]["tensorize"]["mem_mb"],
        runtime=config["resources"]["tensorize"]["runtime"],
    params:
        cfg=rule_settings(config["tensorize"], "tensorize", "lightcurve_gallery"),
    script:
        "../scripts/lightcurve_gallery.py"


ALL_TARGETS.extend(SHARDS)
ALL_TARGETS.extend(str(RESULTS / f"plots/lightcurves/{m}.png") for m in MODELS)
