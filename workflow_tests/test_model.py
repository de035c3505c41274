"""The classifier's forward contract and the artifact loader (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elasticc_classification.errors import InputError
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model.module import HierarchicalClassifier, artifact_dict, load_model

TAX = Taxonomy.load()


def _model(cell: str = "lstm", n_static: int = 3) -> HierarchicalClassifier:
    torch.manual_seed(0)
    m = HierarchicalClassifier(
        TAX.to_dict(), ["t", "flux", "err", "band"], [f"s{i}" for i in range(n_static)], model={"cell": cell}
    )
    m.set_normalisation([10, 0, 1, 2], [30, 5, 1, 1], np.arange(n_static), np.ones(n_static) * 2)
    return m.eval()


def _batch(b: int = 6, t: int = 9, s: int = 3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, t, 4, generator=g)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    static = torch.randn(b, s, generator=g)
    static[0, 1] = float("nan")
    return x, lengths, static


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_is_never_used(cell):
    m = _model(cell)
    x, lengths, static = _batch()
    out = m(x, lengths, static)
    assert out.shape == (6, TAX.n_nodes) and torch.isfinite(out).all()
    x2 = x.clone()
    for i, n in enumerate(lengths.tolist()):
        x2[i, n:] = 1e6  # garbage after the end of each window
    assert torch.equal(m(x2, lengths, static), out)
    # the same object alone, cut to its own length, gives the same logits
    i = int(lengths.argmin())
    alone = m(x[i : i + 1, : lengths[i]], lengths[i : i + 1], static[i : i + 1])
    assert torch.allclose(alone, out[i : i + 1], atol=1e-5)


def test_missing_static_is_not_zero_valued():
    m = _model()
    x, lengths, static = _batch()
    s0 = static.clone()
    s0[0, 1] = 0.0  # 0.0 raw normalises to -0.5; NaN becomes 0 plus its missing flag
    assert not torch.allclose(m(x, lengths, static)[0], m(x, lengths, s0)[0])
    assert torch.isfinite(m(x, lengths, static)).all()


def test_temperature_divides_logits():
    m = _model()
    x, lengths, static = _batch()
    out = m(x, lengths, static)
    m.net.temperature.fill_(2.0)
    assert torch.allclose(m(x, lengths, static), out / 2)


def test_predict_log_marginals_sum_to_one_over_leaves():
    m = _model()
    lp = m.predict_log_marginals(*_batch())
    assert torch.allclose(lp.exp()[:, TAX.leaves].sum(1), torch.ones(6), atol=1e-5)


def test_artifact_round_trip(tmp_path):
    m = _model()
    m.net.temperature.fill_(1.7)
    torch.save(artifact_dict(m, {"epoch": 3}), tmp_path / "model.ckpt")
    m2 = load_model(tmp_path / "model.ckpt")
    assert not m2.training
    batch = _batch()
    assert torch.equal(m2(*batch), m(*batch))
    assert float(m2.temperature) == pytest.approx(1.7)
    assert m2.feature_names == ["t", "flux", "err", "band"]
    assert m2.taxonomy.nodes == TAX.nodes
    assert m2.artifact_meta["epoch"] == 3


def test_corrupt_or_incompatible_artifact(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_model(tmp_path / "missing.ckpt")
    good = tmp_path / "model.ckpt"
    torch.save(artifact_dict(_model()), good)
    bad = tmp_path / "truncated.ckpt"
    bad.write_bytes(good.read_bytes()[:500])
    with pytest.raises(InputError, match="not a readable model checkpoint"):
        load_model(bad)
    junk = tmp_path / "junk.ckpt"
    torch.save({"weights": torch.zeros(3)}, junk)
    with pytest.raises(InputError, match="not a model artifact"):
        load_model(junk)
    ck = artifact_dict(_model())
    ck["hyper_parameters"]["artifact_format"] = 99
    torch.save(ck, tmp_path / "future.ckpt")
    with pytest.raises(InputError, match="artifact format 99"):
        load_model(tmp_path / "future.ckpt")
    ck = artifact_dict(_model())
    ck["state_dict"]["head.3.weight"] = torch.zeros(5, 64)  # a different number of nodes
    torch.save(ck, tmp_path / "other.ckpt")
    with pytest.raises(InputError, match="do not fit"):
        load_model(tmp_path / "other.ckpt")


def test_packed_and_padded_paths_agree():
    m = _model()
    x, lengths, static = _batch()
    m.net.pack = True
    packed = m(x, lengths, static)
    m.net.pack = False
    assert torch.allclose(m(x, lengths, static), packed, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_forward_matches_cpu():
    m = _model()
    x, lengths, static = _batch(b=64, t=50)
    ref = m(x, lengths, static)
    mc = m.to("cuda")
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # compare in true fp32
    try:
        for pack in (True, False):
            mc.net.pack = pack
            with torch.no_grad():
                out = mc(x.cuda(), lengths, static.cuda()).cpu()
            assert torch.allclose(out, ref, atol=1e-4), (pack, (out - ref).abs().max())
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
