"""Converter (SNANA HEAD/PHOT FITS pair -> parquet): real files, schema, ordering, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from wfutil import MDWARF, SNIB, cli, pair

from elasticc_classification.errors import InputError
from elasticc_classification.io import fits as fits_reader
from elasticc_classification.io import snana
from elasticc_classification.io.fits import FitsFormatError


# --- real files ------------------------------------------------------------------------------
def test_real_subset_totals(realdata):
    """Every real pair converts; totals are those of realdata/README.md."""
    objects = observations = detections = empty = 0
    heads = sorted((realdata / "elasticc2_train_1percent").glob("*/*_HEAD.FITS.gz"))
    assert len(heads) == 60
    for head in heads:
        t = snana.read_pair(head, Path(str(head).replace("_HEAD", "_PHOT")))
        objects += t.num_rows
        empty += t.num_rows == 0
        flags = pc.list_flatten(t["PHOTFLAG"]).to_numpy()
        observations += len(flags)
        detections += int(np.count_nonzero(flags & 4096))
        assert len(pc.list_flatten(t["MJD"])) == pc.sum(t["NOBS"]).as_py() or t.num_rows == 0
    assert (objects, observations, detections, empty) == (167, 26128, 950, 20)


@pytest.mark.parametrize(
    "model_dir, chunk, row, snid, nobs, first_mjd, first_band, last_mjd, ndet, sum_flux",
    [
        (SNIB, 1, 0, 1144924, 78, 60688.2819, "Y", 61166.1533, 2, 535.1764),
        (SNIB, 1, 1, 1293363, 258, 60423.354, "Y", 60981.0641, 1, 1080.5355),
        (SNIB, 6, 0, 569349, 191, 60717.3508, "Y", 61267.0555, 1, 773.2300),
        (MDWARF, 31, 0, 1973319, 183, 60295.3197, "r", 61144.0165, 1, 423.1485),
    ],
)
def test_real_objects(realdata, model_dir, chunk, row, snid, nobs, first_mjd, first_band, last_mjd, ndet, sum_flux):
    t = snana.read_pair(*pair(realdata, model_dir, chunk))
    r = t.slice(row, 1).to_pylist()[0]
    assert r["SNID"] == snid
    assert r["NOBS"] == nobs == len(r["MJD"]) == len(r["BAND"]) == len(r["FLUXCAL"])
    assert r["MJD"][0] == pytest.approx(first_mjd, abs=1e-4)
    assert r["MJD"][-1] == pytest.approx(last_mjd, abs=1e-4)
    assert r["BAND"][0] == first_band
    assert int(np.count_nonzero(np.array(r["PHOTFLAG"]) & 4096)) == ndet
    assert float(np.sum(np.array(r["FLUXCAL"], dtype=np.float64))) == pytest.approx(sum_flux, abs=1e-3)
    assert -777.0 not in r["MJD"]
    assert np.all(np.diff(r["MJD"]) >= 0)


def test_real_first_observation_and_schema(realdata):
    head, phot = pair(realdata, SNIB, 1)
    t = snana.read_pair(head, phot)
    r = t.slice(0, 1).to_pylist()[0]
    assert r["FLUXCAL"][0] == pytest.approx(12.524878, abs=1e-5)
    assert r["FLUXCALERR"][0] == pytest.approx(26.662743, abs=1e-5)
    assert r["PHOTFLAG"][0] == 0
    assert r["MODEL"] == "SNIb-Templates"
    s = t.schema
    assert s.field("SNID").type == pa.int64()
    assert s.field("MJD").type == pa.list_(pa.float64())
    assert s.field("FLUXCAL").type == pa.list_(pa.float32())
    assert s.field("FLUXCALERR").type == pa.list_(pa.float32())
    assert s.field("PHOTFLAG").type == pa.list_(pa.int32())
    assert s.field("CCDNUM").type == pa.list_(pa.int16())
    assert s.field("BAND").type == pa.list_(pa.string())
    assert s.field("RA").type == pa.float64()
    assert s.field("HOSTGAL_OBJID").type == pa.int64()
    assert s.field("SIM_TYPE_INDEX").type == pa.int16()
    assert set(pc.unique(pc.list_flatten(t["BAND"])).to_pylist()) <= set("ugrizY")
    assert "SIM_HOSTLIB(LOGMASS_TRUE)" in s.names and "HOSTGAL_LOGsSFR" in s.names
    assert set(t["SIM_TYPE_NAME"].to_pylist()) == {"Ib"}  # '8A' padded, stripped


def test_matches_astropy_everywhere(realdata):
    """Every HEAD and PHOT value of a real pair equals astropy's reading (strings stripped)."""
    head, phot = pair(realdata, SNIB, 6)
    t = snana.read_pair(head, phot)
    h, p = fits.getdata(head, 1), fits.getdata(phot, 1)
    for name in h.names:
        ours = t[name].to_numpy(zero_copy_only=False)
        theirs = np.asarray(h[name])
        if name == "SNID":
            assert list(ours) == [int(x) for x in theirs]
        elif theirs.dtype.kind in "SU":
            assert [str(x).strip() for x in theirs] == [str(x) for x in ours], name
        else:
            assert ours.dtype == theirs.dtype.newbyteorder("="), name
            np.testing.assert_array_equal(ours, theirs, err_msg=name)
    lo, hi = h["PTROBS_MIN"] - 1, h["PTROBS_MAX"]
    idx = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    for name in p.names:
        ours = pc.list_flatten(t[name]).to_numpy(zero_copy_only=False)
        theirs = np.asarray(p[name])[idx]
        if theirs.dtype.kind in "SU":
            assert [x.decode().strip() if isinstance(x, bytes) else str(x).strip() for x in theirs] == list(ours), name
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_empty_pair_has_full_schema(realdata, tmp_path):
    head, phot = pair(realdata, MDWARF, 1)
    assert fits.getdata(head, 1).shape == (0,)
    full = snana.read_pair(*pair(realdata, MDWARF, 31))
    out = tmp_path / "empty.parquet"
    t = snana.convert_pair(head, phot, out)
    back = pq.read_table(out)
    assert t.num_rows == back.num_rows == 0
    assert back.schema.remove_metadata() == full.schema.remove_metadata()


def test_snls_old_names_and_string_snids(realdata):
    d = realdata / "snls_snana_example"
    t = snana.read_pair(d / "snana_fits_example_head.fits", d / "snana_fits_example_phot.fits")
    assert t.num_rows == 2
    assert t.schema.field("SNID").type == pa.string()
    assert t["SNID"].to_pylist() == ["03D1aw", "03D1ax"]
    assert {"BAND", "DEC"} <= set(t.column_names)
    assert not {"FLT", "DECL"} & set(t.column_names)
    assert len(pc.list_flatten(t["MJD"])) == 95
    assert all(b and " " not in b for b in pc.list_flatten(t["BAND"]).to_pylist())


def test_parquet_file_metadata_compression_and_cli(realdata, tmp_path):
    head, phot = pair(realdata, SNIB, 1)
    out = tmp_path / "sub" / "0001.parquet"
    r = cli("convert", head, phot, out, "--model", "MyModel")
    assert r.returncode == 0, r.stderr
    t = pq.read_table(out)
    meta = json.loads(t.schema.metadata[b"elasticc_classification"])
    assert meta["head"] == head.name and meta["phot"] == phot.name
    assert meta["model"] == "MyModel" and meta["converter_version"] == snana.CONVERTER_VERSION
    assert set(t["MODEL"].to_pylist()) == {"MyModel"}
    md = pq.ParquetFile(out).metadata
    assert md.row_group(0).column(0).compression == "ZSTD"
    assert t.equals(snana.read_pair(head, phot, model="MyModel"))
    assert [p.name for p in out.parent.iterdir()] == ["0001.parquet"]  # no temporary left


def test_convert_path_does_not_import_torch_or_astropy(realdata, tmp_path):
    """Start-up time counts (thousands of jobs): no torch, astropy, lightning, nor pandas (which
    ``pa.array(ndarray)`` would pull in)."""
    head, phot = pair(realdata, SNIB, 1)
    code = (
        "import sys; from elasticc_classification import cli; "
        f"rc = cli.main(['convert', {str(head)!r}, {str(phot)!r}, {str(tmp_path / 'x.parquet')!r}]); "
        "print(sorted(m for m in ('torch', 'astropy', 'lightning', 'pandas') if m in sys.modules), rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[] 0", r.stderr


# --- ordering, NaN, strings: synthetic pairs written with astropy -----------------------------
def write_pair(tmp_path: Path, head_cols: dict, phot_cols: dict, gz: bool = True, name: str = "X") -> tuple[Path, Path]:
    """A HEAD/PHOT pair from column dicts (name -> (TFORM, values[, TZERO]))."""
    ext = ".FITS.gz" if gz else ".FITS"
    paths = []
    for kind, cols in (("HEAD", head_cols), ("PHOT", phot_cols)):
        hdu = fits.BinTableHDU.from_columns(
            [
                fits.Column(name=k, format=c[0], array=np.asarray(c[1]), bzero=c[2] if len(c) > 2 else None)
                for k, c in cols.items()
            ]
        )
        p = tmp_path / f"{name}_NONIaMODEL0-0001_{kind}{ext}"
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(p, overwrite=True)
        paths.append(p)
    return paths[0], paths[1]


def toy(
    snids=("11", "12"), mjds=((3.0, 1.0, 2.0), (5.0, 4.0)), bands=(("g", "r", "i"), ("z", "Y"))
) -> tuple[dict, dict]:
    """HEAD/PHOT columns of a small pair with separator rows after each light curve."""
    mjd, band, flux, pmin, pmax, nobs = [], [], [], [], [], []
    for m, b in zip(mjds, bands):
        pmin.append(len(mjd) + 1)
        mjd += list(m)
        band += list(b)
        flux += [float(x) * 10 for x in m]
        pmax.append(len(mjd))
        nobs.append(len(m))
        mjd.append(-777.0)
        band.append("-")
        flux.append(-777.0)
    head = {
        "SNID": ("16A", list(snids)),
        "NOBS": ("1J", nobs),
        "PTROBS_MIN": ("1J", pmin),
        "PTROBS_MAX": ("1J", pmax),
        "DEC": ("1D", [1.5] * len(snids)),
    }
    n = len(mjd)
    phot = {
        "MJD": ("1D", mjd),
        "BAND": ("2A", band),
        "PHOTFLAG": ("1J", [4096] * n),
        "FLUXCAL": ("1E", np.array(flux, np.float32)),
        "FLUXCALERR": ("1E", np.ones(n, np.float32)),
    }
    return head, phot


def test_sorted_by_mjd_stably_within_objects(tmp_path):
    head, phot = toy(mjds=((3.0, 1.0, 2.0, 1.0), (5.0, 4.0)), bands=(("g", "r", "i", "u"), ("z", "Y")))
    t = snana.read_pair(*write_pair(tmp_path, head, phot))
    assert t["MJD"].to_pylist() == [[1.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    assert t["BAND"].to_pylist() == [["r", "u", "i", "g"], ["Y", "z"]]  # ties keep file order
    assert t["FLUXCAL"].to_pylist() == [[10.0, 10.0, 20.0, 30.0], [40.0, 50.0]]
    assert t["SNID"].to_pylist() == [11, 12]


def test_nan_kept_and_model_from_directory(tmp_path):
    head, phot = toy()
    phot["FLUXCAL"][1][1] = np.nan
    d = tmp_path / "PFX_Some-Model"
    d.mkdir()
    h, p = write_pair(d, head, phot, gz=False, name="PFX")
    t = snana.read_pair(h, p)
    assert np.isnan(t["FLUXCAL"].to_pylist()[0][0])  # MJD 1.0 came second in the file
    assert t["MODEL"].to_pylist() == ["Some-Model", "Some-Model"]


def test_snid_with_letters_stays_string(tmp_path):
    head, phot = toy(snids=("12", "1e5"))
    t = snana.read_pair(*write_pair(tmp_path, head, phot))
    assert t["SNID"].to_pylist() == ["12", "1e5"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=" abcXYZ019-_\x00", max_size=7), min_size=0, max_size=20), st.integers(1, 8))
def test_strip_strings_matches_python(values, width):
    raw = [v.encode()[:width].ljust(width, b" ") for v in values]
    b = np.frombuffer(b"".join(raw), np.uint8).reshape(len(raw), width)
    expected = [r.split(b"\x00", 1)[0].decode().strip(" ") for r in raw]
    assert fits_reader.strip_strings(b).to_pylist() == expected


# --- bad input: one clear error, naming the file (and SNID), no output -------------------------
def expect_error(head: Path, phot: Path, out: Path, *fragments: str) -> str:
    with pytest.raises(FitsFormatError) as e:
        snana.convert_pair(head, phot, out)
    msg = str(e.value)
    assert isinstance(e.value, InputError)
    for f in fragments:
        assert f in msg, (f, msg)
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*"))  # no temporary left behind
    r = cli("convert", head, phot, out)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in r.stderr
    assert not out.exists()
    return msg


@pytest.fixture
def real_copy(realdata, tmp_path) -> tuple[Path, Path]:
    head, phot = pair(realdata, SNIB, 1)
    h, p = tmp_path / head.name, tmp_path / phot.name
    h.write_bytes(head.read_bytes())
    p.write_bytes(phot.read_bytes())
    return h, p


def test_missing_partner(real_copy, tmp_path):
    head, phot = real_copy
    phot.unlink()
    expect_error(head, phot, tmp_path / "o.parquet", phot.name, "PHOT file not found")


def test_truncated_gzip(real_copy, tmp_path):
    head, phot = real_copy
    data = phot.read_bytes()
    phot.write_bytes(data[: len(data) // 2])
    expect_error(head, phot, tmp_path / "o.parquet", phot.name, "truncated")


def test_corrupt_gzip(real_copy, tmp_path):
    head, phot = real_copy
    data = bytearray(phot.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    phot.write_bytes(bytes(data))
    expect_error(head, phot, tmp_path / "o.parquet", phot.name, "corrupt")


def test_not_fits(real_copy, tmp_path):
    head, phot = real_copy
    head.write_bytes(gzip.compress(b"SNID,MJD\n1,2\n"))
    expect_error(head, phot, tmp_path / "o.parquet", head.name, "not a FITS file")


def test_no_binary_table(real_copy, tmp_path):
    head, phot = real_copy
    with gzip.open(head, "wb") as f:
        fits.PrimaryHDU(np.zeros((3, 3), np.float32)).writeto(f)
    expect_error(head, phot, tmp_path / "o.parquet", head.name, "no binary table")


def test_fits_truncated_inside_table(real_copy, tmp_path):
    head, phot = real_copy
    raw = gzip.decompress(phot.read_bytes())
    phot.write_bytes(gzip.compress(raw[: len(raw) - 5000]))
    expect_error(head, phot, tmp_path / "o.parquet", phot.name, "truncated")


@pytest.mark.parametrize(
    "kind, column", [("HEAD", "PTROBS_MIN"), ("HEAD", "SNID"), ("PHOT", "FLUXCAL"), ("PHOT", "BAND")]
)
def test_required_column_missing(tmp_path, kind, column):
    head, phot = toy()
    (head if kind == "HEAD" else phot).pop(column)
    h, p = write_pair(tmp_path, head, phot)
    expect_error(h, p, tmp_path / "o.parquet", (h if kind == "HEAD" else p).name, column, "missing")


def test_nobs_mismatch(tmp_path):
    head, phot = toy()
    head["NOBS"][1][1] = 7
    h, p = write_pair(tmp_path, head, phot)
    expect_error(h, p, tmp_path / "o.parquet", h.name, "SNID 12", "NOBS = 7")


def test_pointer_past_cut_phot_file(real_copy, tmp_path):
    """A PHOT file cut shorter than its HEAD pointers (rewritten validly) is an error, not short light curves."""
    head, phot = real_copy
    with fits.open(phot) as f:
        short = fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(f[1].data[:500], header=f[1].header)])
        short.writeto(phot, overwrite=True)
    h = fits.getdata(head, 1)
    victim = str(h["SNID"][np.flatnonzero(h["PTROBS_MAX"] > 500)[0]]).strip()
    expect_error(head, phot, tmp_path / "o.parquet", head.name, f"SNID {victim}", "outside the 500 rows")


def test_overlapping_pointers(tmp_path):
    head, phot = toy(
        snids=("11", "12", "13"), mjds=((1.0, 2.0), (3.0, 4.0), (5.0,)), bands=(("g", "r"), ("i", "z"), ("Y",))
    )
    head["PTROBS_MIN"][1][2] = 2  # SNID 13 now points into SNID 11's rows ...
    head["PTROBS_MAX"][1][2] = 2
    h, p = write_pair(tmp_path, head, phot)
    expect_error(h, p, tmp_path / "o.parquet", h.name, "SNID 13", "overlap", "SNID 11")


def test_range_containing_separator(tmp_path):
    head, phot = toy()
    head["PTROBS_MAX"][1][0] += 1  # SNID 11 swallows its separator row
    head["NOBS"][1][0] += 1
    head["PTROBS_MIN"][1][1] += 1  # keep SNID 12 clear of the overlap check
    head["NOBS"][1][1] -= 1
    h, p = write_pair(tmp_path, head, phot)
    expect_error(h, p, tmp_path / "o.parquet", h.name, "SNID 11", "separator")


@pytest.mark.parametrize("distinct", [5, 3000])  # dictionary path, and its fallback for mostly distinct values
def test_strip_long_columns(distinct):
    rng = np.random.default_rng(distinct)
    vocab = [rng.choice(np.frombuffer(b" ab\x00Z9", np.uint8), size=6).tobytes() for _ in range(distinct)]
    raw = [vocab[i] for i in rng.integers(0, distinct, 6000)]
    b = np.frombuffer(b"".join(raw), np.uint8).reshape(len(raw), 6)
    expected = [r.split(b"\x00", 1)[0].decode().strip(" ") for r in raw]
    assert fits_reader.strip_strings(b).to_pylist() == expected


def test_unsigned_logical_and_multimember_gzip(tmp_path):
    """FITS unsigned integers (TZERO), logical columns, and a gzip file of several members."""
    head, phot = toy()
    head["U16"] = ("1I", np.array([0, 65535], np.uint16), 32768)
    head["U32"] = ("1J", np.array([7, 2**32 - 1], np.uint32), 2**31)
    head["FLAG"] = ("1L", np.array([True, False]))
    h, p = write_pair(tmp_path, head, phot, gz=False)
    assert "TZERO" in repr(fits.getheader(h, 1))
    raw = p.read_bytes()
    p_gz = p.with_name(p.name + ".gz")
    p_gz.write_bytes(gzip.compress(raw[:4000]) + gzip.compress(raw[4000:]))
    t = snana.read_pair(h, p_gz)
    assert t["U16"].to_pylist() == [0, 65535] and t.schema.field("U16").type == pa.uint16()
    assert t["U32"].to_pylist() == [7, 2**32 - 1] and t.schema.field("U32").type == pa.uint32()
    assert t["FLAG"].to_pylist() == [True, False]
    assert t["MJD"].to_pylist() == [[1.0, 2.0, 3.0], [4.0, 5.0]]


def test_zlib_fallback_same_table_and_errors(real_copy, tmp_path, monkeypatch):
    """Without ISA-L the converter inflates with zlib: same table, same clean error on bad gzip."""
    import zlib

    head, phot = real_copy
    fast = snana.read_pair(head, phot)
    monkeypatch.setattr(fits_reader, "_inflate", zlib)
    assert snana.read_pair(head, phot).equals(fast)
    data = phot.read_bytes()
    phot.write_bytes(data[: len(data) // 3])
    with pytest.raises(FitsFormatError, match="truncated"):
        snana.read_pair(head, phot)
