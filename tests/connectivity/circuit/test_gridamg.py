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


def _record_grid_solves(monkeypatch, name="grid_inverse_block"):
    """Count the grid multigrid calls (``gridamg.<name>``) that returned a block (not a
    fall-back to the factor), so a comparison of ``auto`` with ``direct`` cannot pass by
    comparing the factor with itself."""
    solved = []
    inner = getattr(gridamg, name)

    def spy(*args, **kwargs):
        block = inner(*args, **kwargs)
        solved.append(block is not None)
        return block

    monkeypatch.setattr(gridamg, name, spy)
    return solved


def test_single_pair_matches_direct_factor(monkeypatch):
    res = _random((260, 250), 1)
    _, nm, adj, coords = _graph(res)
    cells = [(3, 5), (250, 240)]
    focal = [int(nm[c]) - 1 for c in cells]
    assert min(focal) >= 0
    direct = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    solved = _record_grid_solves(monkeypatch)
    auto = pairwise_resistances(adj, focal, method="auto", node_coords=coords)
    assert solved == [True]  # the grid multigrid ran and gave the answer
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
    solved = _record_grid_solves(monkeypatch)
    auto = pairwise_resistances(adj, focal, method="auto", node_coords=coords)
    assert solved and all(solved)  # each component of >= 20,000 cells by the grid multigrid
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


@pytest.mark.parametrize("four, avg_res", [(False, False), (True, False), (False, True)])
def test_raster_path_equals_graph_path_to_the_last_bit(monkeypatch, four, avg_res):
    # nodata border rows/columns (bounding box smaller than the raster), an island that is
    # its own component, 3 points: the same edge weights on the same grid as the graph path
    monkeypatch.setattr(solve, "GRID_AMG_MIN_NODES", 2_000)
    res = _random((70, 64), 5)
    res[:2, :] = np.nan
    res[:, -3:] = np.nan
    res[30:34, 10:14] = np.nan
    res[31:33, 11:13] = 5.0  # an island of 4 cells inside a ring of nodata
    g = np.where(np.isfinite(res), 1.0 / np.where(np.isfinite(res), res, 1.0), 0.0)
    nm = build_node_map(g)
    adj = build_adjacency(g, nm, four_neighbors=four, avg_resistance=avg_res)
    cells = np.array([(2, 0), (40, 30), (69, 60)])
    focal = nm[cells[:, 0], cells[:, 1]] - 1
    assert min(focal) >= 0
    graph = pairwise_resistances(adj, focal, method="auto", node_coords=node_coordinates(nm),
                                 exclude={(0, 2)})
    solved = _record_grid_solves(monkeypatch, "raster_inverse_block")
    raster = solve.raster_pairwise_resistances(g, cells, four_neighbors=four,
                                               avg_resistance=avg_res, exclude={(0, 2)})
    assert solved == [True]
    np.testing.assert_array_equal(raster, graph)
    assert raster[0, 2] == -1 and raster[0, 1] > 0


def test_raster_path_declines_what_it_does_not_cover(monkeypatch):
    monkeypatch.setattr(solve, "GRID_AMG_MIN_NODES", 1_000)
    res = _random((60, 60), 6)
    res[:, 30] = np.nan  # two components
    g = np.where(np.isfinite(res), 1.0 / np.where(np.isfinite(res), res, 1.0), 0.0)
    g[5, 5] = g[50, 20] = g[5, 50] = 1.0
    rp = solve.raster_pairwise_resistances
    assert rp(g, [(5, 5), (50, 20)]) is not None
    assert rp(g, [(5, 5), (5, 50)]) is None  # points in different components
    assert rp(g, [(5, 5), (50, 20)], method="direct") is None
    assert rp(g, [(5, 5), (5, 5)]) is None  # one node twice
    assert rp(g, [(5, 5), (50, 30)]) is None  # a point on nodata
    too_many = [(5, 5)] + [(50, 4 + i) for i in range(solve.GRID_AMG_MAX_RHS + 1)]
    assert rp(g, too_many) is None  # > GRID_AMG_MAX_RHS + 1
    monkeypatch.setattr(solve, "GRID_AMG_MIN_NODES", 1_800)  # each half has < 1,800 cells
    assert rp(g, [(5, 5), (50, 20)]) is None  # too small for the multigrid


def _hierarchy(shape, seed):
    """A GridAMG of the component of a random raster (5 % nodata), grounded at its first cell,
    and the fine level's active cells."""
    res = _random(shape, seed)
    g = np.where(np.isfinite(res), 1.0 / np.where(np.isfinite(res), res, 1.0), 0.0)
    first = tuple(np.argwhere(g > 0)[0])
    mask, _, _, (r0, r1, c0, c1) = gridamg.raster_component(g, first)
    w = np.zeros((4, r1 - r0 + 3, c1 - c0 + 3))
    gridamg._raster_stencil_fill(g, mask, r0, c0, False, False, w)
    amg = gridamg.GridAMG(w, (first[0] - r0 + 1, first[1] - c0 + 1))
    return amg, np.argwhere(amg.fine[1] > 0)


@pytest.mark.parametrize("batch", [7, 3])
def test_solve_many_equals_solve_lane_by_lane(monkeypatch, batch):
    # unit currents near the ground (they converge earlier than the others), far from it,
    # a dense random current and an all-zero one: each lane takes the same steps as solve,
    # so the whole arrays agree to the last bit; batch 3 splits 7 into 3 + 3 + 1
    monkeypatch.setattr(gridamg, "BATCH_MIN", 1)
    amg, cells = _hierarchy((40, 37), 7)
    shape = amg.fine[1].shape
    bs = []
    for c in cells[[1, 2, 500, 900, 1300]]:
        b = np.zeros(shape)
        b[c[0], c[1]] = 1.0
        bs.append(b)
    bs.append(np.random.default_rng(1).random(shape) * (amg.fine[1] > 0))
    bs.append(np.zeros(shape))
    steps = []
    inner = gridamg._cg_update_many

    def spy(x, r, p, q, alpha):
        steps.append(alpha.copy())
        return inner(x, r, p, q, alpha)

    monkeypatch.setattr(gridamg, "_cg_update_many", spy)
    xs, rs = amg.solve_many(bs, batch=batch)
    for b, x, r in zip(bs, xs, rs):
        x1, r1 = amg.solve(b)
        np.testing.assert_array_equal(x, x1)
        np.testing.assert_array_equal(r, r1)
    assert not np.any(xs[-1]) and not np.any(rs[-1])
    # some lane met its test while others went on (it then stepped by 0)
    assert any(np.any(a == 0.0) and np.any(a != 0.0) for a in steps)
    # lanes per batch: the zero current takes none (batch 3: its batch of one is empty)
    assert {len(a) for a in steps} == ({6} if batch == 7 else {3})


def test_solve_many_writes_into_given_arrays():
    amg, cells = _hierarchy((30, 33), 8)
    shape = amg.fine[1].shape
    bs = np.zeros((5,) + shape)
    for n, c in enumerate(cells[[3, 40, 200, 400, 600]]):
        bs[n, c[0], c[1]] = 1.0
    xs, rs = np.full((5,) + shape, np.nan), np.full((5,) + shape, np.nan)
    got = amg.solve_many(bs, batch=5, out=([x for x in xs], [r for r in rs]))
    assert got[0][0].base is xs
    for n in range(5):
        x1, r1 = amg.solve(bs[n])
        np.testing.assert_array_equal(xs[n], x1)
        np.testing.assert_array_equal(rs[n], r1)
    assert amg.batch_size(budget_bytes=0) == 1
    assert amg.batch_size(budget_bytes=3 * gridamg.BATCH_BYTES_PER_CELL * bs[0].size) == 3


def test_batched_resistances_match_direct_factor(monkeypatch):
    # 12 points: 11 right-hand sides, 6 + 5 on the two threads, each one batch (BATCH_MIN 4)
    monkeypatch.setattr(solve, "GRID_AMG_MIN_NODES", 2_000)
    monkeypatch.setattr(solve, "GRID_AMG_MAX_RHS", 16)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    res = _random((80, 75), 9)
    _, nm, adj, coords = _graph(res)
    rng = np.random.default_rng(3)
    valid = np.argwhere(nm > 0)
    cells = valid[rng.choice(len(valid), 12, replace=False)]
    focal = nm[cells[:, 0], cells[:, 1]] - 1
    direct = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    lanes = []
    inner = gridamg.GridAMG._solve_batch

    def spy(self, bs, which, xs, rs, tol):
        lanes.append(len(which))
        return inner(self, bs, which, xs, rs, tol)

    monkeypatch.setattr(gridamg.GridAMG, "_solve_batch", spy)
    auto = pairwise_resistances(adj, focal, method="auto", node_coords=coords)
    assert sorted(lanes) == [5, 6]  # the batched path ran
    assert_allclose(auto, direct, rtol=1e-9)
    raster = solve.raster_pairwise_resistances(np.where(nm > 0, 1.0 / np.nan_to_num(res, nan=1.0), 0.0), cells)
    np.testing.assert_array_equal(raster, auto)

def test_streamed_entries_equal_kept_entries_exactly():
    # 3 "sources" kept, 6 "candidates" streamed: every entry with a kept point and every
    # diagonal is the same number as when all points are kept; candidate pairs are NaN
    res = _random((90, 80), 7)
    _, nm, adj, coords = _graph(res)
    cells = [(1, 1), (80, 70), (45, 40), (10, 70), (70, 5), (30, 30), (60, 60), (5, 40), (85, 20), (20, 55)]
    focal = np.array([int(nm[c]) - 1 for c in cells])
    assert focal.min() >= 0
    full = gridamg.grid_inverse_block(adj, coords, focal[0], focal[1:])
    keep = np.zeros(9, dtype=bool)
    keep[[1, 4, 7]] = True
    streamed = gridamg.grid_inverse_block(adj, coords, focal[0], focal[1:], keep=keep)
    needed = keep[:, None] | keep[None, :] | np.eye(9, dtype=bool)
    np.testing.assert_array_equal(streamed[needed], full[needed])
    assert np.isnan(streamed[~needed]).all() and (~needed).sum() == 30
    # nothing kept: the diagonals only
    alone = gridamg.grid_inverse_block(adj, coords, focal[0], focal[1:], keep=np.zeros(9, dtype=bool))
    np.testing.assert_array_equal(np.diag(alone), np.diag(full))


def test_stream_keep_is_a_small_vertex_cover():
    # candidates 0-4 pair only with sources 5, 6: the sources are kept
    needed = [(c, s) for c in range(5) for s in (5, 6)]
    np.testing.assert_array_equal(gridamg.stream_keep(7, needed), [0, 0, 0, 0, 0, 1, 1])
    # every pair of 4 points: all but one kept
    keep = gridamg.stream_keep(4, [(p, q) for p in range(4) for q in range(p + 1, 4)])
    assert keep.sum() == 3
    assert not gridamg.stream_keep(3, []).any()
