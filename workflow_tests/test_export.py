"""Exported models (TorchScript, ONNX) give PyTorch's marginals within 1e-5 on the same batch."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from model_helpers import make_artifact

from elasticc_classification.cli import main
from elasticc_classification.errors import InputError
from elasticc_classification.inference import export as X
from elasticc_classification.inference.classifier import load_onnx_classifier
from elasticc_classification.model.loss import log_marginals
from elasticc_classification.model.module import load_model


@pytest.fixture(scope="module", params=["lstm", "gru"])
def artifact(request, tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp(request.param) / "model.ckpt", cell=request.param, temperature=1.7)


def _reference(model, x, lengths, static) -> np.ndarray:
    with torch.no_grad():
        return log_marginals(model(x, lengths, static), model.tree).exp().numpy()


def _batch(model, seed: int, batch: int = 9, steps: int = 23):
    return X.example_inputs(model, batch=batch, steps=steps, seed=seed)


def test_exportable_matches_the_packed_forward(artifact):
    model = load_model(artifact)
    mod = X.exportable(model)
    assert mod.net is model.net  # the network itself, no second copy
    for seed in range(3):
        x, lengths, static = _batch(model, seed)
        # garbage after each light curve's end must not matter
        x2 = x.clone()
        for b, n in enumerate(lengths.tolist()):
            x2[b, n:] = 1e3
        with torch.no_grad():
            got = mod(x2, lengths, static).numpy()
        model.net.pack = True  # the reference takes the packed path
        try:
            np.testing.assert_allclose(got, _reference(model, x, lengths, static), atol=1e-5)
        finally:
            model.net.pack = "auto"


def test_in_graph_marginals_equal_the_loss_marginals(artifact):
    model = load_model(artifact)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, model.taxonomy.n_nodes, generator=g) * 4
    with torch.no_grad():
        dense = model.net.marginals(logits)
        steps = model.net.marginals(logits.reshape(5, 10, -1))  # any leading dimensions
    ref = log_marginals(logits, model.tree).exp()
    torch.testing.assert_close(dense, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(steps.reshape(50, -1), dense)


def test_step_logits_end_at_the_forward_logits(artifact):
    model = load_model(artifact)
    x, lengths, static = _batch(model, 4)
    with torch.no_grad():
        steps = model.net.step_logits(x, static)
        last = model(x, lengths, static)
    torch.testing.assert_close(steps[torch.arange(len(x)), lengths - 1], last, atol=1e-5, rtol=1e-5)


def test_artifacts_of_the_pre_network_layout_still_load(artifact, tmp_path):
    """model.ckpt files written before the network moved into ``net.`` (keys ``rnn.*``, ``x_mean`` …)."""
    ck = torch.load(artifact, weights_only=True)
    old = {k.removeprefix("net."): v for k, v in ck["state_dict"].items()}
    assert "rnn.weight_ih_l0" in old and "temperature" in old
    torch.save({**ck, "state_dict": old}, tmp_path / "old.ckpt")
    model, before = load_model(artifact), load_model(tmp_path / "old.ckpt")
    batch = _batch(model, 0)
    with torch.no_grad():
        assert torch.equal(before(*batch), model(*batch))
    assert float(before.temperature) == pytest.approx(1.7)


def test_artifacts_from_before_loss_weights_keep_their_node_weights(artifact, tmp_path):
    """An artifact without ``loss.weights`` was trained with per-node weights: loading it must not
    take today's default (``leaf``), or ``predict --prior`` would correct for the wrong prior."""
    from elasticc_classification.inference.classifier import load_classifier

    ck = torch.load(artifact, weights_only=True)
    hp = dict(ck["hyper_parameters"])
    assert load_model(artifact).hparams["loss"]["weights"] == "leaf"
    hp["loss"] = {k: v for k, v in hp["loss"].items() if k != "weights"}
    torch.save({**ck, "hyper_parameters": hp}, tmp_path / "old.ckpt")
    assert load_model(tmp_path / "old.ckpt").hparams["loss"]["weights"] == "node"
    assert load_classifier(tmp_path / "old.ckpt").learnt == "node"
    assert load_classifier(artifact).learnt == "leaf"


def test_torchscript_parity(artifact, tmp_path):
    model = load_model(artifact)
    out = tmp_path / "m.pt"
    assert main(["export", str(artifact), str(out), "--format", "torchscript"]) == 0
    mod, meta = X.load_torchscript(out)
    assert meta["taxonomy"] == model.hparams["taxonomy"] and meta["temperature"] == pytest.approx(1.7)
    for seed, (b, t) in enumerate([(9, 23), (1, 100), (4, 1)]):
        x, lengths, static = _batch(model, seed, b, t)
        with torch.no_grad():
            got = mod(x, lengths, static).numpy()
        np.testing.assert_allclose(got, _reference(model, x, lengths, static), atol=1e-5)


def test_onnx_parity(artifact, tmp_path):
    pytest.importorskip("onnxruntime")
    model = load_model(artifact)
    out = tmp_path / "m.onnx"
    X.export(artifact, out, "onnx")
    clf = load_onnx_classifier(out)
    assert clf.taxonomy.nodes == model.taxonomy.nodes
    for seed, (b, t) in enumerate([(9, 23), (1, 100), (5, 2)]):  # other batch sizes and lengths than at export
        x, lengths, static = _batch(model, seed, b, t)
        got = clf.forward(x.numpy(), lengths.numpy(), static.numpy())
        np.testing.assert_allclose(got, _reference(model, x, lengths, static), atol=1e-5)


def test_predict_runtime_onnx_matches_torch(artifact, tmp_path, realdata):
    pytest.importorskip("onnxruntime")
    model = load_model(artifact)
    out = tmp_path / "m.onnx"
    assert main(["export", str(artifact), str(out), "--format", "onnx"]) == 0
    head = (
        realdata
        / "elasticc2_train_1percent/ELASTICC2_TRAIN_01_1percent_SNIb-Templates/ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0002_HEAD.FITS.gz"
    )
    a, b = tmp_path / "torch.parquet", tmp_path / "onnx.parquet"
    assert main(["predict", str(artifact), str(head), str(a)]) == 0
    assert main(["predict", str(out), str(head), str(b), "--runtime", "onnx"]) == 0
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.column("SNID").to_pylist() == tb.column("SNID").to_pylist()
    for n in model.taxonomy.nodes:
        np.testing.assert_allclose(tb.column(n).to_numpy(), ta.column(n).to_numpy(), atol=1e-5)
    assert ta.column("pred_leaf").to_pylist() == tb.column("pred_leaf").to_pylist()


def test_export_errors(artifact, tmp_path):
    with pytest.raises(InputError, match="format"):
        X.export(artifact, tmp_path / "m.x", "tflite")
    (tmp_path / "bad.onnx").write_bytes(b"nope")
    with pytest.raises(InputError, match="ONNX"):
        load_onnx_classifier(tmp_path / "bad.onnx")
    assert not (tmp_path / "m.x").exists()
