"""The hierarchical classifier (a LightningModule around the network) and the model artifact loader.

The network itself (normalisation, RNN, static branch, head, temperature, in-graph marginals) is
:class:`~elasticc_classification.model.network.HierarchicalNetwork`, held as ``self.net``; this
module adds the loss, the optimiser and the artifact format. Export files hold ``self.net`` as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features.taxonomy import Taxonomy, TaxonomyError
from elasticc_classification.model import loss as L_
from elasticc_classification.model.network import HierarchicalNetwork

ARTIFACT_FORMAT = 1


def _merged(given: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with the keys of ``given`` that it knows (an artifact's unknown keys are dropped)."""
    out = dict(defaults)
    out.update({k: v for k, v in (given or {}).items() if k in defaults})
    return out


class HierarchicalClassifier(L.LightningModule):
    """Training wrapper of :class:`HierarchicalNetwork` (``self.net``): loss, optimiser, hyper-parameters.

    Parameters
    ----------
    taxonomy : ``Taxonomy.to_dict()``.
    feature_names, static_names : shard metadata (F per-observation, S static features).
    model, optim, loss : sections of the training config (defaults: the config schema's).
    preprocess : the shard's preprocessing settings (kept for prediction).
    provenance : data provenance (shard files, counts), stored in the artifact.
    """

    node_weight: torch.Tensor  # buffer: W_c of the loss
    #: what the artifact holds besides weights and hyper-parameters (set by :func:`load_model`)
    artifact_meta: dict[str, Any]

    def __init__(
        self,
        taxonomy: Mapping[str, Any],
        feature_names: list[str],
        static_names: list[str],
        model: Mapping[str, Any] | None = None,
        optim: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | None = None,
        preprocess: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        artifact_format: int = ARTIFACT_FORMAT,
    ):
        super().__init__()
        train = config.section_defaults("train")  # defaults of the config schema's train.model/optim/loss
        model = _merged(model, train["model"])
        optim = _merged(optim, {**train["optim"], "max_epochs": train["max_epochs"]})  # the cosine schedule's length
        loss = _merged(loss, train["loss"])
        self.save_hyperparameters(
            {
                "taxonomy": dict(taxonomy),
                "feature_names": list(feature_names),
                "static_names": list(static_names),
                "model": model,
                "optim": optim,
                "loss": loss,
                "preprocess": dict(preprocess or {}),
                "provenance": dict(provenance or {}),
                "artifact_format": int(artifact_format),
            }
        )
        self.taxonomy = Taxonomy.from_dict(taxonomy, "model taxonomy")
        self.tree = L_.TreeIndex(self.taxonomy)
        self.net = HierarchicalNetwork(
            self.taxonomy,
            len(feature_names),
            len(static_names),
            cell=model["cell"],
            hidden=model["hidden"],
            layers=model["layers"],
            dropout=model["dropout"],
            static_hidden=model["static_hidden"],
            head_hidden=model["head_hidden"],
            pack=model.get("pack", "auto"),
            rnn_autocast=model.get("rnn_autocast", False),
        )
        self.register_buffer("node_weight", torch.ones(self.taxonomy.n_nodes))  # W_c of the loss

    # -- set-up from training data ------------------------------------------------------
    def set_normalisation(self, x_mean, x_std, static_mean, static_std) -> None:
        """Store training-split feature statistics in the network (see :meth:`HierarchicalNetwork.set_normalisation`)."""
        self.net.set_normalisation(x_mean, x_std, static_mean, static_std)

    def set_node_weights(self, w) -> None:
        """Store the loss weights W_c per node."""
        with torch.no_grad():
            self.node_weight.copy_(torch.as_tensor(np.asarray(w, dtype=np.float32)))

    # -- inference ------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return list(self.hparams["feature_names"])

    @property
    def static_names(self) -> list[str]:
        return list(self.hparams["static_names"])

    @property
    def temperature(self) -> torch.Tensor:
        """The network's temperature buffer (logits are divided by it)."""
        return self.net.temperature

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor, static: torch.Tensor, lengths_cpu: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, n_nodes): :meth:`HierarchicalNetwork.forward`."""
        return self.net(x, lengths, static, lengths_cpu)

    @torch.no_grad()
    def predict_log_marginals(self, x: torch.Tensor, lengths: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """log p(node) for every node (B, n_nodes), float32."""
        return L_.log_marginals(self(x, lengths, static), self.tree)

    # -- training -------------------------------------------------------------------------
    def _loss(self, logits: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
        cfg = self.hparams["loss"]
        if cfg["kind"] == "flat":
            return L_.flat_loss(logits, leaf, self.tree, self.node_weight)
        return L_.whce_loss(logits, leaf, self.tree, self.node_weight, alpha=cfg["alpha"], scheme=cfg["weights"])

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        logits = self(batch["x"], batch["lengths"], batch["static"], batch["lengths_cpu"])
        loss = self._loss(logits, batch["leaf"])
        self.log("train_loss", loss, on_step=True, on_epoch=True, batch_size=len(batch["leaf"]), prog_bar=True)
        return loss

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        logits = self(batch["x"], batch["lengths"], batch["static"], batch["lengths_cpu"])
        n = len(batch["leaf"])
        loss = self._loss(logits, batch["leaf"])
        logm = L_.log_marginals(logits, self.tree)
        leaves = self.tree.leaves
        pred_leaf = leaves[logm[:, leaves].argmax(1)]
        acc = (pred_leaf == batch["leaf"]).float().mean()
        self.log("val_loss", loss, on_epoch=True, batch_size=n, prog_bar=True, sync_dist=True)
        self.log("val_leaf_acc", acc, on_epoch=True, batch_size=n, sync_dist=True)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Lightning resume from a checkpoint of an older layout: rename the network's keys."""
        if "state_dict" in checkpoint:
            checkpoint["state_dict"] = upgrade_state_dict(checkpoint["state_dict"])

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Clip the true gradients. Without a loss scaler (32-true, bf16-mixed) they are clipped
        here directly: Lightning's mixed-precision plugin refuses to clip for a fused optimizer
        even when nothing is scaled. With a scaler (16-mixed), Lightning's own path."""
        if gradient_clip_val and self._grad_scaler() is None:
            if gradient_clip_algorithm == "value":
                torch.nn.utils.clip_grad_value_(self.parameters(), gradient_clip_val)
            else:
                torch.nn.utils.clip_grad_norm_(self.parameters(), gradient_clip_val)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _grad_scaler(self) -> Any:
        """The loss scaler of a 16-mixed run (None for 32-true and bf16-mixed, or without a Trainer)."""
        return getattr(getattr(self._trainer, "precision_plugin", None), "scaler", None)

    def configure_optimizers(self):
        o = self.hparams["optim"]
        fused = o.get("fused", "auto")
        if (
            fused == "auto"
        ):  # one kernel for the whole update on GPUs; with a loss scaler Lightning must unscale before clipping
            fused = next(self.parameters()).is_cuda and self._grad_scaler() is None
        opt = torch.optim.Adam(self.parameters(), lr=o["lr"], weight_decay=o["weight_decay"], fused=bool(fused) or None)
        if o["schedule"] == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=o["plateau_patience"])
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}
        if o["schedule"] == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, o["max_epochs"]))
            return {"optimizer": opt, "lr_scheduler": sched}
        return opt


# --- the artifact --------------------------------------------------------------------------
#: State-dict names of the network's weights and buffers before they moved into ``net.`` (artifacts
#: written before model/network.py); :func:`upgrade_state_dict` maps them.
_PRE_NETWORK_KEYS = ("x_mean", "x_std", "static_mean", "static_std", "temperature")
_PRE_NETWORK_PREFIXES = ("rnn.", "static_net.", "head.")


def upgrade_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with the network's keys of older artifacts (``rnn.*``, ``x_mean`` …) renamed to ``net.*``."""
    return {
        f"net.{k}" if k in _PRE_NETWORK_KEYS or k.startswith(_PRE_NETWORK_PREFIXES) else k: v for k, v in state.items()
    }


def artifact_dict(model: HierarchicalClassifier, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The slim checkpoint written to ``model.ckpt``: weights, buffers and hyper-parameters only
    (plain types, loadable with ``torch.load(weights_only=True)`` and by Lightning)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {
        "state_dict": state,
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": L.__version__,
        "artifact_format": ARTIFACT_FORMAT,
        **(dict(extra) if extra else {}),
    }


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> HierarchicalClassifier:
    """Load the model artifact (eval mode). Raises :class:`InputError` for a missing, corrupt or
    incompatible file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model artifact {path} does not exist: run the train step (snakemake ... model.ckpt) first")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for damaged files
        raise InputError(
            f"{path}: not a readable model checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]}); retrain or copy it again"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise InputError(
            f"{path}: not a model artifact of this package (no state_dict/hyper_parameters); retrain with `elasticc-classification train`"
        )
    hp = dict(ckpt["hyper_parameters"])
    # artifacts from before loss.weights were trained with per-node weights: keep that, not today's default
    hp["loss"] = {"weights": "node", **dict(hp.get("loss") or {})}
    fmt = hp.get("artifact_format")
    if fmt != ARTIFACT_FORMAT:
        raise InputError(
            f"{path}: artifact format {fmt!r}, this package reads {ARTIFACT_FORMAT}; retrain the model with this version"
        )
    try:
        model = HierarchicalClassifier(**hp)
    except TaxonomyError as e:
        raise InputError(f"{path}: the stored taxonomy is invalid ({e}); retrain the model") from None
    except TypeError as e:
        raise InputError(f"{path}: incompatible hyper-parameters ({e}); retrain the model with this version") from None
    try:
        model.load_state_dict(upgrade_state_dict(ckpt["state_dict"]), strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:300]
        raise InputError(f"{path}: weights do not fit the stored architecture ({first}); retrain the model") from None
    model.artifact_meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "hyper_parameters")}
    return model.to(map_location).eval()
