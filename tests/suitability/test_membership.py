"""Known-answer tests for the fuzzy membership functions."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from habitat.errors import CrosswalkError, HabitatError, InvalidParameterError
from habitat.suitability.membership import (
    apply_membership,
    class_scores,
    cover_within_radius,
    exponential_decay,
    fuzzy_gaussian,
    fuzzy_large,
    fuzzy_linear,
    fuzzy_near,
    fuzzy_small,
)

E = math.e


def test_fuzzy_large_at_defining_points():
    x = np.array([0.0, 5.0, 10.0, 20.0, np.nan])
    # 1/(1+(x/10)^-2): x=5 -> 1/(1+4); x=10 -> 1/2; x=20 -> 1/(1+1/4)
    assert_allclose(fuzzy_large(x, spread=2.0, midpoint=10.0), [0.0, 0.2, 0.5, 0.8, np.nan])


def test_fuzzy_small_at_defining_points():
    x = np.array([0.0, 5.0, 10.0, 20.0, np.nan])
    assert_allclose(fuzzy_small(x, spread=2.0, midpoint=10.0), [1.0, 0.8, 0.5, 0.2, np.nan])


def test_fuzzy_gaussian_at_defining_points():
    x = np.array([0.0, 2.0, 3.0, 4.0])
    assert_allclose(fuzzy_gaussian(x, spread=0.5, midpoint=2.0), [E**-2, 1.0, E**-0.5, E**-2])


def test_fuzzy_near_at_defining_points():
    x = np.array([0.0, 2.0, 4.0, 6.0])
    # 1/(1+0.25 (x-2)^2)
    assert_allclose(fuzzy_near(x, spread=0.25, midpoint=2.0), [0.5, 1.0, 0.5, 0.2])


def test_fuzzy_linear_increasing_and_decreasing():
    x = np.array([50.0, 100.0, 200.0, 300.0, 400.0])
    assert_allclose(fuzzy_linear(x, minimum=100.0, maximum=300.0), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert_allclose(fuzzy_linear(x, minimum=300.0, maximum=100.0), [1.0, 1.0, 0.5, 0.0, 0.0])


def test_exponential_decay_at_multiples_of_scale():
    d = np.array([0.0, 100.0, 300.0, np.nan])
    assert_allclose(exponential_decay(d, scale_m=100.0), [1.0, E**-1, E**-3, np.nan])


def test_class_scores_table_and_nodata():
    classes = np.array([[1, 2, 3], [255, 1, 2]])
    table = pd.DataFrame({"code": [1, 2, 3], "score": [1.0, 0.6, 0.0]})
    expected = np.array([[1.0, 0.6, 0.0], [np.nan, 1.0, 0.6]])
    assert_allclose(class_scores(classes, table, nodata=255), expected)
    assert_allclose(class_scores(classes, {1: 1.0, 2: 0.6, 3: 0.0}, nodata=255), expected)


def test_class_scores_unknown_code_names_it():
    with pytest.raises(CrosswalkError, match=r"\[7\]"):
        class_scores(np.array([1, 7]), {1: 1.0})


@pytest.mark.parametrize(
    ("func", "kwargs"),
    [
        (fuzzy_large, {"spread": 0.0, "midpoint": 1.0}),
        (fuzzy_small, {"spread": 1.0, "midpoint": -1.0}),
        (fuzzy_gaussian, {"spread": -1.0, "midpoint": 0.0}),
        (fuzzy_near, {"spread": 1.0, "midpoint": float("nan")}),
        (fuzzy_linear, {"minimum": 1.0, "maximum": 1.0}),
        (exponential_decay, {"scale_m": 0.0}),
    ],
)
def test_bad_parameters_raise_user_error(func, kwargs):
    with pytest.raises(InvalidParameterError):
        func(np.zeros(2), **kwargs)


def test_class_score_out_of_range_rejected():
    with pytest.raises(InvalidParameterError, match="outside"):
        class_scores(np.array([1]), {1: 1.5})


def test_apply_membership_dispatch_and_errors():
    x = np.array([0.0, 10.0])
    assert_allclose(apply_membership(x, "small", {"spread": 1, "midpoint": 10}), fuzzy_small(x, spread=1, midpoint=10))
    assert_allclose(apply_membership(np.array([1, 2]), "class_scores", {"scores": {1: 0.2, 2: 0.4}}), [0.2, 0.4])
    with pytest.raises(InvalidParameterError, match="unknown membership"):
        apply_membership(x, "sigmoid", {})
    with pytest.raises(InvalidParameterError, match="bad parameters"):
        apply_membership(x, "large", {"spread": 1})
    with pytest.raises(HabitatError):
        apply_membership(x, "class_scores", {})


def _per_cell_cases():
    rng = np.random.default_rng(42)
    dist = rng.uniform(0, 2000, (7, 8))
    dist[2, 3] = np.nan
    classes = rng.integers(1, 4, (7, 8))
    return [
        (dist, lambda a: fuzzy_large(a, spread=2.0, midpoint=500.0)),
        (dist, lambda a: fuzzy_small(a, spread=3.0, midpoint=800.0)),
        (dist, lambda a: fuzzy_gaussian(a, spread=1e-6, midpoint=1000.0)),
        (dist, lambda a: fuzzy_near(a, spread=1e-5, midpoint=300.0)),
        (dist, lambda a: fuzzy_linear(a, minimum=1500.0, maximum=200.0)),
        (dist, lambda a: exponential_decay(a, scale_m=400.0)),
        (classes, lambda a: class_scores(a, {1: 1.0, 2: 0.5, 3: 0.1})),
    ]


@pytest.mark.parametrize("case", range(7))
def test_per_cell_block_wise_equals_whole_array(case):
    values, func = _per_cell_cases()[case]
    whole = func(values)
    blocks = np.full(values.shape, -1.0)
    for i in range(0, values.shape[0], 3):
        for j in range(0, values.shape[1], 3):
            blocks[i : i + 3, j : j + 3] = func(values[i : i + 3, j : j + 3])
    assert_allclose(blocks, whole, rtol=0, atol=0)
    # dask-backed DataArray with (3, 3) chunks: lazy, same values, coords kept
    arr = xr.DataArray(da.from_array(values, chunks=(3, 3)), dims=("y", "x"), coords={"y": np.arange(7), "x": np.arange(8)})
    lazy = func(arr)
    assert isinstance(lazy.data, da.Array)
    assert_allclose(lazy.values, whole, rtol=0, atol=0)
    assert list(lazy.coords["x"].values) == list(range(8))


def test_cover_within_radius_hand_example():
    # radius 1 cell: the 4-neighbour cross plus centre; cells off-grid are not counted
    cover = np.array(
        [
            [1.0, 0.0, 0.0],
            [1.0, 1.0, np.nan],
            [0.0, 0.0, 0.0],
        ]
    )
    expected = np.array(
        [
            [(1 + 0 + 1) / 3, (0 + 1 + 0 + 1) / 4, (0 + 0) / 2],
            [(1 + 1 + 1 + 0) / 4, (1 + 0 + 1 + 0) / 4, np.nan],
            [(0 + 1 + 0) / 3, (0 + 1 + 0 + 0) / 4, (0 + 0) / 2],
        ]
    )
    assert_allclose(cover_within_radius(cover, radius_m=10.0, cell_size_m=10.0), expected)


def test_cover_within_radius_diagonal_included_at_sqrt2():
    cover = np.zeros((3, 3))
    cover[0, 0] = 1.0
    out = cover_within_radius(cover, radius_m=15.0, cell_size_m=10.0)  # 1.5 cells: full 3x3 window
    assert out[1, 1] == pytest.approx(1 / 9)


def test_cover_within_radius_chunked_equals_whole():
    rng = np.random.default_rng(1)
    cover = rng.uniform(0, 1, (10, 11))
    cover[4, 4] = np.nan
    whole = cover_within_radius(cover, radius_m=25.0, cell_size_m=10.0)
    halo = 3
    padded = np.pad(cover, halo, constant_values=np.nan)
    blocks = np.full(cover.shape, -1.0)
    for i in range(0, cover.shape[0], 3):
        for j in range(0, cover.shape[1], 3):
            win = padded[i : i + 3 + 2 * halo, j : j + 3 + 2 * halo]
            res = cover_within_radius(win, radius_m=25.0, cell_size_m=10.0)
            h, w = cover[i : i + 3, j : j + 3].shape
            blocks[i : i + h, j : j + w] = res[halo : halo + h, halo : halo + w]
    assert_allclose(blocks, whole, rtol=1e-12)
    arr = xr.DataArray(da.from_array(cover, chunks=(3, 3)), dims=("y", "x"))
    assert_allclose(cover_within_radius(arr, radius_m=25.0, cell_size_m=10.0).values, whole, rtol=1e-12)
