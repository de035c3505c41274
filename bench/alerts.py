"""Benchmark broker mode end to end: schemaless messages -> decode -> features -> model -> brokerClassification bytes.

Alerts: the simulated ELAsTiCC alert stream of the real light curves in ``../shared/realdata`` (or,
without it, of a small mock sample), keeping alerts with 30-150 observations (forced photometry +
detections), repeated to ``--batch`` alerts with distinct alertIds. Model: the default
architecture (LSTM 2x100, untrained: weights do not change the cost) on ONNX Runtime (``--runtime``).

Printed, each stage's share and the end-to-end time as a ratio to the model's forward pass alone
on the same batch (the same windows, padded, run through ``Classifier.forward``), all in one
process: absolute figures on a shared machine are noise. Also the latency of one alert
(decode -> answer bytes), p50/p99, with one thread, and peak RSS.

Usage::

    python bench/alerts.py [--runtime onnx|torch] [--batch 4096] [--repeat 5] [--threads 2]

Goal on 2 CPU cores: >= 5,000 alerts/s batched (ONNX), p99 <= 5 ms for one alert, the feature
path (everything but the forward) no dearer than the forward.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from elasticc_classification.features.features import build_shard  # noqa: E402
from elasticc_classification.inference.alerts import AlertClassifier, alerts_to_table  # noqa: E402
from elasticc_classification.inference.classifier import batched  # noqa: E402
from elasticc_classification.io import alerts as aio
from elasticc_classification.io.sources import sources  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata" / "elasticc2_train_1percent"


def stream(tmp: Path) -> list[dict]:
    """Simulated alerts of real light curves (mock ones without ../shared/realdata)."""
    if REALDATA.is_dir():
        inputs = [REALDATA]
    else:
        from elasticc_classification.mock import generate

        generate(
            tmp / "mock", models=["SNII-NMF", "RRL", "AGN" if False else "CLAGN"], n_chunks=1, objects_per_chunk=60
        )
        inputs = [tmp / "mock"]
    return [a for src, load in sources(inputs) for a in aio.simulate_table(load(), src)]


def n_points(a: dict) -> int:
    return 1 + len(a["prvDiaSources"] or ()) + len(a["prvDiaForcedSources"] or ())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--single", type=int, default=300, help="one-alert calls for the latency figures")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    from predict import make_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        make_model(tmp / "model.ckpt")
        alerts = [a for a in stream(tmp) if 30 <= n_points(a) <= 150]
        if not alerts:
            sys.exit("no alert with 30-150 observations in the sample")
        pick = np.resize(np.arange(len(alerts)), args.batch)
        batch = []
        for k, i in enumerate(pick):
            a = dict(alerts[i])
            a["alertId"] = int(k)
            batch.append(a)
        msgs = [aio.encode_message(a) for a in batch]
        pts = np.array([n_points(a) for a in batch])
        clf = AlertClassifier(tmp / "model.ckpt", args.runtime, batch_size=1024)
        # the model's forward alone on the same windows
        arr = aio.to_arrow(batch)
        ab = alerts_to_table(arr)
        shard = build_shard(ab.table, clf.classifier.feature_cfg, clf.taxonomy, require_labels=False)
        idx = np.arange(len(shard.lengths))
        ends = shard.lengths.astype(np.int64)
        logging.disable(logging.INFO)

        def forward_only() -> None:
            batched(clf.classifier.forward, shard, idx, ends, 1024, clf.taxonomy.n_nodes)

        stages: dict[str, list[float]] = {
            k: [] for k in ("decode", "alerts_to_table", "predict_table", "records", "encode", "forward")
        }
        fastavro_decode: list[float] = []
        from elasticc_classification.inference.predict import predict_table

        for _ in range(args.repeat + 1):
            t = time.perf_counter()
            aio.to_arrow(aio.decode_messages(msgs))  # the per-record decoder, for comparison
            fastavro_decode.append(time.perf_counter() - t)
            t0 = time.perf_counter()
            arr = aio.decode_messages_arrow(msgs)
            t2 = time.perf_counter()
            ab = alerts_to_table(arr)
            t3 = time.perf_counter()
            out = predict_table(clf.classifier, ab.table, batch_size=1024)
            t4 = time.perf_counter()
            import pyarrow as pa

            keyed = out.drop_columns(["SNID"])
            for j, (name, col) in enumerate(
                (("alertId", ab.alert_id), ("diaObjectId", ab.dia_object_id), ("diaSourceId", ab.dia_source_id))
            ):
                keyed = keyed.add_column(j, name, pa.array(col))
            recs = clf.records(keyed)
            t5 = time.perf_counter()
            clf.encode(recs)
            t6 = time.perf_counter()
            forward_only()
            t7 = time.perf_counter()
            for k, v in zip(stages, (t2 - t0, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
                stages[k].append(v)
        med = {k: float(np.median(v[1:])) for k, v in stages.items()}  # first round: warm-up
        total = sum(v for k, v in med.items() if k != "forward")
        fwd = med["forward"]
        # predict_table includes the forward: split it
        feat = total - fwd
        print(
            f"{len(batch)} alerts, {pts.mean():.0f} observations each on average (min {pts.min()}, max {pts.max()}), "
            f"runtime {args.runtime}, {args.threads} threads, load {os.getloadavg()[0]:.1f}"
        )
        for k, v in med.items():
            print(f"  {k:16s} {v * 1e3:8.1f} ms  ({v / fwd:5.2f}x forward)")
        fa = float(np.median(fastavro_decode[1:]))
        print(f"  (fastavro decode + to_arrow: {fa * 1e3:.1f} ms, {fa / med['decode']:.1f}x the vectorised decoder)")
        print(
            f"end to end: {len(batch) / total:,.0f} alerts/s = {total / fwd:.2f}x the forward alone "
            f"({len(batch) / fwd:,.0f} alerts/s); everything but the forward: {feat / fwd:.2f}x the forward, "
            f"decode alone {med['decode'] / fwd:.2f}x"
        )

        # one alert at a time (one thread), decode -> answer bytes
        torch.set_num_threads(1)
        single = AlertClassifier(tmp / "model.ckpt", args.runtime, batch_size=1)
        lat, lat_fwd = [], []
        for k in range(args.single + 10):
            m = msgs[k % len(msgs)]
            t = time.perf_counter()
            single.encode(single.classify([m]))
            lat.append(time.perf_counter() - t)
            j = k % len(shard.lengths)  # the model's forward alone on that alert's window
            t = time.perf_counter()
            batched(single.classifier.forward, shard, idx[j : j + 1], ends[j : j + 1], 1, clf.taxonomy.n_nodes)
            lat_fwd.append(time.perf_counter() - t)
        lat_ms, fwd_ms = np.array(lat[10:]) * 1e3, np.array(lat_fwd[10:]) * 1e3
        p50, p99 = np.percentile(lat_ms, 50), np.percentile(lat_ms, 99)
        f50, f99 = np.percentile(fwd_ms, 50), np.percentile(fwd_ms, 99)
        print(
            f"one alert (decode -> answer bytes): p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
            f"its forward alone p50 {f50:.2f} ms, p99 {f99:.2f} ms ({p50 / f50:.1f}x at p50)"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
