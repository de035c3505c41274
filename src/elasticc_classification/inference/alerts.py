"""Broker mode: classify ELAsTiCC alert packets and answer with ``brokerClassification`` records.

Each alert becomes the object's light curve as known at that alert, in the table layout the
converter writes (HEAD columns as scalars, PHOT list columns MJD/BAND/PHOTFLAG/FLUXCAL/FLUXCALERR),
and goes through :func:`~elasticc_classification.inference.predict.predict_table` — the same
preprocessing, features and model code as ``predict`` and training:

* observations: the forced photometry (``prvDiaForcedSources``) and the detections (``prvDiaSources``
  and the triggering ``diaSource``), one per (time, band); an observation is a detection
  (PHOTFLAG 4096) when a diaSource was measured there, the earliest detection also gets the trigger
  bit 2048; fluxes in nJy become FLUXCAL (``psFlux * 10**((27.5 - 31.4) / 2.5)``); where a forced
  and a detected flux exist for one visit, the forced one is used (SNANA's PHOT is forced photometry);
* static features: ``diaObject`` fields under their HEAD names (:data:`~elasticc_classification.io.alerts.HEAD_FROM_DIAOBJECT`),
  RA/DEC from the diaObject (else the diaSource). See docs/alerts.md for the table.

Every alert carries its history, so alerts are classified independently: of one object or many,
in any order. :class:`AlertClassifier` is the broker API (load once, classify batches of decoded
dicts or raw schemaless messages); :func:`classify_alerts` is the ``classify-alerts`` command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_classification import __version__
from elasticc_classification.errors import InputError, atomic_output
from elasticc_classification.features.lightcurves import band_lut
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.classifier import Classifier, load_classifier
from elasticc_classification.inference.predict import NO_OBSERVATION, predict_table
from elasticc_classification.io import alerts as aio
from elasticc_classification.io.download import sha256sum

log = logging.getLogger(__name__)

NOT_CLASSIFIED = 300  # ELAsTiCC class id for "no answer"
BROKER_NAME = "ELAsTiCC-Classification"
FORMATS = ("avro", "parquet")


@dataclass
class AlertBatch:
    """Alerts turned into a converted-table layout: ``table`` (one row per good alert, SNID = row),
    the ids of those alerts, and the alerts rejected as bad input with their reasons."""

    table: pa.Table
    alert_id: np.ndarray  # (n,) int64
    dia_object_id: np.ndarray  # (n,) int64 (-1 where unknown)
    dia_source_id: np.ndarray  # (n,) int64
    mjd: np.ndarray  # (n,) float64: midPointTai of the triggering diaSource
    good: np.ndarray  # (N,) bool over the input alerts
    bad: list[tuple[int, str]] = field(default_factory=list)  # (input position, reason)


# --- alerts -> light curves -----------------------------------------------------------------
def _field(arr: pa.StructArray, name: str) -> pa.Array:
    return arr.field(name)


_SOURCE_FIELDS = ("diaSourceId", "diaObjectId", "midPointTai", "psFlux", "psFluxErr", "filterName", "ra", "decl")


def _fields(arr: pa.StructArray, names: Sequence[str]) -> dict[str, pa.Array]:
    """Fields ``names`` of a struct array (nulls where the struct is null, as ``flatten`` gives);
    only those: an alert's structs have dozens of fields."""
    if arr.null_count:
        return dict(zip([x.name for x in arr.type], arr.flatten()))
    return {k: arr.field(k) for k in names if arr.type.get_field_index(k) >= 0}


def _list_parts(col: pa.Array) -> tuple[np.ndarray, pa.StructArray]:
    """Counts per row (null lists: 0) and the flat struct values of a list<struct> column."""
    if col.null_count:
        col = pc.fill_null(col, pa.scalar([], col.type))
    offs = col.offsets.to_numpy().astype(np.int64)
    vals = col.values.slice(int(offs[0]), int(offs[-1] - offs[0]))
    return np.diff(offs), vals


def _f64(a: pa.Array) -> np.ndarray:
    """float64 numpy copy of a numeric array, nulls NaN (integer/float types without a cast kernel)."""
    if pa.types.is_floating(a.type) or pa.types.is_integer(a.type):
        return np.array(a.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls: NaN, as the cast gives
    return np.array(pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _i64(a: pa.Array, fill: int = -1) -> np.ndarray:
    """int64 numpy array of an integer array, nulls ``fill``."""
    if a.null_count:
        a = pc.fill_null(a, fill)
    return np.asarray(a.to_numpy(zero_copy_only=False), np.int64)


def _band_index(names: pa.Array) -> np.ndarray:
    """Band index (u g r i z Y = 0..5, -1 unknown or null) of every filterName."""
    code, lut, _, _ = band_lut(names)
    return lut[code] if len(code) else np.zeros(0, np.int8)


_FILTER_DICT = pa.array(aio.FILTERS, pa.string())


def alerts_to_table(
    alerts: pa.StructArray, source: str = "<alerts>", columns: Collection[str] | None = None
) -> AlertBatch:
    """Light curves and static columns of every alert (see the module doc); bad alerts (no
    diaSource, NaN or negative flux errors, unknown filter names) are listed in ``bad``, not raised.
    ``columns``: the HEAD columns to fill (default: every mapped one; RA and DEC always).
    Vectorised over the batch: no Python loop over alerts or observations."""
    n = len(alerts)
    alert_id = _i64(_field(alerts, "alertId"))
    src = _field(alerts, "diaSource")
    s = _fields(src, _SOURCE_FIELDS)
    # a null diaSource, or (parquet of non-nullable structs) one without id or time
    has_src = np.ones(n, bool)
    for a in (src, s["diaSourceId"], s["midPointTai"]):
        if a.null_count:
            has_src &= ~np.asarray(a.is_null().to_numpy(zero_copy_only=False), bool)
    f_cnt, forced = _list_parts(_field(alerts, "prvDiaForcedSources"))
    p_cnt, prv = _list_parts(_field(alerts, "prvDiaSources"))
    f = _fields(forced, _SOURCE_FIELDS[2:6])
    p = _fields(prv, _SOURCE_FIELDS[2:6])

    # every observation: forced (priority 0), earlier detections (1), the triggering detection (1)
    row = np.concatenate([np.repeat(np.arange(n), f_cnt), np.repeat(np.arange(n), p_cnt), np.arange(n)])
    src_mjd = _f64(s["midPointTai"])
    mjd = np.concatenate([_f64(f["midPointTai"]), _f64(p["midPointTai"]), src_mjd])
    flux = np.concatenate([_f64(f["psFlux"]), _f64(p["psFlux"]), _f64(s["psFlux"])])
    err = np.concatenate([_f64(f["psFluxErr"]), _f64(p["psFluxErr"]), _f64(s["psFluxErr"])])
    names = [f["filterName"], p["filterName"], s["filterName"]]
    if len({a.type for a in names}) == 1:  # one dictionary encoding for the three
        band = _band_index(pa.concat_arrays(names))
    else:
        band = np.concatenate([_band_index(a) for a in names])
    is_det = np.concatenate([np.zeros(len(f["psFlux"]), bool), np.ones(len(p["psFlux"]) + n, bool)])
    is_trigger = np.zeros(len(row), bool)
    is_trigger[len(row) - n :] = True

    # bad input, per alert
    reasons: dict[int, str] = {}
    for k in np.flatnonzero(~has_src):
        reasons[int(k)] = "no diaSource"
    live = has_src[row]
    checks = [
        (band < 0, "unknown filterName (not u g r i z Y)"),
        (~(err >= 0), "NaN or negative psFluxErr"),
        (~np.isfinite(mjd), "non-finite midPointTai"),
    ]
    for bad_obs, why in checks:
        for k in np.unique(row[bad_obs & live]):
            reasons.setdefault(int(k), why)
    good = np.ones(n, bool)
    good[list(reasons)] = False
    # non-finite psFlux: dropped by the preprocessing as in training (an alert whose detections all
    # have one gets no answer), not an error
    keep = good[row] & np.isfinite(mjd)

    row, mjd, flux, err, band, is_det, is_trigger = (a[keep] for a in (row, mjd, flux, err, band, is_det, is_trigger))
    # one observation per (alert, time, band): forced values first, detection if any source says so
    order = np.lexsort((is_det, band, mjd, row))
    row, mjd, flux, err, band, is_det, is_trigger = (a[order] for a in (row, mjd, flux, err, band, is_det, is_trigger))
    new = np.ones(len(row), bool)
    new[1:] = (row[1:] != row[:-1]) | (mjd[1:] != mjd[:-1]) | (band[1:] != band[:-1])
    starts = np.flatnonzero(new)
    det = np.maximum.reduceat(is_det, starts) if len(starts) else np.zeros(0, bool)
    row, mjd, flux, err, band = row[starts], mjd[starts], flux[starts], err[starts], band[starts]
    flag = np.where(det, aio.DETECTION_BIT, 0).astype(np.int32)
    # trigger bit on the first detection of each alert's light curve
    det_pos = np.flatnonzero(det)
    if len(det_pos):
        first = det_pos[np.r_[True, row[det_pos[1:]] != row[det_pos[:-1]]]]
        flag[first] |= aio.TRIGGER_BIT

    goods = np.flatnonzero(good)
    remap = np.full(n, -1, np.int64)
    remap[goods] = np.arange(len(goods))
    counts = np.bincount(remap[row], minlength=len(goods)) if len(row) else np.zeros(len(goods), np.int64)
    offsets = np.zeros(len(goods) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    off = pa.array(offsets, pa.int32())
    # BAND dictionary-encoded (as read_parquet gives it): no strings per observation
    bands = pa.DictionaryArray.from_arrays(pa.array(band, pa.int8()), _FILTER_DICT)
    cols: dict[str, pa.Array] = {"SNID": pa.array(np.arange(len(goods), dtype=np.int64))}
    cols["MJD"] = pa.ListArray.from_arrays(off, pa.array(mjd, pa.float64()))
    cols["BAND"] = pa.ListArray.from_arrays(off, bands)
    cols["PHOTFLAG"] = pa.ListArray.from_arrays(off, pa.array(flag, pa.int32()))
    cols["FLUXCAL"] = pa.ListArray.from_arrays(off, pa.array((flux * aio.NJY_TO_FLUXCAL).astype(np.float32)))
    cols["FLUXCALERR"] = pa.ListArray.from_arrays(off, pa.array((err * aio.NJY_TO_FLUXCAL).astype(np.float32)))

    # static columns from the diaObject (RA/DEC from the diaSource where there is none)
    # (fields converted straight to numpy over all alerts, then the good rows picked: no Arrow take)
    all_good = len(goods) == n
    obj = _field(alerts, "diaObject")
    obj_null = np.asarray(obj.is_null().to_numpy(zero_copy_only=False), bool) if obj.null_count else np.zeros(n, bool)
    for name, head in aio.HEAD_FROM_DIAOBJECT.items():
        if name == "diaObjectId" or (columns is not None and head not in columns and name not in ("ra", "decl")):
            continue
        vals = _f64(obj.field(name))  # only the fields asked for (of ~100); null objects: obj_null below
        vals[obj_null] = np.nan
        if name in ("ra", "decl"):
            vals = np.where(np.isnan(vals), _f64(s[name]), vals)
        vals = vals if all_good else vals[goods]
        cols[head] = pa.array(vals if name in ("ra", "decl") else vals.astype(np.float32))
    obj_id = _i64(obj.field("diaObjectId"))
    obj_id = np.where(obj_null | (obj_id < 0), _i64(s["diaObjectId"]), obj_id)[goods]
    src_id = _i64(s["diaSourceId"])[goods]
    trig_mjd = src_mjd[goods]
    bad = sorted(reasons.items())
    return AlertBatch(pa.table(cols), alert_id[goods], obj_id, src_id, trig_mjd, good, bad)


# --- classification ------------------------------------------------------------------------
def leaf_class_ids(tax: Taxonomy, fallback: Taxonomy | None = None) -> np.ndarray:
    """ELAsTiCC class id of every leaf of ``tax`` (leaf order); taken from ``fallback`` (a taxonomy
    file with the same nodes) when the model's own taxonomy carries none."""
    if not tax.class_ids and fallback is not None:
        if tuple(fallback.nodes) != tuple(tax.nodes):
            raise InputError(
                "the taxonomy given for class ids does not have the model's nodes "
                f"({list(fallback.nodes)[:4]}... vs {list(tax.nodes)[:4]}...); give the model's own taxonomy file"
            )
        tax = fallback
    return tax.leaf_class_ids()


class AlertClassifier:
    """Load a model once; classify batches of ELAsTiCC alerts into brokerClassification records.

    ``alerts``: decoded alert dicts (what fastavro yields), raw schemaless message bytes, a table
    of alert records, or an Arrow struct array. ``runtime``: ``onnx`` (onnxruntime; a ``.onnx`` file
    or a checkpoint exported on load) or ``torch``. ``taxonomy``: a taxonomy file with class ids,
    for a model whose stored taxonomy has none.
    """

    def __init__(
        self,
        model_path: str | Path,
        runtime: str = "onnx",
        broker_name: str = BROKER_NAME,
        broker_version: str = __version__,
        classifier_name: str | None = None,
        classifier_params: str | None = None,
        taxonomy: str | Path | None = None,
        batch_size: int = 1024,
    ) -> None:
        self.model_path = Path(model_path)
        self.classifier: Classifier = load_classifier(model_path, runtime)
        self.taxonomy = self.classifier.taxonomy
        self.batch_size = batch_size
        self._class_ids: np.ndarray | None = None
        self._class_error: InputError | None = None
        try:
            self._class_ids = leaf_class_ids(self.taxonomy, Taxonomy.load(taxonomy) if taxonomy else None)
        except InputError as e:  # only fatal when brokerClassification records are asked for
            self._class_error = e
        # per-model constants, looked up once rather than at every (one-alert) call
        self._class_id_list: list[int] = [] if self._class_ids is None else self._class_ids.tolist()
        self._leaf_names: list[str] = list(self.taxonomy.leaf_names)
        static = self.classifier.feature_cfg.get("static")
        self._static_columns: list[str] | None = None if static is None else list(static)
        digest = sha256sum(self.model_path)
        self.broker_name = broker_name
        self.broker_version = broker_version
        self.classifier_name = classifier_name or f"elasticc-classification {__version__} hierarchical RNN"
        self.classifier_params = classifier_params or (
            f"model={self.model_path.name} sha256={digest[:16]} runtime={self.classifier.runtime}"
        )

    @property
    def class_ids(self) -> np.ndarray:
        """ELAsTiCC class ids of the taxonomy's leaves (:class:`InputError` when it has none)."""
        if self._class_ids is None:
            assert self._class_error is not None
            raise self._class_error
        return self._class_ids

    # -- probabilities ---------------------------------------------------------------------
    def probabilities(
        self,
        alerts: Any,
        source: str = "<alerts>",
        skip_bad: bool = False,
        sources: Sequence[str] | None = None,
    ) -> tuple[pa.Table, list[tuple[int, str]]]:
        """``predict``'s columns (every node's probability, ``pred_*``, ``status``, ``n_obs``) keyed
        by ``alertId``, ``diaObjectId``, ``diaSourceId`` plus ``midPointTai``, one row per good
        alert in input order, and the bad alerts ``(position, reason)``. Bad alerts raise
        :class:`InputError` (naming ``source``, or ``sources[k]`` for alert k, and the alertId)
        unless ``skip_bad``."""
        arr = self._as_arrow(alerts, source, skip_bad)
        batch = alerts_to_table(arr, source, self._static_columns)
        if batch.bad:
            ids = arr.field("alertId")
            k, why = batch.bad[0]
            where = sources[k] if sources is not None else source
            if not skip_bad:
                raise InputError(
                    f"{where}: alertId {ids[k].as_py()}: {why}"
                    + (f" (and {len(batch.bad) - 1} more bad alerts)" if len(batch.bad) > 1 else "")
                    + "; fix the input or use --skip-bad"
                )
            log.warning(
                "%s: %d bad alerts skipped (first: alertId %s: %s)", source, len(batch.bad), ids[k].as_py(), why
            )
        out = predict_table(self.classifier, batch.table, batch_size=self.batch_size, source=source)
        no_obs = np.flatnonzero(np.asarray(pc.equal(out.column("status"), NO_OBSERVATION).to_numpy(False), bool))
        for k in no_obs[:5]:
            log.warning(
                "%s: alertId %d: no usable observation (every observation non-finite): NotClassified",
                source,
                batch.alert_id[k],
            )
        if len(no_obs) > 5:
            log.warning("%s: %d alerts in all had no usable observation", source, len(no_obs))
        keys = {
            "alertId": pa.array(batch.alert_id),
            "diaObjectId": pa.array(batch.dia_object_id),
            "diaSourceId": pa.array(batch.dia_source_id),
            "midPointTai": pa.array(batch.mjd),
        }
        rest = out.drop_columns(["SNID"])
        table = pa.Table.from_arrays([*keys.values(), *rest.columns], names=[*keys, *rest.column_names])
        return table, batch.bad

    def _as_arrow(self, alerts: Any, source: str, skip_bad: bool) -> pa.StructArray:
        if isinstance(alerts, (pa.StructArray, pa.Table)):
            return aio.to_arrow(alerts, source)
        alerts = list(alerts)
        if alerts and isinstance(alerts[0], (bytes, bytearray, memoryview)):
            msgs = [bytes(m) for m in alerts]
            try:
                return aio.decode_messages_arrow(msgs, source)
            except InputError:
                if not skip_bad:
                    raise
            decoded = []
            for k, m in enumerate(msgs):
                try:
                    decoded.append(aio.decode_message(m, f"{source} message {k}"))
                except InputError as e:
                    log.warning("skipped: %s", e)
            alerts = decoded
        return aio.to_arrow(alerts, source)

    # -- brokerClassification ------------------------------------------------------------
    def records(
        self,
        probs: pa.Table,
        publish_ms: np.ndarray | int | None = None,
        ingest_ms: np.ndarray | int | None = None,
    ) -> list[dict]:
        """brokerClassification dicts from :meth:`probabilities`'s table: the leaf probabilities
        under ELAsTiCC class ids (float32, renormalised to sum to 1); NotClassified (300, 1.0)
        where there is no answer. Timestamps in ms since the Unix epoch (default: now)."""
        _ = self.class_ids  # raises when the taxonomy has none
        ids = self._class_id_list
        n = probs.num_rows
        now = int(time.time() * 1000)
        ingest = np.broadcast_to(np.asarray(now if ingest_ms is None else ingest_ms, np.int64), (n,))
        publish = np.broadcast_to(np.asarray(ingest if publish_ms is None else publish_ms, np.int64), (n,))
        leaves = np.stack([probs.column(name).to_numpy() for name in self._leaf_names], axis=1)
        ok = np.isfinite(leaves).all(axis=1)
        p = np.where(ok[:, None], leaves, 0.0)
        p = (p / np.where(ok, p.sum(axis=1), 1.0)[:, None]).astype(np.float32).tolist()
        alert_id = probs.column("alertId").to_pylist()
        source_id = probs.column("diaSourceId").to_pylist()
        base = {
            "brokerName": self.broker_name,
            "brokerVersion": self.broker_version,
            "classifierName": self.classifier_name,
            "classifierParams": self.classifier_params,
        }
        out = []
        for k in range(n):
            cls = [{"classId": c, "probability": q} for c, q in zip(ids, p[k])] if ok[k] else None
            out.append(
                {
                    "alertId": alert_id[k],
                    "diaSourceId": source_id[k],
                    "elasticcPublishTimestamp": int(publish[k]),
                    "brokerIngestTimestamp": int(ingest[k]),
                    **base,
                    "classifications": cls or [{"classId": NOT_CLASSIFIED, "probability": 1.0}],
                }
            )
        return out

    def classify(
        self,
        alerts: Any,
        publish_ms: Sequence[int] | int | None = None,
        skip_bad: bool = False,
        source: str = "<alerts>",
    ) -> list[dict]:
        """brokerClassification dicts, one per (good) alert, in input order. ``publish_ms``: the
        ELAsTiCC publish time of each alert (e.g. the Kafka message timestamp), default the ingest time."""
        _ = self.class_ids  # fail before any work when the taxonomy has no class ids
        ingest = int(time.time() * 1000)
        probs, bad = self.probabilities(alerts, source, skip_bad)
        pub = None
        if publish_ms is not None:
            pub = np.asarray(publish_ms, np.int64)
            if pub.ndim and bad:
                keep = np.ones(len(pub), bool)
                keep[[k for k, _ in bad]] = False
                pub = pub[keep]
        return self.records(probs, pub, ingest)

    def encode(self, records: Sequence[dict]) -> list[bytes]:
        """brokerClassification records as schemaless messages (the value of a Kafka message)."""
        return aio.encode_broker_classifications(records)


# --- the command ---------------------------------------------------------------------------
def classify_alerts(
    model_path: str | Path,
    inputs: Sequence[str | Path],
    out: str | Path,
    runtime: str = "torch",
    fmt: str = "avro",
    skip_bad: bool = False,
    batch_size: int = 1024,
    taxonomy: str | Path | None = None,
    **names: Any,
) -> int:
    """Classify every alert of ``inputs`` into ``out``: an Avro container file of brokerClassification
    records (``fmt="avro"``) or a parquet of ``predict``'s columns keyed by alert (``"parquet"``).
    Everything is read and checked before ``out`` is written (atomically). Returns the number of rows."""
    import fastavro
    import pyarrow.parquet as pq

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r} is not one of {list(FORMATS)}")
    if not inputs:
        raise InputError("no input given: give Avro alert files, directories of them, or parquet files")
    clf = AlertClassifier(model_path, runtime, taxonomy=taxonomy, batch_size=batch_size, **names)
    if fmt == "avro":
        _ = clf.class_ids
    files = aio.alert_files(inputs)
    n_rows = n_bad = 0
    ingest = int(time.time() * 1000)
    parts: list[pa.Table] = []
    records: list[dict] = []
    pending: list[tuple[Path, bytes]] = []  # schemaless message files, classified in batches

    def add(alerts: Any, source: str, sources: Sequence[str] | None = None) -> None:
        nonlocal n_rows, n_bad
        probs, bad = clf.probabilities(alerts, source, skip_bad, sources)
        n_bad += len(bad)
        n_rows += probs.num_rows
        if fmt == "avro":
            records.extend(clf.records(probs, None, ingest))
        else:
            parts.append(probs)

    def flush() -> None:
        nonlocal n_bad
        good = pending
        try:
            arr = aio.decode_messages_arrow([b for _, b in pending], f"{pending[0][0].parent} (messages)")
        except InputError:  # find the culprits, named by file
            good = []
            for path, data in pending:
                try:
                    aio.decode_message(data, str(path))
                    good.append((path, data))
                except InputError as e:
                    if not skip_bad:
                        raise
                    n_bad += 1
                    log.warning("skipped: %s", e)
            arr = aio.decode_messages_arrow([b for _, b in good])
        if good:
            add(arr, f"{good[0][0].parent} (messages)", [str(p) for p, _ in good])
        pending.clear()

    for f in files:
        try:
            if not f.name.lower().endswith(".parquet"):
                data = aio.read_bytes(f)
                if data[:4] != aio.AVRO_MAGIC:
                    pending.append((f, data))
                    if len(pending) >= batch_size:
                        flush()
                    continue
                alerts = aio.to_arrow(aio.decode_container(data, str(f)), str(f))
            else:
                alerts = aio.to_arrow(aio.read_file(f), str(f))
        except InputError as e:
            if not skip_bad:
                raise
            n_bad += 1
            log.warning("skipped: %s", e)
            continue
        add(alerts, str(f))
    if pending:
        flush()
    if fmt == "avro":
        with atomic_output(out, suffix=".avro") as tmp, open(tmp, "wb") as fo:
            fastavro.writer(fo, aio.schema("brokerClassification"), records, codec="deflate")
    else:
        table = pa.concat_tables(parts) if parts else None
        if table is None:
            raise InputError("no good alert in the input: nothing to write")
        with atomic_output(out, suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
    log.info(
        "wrote %s: %d classified alerts from %d files%s",
        out,
        n_rows,
        len(files),
        f"; {n_bad} bad alerts or files skipped" if n_bad else "",
    )
    return n_rows
