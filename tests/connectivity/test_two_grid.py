"""Resistance aggregated to the connectivity grid and results brought back (hand-derived)."""

import numpy as np
import pytest

from habitat.connectivity.two_grid import aggregate_resistance, coarse_grid, coarsen_factor, upsample_nearest
from habitat.errors import ConfigError
from habitat.grid import GridSpec


def test_harmonic_mean_of_passable_cells_and_majority_impassable_rule():
    nan, inf = np.nan, np.inf
    res = np.array([
        [1, 3, nan, nan, 10],
        [5, 7, inf, 2, 20],
        [nan, 4, 1, 1, nan],
    ])
    # blocks of 2 x 2; the last column and row are partial (edge blocks count only inside cells)
    expected = np.array([
        [4 / (1 + 1 / 3 + 1 / 5 + 1 / 7), nan, 2 / (1 / 10 + 1 / 20)],  # 3 of 4 impassable: NaN
        [4.0, 1.0, nan],     # 1 of 2 impassable: not more than half -> 4 alone; 2 / (1 + 1); 1 of 1 impassable
    ])
    np.testing.assert_allclose(aggregate_resistance(res, 2), expected, rtol=1e-15)


def test_a_one_cell_strip_keeps_a_block_cheap():
    # a strip of resistance 1 through desert (100): mean conductance (1 + 0.01) / 2 per block
    res = np.array([[1.0, 1.0, 1.0, 1.0], [100.0, 100.0, 100.0, 100.0]])
    np.testing.assert_allclose(aggregate_resistance(res, 2), [[4 / 2.02, 4 / 2.02]])


def test_half_impassable_stays_passable_and_factor_one_is_identity():
    res = np.array([[np.nan, 2.0], [np.inf, 4.0]])
    np.testing.assert_allclose(aggregate_resistance(res, 2), [[2 / (1 / 2 + 1 / 4)]])
    np.testing.assert_array_equal(aggregate_resistance(res, 1), [[np.nan, 2.0], [np.nan, 4.0]])


def test_upsample_repeats_and_crops():
    np.testing.assert_array_equal(upsample_nearest(np.array([[1, 2], [3, 4]]), 2, (3, 3)),
                                  [[1, 1, 2], [1, 1, 2], [3, 3, 4]])


def test_coarse_grid_cells_are_blocks_of_fine_cells():
    fine = GridSpec.create("EPSG:32642", (30.0, 0, 1000.0, 0, -30.0, 5000.0), (7, 10))
    coarse = coarse_grid(fine, 3)
    assert coarse.shape == (3, 4) and coarse.transform == (90.0, 0, 1000.0, 0, -90.0, 5000.0)
    assert coarsen_factor(30, 300) == 10 and coarsen_factor(30, None) == 1
    with pytest.raises(ConfigError, match="grid.connectivity_resolution_m: 100 is not a whole multiple"):
        coarsen_factor(30, 100)
