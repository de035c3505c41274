"""Tensor shards: one file per chunk holding preprocessed light curves, stored once.

A shard is an uncompressed Arrow IPC file, one row per kept object, memory-mappable
(reading is zero-copy: workers share the page cache instead of copying the data set):

=============  ==========================================  ====================================
column         Arrow type                                  meaning
=============  ==========================================  ====================================
SNID           string                                      object id (always a string here)
MODEL          string                                      SNANA model name
leaf           int16                                       taxonomy node index of the true leaf
split          int8                                        0 train, 1 validation, 2 test
t0             float64                                     MJD of the first kept observation
first_det      int32                                       index of the first detection in x
static         fixed_size_list<float32, S>                 static features, NaN = missing
x              list<fixed_size_list<float32, F>>           per-observation features, time order
=============  ==========================================  ====================================

Feature 0 of ``x`` is always the time since the first kept observation in days, so the
window "up to d days after the first detection" of object i is the observations with
``x[:, 0] <= x[first_det, 0] + d``. Names of the features, the taxonomy and the
preprocessing settings are in the schema metadata (key ``elasticc``, JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from elasticc_classification.errors import InputError, atomic_output

SPLITS = {"train": 0, "val": 1, "test": 2}
META_KEY = b"elasticc"
SHARD_FORMAT = 1


@dataclass
class Shard:
    """Light curves of many objects, ragged: object i owns ``x[offsets[i]:offsets[i+1]]``."""

    snid: np.ndarray  # (N,) str (object)
    model: np.ndarray  # (N,) str (object)
    leaf: np.ndarray  # (N,) int16
    split: np.ndarray  # (N,) int8
    t0: np.ndarray  # (N,) float64, MJD
    first_det: np.ndarray  # (N,) int32
    static: np.ndarray  # (N, S) float32
    x: np.ndarray  # (N_obs, F) float32
    offsets: np.ndarray  # (N + 1,) int64
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.leaf)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def light_curve(self, i: int) -> np.ndarray:
        return self.x[self.offsets[i] : self.offsets[i + 1]]


def write_shard(shard: Shard, path: str | Path) -> None:
    """Write ``shard`` to ``path`` atomically (temporary name, then rename)."""
    n, s = shard.static.shape if shard.static.ndim == 2 else (len(shard), 0)
    f = shard.x.shape[1]
    if len(shard.offsets) != n + 1 or shard.offsets[-1] != len(shard.x):
        raise ValueError("offsets do not match x / static")
    static = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(shard.static, np.float32).ravel()), s)
    obs = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(shard.x, np.float32).ravel()), f)
    x = pa.ListArray.from_arrays(pa.array(shard.offsets.astype(np.int32)), obs)
    meta = dict(shard.meta, format=SHARD_FORMAT)
    table = pa.table(
        {
            "SNID": pa.array(shard.snid.astype(str), pa.string()),
            "MODEL": pa.array(shard.model.astype(str), pa.string()),
            "leaf": pa.array(shard.leaf.astype(np.int16)),
            "split": pa.array(shard.split.astype(np.int8)),
            "t0": pa.array(shard.t0.astype(np.float64)),
            "first_det": pa.array(shard.first_det.astype(np.int32)),
            "static": static,
            "x": x,
        }
    ).replace_schema_metadata({META_KEY: json.dumps(meta)})
    with atomic_output(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=max(len(table), 1))


def _open(path: str | Path) -> tuple[ipc.RecordBatchFileReader, dict[str, Any]]:
    """The memory-mapped reader of a shard and its checked metadata."""
    try:
        reader = ipc.open_file(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: not a readable shard ({e}); rerun tensorize for it") from None
    meta = json.loads((reader.schema.metadata or {}).get(META_KEY, b"{}"))
    if meta.get("format") != SHARD_FORMAT:
        raise InputError(f"{path}: shard format {meta.get('format')} is not {SHARD_FORMAT}; rerun tensorize")
    return reader, meta


def read_shard_meta(path: str | Path) -> dict[str, Any]:
    """A shard's metadata (feature names, taxonomy, settings) without reading its data."""
    return _open(path)[1]


def read_shard(path: str | Path) -> Shard:
    """Memory-map a shard (zero-copy for x and static)."""
    reader, meta = _open(path)
    try:
        table = reader.read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: not a readable shard ({e}); rerun tensorize for it") from None
    f = len(meta["feature_names"])
    s = len(meta["static_names"])
    if table.num_rows == 0:
        x = np.zeros((0, f), np.float32)
        offsets = np.zeros(1, np.int64)
        static = np.zeros((0, s), np.float32)
    else:
        xcol = table.column("x").combine_chunks()
        offsets = xcol.offsets.to_numpy().astype(np.int64)
        flat = (
            xcol.values.values.to_numpy(zero_copy_only=False)
            if xcol.values.values.null_count
            else xcol.values.values.to_numpy()
        )
        x = flat.reshape(-1, f)[offsets[0] : offsets[-1]]
        offsets = offsets - offsets[0]
        st = table.column("static").combine_chunks()
        static = st.values.to_numpy().reshape(-1, s) if s else np.zeros((table.num_rows, 0), np.float32)
    return Shard(
        snid=table.column("SNID").to_numpy(zero_copy_only=False).astype(object),
        model=table.column("MODEL").to_numpy(zero_copy_only=False).astype(object),
        leaf=table.column("leaf").to_numpy(),
        split=table.column("split").to_numpy(),
        t0=table.column("t0").to_numpy(),
        first_det=table.column("first_det").to_numpy(),
        static=static,
        x=x,
        offsets=offsets,
        meta=meta,
    )


@dataclass
class ShardIndex:
    """Per-object labels of a shard without its observations or ids (11 bytes per object)."""

    leaf: np.ndarray  # (N,) int16
    split: np.ndarray  # (N,) int8
    lengths: np.ndarray  # (N,) int64, observations per object
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.leaf)


def read_shard_index(path: str | Path) -> ShardIndex:
    """A shard's leaf, split and light-curve length per object, and its metadata (copies of the
    three small columns of the memory-mapped file; neither ``x`` nor the ids are read)."""
    reader, meta = _open(path)
    try:
        table = reader.read_all()  # memory-mapped: zero-copy until a column is converted
        lengths = pc.list_value_length(table.column("x")).to_numpy().astype(np.int64)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: not a readable shard ({e}); rerun tensorize for it") from None
    return ShardIndex(
        leaf=table.column("leaf").to_numpy().astype(np.int16),
        split=table.column("split").to_numpy().astype(np.int8),
        lengths=lengths,
        meta=meta,
    )


def concat_shards(shards: Sequence[Shard]) -> Shard:
    """One shard holding all objects of ``shards`` (feature layouts must agree)."""
    if not shards:
        raise InputError("no shards given")
    ref = shards[0].meta
    for sh in shards[1:]:
        for key in ("feature_names", "static_names"):
            if sh.meta.get(key) != ref.get(key):
                raise InputError(f"shards disagree on {key}: rerun tensorize on every chunk with one config")
    lengths = np.concatenate([sh.lengths for sh in shards])
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Shard(
        snid=np.concatenate([sh.snid for sh in shards]),
        model=np.concatenate([sh.model for sh in shards]),
        leaf=np.concatenate([sh.leaf for sh in shards]),
        split=np.concatenate([sh.split for sh in shards]),
        t0=np.concatenate([sh.t0 for sh in shards]),
        first_det=np.concatenate([sh.first_det for sh in shards]),
        static=np.concatenate([sh.static for sh in shards]),
        x=np.concatenate([sh.x for sh in shards]),
        offsets=offsets,
        meta=dict(ref),
    )


# --- subsets and splits ----------------------------------------------------------------------
def subset(shard: Shard, keep: np.ndarray) -> Shard:
    """The objects ``keep`` of ``shard`` (copies their observations, vectorised)."""
    lengths = shard.lengths[keep]
    offsets = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    obs = np.repeat(shard.offsets[keep], lengths) + (np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths))
    return Shard(
        snid=shard.snid[keep],
        model=shard.model[keep],
        leaf=shard.leaf[keep],
        split=shard.split[keep],
        t0=shard.t0[keep],
        first_det=shard.first_det[keep],
        static=shard.static[keep],
        x=shard.x[obs],
        offsets=offsets,
        meta=dict(shard.meta),
    )


def gather(shard_paths: Sequence[str | Path], keeps: Sequence[np.ndarray]) -> Shard:
    """The objects ``keeps[i]`` (indices into shard ``shard_paths[i]``, in the order given) of every
    shard, in shard order, in one shard. Streamed: each memory-mapped shard's objects are taken with
    :func:`subset` and copied into arrays allocated once for all of them, so memory peaks at the kept
    objects plus one shard (its ids and its part of them), not at the shards, and not at twice the
    kept objects as :func:`concat_shards` of the parts would."""
    if not shard_paths:
        raise InputError("no shards given")
    if len(keeps) != len(shard_paths):
        raise ValueError(f"{len(keeps)} index arrays for {len(shard_paths)} shards")
    keeps = [np.asarray(k, np.int64) for k in keeps]
    n = sum(len(k) for k in keeps)
    n_obs = sum(int(read_shard_index(p).lengths[k].sum()) for p, k in zip(shard_paths, keeps))
    out: Shard | None = None
    i0 = o0 = 0
    for p, k in zip(shard_paths, keeps):
        part = subset(read_shard(p), k)
        if out is None:  # the layout (feature and static counts, dtypes) of the first shard
            out = Shard(
                snid=np.empty(n, object),
                model=np.empty(n, object),
                leaf=np.empty(n, part.leaf.dtype),
                split=np.empty(n, part.split.dtype),
                t0=np.empty(n, part.t0.dtype),
                first_det=np.empty(n, part.first_det.dtype),
                static=np.empty((n, part.static.shape[1]), part.static.dtype),
                x=np.empty((n_obs, part.x.shape[1]), part.x.dtype),
                offsets=np.zeros(n + 1, np.int64),
                meta=dict(part.meta),
            )
        for key in ("feature_names", "static_names"):
            if part.meta.get(key) != out.meta.get(key):
                raise InputError(f"shards disagree on {key}: rerun tensorize on every chunk with one config")
        i1, o1 = i0 + len(part), o0 + len(part.x)
        for name in ("snid", "model", "leaf", "split", "t0", "first_det", "static"):
            getattr(out, name)[i0:i1] = getattr(part, name)
        out.x[o0:o1] = part.x
        out.offsets[i0 + 1 : i1 + 1] = o0 + part.offsets[1:]
        i0, o0 = i1, o1
    assert out is not None
    return out


def _split_code(shard_paths: Sequence[str | Path], split: str) -> int:
    if split not in SPLITS:
        raise InputError(f"split {split!r} is not one of {list(SPLITS)}")
    if not shard_paths:
        raise InputError("no shard files given: run tensorize first")
    return SPLITS[split]


def split_leaves(shard_paths: Sequence[str | Path], split: str) -> np.ndarray:
    """True leaf (node index, -1 unknown) of every object of ``split``, in :func:`iter_split`'s order
    (2 bytes per object; the observations are not read)."""
    code = _split_code(shard_paths, split)
    parts = [ix.leaf[ix.split == code] for ix in map(read_shard_index, shard_paths)]
    return np.concatenate(parts).astype(np.int16, copy=False)


def iter_split(shard_paths: Sequence[str | Path], split: str, max_objects: int) -> Iterator[Shard]:
    """The objects of ``split`` in shard order, as shards of ``max_objects`` objects (the last one
    smaller; parts may span shard files): memory bounded by ``max_objects``, not by the split."""
    if max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    code = _split_code(shard_paths, split)
    pending: list[Shard] = []
    n_pending = 0
    for p in shard_paths:
        sh = read_shard(p)  # memory-mapped: only the selected objects are copied
        keep = np.flatnonzero(sh.split == code)
        start = 0
        while start < len(keep):  # fill the pending part up to max_objects
            take = keep[start : start + max_objects - n_pending]
            pending.append(subset(sh, take))
            n_pending += len(take)
            start += len(take)
            if n_pending == max_objects:
                yield pending[0] if len(pending) == 1 else concat_shards(pending)
                pending, n_pending = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else concat_shards(pending)
