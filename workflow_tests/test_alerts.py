"""Broker mode: ELAsTiCC Avro alerts in, brokerClassification out; the alert-stream simulator; parity with predict."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from model_helpers import make_artifact
from wfutil import MDWARF, SNIB, cli, job_counts, pair, run_workflow, stage_snakefile

from elasticc_classification.errors import InputError
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.alerts import NOT_CLASSIFIED, AlertClassifier, alerts_to_table
from elasticc_classification.inference.predict import predict_table
from elasticc_classification.io import alerts as aio
from elasticc_classification.io.sources import sources

# The brokerClassification record as the ELAsTiCC specification states it (issue 12), written out here
# independently of the shipped .avsc: our files must decode with it as the reader schema.
OFFICIAL_BROKER_CLASSIFICATION = {
    "namespace": "elasticc.v0_9_1",
    "type": "record",
    "name": "brokerClassfication",
    "fields": [
        {"name": "alertId", "type": "long"},
        {"name": "diaSourceId", "type": "long"},
        {"name": "elasticcPublishTimestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "brokerIngestTimestamp", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "brokerName", "type": "string"},
        {"name": "brokerVersion", "type": "string"},
        {"name": "classifierName", "type": "string"},
        {"name": "classifierParams", "type": "string"},
        {
            "name": "classifications",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "classificationDict",
                    "fields": [{"name": "classId", "type": "int"}, {"name": "probability", "type": "float"}],
                },
            },
        },
    ],
}
ISSUE_LEAF_IDS = {
    "SNIa": 2222, "SNIb/c": 2223, "SNII": 2224, "SNIax": 2225, "SNI91bg": 2226, "KN": 2232, "M-dwarf Flare": 2233,
    "Dwarf Novae": 2234, "uLens": 2235, "SLSN": 2242, "TDE": 2243, "ILOT": 2244, "CART": 2245, "PISN": 2246,
    "Cepheid": 2322, "RR Lyrae": 2323, "Delta Scuti": 2324, "EB": 2325, "AGN": 2332,
}  # fmt: skip


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_artifact(tmp_path_factory.mktemp("alerts_model") / "model.ckpt")


@pytest.fixture(scope="module")
def clf(model) -> AlertClassifier:
    return AlertClassifier(model, "torch")


@pytest.fixture(scope="module")
def snib_alerts(realdata) -> list[dict]:
    """The simulated stream of the real SNIb chunks (140 objects, 917 alerts)."""
    d = realdata / SNIB
    out = []
    for src, load in sources(sorted(d.glob("*_HEAD.FITS.gz"))):
        out += list(aio.simulate_table(load(), src))
    return out


@pytest.fixture(scope="module")
def alert_file(tmp_path_factory, snib_alerts) -> Path:
    path = tmp_path_factory.mktemp("alert_files") / "alerts.avro"
    aio.write_container(snib_alerts, path)
    return path


def _alert(alert_id: int = 1, n_forced: int = 3, **changes) -> dict:
    """A small valid alert: ``n_forced`` forced points then the detection at MJD 60010."""
    src = {
        "diaSourceId": alert_id * 10,
        "diaObjectId": 7,
        "midPointTai": 60010.0,
        "filterName": "r",
        "ra": 150.0,
        "decl": 2.0,
        "psFlux": 5000.0,
        "psFluxErr": 100.0,
        "snr": 50.0,
    }
    forced = [
        {
            "diaForcedSourceId": alert_id * 10 + k + 1,
            "diaObjectId": 7,
            "midPointTai": 60000.0 + k,
            "filterName": "gri"[k % 3],
            "psFlux": 50.0 * k,
            "psFluxErr": 100.0,
        }
        for k in range(n_forced)
    ]
    a = {"alertId": alert_id, "diaSource": src, "prvDiaSources": None, "prvDiaForcedSources": forced or None}
    a["diaObject"] = None
    for k, v in changes.items():
        if "." in k:
            part, key = k.split(".")
            a[part] = dict(a[part]) if isinstance(a[part], dict) else a[part]
            if part == "prvDiaForcedSources":
                a[part] = [dict(x) for x in a[part]]
                a[part][0][key] = v
            else:
                a[part][key] = v
        else:
            a[k] = v
    return a


# --- schemas and taxonomy ---------------------------------------------------------------------
def test_shipped_schemas_follow_the_specification():
    alert = json.loads(aio.schema_path("alert").read_text())
    assert [f["name"] for f in alert["fields"]] == [
        "alertId", "diaSource", "prvDiaSources", "prvDiaForcedSources", "diaObject",
    ]  # fmt: skip
    src = json.loads(aio.schema_path("diaSource").read_text())
    assert [f["name"] for f in src["fields"]] == [
        "diaSourceId", "diaObjectId", "midPointTai", "filterName", "ra", "decl", "psFlux", "psFluxErr", "snr",
    ]  # fmt: skip
    forced = json.loads(aio.schema_path("diaForcedSource").read_text())
    assert [f["name"] for f in forced["fields"]] == [
        "diaForcedSourceId", "diaObjectId", "midPointTai", "filterName", "psFlux", "psFluxErr",
    ]  # fmt: skip
    obj = json.loads(aio.schema_path("diaObject").read_text())
    names = [f["name"] for f in obj["fields"]]
    assert names[:8] == ["diaObjectId", "simVersion", "ra", "decl", "mwebv", "mwebv_err", "z_final", "z_final_err"]
    host = ["ellipticity", "sqradius", "zspec", "zspec_err", "zphot", "zphot_err"]
    host += [f"zphot_q{q:03d}" for q in range(0, 101, 10)] + [f"mag_{b}" for b in "ugrizY"]
    host += ["ra", "dec", "snsep"] + [f"magerr_{b}" for b in "ugrizY"]
    assert names[8:] == [f"hostgal_{n}" for n in host] + [f"hostgal2_{n}" for n in host]
    for sch in (alert, src, forced, obj):  # every nullable field: ["null", T], null first
        for f in sch["fields"]:
            if isinstance(f["type"], list):
                assert f["type"][0] == "null" and len(f["type"]) == 2, f
    bc = json.loads(aio.schema_path("brokerClassification").read_text())
    assert (bc["namespace"], bc["name"]) == ("elasticc.v0_9_1", "brokerClassfication")
    assert [f["name"] for f in bc["fields"]] == [f["name"] for f in OFFICIAL_BROKER_CLASSIFICATION["fields"]]


# --- the simulator ----------------------------------------------------------------------------
def test_simulator_sends_one_alert_per_detection_with_the_elasticc_history(realdata, snib_alerts):
    d = realdata / SNIB
    tables = [load() for _, load in sources(sorted(d.glob("*_HEAD.FITS.gz")))]
    n_det = sum(
        int((np.asarray(t.column("PHOTFLAG").combine_chunks().values) & 4096).astype(bool).sum()) for t in tables
    )
    assert len(snib_alerts) == n_det == 917
    assert len({a["alertId"] for a in snib_alerts}) == len(snib_alerts)
    by_object: dict[int, list[dict]] = {}
    for a in snib_alerts:
        by_object.setdefault(a["diaObject"]["diaObjectId"], []).append(a)
    n_with_forced = 0
    for alerts in by_object.values():
        t_first = alerts[0]["diaSource"]["midPointTai"]
        for m, a in enumerate(alerts):
            t = a["diaSource"]["midPointTai"]
            assert [s["diaSourceId"] for s in a["prvDiaSources"] or []] == [
                b["diaSource"]["diaSourceId"] for b in alerts[:m]
            ]
            forced = a["prvDiaForcedSources"]
            if t - t_first < aio.FORCED_AFTER_DAYS:
                assert forced is None
            else:
                n_with_forced += 1
                mjd = np.array([f["midPointTai"] for f in forced])
                assert mjd.min() >= t_first - aio.FORCED_BEFORE_DAYS and mjd.max() < t
    assert n_with_forced > 0
    # the first real object: SNID 1144924, its first alert is its trigger (PHOTFLAG 6144)
    first = by_object[1144924][0]
    assert first["diaSource"]["midPointTai"] == pytest.approx(60790.96875, abs=0.01)  # HEAD MJD_TRIGGER is float32
    assert first["diaObject"]["mwebv"] == pytest.approx(0.06073758, rel=1e-6)


@pytest.mark.slow
def test_alerts_command_writes_container_and_schemaless_files(tmp_path, realdata):
    head = realdata / SNIB / "ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-0001_HEAD.FITS.gz"
    r = cli("alerts", head, tmp_path / "c", "--chunk-size", "10")
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "c").glob("*.avro"))
    recs = [x for f in files for x in fastavro.reader(open(f, "rb"))]
    assert len(files) == 3 and len(recs) == 28
    r = cli("alerts", head, tmp_path / "s", "--schemaless")
    assert r.returncode == 0, r.stderr
    msgs = sorted((tmp_path / "s").glob("*.avro-msg"))
    assert len(msgs) == 28
    assert sorted(aio.decode_message(m.read_bytes())["alertId"] for m in msgs) == sorted(x["alertId"] for x in recs)


@pytest.mark.slow
def test_simulator_on_the_mock(tmp_path):
    from elasticc_classification.mock import generate

    generate(tmp_path / "raw", models=["RRL"], n_chunks=1, objects_per_chunk=5, seed=3)
    n = aio.simulate([tmp_path / "raw"], tmp_path / "alerts")
    assert n > 0
    recs = list(fastavro.reader(open(tmp_path / "alerts" / "alerts_000000.avro", "rb")))
    assert len(recs) == n


# --- parity with predict --------------------------------------------------------------------
def _truncated(table: pa.Table, rows: np.ndarray, t_cut: np.ndarray) -> pa.Table:
    """Rows ``rows`` of a converted table with light curves cut at MJD <= ``t_cut`` (the object as
    known at that alert) and REDSHIFT_HELIO(_ERR) set to REDSHIFT_FINAL(_ERR), the redshift alerts carry."""
    sub = table.take(pa.array(rows))
    mjd = sub.column("MJD").combine_chunks()
    offs = mjd.offsets.to_numpy().astype(np.int64)
    t = mjd.values.to_numpy()[offs[0] :]
    keep = t <= np.repeat(t_cut, np.diff(offs))
    counts = np.array([keep[a - offs[0] : b - offs[0]].sum() for a, b in zip(offs[:-1], offs[1:])])
    idx = np.concatenate([np.arange(a, a + c) for a, c in zip(offs[:-1] - offs[0], counts)])
    new_off = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    cols = {}
    for name in sub.column_names:
        col = sub.column(name).combine_chunks()
        if pa.types.is_list(col.type):
            vals = col.values.slice(int(col.offsets[0].as_py()))
            cols[name] = pa.ListArray.from_arrays(new_off, vals.take(pa.array(idx)))
        else:
            cols[name] = col
    cols["REDSHIFT_HELIO"], cols["REDSHIFT_HELIO_ERR"] = cols["REDSHIFT_FINAL"], cols["REDSHIFT_FINAL_ERR"]
    cols["SNID"] = pa.array(np.arange(len(rows)))
    return pa.table(cols)


def _expected_missing(table: pa.Table, rows: np.ndarray, t_cut: np.ndarray, history_days: float) -> np.ndarray:
    """Kept observations ``predict`` sees at each alert and the alert does not: the non-detection
    before the first detection when it lies > 30 days earlier; in the first day after the first
    detection (no forced photometry sent yet) that non-detection, the ``history_days`` before the
    first detection (the model's ``tensorize.history_days``) and the non-detections between detections."""
    assert history_days <= aio.FORCED_BEFORE_DAYS  # the alert's forced photometry covers the history
    out = np.zeros(len(rows), np.int64)
    mjd_col, flag_col = table.column("MJD"), table.column("PHOTFLAG")
    for k, (r, t) in enumerate(zip(rows, t_cut)):
        mjd = np.asarray(mjd_col[int(r)].as_py())
        det = (np.asarray(flag_col[int(r)].as_py()) & 4096) != 0
        fd = int(np.flatnonzero(det)[0])
        t_fd = mjd[fd]
        early = t - t_fd < aio.FORCED_AFTER_DAYS
        if early:  # the last non-detection and the history, both before the first detection
            before = np.arange(fd)
            out[k] += int(((before == fd - 1) | (mjd[:fd] >= t_fd - history_days)).sum())
        elif fd > 0 and t_fd - mjd[fd - 1] > aio.FORCED_BEFORE_DAYS:
            out[k] += 1
        if early:
            between = (mjd > t_fd) & (mjd < t) & ~det
            out[k] += int(between.sum())
    return out


@pytest.mark.slow
def test_alert_matches_predict_on_the_truncated_object(realdata, clf, capsys):
    """Every simulated alert of the real SNIb and M-dwarf objects: the same probabilities (<= 1e-5) as
    predict on the object cut at the alert's time whenever both keep the same observations; where
    they do not, the alert misses exactly the forced points ELAsTiCC's rules leave out."""
    tax = clf.taxonomy
    n_alerts = n_same = 0
    worst = 0.0
    for model_dir in (SNIB, MDWARF):
        for src, load in sources([realdata / model_dir]):
            table = load()
            alerts = list(aio.simulate_table(table, src))
            if not alerts:
                continue
            probs, bad = clf.probabilities(alerts, src)
            assert not bad
            ids = np.asarray(table.column("SNID").to_numpy())
            rows = np.array([int(np.flatnonzero(ids == i)[0]) for i in probs.column("diaObjectId").to_numpy()])
            t_cut = probs.column("midPointTai").to_numpy()
            ref = predict_table(clf.classifier, _truncated(table, rows, t_cut), source=src)
            pa_ = np.stack([probs.column(n).to_numpy() for n in tax.nodes], axis=1)
            pb = np.stack([ref.column(n).to_numpy() for n in tax.nodes], axis=1)
            n_a, n_b = probs.column("n_obs").to_numpy(), ref.column("n_obs").to_numpy()
            same = n_a == n_b
            history = float(clf.classifier.feature_cfg.get("history_days", 0.0))
            missing = _expected_missing(table, rows, t_cut, history)
            np.testing.assert_array_equal(n_b - n_a, missing, err_msg=src)
            if same.any():
                worst = max(worst, float(np.abs(pa_[same] - pb[same]).max()))
            n_alerts += len(same)
            n_same += int(same.sum())
    assert n_alerts == 950  # every detection of the 167 real objects
    assert worst <= 1e-5
    assert n_same > n_alerts / 2
    with capsys.disabled():
        print(
            f"\nalert/predict parity: {n_same} of {n_alerts} alerts keep the same observations as predict on the "
            f"truncated object (max |dp| {worst:.1e}); the other {n_alerts - n_same} lack the forced points "
            "ELAsTiCC leaves out (before the 30-day window, or within a day of the first detection)"
        )


# --- classify-alerts ------------------------------------------------------------------------
@pytest.mark.slow
def test_classify_alerts_writes_valid_broker_classifications(tmp_path, model, alert_file, snib_alerts):
    out = tmp_path / "bc.avro"
    r = cli("classify-alerts", model, alert_file, out)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as fo:
        recs = list(fastavro.reader(fo, reader_schema=OFFICIAL_BROKER_CLASSIFICATION))
    assert len(recs) == len(snib_alerts)
    assert [r["alertId"] for r in recs] == [a["alertId"] for a in snib_alerts]
    assert [r["diaSourceId"] for r in recs] == [a["diaSource"]["diaSourceId"] for a in snib_alerts]
    ids = set(ISSUE_LEAF_IDS.values())
    for rec in recs:
        assert {c["classId"] for c in rec["classifications"]} == ids
        assert sum(c["probability"] for c in rec["classifications"]) == pytest.approx(1.0, abs=1e-5)
        assert rec["brokerName"] == "ELAsTiCC-Classification"
        assert "sha256=" in rec["classifierParams"]
    # the same rows as predict writes, keyed by alert
    r = cli("classify-alerts", model, alert_file, tmp_path / "p.parquet", "--format", "parquet")
    assert r.returncode == 0, r.stderr
    t = pq.read_table(tmp_path / "p.parquet")
    assert t.column_names[:3] == ["alertId", "diaObjectId", "diaSourceId"]
    assert {"status", "n_obs", "Alert", "SNIa", "pred_leaf", "pred_level_1"} <= set(t.column_names)
    leaf = {name: i for name, i in ISSUE_LEAF_IDS.items()}
    p0 = {c["classId"]: c["probability"] for c in recs[0]["classifications"]}
    for name, cid in leaf.items():
        assert p0[cid] == pytest.approx(t.column(name)[0].as_py(), abs=1e-6)


@pytest.mark.slow
def test_inputs_schemaless_gzip_parquet_and_order_give_the_same_answers(tmp_path, clf, snib_alerts, alert_file):
    ref = {r["alertId"]: r["classifications"] for r in clf.classify(snib_alerts)}
    # schemaless messages, as bytes through the API and as files through the command
    msgs = [aio.encode_message(a) for a in snib_alerts]
    assert {r["alertId"]: r["classifications"] for r in clf.classify(msgs)} == ref
    # shuffled and mixed objects
    order = np.random.default_rng(0).permutation(len(snib_alerts))
    assert {r["alertId"]: r["classifications"] for r in clf.classify([snib_alerts[i] for i in order])} == ref
    # a gzipped container file, a parquet of alert records, a directory of messages
    (tmp_path / "msgs").mkdir()
    for a, m in zip(snib_alerts[:20], msgs[:20]):
        (tmp_path / "msgs" / f"{a['alertId']}.avro-msg").write_bytes(m)
    (tmp_path / "a.avro.gz").write_bytes(gzip.compress(alert_file.read_bytes()))
    pq.write_table(pa.Table.from_struct_array(aio.to_arrow(snib_alerts)), tmp_path / "a.parquet")
    for inp in (tmp_path / "a.avro.gz", tmp_path / "a.parquet", tmp_path / "msgs"):
        got, _ = clf.probabilities(aio.read_file(inp) if inp.is_file() else _dir(inp), str(inp))
        recs = clf.records(got)
        for r in recs:
            assert r["classifications"] == ref[r["alertId"]], inp


def _dir(d: Path) -> list[dict]:
    return [x for f in aio.alert_files([d]) for x in aio.read_file(f)]  # type: ignore[union-attr]


def test_alert_light_curve_uses_forced_photometry_and_marks_detections():
    a = _alert(n_forced=3, prvDiaSources=[dict(_alert()["diaSource"], midPointTai=60002.0, filterName="r")])
    a["prvDiaForcedSources"][2]["filterName"] = "r"  # the forced point at the earlier detection's visit
    b = alerts_to_table(aio.to_arrow([a]))
    t = b.table
    assert t.column("MJD")[0].as_py() == [60000.0, 60001.0, 60002.0, 60010.0]
    assert t.column("PHOTFLAG")[0].as_py() == [0, 0, 4096 | 2048, 4096]
    assert t.column("FLUXCAL")[0].as_py()[2] == pytest.approx(100.0 * aio.NJY_TO_FLUXCAL)  # the forced flux
    assert t.column("FLUXCAL")[0].as_py()[3] == pytest.approx(5000.0 * 10 ** (-0.4 * 3.9), rel=1e-6)
    assert t.column("RA")[0].as_py() == 150.0  # no diaObject: the diaSource's position
    assert np.isnan(t.column("MWEBV")[0].as_py())


# --- bad input ----------------------------------------------------------------------------
BAD_ALERTS = [
    ({"diaSource": None}, "no diaSource"),
    ({"prvDiaForcedSources.psFluxErr": float("nan")}, "NaN or negative psFluxErr"),
    ({"prvDiaForcedSources.psFluxErr": -1.0}, "NaN or negative psFluxErr"),
    ({"diaSource.filterName": "X"}, "unknown filterName"),
    ({"prvDiaForcedSources.filterName": "VR"}, "unknown filterName"),
]


@pytest.mark.parametrize("change, message", BAD_ALERTS)
def test_bad_alert_is_named_with_its_reason(clf, change, message):
    alerts = [_alert(1), _alert(2, **change), _alert(3)]
    with pytest.raises(InputError, match=f"batch.avro: alertId 2: {message}"):
        clf.classify(alerts, source="batch.avro")
    recs = clf.classify(alerts, skip_bad=True)
    assert [r["alertId"] for r in recs] == [1, 3]


@pytest.mark.slow
def test_bad_alerts_exit_2_without_output_or_are_skipped(tmp_path, model):
    alerts = [_alert(1)] + [_alert(10 + k, **change) for k, (change, _) in enumerate(BAD_ALERTS)] + [_alert(3)]
    path = tmp_path / "alerts.parquet"  # a diaSource-less alert cannot even be encoded in Avro
    pq.write_table(pa.Table.from_struct_array(aio.to_arrow(alerts)), path)
    out = tmp_path / "out.avro"
    r = cli("classify-alerts", model, path, out)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "alerts.parquet: alertId 10: no diaSource" in r.stderr, r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.avro*"))
    r = cli("classify-alerts", model, path, out, "--skip-bad")
    assert r.returncode == 0, r.stderr
    assert [x["alertId"] for x in fastavro.reader(open(out, "rb"))] == [1, 3]
    assert f"{len(BAD_ALERTS)} bad alerts or files skipped" in r.stderr


@pytest.mark.slow
def test_corrupt_files_and_messages(tmp_path, model, alert_file):
    data = alert_file.read_bytes()
    (tmp_path / "in").mkdir()
    cases = {
        "truncated.avro": data[: len(data) // 2],
        "corrupt.avro.gz": gzip.compress(data)[:-40],
        "garbage.avro-msg": b"\x02\x04not an alert at all",
    }
    for name, content in cases.items():
        path = tmp_path / "in" / name
        path.write_bytes(content)
        out = tmp_path / "out.avro"
        r = cli("classify-alerts", model, path, out)
        assert r.returncode == 2, (name, r.stderr)
        assert r.stderr.startswith("error: ") and name in r.stderr, r.stderr
        assert not out.exists()
    (tmp_path / "in" / "good.avro").write_bytes(data)
    r = cli("classify-alerts", model, tmp_path / "in", tmp_path / "out.avro", "--skip-bad")
    assert r.returncode == 0, r.stderr
    n_good = len(list(fastavro.reader(io.BytesIO(data))))
    assert len(list(fastavro.reader(open(tmp_path / "out.avro", "rb")))) == n_good
    assert "3 bad alerts or files skipped" in r.stderr


def test_alert_without_usable_observation_is_not_classified(clf, caplog):
    a = _alert(5, n_forced=0, **{"diaSource.psFlux": float("nan")})
    recs = clf.classify([_alert(4), a])
    assert recs[1]["classifications"] == [{"classId": NOT_CLASSIFIED, "probability": 1.0}]
    assert len(recs[0]["classifications"]) == 19
    assert "alertId 5: no usable observation" in caplog.text


@pytest.mark.slow
def test_onnx_runtime_gives_the_torch_answers(model, clf, snib_alerts):
    pytest.importorskip("onnxruntime")
    onnx = AlertClassifier(model, "onnx")
    assert onnx.class_ids.tolist() == clf.class_ids.tolist()  # the ids travel in the ONNX metadata
    a, _ = clf.probabilities(snib_alerts[:60])
    b, _ = onnx.probabilities(snib_alerts[:60])
    for node in clf.taxonomy.nodes:
        np.testing.assert_allclose(a.column(node).to_numpy(), b.column(node).to_numpy(), atol=1e-5)


def test_vectorised_decoder_equals_fastavro(snib_alerts):
    alerts = list(snib_alerts[:200]) + [
        _alert(1),  # no diaObject, no earlier detections
        _alert(2, n_forced=0, prvDiaSources=[]),  # empty array, not null
        dict(_alert(3), diaObject=snib_alerts[0]["diaObject"], prvDiaSources=[_alert()["diaSource"]] * 3),
        _alert(4, **{"diaSource.diaObjectId": None, "diaSource.filterName": "Yband"}),  # null long, long string
    ]
    msgs = [aio.encode_message(a) for a in alerts]
    ref = aio.to_arrow(aio.decode_messages(msgs))
    got = aio.decode_messages_arrow(msgs)
    assert got.type == ref.type and got.equals(ref)
    # a message it cannot read: the batch goes through fastavro, which names it
    with pytest.raises(InputError, match="batch message 2: does not decode"):
        aio.decode_messages_arrow(msgs[:2] + [b"\x02\x04not an alert"] + msgs[2:4], "batch")


def test_fast_broker_classification_encoder_matches_fastavro(clf, snib_alerts):
    recs = clf.classify(snib_alerts[:30])
    recs[1] = dict(recs[1], brokerIngestTimestamp=None, classifierName="é ünïcode")
    recs[2] = dict(recs[2], classifications=[{"classId": NOT_CLASSIFIED, "probability": 1.0}])
    assert aio.encode_broker_classifications(recs) == [aio.encode_message(r, "brokerClassification") for r in recs]
    back = [fastavro.schemaless_reader(io.BytesIO(m), OFFICIAL_BROKER_CLASSIFICATION) for m in clf.encode(recs)]
    assert [r["alertId"] for r in back] == [r["alertId"] for r in recs]


@pytest.mark.slow
def test_directory_of_messages_names_the_file_of_a_bad_alert(tmp_path, model):
    d = tmp_path / "msgs"
    d.mkdir()
    for k in (1, 2, 3):
        a = _alert(k, **({"prvDiaForcedSources.psFluxErr": -2.0} if k == 2 else {}))
        (d / f"{k}.avro-msg").write_bytes(aio.encode_message(a))
    r = cli("classify-alerts", model, d, tmp_path / "out.parquet", "--format", "parquet")
    assert r.returncode == 2
    assert "2.avro-msg: alertId 2: NaN or negative psFluxErr" in r.stderr, r.stderr
    r = cli("classify-alerts", model, d, tmp_path / "out.parquet", "--format", "parquet", "--skip-bad")
    assert r.returncode == 0, r.stderr
    assert pq.read_table(tmp_path / "out.parquet").column("alertId").to_pylist() == [1, 3]


def test_class_ids_from_a_taxonomy_file_for_a_model_without_them(root):
    from elasticc_classification.inference.alerts import leaf_class_ids

    spec = yaml.safe_load((root / "config/taxonomy.yaml").read_text())
    with_ids = Taxonomy.from_dict(spec)
    spec.pop("class_ids")
    without = Taxonomy.from_dict(spec)
    with pytest.raises(InputError, match="has no class_ids"):
        leaf_class_ids(without)
    assert leaf_class_ids(without, with_ids).tolist() == [ISSUE_LEAF_IDS[n] for n in without.leaf_names]
    other = Taxonomy.from_dict({"tree": {"R": ["A", "B"]}, "class_ids": {"A": 1, "B": 2}})
    with pytest.raises(InputError, match="does not have the model's nodes"):
        leaf_class_ids(without, other)


@pytest.mark.slow
def test_rule_alerts_simulate_writes_the_stream_when_configured(realdata, tmp_path):
    """`alerts: {simulate: true}` adds rule alerts_simulate over the converted chunks (on a Snakefile
    of the convert and alerts stages alone); off by default; classify adds alerts_classify."""
    import shutil

    raw = tmp_path / "raw" / "ELASTICC2_TRAIN_01_1percent_SNIb-Templates"
    raw.mkdir(parents=True)
    for k in (1, 2):
        for f in pair(realdata, SNIB, k):
            shutil.copy(f, raw / f.name)
    snakefile = stage_snakefile(tmp_path, "convert", "alerts")
    results = tmp_path / "results"
    off = run_workflow(tmp_path, results, raw.parent, "-n", "--snakefile", str(snakefile))
    assert off.returncode == 0, off.stderr[-3000:]
    counts = job_counts(off.stdout + off.stderr)
    assert counts.get("convert") == 2 and "alerts_simulate" not in counts, counts
    cfg = tmp_path / "alerts.yaml"
    cfg.write_text("alerts:\n  simulate: true\n  chunk_size: 20\n")
    r = run_workflow(tmp_path, results, raw.parent, "--snakefile", str(snakefile), "--configfile", str(cfg))
    assert r.returncode == 0, r.stderr[-3000:]
    files = sorted((results / "alerts" / "stream").glob("alerts_*.avro"))
    n = sum(1 for f in files for _ in fastavro.reader(open(f, "rb")))
    assert n == 28 + 8 and len(files) == 2  # the detections of chunks 0001 and 0002
    assert "36 alerts" in (results / "logs" / "alerts" / "simulate.log").read_text()


def test_vectorised_decoder_on_corrupted_bytes_agrees_with_fastavro(snib_alerts):
    """Random byte flips and truncations: the column-wise decoder gives fastavro's alerts or its error."""
    msgs = [aio.encode_message(a) for a in snib_alerts[:40]]
    rng = np.random.default_rng(1)
    for _ in range(40):
        bad = list(msgs)
        k = int(rng.integers(len(bad)))
        m = bytearray(bad[k])
        if rng.random() < 0.5:
            m[int(rng.integers(len(m)))] = int(rng.integers(256))
        else:
            m = m[: int(rng.integers(1, len(m)))]
        bad[k] = bytes(m)
        try:
            ref = aio.to_arrow(aio.decode_messages(bad))
        except InputError:
            with pytest.raises(InputError):
                aio.decode_messages_arrow(bad)
            continue
        assert aio.decode_messages_arrow(bad).equals(ref)
