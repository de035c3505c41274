"""The hierarchical probabilities and the weighted hierarchical cross-entropy, without Lightning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model import loss

# root R; children A (leaf) and B; B's children C and D (leaves). Node order: R A B C D.
TOY = Taxonomy.from_dict({"root": "R", "tree": {"R": ["A", "B"], "B": ["C", "D"]}})


def test_toy_tree_layout():
    assert TOY.nodes == ("R", "A", "B", "C", "D")
    assert list(TOY.leaves) == [1, 3, 4]


def test_log_conditional_by_hand():
    logits = torch.tensor([[5.0, 1.0, 2.0, 0.5, -1.0]])
    lc = loss.log_conditional(logits, TOY)[0].tolist()
    # group {A, B}: softmax(1, 2); group {C, D}: softmax(0.5, -1); root 0
    ab = math.log(math.exp(1) + math.exp(2))
    cd = math.log(math.exp(0.5) + math.exp(-1))
    assert lc == pytest.approx([0.0, 1 - ab, 2 - ab, 0.5 - cd, -1 - cd], abs=1e-6)


def test_whce_by_hand():
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.5, -1.0], [0.0, -0.3, 0.7, 2.0, 1.0]])
    leaf = torch.tensor([3, 1])  # C, A
    # training counts per leaf: A 6, C 3, D 1 -> N_all 10, N_B = 4, N_nodes = 5
    w = loss.node_weights(np.array([6, 3, 1]), TOY)
    assert w == pytest.approx([10 / 50, 10 / 30, 10 / 20, 10 / 15, 10 / 5])
    alpha = 0.5
    lam1, lam2 = math.exp(-alpha), math.exp(-2 * alpha)

    def lsm(a, b):  # log softmax of a against {a, b}
        return a - math.log(math.exp(a) + math.exp(b))

    # object 1 (true C): path R -> B -> C
    l1 = -(w[2] * lam1 * lsm(2.0, 1.0) + w[3] * lam2 * lsm(0.5, -1.0))
    # object 2 (true A): path R -> A
    l2 = -(w[1] * lam1 * lsm(-0.3, 0.7))
    got = loss.whce_loss(logits, leaf, TOY, w, alpha=alpha)
    assert got.item() == pytest.approx((l1 + l2) / 2, rel=1e-6)
    per = loss.whce_loss(logits, leaf, TOY, w, alpha=alpha, reduction="none")
    assert per.tolist() == pytest.approx([l1, l2], rel=1e-6)


def test_flat_loss_is_leaf_marginal_nll():
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.5, -1.0]])
    p_b = math.exp(2) / (math.exp(1) + math.exp(2))
    p_c_given_b = math.exp(0.5) / (math.exp(0.5) + math.exp(-1))
    assert loss.flat_loss(logits, torch.tensor([3]), TOY).item() == pytest.approx(
        -math.log(p_b * p_c_given_b), rel=1e-6
    )


def test_zero_count_node_gets_zero_weight():
    w = loss.node_weights(np.array([5, 0, 5]), TOY)
    assert w[3] == 0 and w[4] > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_probabilities_are_consistent_on_the_default_tree(seed):
    tax = Taxonomy.load()
    logits = torch.randn(64, tax.n_nodes, generator=torch.Generator().manual_seed(seed)) * 4
    cond = loss.log_conditional(logits, tax).exp()
    for grp in tax.sibling_groups:
        assert torch.allclose(cond[:, grp].sum(1), torch.ones(64), atol=1e-5)
    marg = loss.log_marginals(logits, tax).exp()
    assert torch.allclose(marg[:, 0], torch.ones(64))
    for i in range(tax.n_nodes):
        ch = tax.children(i)
        if ch:
            assert torch.allclose(marg[:, ch].sum(1), marg[:, i], atol=1e-5)
    assert torch.allclose(marg[:, tax.leaves].sum(1), torch.ones(64), atol=1e-5)


def test_extreme_logits_stay_finite_and_bf16_is_upcast():
    tax = Taxonomy.load()
    logits = torch.full((3, tax.n_nodes), 1e4)
    logits[1] = -1e4
    assert torch.isfinite(loss.log_marginals(logits, tax)).all()
    lb = torch.randn(5, tax.n_nodes).bfloat16()
    assert loss.log_conditional(lb, tax).dtype == torch.float32


def test_loss_gradient_points_to_true_leaf():
    tax = Taxonomy.load()
    leaf = torch.tensor(tax.leaves[[0, 5, 18]])
    logits = torch.zeros(3, tax.n_nodes, requires_grad=True)
    loss.whce_loss(logits, leaf, tax).backward()
    g = logits.grad
    # raising the true leaf's logit lowers the loss
    assert (g[torch.arange(3), leaf] < 0).all()


def test_leaf_scheme_by_hand():
    """scheme="leaf": the true leaf's W on every term of its path (same lambdas)."""
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.5, -1.0], [0.0, -0.3, 0.7, 2.0, 1.0]])
    leaf = torch.tensor([3, 1])  # C, A
    w = loss.node_weights(np.array([6, 3, 1]), TOY)
    lam1, lam2 = math.exp(-0.5), math.exp(-1.0)
    lc = loss.log_conditional(logits, TOY)
    l1 = -w[3] * (lam1 * lc[0, 2] + lam2 * lc[0, 3]).item()
    l2 = -w[1] * lam1 * lc[1, 1].item()
    per = loss.whce_loss(logits, leaf, TOY, w, alpha=0.5, reduction="none", scheme="leaf")
    assert per.tolist() == pytest.approx([l1, l2], rel=1e-6)
    with pytest.raises(ValueError, match="scheme"):
        loss.whce_loss(logits, leaf, TOY, w, scheme="class")


@pytest.mark.parametrize("scheme", ["node", "leaf"])
def test_learnt_prior_of_each_weighting_scheme(scheme):
    """Free logits (no input) fitted to imbalanced labels (A 60 %, C 30 %, D 10 %): the node scheme
    learns a uniform prior among siblings (A 1/2, C 1/4, D 1/4), the leaf scheme a uniform prior over
    the leaves (1/3 each) -- what the loss.weights option documents."""
    counts = np.array([600, 300, 100])
    leaf = torch.as_tensor(np.repeat(TOY.leaves, counts))
    w = loss.node_weights(counts, TOY)
    z = torch.zeros(1, TOY.n_nodes, requires_grad=True)
    opt = torch.optim.LBFGS([z], max_iter=200, tolerance_grad=1e-10, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        value = loss.whce_loss(z.expand(len(leaf), -1), leaf, TOY, w, scheme=scheme)
        value.backward()
        return value

    opt.step(closure)
    p = loss.log_marginals(z.detach(), TOY).exp()[0, TOY.leaves].numpy()
    want = [1 / 2, 1 / 4, 1 / 4] if scheme == "node" else [1 / 3, 1 / 3, 1 / 3]
    assert p == pytest.approx(want, abs=2e-3)
