"""Export a trained model to TorchScript or ONNX, and load an ONNX file for CPU-only brokers.

The exported function is ``(x (B, T, F) float32 padded, lengths (B,) int64, static (B, S)
float32 raw, NaN = missing) -> marginals (B, n_nodes) float32``: the marginal probability of
every taxonomy node, in node order, temperature included. It is the model's own forward pass
with two export-friendly rewrites that give the same numbers (tested to 1e-5):

* the recurrent layer runs over the padded batch and the top-layer output at step
  ``lengths - 1`` is taken (the layer is causal, so padding after the end changes nothing)
  instead of a packed sequence, which neither exporter handles;
* the log-softmax within sibling groups uses a dense group matrix instead of scatter ops.

The model's metadata (taxonomy, feature names and preprocessing settings) travels inside the
file: ONNX ``metadata_props`` key ``elasticc_classification``, TorchScript extra file
``elasticc_classification.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from elasticc_classification.errors import InputError, atomic_output
from elasticc_classification.features.taxonomy import Taxonomy

log = logging.getLogger(__name__)

FORMATS = ("torchscript", "onnx")
META_KEY = "elasticc_classification"


def _torch():
    import torch

    return torch


def exportable(model: Any) -> Any:
    """An export-friendly ``nn.Module`` equivalent to ``model`` (a loaded HierarchicalClassifier)."""
    torch = _torch()
    from torch import nn

    tax: Taxonomy = model.taxonomy

    class ExportableClassifier(nn.Module):
        """Padded-sequence forward and dense sibling-group softmax (see the module docstring)."""

        def __init__(self) -> None:
            super().__init__()
            self.rnn = model.rnn
            self.head = model.head
            self.has_static = model.static_net is not None
            self.static_net = model.static_net if model.static_net is not None else nn.Identity()
            for name in ("x_mean", "x_std", "static_mean", "static_std", "temperature"):
                self.register_buffer(name, getattr(model, name).detach().clone())
            groups = tax.group_of.copy()
            n_groups = len(tax.sibling_groups) + 1
            groups[groups < 0] = n_groups - 1
            g = np.zeros((n_groups, tax.n_nodes), np.float32)
            g[groups, np.arange(tax.n_nodes)] = 1.0
            self.register_buffer("group", torch.from_numpy(g))
            self.register_buffer("group_mask", torch.from_numpy((1.0 - g) * -1e30))
            self.register_buffer("path_t", torch.from_numpy(np.ascontiguousarray(tax.path_matrix.T)))

        def static_features(self, static: torch.Tensor) -> torch.Tensor:
            """Output of the static branch (B, static_hidden)."""
            s = (static - self.static_mean) / self.static_std
            miss = torch.isnan(s)
            s = torch.where(miss, torch.zeros_like(s), s)
            return self.static_net(torch.cat([s, miss.to(s.dtype)], 1))

        def step_logits(self, x: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
            """Logits after every observation: (B, T, n_nodes)."""
            out, _ = self.rnn((x - self.x_mean) / self.x_std)
            if self.has_static:
                st = self.static_features(static)
                out = torch.cat([out, st.unsqueeze(1).expand(-1, out.shape[1], -1)], 2)
            return self.head(out) / self.temperature

        def marginals(self, logits: torch.Tensor) -> torch.Tensor:
            """Marginal probabilities (..., n_nodes) from logits (..., n_nodes)."""
            m = (logits.unsqueeze(-2) + self.group_mask).amax(-1) @ self.group
            z = logits - m
            s = z.exp() @ self.group.T @ self.group
            return ((z - s.log()) @ self.path_t).exp()

        def forward(self, x: torch.Tensor, lengths: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn((x - self.x_mean) / self.x_std)
            last = (lengths.to(torch.int64) - 1).clamp(min=0)
            h = out[torch.arange(x.shape[0]), last]  # top layer after each light curve's last observation
            if self.has_static:
                h = torch.cat([h, self.static_features(static)], 1)
            return self.marginals(self.head(h) / self.temperature)

    return ExportableClassifier().eval()


def model_metadata(model: Any) -> dict[str, Any]:
    """What a runtime needs besides the weights: taxonomy, feature names, preprocessing settings."""
    hp = model.hparams
    return {
        "taxonomy": dict(hp["taxonomy"]),
        "feature_names": list(hp["feature_names"]),
        "static_names": list(hp["static_names"]),
        "preprocess": dict(hp["preprocess"]),
        "temperature": float(model.temperature),
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
    from elasticc_classification.model.module import load_model

    if fmt not in FORMATS:
        raise InputError(f"export format {fmt!r} is not one of {list(FORMATS)}")
    model = load_model(model_path)
    mod = exportable(model)
    meta = json.dumps(model_metadata(model))
    args = example_inputs(model)
    out = Path(out)
    if fmt == "torchscript":
        import warnings

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
    import warnings

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
