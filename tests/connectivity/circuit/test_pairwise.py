"""Effective resistance between focal cells: series resistors whose sum is known by hand."""

import numpy as np

from habitat.connectivity.circuit.pairwise import effective_resistance_matrix


def test_series_strip_and_the_averaging_rule():
    # two cells of 1 and 3 ohm: the edge is 1 / mean(1, 1/3) = 1.5 ohm (average conductance,
    # Circuitscape's default) or mean(1, 3) = 2 ohm (average resistance)
    strip = np.array([[1.0, 3.0]])
    cells = [(0, 0), (0, 1), None]
    matrix, current = effective_resistance_matrix(strip, cells)
    np.testing.assert_allclose(matrix, [[0, 1.5, -1], [1.5, 0, -1], [-1, -1, 0]])
    assert current is None
    matrix, _ = effective_resistance_matrix(strip, cells[:2], average="resistance")
    np.testing.assert_allclose(matrix[0, 1], 2.0)


def test_four_neighbours_drop_the_diagonal():
    # a diagonal pair of 1-ohm cells with impassable cells beside them: connected only by 8 neighbours;
    # the diagonal edge is 1 / (mean conductance / sqrt 2) = sqrt 2 ohm
    grid = np.array([[1.0, np.nan], [np.nan, 1.0]])
    matrix, _ = effective_resistance_matrix(grid, [(0, 0), (1, 1)], neighbours=8)
    np.testing.assert_allclose(matrix[0, 1], np.sqrt(2))
    matrix, _ = effective_resistance_matrix(grid, [(0, 0), (1, 1)], neighbours=4)
    assert matrix[0, 1] == -1


def _landscape(seed=11):
    # 240 x 110 cells of 1-100 ohm (5 % nodata); a nodata wall splits a 12,000-cell component
    # (rows 0-109) from a 13,000-cell one (rows 111-239); an island of 25 cells inside a ring
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, (240, 110))
    res[rng.random(res.shape) < 0.05] = np.nan
    res[110, :] = np.nan
    res[50:57, 50:57] = np.nan
    res[51:56, 51:56] = 3.0
    return res


def _points(res, n, seed):
    rng = np.random.default_rng(seed)
    cells = []
    while len(cells) < n:
        c = tuple(int(v) for v in rng.integers(0, res.shape))
        if np.isfinite(res[c]) and not (50 <= c[0] < 57 and 50 <= c[1] < 57) and c not in cells:
            cells.append(c)
    return cells


def test_multigrid_matches_the_direct_factor_and_streams_the_candidates(monkeypatch):
    # 16 candidates x 4 sources, candidate pairs not asked for (as the sites stage asks): the
    # multigrid keeps the sources' solutions (spy on the keep mask) and gives R within 1e-9 of
    # the factor's; the island's two points (a component below MULTIGRID_MIN_NODES) take the
    # auto path on the graph, equal to the direct answer
    from habitat.connectivity.circuit import gridamg

    res = _landscape()
    cand, src = _points(res, 16, 1), _points(res, 4, 2)
    cells = cand + [(52, 52)] + src + [(54, 53), None]
    n = len(cand) + 1
    not_asked = {(i, j) for i in range(n) for j in range(i + 1, n)}
    kept = []
    inner = gridamg.raster_inverse_block

    def spy(*args, keep=None, **kwargs):
        kept.append(int(np.sum(keep)))
        return inner(*args, keep=keep, **kwargs)

    monkeypatch.setattr(gridamg, "raster_inverse_block", spy)
    direct, _ = effective_resistance_matrix(res, cells, solver="direct", exclude=not_asked)
    multi, _ = effective_resistance_matrix(res, cells, solver="multigrid", exclude=not_asked)
    assert len(kept) == 2 and sum(kept) <= 4  # two big components, at most the 4 sources kept
    np.testing.assert_array_equal(multi < 0, direct < 0)
    np.testing.assert_allclose(multi, direct, rtol=1e-9)
    assert multi[n - 1, n + 4] > 0 and (multi[n - 1, :n - 1] == -1).all()  # the island pair
    assert (multi[:n, n:n + 4] > 0).sum() > 20  # same-component candidate x source pairs solved


def test_multigrid_all_pairs_on_a_graph_and_fallback_off_the_grid(monkeypatch):
    # pairwise_resistances(method="multigrid") on the graph: every pair of 7 points within 1e-9
    # of direct; with a short-circuit region the graph is not a plain grid and the auto path
    # answers (equal to auto itself)
    from habitat.connectivity.circuit import build_adjacency, build_node_map, node_coordinates, pairwise_resistances

    res = _landscape(12)[:110]
    g = np.where(np.isfinite(res), 1.0 / np.where(np.isfinite(res), res, 1.0), 0.0)
    nm = build_node_map(g)
    adj, coords = build_adjacency(g, nm), node_coordinates(nm)
    focal = [int(nm[c]) - 1 for c in _points(res, 7, 3)]
    direct = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    multi = pairwise_resistances(adj, focal, method="multigrid", node_coords=coords)
    np.testing.assert_allclose(multi, direct, rtol=1e-9)
    regions = np.zeros(res.shape, dtype=np.int64)
    regions[20:23, 20:25] = 1
    nm = build_node_map(g, regions=regions)
    adj, coords = build_adjacency(g, nm), node_coordinates(nm)
    focal = [int(nm[c]) - 1 for c in _points(res, 4, 4)]
    np.testing.assert_array_equal(pairwise_resistances(adj, focal, method="multigrid", node_coords=coords),
                                  pairwise_resistances(adj, focal, method="auto", node_coords=coords))


def test_unknown_solver_is_refused():
    import pytest

    from habitat.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="multigrid"):
        effective_resistance_matrix(np.ones((3, 3)), [(0, 0), (2, 2)], solver="mg")


def test_multigrid_with_current_matches_the_direct_factor():
    # the circuit stage's path (every pair's voltages for the current map): R within 1e-9 of the
    # factor's (from the symmetric estimate of G), the current map within 1e-5 of its largest
    # value (voltages carry CG's energy-norm error, about the square root of the tolerance)
    res = _landscape(13)
    cells = [(5, 5), (100, 100), (50, 20), (200, 30), (230, 100), (150, 60), None]
    exclude = {(0, 2)}
    direct, cur_d = effective_resistance_matrix(res, cells, solver="direct", with_current=True, exclude=exclude)
    multi, cur_m = effective_resistance_matrix(res, cells, solver="multigrid", with_current=True, exclude=exclude)
    np.testing.assert_array_equal(multi < 0, direct < 0)
    assert (direct > 0).sum() == 10  # 1-2 and 3-4-5 pairs, both ways
    np.testing.assert_allclose(multi, direct, rtol=1e-9)
    np.testing.assert_array_equal(np.isfinite(cur_m), np.isfinite(cur_d))
    np.testing.assert_allclose(cur_m, cur_d, rtol=0, atol=1e-5 * np.nanmax(cur_d))
