"""A loaded model behind one runtime (PyTorch or ONNX Runtime), and batched inference over shards.

:class:`Classifier` is what prediction, evaluation, calibration and the alert path use: the model's
taxonomy, its feature configuration and a numpy forward function ``(x (B, T, F) float32 padded,
lengths (B,) int64, static (B, S) float32 raw, NaN = missing) -> marginals (B, n_nodes) float64``
(the torch runtime adds the raw logits, for calibration). :func:`batched` runs it over windows of
a shard in length-sorted batches; :func:`window_ends` cuts windows by days since the first detection.

torch, onnx and onnxruntime, and the model package (which needs torch), load inside the runtime
loaders only: the ONNX runtime runs where torch is not installed, and the stages that merely import
this module (evaluate's plot names when Snakemake parses the rules) start without torch's seconds.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elasticc_classification.errors import InputError
from elasticc_classification.features.augment import days_ends, pad_windows
from elasticc_classification.features.shards import Shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.export import META_KEY, export

RUNTIMES = ("torch", "onnx")
#: Forward function of a loaded model: (x (B,T,F) float32, lengths (B,) int64, static (B,S) float32)
#: -> marginal probabilities (B, n_nodes) float64.
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Classifier:
    """A loaded model behind one runtime: its taxonomy, feature configuration and forward function."""

    taxonomy: Taxonomy
    feature_cfg: dict[str, Any]
    forward: Forward
    runtime: str
    feature_names: list[str] | None = None
    #: optional: marginals after every observation, (B, T, n_nodes), from the same inputs
    stepwise: Forward | None = None
    #: optional (torch runtime): logits before temperature scaling, (B, n_nodes) float64
    logits: Forward | None = None
    #: the temperature the model's logits are divided by (1 unless calibrated)
    temperature: float = 1.0
    #: the leaf prior its training loss taught it (:func:`learnt_prior`): ``leaf`` (uniform over the
    #: leaves) or ``node`` (uniform within each sibling group)
    learnt: str = "leaf"


# --- priors ----------------------------------------------------------------------------------
def learnt_scheme(loss: dict[str, Any] | None) -> str:
    """The prior scheme a training loss config teaches: ``flat`` and ``whce`` with leaf weights
    balance the leaves; ``whce`` with node weights (the only kind before ``loss.weights``) the
    sibling groups."""
    loss = loss or {}
    if loss.get("kind", "whce") == "flat":
        return "leaf"
    return str(loss.get("weights", "node"))


def learnt_prior(taxonomy: Taxonomy, scheme: str) -> np.ndarray:
    """The leaf prior (leaves in node order, sum 1) a class-weighted loss teaches: ``leaf`` uniform
    over the leaves; ``node`` the product of 1 / (number of siblings) along each leaf's path."""
    if scheme == "leaf":
        return np.full(len(taxonomy.leaves), 1.0 / len(taxonomy.leaves))
    if scheme != "node":
        raise ValueError(f"unknown prior scheme {scheme!r}; use 'leaf' or 'node'")
    n_sib = np.bincount(taxonomy.parent[1:], minlength=taxonomy.n_nodes)[taxonomy.parent[1:]]
    log_share = np.zeros(taxonomy.n_nodes)
    log_share[1:] = -np.log(n_sib)
    p = np.exp(taxonomy.path_matrix.astype(np.float64) @ log_share)[taxonomy.leaves]
    return p / p.sum()


def shift_prior(marg: np.ndarray, taxonomy: Taxonomy, target: np.ndarray, learnt: np.ndarray) -> np.ndarray:
    """Marginals ``(B, n_nodes)`` under another leaf prior: p'(leaf | x) ∝ p(leaf | x) target / learnt
    (the label-shift correction of Saerens, Latinne & Decaestecker 2002), every internal node the sum
    of its leaves. ``target`` and ``learnt``: one weight per leaf, leaves in node order (any scale)."""
    w = np.asarray(target, np.float64) / np.sum(target) / (np.asarray(learnt, np.float64) / np.sum(learnt))
    q = marg[:, taxonomy.leaves] * w
    q /= q.sum(axis=1, keepdims=True)
    leaves = np.zeros((len(marg), taxonomy.n_nodes))
    leaves[:, taxonomy.leaves] = q
    return leaves @ taxonomy.path_matrix.astype(np.float64)


# --- batched inference ---------------------------------------------------------------------
def batched(
    forward: Forward,
    shard: Shard,
    idx: np.ndarray,
    ends: np.ndarray,
    batch_size: int = 1024,
    n_nodes: int | None = None,
) -> np.ndarray:
    """``forward`` (e.g. marginals ``(len(idx), n_nodes)``) of windows ``x[offsets[idx] : offsets[idx] + ends]``.

    Windows are sorted by decreasing length before batching (little padding); results come back
    in the order of ``idx``.
    """
    idx = np.asarray(idx, np.int64)
    ends = np.asarray(ends, np.int64)
    order = np.argsort(-ends, kind="stable")  # decreasing length: little padding, packed sequences need no sort
    out: np.ndarray | None = None if n_nodes is None else np.empty((len(idx), n_nodes))
    for s in range(0, len(idx), batch_size):
        sel = order[s : s + batch_size]
        x, lengths = pad_windows(shard.x, shard.offsets, idx[sel], ends[sel])
        p = forward(x, lengths, shard.static[idx[sel]])
        if out is None:
            out = np.empty((len(idx), p.shape[1]))
        out[sel] = p
    return out if out is not None else np.zeros((0, n_nodes or 0))


def batched_steps(
    stepwise: Forward, shard: Shard, idx: np.ndarray, ends: np.ndarray, batch_size: int = 1024, n_nodes: int = 0
) -> np.ndarray:
    """Marginals after every observation of windows ``idx``/``ends``: ``(sum(ends), n_nodes)``,
    object by object in the order of ``idx``, observations in time order."""
    idx = np.asarray(idx, np.int64)
    ends = np.asarray(ends, np.int64)
    start = np.r_[0, np.cumsum(ends)[:-1]]
    out = np.empty((int(ends.sum()), n_nodes))
    order = np.argsort(ends, kind="stable")
    for s in range(0, len(idx), batch_size):
        sel = order[s : s + batch_size]
        x, lengths = pad_windows(shard.x, shard.offsets, idx[sel], ends[sel])
        p = stepwise(x, lengths, shard.static[idx[sel]])  # (B, T, n_nodes)
        row = np.repeat(np.arange(len(sel)), lengths)
        step = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[np.repeat(start[sel], lengths) + step] = p[row, step]
    return out


def window_ends(shard: Shard, days: float | str | None) -> np.ndarray:
    """Observations used per object: all (``days`` None or ``"full"``), or those up to ``days``
    after the first detection (``augment.days_ends``: everything up to the first detection is kept)."""
    if days is None or days == "full":
        return shard.lengths.astype(np.int64)
    return days_ends(shard.x[:, 0], shard.offsets, shard.first_det, None, float(days))


# --- loading models -------------------------------------------------------------
def load_classifier(model_path: str | Path, runtime: str = "torch", device: str = "cpu") -> Classifier:
    """Load a model artifact for ``runtime``: ``torch`` needs the checkpoint (on ``device``, see
    :func:`inference_device`); ``onnx`` takes an exported ``.onnx`` file (or a checkpoint, exported
    to a temporary file first) and runs on the CPU."""
    if runtime not in RUNTIMES:
        raise InputError(f"runtime {runtime!r} is not one of {list(RUNTIMES)}")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise InputError(f"model file {model_path} does not exist: train a model first or give its path")
    if runtime == "onnx":
        return load_onnx_classifier(model_path)
    if model_path.suffix == ".onnx":
        raise InputError(f"{model_path} is an ONNX file: use --runtime onnx with it (or give the .ckpt for torch)")
    return torch_classifier(model_path, device)


def inference_device(device: str = "auto") -> str:
    """``cuda`` when asked for or (``auto``) when a GPU is visible, else ``cpu``."""
    import torch  # lazily: see the module docstring

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda asked for, but no GPU is visible: use cpu or auto")
    return device


def torch_classifier(model_path: str | Path, device: str = "cpu") -> Classifier:
    """A checkpoint behind the PyTorch runtime (inference mode): marginals, marginals after every
    observation, and the raw logits (before temperature scaling) that calibration needs."""
    import torch  # lazily, with the model package that needs it: see the module docstring

    from elasticc_classification.model.loss import log_marginals
    from elasticc_classification.model.module import load_model

    model = load_model(model_path, map_location=device)
    net, tree = model.net, model.tree
    temp = float(net.temperature)

    def forward(x: np.ndarray, lengths: np.ndarray, static: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = net(torch.from_numpy(x).to(device), torch.from_numpy(lengths), torch.from_numpy(static).to(device))
            return log_marginals(logits, tree).exp().double().cpu().numpy()

    def stepwise(x: np.ndarray, lengths: np.ndarray, static: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            steps = net.step_logits(torch.from_numpy(x).to(device), torch.from_numpy(static).to(device))
            return net.marginals(steps).double().cpu().numpy()

    def logits(x: np.ndarray, lengths: np.ndarray, static: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            lc = torch.from_numpy(lengths)
            out = net(torch.from_numpy(x).to(device), lc.to(device), torch.from_numpy(static).to(device), lc)
        return out.double().cpu().numpy() * temp

    return Classifier(
        model.taxonomy,
        model_feature_cfg(model),
        forward,
        "torch",
        model.feature_names,
        stepwise,
        logits,
        temp,
        learnt_scheme(model.hparams.get("loss")),
    )


def model_feature_cfg(model: Any) -> dict[str, Any]:
    """The feature configuration (``build_shard`` cfg) stored in a model's hyper-parameters."""
    hp = model.hparams
    if not hp.get("preprocess"):
        raise InputError("model artifact holds no preprocessing settings: retrain it with this version")
    return dict(hp["preprocess"])


def load_onnx_classifier(path: str | Path) -> Classifier:
    """A :class:`Classifier` running on onnxruntime (CPU). A checkpoint is exported to a
    temporary ONNX file first (removed once the session has read it)."""
    path = Path(path)
    with contextlib.ExitStack() as stack:
        if path.suffix != ".onnx":
            tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="elasticc-onnx-"))
            path = export(path, Path(tmpdir) / "model.onnx", "onnx")
        try:  # lazily: see the module docstring
            import onnx
            import onnxruntime as ort
        except ImportError:
            raise InputError("onnxruntime is not installed: pip install 'elasticc-classification[onnx]'") from None
        try:
            meta_props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
            so = ort.SessionOptions()
            so.add_session_config_entry(
                "session.intra_op.allow_spinning", "0"
            )  # shared CPUs: no busy-wait between batches
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnx/ort raise many types for bad files
            raise InputError(f"{path}: not a readable ONNX model ({type(e).__name__}); export it again") from None
    if META_KEY not in meta_props:
        raise InputError(f"{path}: no {META_KEY} metadata; export it with `elasticc-classification export`")
    meta = json.loads(meta_props[META_KEY])
    tax = Taxonomy.from_dict(meta["taxonomy"], str(path))

    def forward(x: np.ndarray, lengths: np.ndarray, static: np.ndarray) -> np.ndarray:
        feeds = {
            "x": np.ascontiguousarray(x, np.float32),
            "lengths": np.asarray(lengths, np.int64),
            "static": np.ascontiguousarray(static, np.float32),
        }
        return sess.run(None, feeds)[0].astype(np.float64)

    return Classifier(
        tax,
        dict(meta["preprocess"]),
        forward,
        "onnx",
        feature_names=list(meta["feature_names"]),
        temperature=float(meta.get("temperature", 1.0)),
        learnt=learnt_scheme(meta.get("loss")),
    )
