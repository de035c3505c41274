"""Benchmark prediction: latency of one alert with 100 observations and batched throughput.

Every figure is printed next to a bare ``nn.LSTM(F, 100, num_layers=2)`` baseline run in the same
process on the same inputs (ratio = ours / baseline), because absolute timings on a shared machine
are noise. Paths measured (the default architecture: LSTM 2x100, static branch, head, marginals):

* ``torch``      the model's own forward (packed on GPUs, padded on CPUs: ``train.model.pack``) + ``loss.log_marginals``;
* ``exportable`` what an export file holds: the same network on its padded path + its in-graph marginals;
* ``onnx``       the ONNX export on onnxruntime (CPU only).

Usage::

    python bench/predict.py                    # CPU, 2 threads
    python bench/predict.py --device cuda      # GPU (batched figures at batch 4096)

Goal on 2 CPU cores: p50 <= 2 ms and p99 <= 5 ms for one alert, >= 3,000 light curves/s batched.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from elasticc_classification import config  # noqa: E402
from elasticc_classification.features.features import feature_names, static_names  # noqa: E402
from elasticc_classification.features.taxonomy import Taxonomy  # noqa: E402
from elasticc_classification.inference import export as X  # noqa: E402
from elasticc_classification.model.loss import log_marginals  # noqa: E402
from elasticc_classification.model.module import HierarchicalClassifier, artifact_dict, load_model  # noqa: E402


def make_model(path: Path) -> None:
    """Default-architecture model artifact (untrained: weights do not change the cost)."""
    cfg = config.section_defaults("tensorize")
    m = HierarchicalClassifier(Taxonomy.load().to_dict(), feature_names(cfg), static_names(cfg), preprocess=cfg)
    torch.save(artifact_dict(m.eval()), path)


def inputs(batch: int, steps: int, f: int, s: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, f, generator=g)
    x[..., 0] = torch.cumsum(torch.rand(batch, steps, generator=g) * 3, 1)
    lengths = torch.full((batch,), steps, dtype=torch.int64)
    static = torch.randn(batch, s, generator=g)
    return x, lengths, static


def interleaved(fns: dict, rounds: int, warmup: int = 3, sync=lambda: None) -> dict[str, np.ndarray]:
    """Wall time (s) of each function per round, the functions called in turn within each round so
    that all see the same load of the shared machine."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
        sync()
    out = {k: np.empty(rounds) for k in fns}
    for r in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            sync()
            out[k][r] = time.perf_counter() - t
    return out


def _ort_options(ort, threads: int):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait between calls
    return so


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=2, help="torch / onnxruntime intra-op threads for batches (CPU)")
    ap.add_argument(
        "--latency-threads",
        type=int,
        default=1,
        help="threads for one alert (default 1: a broker runs one worker per core; intra-op threads only add barriers)",
    )
    ap.add_argument("--steps", type=int, default=100, help="observations per light curve")
    ap.add_argument("--calls", type=int, default=500, help="single-alert calls per path")
    ap.add_argument("--batch", type=int, default=None, help="batch size for throughput (default 1024 CPU, 4096 GPU)")
    ap.add_argument("--rounds", type=int, default=15, help="batches per path for throughput")
    ap.add_argument("--figures", type=Path, help="append the key figures (one line each) to this file")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    batch = args.batch or (4096 if dev.type == "cuda" else 1024)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)

    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    make_model(tmp / "model.ckpt")
    model = load_model(tmp / "model.ckpt", map_location=dev)
    exp = X.exportable(model).to(dev)
    f, s = len(model.feature_names), len(model.static_names)
    base = torch.nn.LSTM(f, 100, num_layers=2, batch_first=True).to(dev).eval()
    print(
        f"device {dev} ({torch.cuda.get_device_name() if dev.type == 'cuda' else f'{args.threads} threads'}), "
        f"torch {torch.__version__}, F={f}, S={s}, {args.steps} observations per light curve"
    )

    def run_torch(x, lengths, static):
        return log_marginals(model(x, lengths, static), model.tree).exp()

    def run_base(x, lengths, static):
        return base(x)[0][:, -1]

    paths = {"baseline nn.LSTM 2x100": run_base, "torch (model forward)": run_torch, "exportable (padded)": exp}
    onnx_sess = ort = None
    if dev.type == "cpu":
        try:
            import onnxruntime as ort

            X.export(tmp / "model.ckpt", tmp / "model.onnx", "onnx")
            onnx_sess = True  # sessions are made per measurement, with its thread count
        except ImportError:
            print("onnxruntime not installed: onnx path skipped")

    # -- one alert ----------------------------------------------------------------------------
    x1, l1, s1 = (t.to(dev) for t in inputs(1, args.steps, f, s))
    single = {k: (lambda fn=fn: fn(x1, l1, s1)) for k, fn in paths.items()}
    if onnx_sess is not None:
        feeds1 = {"x": x1.numpy(), "lengths": l1.numpy(), "static": s1.numpy()}
        single["onnx (onnxruntime)"] = lambda: onnx_sess.run(None, feeds1)  # noqa: F821 (the session set below)
    torch.set_num_threads(args.latency_threads)
    if onnx_sess is not None:
        onnx_sess = ort.InferenceSession(
            str(tmp / "model.onnx"), _ort_options(ort, args.latency_threads), providers=["CPUExecutionProvider"]
        )
    with torch.inference_mode():
        lat = interleaved(single, args.calls, warmup=20, sync=sync)
    torch.set_num_threads(args.threads)
    if onnx_sess is not None:
        onnx_sess = ort.InferenceSession(
            str(tmp / "model.onnx"), _ort_options(ort, args.threads), providers=["CPUExecutionProvider"]
        )

    def figure(line: str) -> None:
        print(f"FIGURE {line}")
        if args.figures:
            with args.figures.open("a") as fh:
                fh.write(line + "\n")

    print(
        f"\none alert, {args.steps} observations, {args.latency_threads} thread(s): latency over {args.calls} interleaved calls (ms)"
    )
    print(f"{'path':28s} {'p50':>8s} {'p99':>8s} {'p50/base':>9s}")
    base_p50 = np.percentile(lat["baseline nn.LSTM 2x100"], 50)
    for name, v in lat.items():
        p50, p99 = np.percentile(v * 1e3, [50, 99])
        print(f"{name:28s} {p50:8.3f} {p99:8.3f} {p50 / base_p50 / 1e3:9.2f}")
        figure(
            f"predict_latency device={dev.type} path={name.split()[0]} steps={args.steps} p50_ms={p50:.3f} p99_ms={p99:.3f} "
            f"p50_vs_bare_lstm={p50 / base_p50 / 1e3:.2f}"
        )

    # -- batched --------------------------------------------------------------------------------
    xb, lb, sb = (t.to(dev) for t in inputs(batch, args.steps, f, s, seed=1))
    # variable lengths (uniform 1..steps), sorted into batches as predict does
    lv = torch.sort(torch.randint(1, args.steps + 1, (batch,), generator=torch.Generator().manual_seed(2)))[0].to(dev)
    many = {k: (lambda fn=fn: fn(xb, lb, sb)) for k, fn in paths.items()}
    many["torch, lengths 1..T sorted"] = lambda: run_torch(xb, lv, sb)
    if onnx_sess is not None:
        feeds = {"x": xb.numpy(), "lengths": lb.numpy(), "static": sb.numpy()}
        many["onnx (onnxruntime)"] = lambda: onnx_sess.run(None, feeds)
    with torch.inference_mode():
        tb = interleaved(many, args.rounds, warmup=1, sync=sync)
    print(
        f"\nbatched throughput, batch {batch} x {args.steps} observations, {args.rounds} interleaved rounds (light curves/s)"
    )
    print(f"{'path':28s} {'median':>10s} {'best':>10s} {'vs base':>8s}")
    base_med = np.median(batch / tb["baseline nn.LSTM 2x100"])
    for name, v in tb.items():
        lcs = batch / v
        print(f"{name:28s} {np.median(lcs):10.0f} {lcs.max():10.0f} {np.median(lcs) / base_med:8.2f}")
        figure(
            f"predict_throughput device={dev.type} path={name.replace(' ', '_')} batch={batch} steps={args.steps} "
            f"lc_per_s_median={np.median(lcs):.0f} best={lcs.max():.0f} vs_bare_lstm={np.median(lcs) / base_med:.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if dev.type == "cuda" else ""
    print(f"\npeak RSS {peak:.0f} MiB{gpu}")


if __name__ == "__main__":
    main()
