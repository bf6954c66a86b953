"""Least-cost distances between patches on a strip whose answer is counted by hand."""

import numpy as np

from habitat.connectivity.patch_distances import patch_distances


def test_strip_distances_are_steps_times_cell_size_edge_to_edge():
    # patches 1 (columns 0-1), 2 (column 4) and 3 (column 6) on a 1 x 7 strip of resistance 1
    labels = np.array([[1, 1, 0, 0, 2, 0, 3]])
    resistance = np.ones((1, 7))
    d = patch_distances(resistance, labels, [1, 2, 3], cell_size_m=100.0, neighbours=8)
    # edge to edge: column 1 -> 4 is three steps of 100 m, 4 -> 6 two steps, 1 -> 6 five
    np.testing.assert_allclose(d, [[0, 300, 500], [300, 0, 200], [500, 200, 0]])
    wall = resistance.copy()
    wall[0, 5] = np.inf
    d = patch_distances(wall, labels, [1, 2, 3], cell_size_m=100.0, neighbours=4)
    np.testing.assert_array_equal(d[:, 2], [np.inf, np.inf, 0.0])
