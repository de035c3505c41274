"""Mock generator: real SNANA format, converter round trip, determinism, PHOTFLAG rules, class behaviour."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from wfutil import stage_snakefile

from elasticc_classification.errors import InputError
from elasticc_classification.io import layout, snana
from elasticc_classification.mock import MODELS, generate
from elasticc_classification.mock.generator import write_chunk
from elasticc_classification.mock.models import SPECS

REAL = (
    "elasticc2_train_1percent/ELASTICC2_TRAIN_01_1percent_{}/ELASTICC2_TRAIN_01_1percent_NONIaMODEL0-{:04d}_{}.FITS.gz"
)
REAL_CHUNK = {"SNIb-Templates": 1, "Mdwarf-flare": 31}  # non-empty real chunks
PREFIX = "ELASTICC2_TRAIN_02"
GALACTIC = [
    "Mdwarf-flare",
    "dwarf-nova",
    "uLens-Single_PyLIMA",
    "uLens-Single-GenLens",
    "uLens-Binary",
    "RRL",
    "EB",
    "Cepheid",
    "d-Sct",
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """All 32 models, 2 chunks of ~6 objects each."""
    out = tmp_path_factory.mktemp("mock")
    generate(out, n_chunks=2, objects_per_chunk=6, seed=3, prefix=PREFIX)
    return out


@functools.cache
def read(path: Path) -> tuple[fits.Header, fits.Header, np.ndarray]:
    """(primary header, table header, table rows) of a FITS file, checked by astropy (cached: read-only)."""
    with fits.open(path) as f:
        f.verify("exception")
        return f[0].header.copy(), f[1].header.copy(), np.asarray(f[1].data).copy()


def columns(h1: fits.Header) -> list[tuple[str, str]]:
    return [(h1[f"TTYPE{i}"], h1[f"TFORM{i}"]) for i in range(1, h1["TFIELDS"] + 1)]


# --- layout and format ---------------------------------------------------------------------------
def test_layout_is_the_real_one(sample):
    pairs = layout.find_pairs(sample)
    assert sorted({p.model for p in pairs}) == sorted(MODELS)
    assert {p.chunk for p in pairs} == {"0001", "0002"}
    for p in pairs:
        assert (p.head, p.phot) == layout.chunk_paths(sample, PREFIX, p.model, p.chunk)


@pytest.mark.parametrize(
    "model, real_model",
    [
        ("SNIa-SALT3", "SNIb-Templates"),
        ("TDE", "SNIb-Templates"),
        ("RRL", "Mdwarf-flare"),
        ("Mdwarf-flare", "Mdwarf-flare"),
    ],
)
def test_columns_tforms_and_header_keys_match_real_files(sample, realdata, model, real_model):
    for kind, ext in (("HEAD", "Header"), ("PHOT", "Photometry")):
        h0, h1, data = read(layout.chunk_paths(sample, PREFIX, model, 1)[kind == "PHOT"])
        r0, r1, rdata = read(realdata / REAL.format(real_model, REAL_CHUNK[real_model], kind))
        assert columns(h1) == columns(r1)
        assert h1["EXTNAME"] == r1["EXTNAME"] == ext
        assert data.dtype == rdata.dtype  # same widths, big-endian like the real files
        assert all(data.dtype[n].byteorder in ">|" for n in data.dtype.names)
        assert (h0["NAXIS"], h0["NAXIS1"], h0["BITPIX"]) == (r0["NAXIS"], r0["NAXIS1"], r0["BITPIX"])
        missing = {k for k in r0 if k not in ("COMMENT", "CONTINUE", "LONGSTRN")} - set(h0)
        assert not missing
        assert h0["PHOTFILE"] == layout.chunk_paths(sample, PREFIX, model, 1)[1].name.removesuffix(".gz")
        assert not [k for k in h0 if "DATE" in k]
        if kind == "PHOT":  # separator rows are identical to the real ones, field by field
            mine, real = data[data["MJD"] == -777.0], rdata[rdata["MJD"] == -777.0]
            assert len(mine) and len(real)
            for name in data.dtype.names:
                assert np.all(mine[name] == real[name][0]), name


@pytest.mark.slow
def test_snid_band_separator_and_pointers(sample):
    snids = []
    for p in layout.find_pairs(sample):
        _, _, head = read(p.head)
        _, _, phot = read(p.phot)
        if len(head) == 0:
            assert len(phot) == 0
            continue
        raw = head["SNID"]
        assert all(len(s) == 16 and s.decode().strip().isdigit() for s in raw)  # space padded, as real
        assert np.all(phot["FIELD"][phot["MJD"] > 0] == b"VOID        ")
        snids.extend(int(s) for s in raw)
        assert set(np.unique(phot["BAND"][phot["MJD"] > 0])) <= {b"u ", b"g ", b"r ", b"i ", b"z ", b"Y "}
        lo, hi = head["PTROBS_MIN"].astype(int), head["PTROBS_MAX"].astype(int)
        assert lo[0] == 1 and np.all(head["NOBS"] == hi - lo + 1) and np.all(head["NOBS"] > 0)
        assert np.all(lo[1:] == hi[:-1] + 2)  # one separator row between light curves
        assert len(phot) == hi[-1] + 1
        sep = phot[hi]  # the row after each light curve (0-based index hi)
        assert np.all(sep["MJD"] == -777.0) and np.all(sep["FLUXCAL"] == -777.0) and np.all(sep["BAND"] == b"- ")
        assert np.count_nonzero(phot["MJD"] == -777.0) == len(head)
        for a, b in zip(lo - 1, hi):
            assert np.all(np.diff(phot["MJD"][a:b]) > 0)
        assert np.all(head["SIM_TYPE_INDEX"] == MODELS[p.model])
    assert len(snids) == len(set(snids)) > 200  # unique across the whole sample


def test_every_pair_converts(sample, tmp_path):
    total = 0
    for p in layout.find_pairs(sample):
        t = snana.convert_pair(p.head, p.phot, tmp_path / f"{p.model}_{p.chunk}.parquet")
        _, _, head = read(p.head)
        assert t.num_rows == len(head)
        total += t.num_rows
        if t.num_rows:
            assert set(t["MODEL"].to_pylist()) == {p.model}
            assert [len(x) for x in t["MJD"].to_pylist()] == head["NOBS"].tolist()
            assert t["SNID"].to_pylist() == [int(s) for s in head["SNID"]]
    assert total > 200


def test_galactic_models_have_host_sentinels_like_real_mdwarfs(sample, realdata):
    _, _, real = read(realdata / REAL.format("Mdwarf-flare", 31, "HEAD"))
    host_cols = [c for c in real.dtype.names if c.startswith(("HOSTGAL", "REDSHIFT_"))]
    for model in GALACTIC:
        _, _, head = read(layout.chunk_paths(sample, PREFIX, model, 1)[0])
        assert SPECS[model].galactic and len(head)
        for c in host_cols:
            assert np.all(head[c] == real[c][0]), (model, c)
        assert np.all(head["MWEBV"] > 0)
    # extragalactic: real hosts, redshifts >= 0 where a host is matched
    _, _, head = read(layout.chunk_paths(sample, PREFIX, "SNIa-SALT3", 1)[0])
    matched = head["HOSTGAL_NMATCH"] > 0
    assert matched.any() and np.all(head["REDSHIFT_HELIO"][matched] > 0)
    assert np.all(head["HOSTGAL_MAG_r"][matched] < 30) and np.all(head["HOSTGAL_SNSEP"][matched] >= 0)
    _, _, nohost = read(layout.chunk_paths(sample, PREFIX, "SLSN-I_no_host", 1)[0])
    assert np.all(nohost["HOSTGAL_NMATCH"] == 0) and np.all(nohost["REDSHIFT_HELIO"] == -9.0)


def test_empty_chunks_have_full_columns_and_convert(tmp_path, realdata):
    generate(tmp_path, models=["EB", "KN_K17"], n_chunks=1, objects_per_chunk=0)
    for model, real_model in (("EB", "Mdwarf-flare"), ("KN_K17", "SNIb-Templates")):
        h, p = layout.chunk_paths(tmp_path, PREFIX, model, 1)
        _, h1, head = read(h)
        assert len(head) == 0 and h1["NAXIS2"] == 0
        assert columns(h1) == columns(read(realdata / REAL.format(real_model, 1, "HEAD"))[1])
        assert snana.convert_pair(h, p, tmp_path / f"{model}.parquet").num_rows == 0


# --- determinism ------------------------------------------------------------------------------------
def test_byte_identical_and_chunks_independent(tmp_path):
    a = generate(tmp_path / "a", models=["SNIa-SALT3", "CLAGN"], n_chunks=2, objects_per_chunk=20, seed=11)
    b = generate(tmp_path / "b", models=["SNIa-SALT3", "CLAGN"], n_chunks=2, objects_per_chunk=20, seed=11)
    for pa_, pb in zip(a, b):
        for x, y in zip(pa_, pb):
            assert x.read_bytes() == y.read_bytes()
            raw = x.read_bytes()
            assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08  # mtime 0, no name
    # chunk 2 alone equals chunk 2 of the full run
    alone = write_chunk(tmp_path / "c", PREFIX, "CLAGN", 2, 20, 11)
    assert [p.read_bytes() for p in alone] == [p.read_bytes() for p in a[3]]
    other = generate(tmp_path / "d", models=["SNIa-SALT3"], n_chunks=1, objects_per_chunk=20, seed=12)
    assert other[0][1].read_bytes() != a[0][1].read_bytes()


# --- PHOTFLAG rules ---------------------------------------------------------------------------------
def test_photflags_trigger_on_first_detection(sample):
    """PHOTFLAG as in the real files: a detection probability rising with the SNR (not a hard cut),
    2048 on the first detection only, MJD_TRIGGER / MJD_DETECT_LAST on the first / last detection."""
    n_obj = n_sat = 0
    snrs, dets = [], []
    for p in layout.find_pairs(sample):
        _, _, head = read(p.head)
        _, _, phot = read(p.phot)
        for i, (lo, hi) in enumerate(zip(head["PTROBS_MIN"] - 1, head["PTROBS_MAX"])):
            lc = phot[lo:hi]
            flag = lc["PHOTFLAG"]
            det = (flag & 4096) > 0
            snr = lc["FLUXCAL"] / lc["FLUXCALERR"]
            assert det.any(), (p.model, head["SNID"][i])  # the training set keeps triggered objects only
            snrs.append(snr)
            dets.append(det)
            trig = np.nonzero(flag & 2048)[0]
            assert len(trig) == 1 and trig[0] == np.argmax(det) and flag[trig[0]] & 4096
            assert set(np.unique(flag & ~np.int32(1024))) <= {0, 4096, 6144}
            assert head["MJD_TRIGGER"][i] == np.float32(lc["MJD"][trig[0]])
            assert head["MJD_DETECT_LAST"][i] == np.float32(lc["MJD"][det][-1])
            n_sat += int(np.count_nonzero(flag & 1024))
            n_obj += 1
    assert n_obj > 200 and n_sat < 0.01 * n_obj * 100  # saturation is rare
    snr, det = np.concatenate(snrs), np.concatenate(dets)
    assert det[snr < 1.0].mean() < 0.005 and det[snr > 12.0].mean() > 0.97  # noise never, bright always
    mid = (snr > 4.0) & (snr < 7.0)
    assert 0.1 < det[mid].mean() < 0.8  # real SNIb files: 24 % at SNR 4.5-5, 55 % at 6-7


# --- class behaviour --------------------------------------------------------------------------------
def _lightcurves(out: Path, model: str):
    """(head, list of per-object PHOT slices) of every chunk of ``model`` under ``out``."""
    heads, lcs = [], []
    for p in layout.find_pairs(out):
        if p.model != model:
            continue
        _, _, head = read(p.head)
        _, _, phot = read(p.phot)
        heads.append(head)
        lcs += [phot[lo:hi] for lo, hi in zip(head["PTROBS_MIN"] - 1, head["PTROBS_MAX"])]
    return np.concatenate(heads), lcs


@pytest.fixture(scope="module")
def stats_sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mock_stats")
    models = [
        "SNIa-SALT3",
        "SNIb-Templates",
        "SNIc-Templates",
        "SNII-Templates",
        "SNII-NMF",
        "KN_K17",
        "SLSN-I+host",
        "PISN",
        "TDE",
        "RRL",
        "Cepheid",
        "d-Sct",
        "uLens-Single_PyLIMA",
    ]
    generate(out, models=models, n_chunks=1, objects_per_chunk=150, seed=5)
    return out


def _detected_duration(lcs) -> np.ndarray:
    return np.array([np.ptp(lc["MJD"][(lc["PHOTFLAG"] & 4096) > 0]) for lc in lcs])


def test_transient_durations_differ_as_designed(stats_sample):
    dur = {
        m: np.median(_detected_duration(_lightcurves(stats_sample, m)[1]))
        for m in ("KN_K17", "SNIa-SALT3", "SNII-Templates", "PISN")
    }
    # detected durations: objects near the detection limit (as in the real files) are seen briefly
    assert dur["KN_K17"] < 5 < dur["SNIa-SALT3"] < dur["SNII-Templates"] < dur["PISN"], dur


def _best_period(lc) -> float:
    """Lomb-Scargle period (days) of the r+i fluxes in the first 400 days of a light curve."""
    from astropy.timeseries import LombScargle

    ok = np.isin(lc["BAND"], [b"r ", b"i "]) & (lc["MJD"] > 0) & (lc["MJD"] < lc["MJD"][0] + 400)
    t, y, dy = lc["MJD"][ok], lc["FLUXCAL"][ok], lc["FLUXCALERR"][ok]
    freq = np.linspace(1 / 60.0, 55.0, 30_000)
    return 1.0 / freq[np.argmax(LombScargle(t, y, dy).power(freq, method="fast"))]


@pytest.mark.slow
def test_periodic_classes_have_their_periods(stats_sample):
    med = {}
    for model in ("d-Sct", "RRL", "Cepheid"):
        _, lcs = _lightcurves(stats_sample, model)
        med[model] = np.median([_best_period(lc) for lc in lcs[:12]])
    assert med["d-Sct"] < 0.3 < med["RRL"] < 1.0 < med["Cepheid"] < 50, med


def test_redshifts_overlap_and_tdes_are_nuclear(stats_sample):
    z = {
        m: _lightcurves(stats_sample, m)[0]["REDSHIFT_HELIO"]
        for m in ("SNIa-SALT3", "SNIb-Templates", "SNII-Templates", "KN_K17")
    }
    q = {m: np.percentile(v[v > 0], [10, 90]) for m, v in z.items()}
    for a in ("SNIa-SALT3", "SNIb-Templates", "SNII-Templates"):  # SN redshift ranges overlap
        for b in ("SNIa-SALT3", "SNIb-Templates", "SNII-Templates"):
            assert q[a][0] < q[b][1]
    assert np.median(z["KN_K17"][z["KN_K17"] > 0]) < np.median(z["SNIa-SALT3"][z["SNIa-SALT3"] > 0])
    ia = _lightcurves(stats_sample, "SNIa-SALT3")[0]
    zt, mag = ia["SIM_REDSHIFT_HELIO"], ia["HOSTGAL_MAG_r"]
    host = mag < 900
    assert np.median(mag[host & (zt < 0.3)]) + 1.5 < np.median(mag[host & (zt > 0.6)])  # fainter further away
    spec = ia["HOSTGAL_SPECZ"] > 0
    assert 0.05 < spec.mean() < 0.6 and np.allclose(ia["HOSTGAL_SPECZ"][spec], zt[spec], atol=0.01)
    photo = host & ~spec
    assert 0.02 < np.median(np.abs(ia["HOSTGAL_PHOTOZ"][photo] - zt[photo])) < 0.3  # photo-z errors
    tde = _lightcurves(stats_sample, "TDE")[0]["HOSTGAL_SNSEP"]
    sn = _lightcurves(stats_sample, "SNIa-SALT3")[0]["HOSTGAL_SNSEP"]
    assert np.median(tde[tde >= 0]) < 0.2 < np.median(sn[sn >= 0])


def test_microlensing_is_achromatic_and_symmetric(stats_sample):
    head, lcs = _lightcurves(stats_sample, "uLens-Single_PyLIMA")
    # peak of the magnification in the data sits at SIM_PEAKMJD in every band with detections
    offs = []
    for h, lc in zip(head, lcs):
        det = (lc["PHOTFLAG"] & 4096) > 0
        if det.sum() >= 3:
            offs.append(lc["MJD"][det][np.argmax(lc["FLUXCAL"][det])] - h["SIM_PEAKMJD"])
    assert len(offs) > 20 and abs(np.median(offs)) < 10


def _features(head, lcs, horizon: float) -> np.ndarray:
    """Per band g r i z, from observations up to ``horizon`` days after the first detection: days
    from the first detection to the brightest point, absolute magnitude there (from REDSHIFT_HELIO),
    log flux ratio 15-40 days later to the peak; plus the redshift. NaN where undefined."""
    from elasticc_classification.mock.physics import distmod

    rows = []
    for h, lc in zip(head, lcs):
        t_first = lc["MJD"][np.argmax((lc["PHOTFLAG"] & 4096) > 0)]
        lc = lc[lc["MJD"] <= t_first + horizon]
        z = h["REDSHIFT_HELIO"]
        row = []
        for band in (b"g ", b"r ", b"i ", b"z "):
            s = lc["BAND"] == band
            if s.sum() < 2:
                row += [np.nan] * 3
                continue
            f, t = lc["FLUXCAL"][s], lc["MJD"][s]
            k = np.argmax(f)
            late = f[(t > t[k] + 15) & (t < t[k] + 40)]
            absmag = 27.5 - 2.5 * np.log10(max(f[k], 1.0)) - (distmod(z) if z > 0 else np.nan)
            row += [t[k] - t_first, absmag, np.log10(max(late.mean(), 1.0) / max(f[k], 1.0)) if len(late) else np.nan]
        rows.append(row + [z])
    return np.asarray(rows, dtype=float)


def _knn_accuracy(x: np.ndarray, y: np.ndarray, k: int = 15) -> float:
    fill = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else 0.0 for c in x.T])
    x = np.where(np.isfinite(x), x, fill)  # missing features -> column median
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    test = np.arange(len(y)) % 2 == 1
    d = ((x[test][:, None, :] - x[~test][None, :, :]) ** 2).sum(-1)
    nn = np.argsort(d, axis=1)[:, :k]
    votes = y[~test][nn]
    pred = np.array([np.bincount(v, minlength=3).argmax() for v in votes])
    return float(np.mean(pred == y[test]))


def test_sn_types_confusable_early_separable_later(stats_sample):
    """Realism target: SN Ia / Ib/c / II are hard to tell apart just after the first detection and
    easier weeks later (a simple k-NN on a few light-curve features)."""
    groups = [("SNIa-SALT3",), ("SNIb-Templates", "SNIc-Templates"), ("SNII-Templates", "SNII-NMF")]
    acc = {}
    for horizon in (3.0, 60.0):
        xs, ys = [], []
        for label, models in enumerate(groups):
            for m in models:
                head, lcs = _lightcurves(stats_sample, m)
                keep = slice(0, 150 // len(models))
                xs.append(_features(head[keep], lcs[keep], horizon))
                ys.append(np.full(len(xs[-1]), label))
        x, y = np.concatenate(xs), np.concatenate(ys)
        order = np.random.default_rng(0).permutation(len(y))
        acc[horizon] = _knn_accuracy(x[order], y[order])
    print("k-NN accuracy by days since first detection:", acc)
    assert acc[3.0] < 0.6 and acc[60.0] > acc[3.0] + 0.05, acc


# --- CLI and bad input -------------------------------------------------------------------------------
def test_cli_writes_and_rejects_bad_input(tmp_path):
    run = [sys.executable, "-m", "elasticc_classification.cli", "mock"]
    ok = subprocess.run(
        run + [str(tmp_path / "ok"), "--models", "RRL", "--chunks", "1", "--objects-per-chunk", "3"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert all(p.exists() for p in layout.chunk_paths(tmp_path / "ok", PREFIX, "RRL", 1))
    bad = subprocess.run(run + [str(tmp_path / "bad"), "--models", "SNIa"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown mock model" in bad.stderr and "SNIa-SALT3" in bad.stderr
    assert not (tmp_path / "bad").exists()
    for kwargs in ({"n_chunks": 0}, {"objects_per_chunk": -1}, {"seed": -1}, {"prefix": "a/b"}):
        with pytest.raises(InputError):
            generate(tmp_path / "bad2", models=["RRL"], **kwargs)
    assert not (tmp_path / "bad2").exists()


# --- the Snakemake rule --------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def _snakemake(snakefile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "--snakefile",
        str(snakefile),
        "--cores",
        "2",
        "--configfile",
        str(ROOT / "workflow_tests/tiny_config.yaml"),
        *args,
    ]
    return subprocess.run(cmd, cwd=snakefile.parent, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_rule_mock_feeds_convert_and_matches_the_library(tmp_path):
    results = tmp_path / "results"
    snakefile = stage_snakefile(tmp_path, "mock", "convert")
    r = _snakemake(snakefile, "--config", f"results_dir={results}")
    assert r.returncode == 0, r.stderr[-3000:]
    import yaml

    tiny = yaml.safe_load((ROOT / "workflow_tests/tiny_config.yaml").read_text())["mock"]
    ref = generate(
        tmp_path / "ref",
        models=tiny["models"],
        n_chunks=tiny["chunks"],
        objects_per_chunk=tiny["objects_per_chunk"],
        seed=tiny["seed"],
        prefix=tiny["prefix"],
    )
    for head, phot in ref:
        for f in (head, phot):
            assert (results / "mock_raw" / f.relative_to(tmp_path / "ref")).read_bytes() == f.read_bytes()
    assert len(list(results.glob("parquet/*/*.parquet"))) == len(ref) == len(tiny["models"]) * tiny["chunks"]
    model = tiny["models"][-1]
    assert f"mock {model} chunk {tiny['chunks']:04d}" in (results / f"logs/mock/{model}.log").read_text()
    again = _snakemake(snakefile, "-n", "--config", f"results_dir={results}")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_no_mock_jobs_with_a_real_raw_dir(realdata, tmp_path):
    snakefile = stage_snakefile(tmp_path, "mock", "convert")
    r = _snakemake(
        snakefile,
        "-n",
        "--config",
        f"results_dir={tmp_path / 'results'}",
        f"raw_dir={realdata / 'elasticc2_train_1percent'}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    assert "rule mock" not in out and "convert" in out


@pytest.mark.slow
def test_unknown_mock_model_in_config_stops_the_workflow(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mock: {models: [SNIa], chunks: 1, objects_per_chunk: 2, seed: 1, prefix: P}\n")
    snakefile = stage_snakefile(tmp_path, "mock", "convert")
    r = _snakemake(
        snakefile,
        "-n",
        "--configfile",
        str(ROOT / "workflow_tests/tiny_config.yaml"),
        str(bad),
        "--config",
        f"results_dir={tmp_path / 'results'}",
    )
    assert r.returncode != 0
    assert "unknown model(s) ['SNIa']" in r.stdout + r.stderr


def test_generator_imports_no_heavy_modules(tmp_path):
    """2,560-job workflows pay start-up per job: the mock path never imports torch (nor astropy)."""
    code = (
        "import sys; from elasticc_classification.mock import generate; "
        f"generate({str(tmp_path)!r}, models=['RRL'], n_chunks=1, objects_per_chunk=2); "
        "print(sorted(m for m in ('torch', 'lightning', 'astropy', 'pandas') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
