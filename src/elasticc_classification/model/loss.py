"""Probabilities over the class tree and the weighted hierarchical cross-entropy (pure torch).

The network gives one logit per taxonomy node (node order of :class:`~.taxonomy.Taxonomy`).
A softmax within each group of siblings gives the conditional p(node | parent) (the root has
p = 1, log p = 0); the marginal p(node) is the product of the conditionals along the node's
root path. The loss is the weighted hierarchical cross-entropy of Villar et al. (2023)::

    L = - sum_c W_c * lambda_c * y_c * log p(c | parent(c)),   lambda_c = exp(-alpha * depth(c))
    W_c = N_all / (N_nodes * N_c)

(the training config's ``loss.weights: node``; ``leaf`` puts the true leaf's W on every term instead:
see :func:`whce_loss`)

with y the 0/1 root-to-leaf path of the true leaf and N_c the number of training objects whose
path passes through c. Every function accepts either a :class:`Taxonomy` or a prepared
:class:`TreeIndex` (the model holds one so that its tensors live on the model's device).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from elasticc_classification.features.taxonomy import Taxonomy


class TreeIndex(nn.Module):
    """The tree as tensors: sibling-group index of every node and the root-path matrix.

    Buffers are not persistent (they are rebuilt from the taxonomy), so they never enter a
    checkpoint's state dict but follow ``.to(device)``.
    """

    # buffers (registered in __init__), declared for type checkers
    group: torch.Tensor
    path: torch.Tensor
    depth: torch.Tensor
    leaves: torch.Tensor

    def __init__(self, taxonomy: Taxonomy):
        super().__init__()
        self.taxonomy = taxonomy
        group = taxonomy.group_of.copy()
        self.n_groups = len(taxonomy.sibling_groups) + 1  # + one group holding only the root
        group[group < 0] = self.n_groups - 1
        self.register_buffer("group", torch.as_tensor(group, dtype=torch.long), persistent=False)
        # path[i, j] = 1 when node j lies on the root path of node i (i included)
        self.register_buffer("path", torch.as_tensor(taxonomy.path_matrix, dtype=torch.float32), persistent=False)
        self.register_buffer("depth", torch.as_tensor(taxonomy.depth, dtype=torch.float32), persistent=False)
        self.register_buffer("leaves", torch.as_tensor(taxonomy.leaves, dtype=torch.long), persistent=False)

    @property
    def n_nodes(self) -> int:
        return int(self.group.numel())


def _tree(taxonomy: Taxonomy | TreeIndex, device: torch.device) -> TreeIndex:
    if isinstance(taxonomy, TreeIndex):
        return taxonomy if taxonomy.group.device == device else taxonomy.to(device)
    return TreeIndex(taxonomy).to(device)


def log_conditional(logits: torch.Tensor, taxonomy: Taxonomy | TreeIndex) -> torch.Tensor:
    """log p(node | parent) for every node: log-softmax within each sibling group (root 0).

    ``logits`` (B, n_nodes) -> (B, n_nodes) float32 (computed in float32 even under bf16).
    """
    tree = _tree(taxonomy, logits.device)
    z = logits.float()
    b = z.shape[0]
    g = tree.group.expand(b, -1)
    m = torch.full((b, tree.n_groups), -torch.inf, device=z.device).scatter_reduce(1, g, z, "amax", include_self=True)
    z = z - m.detach().gather(1, g)
    s = torch.zeros((b, tree.n_groups), device=z.device).scatter_add(1, g, z.exp())
    return z - s.log().gather(1, g)


def log_marginals(logits: torch.Tensor, taxonomy: Taxonomy | TreeIndex) -> torch.Tensor:
    """log p(node) for every node (root 0): the sum of log conditionals along the root path.

    ``logits`` (B, n_nodes) -> (B, n_nodes) float32.
    """
    tree = _tree(taxonomy, logits.device)
    return log_conditional(logits, tree) @ tree.path.T


def node_counts(leaf_counts: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """N_c: objects whose root path passes through each node, from counts per true leaf.

    ``leaf_counts`` is indexed by node (length n_nodes, zeros on internal nodes) or by leaf
    (length ``len(taxonomy.leaves)``, leaves in node order).
    """
    counts = np.asarray(leaf_counts, dtype=np.float64)
    if counts.shape == (len(taxonomy.leaves),) and len(taxonomy.leaves) != taxonomy.n_nodes:
        full = np.zeros(taxonomy.n_nodes)
        full[taxonomy.leaves] = counts
        counts = full
    if counts.shape != (taxonomy.n_nodes,):
        raise ValueError(
            f"leaf_counts has shape {counts.shape}; expected ({taxonomy.n_nodes},) or ({len(taxonomy.leaves)},)"
        )
    return taxonomy.path_matrix.T.astype(np.float64) @ counts


def node_weights(leaf_counts: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """W_c = N_all / (N_nodes * N_c) for every node (float64, 0 where N_c = 0).

    N_all is the number of training objects, N_nodes the number of taxonomy nodes.
    """
    n_c = node_counts(leaf_counts, taxonomy)
    n_all = n_c[0]  # every path passes through the root
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_c > 0, n_all / (taxonomy.n_nodes * n_c), 0.0)
    return w


def whce_loss(
    logits: torch.Tensor,
    leaf: torch.Tensor,
    taxonomy: Taxonomy | TreeIndex,
    weights: torch.Tensor | np.ndarray | None = None,
    alpha: float = 0.5,
    reduction: str = "mean",
    scheme: str = "node",
) -> torch.Tensor:
    """Weighted hierarchical cross-entropy.

    ``logits`` (B, n_nodes); ``leaf`` (B,) node index of each true leaf; ``weights`` W_c per node
    (None: all 1). Returns the mean over the batch (``reduction="none"``: per object).

    ``scheme="node"`` (Villar et al. 2023): each term c of the path carries its own W_c, which
    balances every sibling group, so the learnt prior is uniform among siblings: a leaf's prior
    depends on the tree's shape (AGN, alone under Variable, gets 1/4; SNIb/c, one of five under
    SN, 1/30). ``scheme="leaf"``: every term of an object's path carries its leaf's W_leaf, which
    balances the leaves: the learnt prior is uniform over the leaves, and an internal node's is
    the sum of its leaves'.
    """
    if scheme not in ("node", "leaf"):
        raise ValueError(f"unknown weighting scheme {scheme!r}; use 'node' or 'leaf'")
    tree = _tree(taxonomy, logits.device)
    w = (
        torch.ones(tree.n_nodes, device=logits.device)
        if weights is None
        else torch.as_tensor(weights, dtype=torch.float32, device=logits.device)
    )
    lam = torch.exp(-alpha * tree.depth)
    y = tree.path[leaf.long()]  # (B, n_nodes) root-to-leaf paths
    if scheme == "node":
        per_obj = -(log_conditional(logits, tree) * y * (w * lam)).sum(1)  # W_c * lambda_c
    else:
        per_obj = -w[leaf.long()] * (log_conditional(logits, tree) * y * lam).sum(1)  # W_leaf * lambda_c
    return per_obj.mean() if reduction == "mean" else per_obj


def flat_loss(
    logits: torch.Tensor,
    leaf: torch.Tensor,
    taxonomy: Taxonomy | TreeIndex,
    weights: torch.Tensor | np.ndarray | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Flat cross-entropy on the leaves: -W_leaf * log p(leaf), p the marginal of the true leaf.

    The option "flat" of the training config; probabilities stay hierarchical so that
    evaluation and prediction are unchanged.
    """
    tree = _tree(taxonomy, logits.device)
    leaf = leaf.long()
    logp = log_marginals(logits, tree).gather(1, leaf[:, None])[:, 0]
    w = 1.0 if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=logits.device)[leaf]
    per_obj = -w * logp
    return per_obj.mean() if reduction == "mean" else per_obj
