"""Tests for habitat.connectivity.barriers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.barriers import annulus_footprint, barrier_improvement, max_barrier_improvement
from habitat.connectivity.cost_distance import cost_distance
from habitat.errors import InvalidParameterError


def _wall():
    """3 x 9 grid, resistance 1, a wall of resistance 101 in column 4; A = col 0, B = col 8."""
    r = np.ones((3, 9))
    r[:, 4] = 101.0
    a = np.zeros((3, 9), dtype=bool)
    a[:, 0] = True
    b = np.zeros((3, 9), dtype=bool)
    b[:, 8] = True
    return r, cost_distance(r, a, cell_size_m=1.0), cost_distance(r, b, cell_size_m=1.0)


def test_annulus_footprints():
    assert_array_equal(annulus_footprint(1.0), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    ring2 = annulus_footprint(60.0, cell_size=30.0)
    # Centres at distance in (30, 60]: sqrt2 (diagonals), 2 (axes), sqrt5 > 2 excluded.
    expected = np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 1, 0, 1, 0],
            [1, 0, 0, 0, 1],
            [0, 1, 0, 1, 0],
            [0, 0, 1, 0, 0],
        ],
        dtype=bool,
    )
    assert_array_equal(ring2, expected)


def test_hand_made_wall_radius_one():
    _, cwd_a, cwd_b = _wall()
    # CWD_A by column: 0 1 2 3 54 105 106 107 108; CWD_B mirrored; LCD = 108.
    assert_allclose(cwd_a[1], [0, 1, 2, 3, 54, 105, 106, 107, 108])
    score = barrier_improvement(cwd_a, cwd_b, 108.0, radius_m=1.0)
    # Ring minima by column: A (0 0 1 2 3 54 105 106 107), B mirrored;
    # score = (108 - minA - minB - 2) / 2: restoring the wall cell saves 100 over 2 units.
    row = [0, 0, 0, 25, 50, 25, 0, 0, 0]
    assert_allclose(score, [row, row, row])


def test_max_over_links_and_radii():
    _, cwd_a, cwd_b = _wall()
    links = pd.DataFrame({"from_id": [1], "to_id": [2], "lcd": [108.0]})
    score, radius = max_barrier_improvement({1: cwd_a, 2: cwd_b}, links, radii_m=[1.0, 2.0])
    # Radius 2 (ring: axes at 2, diagonals at sqrt2), score (108 - minA - minB - 4) / 4:
    # col 2: minA = CWD_A(col 0) = 0, minB = CWD_B(col 4) = 54 -> 12.5 (radius 1 gave 0);
    # col 3: 1 and 3 -> 25, ties radius 1 (the smaller radius is kept); col 4: 2 and 2 -> 25 < 50.
    row = [0, 0, 12.5, 25, 50, 25, 12.5, 0, 0]
    assert_allclose(score, [row, row, row])
    assert_array_equal(radius[1], [np.nan, np.nan, 2, 1, 1, 1, 2, np.nan, np.nan])


def test_no_barrier_gives_zero():
    r = np.ones((3, 9))
    a = np.zeros((3, 9), dtype=bool)
    a[:, 0] = True
    cwd_a = cost_distance(r, a, cell_size_m=1.0)
    cwd_b = cwd_a[:, ::-1]
    assert_array_equal(barrier_improvement(cwd_a, cwd_b, 8.0, radius_m=1.0), np.zeros((3, 9)))


def test_bad_inputs_raise():
    with pytest.raises(InvalidParameterError, match="radius"):
        annulus_footprint(10.0, cell_size=30.0)
    with pytest.raises(InvalidParameterError, match="lcd"):
        barrier_improvement(np.zeros((2, 2)), np.zeros((2, 2)), np.inf, radius_m=1.0)
    with pytest.raises(InvalidParameterError, match="population 3"):
        max_barrier_improvement({1: np.zeros((2, 2))}, [(1, 3, 1.0)], radii_m=[1.0])
    with pytest.raises(InvalidParameterError, match="radii"):
        max_barrier_improvement({1: np.zeros((2, 2))}, [(1, 1, 1.0)], radii_m=[])


def test_links_beyond_the_dispersal_limit_are_not_scored():
    # The McRae et al. wall of the docstring: restoring the two wall cells scores 24.5 per cell.
    cwds = {1: np.array([[0.0, 1.0, 51.0, 52.0]]), 2: np.array([[52.0, 51.0, 1.0, 0.0]])}
    table = pd.DataFrame({"from_id": [1], "to_id": [2], "lcd": [52.0], "connected": [True]})
    score, radius = max_barrier_improvement(cwds, table, radii_m=[1.0])
    assert_allclose(score, [[0.0, 24.5, 24.5, 0.0]])
    assert_array_equal(np.isnan(radius), [[True, False, False, True]])
    # The same link flagged beyond the maximum dispersal cost (also as a CSV string) scores nothing.
    for flag in (False, "False"):
        score, radius = max_barrier_improvement(cwds, table.assign(connected=[flag]), radii_m=[1.0])
        assert_array_equal(score, np.zeros((1, 4)))
        assert np.isnan(radius).all()
