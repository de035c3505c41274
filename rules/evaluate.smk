# Evaluate stage: calibration (temperature on the validation split), metrics on the test split by
# days since the first detection, figures, and the Snakemake report (snakemake --report report.html).
# Each rule's params are the evaluate settings that change its output (x-changes in config/schema.yaml).

from elasticc_classification.evaluation.evaluate import plot_names as _eval_plot_names
from elasticc_classification.features.taxonomy import Taxonomy as _Taxonomy


report: "../report/workflow.rst"


EVAL = RESULTS / "evaluation"
EVAL_CFG = config["evaluate"]
_EVAL_TAX = _Taxonomy.load(config["taxonomy"])
_bad_confusion = sorted(set(EVAL_CFG["confusion_days"]) - set(EVAL_CFG["days"]))
if _bad_confusion:
    raise WorkflowError(f"config evaluate.confusion_days {_bad_confusion} are not in evaluate.days {EVAL_CFG['days']}")
_CONFUSION_PNGS = [n for n in _eval_plot_names(_EVAL_TAX, EVAL_CFG["confusion_days"]) if n.startswith("confusion_")]
MODEL_CKPT = RESULTS / "model/model.ckpt"
EVAL_MODEL = RESULTS / "model/model_calibrated.ckpt" if EVAL_CFG["calibrate"] else MODEL_CKPT


rule calibrate:
    input:
        model=MODEL_CKPT,
        shards=SHARDS,
    output:
        model=RESULTS / "model/model_calibrated.ckpt",
        summary=report(
            EVAL / "calibration.json",
            caption="../report/calibration.rst",
            category="Evaluation",
            subcategory="Calibration",
        ),
    log:
        LOGS / "calibrate.log",
    benchmark:
        RESULTS / "benchmarks/calibrate.tsv"
    conda:
        CONDA_CPU
    threads: EVAL_CFG["threads"]
    resources:
        mem_mb=EVAL_CFG["mem_mb"],
        runtime=EVAL_CFG["runtime"],
    params:
        cfg=rule_settings(EVAL_CFG, "evaluate", "calibrate"),
    script:
        "../scripts/calibrate.py"


rule evaluate:
    input:
        model=EVAL_MODEL,
        shards=SHARDS,
    output:
        metrics=EVAL / "metrics.json",
        csv=report(EVAL / "metrics.csv", caption="../report/metrics.rst", category="Evaluation", subcategory="Tables"),
        per_class=report(
            EVAL / "per_class.csv", caption="../report/per_class.rst", category="Evaluation", subcategory="Tables"
        ),
        predictions=EVAL / "predictions.npz",
    log:
        LOGS / "evaluate.log",
    benchmark:
        RESULTS / "benchmarks/evaluate.tsv"
    conda:
        CONDA_CPU
    threads: EVAL_CFG["threads"]
    resources:
        mem_mb=EVAL_CFG["mem_mb"],
        runtime=EVAL_CFG["runtime"],
    params:
        cfg=rule_settings(EVAL_CFG, "evaluate", "evaluate"),
    script:
        "../scripts/evaluate.py"


rule evaluation_plots:
    input:
        metrics=EVAL / "metrics.json",
        predictions=EVAL / "predictions.npz",
        loss=RESULTS / "model/metrics.csv",
    output:
        f1=report(
            EVAL / "plots/f1_vs_days.png",
            caption="../report/f1_vs_days.rst",
            category="Evaluation",
            subcategory="Summary",
        ),
        roc=report(
            EVAL / "plots/roc_leaf.png", caption="../report/roc.rst", category="Evaluation", subcategory="Summary"
        ),
        reliability=report(
            EVAL / "plots/reliability.png",
            caption="../report/reliability.rst",
            category="Evaluation",
            subcategory="Summary",
        ),
        loss=report(EVAL / "plots/loss.png", caption="../report/loss.rst", category="Training"),
        confusion=report(
            [str(EVAL / "plots" / n) for n in _CONFUSION_PNGS],
            caption="../report/confusion.rst",
            category="Confusion matrices",
        ),
    log:
        LOGS / "evaluation_plots.log",
    conda:
        CONDA_CPU
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cfg=rule_settings(EVAL_CFG, "evaluate", "evaluation_plots"),
    script:
        "../scripts/evaluation_plots.py"


ALL_TARGETS.extend([str(EVAL / "metrics.json"), str(EVAL / "metrics.csv"), str(EVAL / "per_class.csv")])
ALL_TARGETS.extend(
    str(EVAL / "plots" / n) for n in ["f1_vs_days.png", "roc_leaf.png", "reliability.png", "loss.png", *_CONFUSION_PNGS]
)
