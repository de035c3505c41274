"""The train / validation / test split of an object, from a hash of (SNID, ``split_seed``).

``test_fraction`` of the objects go to test, ``val_fraction`` of the rest to validation; the hash
of the SNID string makes the split independent of chunking, job order and worker count.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_classification.features.shards import SPLITS


def snid_strings(table: pa.Table) -> pa.Array:
    """SNID as stripped strings (integers in decimal); ``table`` has a SNID column (the caller checks)."""
    col = table.column("SNID")
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(col.type):
        cast = pc.cast(col, pa.string())
        return cast if pa.types.is_integer(col.type) else pc.utf8_trim_whitespace(cast)  # decimals: no blanks
    return pc.utf8_trim_whitespace(col)


def split_hash(snid: np.ndarray | pa.Array, seed: int) -> np.ndarray:
    """Uniform numbers in [0, 1) from (SNID string, seed): FNV-1a 64 over the UTF-8 bytes, seed mixed
    in, splitmix64 finaliser. Vectorised over objects (one numpy step per byte position)."""
    if isinstance(snid, (pa.Array, pa.ChunkedArray)):
        snid = np.asarray(snid.to_numpy(zero_copy_only=False), dtype=object)
    b = np.asarray(snid, dtype=object).astype(str).astype(np.bytes_)
    if b.size == 0:
        return np.zeros(0)
    width = b.dtype.itemsize
    m = np.frombuffer(b.tobytes(), dtype=np.uint8).reshape(len(b), width).astype(np.uint64)
    h = np.full(len(b), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for k in range(width):  # trailing NUL padding is skipped: independent of the batch's width
            c = m[:, k]
            h = np.where(c != 0, (h ^ c) * prime, h)
        h ^= np.uint64((int(seed) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def assign_split(snid: np.ndarray | pa.Array, seed: int, test_fraction: float, val_fraction: float) -> np.ndarray:
    """0 train / 1 validation / 2 test per object (int8, :data:`~.shards.SPLITS`), from :func:`split_hash`."""
    u = split_hash(snid, seed)
    out = np.full(len(u), SPLITS["train"], dtype=np.int8)
    out[u < test_fraction + (1.0 - test_fraction) * val_fraction] = SPLITS["val"]
    out[u < test_fraction] = SPLITS["test"]
    return out
