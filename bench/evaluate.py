"""Benchmark evaluate: light curves per second over every truncation, against the bare forward passes.

A synthetic test split (random features, realistic ragged lengths) and an untrained model of the
default architecture; ``evaluate`` (13 truncations: forward passes, marginals, metrics, files;
the split streamed in parts) is timed against the classifier's logits alone on the same windows
(the whole split in memory, batched as ``evaluate`` batches) in the same process (ratio = overhead
of everything but the network), plus peak memory.

    python bench/evaluate.py [--objects 5000] [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from predict import make_model  # noqa: E402  bench/predict.py, beside this script

from elasticc_classification import config  # noqa: E402
from elasticc_classification.evaluation import evaluate as E  # noqa: E402
from elasticc_classification.evaluation.calibration import stream_objects  # noqa: E402
from elasticc_classification.evaluation.metrics import DEFAULT_DAYS  # noqa: E402
from elasticc_classification.features.features import feature_names, static_names  # noqa: E402
from elasticc_classification.features.shards import Shard, iter_split, write_shard  # noqa: E402
from elasticc_classification.features.taxonomy import Taxonomy  # noqa: E402
from elasticc_classification.inference.classifier import (  # noqa: E402
    batched,
    inference_device,
    load_classifier,
    window_ends,
)


def synthetic_test_shard(n: int, path: Path, seed: int = 0) -> None:
    """``n`` test objects, 5-150 observations, a few days apart, first detection in the first third."""
    rng = np.random.default_rng(seed)
    cfg = config.section_defaults("tensorize")
    f, s, tax = len(feature_names(cfg)), len(static_names(cfg)), Taxonomy.load()
    lengths = rng.integers(5, 150, n)
    off = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    steps = rng.exponential(5.0, off[-1])
    steps[off[:-1]] = 0.0
    t = np.cumsum(steps) - np.repeat(np.cumsum(steps)[off[:-1]], lengths)
    x = rng.normal(size=(off[-1], f)).astype(np.float32)
    x[:, 0] = t
    write_shard(
        Shard(
            np.arange(n).astype(str).astype(object),
            np.full(n, "m", object),
            rng.choice(tax.leaves, n).astype(np.int16),
            np.full(n, 2, np.int8),
            np.zeros(n),
            (rng.random(n) * lengths / 3).astype(np.int32),
            rng.normal(size=(n, s)).astype(np.float32),
            x,
            off,
            meta={"feature_names": feature_names(cfg), "static_names": static_names(cfg)},
        ),
        path,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=5000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.disable(logging.INFO)
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    synthetic_test_shard(args.objects, tmp / "test.arrow")
    make_model(tmp / "model.ckpt")
    dev = inference_device(args.device)
    n_eval = args.objects * (len(DEFAULT_DAYS) + 1)

    clf = load_classifier(tmp / "model.ckpt", "torch", dev)
    assert clf.logits is not None
    parts = list(iter_split([tmp / "test.arrow"], "test", stream_objects(1024)))  # evaluate's parts, held here
    t0 = time.perf_counter()
    for d in [*DEFAULT_DAYS, "full"]:
        for part in parts:
            batched(clf.logits, part, np.arange(len(part)), window_ends(part, d))
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    E.evaluate(tmp / "model.ckpt", [tmp / "test.arrow"], tmp / "eval", device=args.device)
    full = time.perf_counter() - t0
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if dev == "cuda" else ""
    print(
        f"device {dev}, {args.objects} test objects (mean {np.mean([p.lengths.mean() for p in parts]):.0f} observations), {len(DEFAULT_DAYS) + 1} truncations"
    )
    print(f"forward passes alone: {base:.1f} s = {n_eval / base:,.0f} light curves/s")
    print(
        f"evaluate (everything): {full:.1f} s = {n_eval / full:,.0f} light curves/s, {full / base:.2f}x the forward passes"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB{gpu}")


if __name__ == "__main__":
    main()
