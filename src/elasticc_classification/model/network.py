"""The classifier network: a plain ``nn.Module`` that training wraps and export files hold as it is.

Per-observation features -> normalisation (training-split mean/std) -> LSTM (or GRU) -> the top
layer's state at each sequence's last observation; static (host-galaxy) features ->
normalisation, NaN -> 0 plus one missing indicator per feature -> linear + GELU; both -> MLP
head -> one logit per taxonomy node, divided by the ``temperature`` buffer (1 unless calibrated).
Every normalisation lives in buffers, so the network needs nothing but raw shard features.

Two ways through the recurrent layer give the same numbers (tested to 1e-5): packed sequences,
and the padded batch with the top-layer output read at step ``lengths - 1`` (the layer is causal,
so padding after the end changes nothing). Eager calls choose by ``pack`` (``auto``: packed for
large GPU inference batches only, see docs/train.md); TorchScript and ONNX export always take the
padded path, which both exporters handle. :meth:`HierarchicalNetwork.marginals` turns logits
into marginal probabilities in the graph (dense sibling-group softmax, no scatter ops), equal
to ``loss.log_marginals(...).exp()``.
"""

# no `from __future__ import annotations`: TorchScript reads the class's buffer annotations as objects
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from elasticc_classification.errors import InputError
from elasticc_classification.features.taxonomy import Taxonomy

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class HierarchicalNetwork(nn.Module):
    """LSTM/GRU + static branch -> one logit per taxonomy node (see the module docstring).

    Parameters
    ----------
    taxonomy : the class tree (node order of the logits).
    n_features, n_static : per-observation (F) and static (S) features.
    cell, hidden, layers, dropout, static_hidden, head_hidden, pack, rnn_autocast : the
        ``train.model`` config section (docs/train.md); ``static_hidden = 0`` ignores static features.
    """

    # buffers (registered in __init__), declared for type checkers and TorchScript
    x_mean: torch.Tensor
    x_std: torch.Tensor
    static_mean: torch.Tensor
    static_std: torch.Tensor
    temperature: torch.Tensor
    group: torch.Tensor
    group_mask: torch.Tensor
    path_t: torch.Tensor

    def __init__(
        self,
        taxonomy: Taxonomy,
        n_features: int,
        n_static: int,
        cell: str = "lstm",
        hidden: int = 100,
        layers: int = 2,
        dropout: float = 0.1,
        static_hidden: int = 32,
        head_hidden: int = 64,
        pack: bool | str = "auto",
        rnn_autocast: bool = False,
    ) -> None:
        super().__init__()
        if n_features < 1:
            raise InputError("the model needs at least one per-observation feature")
        rnn_cls = CELLS.get(cell)
        if rnn_cls is None:
            raise InputError(f"train.model.cell must be 'lstm' or 'gru', not {cell!r}")
        self.pack = pack
        self.rnn_autocast = bool(rnn_autocast)
        n_nodes = taxonomy.n_nodes
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_std", torch.ones(n_features))
        self.register_buffer("static_mean", torch.zeros(n_static))
        self.register_buffer("static_std", torch.ones(n_static))
        self.register_buffer("temperature", torch.ones(()))  # logits are divided by it
        # dense sibling groups (not in the state dict: rebuilt from the taxonomy); the root forms its own group
        groups = taxonomy.group_of.copy()
        n_groups = len(taxonomy.sibling_groups) + 1
        groups[groups < 0] = n_groups - 1
        g = np.zeros((n_groups, n_nodes), np.float32)
        g[groups, np.arange(n_nodes)] = 1.0
        self.register_buffer("group", torch.from_numpy(g), persistent=False)  # (G, n_nodes) membership
        self.register_buffer("group_mask", torch.from_numpy((1.0 - g) * -1e30), persistent=False)
        path_t = np.ascontiguousarray(taxonomy.path_matrix.T, np.float32)
        self.register_buffer("path_t", torch.from_numpy(path_t), persistent=False)  # (n_nodes, n_nodes)

        self.rnn = rnn_cls(
            n_features, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        sh = static_hidden if n_static else 0
        self.has_static = bool(sh)
        # Identity when unused keeps one TorchScript-able type for the attribute
        self.static_net: nn.Module = nn.Sequential(nn.Linear(2 * n_static, sh), nn.GELU()) if sh else nn.Identity()
        self.head = nn.Sequential(
            nn.Linear(hidden + sh, head_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, n_nodes),
        )

    # -- set-up from training data ------------------------------------------------------
    def set_normalisation(self, x_mean, x_std, static_mean, static_std) -> None:
        """Store training-split feature statistics (std <= 0 or non-finite -> 1, mean NaN -> 0)."""

        def fix(v, is_std: bool) -> torch.Tensor:
            t = torch.as_tensor(np.asarray(v, dtype=np.float32))
            ok = torch.isfinite(t) & (t > 0) if is_std else torch.isfinite(t)
            return torch.where(ok, t, torch.full_like(t, 1.0 if is_std else 0.0))

        with torch.no_grad():
            self.x_mean.copy_(fix(x_mean, False))
            self.x_std.copy_(fix(x_std, True))
            self.static_mean.copy_(fix(static_mean, False))
            self.static_std.copy_(fix(static_std, True))

    # -- forward --------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        static: torch.Tensor,
        lengths_cpu: Optional[torch.Tensor] = None,  # noqa: UP045 - TorchScript reads this annotation
    ) -> torch.Tensor:
        """Logits (B, n_nodes) from padded ``x`` (B, T, F), ``lengths`` (B,) and raw ``static`` (B, S).

        Observations past ``lengths`` never influence the result. ``lengths_cpu`` (the same
        lengths on the CPU) and batches in decreasing length avoid device synchronisations on
        the packed path. Static NaN = missing.
        """
        x = (x.float() - self.x_mean) / self.x_std
        if torch.jit.is_scripting() or torch.jit.is_tracing():
            last = self.padded_last(x, lengths)  # exported files: always the padded path
        else:
            last = self._eager_last(x, lengths, lengths_cpu)
        if self.has_static:
            last = torch.cat([last, self.static_features(static.to(x.dtype))], 1)
        return self.head(last) / self.temperature

    def static_features(self, static: torch.Tensor) -> torch.Tensor:
        """Output of the static branch (B, static_hidden) from raw ``static`` (B, S), NaN = missing."""
        s = (static - self.static_mean) / self.static_std
        miss = torch.isnan(s)
        s = torch.where(miss, torch.zeros_like(s), s)
        return self.static_net(torch.cat([s, miss.to(s.dtype)], 1))

    def padded_last(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Top-layer output at each sequence's last valid step (B, hidden), from the padded batch."""
        out, _ = self.rnn(x)
        last = (lengths.to(x.device, torch.int64) - 1).clamp(min=0)
        return out[torch.arange(x.shape[0], device=x.device), last]

    @torch.jit.unused
    def _eager_last(self, x: torch.Tensor, lengths: torch.Tensor, lengths_cpu: torch.Tensor | None) -> torch.Tensor:
        """Packed or padded (``pack``), with the RNN kept out of autocast unless ``rnn_autocast``:
        autocast would run a cuDNN RNN in float16 whatever the autocast dtype, unscaled."""
        if self.rnn_autocast or not torch.is_autocast_enabled(x.device.type):
            return self._last_state(x, lengths, lengths_cpu)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._last_state(x, lengths, lengths_cpu)

    @torch.jit.unused
    def _last_state(self, x: torch.Tensor, lengths: torch.Tensor, lengths_cpu: torch.Tensor | None) -> torch.Tensor:
        pack = self.pack
        if pack == "auto":  # measured (docs/train.md): padded wins on CPUs, for GPU training and single alerts
            pack = x.is_cuda and not torch.is_grad_enabled() and x.shape[0] >= 256
        if not pack:
            return self.padded_last(x, lengths)
        lc = (lengths_cpu if lengths_cpu is not None else lengths.detach().cpu()).to(torch.int64).clamp(min=1)
        ordered = bool((lc[:-1] >= lc[1:]).all())
        _, h = self.rnn(pack_padded_sequence(x, lc, batch_first=True, enforce_sorted=ordered))
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        return h[-1]

    def step_logits(self, x: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """Logits after every observation of padded ``x`` (B, T, F): (B, T, n_nodes)."""
        out, _ = self.rnn((x.float() - self.x_mean) / self.x_std)
        if self.has_static:
            st = self.static_features(static.to(out.dtype))
            out = torch.cat([out, st.unsqueeze(1).expand(-1, out.shape[1], -1)], 2)
        return self.head(out) / self.temperature

    def marginals(self, logits: torch.Tensor) -> torch.Tensor:
        """Marginal probabilities (..., n_nodes) from logits (..., n_nodes): log-softmax within
        each sibling group by dense group matrices, summed along each node's root path."""
        m = (logits.unsqueeze(-2) + self.group_mask).amax(-1) @ self.group
        z = logits - m
        s = z.exp() @ self.group.T @ self.group
        return ((z - s.log()) @ self.path_t).exp()


class NetworkMarginals(nn.Module):
    """``net``'s marginal probabilities (B, n_nodes) from ``(x, lengths, static)``: the function an
    export file holds (the network itself, no copy; padded path, temperature included)."""

    def __init__(self, net: HierarchicalNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        return self.net.marginals(self.net(x, lengths, static))
