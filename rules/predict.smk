# Predict stage: classify every HEAD/PHOT pair (or parquet) under config predict.input_dir with the
# (calibrated) model -> <results_dir>/predictions.parquet. Skipped when predict.input_dir is null.

PREDICT_CFG = config["predict"]


if PREDICT_CFG["input_dir"]:

    rule predict:
        input:
            model=EVAL_MODEL,
            inputs=PREDICT_CFG["input_dir"],
        output:
            RESULTS / "predictions.parquet",
        log:
            LOGS / "predict.log",
        conda:
            CONDA_CPU
        threads: PREDICT_CFG["threads"]
        resources:
            mem_mb=PREDICT_CFG["mem_mb"],
            runtime=PREDICT_CFG["runtime_min"],
        params:
            cfg=rule_settings(PREDICT_CFG, "predict", "predict"),
        script:
            "../scripts/predict.py"

    ALL_TARGETS.append(str(RESULTS / "predictions.parquet"))
