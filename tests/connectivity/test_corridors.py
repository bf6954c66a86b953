"""Tests for habitat.connectivity.corridors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.corridors import (
    LINK_COLUMNS,
    compute_corridors,
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
