# Broker mode (config section `alerts`, off by default): simulate the ELAsTiCC alert stream of every
# converted chunk (one Avro alert per detection) into <results_dir>/alerts/stream/, and, with
# `alerts.classify`, answer every alert with a brokerClassification record from the (calibrated) model.

ALERTS_CFG = config["alerts"]


if ALERTS_CFG["simulate"]:

    rule alerts_simulate:
        input:
            all_chunk_files(PARQUET),
        output:
            directory(RESULTS / "alerts" / "stream"),
        log:
            LOGS / "alerts" / "simulate.log",
        conda:
            CONDA_CPU
        threads: 1
        resources:
            mem_mb=ALERTS_CFG["mem_mb"],
            runtime=ALERTS_CFG["runtime_min"],
        params:
            cfg=rule_settings(ALERTS_CFG, "alerts", "alerts_simulate"),
        script:
            "../scripts/alerts.py"

    ALL_TARGETS.append(str(RESULTS / "alerts" / "stream"))
    if ALERTS_CFG["classify"]:

        rule alerts_classify:
            input:
                model=EVAL_MODEL,
                stream=RESULTS / "alerts" / "stream",
            output:
                RESULTS / "alerts" / "broker_classifications.avro",
            log:
                LOGS / "alerts" / "classify.log",
            conda:
                CONDA_CPU
            threads: ALERTS_CFG["threads"]
            resources:
                mem_mb=ALERTS_CFG["mem_mb"],
                runtime=ALERTS_CFG["runtime_min"],
            params:
                cfg=rule_settings(ALERTS_CFG, "alerts", "alerts_classify"),
            script:
                "../scripts/alerts.py"

        ALL_TARGETS.append(str(RESULTS / "alerts" / "broker_classifications.avro"))
