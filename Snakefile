# ELAsTiCC-Classification: SNANA FITS chunks -> parquet -> tensor shards -> hierarchical LSTM
# -> metrics, plots, report and predictions. Each stage lives in rules/<stage>.smk and adds
# its final outputs to ALL_TARGETS, which `rule all` (the default target) collects.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/mock.smk"
include: "rules/convert.smk"
include: "rules/tensorize.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/predict.smk"
include: "rules/alerts.smk"
include: "rules/download.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
