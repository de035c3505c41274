"""Prediction on the real SNANA files: one row per object, consistent probabilities, every input kind."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from model_helpers import make_artifact

from elasticc_classification.cli import main
from elasticc_classification.errors import InputError
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference import predict as P
from elasticc_classification.inference.classifier import Classifier, load_classifier
from elasticc_classification.io.snana import read_pair

SNIB = "elasticc2_train_1percent/ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
HEAD = SNIB + "/ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0001_HEAD.FITS.gz"
PHOT = SNIB + "/ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0001_PHOT.FITS.gz"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("model") / "model.ckpt")


def _probabilities_are_consistent(t: pa.Table, tax: Taxonomy) -> np.ndarray:
    ok = np.asarray(t.column("status").to_pylist()) == "ok"
    p = np.column_stack([t.column(n).to_numpy() for n in tax.nodes])[ok]
    np.testing.assert_allclose(p[:, 0], 1.0, atol=1e-5)
    for i in range(tax.n_nodes):
        ch = tax.children(i)
        if ch:  # siblings sum to 1 given their parent: children's marginals sum to the parent's
            np.testing.assert_allclose(p[:, ch].sum(1), p[:, i], atol=1e-5)
    assert np.all((p >= 0) & (p <= 1 + 1e-6))
    return p


def test_predict_real_directory_one_row_per_object(realdata, artifact, tmp_path):
    out = tmp_path / "pred.parquet"
    assert main(["predict", str(artifact), str(realdata / "elasticc2_train_1percent"), str(out)]) == 0
    t = pq.read_table(out)
    tax = Taxonomy.load()
    assert t.num_rows == 167  # README: 167 objects in the 60 pairs (20 of them empty)
    assert len(set(t.column("SNID").to_pylist())) == 167
    assert t.column_names[:3] == ["SNID", "status", "n_obs"]
    assert t.column_names[3 : 3 + tax.n_nodes] == list(tax.nodes)
    assert t.column_names[-4:] == ["pred_level_1", "pred_level_2", "pred_level_3", "pred_leaf"]
    p = _probabilities_are_consistent(t, tax)
    leaves = tax.leaves
    best = np.asarray(tax.nodes, object)[leaves[np.argmax(p[:, leaves], 1)]]
    ok = np.asarray(t.column("status").to_pylist()) == "ok"
    assert list(best) == list(np.asarray(t.column("pred_leaf").to_pylist(), object)[ok])
    assert 1144924 in t.column("SNID").to_pylist()


def test_predict_pair_head_only_and_parquet_agree(realdata, artifact, tmp_path):
    tax = Taxonomy.load()
    a = P.predict(artifact, [realdata / HEAD, realdata / PHOT], tmp_path / "a.parquet")
    b = P.predict(artifact, [realdata / HEAD], tmp_path / "b.parquet")  # PHOT partner found beside it
    pq.write_table(read_pair(realdata / HEAD, realdata / PHOT), tmp_path / "conv.parquet")
    c = P.predict(artifact, [tmp_path / "conv.parquet"], tmp_path / "c.parquet")
    assert a.num_rows == len(read_pair(realdata / HEAD, realdata / PHOT)) > 0
    for other in (b, c):
        assert other.column("SNID").to_pylist() == a.column("SNID").to_pylist()
        for n in tax.nodes:
            np.testing.assert_allclose(other.column(n).to_numpy(), a.column(n).to_numpy(), atol=1e-6)


def test_days_and_per_epoch(realdata, artifact, tmp_path):
    tax = Taxonomy.load()
    full = P.predict(artifact, [realdata / HEAD], tmp_path / "f.parquet")
    early = P.predict(artifact, [realdata / HEAD], tmp_path / "d.parquet", days=0)
    assert np.all(early.column("n_obs").to_numpy() <= full.column("n_obs").to_numpy())
    ep = P.predict(artifact, [realdata / HEAD], tmp_path / "e.parquet", per_epoch=True)
    _probabilities_are_consistent(ep, tax)
    n_obs = full.column("n_obs").to_numpy()
    assert ep.num_rows == n_obs.sum()
    snid = np.asarray(ep.column("SNID").to_pylist())
    epoch = ep.column("epoch").to_numpy()
    mjd = ep.column("mjd").to_numpy()
    for k, s in enumerate(full.column("SNID").to_pylist()):
        rows = np.flatnonzero(snid == s)
        np.testing.assert_array_equal(epoch[rows], np.arange(1, n_obs[k] + 1))
        assert np.all(np.diff(mjd[rows]) >= 0)
        # the answer after the last observation is the full-light-curve answer
        for n in tax.nodes:
            assert ep.column(n)[int(rows[-1])].as_py() == pytest.approx(full.column(n)[k].as_py(), abs=1e-5)
    # one epoch's answer equals classifying that prefix on its own (the slow path of another runtime)
    clf = load_classifier(artifact)
    slow = Classifier(clf.taxonomy, clf.feature_cfg, clf.forward, "torch", clf.feature_names, stepwise=None)
    t2 = P.predict_table(slow, read_pair(realdata / HEAD, realdata / PHOT), per_epoch=True)
    for n in tax.nodes:
        np.testing.assert_allclose(t2.column(n).to_numpy(), ep.column(n).to_numpy(), atol=1e-5)


def test_object_without_usable_observation_gets_nan_and_a_reason(realdata, artifact):
    clf = load_classifier(artifact)
    table = read_pair(realdata / HEAD, realdata / PHOT)
    flag = table.column("PHOTFLAG").combine_chunks()
    # object 0 loses every detection: the preprocessing keeps nothing of it
    zero = pa.ListArray.from_arrays(
        flag.offsets,
        pa.array(
            np.where(np.repeat(np.arange(len(table)), np.diff(flag.offsets.to_numpy())) == 0, 0, flag.values.to_numpy())
        ),
    )
    t = P.predict_table(clf, table.set_column(table.column_names.index("PHOTFLAG"), "PHOTFLAG", zero))
    assert t.num_rows == len(table)
    assert t.column("status")[0].as_py() == P.NO_OBSERVATION and t.column("n_obs")[0].as_py() == 0
    assert np.isnan(t.column("Alert")[0].as_py()) and t.column("pred_leaf")[0].as_py() is None
    assert t.column("status")[1].as_py() == "ok"


def test_bad_inputs_give_one_clear_error(artifact, tmp_path, capsys):
    with pytest.raises(InputError, match="does not exist"):
        P.predict(artifact, [tmp_path / "nope.parquet"], tmp_path / "o.parquet")
    bad = tmp_path / "x_HEAD.FITS.gz"
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="partner"):
        P.predict(artifact, [bad], tmp_path / "o.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    assert main(["predict", str(artifact), str(tmp_path / "junk.parquet"), str(tmp_path / "o.parquet")]) == 2
    assert "junk.parquet" in capsys.readouterr().err
    with pytest.raises(InputError, match="model"):
        P.predict(tmp_path / "none.ckpt", [tmp_path / "junk.parquet"], tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


def test_old_snana_layout_without_detections(realdata, artifact, tmp_path):
    """SNLS pair (lower-case names, string SNIDs, PHOTFLAG always 0): found from the HEAD alone;
    no detection, so no usable observation under the default preprocessing: NaN and the reason."""
    head = realdata / "snls_snana_example" / "snana_fits_example_head.fits"
    t = P.predict(artifact, [head], tmp_path / "snls.parquet")
    assert t.column("SNID").to_pylist() == ["03D1aw", "03D1ax"]
    assert set(t.column("status").to_pylist()) == {P.NO_OBSERVATION}
    assert np.isnan(t.column("SN").to_numpy()).all()
    with pytest.raises(InputError, match="no input"):
        P.predict(artifact, [], tmp_path / "none.parquet")


# --- the published prior (predict --prior published) -------------------------------------------
def test_learnt_prior_of_each_scheme_on_the_default_tree():
    from elasticc_classification.inference.classifier import learnt_prior

    tax = Taxonomy.load()
    leaf = dict(zip((tax.nodes[i] for i in tax.leaves), learnt_prior(tax, "node")))
    # Alert (2) -> Variable (2) -> AGN; Alert -> Transient (3) -> SN (5) -> SNIb/c; Periodic has 4 leaves
    assert leaf["AGN"] == pytest.approx(1 / 4)
    assert leaf["SNIb/c"] == pytest.approx(1 / 30)
    assert leaf["M-dwarf Flare"] == pytest.approx(1 / 24)
    assert leaf["EB"] == pytest.approx(1 / 16)
    assert sum(leaf.values()) == pytest.approx(1.0)
    assert learnt_prior(tax, "leaf") == pytest.approx(np.full(19, 1 / 19))


def test_shift_prior_is_bayes_rule_on_the_leaves():
    from elasticc_classification.inference.classifier import shift_prior

    tax = Taxonomy.load()
    rng = np.random.default_rng(3)
    leaf_p = rng.dirichlet(np.ones(len(tax.leaves)), size=5)
    marg = np.zeros((5, tax.n_nodes))
    marg[:, tax.leaves] = leaf_p
    marg = marg @ tax.path_matrix.astype(float)  # internal nodes: sums of their leaves
    target, learnt = rng.uniform(1, 60, len(tax.leaves)), np.full(len(tax.leaves), 1.0)
    out = shift_prior(marg, tax, target, learnt)
    np.testing.assert_allclose(out[:, 0], 1.0)
    for i in range(tax.n_nodes):
        if tax.children(i):
            np.testing.assert_allclose(out[:, tax.children(i)].sum(1), out[:, i])
    ratio = out[:, tax.leaves] / leaf_p  # p'(leaf) / p(leaf) = target / learnt, up to one constant per row
    np.testing.assert_allclose(ratio / ratio[:, :1], np.broadcast_to(target / target[0], ratio.shape))
    np.testing.assert_allclose(shift_prior(marg, tax, learnt * 7, learnt), marg)  # same prior: unchanged


def test_predict_published_prior_on_real_files(realdata, artifact, tmp_path):
    """--prior published = the model's probabilities reweighted by the taxonomy's published class
    numbers; common classes gain, rare ones lose."""
    tax = Taxonomy.load()
    base, pub = tmp_path / "base.parquet", tmp_path / "pub.parquet"
    d = str(realdata / SNIB)
    assert main(["predict", str(artifact), d, str(base)]) == 0
    assert main(["predict", "--prior", "published", str(artifact), d, str(pub)]) == 0
    pb, pp = (np.column_stack([pq.read_table(f).column(n).to_numpy() for n in tax.nodes]) for f in (base, pub))
    target = np.array([tax.prior[tax.nodes[i]] for i in tax.leaves])
    want = pb[:, tax.leaves] * target
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(pp[:, tax.leaves], want, rtol=1e-9)  # the artifact learnt the leaf scheme
    _probabilities_are_consistent(pq.read_table(pub), tax)
    kn, snia = tax.index["KN"], tax.index["SNIa"]
    ok = (pb[:, kn] > 1e-200) & (pb[:, snia] > 1e-200)  # ratios of underflowed probabilities are 0/0
    assert ok.sum() > 100
    assert (pp[ok, kn] / pb[ok, kn] < pp[ok, snia] / pb[ok, snia]).all()
    assert "published" in pq.read_table(pub).schema.metadata[b"elasticc_classification"].decode()
