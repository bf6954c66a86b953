"""Tests for habitat.connectivity.cost_distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal
from skimage.graph import MCP_Geometric

from habitat.connectivity import _dijkstra
from habitat.connectivity.cost_distance import (
    cost_distance,
    cost_distance_backlink,
    cost_distance_many,
    least_cost_path,
    neighbour_offsets,
    trace_least_cost_path,
)
from habitat.errors import InvalidParameterError

S2 = math.sqrt(2.0)

# GRASS r.cost manual example (METHODS.md section 5): start at row 5, col 6 (1-based).
GRASS_COST = np.array(
    [
        [2, 2, 1, 1, 5, 5, 5],
        [2, 2, 8, 8, 5, 2, 1],
        [7, 1, 1, 8, 2, 2, 2],
        [8, 7, 8, 8, 8, 8, 5],
        [8, 8, 1, 1, 5, 3, 9],
        [8, 1, 1, 2, 5, 3, 9],
    ],
    dtype=float,
)
GRASS_START = [(4, 5)]


@pytest.fixture(params=["numba", "scipy"])
def kernel(request, monkeypatch):
    """Run each test with both kernels so the fallback stays equal to the fast path."""
    if request.param == "numba" and not _dijkstra.HAVE_NUMBA:
        pytest.skip("numba not installed")
    monkeypatch.setattr(_dijkstra, "HAVE_NUMBA", request.param == "numba")
    return request.param


def test_grass_manual_example_8_neighbours(kernel):
    cost = cost_distance(GRASS_COST, GRASS_START, cell_size_m=1.0)
    assert_allclose(
        cost[0], [21.778175, 21.12132, 20.692388, 19.692388, 16.935029, 14.899495, 13.656854], atol=1e-6
    )
    assert_allclose(cost[5], [13.914214, 9.414214, 8.414214, 8.5, 5.656854, 3, 8.485281], atol=1e-6)


def test_grass_manual_example_knight_moves(kernel):
    cost = cost_distance(GRASS_COST, GRASS_START, neighbours=16, cell_size_m=1.0)
    assert_allclose(
        cost[0], [21.416408, 21.003289, 20.073262, 19.073262, 16.755789, 14.747024, 13.656854], atol=1e-6
    )


def test_grass_example_equals_mcp_geometric_times_cell_size(kernel):
    expected, _ = MCP_Geometric(GRASS_COST, fully_connected=True).find_costs(GRASS_START)
    assert_allclose(cost_distance(GRASS_COST, GRASS_START, cell_size_m=30.0), expected * 30.0, rtol=1e-12)


def test_uniform_resistance_gives_distance_along_rows_and_diagonals(kernel):
    cost = cost_distance(np.full((3, 4), 2.0), [(0, 0)], cell_size_m=10.0)
    # Cheapest route = diagonal steps then straight: (min(dr,dc)*sqrt2 + |dr-dc|) * R * size.
    expected = 20.0 * np.array(
        [
            [0, 1, 2, 3],
            [1, S2, 1 + S2, 2 + S2],
            [2, 1 + S2, 2 * S2, 1 + 2 * S2],
        ]
    )
    assert_allclose(cost, expected, rtol=1e-12)


def test_four_neighbours_is_manhattan(kernel):
    cost = cost_distance(np.ones((3, 3)), [(1, 1)], neighbours=4, cell_size_m=1.0)
    assert_allclose(cost, [[2, 1, 2], [1, 0, 1], [2, 1, 2]])


def test_knight_move_costs_mean_of_four_cells(kernel):
    r = np.array([[10.0, 100.0], [2.0, 2.0], [100.0, 10.0]])
    # (0,0) -> (2,1) by a knight's move touches (0,0), (2,1), (1,0), (1,1): sqrt5 * 24/4 = 13.42,
    # cheaper than the best 8-neighbour route (0,0)->(1,0)->(1,1)->(2,1): 6 + 2 + 6 = 14.
    cost = cost_distance(r, [(0, 0)], neighbours=16, cell_size_m=1.0)
    assert cost[2, 1] == pytest.approx(math.sqrt(5) * (10 + 10 + 2 + 2) / 4, rel=1e-12)
    without_knight = cost_distance(r, [(0, 0)], neighbours=8, cell_size_m=1.0)
    assert without_knight[2, 1] == pytest.approx(14.0, rel=1e-12)


def test_wall_blocks_and_nodata_is_impassable(kernel):
    r = np.ones((3, 3))
    r[:, 1] = [np.nan, -1.0, np.inf]
    cost = cost_distance(r, [(0, 0)], cell_size_m=1.0)
    expected = np.array([[0, np.inf, np.inf], [1, np.inf, np.inf], [2, np.inf, np.inf]])
    assert_array_equal(cost, expected)


def test_max_cost_truncates(kernel):
    cost = cost_distance(np.ones((1, 6)), [(0, 0)], cell_size_m=2.0, max_cost=6.0)
    assert_array_equal(cost, [[0, 2, 4, 6, np.inf, np.inf]])


def test_mask_sources_take_nearest(kernel):
    sources = np.zeros((1, 5), dtype=bool)
    sources[0, [0, 4]] = True
    assert_allclose(cost_distance(np.ones((1, 5)), sources, cell_size_m=1.0), [[0, 1, 2, 1, 0]])


def test_zero_resistance_is_free_but_passable(kernel):
    r = np.array([[1.0, 0.0, 0.0, 1.0]])
    assert_allclose(cost_distance(r, [(0, 0)], cell_size_m=1.0), [[0, 0.5, 0.5, 1.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_grid_with_barriers_equals_mcp_geometric(kernel, seed):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.5, 50.0, (60, 45))
    r[rng.random(r.shape) < 0.2] = np.inf
    starts = [(30, 20), (5, 40)]
    r[30, 20] = r[5, 40] = 1.0
    expected, _ = MCP_Geometric(r, fully_connected=True).find_costs(starts)
    cost = cost_distance(r, starts, cell_size_m=25.0)
    assert_array_equal(np.isinf(cost), np.isinf(expected))
    finite = np.isfinite(expected)
    assert_allclose(cost[finite], expected[finite] * 25.0, rtol=1e-9)


def test_wide_resistance_range_uses_label_correcting_buckets(kernel):
    # Range 1e-6..1e6 forces bucket width above the lightest step; result must stay exact.
    rng = np.random.default_rng(3)
    r = 10.0 ** rng.uniform(-6, 6, (40, 40))
    expected, _ = MCP_Geometric(r, fully_connected=True).find_costs([(0, 0)])
    assert_allclose(cost_distance(r, [(0, 0)], cell_size_m=1.0), expected, rtol=1e-9)


def test_dataarray_cell_size_from_coords(kernel):
    da = xr.DataArray(np.ones((2, 3)), dims=("y", "x"), coords={"y": [15.0, 5.0], "x": [0.0, 10.0, 20.0]})
    assert_allclose(cost_distance(da, [(0, 0)]), [[0, 10, 20], [10, 10 * S2, 10 + 10 * S2]])


def test_dataarray_non_square_cells_rejected():
    da = xr.DataArray(np.ones((2, 2)), dims=("y", "x"), coords={"y": [5.0, 0.0], "x": [0.0, 10.0]})
    with pytest.raises(InvalidParameterError, match="square"):
        cost_distance(da, [(0, 0)])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"neighbours": 6}, "neighbours"),
        ({"cell_size_m": 0.0}, "cell_size_m"),
        ({"max_cost": -1.0}, "max_cost"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        cost_distance(np.ones((2, 2)), [(0, 0)], **{"cell_size_m": 1.0, **kwargs})


def test_bad_sources_raise():
    with pytest.raises(InvalidParameterError, match="outside"):
        cost_distance(np.ones((2, 2)), [(2, 0)], cell_size_m=1.0)
    with pytest.raises(InvalidParameterError, match="impassable"):
        cost_distance(np.array([[np.nan, 1.0]]), [(0, 0)], cell_size_m=1.0)
    with pytest.raises(InvalidParameterError, match="empty"):
        cost_distance(np.ones((2, 2)), np.zeros((2, 2), dtype=bool), cell_size_m=1.0)


def test_backlink_and_trace(kernel):
    cost, back = cost_distance_backlink(np.ones((3, 3)), [(0, 0)], cell_size_m=1.0)
    offsets = neighbour_offsets(8)
    assert back[0, 0] == -1
    assert_array_equal(offsets[back[2, 2]], [1, 1])
    assert_array_equal(trace_least_cost_path(back, (2, 2)), [[0, 0], [1, 1], [2, 2]])


def test_wall_with_one_gap_routes_path_through_gap(kernel):
    r = np.ones((7, 7))
    r[3, :] = np.inf
    r[3, 5] = 1.0
    path = least_cost_path(r, [(0, 1)], (6, 1))
    assert (3, 5) in {tuple(p) for p in path}
    assert_array_equal(path[0], [0, 1])
    assert_array_equal(path[-1], [6, 1])
    steps = np.abs(np.diff(path, axis=0))
    assert steps.max() == 1  # 8-neighbour moves only
    # Path cost equals the cost distance at the target.
    cost = cost_distance(r, [(0, 1)], cell_size_m=1.0)
    along = sum(
        0.5 * (r[tuple(a)] + r[tuple(b)]) * math.hypot(*(b - a))
        for a, b in zip(path[:-1], path[1:], strict=True)
    )
    assert along == pytest.approx(cost[6, 1])


def test_least_cost_path_to_mask_picks_cheapest_cell(kernel):
    target = np.zeros((1, 5), dtype=bool)
    target[0, [2, 4]] = True
    path = least_cost_path(np.ones((1, 5)), [(0, 0)], target, neighbours=4)
    assert_array_equal(path, [[0, 0], [0, 1], [0, 2]])


def test_unreachable_target_raises():
    r = np.array([[1.0, np.inf, 1.0]])
    with pytest.raises(InvalidParameterError, match="reached"):
        least_cost_path(r, [(0, 0)], (0, 2))


def test_sources_on_impassable_cells_are_ignored(kernel):
    r = np.array([[np.nan, 1.0, 1.0]])
    assert_allclose(cost_distance(r, [(0, 0), (0, 2)], cell_size_m=1.0), [[np.inf, 1.0, 0.0]])


def test_input_not_modified(kernel):
    r = np.array([[1.0, np.nan, -2.0]])
    before = r.copy()
    cost_distance(r, [(0, 0)], cell_size_m=1.0)
    assert_array_equal(r, before)


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="compares the numba kernel with the scipy fallback")
@pytest.mark.parametrize("neighbours", [4, 8, 16])
def test_numba_kernel_equals_scipy_fallback(monkeypatch, neighbours):
    rng = np.random.default_rng(7)
    r = rng.uniform(0.0, 20.0, (30, 40))
    r[rng.random(r.shape) < 0.15] = np.nan
    r[0, 0] = 1.0
    fast, fast_back = cost_distance_backlink(r, [(0, 0)], neighbours=neighbours, max_cost=200.0, cell_size_m=1.0)
    monkeypatch.setattr(_dijkstra, "HAVE_NUMBA", False)
    slow, slow_back = cost_distance_backlink(r, [(0, 0)], neighbours=neighbours, max_cost=200.0, cell_size_m=1.0)
    assert_allclose(fast, slow, rtol=1e-12)
    # Backlinks may differ only on exact ties; both must trace paths of the same cost.
    assert_array_equal(fast_back < 0, slow_back < 0)


# -- the Python API as a notebook user meets it ----------------------------------------------------
def test_documented_dotted_path_and_package_import_both_work():
    import habitat.connectivity
    from habitat.connectivity import cost_distance as from_package

    r = np.ones((1, 3))
    expected = [[0.0, 10.0, 20.0]]
    assert_allclose(habitat.connectivity.cost_distance.cost_distance(r, [(0, 0)], cell_size_m=10.0), expected)
    assert_allclose(from_package(r, [(0, 0)], cell_size_m=10.0), expected)
    assert habitat.connectivity.cost_distance.least_cost_path is least_cost_path


def test_numpy_without_cell_size_is_an_error():
    with pytest.raises(InvalidParameterError, match="cell_size_m"):
        cost_distance(np.ones((2, 2)), [(0, 0)])
    with pytest.raises(InvalidParameterError, match="cell_size_m"):
        cost_distance_backlink(np.ones((2, 2)), [(0, 0)])
    # the older keyword still works; both given must agree
    assert_allclose(cost_distance(np.ones((1, 2)), [(0, 0)], cell_size=5.0), [[0.0, 5.0]])
    with pytest.raises(InvalidParameterError, match="disagree"):
        cost_distance(np.ones((1, 2)), [(0, 0)], cell_size=5.0, cell_size_m=2.0)


def test_dataarray_in_dataarray_out_with_coords_and_crs():
    da = xr.DataArray(np.ones((2, 3)), dims=("y", "x"), coords={"y": [15.0, 5.0], "x": [0.0, 10.0, 20.0],
                                                               "spatial_ref": 0},
                      attrs={"grid": "the-grid-json", "crs": "EPSG:32642", "units": "ohm"})
    out = cost_distance(da, [(0, 0)])
    assert isinstance(out, xr.DataArray) and out.dims == ("y", "x")
    assert_array_equal(out.x, da.x)
    assert_array_equal(out.y, da.y)
    assert "spatial_ref" in out.coords
    assert out.attrs["grid"] == "the-grid-json" and out.attrs["crs"] == "EPSG:32642"
    assert_allclose(out.values, [[0, 10, 20], [10, 10 * S2, 10 + 10 * S2]])
    cost, back = cost_distance_backlink(da, [(0, 0)])
    assert isinstance(cost, xr.DataArray) and isinstance(back, xr.DataArray)
    assert_array_equal(back.values, cost_distance_backlink(da.values, [(0, 0)], cell_size_m=10.0)[1])


def test_band_dimension_of_size_one_is_accepted():
    da = xr.DataArray(np.ones((1, 2, 3)), dims=("band", "y", "x"),
                      coords={"band": [1], "y": [15.0, 5.0], "x": [0.0, 10.0, 20.0]})
    out = cost_distance(da, [(0, 0)])
    assert out.dims == ("y", "x") and out.shape == (2, 3)
    assert_allclose(out.values, [[0, 10, 20], [10, 10 * S2, 10 + 10 * S2]])
    assert_allclose(cost_distance(np.ones((1, 1, 3)), [(0, 0)], cell_size_m=1.0), [[0.0, 1.0, 2.0]])
    with pytest.raises(InvalidParameterError, match="pass one 2-D"):
        cost_distance(np.ones((2, 2, 3)), [(0, 0)], cell_size_m=1.0)


def _random_grid(seed, shape, low=1.0, high=100.0, barrier=0.1):
    rng = np.random.default_rng(seed)
    r = rng.uniform(low, high, shape)
    r[rng.random(shape) < barrier] = np.nan
    return r


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="the queue pool belongs to the numba kernel")
@pytest.mark.parametrize("neighbours", [8, 16])
def test_queue_pool_growth_gives_the_same_costs(monkeypatch, neighbours):
    # A pool of one block forces the kernel to stop, let the pool grow and resume many times.
    r = _random_grid(11, (80, 70))
    r[40, 35] = 1.0
    expected, expected_back = cost_distance_backlink(r, [(40, 35)], cell_size_m=1.0, neighbours=neighbours)
    monkeypatch.setattr(_dijkstra, "_INITIAL_BLOCKS", 1)
    cost, back = cost_distance_backlink(r, [(40, 35)], cell_size_m=1.0, neighbours=neighbours)
    assert_array_equal(cost, expected)
    assert_array_equal(back, expected_back)


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="compares the numba kernel with the scipy fallback")
@pytest.mark.parametrize("neighbours", [4, 8, 16])
@pytest.mark.parametrize(("low", "high"), [(1.0, 100.0), (0.0, 5.0), (1e-6, 1e6)])
def test_numba_equals_scipy_on_many_sources_and_ranges(monkeypatch, neighbours, low, high):
    # (1, 100): Dial's exact buckets; 0 and a 1e12 range: label-correcting buckets.
    r = _random_grid(5, (50, 60), low, high)
    sources = np.zeros(r.shape, dtype=bool)
    sources[[3, 25, 49], [0, 30, 59]] = True
    r[sources] = 1.0
    fast = cost_distance(r, sources, cell_size=7.0, neighbours=neighbours)
    monkeypatch.setattr(_dijkstra, "HAVE_NUMBA", False)
    slow = cost_distance(r, sources, cell_size=7.0, neighbours=neighbours)
    assert_array_equal(np.isinf(fast), np.isinf(slow))
    assert_allclose(fast, slow, rtol=1e-12)


def test_cost_distance_many_equals_separate_calls(kernel):
    r = _random_grid(2, (40, 50))
    sets = [[(5, 5)], [(20, 25), (39, 49)], np.zeros(r.shape, dtype=bool)]
    sets[2][10:12, 30:33] = True
    for cells in ([(5, 5)], [(20, 25), (39, 49)]):
        for cell in cells:
            r[cell] = 2.0
    r[sets[2]] = 2.0
    for workers in (1, 2):
        got = list(
            cost_distance_many(r, iter(sets), cell_size=5.0, neighbours=16, max_cost=900.0, workers=workers)
        )
        assert len(got) == 3
        for src, cost in zip(sets, got, strict=True):
            assert_array_equal(cost, cost_distance(r, src, cell_size=5.0, neighbours=16, max_cost=900.0))


def test_cost_distance_many_bad_workers_fails_at_the_call():
    with pytest.raises(InvalidParameterError, match="workers"):
        cost_distance_many(np.ones((2, 2)), [[(0, 0)]], cell_size_m=1.0, workers=0)
    with pytest.raises(InvalidParameterError, match="neighbours"):
        cost_distance_many(np.ones((2, 2)), [[(0, 0)]], cell_size_m=1.0, neighbours=6)


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="the threaded passes belong to the numba path")
def test_threaded_prepare_and_extract_equal_serial(monkeypatch):
    r = _random_grid(4, (33, 47))
    r[0, 0] = 1.0
    monkeypatch.setattr(_dijkstra, "_PARALLEL_CELLS", 10**12)
    serial = cost_distance_backlink(r, [(0, 0)], cell_size_m=1.0, neighbours=16, max_cost=500.0)
    monkeypatch.setattr(_dijkstra, "_PARALLEL_CELLS", 0)
    threaded = cost_distance_backlink(r, [(0, 0)], cell_size_m=1.0, neighbours=16, max_cost=500.0)
    assert_array_equal(threaded[0], serial[0])
    assert_array_equal(threaded[1], serial[1])


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="the in-place result belongs to the numba path")
def test_cost_array_holds_only_its_cells():
    # The costs are written into the kernel's working array, which must shrink to the result.
    r = _random_grid(5, (30, 41))
    r[0, 0] = 1.0
    cost = cost_distance(r, [(0, 0)], cell_size_m=1.0, neighbours=16)
    owner = cost if cost.base is None else cost.base
    assert owner.nbytes == cost.nbytes == 30 * 41 * 8
    assert cost.flags.c_contiguous and cost.flags.writeable


@pytest.mark.skipif(not _dijkstra.HAVE_NUMBA, reason="compares the numba kernel with the scipy fallback")
@pytest.mark.parametrize("neighbours", [4, 8, 16])
def test_numba_equals_scipy_bit_for_bit(monkeypatch, neighbours):
    # Both sum a step's resistances in the same order (knight's moves: the two end cells, then
    # the two passed beside), so the least costs are the same doubles, not just close: a kernel
    # change that reorders a sum or drops the exact halving shows here.
    for seed, (low, high) in enumerate([(1.0, 100.0), (1e-6, 1e6), (0.0, 5.0)]):
        r = _random_grid(20 + seed, (31, 37), low, high)
        r[[0, 15, 30], [0, 20, 36]] = 1.0
        sources = [(0, 0), (15, 20), (30, 36)]
        monkeypatch.setattr(_dijkstra, "HAVE_NUMBA", True)
        fast = cost_distance(r, sources, cell_size_m=7.0, neighbours=neighbours)
        monkeypatch.setattr(_dijkstra, "HAVE_NUMBA", False)
        slow = cost_distance(r, sources, cell_size_m=7.0, neighbours=neighbours)
        assert fast.tobytes() == slow.tobytes()


def test_knight_sides_spelled_out_in_the_kernel_match_moves():
    # The kernel indexes the cells a knight's move passes beside through constants; they must
    # be the plain moves moves(16) names, or knight's moves would average the wrong cells.
    assert _dijkstra.knight_sides() == tuple(zip(_dijkstra._SIDE1, _dijkstra._SIDE2, strict=True))
    assert _dijkstra.knight_sides()[0] == (0, 4)  # (-2, -1) passes beside (-1, 0) and (-1, -1)
