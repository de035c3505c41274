"""Taxonomy: the default ORACLE tree, node order, paths, sibling groups, model mapping, bad trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from elasticc_classification.features.taxonomy import Taxonomy, TaxonomyError

# The ORACLE tree and model mapping as issue 4 lists them (written out here, independently of the YAML).
ISSUE_TREE = {
    "Alert": ["Transient", "Variable"],
    "Transient": ["SN", "Fast", "Long"],
    "Variable": ["Periodic", "AGN"],
    "SN": ["SNIa", "SNIb/c", "SNIax", "SNI91bg", "SNII"],
    "Fast": ["KN", "Dwarf Novae", "uLens", "M-dwarf Flare"],
    "Long": ["SLSN", "TDE", "ILOT", "CART", "PISN"],
    "Periodic": ["Cepheid", "RR Lyrae", "Delta Scuti", "EB"],
}
ISSUE_MODELS = {
    "SNIa-SALT3": "SNIa", "SNIa-91bg": "SNI91bg", "SNIax": "SNIax",
    "SNIb-Templates": "SNIb/c", "SNIb+HostXT_V19": "SNIb/c", "SNIc-Templates": "SNIb/c",
    "SNIc+HostXT_V19": "SNIb/c", "SNIcBL+HostXT_V19": "SNIb/c",
    "SNII-NMF": "SNII", "SNII-Templates": "SNII", "SNII+HostXT_V19": "SNII", "SNIIn-MOSFIT": "SNII",
    "SNIIn+HostXT_V19": "SNII", "SNIIb+HostXT_V19": "SNII",
    "SLSN-I+host": "SLSN", "SLSN-I_no_host": "SLSN", "TDE": "TDE", "ILOT": "ILOT", "CART": "CART", "PISN": "PISN",
    "KN_K17": "KN", "KN_B19": "KN", "Mdwarf-flare": "M-dwarf Flare", "dwarf-nova": "Dwarf Novae",
    "uLens-Single_PyLIMA": "uLens", "uLens-Single-GenLens": "uLens", "uLens-Binary": "uLens",
    "CLAGN": "AGN", "RRL": "RR Lyrae", "EB": "EB", "Cepheid": "Cepheid", "d-Sct": "Delta Scuti",
}  # fmt: skip


@pytest.fixture(scope="module")
def tax(root: Path) -> Taxonomy:
    return Taxonomy.load(root / "config/taxonomy.yaml")


def test_config_file_is_the_issue_tree(tax, root):
    spec = yaml.safe_load((root / "config/taxonomy.yaml").read_text())
    assert spec["tree"] == ISSUE_TREE
    assert spec["models"] == ISSUE_MODELS
    assert tax.n_nodes == 26
    assert len(tax.leaves) == 19
    assert tax.max_depth == 3


def test_packaged_default_equals_config_file(tax):
    default = Taxonomy.load(None)
    assert default.nodes == tax.nodes
    assert dict(default.models) == dict(tax.models)


def test_breadth_first_order_and_depths(tax):
    nodes = list(tax.nodes)
    assert nodes[:3] == ["Alert", "Transient", "Variable"]
    assert nodes[3:8] == ["SN", "Fast", "Long", "Periodic", "AGN"]
    # depth never decreases along the order, and every parent comes before its children
    assert np.all(np.diff(tax.depth) >= 0)
    assert all(tax.parent[i] < i for i in range(1, tax.n_nodes))
    for parent, children in ISSUE_TREE.items():
        for c in children:
            assert tax.nodes[tax.parent[tax.index[c]]] == parent
            assert tax.depth[tax.index[c]] == tax.depth[tax.index[parent]] + 1


def test_leaf_paths(tax):
    assert [tax.nodes[i] for i in tax.path("SNIb/c")] == ["Alert", "Transient", "SN", "SNIb/c"]
    assert [tax.nodes[i] for i in tax.path("AGN")] == ["Alert", "Variable", "AGN"]
    assert [tax.nodes[i] for i in tax.path("M-dwarf Flare")] == ["Alert", "Transient", "Fast", "M-dwarf Flare"]
    pm = tax.path_matrix
    for leaf in tax.leaves:
        assert pm[leaf].sum() == tax.depth[leaf] + 1
        assert set(np.flatnonzero(pm[leaf])) == set(tax.path(leaf))


def test_sibling_groups_partition_non_root_nodes(tax):
    groups = tax.sibling_groups
    assert len(groups) == len(ISSUE_TREE)
    members = np.concatenate(groups)
    assert sorted(members.tolist()) == list(range(1, tax.n_nodes))
    for g in groups:
        assert len({int(tax.parent[i]) for i in g}) == 1


def test_every_model_maps_to_its_leaf(tax):
    for model, leaf in ISSUE_MODELS.items():
        i = tax.leaf_of_model(model)
        assert tax.nodes[i] == leaf
        assert i in tax.leaves


def test_round_trip_through_dict(tax):
    again = Taxonomy.from_dict(tax.to_dict())
    assert again.nodes == tax.nodes
    assert np.array_equal(again.parent, tax.parent)
    assert dict(again.models) == dict(tax.models)


def test_unknown_model_lists_known_names(tax):
    with pytest.raises(TaxonomyError) as e:
        tax.leaf_of_model("SNIa-NOT-A-MODEL")
    assert "SNIa-NOT-A-MODEL" in str(e.value)
    assert "SNIb-Templates" in str(e.value) and "Mdwarf-flare" in str(e.value)


def test_user_supplied_tree(tmp_path):
    p = tmp_path / "tax.yaml"
    p.write_text(yaml.safe_dump({"tree": {"All": ["A", "B"], "A": ["A1", "A2"]}, "models": {"m1": "A1", "m2": "B"}}))
    t = Taxonomy.load(p)
    assert t.nodes == ("All", "A", "B", "A1", "A2")
    assert t.leaf_names == ["B", "A1", "A2"]
    assert t.nodes[t.leaf_of_model("m2")] == "B"


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"tree": {"A": ["B"], "C": ["D"]}}, "cannot tell the root"),
        ({"tree": {"A": ["B", "C"], "B": ["C"]}}, "appears twice"),
        ({"tree": {"A": ["B", "B"]}}, "lists a child twice"),
        ({"tree": {"A": []}}, "non-empty list"),
        ({"tree": {"A": ["B", "C"]}, "models": {"m": "A"}}, "not leaves"),
        ({"models": {"m": "A"}}, "needs a 'tree'"),
    ],
)
def test_malformed_tree_is_rejected(spec, fragment):
    with pytest.raises(TaxonomyError, match=fragment):
        Taxonomy.from_dict(spec)


def test_unreadable_or_invalid_file(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        Taxonomy.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tree: [unclosed")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        Taxonomy.load(bad)


# --- ELAsTiCC class ids (issue 12: brokerClassification) ------------------------------------
ISSUE_LEAF_IDS = {
    "SNIa": 2222, "SNIb/c": 2223, "SNII": 2224, "SNIax": 2225, "SNI91bg": 2226, "KN": 2232, "M-dwarf Flare": 2233,
    "Dwarf Novae": 2234, "uLens": 2235, "SLSN": 2242, "TDE": 2243, "ILOT": 2244, "CART": 2245, "PISN": 2246,
    "Cepheid": 2322, "RR Lyrae": 2323, "Delta Scuti": 2324, "EB": 2325, "AGN": 2332,
}  # fmt: skip


def test_class_ids_are_the_elasticc_ids(root):
    tax = Taxonomy.load(root / "config/taxonomy.yaml")
    assert dict(zip(tax.leaf_names, tax.leaf_class_ids().tolist())) == ISSUE_LEAF_IDS
    internal = {"Transient": 2200, "SN": 2220, "Fast": 2230, "Long": 2240, "Variable": 2300, "Periodic": 2320}
    assert {k: tax.class_ids[k] for k in internal} == internal
    assert Taxonomy.from_dict(tax.to_dict()).class_ids == tax.class_ids
    assert Taxonomy.load(None).class_ids == tax.class_ids


def test_taxonomy_without_class_ids_fails_clearly_for_broker_classification(root):
    spec = yaml.safe_load((root / "config/taxonomy.yaml").read_text())
    spec.pop("class_ids")
    tax = Taxonomy.from_dict(spec)
    with pytest.raises(TaxonomyError, match="has no class_ids.*--taxonomy"):
        tax.leaf_class_ids()
    spec["class_ids"] = {"SNIa": 2222}
    with pytest.raises(TaxonomyError, match="no class id for the leaves"):
        Taxonomy.from_dict(spec).leaf_class_ids()
    spec["class_ids"] = {"Nope": 1}
    with pytest.raises(TaxonomyError, match="not in the tree"):
        Taxonomy.from_dict(spec)
    spec["class_ids"] = {"SNIa": 2222, "SNII": 2222}
    with pytest.raises(TaxonomyError, match="class id 2222 given to both"):
        Taxonomy.from_dict(spec)


def test_prior_covers_every_leaf_and_round_trips():
    tax = Taxonomy.load()
    assert set(tax.prior) == set(tax.leaf_names) and all(v > 0 for v in tax.prior.values())
    assert Taxonomy.from_dict(tax.to_dict()).prior == tax.prior
    spec = tax.to_dict()
    spec["prior"] = {k: v for k, v in spec["prior"].items() if k != "KN"}
    with pytest.raises(TaxonomyError, match="every leaf"):
        Taxonomy.from_dict(spec)
    spec["prior"] = {**tax.prior, "KN": 0}
    with pytest.raises(TaxonomyError, match="positive"):
        Taxonomy.from_dict(spec)
    spec.pop("prior")
    assert Taxonomy.from_dict(spec).prior == {}
