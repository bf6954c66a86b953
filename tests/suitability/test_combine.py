"""Known-answer tests for combination methods and hard constraints."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from habitat.errors import GridMismatchError, InvalidParameterError
from habitat.suitability.combine import (
    COMBINATION_METHODS,
    apply_constraints,
    combine_memberships,
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    weighted_geometric_mean,
    weighted_linear,
)

A = np.array([[0.0, 0.5], [1.0, np.nan]])
B = np.array([[1.0, 0.5], [0.25, 0.5]])
MU = {"a": A, "b": B}


def test_weighted_linear_hand_values():
    # 0.75 a + 0.25 b
    expected = np.array([[0.25, 0.5], [0.8125, np.nan]])
    assert_allclose(weighted_linear(MU, {"a": 0.75, "b": 0.25}), expected)


def test_weighted_geometric_mean_hand_values():
    # a^0.5 b^0.5
    expected = np.array([[0.0, 0.5], [0.5, np.nan]])
    assert_allclose(weighted_geometric_mean(MU, {"a": 0.5, "b": 0.5}), expected)


def test_fuzzy_operators_hand_values():
    assert_allclose(fuzzy_and(MU), [[0.0, 0.5], [0.25, np.nan]])
    assert_allclose(fuzzy_or(MU), [[1.0, 0.5], [1.0, np.nan]])
    assert_allclose(fuzzy_product(MU), [[0.0, 0.25], [0.25, np.nan]])
    # 1 - (1-a)(1-b)
    assert_allclose(fuzzy_sum(MU), [[1.0, 0.75], [1.0, np.nan]])


def test_fuzzy_gamma_between_product_and_sum():
    assert_allclose(fuzzy_gamma(MU, gamma=0.0), fuzzy_product(MU))
    assert_allclose(fuzzy_gamma(MU, gamma=1.0), fuzzy_sum(MU))
    # cell (0,1): SUM 0.75, PRODUCT 0.25, gamma 0.5 -> sqrt(0.1875)
    assert fuzzy_gamma(MU, gamma=0.5)[0, 1] == pytest.approx(np.sqrt(0.75 * 0.25))


def test_combine_dispatch_matches_direct_calls():
    w = {"a": 0.6, "b": 0.4}
    assert_allclose(combine_memberships(MU, method="weighted_linear", weights=w), weighted_linear(MU, w))
    assert_allclose(combine_memberships(MU, method="fuzzy_gamma", gamma=0.3), fuzzy_gamma(MU, gamma=0.3))
    assert_allclose(combine_memberships(MU, method="fuzzy_or"), fuzzy_or(MU))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "weighted_linear", "weights": {"a": 0.6, "b": 0.6}}, "sum to"),
        ({"method": "weighted_linear", "weights": {"a": 1.0}}, "missing"),
        ({"method": "weighted_linear", "weights": {"a": 1.2, "b": -0.2}}, ">= 0"),
        ({"method": "weighted_linear"}, "needs weights"),
        ({"method": "fuzzy_and", "weights": {"a": 0.5, "b": 0.5}}, "takes no weights"),
        ({"method": "fuzzy_gamma"}, "needs gamma"),
        ({"method": "fuzzy_gamma", "gamma": 1.5}, r"\[0, 1\]"),
        ({"method": "median"}, "unknown combination"),
    ],
)
def test_bad_combination_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        combine_memberships(MU, **kwargs)


def test_membership_outside_unit_interval_rejected():
    with pytest.raises(InvalidParameterError, match="'dist'"):
        fuzzy_and({"dist": np.array([250.0]), "b": np.array([0.5])})


def test_shape_mismatch_rejected():
    with pytest.raises(GridMismatchError):
        fuzzy_or({"a": np.zeros((2, 2)), "b": np.zeros((3, 2))})


def test_constraints_multiply_and_keep_nodata():
    score = np.array([[0.8, 0.6], [np.nan, 0.4]])
    not_built = np.array([[1, 0], [1, 1]], dtype=bool)
    in_range = np.array([[1.0, 1.0], [1.0, np.nan]])
    expected = np.array([[0.8, 0.0], [np.nan, np.nan]])
    assert_allclose(apply_constraints(score, {"not_built": not_built, "in_range": in_range}), expected)
    assert_allclose(apply_constraints(score, {}), score)
    with pytest.raises(InvalidParameterError, match="'fuzzy'"):
        apply_constraints(score, {"fuzzy": np.full((2, 2), 0.5)})


def _block_wise(func, layers):
    shape = next(iter(layers.values())).shape
    out = np.full(shape, -1.0)
    for i in range(0, shape[0], 3):
        for j in range(0, shape[1], 3):
            out[i : i + 3, j : j + 3] = func({k: v[i : i + 3, j : j + 3] for k, v in layers.items()})
    return out


@pytest.mark.parametrize("method", COMBINATION_METHODS)
def test_block_wise_and_dask_equal_whole_array(method):
    rng = np.random.default_rng(7)
    layers = {name: rng.uniform(0, 1, (7, 8)) for name in ("class", "water", "threat")}
    layers["water"][3, 5] = np.nan
    kwargs = {}
    if method.startswith("weighted"):
        kwargs["weights"] = {"class": 0.5, "water": 0.3, "threat": 0.2}
    if method == "fuzzy_gamma":
        kwargs["gamma"] = 0.7

    def func(mu):
        return combine_memberships(mu, method=method, **kwargs)

    whole = func(layers)
    assert_allclose(_block_wise(func, layers), whole, rtol=0, atol=0)
    coords = {"y": np.arange(7.0), "x": np.arange(8.0)}
    lazy = func({k: xr.DataArray(da.from_array(v, chunks=(3, 3)), dims=("y", "x"), coords=coords) for k, v in layers.items()})
    assert isinstance(lazy.data, da.Array)
    assert_allclose(lazy.values, whole, rtol=0, atol=0)


def test_constraints_block_wise_equals_whole():
    rng = np.random.default_rng(3)
    layers = {"score": rng.uniform(0, 1, (7, 8)), "mask": rng.integers(0, 2, (7, 8)).astype(float)}

    def func(d):
        return apply_constraints(d["score"], {"mask": d["mask"]})

    assert_allclose(_block_wise(func, layers), func(layers), rtol=0, atol=0)


def test_dataarrays_on_different_grids_rejected():
    a = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), coords={"y": [0.0, 1.0], "x": [0.0, 1.0]})
    b = a.assign_coords(x=[5.0, 6.0])
    with pytest.raises(GridMismatchError, match="different grids"):
        fuzzy_and({"a": a, "b": b})
