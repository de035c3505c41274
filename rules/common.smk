"""Config validation, chunk discovery and input/output functions shared by every rule."""

from pathlib import Path

from snakemake.utils import validate

from elasticc_classification.config import rule_settings
from elasticc_classification.io import layout
from elasticc_classification.mock import MODELS as MOCK_MODELS

# The schema holds every default: validation fills them in, so rules read config[...] directly.
validate(config, schema="../config/schema.yaml", set_default=True)

# Conda environments for `--sdm conda` (paths relative to rules/; envs/*.yaml mirror pyproject).
CONDA_CPU = "../envs/cpu.yaml"
CONDA_TRAIN = "../envs/cuda.yaml" if config["train"]["gpus"] else CONDA_CPU

RESULTS = Path(config["results_dir"])
LOGS = RESULTS / "logs"

# Final outputs of every stage; each rules/<stage>.smk appends its own.
ALL_TARGETS = []
MOCK_DIR = RESULTS / "mock_raw"


def _mock_models():
    m = config["mock"]["models"]
    return list(MOCK_MODELS) if m == "all" else list(m)


def _discover_pairs():
    """(model, chunk) -> ChunkPair for every chunk the workflow converts."""
    if config["raw_dir"]:
        try:
            pairs = layout.find_pairs(config["raw_dir"])
        except layout.LayoutError as e:
            raise WorkflowError(f"config raw_dir: {e}") from None
        return {(p.model, p.chunk): p for p in pairs}
    mc = config["mock"]
    out = {}
    for model in _mock_models():
        for c in range(1, mc["chunks"] + 1):
            head, phot = layout.chunk_paths(MOCK_DIR, mc["prefix"], model, c)
            out[(model, f"{c:04d}")] = layout.ChunkPair(model, f"{c:04d}", head, phot)
    return out


PAIRS = _discover_pairs()
MODELS = sorted({m for m, _ in PAIRS})


def chunk_pair(wildcards):
    """HEAD and PHOT file of one chunk, for the convert rule."""
    p = PAIRS[(wildcards.model, wildcards.chunk)]
    return {"head": str(p.head), "phot": str(p.phot)}


def all_chunk_files(pattern):
    """``pattern`` (with {model} and {chunk}) expanded over every chunk pair."""
    return [pattern.format(model=m, chunk=c) for (m, c) in sorted(PAIRS)]


def mock_outputs(model_pattern):
    """HEAD and PHOT files of every mock chunk of ``model_pattern`` (a model or "{model}")."""
    mc = config["mock"]
    files = []
    for c in range(1, mc["chunks"] + 1):
        files.extend(str(p) for p in layout.chunk_paths(MOCK_DIR, mc["prefix"], model_pattern, c))
    return files


def model_parquets(wildcards):
    """Every chunk parquet of model ``wildcards.model``, for its light-curve gallery."""
    return [PARQUET.format(model=m, chunk=c) for (m, c) in sorted(PAIRS) if m == wildcards.model]


# Per-chunk outputs of convert and tensorize; every shard is an input of train, calibrate and evaluate.
PARQUET = str(RESULTS / "parquet/{model}/{chunk}.parquet")
SHARD = str(RESULTS / "shards/{model}/{chunk}.arrow")
SHARDS = all_chunk_files(SHARD)


wildcard_constraints:
    model="[^/]+",
    chunk="[0-9]+",
