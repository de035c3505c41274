"""Configuration in one place: config/schema.yaml holds every default, the package ships the same
schema, config/config.yaml repeats exactly its defaults, and users' partial configs on the CLI path
are validated and filled by it (one ``error:`` line naming the key, exit 2, for a bad value)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from lightcurve_tables import make_table, random_curve
from wfutil import ROOT, cli

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features.shards import read_shard

SCHEMA = ROOT / "config" / "schema.yaml"


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of nested mappings ``d``."""
    if not isinstance(d, dict) or not d:
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _objects(sub: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object-with-properties subschema below ``sub`` (path, subschema)."""
    out = []
    for k, p in sub.get("properties", {}).items():
        if "properties" in p:
            out.append((f"{path}{k}", p))
            out += _objects(p, f"{path}{k}.")
    return out


def test_package_ships_the_workflow_schema() -> None:
    """src/elasticc_classification/data/schema.yaml is a copy of config/schema.yaml: edit both."""
    shipped = ROOT / "src/elasticc_classification/data/schema.yaml"
    assert shipped.read_bytes() == SCHEMA.read_bytes(), "copy config/schema.yaml to the package's data/schema.yaml"
    assert config.schema() == yaml.safe_load(SCHEMA.read_text())


def test_config_yaml_repeats_exactly_the_schema_defaults() -> None:
    """Every key of config/config.yaml has the schema's default value, and every default is in it."""
    given = _flat(yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    defaults = _flat(config.defaults())
    assert sorted(set(given) - set(defaults)) == [], "keys in config.yaml without a schema default"
    assert sorted(set(defaults) - set(given)) == [], "schema defaults missing from config.yaml"
    differ = {k: (given[k], defaults[k]) for k in given if given[k] != defaults[k]}
    assert differ == {}, "config.yaml value != schema default: (config.yaml, schema)"


def test_every_section_defaults_to_an_object_so_nested_defaults_fill() -> None:
    """JSON-schema defaults inside an object apply only when the object exists: each object has
    ``default: {}``, and every setting has a default."""
    sch = config.schema()
    for path, sub in _objects(sch):
        assert sub.get("default") == {}, f"{path}: needs default: {{}}"
        for k, p in sub["properties"].items():
            assert "default" in p, f"{path}.{k}: no default in the schema"
    assert config.validate({})["train"]["model"]["hidden"] == 100
    assert config.validate({"train": {"model": {"cell": "gru"}}})["train"]["model"] == {
        **config.section_defaults("train")["model"],
        "cell": "gru",
    }


def test_x_changes_names_rules_of_the_workflow() -> None:
    """Each setting's ``x-changes`` lists rules that exist (the rules' params come from it)."""
    rules = set(re.findall(r"^\s*rule (\w+):", "\n".join(p.read_text() for p in (ROOT / "rules").glob("*.smk")), re.M))
    sch = config.schema()
    named = set()
    for section, sub in sch["properties"].items():
        for k, p in sub.get("properties", {}).items():
            for rule in p.get(config.CHANGES, []):
                named.add(rule)
                assert rule in rules, f"{section}.{k}: x-changes names unknown rule {rule!r}"
    assert {"mock", "tensorize", "lightcurve_gallery", "train", "calibrate", "evaluate"} <= named
    # plot-only and resource settings change no shard, no model
    assert "gallery_objects" not in config.changes_output("tensorize", "tensorize")
    assert config.changes_output("tensorize", "lightcurve_gallery")[-1] == "gallery_objects"
    for key in ("progress_bar", "threads", "mem_mb", "runtime", "gpus"):
        assert key not in config.changes_output("train", "train")


def test_rules_read_the_filled_config_without_fallbacks() -> None:
    """The schema's defaults are filled at start-up: no rule keeps its own default."""
    for p in sorted((ROOT / "rules").glob("*.smk")):
        assert ".get(" not in p.read_text(), f"{p.name}: config fallback; put the default in config/schema.yaml"


@pytest.mark.parametrize(
    "path", sorted(p.name for p in (ROOT / "config").glob("*.yaml") if p.name not in ("schema.yaml", "taxonomy.yaml"))
)
def test_every_config_file_in_config_is_valid(path: str) -> None:
    """Config files shipped in config/ (layered over config.yaml) pass the schema."""
    spec = yaml.safe_load((ROOT / "config" / path).read_text()) or {}
    config.validate(spec, source=path)
    tiny = yaml.safe_load((ROOT / "workflow_tests/tiny_config.yaml").read_text())
    config.validate(tiny, source="tiny_config.yaml")


def test_sections_fill_partial_dicts_and_name_the_bad_key() -> None:
    cfg = config.resolve("tensorize", {"encoding": "linear"})
    assert cfg == {**config.section_defaults("tensorize"), "encoding": "linear"}
    assert config.resolve("augment", None) == config.section_defaults("augment")
    with pytest.raises(InputError, match=r"tensorize\.test_fraction: 2 is greater than the maximum of 1"):
        config.resolve("tensorize", {"test_fraction": 2})
    with pytest.raises(InputError, match=r"train: unknown keys \['batchsize'\]"):
        config.resolve("train", {"batchsize": 3})
    with pytest.raises(InputError, match=r"my\.yaml: train\.optim\.schedule: 'linear' is not one of"):
        config.validate({"train": {"optim": {"schedule": "linear"}}}, source="my.yaml")
    # a fresh copy every time: callers may edit what they get
    d = config.section_defaults("tensorize")
    d["static"].append("X")
    assert "X" not in config.section_defaults("tensorize")["static"]


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(3)
    out = tmp_path_factory.mktemp("cfg") / "chunk.parquet"
    pq.write_table(make_table([random_curve(rng, 1000 + i, 12, p_det=0.6) for i in range(8)]), out)
    return out


def test_cli_tensorize_fills_a_partial_config(parquet: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "partial.yaml"
    cfg.write_text("tensorize: {encoding: linear}\n")
    out = tmp_path / "s.arrow"
    r = cli("tensorize", parquet, out, "--config", cfg)
    assert r.returncode == 0, r.stderr
    sh = read_shard(out)
    assert sh.x.shape[1] == 5 and sh.meta["preprocess"]["keep"] == "detection_window"
    assert "gallery_objects" not in sh.meta["preprocess"]  # plot-only: not part of the shard


@pytest.mark.parametrize(
    "command, text, key",
    [
        ("tensorize", "tensorize: {keep: sometimes}\n", "tensorize.keep"),
        ("tensorize", "keep: sometimes\n", "tensorize.keep"),  # a bare tensorize section
        ("train", "train: {batch_size: 0}\n", "train.batch_size"),
        ("train", "augment: {mode: random}\n", "augment.mode"),
        ("evaluate", "evaluate: {reliability_bins: 1}\n", "evaluate.reliability_bins"),
        ("evaluate", "evaluate: {dayz: [1]}\n", "evaluate: unknown keys ['dayz']"),
    ],
)
@pytest.mark.slow
def test_cli_bad_config_value_is_one_error_line(
    parquet: Path, tmp_path: Path, command: str, text: str, key: str
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    args = {
        "tensorize": ["tensorize", parquet, tmp_path / "s.arrow"],
        "train": ["train", tmp_path / "none.arrow", "--out", tmp_path / "m.ckpt"],
        "evaluate": ["evaluate", tmp_path / "m.ckpt", tmp_path / "none.arrow", tmp_path / "ev"],
    }[command]
    r = cli(*args, "--config", cfg)
    assert r.returncode == 2, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and key in errors[0] and str(cfg) in errors[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.arrow").exists() and not (tmp_path / "m.ckpt").exists()
