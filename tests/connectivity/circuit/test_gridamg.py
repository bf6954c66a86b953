"""Grid multigrid: known answers, agreement with the direct factor, fallbacks, determinism."""

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

from habitat.connectivity.circuit import (
    build_adjacency,
    build_node_map,
    node_coordinates,
    pairwise_resistances,
)
from habitat.connectivity.circuit import gridamg, solve


def _graph(res, *, four=False, regions=None):
    g = np.where(np.isfinite(res), 1.0 / np.where(np.isfinite(res), res, 1.0), 0.0)
    nm = build_node_map(g, regions=regions)
    return g, nm, build_adjacency(g, nm, four_neighbors=four), node_coordinates(nm)


def _random(shape, seed, holes=0.05):
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, shape)
    res[rng.random(shape) < holes] = np.nan
    return res


@pytest.mark.parametrize("shape", [(1, 60_000), (60_000, 1)])
def test_strip_is_resistors_in_series(shape):
    # one row of cells, 4 neighbours, mean conductance per edge: R = sum 2 / (g_a + g_b)
    res = _random(shape, 0, holes=0.0)
    g, nm, adj, coords = _graph(res, four=True)
    gf = g.ravel()
    exact = np.sum(2.0 / (gf[1:] + gf[:-1]))
    block = gridamg.grid_inverse_block(adj, coords, 0, np.array([gf.size - 1]))
    # a 60,000-cell chain is ill-conditioned (about 1e9): rounding limits R to ~2e-9
    assert_allclose(block[0, 0], exact, rtol=1e-7)


def test_single_pair_matches_direct_factor():
    res = _random((260, 250), 1)
    _, nm, adj, coords = _graph(res)
    cells = [(3, 5), (250, 240)]
    focal = [int(nm[c]) - 1 for c in cells]
    assert min(focal) >= 0
    direct = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    auto = pairwise_resistances(adj, focal, method="auto", node_coords=coords)
    assert adj.shape[0] >= solve.GRID_AMG_MIN_NODES  # the grid multigrid ran
    assert_allclose(auto, direct, rtol=1e-9)


def test_several_points_and_components_match_direct(monkeypatch):
    # a wall of nodata splits the grid: pairs across it are -1; G from the symmetric
    # estimate matches the factor's to rounding
    monkeypatch.setattr(solve, "GRID_AMG_MIN_NODES", 20_000)
    monkeypatch.setattr(solve, "GRID_AMG_MAX_RHS", 8)
    res = _random((240, 240), 2)
    res[:, 200] = np.nan
    _, nm, adj, coords = _graph(res)
    cells = [(1, 1), (120, 100), (239, 3), (60, 180), (200, 230), (10, 220)]
    focal = [int(nm[c]) - 1 for c in cells]
    assert min(focal) >= 0
    direct = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    auto = pairwise_resistances(adj, focal, method="auto", node_coords=coords)
    assert direct[0, 4] == -1 and direct[1, 5] == -1
    assert_allclose(auto, direct, rtol=1e-9)


def test_same_answer_with_one_or_two_threads(monkeypatch):
    res = _random((120, 110), 3)
    _, nm, adj, coords = _graph(res)
    nodes = np.array([int(nm[5, 5]) - 1, int(nm[60, 70]) - 1, int(nm[110, 100]) - 1])
    assert min(nodes) >= 0
    ground = int(nm[0, 1]) - 1
    two = gridamg.grid_inverse_block(adj, coords, ground, nodes)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    one = gridamg.grid_inverse_block(adj, coords, ground, nodes)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, two.T)


def test_not_a_plain_grid_returns_none():
    # a short-circuit region is one node over several cells: no 9-point stencil
    res = _random((30, 30), 4, holes=0.0)
    regions = np.zeros((30, 30), dtype=np.int64)
    regions[10:12, 10:14] = 1
    _, nm, adj, coords = _graph(res, regions=regions)
    assert gridamg.grid_stencil(adj, coords) is None
    assert gridamg.grid_inverse_block(adj, coords, 0, np.array([5])) is None


def test_leak_of_a_grounded_neighbour():
    # 3 cells in a row, conductances 1: ground the middle one; the two ends each see 1 ohm
    # (through their edge to the ground) and 2 ohm apart in G's terms: G = diag(1, 1)
    res = np.ones((1, 3))
    _, nm, adj, coords = _graph(res, four=True)
    block = gridamg.grid_inverse_block(adj, coords, 1, np.array([0, 2]))
    assert_allclose(block, np.eye(2), atol=1e-12)
