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


def test_patch_cells_at_hand_replace_the_labels():
    # the cells found in the pass that aggregates the resistance (two_grid.summarize_fine): the
    # labels are not read again. Fine 2 x 8 -> coarse 1 x 4 (factor 2): patch 1 in coarse cell 0,
    # patch 2 in coarse cells 2 and 3; two coarse steps of 200 m between them
    from habitat.connectivity.two_grid import summarize_fine
    labels = np.array([[1, 0, 0, 0, 0, 2, 0, 0], [0, 0, 0, 0, 0, 0, 0, 2]])
    fine = summarize_fine(np.ones((2, 8)), labels, 2, patch_ids=[1, 2])
    d = patch_distances(fine.resistance, None, [1, 2], cell_size_m=200.0, neighbours=8, factor=2,
                        patch_cells=fine.patch_cells)
    np.testing.assert_allclose(d, [[0, 400], [400, 0]])
    np.testing.assert_array_equal(d, patch_distances(fine.resistance, labels, [1, 2], cell_size_m=200.0,
                                                     neighbours=8, factor=2))
