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
