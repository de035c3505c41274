"""Export a trained model to TorchScript or ONNX (loaded by ``classifier.load_onnx_classifier``).

The exported function is ``(x (B, T, F) float32 padded, lengths (B,) int64, static (B, S)
float32 raw, NaN = missing) -> marginals (B, n_nodes) float32``: the marginal probability of
every taxonomy node, in node order, temperature included. It is the model's own network
(:class:`~elasticc_classification.model.network.HierarchicalNetwork`, scripted or traced as it
is) followed by its in-graph :meth:`~.HierarchicalNetwork.marginals`; under export the network
takes its padded path (packed sequences are not exportable), which gives the packed path's
numbers (tested to 1e-5).

The model's metadata (taxonomy, feature names and preprocessing settings) travels inside the
file: ONNX ``metadata_props`` key ``elasticc_classification``, TorchScript extra file
``elasticc_classification.json``.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from elasticc_classification.errors import InputError, atomic_output

log = logging.getLogger(__name__)

FORMATS = ("torchscript", "onnx")
META_KEY = "elasticc_classification"


def _torch():
    """torch, imported on first use (as is the model package, which needs it): importing this module
    stays light for the ONNX-only runtime in ``classifier``."""
    import torch

    return torch


def exportable(model: Any) -> Any:
    """What an export file holds: ``model``'s network (a loaded HierarchicalClassifier's ``net``) with
    its marginals as output, in eval mode (shares the weights)."""
    from elasticc_classification.model.network import NetworkMarginals  # needs torch: see _torch

    return NetworkMarginals(model.net).eval()


def model_metadata(model: Any) -> dict[str, Any]:
    """What a runtime needs besides the weights: taxonomy, feature names, preprocessing settings."""
    hp = model.hparams
    return {
        "taxonomy": dict(hp["taxonomy"]),
        "feature_names": list(hp["feature_names"]),
        "static_names": list(hp["static_names"]),
        "preprocess": dict(hp["preprocess"]),
        "temperature": float(model.net.temperature),
        "loss": dict(hp.get("loss") or {}),  # which prior the training taught (predict --prior)
    }


def example_inputs(model: Any, batch: int = 3, steps: int = 7, seed: int = 0) -> tuple[Any, Any, Any]:
    """A small random batch (x, lengths, static) with unequal lengths and some NaN static values."""
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    f, s = len(model.hparams["feature_names"]), len(model.hparams["static_names"])
    x = torch.randn(batch, steps, f, generator=g)
    x[..., 0] = torch.cumsum(torch.rand(batch, steps, generator=g) * 5, 1)
    lengths = torch.randint(1, steps + 1, (batch,), generator=g)
    lengths[0] = steps
    static = torch.randn(batch, s, generator=g)
    if s:
        static[0, 0] = float("nan")
    return x, lengths, static


def export(model_path: str | Path, out: str | Path, fmt: str = "onnx") -> Path:
    """Export checkpoint ``model_path`` to ``out`` as ``fmt`` (torchscript | onnx)."""
    torch = _torch()
    from elasticc_classification.model.module import load_model  # needs torch: see _torch

    if fmt not in FORMATS:
        raise InputError(f"export format {fmt!r} is not one of {list(FORMATS)}")
    model = load_model(model_path)
    mod = exportable(model)
    meta = json.dumps(model_metadata(model))
    args = example_inputs(model)
    out = Path(out)
    if fmt == "torchscript":
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the C++-loadable format
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(mod)
        with atomic_output(out, suffix=".pt") as tmp:
            torch.jit.save(scripted, str(tmp), _extra_files={f"{META_KEY}.json": meta})
    else:
        with atomic_output(out, suffix=".onnx") as tmp:
            _export_onnx(mod, args, tmp, meta)
            check_onnx(mod, tmp, model)
    log.info("exported %s to %s (%s, %.1f kB)", model_path, out, fmt, out.stat().st_size / 1e3)
    return out


def _export_onnx(mod: Any, args: tuple, path: Path, meta: str) -> None:
    """ONNX export with symbolic batch and time axes. The TorchScript-based exporter comes first
    (its dynamic axes hold across torch versions; it writes the standard ONNX LSTM/GRU op); the
    dynamo exporter is the fallback where the former is gone."""
    import onnx

    torch = _torch()
    names = {"input_names": ["x", "lengths", "static"], "output_names": ["marginals"]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                mod,
                args,
                str(path),
                dynamo=False,
                opset_version=17,
                **names,
                dynamic_axes={
                    "x": {0: "batch", 1: "time"},
                    "lengths": {0: "batch"},
                    "static": {0: "batch"},
                    "marginals": {0: "batch"},
                },
            )
        proto = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001 - the legacy exporter may be missing or refuse: use dynamo
        log.info("TorchScript-based ONNX export failed (%s): using the dynamo exporter", type(e).__name__)
        batch, time = torch.export.Dim("batch", min=1), torch.export.Dim("time", min=1)
        dyn = {"x": {0: batch, 1: time}, "lengths": {0: batch}, "static": {0: batch}}
        proto = torch.onnx.export(mod, args, dynamo=True, external_data=False, dynamic_shapes=dyn, **names).model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, meta
    onnx.save_model(proto, str(path))


def check_onnx(mod: Any, path: Path, model: Any, atol: float = 1e-5) -> None:
    """Run the ONNX file on onnxruntime at a batch and length other than the export's and compare
    with PyTorch; raise where they differ (skipped without onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("onnxruntime not installed: the ONNX export was not checked")
        return
    torch = _torch()
    x, lengths, static = example_inputs(model, batch=5, steps=13, seed=1)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    try:
        got = sess.run(None, {"x": x.numpy(), "lengths": lengths.numpy(), "static": static.numpy()})[0]
    except Exception as e:  # noqa: BLE001
        raise InputError(
            f"the ONNX export does not run on onnxruntime at another batch size ({type(e).__name__}: {e}); "
            "use --format torchscript or another torch version"
        ) from None
    with torch.no_grad():
        ref = mod(x, lengths, static).numpy()
    err = float(np.abs(got - ref).max())
    if not err <= atol:
        raise InputError(f"the ONNX export differs from PyTorch by {err:.2e} (> {atol}); use --format torchscript")
    log.info("ONNX export checked against PyTorch: max |difference| %.1e", err)


def load_torchscript(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """A TorchScript export and its metadata."""
    torch = _torch()
    extra = {f"{META_KEY}.json": ""}
    try:
        mod = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001 - torch raises many types for damaged files
        raise InputError(f"{path}: not a readable TorchScript export ({type(e).__name__}); export it again") from None
    return mod.eval(), json.loads(extra[f"{META_KEY}.json"] or "{}")
