"""Tests for habitat.connectivity.corridors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.corridors import (
    BEYOND_MAX_COST,
    LINK_COLUMNS,
    compute_corridors,
    connected_links,
    dispersal_cost_limit,
    dispersal_reach,
    euclidean_edge_distance,
    least_cost_distance,
    mosaic_corridors,
    normalized_corridor,
    path_length,
    path_to_line,
)
from habitat.connectivity.cost_distance import cost_distance
from habitat.errors import InvalidParameterError

S2 = math.sqrt(2.0)


def test_normalized_corridor_3x3_by_hand():
    r = np.ones((3, 3))
    cwd_a = cost_distance(r, [(1, 0)], cell_size_m=1.0)
    cwd_b = cost_distance(r, [(1, 2)], cell_size_m=1.0)
    assert least_cost_distance(cwd_a, np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)) == 2.0
    # CWD_A row 0 = (1, sqrt2, 1+sqrt2); CWD_B mirrored; LCD = 2.
    row0 = [S2, 2 * S2 - 2, S2]
    assert_allclose(normalized_corridor(cwd_a, cwd_b), [row0, [0, 0, 0], row0], atol=1e-12)
    assert_allclose(normalized_corridor(cwd_a, cwd_b, 2.0), [row0, [0, 0, 0], row0], atol=1e-12)


def test_mosaic_by_minimum_with_cutoff():
    a = np.array([[0.0, 2.0], [7.0, np.inf]])
    b = np.array([[4.0, 1.0], [np.inf, np.inf]])
    assert_array_equal(mosaic_corridors([a, b]), [[0, 1], [7, np.nan]])
    assert_array_equal(mosaic_corridors([a, b], cutoff=5.0), [[0, 1], [np.nan, np.nan]])


def test_euclidean_edge_distance_and_path_length():
    a = np.zeros((4, 5), dtype=bool)
    b = np.zeros((4, 5), dtype=bool)
    a[0, 0] = a[1, 0] = True
    b[3, 3] = b[3, 4] = True
    # Nearest centres (1,0)-(3,3): sqrt(2^2 + 3^2) cells.
    assert euclidean_edge_distance(a, b, cell_size=10.0) == pytest.approx(10 * math.sqrt(13))
    length = path_length(np.array([[0, 0], [1, 1], [3, 2]]), cell_size=2.0)
    assert length == pytest.approx(2 * (S2 + math.sqrt(5)))


def test_path_to_line_uses_cell_centres():
    line = path_to_line(np.array([[0, 0], [1, 1]]), Affine(30, 0, 1000, 0, -30, 2000))
    assert_allclose(np.asarray(line.coords), [[1015, 1985], [1045, 1955]])


def test_wall_with_gap_link_attributes():
    r = np.ones((5, 5))
    r[2, :4] = np.inf  # wall with one gap at (2, 4)
    pops = np.zeros((5, 5), dtype=int)
    pops[0, 0] = 1
    pops[4, 0] = 2
    result = compute_corridors(r, pops, cell_size=10.0)
    assert list(result.links.columns) == list(LINK_COLUMNS)
    link = result.links.iloc[0]
    lcd = 10 * (4 + 4 * S2)
    assert (link.from_id, link.to_id) == (1, 2)
    assert link.lcd == pytest.approx(lcd)
    assert link.euclidean_distance_m == pytest.approx(40.0)
    assert link.path_length_m == pytest.approx(lcd)  # uniform resistance 1: cost = length
    assert link.cwd_to_euclidean_ratio == pytest.approx(lcd / 40.0)
    assert link.cwd_to_path_length_ratio == pytest.approx(1.0)
    path = result.paths[(1, 2)]
    assert_array_equal(path[0], [0, 0])
    assert_array_equal(path[-1], [4, 0])
    assert [2, 4] in path.tolist()
    # NLCC: 0 on the path, >= 0 elsewhere, NaN on the wall.
    nlcc = result.corridors
    assert_allclose(nlcc[path[:, 0], path[:, 1]], 0.0, atol=1e-9)
    assert np.all(np.isnan(nlcc[2, :4]))
    assert np.all(nlcc[np.isfinite(nlcc)] >= 0)


def test_all_pairs_and_nearest_links():
    r = np.ones((1, 7))
    pops = np.array([[1, 0, 0, 2, 0, 0, 3]])
    result = compute_corridors(r, pops)
    assert result.links[["from_id", "to_id"]].values.tolist() == [[1, 2], [1, 3], [2, 3]]
    assert_allclose(result.links.lcd, [3, 6, 3])
    assert_allclose(result.links.euclidean_distance_m, [3, 6, 3])
    assert_allclose(result.corridors, np.zeros((1, 7)))
    nearest = compute_corridors(r, pops, nearest=1)
    assert nearest.links[["from_id", "to_id"]].values.tolist() == [[1, 2], [2, 3]]
    assert sorted(nearest.cwds) == [1, 2, 3]
    assert_allclose(nearest.cwds[2], [[3, 2, 1, 0, 1, 2, 3]])


def test_unreachable_pairs_are_left_out():
    r = np.array([[1.0, np.inf, 1.0]])
    result = compute_corridors(r, np.array([[1, 0, 2]]))
    assert len(result.links) == 0
    assert np.all(np.isnan(result.corridors))


def test_bad_inputs_raise():
    with pytest.raises(InvalidParameterError, match="at least two"):
        compute_corridors(np.ones((1, 3)), np.array([[1, 0, 1]]))
    with pytest.raises(InvalidParameterError, match="shape"):
        compute_corridors(np.ones((1, 3)), np.array([[1, 2]]))
    with pytest.raises(InvalidParameterError, match="nearest"):
        compute_corridors(np.ones((1, 3)), np.array([[1, 0, 2]]), nearest=0)
    with pytest.raises(InvalidParameterError, match="cutoff"):
        mosaic_corridors([np.zeros(2)], cutoff=-1)


# Dispersal limit. A 3 x 5 grid, 10 m cells, a wall of resistance 9 in the middle row between
# populations 1 (1, 0) and 2 (1, 4): the least-cost path goes round the wall through row 0
# (or 2): a diagonal step 10 sqrt2, two straight steps 10 each, a diagonal 10 sqrt2, all at
# resistance 1, so LCD = 20 + 20 sqrt2 = 48.2843 (through the wall it would be 5*10 + 9*10*2 + 5*10).
WALL = np.array([[1.0, 1, 1, 1, 1], [1, 9, 9, 9, 1], [1, 1, 1, 1, 1]])
WALL_POPS = np.array([[0, 0, 0, 0, 0], [1, 0, 0, 0, 2], [0, 0, 0, 0, 0]])
WALL_LCD = 20 + 20 * S2


@pytest.mark.parametrize("max_cost, connected", [(WALL_LCD + 1e-6, True), (WALL_LCD, True), (WALL_LCD - 1e-6, False)])
def test_link_just_below_or_above_the_max_cost(max_cost, connected):
    result = compute_corridors(WALL, WALL_POPS, cell_size=10.0, max_cost=max_cost)
    link = result.links.iloc[0]
    assert link.lcd == pytest.approx(WALL_LCD, rel=1e-12)
    assert bool(link.connected) is connected
    assert link.reason == ("" if connected else BEYOND_MAX_COST)
    # The path is still traced (the table and the path layer keep the pair), the corridor is not.
    assert len(result.paths[(1, 2)]) == 5
    assert bool(np.isfinite(result.corridors).any()) is connected
    # Within a budget of (about) the LCD only the two tied routes round the wall are in reach.
    routes = np.array([[0, 1, 1, 1, 0], [1, 0, 0, 0, 1], [0, 1, 1, 1, 0]], dtype=bool)
    assert_array_equal(result.reach, routes if connected else np.zeros_like(routes))


def test_no_max_cost_keeps_every_link_connected():
    result = compute_corridors(WALL, WALL_POPS, cell_size=10.0)
    assert result.links.connected.tolist() == [True]
    assert result.links.reason.tolist() == [""]
    assert result.reach is None
    assert list(result.links.columns) == list(LINK_COLUMNS)


def test_max_cost_splits_populations_and_truncates_corridors():
    # 1 x 7 strip, unit resistance and cells: populations at columns 0, 2 and 6.
    # LCD12 = 2, LCD23 = 4, LCD13 = 6; max cost 3 connects 1-2 only.
    r = np.ones((1, 7))
    pops = np.array([[1, 0, 2, 0, 0, 0, 3]])
    result = compute_corridors(r, pops, max_cost=3.0)
    assert result.links[["from_id", "to_id"]].values.tolist() == [[1, 2], [1, 3], [2, 3]]
    assert result.links.connected.tolist() == [True, False, False]
    assert result.links.reason.tolist() == ["", BEYOND_MAX_COST, BEYOND_MAX_COST]
    # Only NLCC_12 = CWD_1 + CWD_2 - 2 = (0..6) + (2,1,0,1,2,3,4) - 2 enters the mosaic; without
    # the limit NLCC_13 = 0 everywhere would hide it.
    assert_allclose(result.corridors, [[0, 0, 0, 2, 4, 6, 8]])
    assert_allclose(compute_corridors(r, pops).corridors, np.zeros((1, 7)))
    # Corridor width cutoff 4 on top (Linkage Mapper's truncation: NLCC <= cutoff kept).
    truncated = compute_corridors(r, pops, max_cost=3.0, cutoff=4.0).corridors
    assert_array_equal(np.isnan(truncated), [[False] * 5 + [True] * 2])
    assert_allclose(truncated[:, :5], [[0, 0, 0, 2, 4]])
    # Reach: CWD_1 + CWD_2 = (2, 2, 2, 4, 6, 8, 10) <= 3, plus the cells of populations 1 and 2.
    assert_array_equal(result.reach, [[True, True, True, False, False, False, False]])
    # A limit of 4 also connects 2-3: the reach adds CWD_2 + CWD_3 = (6, 4, 4, 4, 4, 4, 4) <= 4.
    wider = compute_corridors(r, pops, max_cost=4.0)
    assert wider.links.connected.tolist() == [True, False, True]
    assert_array_equal(wider.reach, [[True] * 7])


def test_dispersal_reach_by_hand():
    cwd_a = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    cwd_b = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]])
    cwds = {1: cwd_a, 2: cwd_b, 3: np.full((1, 5), np.inf)}
    # LCD 4 within a budget of 4: every cell lies on a route of cost 4.
    assert_array_equal(dispersal_reach(cwds, [(1, 2, 4.0)], max_cost=4.0), [[True] * 5])
    # A budget below the LCD: not connected, nothing within reach.
    assert_array_equal(dispersal_reach(cwds, [(1, 2, 4.0)], max_cost=3.9), [[False] * 5])
    # An off-path detour: cwd_b raised by 1 in the middle cell makes it cost 5 > 4.5.
    bumped = {1: cwd_a, 2: cwd_b + np.array([[0.0, 0, 1, 0, 0]])}
    assert_array_equal(dispersal_reach(bumped, [(1, 2, 4.0)], max_cost=4.5), [[True, True, False, True, True]])
    # Rows flagged not connected are ignored; population cells of linked populations are added.
    table = pd.DataFrame({"from_id": [1, 1], "to_id": [2, 3], "lcd": [4.0, 1.0], "connected": [True, False]})
    labels = np.array([[1, 0, 0, 0, 2]])
    assert_array_equal(dispersal_reach(bumped, table, max_cost=4.5, labels=labels), [[True, True, False, True, True]])
    assert_array_equal(dispersal_reach(cwds, table.iloc[1:], max_cost=4.5, labels=labels), [[False] * 5])


def test_connected_links_reads_csv_strings():
    table = pd.DataFrame({"from_id": [1, 1, 2], "to_id": [2, 3, 3], "lcd": [1.0, 2.0, 3.0],
                          "connected": ["True", "False", "1"]})
    assert connected_links(table)["to_id"].tolist() == [2, 3]
    assert len(connected_links(table.drop(columns="connected"))) == 3
    with pytest.raises(InvalidParameterError, match="connected"):
        connected_links(table.assign(connected=["yes", "no", "x"]))


def test_dispersal_cost_limit():
    assert dispersal_cost_limit(50_000.0) == 50_000.0
    assert dispersal_cost_limit(50_000.0, base_resistance=1.5) == 75_000.0
    with pytest.raises(InvalidParameterError, match="max_dispersal_m"):
        dispersal_cost_limit(0.0)
    with pytest.raises(InvalidParameterError, match="base_resistance"):
        dispersal_cost_limit(1.0, base_resistance=0.0)
    with pytest.raises(InvalidParameterError, match="max_cost"):
        compute_corridors(np.ones((1, 3)), np.array([[1, 0, 2]]), max_cost=-1.0)
