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
