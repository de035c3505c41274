"""The tensorize stage end to end: CLI, shard round trip and size, clean failures, Snakemake rules."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from lightcurve_tables import make_table, random_curve
from wfutil import ROOT, SNIB, cli, job_counts, pair, run_workflow, stage_snakefile

from elasticc_classification.errors import InputError
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.shards import read_shard, write_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.features.tensorize import tensorize
from elasticc_classification.io import layout, snana

TAX = Taxonomy.load(None)


@pytest.fixture(scope="module")
def real_parquet(realdata, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "0003.parquet"
    snana.convert_pair(*pair(realdata, SNIB, 3), out)
    return out


def test_cli_shard_round_trip(real_parquet, tmp_path):
    out = tmp_path / "shards" / "0003.arrow"
    r = cli("tensorize", real_parquet, out, "--config", ROOT / "config/config.yaml")
    assert r.returncode == 0, r.stderr
    sh = read_shard(out)
    ref = build_shard(pq.read_table(real_parquet), {}, TAX)
    assert len(sh) == len(ref) == 11  # README-derived: chunk 0003 holds 11 objects, all with detections
    for name in ("snid", "model", "leaf", "split", "t0", "first_det", "offsets"):
        assert np.array_equal(getattr(sh, name), getattr(ref, name)), name
    np.testing.assert_array_equal(sh.x, ref.x)
    np.testing.assert_array_equal(sh.static, ref.static)
    assert sh.meta["feature_names"] == ref.meta["feature_names"]
    assert sh.meta["taxonomy"] == TAX.to_dict()
    assert sh.meta["counts"]["objects_in"] == 11
    assert "objects_kept 11" in r.stderr  # counts go to the log


def test_cli_config_section_file(real_parquet, tmp_path):
    cfg = tmp_path / "tensorize.yaml"
    cfg.write_text(yaml.safe_dump({"keep": "all", "encoding": "linear"}))
    out = tmp_path / "all.arrow"
    r = cli("tensorize", real_parquet, out, "--config", cfg)
    assert r.returncode == 0, r.stderr
    sh = read_shard(out)
    assert sh.x.shape == (1176, 5)  # every observation of the chunk (convert log: 1176 observations)
    assert sh.meta["preprocess"]["keep"] == "all"


def test_shard_bytes_close_to_raw_float32(tmp_path):
    rng = np.random.default_rng(0)
    curves = [random_curve(rng, int(s), 120) for s in rng.choice(10**9, 300, replace=False)]
    out = tmp_path / "s.arrow"
    sh = build_shard(make_table(curves), {"keep": "all"}, TAX)
    write_shard(sh, out)
    raw = sh.x.size * 4 + sh.static.size * 4
    assert out.stat().st_size <= 1.3 * raw


@pytest.mark.parametrize(
    "damage, message",
    [
        ("drop_column", "missing required column.*FLUXCALERR"),
        ("bad_model", "'NOPE'.*known models"),
        ("not_parquet", "not a readable parquet"),
        ("absent", "not found"),
    ],
)
def test_bad_input_gives_clear_error_and_no_shard(real_parquet, tmp_path, damage, message):
    src = tmp_path / "in.parquet"
    t = pq.read_table(real_parquet)
    if damage == "drop_column":
        pq.write_table(t.drop_columns(["FLUXCALERR"]), src)
    elif damage == "bad_model":
        i = t.column_names.index("MODEL")
        pq.write_table(t.set_column(i, "MODEL", pa.array(["NOPE"] * t.num_rows)), src)
    elif damage == "not_parquet":
        src.write_bytes(b"PAR1 definitely not parquet")
    out = tmp_path / "out" / "s.arrow"
    r = cli("tensorize", src, out)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert re.search(message, r.stderr), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no temporary file left


def test_python_api_leaves_no_partial_output(real_parquet, tmp_path):
    out = tmp_path / "s.arrow"
    with pytest.raises(InputError, match="keep"):
        tensorize(real_parquet, out, cfg={"keep": "sometimes"})
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --- Snakemake ------------------------------------------------------------------------------
@pytest.mark.slow
def test_rules_make_shards_and_gallery(realdata, tmp_path):
    raw = realdata / "elasticc2_train_1percent"
    results = tmp_path / "results"
    targets = [
        results / "shards/SNIb-Templates/0001.arrow",
        results / "shards/Mdwarf-flare/0001.arrow",
        results / "plots/lightcurves/SNIb-Templates.png",
    ]
    r = run_workflow(tmp_path, results, raw, *map(str, targets))
    assert r.returncode == 0, r.stderr[-3000:]
    sh = read_shard(targets[0])
    assert len(sh) == 5 and sh.snid[0] == "1144924"
    empty = read_shard(targets[1])  # Mdwarf-flare 0001 is an empty pair
    assert len(empty) == 0 and empty.x.shape == (0, 10)
    png = targets[2].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    log = (results / "logs/tensorize/SNIb-Templates/0001.log").read_text()
    assert "objects_kept 5" in log and "observations_outside_window" in log
    assert "6 light curves drawn" in (results / "logs/lightcurve_gallery/SNIb-Templates.log").read_text()
    # every chunk gets its own tensorize job (parallel), every model a gallery
    every = [str(results / f"shards/{p.model}/{p.chunk}.arrow") for p in layout.find_pairs(raw)]
    every += [str(results / f"plots/lightcurves/{m}.png") for m in ("SNIb-Templates", "Mdwarf-flare")]
    dry = run_workflow(tmp_path, results, raw, *every, "-n", "--quiet", "rules")
    text = dry.stdout + dry.stderr
    assert dry.returncode == 0, text[-3000:]
    jobs = {k: n for k, n in job_counts(text).items() if k in ("tensorize", "lightcurve_gallery", "convert")}
    # made already: 2 shards, the SNIb gallery and so all 20 SNIb parquets plus Mdwarf 0001
    assert jobs == {"tensorize": 58, "convert": 39, "lightcurve_gallery": 1}


@pytest.mark.slow
def test_rule_all_includes_every_shard_and_gallery(realdata, tmp_path):
    """ALL_TARGETS gets one shard per chunk and one gallery per model (on a Snakefile of the
    convert and tensorize stages alone, so stages still being written cannot break this test)."""
    raw = realdata / "elasticc2_train_1percent"
    snakefile = stage_snakefile(tmp_path, "convert", "tensorize")
    r = run_workflow(tmp_path, tmp_path / "results", raw, "-n", "--snakefile", str(snakefile))
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    counts = job_counts(out)
    assert counts.get("tensorize") == 60 and counts.get("lightcurve_gallery") == 2, out[-2000:]


@pytest.mark.slow
def test_rule_fails_cleanly_on_a_bad_parquet(realdata, tmp_path):
    raw = realdata / "elasticc2_train_1percent"
    results = tmp_path / "results"
    bad = results / "parquet/SNIb-Templates/0002.parquet"
    bad.parent.mkdir(parents=True)
    t = snana.read_pair(*pair(realdata, SNIB, 2))
    pq.write_table(t.drop_columns(["BAND"]), bad)  # newer than the raw files: convert does not rerun
    out = results / "shards/SNIb-Templates/0002.arrow"
    r = run_workflow(tmp_path, results, raw, str(out), "--rerun-triggers", "mtime")
    assert r.returncode != 0
    assert not out.exists()
    log = (results / "logs/tensorize/SNIb-Templates/0002.log").read_text()
    assert "missing required column(s) ['BAND']" in log and "Traceback" not in log


# --- light-curve plots ------------------------------------------------------------------------
def test_light_curve_panel_marks_detections_and_window():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from elasticc_classification.evaluation.plots import BAND_COLOURS, plot_light_curve

    mjd = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    flux = np.array([0.0, 10.0, 50.0, 20.0, 5.0, 1.0])
    err = np.ones(6)
    band = np.array([1, 1, 2, 2, 1, 1])  # g g r r g g
    det = np.array([False, False, True, True, False, False])
    kept = np.array([False, True, True, True, False, False])
    fig, ax = plt.subplots()
    plot_light_curve(ax, mjd, flux, err, band, det, kept, "SNID 7  SNIb-Templates → SNIb/c")
    assert ax.get_title() == "SNID 7  SNIb-Templates → SNIb/c"
    markers = [ln for ln in ax.lines if ln.get_marker() == "o"]
    pts = {(tuple(ln.get_xdata()), ln.get_markerfacecolor() == "none", ln.get_alpha()) for ln in markers}
    assert pts == {
        ((3.0, 4.0), False, 1.0),  # r detections: filled, kept
        ((2.0,), True, 1.0),  # g non-detection in the window: open, kept
        ((1.0, 5.0, 6.0), True, 0.25),
    }  # dropped g non-detections: open, faint
    r_line = next(ln for ln in markers if tuple(ln.get_xdata()) == (3.0, 4.0))
    assert matplotlib.colors.same_color(r_line.get_markeredgecolor(), BAND_COLOURS["r"])
    (span,) = ax.patches  # the kept window, shaded (a Rectangle in axes-x data coordinates)
    assert (span.get_x(), span.get_x() + span.get_width()) == (2.0, 4.0)
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"] == [3.0]  # first detection
    plt.close(fig)


def test_gallery_of_real_light_curves(real_parquet, tmp_path):
    from elasticc_classification.evaluation.plots import lightcurve_gallery

    out = tmp_path / "g.png"
    assert lightcurve_gallery([real_parquet], out, {}, TAX, n_objects=4, title="SNIb-Templates") == 4
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = real_parquet.parent / "empty.parquet"
    pq.write_table(pq.read_table(real_parquet).slice(0, 0), empty)
    assert lightcurve_gallery([empty], tmp_path / "e.png", {}, TAX) == 0  # a page saying so, no failure
    assert (tmp_path / "e.png").exists()
