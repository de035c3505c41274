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
    for seed in range(3):
        x, lengths, static = _batch(model, seed)
        # garbage after each light curve's end must not matter
        x2 = x.clone()
        for b, n in enumerate(lengths.tolist()):
            x2[b, n:] = 1e3
        with torch.no_grad():
            got = mod(x2, lengths, static).numpy()
        np.testing.assert_allclose(got, _reference(model, x, lengths, static), atol=1e-5)


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
