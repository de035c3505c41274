"""Classify alerts with a trained model: marginal probability of every taxonomy node per object.

Input: a HEAD/PHOT FITS pair, a raw directory of chunk pairs, or a converted parquet. The
light curves go through the training feature code (``features.build_shard`` with
``require_labels=False``), so prediction and training see identical features.

Output (parquet, one row per input object, input order): ``SNID``; ``status`` (``"ok"`` or the
reason there is no answer); ``n_obs`` (observations the answer uses); one float64 column per
taxonomy node, named exactly as the node, holding its marginal probability (siblings sum to their
parent, the root is 1); ``pred_level_1`` … ``pred_level_<max depth>`` and ``pred_leaf`` (the most
probable node at that depth; once the prediction reaches a leaf above that depth, e.g. ``AGN``,
deeper levels repeat that leaf). With ``per_epoch`` there is one row per (object, observation):
``epoch`` (1-based number of observations seen) and ``mjd`` (time of the latest one) added.

An object with no usable observation (every observation removed by the preprocessing) gets
``status = "no usable observation"``, ``n_obs = 0``, NaN probabilities and null predictions: the
model is a sequence model and does not guess from static features alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from elasticc_classification.errors import InputError, atomic_output
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.inference.classifier import (
    Classifier,
    batched,
    batched_steps,
    learnt_prior,
    load_classifier,
    shift_prior,
    window_ends,
)
from elasticc_classification.io.snana import METADATA_KEY
from elasticc_classification.io.sources import sources

log = logging.getLogger(__name__)

NO_OBSERVATION = "no usable observation"
PRIORS = ("training", "published")


def published_prior(tax: Taxonomy, source: str = "<model>") -> np.ndarray:
    """The population prior per leaf (node order): the model taxonomy's ``prior``, or for a model
    trained before taxonomies carried one, the default taxonomy's when the leaves are the same."""
    prior = dict(tax.prior)
    if not prior:
        default = Taxonomy.load()
        if sorted(default.leaf_names) != sorted(tax.leaf_names):
            raise InputError(
                f"{source}: its taxonomy has no 'prior' and other leaves than the default one; "
                "add a 'prior' (relative numbers per leaf) to the taxonomy file and retrain, or use --prior training"
            )
        prior = dict(default.prior)
    return np.array([prior[tax.nodes[i]] for i in tax.leaves], np.float64)


def level_predictions(tax: Taxonomy, marg: np.ndarray) -> dict[str, np.ndarray]:
    """``pred_level_1`` … and ``pred_leaf`` (object arrays of node names; None where the row is NaN)."""
    ok = np.isfinite(marg).all(axis=1)
    is_leaf = np.zeros(tax.n_nodes, bool)
    is_leaf[tax.leaves] = True
    names = np.asarray(tax.nodes, dtype=object)
    out: dict[str, np.ndarray] = {}
    missing = np.full(len(marg), None, dtype=object)
    carried = np.full(len(marg), -1, np.int64)  # a leaf reached above the current depth
    safe = np.where(np.isfinite(marg), marg, -np.inf)
    for k in range(1, tax.max_depth + 1):
        nodes = tax.level_nodes(k)
        best = nodes[np.argmax(safe[:, nodes], axis=1)] if len(marg) else np.zeros(0, np.int64)
        pred = np.where(carried >= 0, carried, best)
        carried = np.where(is_leaf[pred], pred, np.int64(-1))
        out[f"pred_level_{k}"] = np.where(ok, names[pred], missing)
    leaf = tax.leaves[np.argmax(safe[:, tax.leaves], axis=1)] if len(marg) else np.zeros(0, np.int64)
    out["pred_leaf"] = np.where(ok, names[leaf], missing)
    return out


# --- prediction ----------------------------------------------------------------------------
def predict_table(
    clf: Classifier,
    table: pa.Table,
    days: float | None = None,
    per_epoch: bool = False,
    batch_size: int = 1024,
    source: str = "<table>",
    prior: np.ndarray | None = None,
) -> pa.Table:
    """Probabilities and predicted classes of every object of converted ``table`` (see module doc);
    ``prior`` (one weight per leaf, node order): the population the probabilities are for
    (:func:`~elasticc_classification.inference.classifier.shift_prior`; None: the model's own)."""
    if "SNID" not in table.column_names:
        raise InputError(f"{source}: no SNID column; is this a converted ELAsTiCC table?")
    shard = build_shard(table, clf.feature_cfg, clf.taxonomy, require_labels=False, source=source, assign_splits=False)
    if clf.feature_names is not None and list(shard.meta["feature_names"]) != list(clf.feature_names):
        raise InputError(
            f"{source}: features {shard.meta['feature_names']} differ from the model's {clf.feature_names}; "
            "this package version does not match the model: retrain or use the matching version"
        )
    tax = clf.taxonomy
    snid_in = table.column("SNID")
    n_in = table.num_rows
    shard_row = pc.index_in(snid_in.cast(pa.string()), value_set=pa.array(shard.snid.astype(str), pa.string()))
    shard_row = np.asarray(shard_row.fill_null(-1).to_numpy(), np.int64)
    missing = int((shard_row < 0).sum())
    if missing:
        log.info("%s: %d of %d objects have no usable observation (status %r)", source, missing, n_in, NO_OBSERVATION)
    has = shard_row >= 0
    ends = np.zeros(n_in, np.int64)
    ends_shard = window_ends(shard, days)
    ends[has] = ends_shard[shard_row[has]]
    if not per_epoch:
        marg = np.full((n_in, tax.n_nodes), np.nan)
        marg[has] = batched(clf.forward, shard, shard_row[has], ends[has], batch_size, tax.n_nodes)
        cols: dict[str, Any] = {"SNID": snid_in, "status": np.where(has, "ok", NO_OBSERVATION), "n_obs": ends}
    else:
        n_rows = np.where(has, ends, 1)  # an object with nothing to show still gets one row
        obj = np.repeat(np.arange(n_in), n_rows)
        epoch = np.arange(int(n_rows.sum())) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows) + 1
        ok = has[obj]
        rows = shard_row[obj]
        marg = np.full((len(obj), tax.n_nodes), np.nan)
        if clf.stepwise is not None:  # one pass per object: the output after every observation
            marg[ok] = batched_steps(clf.stepwise, shard, shard_row[has], ends[has], batch_size, tax.n_nodes)
        else:  # one pass per (object, prefix)
            marg[ok] = batched(clf.forward, shard, rows[ok], epoch[ok], batch_size, tax.n_nodes)
        mjd = np.full(len(obj), np.nan)
        mjd[ok] = shard.t0[rows[ok]] + shard.x[shard.offsets[rows[ok]] + epoch[ok] - 1, 0]
        cols = {
            "SNID": snid_in.take(pa.array(obj)),
            "status": np.where(ok, "ok", NO_OBSERVATION),
            "epoch": np.where(ok, epoch, 0),
            "mjd": mjd,
            "n_obs": np.where(ok, epoch, 0),
        }
    if prior is not None:
        marg = shift_prior(marg, tax, prior, learnt_prior(tax, clf.learnt))
    # every node's column a slice of one float64 array (one conversion, not one per node)
    n_out = len(marg)
    flat = pa.array(np.ascontiguousarray(marg.T).reshape(-1), pa.float64())
    for j, node in enumerate(tax.nodes):
        cols[node] = flat.slice(j * n_out, n_out)
    cols.update(level_predictions(tax, marg))
    types = {"status": pa.string(), "epoch": pa.int64(), "mjd": pa.float64(), "n_obs": pa.int64()}
    return pa.table(
        {
            k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, types.get(k, pa.string()))
            for k, v in cols.items()
        }
    )


def predict(
    model_path: str | Path,
    inputs: Sequence[str | Path],
    out: str | Path,
    days: float | None = None,
    per_epoch: bool = False,
    runtime: str = "torch",
    batch_size: int = 1024,
    prior: str = "training",
) -> pa.Table:
    """Classify every object of ``inputs`` (see :func:`~elasticc_classification.io.sources.sources`) and write one parquet ``out``.

    ``prior``: ``training`` (the model's probabilities: the balanced prior its loss taught) or
    ``published`` (the same evidence under the ELAsTiCC2 training set's class proportions, the
    taxonomy's ``prior``)."""
    if days is not None and not days >= 0:
        raise InputError(f"--days must be >= 0 days after the first detection, got {days}")
    if prior not in PRIORS:
        raise InputError(f"--prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if not inputs:
        raise InputError("no input given: give a HEAD/PHOT pair, a raw directory or parquet files")
    clf = load_classifier(model_path, runtime)
    target = None if prior == "training" else published_prior(clf.taxonomy, str(model_path))
    tables = sources(inputs)
    parts = [
        predict_table(clf, load(), days, per_epoch, batch_size, source=src, prior=target) for src, load in tables
    ]  # one table in memory at a time
    if len({p.schema.field("SNID").type for p in parts}) > 1:
        parts = [p.set_column(0, "SNID", p.column("SNID").cast(pa.string())) for p in parts]
    result = pa.concat_tables(parts)
    meta = {
        "model": str(model_path),
        "runtime": runtime,
        "days": days,
        "per_epoch": per_epoch,
        "prior": prior,
        "inputs": [s for s, _ in tables],
    }
    result = result.replace_schema_metadata({METADATA_KEY: json.dumps(meta)})
    with atomic_output(out, suffix=".parquet") as tmp:
        pq.write_table(result, tmp)
    n_ok = pc.sum(pc.equal(result.column("status"), "ok"), min_count=0).as_py()
    log.info("wrote %s: %d rows (%d with an answer) from %d input file(s)", out, result.num_rows, n_ok, len(tables))
    return result
