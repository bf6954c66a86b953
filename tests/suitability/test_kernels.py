"""Compiled block kernels against the numpy reference formula: whole arrays, bit for bit."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage

from habitat.errors import CrosswalkError, InvalidParameterError
from habitat.suitability.combine import weighted_linear
from habitat.suitability.membership import cover_within_radius
from habitat.suitability.quality import degradation_quality_block, habitat_quality

RNG = np.random.default_rng(7)


def _reference_disk_mean(a, radius_m, cell_m):
    halo = int(np.ceil(radius_m / cell_m - 1e-9))
    offs = np.arange(-halo, halo + 1)
    footprint = ((offs[:, None] ** 2 + offs[None, :] ** 2) * cell_m**2 <= radius_m**2 * (1 + 1e-12)).astype(float)
    valid = np.isfinite(a)
    total = ndimage.correlate(np.where(valid, a, 0.0), footprint, mode="constant")
    count = ndimage.correlate(valid.astype(float), footprint, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, total / count, np.nan)


@pytest.mark.parametrize("shape, radius_m", [((23, 17), 500.0), ((9, 30), 550.0), ((4, 3), 1000.0), ((12, 12), 100.0)])
def test_disk_mean_equals_ndimage_reference(shape, radius_m):
    a = RNG.random(shape)
    a[RNG.random(shape) < 0.15] = np.nan
    a[0, 0] = 1e-30  # tiny values: sums are exact only in the reference's order
    np.testing.assert_array_equal(cover_within_radius(a, radius_m=radius_m, cell_size_m=100.0),
                                  _reference_disk_mean(a, radius_m, 100.0))


def test_disk_mean_by_hand():
    # radius of one cell: a cross of 5 cells; (0, 1) sees 1, 0, 0 and the NaN below it (not counted)
    a = np.array([[1.0, 0.0, 0.0], [0.5, np.nan, 0.0]])
    expected = np.array([[1.5 / 3, 1.0 / 3, 0.0], [1.5 / 2, np.nan, 0.0]])
    np.testing.assert_array_equal(cover_within_radius(a, radius_m=100.0, cell_size_m=100.0), expected)


def test_disk_mean_chunked_equals_whole():
    a = RNG.random((31, 26))
    a[RNG.random(a.shape) < 0.1] = np.nan
    lazy = xr.DataArray(da.from_array(a, chunks=(7, 5)), dims=("y", "x"))
    chunked = cover_within_radius(lazy, radius_m=500.0, cell_size_m=100.0).values
    np.testing.assert_array_equal(chunked, cover_within_radius(a, radius_m=500.0, cell_size_m=100.0))


THREATS = pd.DataFrame({"threat": ["settlements", "roads", "canals"], "max_dist_m": [2000.0, 1000.0, 300.0],
                        "weight": [1.0, 0.6, 0.4], "decay": ["exponential", "linear", "linear"]})
SENSITIVITY = pd.DataFrame({"lucode": [1, 2, 3, 7], "habitat": [1.0, 0.9, 0.3, 0.0],
                            "settlements": [1.0, 0.9, 0.5, 0.0], "roads": [0.8, 0.8, 0.3, 0.0],
                            "canals": [0.6, 0.6, 0.8, 0.0]})


def test_degradation_quality_block_equals_habitat_quality():
    codes = RNG.choice(np.array([0, 1, 2, 3, 7], dtype=np.uint8), size=(19, 23))
    dist = {n: (RNG.random(codes.shape) * 2500).astype(np.float32) for n in THREATS["threat"]}
    dist["roads"][::4, ::3] = np.nan  # no road anywhere near
    dist["canals"][1, 1] = 300.0  # exactly at the reach: linear impact 0
    got_d, got_q = degradation_quality_block(codes, dist, threat_table=THREATS, sensitivity_table=SENSITIVITY,
                                             half_saturation=0.5, lulc_nodata=0)
    ref = habitat_quality(codes, {}, threat_distances_m=dist, threat_table=THREATS, sensitivity_table=SENSITIVITY,
                          half_saturation=0.5, lulc_nodata=0, cell_size_m=100.0)
    np.testing.assert_array_equal(got_d, ref["degradation"].values)
    np.testing.assert_array_equal(got_q, ref["quality"].values)


def test_degradation_quality_block_by_hand():
    codes = np.array([[1, 0]], dtype=np.uint8)
    dist = {"roads": np.array([[250.0, 0.0]], dtype=np.float32)}
    table = pd.DataFrame({"threat": ["roads"], "max_dist_m": [1000.0], "weight": [2.0], "decay": ["linear"]})
    d, q = degradation_quality_block(codes, dist, threat_table=table, sensitivity_table=SENSITIVITY,
                                     half_saturation=0.5, lulc_nodata=0)
    # D = (1 - 250/1000) * 0.8 * 2/2 = 0.6; Q = 1 * (1 - 0.6^2.5 / (0.6^2.5 + 0.5^2.5))
    np.testing.assert_allclose(d, [[0.6, np.nan]], rtol=1e-15)
    np.testing.assert_allclose(q, [[1 - 0.6**2.5 / (0.6**2.5 + 0.5**2.5), np.nan]], rtol=1e-15)


def test_degradation_quality_block_unknown_code():
    codes = np.array([[1, 5]], dtype=np.uint8)
    dist = {n: np.zeros((1, 2), np.float32) for n in THREATS["threat"]}
    with pytest.raises(CrosswalkError, match=r"\[5\]"):
        degradation_quality_block(codes, dist, threat_table=THREATS, sensitivity_table=SENSITIVITY,
                                  half_saturation=0.5, lulc_nodata=0)


def test_weighted_linear_equals_numpy_sum():
    mus = {k: RNG.random((13, 11)) for k in "abc"}
    mus["b"] = mus["b"].astype(np.float32)
    mus["c"][2, 3] = np.nan
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    expected = np.zeros((13, 11))
    for k in "abc":
        expected += np.float64(w[k]) * mus[k].astype(np.float64)
    np.testing.assert_array_equal(weighted_linear(mus, w), expected)
    lazy = {k: xr.DataArray(da.from_array(v, chunks=4), dims=("y", "x")) for k, v in mus.items()}
    np.testing.assert_array_equal(weighted_linear(lazy, w).values, expected)
    mus["a"][0, 0] = 1.5
    with pytest.raises(InvalidParameterError, match="'a' has values outside"):
        weighted_linear(mus, w)


def test_linear_ramp_and_class_scores_equal_numpy():
    from habitat.suitability.membership import class_scores, fuzzy_linear

    x = (RNG.random((9, 14)) * 1.2 - 0.1).astype(np.float32)
    x[3, 3] = np.nan
    expected = np.clip((x.astype(np.float64) - 0.0) / (0.5 - 0.0), 0.0, 1.0)
    np.testing.assert_array_equal(fuzzy_linear(x, minimum=0.0, maximum=0.5), expected)
    codes = RNG.choice(np.array([0, 1, 2, 9], dtype=np.uint8), size=(9, 14))
    scores = {1: 1.0, 2: 0.9, 9: 0.05}
    expected = np.array([np.nan, 1.0, 0.9, *[np.nan] * 6, 0.05])[codes]
    np.testing.assert_array_equal(class_scores(codes, scores, nodata=0), expected)
    with pytest.raises(CrosswalkError, match=r"\[9\]"):
        class_scores(codes, {1: 1.0, 2: 0.9}, nodata=0)


def test_constraints_equal_numpy_product():
    from habitat.suitability.combine import apply_constraints

    score = RNG.random((8, 6))
    masks = {"floodplain": RNG.random((8, 6)) < 0.7, "not_built": (RNG.random((8, 6)) < 0.9).astype(np.float32)}
    masks["not_built"][0, 0] = np.nan
    expected = score * masks["floodplain"].astype(np.float64) * masks["not_built"].astype(np.float64)
    np.testing.assert_array_equal(apply_constraints(score, masks), expected)
    masks["not_built"][1, 1] = 0.5
    with pytest.raises(InvalidParameterError, match="'not_built' holds values other than 0/1"):
        apply_constraints(score, masks)


def test_add_weighted_reports_the_first_value_outside_the_range():
    from habitat.suitability._kernels import add_weighted

    out = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    mu = np.array([[0.0, np.nan, 1.0], [-0.25, 1.5, 1.0 + 1e-12]])
    bad = add_weighted(out, mu, 0.5, 1e-9)
    assert bad == -0.25  # raster order; NaN and 1 + 1e-12 (within the tolerance) are not flagged
    np.testing.assert_array_equal(out, [[0.5, np.nan, 1.0], [0.375, 1.25, 0.5 + 0.5 * (1.0 + 1e-12)]])
    assert np.isnan(add_weighted(np.zeros(3), np.array([0.0, np.nan, 1.0]), 1.0, 1e-9))


def test_multiply_mask_reports_the_first_value_other_than_0_1():
    from habitat.suitability._kernels import multiply_mask

    out = np.full(5, 0.8)
    assert np.isnan(multiply_mask(out, np.array([1.0, 0.0, np.nan, 1.0, 0.0])))
    np.testing.assert_array_equal(out, [0.8, 0.0, np.nan, 0.8, 0.0])
    assert multiply_mask(np.ones(4), np.array([1.0, 2.0, np.nan, 0.5])) == 2.0
    assert multiply_mask(np.ones(3), np.array([1, 3, 0], dtype=np.uint8)) == 3.0


def test_where_valid_equals_numpy_where_and_cast():
    from habitat.suitability._kernels import where_valid

    values = RNG.random((6, 7)) * 3 - 1
    values[1, 1], values[2, 2] = np.nan, -np.nan
    valid = RNG.random((6, 7)) < 0.7
    for dtype in (np.float32, np.float64):
        out = np.empty(values.shape, dtype=dtype)
        where_valid(values, valid, out)
        expected = np.where(valid, values, np.nan).astype(dtype)
        # same bits, NaNs included (outputs must stay byte-identical)
        np.testing.assert_array_equal(out.view(f"u{out.itemsize}"), expected.view(f"u{out.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
def test_exponential_decay_equals_numpy_formula(dtype):
    from habitat.suitability.membership import exponential_decay

    a = (RNG.random((13, 17)) * 5000 - 500).astype(dtype)
    if np.dtype(dtype).kind == "f":
        a[RNG.random(a.shape) < 0.1] = np.nan
        a[0, :4] = [-0.0, np.inf, -np.inf, 1e-310]
    for scale_m in (1000.0, 3.0, 1e-300):
        expected = np.exp(-np.maximum(a.astype(np.float64), 0.0) / scale_m)
        np.testing.assert_array_equal(exponential_decay(a, scale_m=scale_m), expected)


def test_exponential_decay_by_hand():
    from habitat.suitability.membership import exponential_decay

    got = exponential_decay(np.array([[0.0, 500.0], [-20.0, np.nan]], dtype=np.float32), scale_m=500.0)
    np.testing.assert_array_equal(got, [[1.0, np.exp(-1.0)], [1.0, np.nan]])


def test_disk_mean_of_float32_equals_widened_float64():
    a = RNG.random((29, 21)).astype(np.float32)
    a[RNG.random(a.shape) < 0.15] = np.nan
    got = cover_within_radius(a, radius_m=500.0, cell_size_m=100.0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, _reference_disk_mean(a.astype(np.float64), 500.0, 100.0))


@pytest.mark.parametrize("shape", [(), (0,), (7,), (5, 6), (2, 3, 4)])
def test_linear_ramp_of_any_shape_and_of_a_strided_view(shape):
    from habitat.suitability.membership import fuzzy_linear

    a = np.asarray(RNG.random(shape) * 14 - 2)
    expected = np.clip((a.astype(np.float64) - 0.0) / (10.0 - 0.0), 0, 1)
    np.testing.assert_array_equal(fuzzy_linear(a, minimum=0.0, maximum=10.0), expected)
    big = RNG.random((12, 15)) * 14 - 2
    big[3, 4] = np.nan
    view = big[2:-3, 1:-4]  # not contiguous: read in place
    np.testing.assert_array_equal(fuzzy_linear(view, minimum=0.0, maximum=10.0), np.clip(view / 10.0, 0, 1))


def test_degradation_quality_block_with_mostly_zero_degradation_equals_habitat_quality():
    """D = 0 on most cells (threats out of reach): the stand-in base of the power gives the same
    bits as numpy's ``D ** 2.5`` on the zeros; nodata cells stay NaN."""
    codes = RNG.choice(np.array([0, 1, 2, 3, 7], dtype=np.uint8), size=(17, 29))
    dist = {n: (RNG.random(codes.shape) * 2500 + 2100).astype(np.float32) for n in THREATS["threat"]}
    dist["settlements"][::3, ::2] = (RNG.random(dist["settlements"][::3, ::2].shape) * 1500).astype(np.float32)
    got_d, got_q = degradation_quality_block(codes, dist, threat_table=THREATS, sensitivity_table=SENSITIVITY,
                                             half_saturation=0.5, lulc_nodata=0)
    assert (got_d == 0).mean() > 0.5 and np.isnan(got_d).any()
    ref = habitat_quality(codes, {}, threat_distances_m=dist, threat_table=THREATS, sensitivity_table=SENSITIVITY,
                          half_saturation=0.5, lulc_nodata=0, cell_size_m=100.0)
    np.testing.assert_array_equal(got_d, ref["degradation"].values)
    np.testing.assert_array_equal(got_q, ref["quality"].values)
