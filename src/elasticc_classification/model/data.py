"""Training data: shards -> length-bucketed batches of windows assembled on the compute device.

Only the objects training uses are loaded: each shard is memory-mapped and subset to its
training objects (after the per-leaf cap) and validation objects before they are gathered, so
the test split, the objects over the cap and the unlabelled ones are never copied, and memory
(host and device) grows with the kept objects, not with the sample. They stay whole (on the GPU
when training there); a batch is only the object indices and the window lengths (drawn on the CPU by :mod:`.augment`, vectorised), and
:func:`collate` gathers the padded windows with index arithmetic on the device. There are no
DataLoader workers and no per-object Python: the loader yields a few small integer arrays.

Batches are bucketed: each epoch the (capped) training objects are shuffled, their windows
drawn, groups of ``bucket_batches`` batches sorted by window length and cut into batches, and
the batch order shuffled again, so a batch is padded only to its own maximum, and the model runs
it padded: on CPUs packed LSTMs are over ten times slower, and on an H100 padded training batches
ran 1.25x faster than packed ones (docs/train.md). On CPUs tail batches padded more than
``max_padding`` are halved. Validation uses fixed truncations (every
validation object at each of ``val_days`` days after its first detection), so the validation
loss is comparable between epochs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features import augment
from elasticc_classification.features.shards import SPLITS, Shard, gather, read_shard_index, subset
from elasticc_classification.features.taxonomy import Taxonomy
from elasticc_classification.model.loss import node_weights

log = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    """Everything the model and the loaders need from the shards (CPU numpy)."""

    data: Shard  # the training and validation objects of all shards, in shard order (nothing else)
    train_idx: np.ndarray  # (N_train,) objects of ``data`` used for training (capped per leaf), sorted
    val_idx: np.ndarray  # (N_val,) validation objects of ``data``, sorted
    x_mean: np.ndarray  # (F,)
    x_std: np.ndarray
    static_mean: np.ndarray  # (S,)
    static_std: np.ndarray
    node_weight: np.ndarray  # (n_nodes,) W_c
    leaf_counts: np.ndarray  # (n_nodes,) training objects per true leaf
    provenance: dict[str, Any]


def _sample_rows(offsets: np.ndarray, idx: np.ndarray, n_max: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n_max`` observation rows drawn uniformly from the light curves of objects ``idx``."""
    lengths = offsets[idx + 1] - offsets[idx]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    k = np.sort(rng.choice(total, size=min(n_max, total), replace=False)) if total > n_max else np.arange(total)
    cum = np.cumsum(lengths)
    obj = np.searchsorted(cum, k, side="right")
    return offsets[idx[obj]] + k - (cum[obj] - lengths[obj])


def cap_per_leaf(idx: np.ndarray, leaf: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """A seeded random subset of ``idx`` with at most ``cap`` objects per leaf (sorted)."""
    if cap is None or len(idx) == 0:
        return np.sort(idx)
    perm = rng.permutation(idx)
    lf = leaf[perm]
    order = np.argsort(lf, kind="stable")
    sl = lf[order]
    first = np.searchsorted(sl, sl, side="left")
    rank = np.arange(len(sl)) - first
    return np.sort(perm[order[rank < cap]])


@dataclass
class _Selection:
    """The objects training uses, as indices into the whole sample (all shards in order)."""

    train_idx: np.ndarray  # capped per leaf, sorted
    val_idx: np.ndarray  # sorted
    n_train_all: int  # usable training objects before the cap
    n_unlabelled: int
    rng: np.random.Generator  # the seeded generator, after the selection (normalisation draws next)


def _select(
    leaf: np.ndarray, split: np.ndarray, lengths: np.ndarray, taxonomy: Taxonomy, cfg: Mapping[str, Any], n_shards: int
) -> _Selection:
    """Choose the training (capped per leaf, seeded) and validation objects from the per-object
    labels of the whole sample (a few bytes per object; the observations are not needed)."""
    n = len(leaf)
    leaf = leaf.astype(np.int64)
    is_leaf = np.zeros(taxonomy.n_nodes, bool)
    is_leaf[taxonomy.leaves] = True
    labelled = (leaf >= 0) & (leaf < taxonomy.n_nodes)
    labelled[labelled] = is_leaf[leaf[labelled]]
    n_unlabelled = int((~labelled).sum())
    if n_unlabelled:
        log.info("dropped %d of %d objects without a taxonomy leaf label", n_unlabelled, n)
    usable = labelled & (lengths > 0)
    if int((labelled & (lengths == 0)).sum()):
        log.info("dropped %d objects with an empty light curve", int((labelled & (lengths == 0)).sum()))
    rng = np.random.default_rng(int(cfg["seed"]))
    train_all = np.flatnonzero(usable & (split == SPLITS["train"]))
    val_idx = np.flatnonzero(usable & (split == SPLITS["val"]))
    if len(train_all) == 0:
        raise InputError(
            f"no labelled training objects (split 0) in {max(1, n_shards)} shard(s): check the tensorize split fractions"
        )
    if len(val_idx) == 0:  # tiny samples: borrow a seeded tenth of the training objects
        if len(train_all) < 2:
            raise InputError(
                f"no labelled validation objects (split 1) and {len(train_all)} training object(s) in "
                f"{max(1, n_shards)} shard(s): raise tensorize.val_fraction or add data"
            )
        k = max(1, len(train_all) // 10)
        val_idx = np.sort(rng.choice(train_all, k, replace=False))
        train_all = np.setdiff1d(train_all, val_idx)
        log.warning(
            "no validation objects (split 1) in the shards: validating on %d of the training objects instead", k
        )
    cap = cfg["max_per_leaf"]
    train_idx = cap_per_leaf(train_all, leaf, None if cap is None else int(cap), rng)
    if len(train_idx) < len(train_all):
        log.info("capped training objects at %s per leaf: %d -> %d", cap, len(train_all), len(train_idx))
    return _Selection(train_idx, val_idx, len(train_all), n_unlabelled, rng)


def load_training_set(
    paths: Sequence[str | Path], taxonomy: Taxonomy, cfg: Mapping[str, Any] | None = None
) -> TrainingSet:
    """Read and check the shards, cap the training split per leaf, load the training and validation
    objects only, compute normalisation and node weights on the training split. Streamed: the
    labels of every object are read first (11 bytes per object), then each memory-mapped shard's
    kept objects are copied (:func:`~elasticc_classification.features.shards.gather`), so memory is
    the kept objects plus one shard, not the sample. Raises :class:`InputError` for unusable input."""
    cfg = config.resolve("train", cfg)
    if not paths:
        raise InputError("no shard files given: run the tensorize step first")
    index = [read_shard_index(p) for p in paths]
    for p, ix in zip(paths, index):
        tx = ix.meta.get("taxonomy")
        if tx is not None and tuple(Taxonomy.from_dict(tx, str(p)).nodes) != taxonomy.nodes:
            raise InputError(
                f"{p}: shard was labelled with another taxonomy than the one given; rerun tensorize with it"
            )
    sel = _select(
        np.concatenate([ix.leaf for ix in index]),
        np.concatenate([ix.split for ix in index]),
        np.concatenate([ix.lengths for ix in index]),
        taxonomy,
        cfg,
        len(paths),
    )
    keep = np.union1d(sel.train_idx, sel.val_idx)  # sorted: the sample's order, per shard
    bounds = np.cumsum([0] + [len(ix) for ix in index])
    cut = np.searchsorted(keep, bounds)
    data = gather(paths, [keep[a:b] - lo for a, b, lo in zip(cut[:-1], cut[1:], bounds[:-1])])
    return _training_set(data, keep, sel, int(bounds[-1]), taxonomy, cfg, paths)


def training_set_from_shard(
    data: Shard, taxonomy: Taxonomy, cfg: Mapping[str, Any] | None = None, paths: Sequence[str | Path] = ()
) -> TrainingSet:
    """:func:`load_training_set` on an in-memory shard (``paths`` only for provenance); the
    training set holds a copy of its training and validation objects."""
    cfg = config.resolve("train", cfg)
    sel = _select(data.leaf, data.split, data.lengths, taxonomy, cfg, len(paths))
    keep = np.union1d(sel.train_idx, sel.val_idx)
    return _training_set(subset(data, keep), keep, sel, len(data), taxonomy, cfg, paths)


def _training_set(
    data: Shard,
    keep: np.ndarray,
    sel: _Selection,
    n: int,
    taxonomy: Taxonomy,
    cfg: Mapping[str, Any],
    paths: Sequence[str | Path],
) -> TrainingSet:
    """The training set on ``data``, the objects ``keep`` (sorted indices into the sample of ``n``
    objects) of the sample: normalisation (training observations drawn with the selection's
    generator), node weights, provenance."""
    train_idx = np.searchsorted(keep, sel.train_idx)  # the same objects in the same order, renumbered
    val_idx = np.searchsorted(keep, sel.val_idx)
    leaf = data.leaf.astype(np.int64)
    leaf_counts = np.bincount(leaf[train_idx], minlength=taxonomy.n_nodes)
    w = node_weights(leaf_counts, taxonomy)

    # the same observations as drawn on the whole sample: the kept light curves keep their lengths and order
    rows = _sample_rows(data.offsets, train_idx, 2_000_000, sel.rng)
    xs = data.x[rows].astype(np.float64)
    x_mean, x_std = xs.mean(0), xs.std(0)
    st = data.static[train_idx].astype(np.float64)
    with warnings.catch_warnings():  # all-NaN columns give NaN, replaced in the model
        warnings.simplefilter("ignore", RuntimeWarning)
        s_mean, s_std = np.nanmean(st, 0), np.nanstd(st, 0)
    cap = cfg["max_per_leaf"]
    provenance = {
        "shards": [str(Path(p).resolve()) for p in paths],
        "shard_bytes": [Path(p).stat().st_size for p in paths],
        "objects": n,
        "objects_loaded": int(len(data)),
        "objects_train_total": sel.n_train_all,
        "objects_train_used": int(len(train_idx)),
        "objects_val": int(len(val_idx)),
        "objects_unlabelled": sel.n_unlabelled,
        "max_per_leaf": cap,
        "train_leaf_counts": {taxonomy.nodes[i]: int(leaf_counts[i]) for i in taxonomy.leaves},
    }
    log.info(
        "training set: %d objects in %d shard(s); %d train (of %d), %d validation loaded",
        n,
        max(1, len(paths)),
        len(train_idx),
        sel.n_train_all,
        len(val_idx),
    )
    return TrainingSet(data, train_idx, val_idx, x_mean, x_std, s_mean, s_std, w, leaf_counts, provenance)


# --- batches ---------------------------------------------------------------------------------
class DeviceData:
    """Tensors of the training set's objects (training and validation only) on one device (built once per device)."""

    def __init__(self, data: Shard):
        self._data = data
        self._on: dict[str, dict[str, torch.Tensor]] = {}

    def on(self, device: torch.device | str) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._on:
            d = self._data
            self._on[key] = {
                "x": torch.from_numpy(np.ascontiguousarray(d.x, np.float32)).to(device),
                "offsets": torch.from_numpy(d.offsets.astype(np.int64)).to(device),
                "static": torch.from_numpy(np.ascontiguousarray(d.static, np.float32)).to(device),
                "leaf": torch.from_numpy(d.leaf.astype(np.int64)).to(device),
            }
        return self._on[key]


def collate(
    t: Mapping[str, torch.Tensor], obj: torch.Tensor, ends: torch.Tensor, t_max: int
) -> dict[str, torch.Tensor]:
    """Assemble a batch on ``obj``'s device: ``x`` (B, t_max, F) zero-padded prefixes of length
    ``ends`` of objects ``obj``, plus their ``static`` (B, S) and ``leaf`` (B,)."""
    ar = torch.arange(t_max, device=obj.device)
    start = t["offsets"][obj]
    valid = ar[None, :] < ends[:, None]
    idx = torch.where(valid, start[:, None] + ar[None, :], start[:, None])
    x = t["x"][idx].masked_fill_(~valid[..., None], 0.0)
    return {"x": x, "static": t["static"][obj], "leaf": t["leaf"][obj]}


def bucket_batches(
    ends: np.ndarray, batch_size: int, bucket: int, rng: np.random.Generator | None, max_padding: float = 1.0
) -> list[np.ndarray]:
    """Positions into ``ends`` grouped into batches: consecutive groups of ``bucket * batch_size``
    sorted by window length, cut into batches; a batch whose padding (fraction of its
    ``len * max`` area) exceeds ``max_padding`` is halved until it does not (the long tail of the
    length distribution); the batch order is shuffled when ``rng`` is given."""
    n = len(ends)
    group = max(1, bucket) * batch_size
    todo: list[np.ndarray] = []
    for g0 in range(0, n, group):  # loop over buckets (a few hundred per epoch), not objects
        pos = np.arange(g0, min(n, g0 + group))
        pos = pos[np.argsort(ends[pos], kind="stable")]
        todo.extend(np.split(pos, np.arange(batch_size, len(pos), batch_size)))
    batches: list[np.ndarray] = []
    while todo:  # loop over batches; only the tail ones split
        b = todo.pop()
        e = ends[b]
        if len(b) > 1 and max_padding < 1.0 and 1.0 - e.sum() / (len(b) * e.max()) > max_padding:
            todo.extend(np.array_split(b, 2))
        else:
            batches.append(b)
    batches.reverse()
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _identity(batch: Any) -> Any:
    return batch


class _Plan:
    """One epoch's (or the validation's) windows in batch order: ``obj`` and ``ends`` (numpy),
    batch ``bounds``; uploaded to the device once, a batch is then a slice (no per-batch copy)."""

    def __init__(self, batches: Sequence[tuple[np.ndarray, np.ndarray]]):
        self.obj = np.concatenate([o for o, _ in batches]) if batches else np.zeros(0, np.int64)
        self.ends = np.concatenate([e for _, e in batches]) if batches else np.zeros(0, np.int64)
        self.bounds = np.cumsum([0] + [len(o) for o, _ in batches])
        self._on: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def on(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        key = str(device)
        if key not in self._on:
            self._on = {key: (torch.from_numpy(self.obj).to(device), torch.from_numpy(self.ends).to(device))}
        return self._on[key]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for a, b in zip(self.bounds[:-1], self.bounds[1:]):
            e = self.ends[a:b]
            yield {"plan": self, "slice": (int(a), int(b)), "lengths_cpu": e, "t_max": int(e[0]) if len(e) else 0}


def _descending(o: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A batch ordered by decreasing window length (packing then needs no reordering on the device)."""
    k = np.argsort(-e, kind="stable")
    return o[k], e[k]


def _rank_world(trainer: Any) -> tuple[int, int]:
    if trainer is None:
        return 0, 1
    return int(trainer.global_rank), int(trainer.world_size)


class _TrainBatches(IterableDataset):
    """One epoch of bucketed training batches (obj, ends) per iteration, split between ranks.

    No ``__len__``: tail batches may be split, so the count varies between epochs and Lightning
    runs each epoch to the iterator's end (every rank gets the same count).
    """

    def __init__(self, dm: ShardDataModule):
        self.dm = dm
        self._epoch = 0

    def _plan(self) -> list[tuple[np.ndarray, np.ndarray]]:
        dm = self.dm
        trainer = dm.trainer
        epoch = trainer.current_epoch if trainer is not None else self._epoch
        self._epoch += 1
        rng = np.random.default_rng([int(dm.cfg["seed"]), int(epoch), 1])
        ts = dm.training_set
        obj = rng.permutation(ts.train_idx)
        d = ts.data
        ends = augment.sample_ends(dm.t, d.offsets, d.first_det, obj, dm.augment_cfg, rng)
        max_pad = dm.cfg["max_padding"]
        if max_pad == "auto":  # on GPUs the full batch beat halving on 1-500 lengths (0.89x with 0.25; docs/train.md)
            on_cpu = trainer is None or trainer.strategy.root_device.type == "cpu"
            max_pad = 0.25 if on_cpu else 1.0
        batches = bucket_batches(ends, int(dm.cfg["batch_size"]), int(dm.cfg["bucket_batches"]), rng, float(max_pad))
        rank, world = _rank_world(trainer)
        n = len(batches) // world * world if world > 1 else len(batches)
        return [_descending(obj[b], ends[b]) for b in batches[rank:n:world]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(_Plan(self._plan()))


class _FixedBatches(IterableDataset):
    """The validation windows: every validation object at each of ``val_days``, bucketed, fixed."""

    def __init__(self, dm: ShardDataModule):
        self.dm = dm
        ts = dm.training_set
        d = ts.data
        days = [float(v) for v in dm.cfg["val_days"]]
        obj = np.tile(ts.val_idx, len(days))
        dd = np.repeat(np.asarray(days), len(ts.val_idx))
        ends = augment.days_ends(dm.t, d.offsets, d.first_det, obj, dd)
        order = np.argsort(ends, kind="stable")
        self.obj, self.ends = obj[order], ends[order]

    def _batches(self) -> list[np.ndarray]:
        """Length-sorted batches; their number a multiple of the ranks (DDP steps in lockstep)."""
        _, world = _rank_world(self.dm.trainer)
        n = len(self.ends)
        if n < world:
            raise InputError(f"{n} validation windows cannot be shared by {world} processes: add validation objects")
        nb = -(-n // int(self.dm.cfg["val_batch_size"]))
        nb = max(world, -(-nb // world) * world)
        return list(np.array_split(np.arange(n), nb))

    def __len__(self) -> int:
        _, world = _rank_world(self.dm.trainer)
        return len(self._batches()) // world

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world = _rank_world(self.dm.trainer)
        key = (rank, world)
        if getattr(self, "_plan_key", None) != key:  # fixed: built (and uploaded) once
            self._plan_key = key
            self._plan = _Plan([_descending(self.obj[b], self.ends[b]) for b in self._batches()[rank::world]])
        return iter(self._plan)


class ShardDataModule(L.LightningDataModule):
    """Shards -> training and validation batches (see the module docstring).

    ``cfg``: the ``train`` config section (partial: schema defaults); ``augment_cfg``: the
    ``augment`` section. ``training_set`` may be given when already loaded.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        taxonomy: Taxonomy,
        cfg: Mapping[str, Any] | None = None,
        augment_cfg: Mapping[str, Any] | None = None,
        training_set: TrainingSet | None = None,
    ):
        super().__init__()
        self.paths = [str(p) for p in paths]
        self.taxonomy = taxonomy
        self.cfg = config.resolve("train", cfg)
        self.augment_cfg = config.resolve("augment", augment_cfg)
        self.ts = training_set
        self.device_data: DeviceData | None = None
        self._val: _FixedBatches | None = None

    @property
    def training_set(self) -> TrainingSet:
        """The loaded training set (after :meth:`setup`)."""
        if self.ts is None:
            raise RuntimeError("ShardDataModule.setup() has not run: no training set loaded")
        return self.ts

    def setup(self, stage: str | None = None) -> None:
        if self.ts is None:
            self.ts = load_training_set(self.paths, self.taxonomy, self.cfg)
        if self.device_data is None:
            self.t = np.ascontiguousarray(self.ts.data.x[:, 0])
            self.device_data = DeviceData(self.ts.data)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_TrainBatches(self), batch_size=None, collate_fn=_identity, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        if self._val is None:
            self._val = _FixedBatches(self)
        return DataLoader(self._val, batch_size=None, collate_fn=_identity, num_workers=0)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Gather the batch's windows on ``device`` from the data and the epoch plan resident
        there: a slice of the plan, no host-device copy and no synchronisation per batch."""
        obj, ends = batch["plan"].on(device)
        a, b = batch["slice"]
        if self.device_data is None:
            raise RuntimeError("ShardDataModule.setup() has not run: no data on the device")
        out = collate(self.device_data.on(device), obj[a:b], ends[a:b], batch["t_max"])
        out["lengths"] = ends[a:b]
        out["lengths_cpu"] = torch.from_numpy(batch["lengths_cpu"])
        return out


# --- synthetic data (tests and benchmarks) ---------------------------------------------------
def synthetic_shard(
    n: int,
    taxonomy: Taxonomy,
    seed: int = 0,
    median_length: float = 60.0,
    max_length: int = 500,
    fixed_length: int | None = None,
    lengths: np.ndarray | None = None,
    n_static: int = 5,
    signal: float = 1.0,
) -> Shard:
    """A labelled shard with ELAsTiCC-like shapes and a class-dependent signal (for tests and
    benchmarks; no physics). Lengths are log-normal (``median_length``, clipped to
    [2, ``max_length``]), all ``fixed_length``, or the given ``lengths``; 10 features like the asinh encoding (t in days,
    detection flag, asinh flux, asinh error, one-hot band); ``signal`` scales how much the
    light-curve amplitude, width and host features depend on the leaf (0: none)."""
    rng = np.random.default_rng(seed)
    leaves = taxonomy.leaves
    k = rng.integers(0, len(leaves), n)
    leaf = leaves[k]
    if lengths is not None:
        lengths = np.asarray(lengths, np.int64)
    elif fixed_length is not None:
        lengths = np.full(n, int(fixed_length), np.int64)
    else:
        lengths = np.clip(np.round(median_length * np.exp(0.8 * rng.standard_normal(n))), 2, max_length).astype(
            np.int64
        )
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    n_obs = int(offsets[-1])
    gaps = rng.exponential(3.0, n_obs)
    gaps[offsets[:-1]] = 0.0
    t = np.cumsum(gaps)
    t -= np.repeat(t[offsets[:-1]], lengths)
    first_det = np.minimum((rng.random(n) * 0.2 * lengths).astype(np.int64), lengths - 1)
    frac = (k + 0.5) / len(leaves)  # class code in (0, 1)
    amp = 10 ** (1.5 + 1.5 * signal * frac)  # peak flux
    width = 5 + 60 * signal * ((k * 7) % len(leaves)) / len(leaves)  # days
    t_peak = t[offsets[:-1] + first_det] + 10
    flux = np.repeat(amp, lengths) * np.exp(-0.5 * ((t - np.repeat(t_peak, lengths)) / np.repeat(width, lengths)) ** 2)
    err = rng.uniform(5, 30, n_obs)
    flux = flux + err * rng.standard_normal(n_obs)
    band = rng.integers(0, 6, n_obs)
    x = np.zeros((n_obs, 10), np.float32)
    x[:, 0] = t
    x[:, 1] = (np.arange(n_obs) - np.repeat(offsets[:-1], lengths)) >= np.repeat(first_det, lengths)
    x[:, 2] = np.arcsinh(flux)
    x[:, 3] = np.arcsinh(err)
    x[np.arange(n_obs), 4 + band] = 1.0
    static = (signal * frac[:, None] * np.arange(1, n_static + 1) + 0.3 * rng.standard_normal((n, n_static))).astype(
        np.float32
    )
    static[rng.random((n, n_static)) < 0.1] = np.nan
    split = rng.choice(np.array([0, 1, 2], np.int8), n, p=[0.7, 0.1, 0.2])
    inv_models: dict[str, str] = {}
    for m, lf in taxonomy.models.items():
        inv_models.setdefault(lf, m)
    model = np.array([inv_models.get(taxonomy.nodes[i], taxonomy.nodes[i]) for i in leaf], dtype=object)
    return Shard(
        snid=np.array([str(i + 1000 * seed) for i in range(n)], dtype=object),
        model=model,
        leaf=leaf.astype(np.int16),
        split=split,
        t0=60000 + rng.uniform(0, 1000, n),
        first_det=first_det.astype(np.int32),
        static=static,
        x=x,
        offsets=offsets,
        meta={
            "feature_names": ["t", "det", "asinh_flux", "asinh_err", "u", "g", "r", "i", "z", "Y"],
            "static_names": [f"static{i}" for i in range(n_static)],
            "taxonomy": taxonomy.to_dict(),
            "preprocess": {"synthetic": True},
        },
    )
