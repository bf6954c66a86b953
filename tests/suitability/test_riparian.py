"""Sub-cell riparian strip: shares and the combination rule on hand-made grids."""

import numpy as np
import pytest
import shapely
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.grid import GridSpec
from habitat.suitability.riparian import riparian_suitability, strip_share

#: 4 rows x 3 columns of 100 m cells; row 0 covers y 300-400, row 3 covers y 0-100.
GRID = GridSpec(crs="EPSG:32642", transform=(100.0, 0.0, 0.0, 0.0, -100.0, 400.0), shape=(4, 3))


def _line(y: float) -> shapely.LineString:
    """A west-east line across the grid (ends far outside it, so the round caps do not count)."""
    return shapely.LineString([(-1000.0, y), (1300.0, y)])


def test_strip_share_of_a_straight_line_by_hand():
    # line at y = 150 (middle of row 2), 75 m either side: the strip is y 75-225, so row 1 (200-300)
    # holds 25 m of it (0.25), row 2 all (1.0), row 3 (0-100) 25 m (0.25), row 0 none
    expected = np.repeat([[0.0], [0.25], [1.0], [0.25]], 3, axis=1)
    assert_allclose(strip_share([_line(150.0)], GRID, 75.0), expected, atol=1e-6)
    # on a cell boundary (y = 200), 50 m either side: half of rows 1 and 2
    expected = np.repeat([[0.0], [0.5], [0.5], [0.0]], 3, axis=1)
    assert_allclose(strip_share([_line(200.0)], GRID, 50.0), expected, atol=1e-6)


def test_strip_share_counts_overlapping_strips_once_and_skips_empties():
    one = strip_share([_line(150.0)], GRID, 75.0)
    assert_array_equal(strip_share([_line(150.0), _line(150.0), None, shapely.LineString()], GRID, 75.0), one)
    # two channels 100 m apart, 75 m either side: strip y 75-325 -> rows 0-3 hold 25, 100, 100, 25 m
    expected = np.repeat([[0.25], [1.0], [1.0], [0.25]], 3, axis=1)
    assert_allclose(strip_share([_line(150.0), _line(250.0)], GRID, 75.0), expected, atol=1e-6)
    assert_array_equal(strip_share([], GRID, 75.0), np.zeros((4, 3), np.float32))


def test_strip_share_of_a_vertical_line_ending_in_the_grid():
    # x = 150 (middle of column 1) from far north down to y = 200, 50 m either side: a 100 m wide band
    # down to y = 200 plus a round cap of radius 50 m below it. The cap is half of a regular 64-gon
    # inscribed in the circle (16 segments per quarter): area 32 / 2 r^2 sin(2 pi / 64) = 3921 m2,
    # 0.16 % below the half disc pi r^2 / 2
    line = shapely.LineString([(150.0, 1000.0), (150.0, 200.0)])
    share = strip_share([line], GRID, 50.0)
    half_cap = 16 * 50.0**2 * np.sin(2 * np.pi / 64) / 1e4
    expected = np.array([[0, 1.0, 0], [0, 1.0, 0], [0, half_cap, 0], [0, 0, 0]])
    assert_allclose(share, expected, atol=1e-6)


def test_strip_share_rejects_a_non_positive_width():
    with pytest.raises(InvalidParameterError, match="half_width_m"):
        strip_share([_line(150.0)], GRID, 0.0)


def test_riparian_suitability_by_hand():
    score = np.array([[0.5, 0.2, np.nan], [0.1, 0.0, 0.3]])
    share = np.array([[0.4, 1.0, 1.0], [0.5, 1.0, 0.2]])
    cap = np.array([[1.0, 0.4, 1.0], [0.0, 1.0, 1.0]])
    # max(S, min(f, f_max) * 0.9): 0.5 stays (0.36 below), 0.2 -> 0.36 (cap 0.4), NaN stays,
    # 0.1 stays (cap 0: no gain), 0 -> 0.9 (whole cell strip), 0.3 stays (0.18 below)
    expected = np.array([[0.5, 0.36, np.nan], [0.1, 0.9, 0.3]])
    assert_allclose(riparian_suitability(score, share, 0.9, cap), expected)
    # without a cap every cell may gain
    assert_allclose(riparian_suitability(score, share, 0.9), [[0.5, 0.9, np.nan], [0.45, 0.9, 0.3]])
    # a cell off the strip (f = 0) keeps its score exactly
    assert_array_equal(riparian_suitability(score, np.zeros_like(share), 0.9), score)


@pytest.mark.parametrize("kwargs, match", [
    ({"tugai_score": 1.5}, "tugai_score"),
    ({"share": np.full((2, 3), 1.2)}, "share must be"),
    ({"share": np.zeros((3, 2))}, "shape"),
    ({"max_share": -0.1}, "max_share"),
])
def test_riparian_suitability_rejects_bad_values(kwargs, match):
    args = {"score": np.zeros((2, 3)), "share": np.zeros((2, 3)), "tugai_score": 0.9, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        riparian_suitability(**args)
