"""Where SNANA chunk pairs live: discovery in a raw directory and model names.

Layout of the ELAsTiCC2 training set::

    <raw_dir>/<PREFIX>_<MODEL>/<PREFIX>_NONIaMODEL0-<NNNN>_HEAD.FITS[.gz]
    <raw_dir>/<PREFIX>_<MODEL>/<PREFIX>_NONIaMODEL0-<NNNN>_PHOT.FITS[.gz]

The model name is the directory name without the chunk files' prefix
(``ELASTICC2_TRAIN_02_SNIb-Templates`` with files ``ELASTICC2_TRAIN_02_NONIaMODEL0-0001_...``
gives ``SNIb-Templates``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from elasticc_classification.errors import InputError

CHUNK_TAG = "NONIaMODEL0"
_CHUNK_RE = re.compile(
    r"^(?P<prefix>.+)_" + CHUNK_TAG + r"-(?P<chunk>\d+)_(?P<kind>HEAD|PHOT)\.FITS(?P<gz>\.gz)?$",
    re.IGNORECASE,
)


class LayoutError(InputError):
    """The raw directory does not hold a usable set of chunk pairs."""


@dataclass(frozen=True, order=True)
class ChunkPair:
    """One HEAD/PHOT pair: ``model`` (e.g. ``SNIb-Templates``), ``chunk`` (``"0001"``)."""

    model: str
    chunk: str
    head: Path
    phot: Path


def chunk_paths(root: str | Path, prefix: str, model: str, chunk: int | str, gz: bool = True) -> tuple[Path, Path]:
    """HEAD and PHOT paths of chunk ``chunk`` of ``model`` under ``root`` (the real layout)."""
    chunk = f"{int(chunk):04d}"
    d = Path(root) / f"{prefix}_{model}"
    ext = ".FITS.gz" if gz else ".FITS"
    base = f"{prefix}_{CHUNK_TAG}-{chunk}"
    return d / f"{base}_HEAD{ext}", d / f"{base}_PHOT{ext}"


def parse_chunk_name(name: str) -> tuple[str, str, str] | None:
    """``(prefix, chunk, kind)`` of a chunk file name, or None when it is not one."""
    m = _CHUNK_RE.match(name)
    if m is None:
        return None
    return m["prefix"], m["chunk"], m["kind"].upper()


def model_name(dir_name: str, file_prefix: str) -> str:
    """Model name from a model directory name and the prefix of the chunk files inside it."""
    if dir_name.startswith(file_prefix + "_") and len(dir_name) > len(file_prefix) + 1:
        return dir_name[len(file_prefix) + 1 :]
    return dir_name


def model_from_path(head: str | Path) -> str:
    """Model name for a HEAD (or PHOT) file, from its directory and its own prefix."""
    head = Path(head)
    parsed = parse_chunk_name(head.name)
    prefix = parsed[0] if parsed else ""
    return model_name(head.resolve().parent.name, prefix)


def find_pairs(raw_dir: str | Path) -> list[ChunkPair]:
    """All chunk pairs under ``raw_dir``, sorted by (model, chunk).

    Raises :class:`LayoutError` when the directory is missing, holds no pair, or
    a HEAD file has no PHOT partner (or the reverse).
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise LayoutError(
            f"raw_dir {raw_dir} does not exist or is not a directory: set raw_dir in the config to the unpacked ELAsTiCC2 training set"
        )
    found: dict[tuple[str, str], dict[str, Path]] = {}
    for f in sorted(raw_dir.glob("*/*")):
        parsed = parse_chunk_name(f.name)
        if parsed is None:
            continue
        prefix, chunk, kind = parsed
        model = model_name(f.parent.name, prefix)
        entry = found.setdefault((model, chunk), {})
        if kind in entry:
            raise LayoutError(f"two {kind} files for model {model} chunk {chunk}: {entry[kind]} and {f}; keep one")
        entry[kind] = f
    if not found:
        raise LayoutError(
            f"no SNANA chunk pairs (<PREFIX>_<MODEL>/<PREFIX>_{CHUNK_TAG}-NNNN_HEAD.FITS[.gz] + _PHOT) under {raw_dir}"
        )
    pairs = []
    for (model, chunk), entry in sorted(found.items()):
        for kind, other in (("HEAD", "PHOT"), ("PHOT", "HEAD")):
            if kind in entry and other not in entry:
                raise LayoutError(f"{entry[kind]} has no {other} partner file: restore it or remove the {kind} file")
        pairs.append(ChunkPair(model, chunk, entry["HEAD"], entry["PHOT"]))
    models: dict[str, set[Path]] = {}
    for p in pairs:
        models.setdefault(p.model, set()).add(p.head.parent)
    for model, dirs in models.items():
        if len(dirs) > 1:
            raise LayoutError(f"model {model} appears in several directories: {sorted(map(str, dirs))}")
    return pairs
