"""Fetch and unpack the official ELAsTiCC2 training tarball into a raw directory.

``download(url, dest)`` streams the tarball to ``<dest>.tar.bz2`` (via a ``.part`` name),
checks its size against the server's Content-Length and the expected size, checks or records
its SHA-256, unpacks it safely (regular files and directories only, nothing outside ``dest``)
and discovers the chunk pairs with :func:`layout.find_pairs`. A tarball already at
``<dest>.tar.bz2`` (e.g. fetched with ``wget -c``) is verified and used instead of downloading.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

from elasticc_classification.errors import InputError, atomic_output, write_json_atomic
from elasticc_classification.io import layout

log = logging.getLogger(__name__)

URL = "https://portal.nersc.gov/cfs/lsst/DESC_TD_PUBLIC/ELASTICC/ELASTICC2_TRAINING_SAMPLE_2/ELASTICC2_TRAIN_02.tar.bz2"
MARKER = ".download.json"
_BLOCK = 8 << 20


class DownloadError(InputError):
    """The tarball could not be fetched, failed its checks, or is unsafe to unpack."""


def sha256sum(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, size_bytes: int | None = None, sha256: str | None = None) -> str:
    """Check ``path``'s size and SHA-256 (each when given); return the SHA-256."""
    path = Path(path)
    size = path.stat().st_size
    if size_bytes is not None and size != size_bytes:
        raise DownloadError(
            f"{path} has {size:,} bytes, expected {size_bytes:,}: the download is incomplete or the "
            "file changed on the server; delete it and download again (or update download.size_bytes)"
        )
    digest = sha256sum(path)
    if sha256 and digest.lower() != sha256.lower():
        raise DownloadError(
            f"{path} has SHA-256 {digest}, expected {sha256}: delete it and download again (or update download.sha256)"
        )
    return digest


def fetch(url: str, out: str | Path, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``out`` (atomically); fail when fewer bytes arrive than Content-Length."""
    out = Path(out)
    log.info("downloading %s -> %s", url, out)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_output(out, suffix=".part") as tmp:
            expected = resp.headers.get("Content-Length")
            got = 0
            with open(tmp, "wb") as f:
                while block := resp.read(_BLOCK):
                    f.write(block)
                    got += len(block)
            if expected is not None and got != int(expected):
                raise DownloadError(
                    f"{url}: received {got:,} of {int(expected):,} bytes: the connection dropped; run again"
                )
    except OSError as e:  # URLError, HTTPError, timeouts
        raise DownloadError(
            f"cannot download {url}: {e}; check the network (compute nodes often have none: run on a login node)"
        ) from None
    log.info("downloaded %s bytes", f"{out.stat().st_size:,}")
    return out


def _check_member(m: tarfile.TarInfo, tarball: Path) -> None:
    p = PurePosixPath(m.name)
    if p.is_absolute() or ".." in p.parts:
        raise DownloadError(
            f"{tarball}: member {m.name!r} points outside the target directory: not unpacking an unsafe archive"
        )
    if not (m.isfile() or m.isdir()):
        raise DownloadError(
            f"{tarball}: member {m.name!r} is a link or device, not a file: not unpacking an unsafe archive"
        )


def _data_root(tmp: Path) -> Path:
    """The directory in ``tmp`` whose subdirectories are the model directories."""
    roots = set()
    for f in tmp.rglob("*"):
        if f.is_file() and layout.parse_chunk_name(f.name):
            roots.add(f.parent.parent)
    if not roots:
        raise DownloadError(f"no SNANA chunk files (*_{layout.CHUNK_TAG}-NNNN_HEAD.FITS.gz) in the tarball")
    if len(roots) > 1:
        raise DownloadError(f"model directories at several depths in the tarball: {sorted(map(str, roots))}")
    return roots.pop()


def unpack(tarball: str | Path, dest: str | Path) -> list[layout.ChunkPair]:
    """Unpack ``tarball`` safely into ``dest`` and return its chunk pairs.

    Members are checked before anything is written (no absolute paths, no ``..``, no links or
    devices); the archive is unpacked into a temporary directory beside ``dest`` and its model
    directories are moved into ``dest`` only when every pair is complete, so a failure leaves
    ``dest`` as it was. A top-level wrapper directory in the archive is removed.
    """
    tarball, dest = Path(tarball), Path(dest)
    try:
        with tarfile.open(tarball, "r:*") as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m, tarball)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f".{dest.name}.unpack-", dir=dest.parent) as tmp:
                tf.extractall(tmp, members=members, filter="data")
                for d in [Path(tmp), *(p for p in Path(tmp).rglob("*") if p.is_dir())]:
                    d.chmod(d.stat().st_mode | 0o700)  # archives of read-only trees: moving needs u+w
                root = _data_root(Path(tmp))
                layout.find_pairs(root)  # complete pairs, before touching dest
                dest.mkdir(exist_ok=True)
                for d in sorted(root.iterdir()):
                    if (dest / d.name).exists():
                        raise DownloadError(
                            f"{dest / d.name} exists already: remove it (or choose another download.dest) and run again"
                        )
                for d in sorted(root.iterdir()):
                    os.replace(d, dest / d.name)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DownloadError(f"{tarball} is not a readable tar archive ({e}): delete it and download again") from None
    pairs = layout.find_pairs(dest)
    log.info("unpacked %d chunk pairs of %d models into %s", len(pairs), len({p.model for p in pairs}), dest)
    return pairs


def download(
    dest: str | Path,
    url: str = URL,
    size_bytes: int | None = None,
    sha256: str | None = None,
    keep_tarball: bool = False,
) -> Path:
    """Fetch (unless present), verify and unpack the training tarball into ``dest``.

    Writes ``<dest>/.download.json`` (URL, size, SHA-256, pair and model counts) last; returns its path.
    """
    dest = Path(dest)
    tarball = dest.parent / (dest.name + ".tar.bz2")
    if tarball.exists():
        log.info("using the tarball already at %s", tarball)
    else:
        fetch(url, tarball)
    digest = verify(tarball, size_bytes, sha256)
    if not sha256:
        log.info("SHA-256 of %s: %s (set download.sha256 to pin it)", tarball.name, digest)
    pairs = unpack(tarball, dest)
    record = {
        "url": url,
        "tarball": tarball.name,
        "size_bytes": tarball.stat().st_size,
        "sha256": digest,
        "pairs": len(pairs),
        "models": sorted({p.model for p in pairs}),
    }
    if not keep_tarball:
        tarball.unlink()
    marker = dest / MARKER
    write_json_atomic(marker, record)
    return marker


def make_tarball(src_dirs: list[Path], out: str | Path, wrapper: str | None = None) -> Path:
    """Write a ``.tar.bz2`` of model directories (for tests and mirrors), optionally under one wrapper dir."""
    out = Path(out)
    with atomic_output(out) as tmp, tarfile.open(tmp, "w:bz2") as tf:
        for d in src_dirs:
            arc = f"{wrapper}/{d.name}" if wrapper else d.name
            tf.add(d, arcname=arc, filter=lambda ti: ti if (ti.isfile() or ti.isdir()) else None)
    return out
