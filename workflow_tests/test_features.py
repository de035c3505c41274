"""Features, static features, labels and split of features.build_shard."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st
from lightcurve_tables import DET, make_table, random_curve

from elasticc_classification import config
from elasticc_classification.errors import InputError
from elasticc_classification.features import sky
from elasticc_classification.features.features import build_shard
from elasticc_classification.features.sky import galactic, sky_flags
from elasticc_classification.features.split import assign_split
from elasticc_classification.features.taxonomy import Taxonomy

TAX = Taxonomy.load(None)


def one_curve(snid=7, model="SNIb-Templates"):
    return {
        "SNID": snid, "MODEL": model,
        "MJD": [60010.0, 60011.5, 60013.0, 60020.0],
        "BAND": ["g", "Y", "u ", "z"],
        "PHOTFLAG": [0, DET | 2048, DET, 0],
        "FLUXCAL": [-3.0, 150.0, 40.0, 5.0],
        "FLUXCALERR": [2.0, 5.0, 4.0, 3.0],
    }  # fmt: skip


def test_asinh_features_of_a_handmade_curve():
    sh = build_shard(make_table([one_curve()]), {}, TAX)
    assert sh.meta["feature_names"] == [
        "time_days",
        "detection",
        "asinh_fluxcal",
        "asinh_fluxcalerr",
        "band_u",
        "band_g",
        "band_r",
        "band_i",
        "band_z",
        "band_Y",
    ]
    x = sh.light_curve(0)
    assert x.shape == (3, 10)  # the last observation is a non-detection after the last detection
    np.testing.assert_allclose(x[:, 0], [0.0, 1.5, 3.0])
    np.testing.assert_array_equal(x[:, 1], [0, 1, 1])
    np.testing.assert_allclose(x[:, 2], np.arcsinh([-3.0, 150.0, 40.0]), rtol=1e-6)
    np.testing.assert_allclose(x[:, 3], np.arcsinh([2.0, 5.0, 4.0]), rtol=1e-6)
    np.testing.assert_array_equal(x[:, 4:], [[0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0]])
    assert sh.t0[0] == 60010.0 and sh.first_det[0] == 1
    assert sh.leaf[0] == TAX.index["SNIb/c"] and sh.snid[0] == "7" and sh.model[0] == "SNIb-Templates"


def test_linear_encoding():
    sh = build_shard(make_table([one_curve()]), {"encoding": "linear"}, TAX)
    assert sh.meta["feature_names"] == ["time_days", "detection", "fluxcal_1000", "fluxcalerr_1000", "wavelength_um"]
    x = sh.light_curve(0)
    np.testing.assert_allclose(x[:, 2], [-0.003, 0.15, 0.04], rtol=1e-6)
    np.testing.assert_allclose(x[:, 4], [0.476, 1.015, 0.36], rtol=1e-6)


def test_static_sentinels_absent_columns_and_flags():
    curves = [one_curve(1), one_curve(2), one_curve(3)]
    static = {
        "MWEBV": [0.05, -9.0, 0.1],
        "HOSTGAL_SPECZ": [-99.0, 0.3, 999.0],
        "HOSTGAL_MAG_u": [-999.0, -9999.0, 22.5],
    }
    cfg = {"static": ["MWEBV", "HOSTGAL_SPECZ", "HOSTGAL_MAG_u", "NOT_IN_CHUNK"]}
    sh = build_shard(make_table(curves, static), cfg, TAX)
    assert sh.meta["static_names"] == [
        "MWEBV",
        "HOSTGAL_SPECZ",
        "HOSTGAL_MAG_u",
        "NOT_IN_CHUNK",
        "LOW_GALACTIC_LATITUDE",
        "IN_DDF",
    ]
    s = sh.static
    np.testing.assert_allclose(s[:, 0], [0.05, np.nan, 0.1], rtol=1e-6)
    np.testing.assert_allclose(s[:, 1], [np.nan, 0.3, np.nan], rtol=1e-6)
    np.testing.assert_allclose(s[:, 2], [np.nan, np.nan, 22.5], rtol=1e-6)
    assert np.isnan(s[:, 3]).all()
    assert sh.meta["counts"]["static_columns_absent"] == 1
    assert sh.meta["counts"]["static_values_missing"] == 5 + 3
    sh2 = build_shard(make_table(curves, static), dict(cfg, flags=False), TAX)
    assert sh2.static.shape == (3, 4)


def test_non_numeric_static_column_is_an_input_error():
    t = make_table([one_curve()]).append_column("HOSTGAL_SPECZ", pa.array(["abc"]))
    with pytest.raises(InputError, match="HOSTGAL_SPECZ"):
        build_shard(t, {"static": ["HOSTGAL_SPECZ"]}, TAX)


def test_galactic_coordinates_match_astropy():
    rng = np.random.default_rng(1)
    ra, dec = rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-1, 1, 200)))
    l, b = galactic(ra, dec)
    g = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs").galactic
    np.testing.assert_allclose(b, g.b.deg, atol=1e-5)
    dl = (l - g.l.deg + 180) % 360 - 180
    assert np.abs(dl * np.cos(np.radians(b))).max() < 1e-5


def test_sky_flags_at_field_centres_and_plane():
    names = list(sky.DDF_GALACTIC)
    lb = np.array([sky.DDF_GALACTIC[n] for n in names])
    # centres, 1.5 deg away in latitude (inside), 2.0 deg away (outside)
    l = np.concatenate([lb[:, 0]] * 3)
    b = np.concatenate([lb[:, 1], lb[:, 1] + 1.5 * np.sign(-lb[:, 1]), lb[:, 1] + 2.0 * np.sign(-lb[:, 1])])
    c = SkyCoord(l=l * u.deg, b=b * u.deg, frame="galactic").icrs
    f = sky_flags(c.ra.deg, c.dec.deg)
    assert f[:, 1].tolist() == [1.0] * 8 + [0.0] * 4
    assert f[:, 0].tolist() == [0.0] * 12  # all DDFs are far from the plane
    c2 = SkyCoord(l=[30, 30, 200] * u.deg, b=[14.0, -16.0, -5.0] * u.deg, frame="galactic").icrs
    f2 = sky_flags(c2.ra.deg, c2.dec.deg)
    assert f2[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert np.isnan(sky_flags(np.array([np.nan]), np.array([0.0]))).all()


def test_split_fractions_and_determinism():
    snids = np.arange(1, 40001)
    s = assign_split(snids, 42, 0.3, 0.05)
    frac = np.bincount(s, minlength=3) / len(s)
    assert abs(frac[2] - 0.3) < 0.01
    assert abs(frac[1] - 0.7 * 0.05) < 0.005
    assert np.array_equal(s, assign_split(snids, 42, 0.3, 0.05))
    assert np.array_equal(s, assign_split(snids.astype(str), 42, 0.3, 0.05))  # int or string SNID alike
    other = assign_split(snids, 43, 0.3, 0.05)
    assert 0.3 < np.mean(other != s) < 0.6


@settings(max_examples=40, deadline=None)
@given(
    snids=st.lists(
        st.one_of(st.integers(0, 10**15), st.text("abcdXYZ0123456789_-", min_size=1, max_size=20)),
        min_size=1,
        max_size=60,
        unique_by=str,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    seed=st.integers(0, 2**31),
)
def test_split_stable_under_rechunking(snids, cuts, seed):
    snids = [str(s) for s in snids]
    whole = dict(zip(snids, assign_split(np.array(snids, dtype=object), seed, 0.3, 0.2)))
    bounds = sorted({0, len(snids), *[min(c, len(snids)) for c in cuts]})
    order = np.random.default_rng(seed).permutation(len(snids))  # job order / chunk membership shuffled
    shuffled = [snids[k] for k in order]
    for a, b in zip(bounds[:-1], bounds[1:]):
        part = shuffled[a:b]
        got = assign_split(np.array(part, dtype=object), seed, 0.3, 0.2)
        assert [whole[s] for s in part] == got.tolist()


def test_shard_split_stable_under_rechunking():
    rng = np.random.default_rng(3)
    curves = [random_curve(rng, int(s), 30) for s in rng.choice(10**9, 40, replace=False)]
    whole = build_shard(make_table(curves), {}, TAX)
    parts = [build_shard(make_table(curves[a:b]), {}, TAX) for a, b in ((0, 7), (7, 25), (25, 40))]
    got = {s: p for sh in parts for s, p in zip(sh.snid, sh.split)}
    assert {s: p for s, p in zip(whole.snid, whole.split)} == got
    assert sum(len(p) for p in parts) == len(whole)


def test_labels_unknown_model():
    t = make_table([one_curve(1), one_curve(2, "NOT-A-MODEL")])
    with pytest.raises(InputError, match="NOT-A-MODEL.*known models.*SNIb-Templates"):
        build_shard(t, {}, TAX, source="chunk.parquet")
    sh = build_shard(t, {}, TAX, require_labels=False)
    assert sh.leaf.tolist() == [TAX.index["SNIb/c"], -1]
    assert sh.meta["counts"]["objects_unlabelled"] == 1
    sh = build_shard(t.drop_columns(["MODEL"]), {}, None, require_labels=False)
    assert sh.leaf.tolist() == [-1, -1] and sh.meta["taxonomy"] is None


@pytest.mark.parametrize("column", ["SNID", "MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR", "MODEL"])
def test_missing_required_column(column):
    t = make_table([one_curve()]).drop_columns([column])
    with pytest.raises(InputError, match=f"{column}.*rerun convert"):
        build_shard(t, {}, TAX, source="chunk.parquet")


def test_scalar_phot_column_and_ragged_lists():
    t = make_table([one_curve()])
    i = t.column_names.index("FLUXCAL")
    with pytest.raises(InputError, match="chunk.parquet: column FLUXCAL is not a list column"):
        build_shard(t.set_column(i, "FLUXCAL", pa.array([1.0])), {}, TAX, source="chunk.parquet")
    short = pa.array([[1.0, 2.0, 3.0]], pa.list_(pa.float32()))
    with pytest.raises(InputError, match="row 0: column FLUXCAL has a different number of observations"):
        build_shard(t.set_column(i, "FLUXCAL", short), {}, TAX)


def test_unknown_band_and_bad_config():
    c = one_curve()
    c["BAND"] = ["g", "VR", "r", "r"]
    with pytest.raises(InputError, match="VR"):
        build_shard(make_table([c]), {}, TAX)
    with pytest.raises(InputError, match="unknown keys.*keepp"):
        build_shard(make_table([one_curve()]), {"keepp": "all"}, TAX)
    with pytest.raises(InputError, match="encoding"):
        build_shard(make_table([one_curve()]), {"encoding": "log"}, TAX)


def test_metadata_and_empty_table():
    sh = build_shard(make_table([one_curve()]), {}, TAX)
    assert sh.meta["taxonomy"] == TAX.to_dict()
    assert sh.meta["preprocess"] == config.rule_settings(config.section_defaults("tensorize"), "tensorize", "tensorize")
    assert sh.meta["counts"]["objects_kept"] == 1
    empty = build_shard(make_table([one_curve()]).slice(0, 0), {}, TAX)
    assert len(empty) == 0 and empty.x.shape == (0, 10) and empty.static.shape == (0, 20)


def test_dictionary_coded_bands_equal_plain_strings():
    t = make_table([one_curve(1), one_curve(2)])
    i = t.column_names.index("BAND")
    band = t.column("BAND").combine_chunks()
    coded = pa.ListArray.from_arrays(band.offsets, band.values.dictionary_encode())
    a = build_shard(t, {}, TAX)
    b = build_shard(t.set_column(i, "BAND", coded), {}, TAX)
    np.testing.assert_array_equal(a.x, b.x)
    # an unknown value in the dictionary that no observation uses is harmless
    extra = pa.DictionaryArray.from_arrays(coded.values.indices, pa.array(["g", "Y", "u ", "z", "VR"]))
    c = build_shard(t.set_column(i, "BAND", pa.ListArray.from_arrays(band.offsets, extra)), {}, TAX)
    np.testing.assert_array_equal(a.x, c.x)
    nulls = pa.array([["g", None, "r", "r"], ["g", "g", "r", "r"]], pa.list_(pa.string()))
    with pytest.raises(InputError, match="<null>"):
        build_shard(t.set_column(i, "BAND", nulls), {}, TAX)
