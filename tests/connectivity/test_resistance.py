"""Tests for habitat.connectivity.resistance."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.resistance import (
    apply_barrier,
    linear_resistance,
    negative_exponential_resistance,
    resistance_from_suitability,
    typical_resistance,
)
from habitat.errors import InvalidParameterError


def test_linear_resistance_full_grid():
    h = np.array([[0.0, 0.25], [1.0, np.nan]])
    assert_allclose(linear_resistance(h), [[100.0, 75.25], [1.0, np.inf]])
    assert_allclose(linear_resistance(h, min_resistance=0.0, max_resistance=10.0), [[10, 7.5], [0, np.inf]])


def test_negative_exponential_matches_keeley_formula_values():
    # R = 100 - 99 (1 - exp(-c h)) / (1 - exp(-c)), evaluated by hand for c = 8.
    h = np.array([[0.0, 0.25], [0.5, 1.0]])
    assert_allclose(
        negative_exponential_resistance(h, shape=8.0),
        [[100.0, 14.36946719686182], [2.780634786247063, 1.0]],
        rtol=1e-12,
    )
    assert_allclose(
        negative_exponential_resistance(np.array([0.5]), shape=1.0), [38.37652621101639], rtol=1e-12
    )


def test_negative_exponential_tends_to_linear_for_small_shape():
    h = np.linspace(0, 1, 5)
    assert_allclose(negative_exponential_resistance(h, shape=1e-9), linear_resistance(h), rtol=1e-7)
    assert_allclose(negative_exponential_resistance(h, shape=0.0), linear_resistance(h))


def test_nan_suitability_is_impassable_and_dataarray_kept():
    da = xr.DataArray(
        np.array([[np.nan, 1.0]]), dims=("y", "x"), coords={"y": [0.5], "x": [0.5, 1.5]}, attrs={"units": "1"}
    )
    out = resistance_from_suitability(da, transform="negative_exponential")
    assert isinstance(out, xr.DataArray)
    assert_array_equal(out.values, [[np.inf, 1.0]])
    assert out.attrs == {"units": "1"}
    assert_array_equal(out.x.values, [0.5, 1.5])


def test_dispatch_equals_direct_calls():
    h = np.array([0.1, 0.9])
    assert_array_equal(resistance_from_suitability(h), linear_resistance(h))
    assert_array_equal(
        resistance_from_suitability(h, transform="negative_exponential", shape=4.0),
        negative_exponential_resistance(h, shape=4.0),
    )


def test_apply_barrier_rules():
    r = np.array([[1.0, 5.0, 800.0], [np.inf, 2.0, 3.0]])
    canal = np.array([[0, 1, 1], [1, np.nan, 0]], dtype=float)
    assert_array_equal(apply_barrier(r, canal, resistance_value=500.0), [[1, 500, 800], [np.inf, 2, 3]])
    assert_array_equal(
        apply_barrier(r, canal, resistance_value=500.0, rule="set"), [[1, 500, 500], [500, 2, 3]]
    )
    built_up = np.array([[True, False, False], [False, False, True]])
    assert_array_equal(apply_barrier(r, built_up), [[np.inf, 5, 800], [np.inf, 2, np.inf]])
    assert r[0, 0] == 1.0  # input untouched


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: linear_resistance(np.array([1.5])), "suitability"),
        (lambda: linear_resistance(np.array([0.5]), min_resistance=5, max_resistance=1), "min_resistance"),
        (lambda: negative_exponential_resistance(np.array([0.5]), shape=-1), "shape"),
        (lambda: resistance_from_suitability(np.array([0.5]), transform="cubic"), "transform"),
        (lambda: apply_barrier(np.ones(2), np.ones(3, dtype=bool)), "shape"),
        (lambda: apply_barrier(np.ones(2), np.ones(2, dtype=bool), resistance_value=0), "resistance_value"),
        (lambda: apply_barrier(np.ones(2), np.ones(2, dtype=bool), rule="min"), "rule"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_shape_ln_ratio_is_the_geometric_interpolation():
    # c = ln(1000) on 1..1000: R = 1000^(1 - h), the rescaled 1000^-HS of Mateo-Sanchez et al. 2015.
    h = np.array([0.0, 0.1, 0.5, 0.9, 1.0, np.nan])
    got = negative_exponential_resistance(h, shape=np.log(1000.0), min_resistance=1.0, max_resistance=1000.0)
    expected = [1000.0, 10 ** 2.7, 10 ** 1.5, 10 ** 0.3, 1.0, np.inf]
    assert_allclose(got, expected, rtol=1e-12)
    # Each 0.1 of suitability lost doubles the resistance (1000^0.1 = 1.995).
    assert got[0] / got[1] == pytest.approx(10 ** 0.3, rel=1e-12)
    # Any range: R_min^h R_max^(1 - h).
    got = negative_exponential_resistance(h[:5], shape=np.log(200 / 2.0), min_resistance=2.0, max_resistance=200.0)
    assert_allclose(got, 2.0 ** h[:5] * 200.0 ** (1 - h[:5]), rtol=1e-12)


def test_typical_resistance_is_a_quantile_over_habitat_cells():
    r = np.array([[1.0, 3.0, 2.0, 900.0], [np.inf, np.nan, 5.0, 4.0]])
    patches = np.array([[1, 2, 2, 0], [1, 1, 3, 0]])
    # Habitat cells with finite resistance: 1, 3, 2, 5 -> median 2.5, minimum 1, maximum 5.
    assert typical_resistance(r, patches) == 2.5
    assert typical_resistance(r, patches > 0, quantile=0.0) == 1.0
    assert typical_resistance(r, patches, quantile=1.0) == 5.0
    with pytest.raises(InvalidParameterError, match="habitat"):
        typical_resistance(r, np.zeros((2, 4), dtype=int))
    with pytest.raises(InvalidParameterError, match="quantile"):
        typical_resistance(r, patches, quantile=2)
    with pytest.raises(InvalidParameterError, match="shape"):
        typical_resistance(r, patches[:1])


@pytest.mark.parametrize("quantile", [0.0, 0.3, 0.5, 1.0])
def test_typical_resistance_is_masked_quantile_and_numpy_quantile(quantile):
    # one implementation: typical_resistance reads through two_grid.masked_quantile, whose
    # answer is numpy's own quantile of the selected cells, for arrays, DataArrays and dask
    import dask.array as da
    from habitat.connectivity.two_grid import masked_quantile
    rng = np.random.default_rng(3)
    r = rng.choice([1.0, 2.5, 7.0, 40.0, np.inf, np.nan], size=(9, 11))
    patches = rng.integers(0, 4, size=(9, 11))
    expected = float(np.quantile(r[(patches > 0) & np.isfinite(r)], quantile))
    assert typical_resistance(r, patches, quantile=quantile) == expected
    assert masked_quantile(r, patches, quantile) == expected
    assert typical_resistance(xr.DataArray(r), xr.DataArray(patches > 0), quantile=quantile) == expected
    assert typical_resistance(da.from_array(r, chunks=4), da.from_array(patches, chunks=4),
                              quantile=quantile) == expected
