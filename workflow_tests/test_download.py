"""The download step on a tarball built from ../shared/realdata (never downloads from the internet)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from wfutil import workflow

from elasticc_classification.errors import InputError
from elasticc_classification.io import download as dl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dirs(realdata: Path) -> list[Path]:
    return sorted((realdata / "elasticc2_train_1percent").glob("ELASTICC2_*"))


@pytest.fixture
def tarball(tmp_path: Path, model_dirs: list[Path]) -> Path:
    """The real subset as the official tarball would hold it (one wrapper directory)."""
    return dl.make_tarball(model_dirs, tmp_path / "src" / "ELASTICC2_TRAIN_02.tar.bz2", wrapper="ELASTICC2_TRAIN_02")


def test_fetch_verify_unpack_discovers_every_pair(tmp_path: Path, tarball: Path) -> None:
    dest = tmp_path / "raw" / "ELASTICC2_TRAIN_02"
    sha = hashlib.sha256(tarball.read_bytes()).hexdigest()
    marker = dl.download(dest, url=tarball.as_uri(), size_bytes=tarball.stat().st_size, sha256=sha)
    rec = json.loads(marker.read_text())
    assert rec["pairs"] == 60 and rec["models"] == ["Mdwarf-flare", "SNIb-Templates"]
    assert rec["sha256"] == sha and rec["size_bytes"] == tarball.stat().st_size
    pairs = dl.layout.find_pairs(dest)
    assert len(pairs) == 60
    assert {p.head.parent.parent for p in pairs} == {dest}  # wrapper directory removed
    assert not (dest.parent / "ELASTICC2_TRAIN_02.tar.bz2").exists()  # not kept by default
    assert [p.name for p in dest.parent.iterdir()] == ["ELASTICC2_TRAIN_02"]  # no temp dir left


def test_existing_tarball_is_verified_and_used(tmp_path: Path, tarball: Path) -> None:
    dest = tmp_path / "ELASTICC2_TRAIN_02"
    local = tmp_path / "ELASTICC2_TRAIN_02.tar.bz2"
    local.write_bytes(tarball.read_bytes())
    marker = dl.download(dest, url="http://unreachable.invalid/x.tar.bz2", keep_tarball=True)
    assert json.loads(marker.read_text())["pairs"] == 60
    assert local.exists()


@pytest.mark.parametrize("what", ["size", "sha256"])
def test_bad_size_or_checksum_leaves_no_output(tmp_path: Path, tarball: Path, what: str) -> None:
    dest = tmp_path / "ELASTICC2_TRAIN_02"
    kw = {"size_bytes": tarball.stat().st_size + 1} if what == "size" else {"sha256": "0" * 64}
    with pytest.raises(dl.DownloadError, match="expected"):
        dl.download(dest, url=tarball.as_uri(), **kw)
    assert not dest.exists()


def test_truncated_tarball_is_an_input_error(tmp_path: Path, tarball: Path) -> None:
    bad = tmp_path / "ELASTICC2_TRAIN_02.tar.bz2"
    bad.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    with pytest.raises(InputError, match="not a readable tar archive"):
        dl.download(tmp_path / "ELASTICC2_TRAIN_02")
    assert not (tmp_path / "ELASTICC2_TRAIN_02").exists()


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    out = tmp_path / "evil.tar.bz2"
    with tarfile.open(out, "w:bz2") as tf:
        tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return out


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_members_are_refused_before_writing(tmp_path: Path, kind: str) -> None:
    if kind == "symlink":
        m = tarfile.TarInfo("X_M/link")
        m.type, m.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        m = tarfile.TarInfo("../escape.txt" if kind == "dotdot" else "/tmp/escape.txt")
        m.size = 2
    evil = _tar_with(tmp_path, m, b"hi")
    with pytest.raises(dl.DownloadError, match="unsafe archive"):
        dl.unpack(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


def test_missing_partner_in_tarball_keeps_dest_untouched(tmp_path: Path, model_dirs: list[Path]) -> None:
    src = tmp_path / "src" / model_dirs[1].name
    src.mkdir(parents=True)
    for f in sorted(model_dirs[1].iterdir())[:3]:  # HEAD 0001, PHOT 0001, HEAD 0002 (no PHOT)
        (src / f.name).write_bytes(f.read_bytes())
    tb = dl.make_tarball([src], tmp_path / "t.tar.bz2")
    with pytest.raises(InputError, match="no PHOT partner"):
        dl.unpack(tb, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError, match="cannot download"):
        dl.fetch((tmp_path / "nothing.tar.bz2").as_uri(), tmp_path / "x.tar.bz2")
    assert not (tmp_path / "x.tar.bz2").exists()


@pytest.mark.slow
def test_snakemake_download_target(tmp_path: Path, tarball: Path) -> None:
    """`snakemake download` with the tarball's URL (file://) unpacks into download.dest."""
    dest = tmp_path / "raw" / "ELASTICC2_TRAIN_02"
    cfg = tmp_path / "download.yaml"
    cfg.write_text(
        json.dumps({"download": {"url": tarball.as_uri(), "dest": str(dest), "size_bytes": tarball.stat().st_size}})
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "download",
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        "--config",
        f"results_dir={tmp_path / 'results'}",
    ]
    r = subprocess.run(cmd, cwd=workflow(tmp_path), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((dest / ".download.json").read_text())["pairs"] == 60
    assert "SHA-256 of ELASTICC2_TRAIN_02.tar.bz2" in (tmp_path / "results" / "logs" / "download.log").read_text()
