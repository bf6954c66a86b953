"""Known-answer tests for the terrain layers, criteria and cost factors (hand-made grids)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import GridMismatchError, InvalidParameterError
from habitat.suitability.terrain import (
    METRES_PER_DEGREE,
    altitude_cost_factor,
    altitude_membership,
    cell_size_m,
    dem_coverage,
    height_above_river,
    height_above_river_membership,
    slope_cost_factor,
    slope_degrees,
    slope_membership,
    terrain_resistance,
)


def _plane(shape, *, dzdx, dzdy_north, dx, dy):
    """z = dzdx * x + dzdy_north * y at cell centres (x east, y north, rows north to south)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    x = cols * dx
    y = -rows * dy
    return dzdx * x + dzdy_north * y


def test_slope_of_a_plane_is_exact_everywhere_including_edges():
    # 100 m cells, rise 10 m per cell east and 5 m per cell north: tan = hypot(0.1, 0.05)
    z = _plane((5, 6), dzdx=0.1, dzdy_north=0.05, dx=100.0, dy=100.0)
    expected = math.degrees(math.atan(math.hypot(0.1, 0.05)))
    assert_allclose(slope_degrees(z, dx_m=100.0, dy_m=100.0), np.full((5, 6), expected), rtol=0, atol=1e-12)


def test_slope_of_a_45_degree_ramp_with_rectangular_cells():
    # rise 30 m per 30 m cell east, cells 30 m wide and 50 m tall: exactly 45 degrees
    z = _plane((4, 4), dzdx=1.0, dzdy_north=0.0, dx=30.0, dy=50.0)
    assert_allclose(slope_degrees(z, dx_m=30.0, dy_m=50.0), np.full((4, 4), 45.0), atol=1e-12)


def test_flat_dem_has_zero_slope():
    assert_array_equal(slope_degrees(np.full((3, 3), 250.0), dx_m=10.0, dy_m=10.0), np.zeros((3, 3)))


def test_slope_uses_metres_on_a_geographic_grid():
    # 0.01 deg cells at the equator row centre: dx = dy = 1113.2 m; rise 1113.2 * tan(10 deg) per cell east
    transform = (0.01, 0.0, 60.0, 0.0, -0.01, 0.015)  # 3 rows centred on 0.01, 0.0, -0.01 N
    dx, dy = cell_size_m((3, 3), transform, geographic=True)
    assert dy == pytest.approx(0.01 * METRES_PER_DEGREE)
    assert_allclose(dx, 0.01 * METRES_PER_DEGREE * np.cos(np.deg2rad([0.01, 0.0, -0.01])))
    rise = dx[:, None] * math.tan(math.radians(10.0))  # per-row cell width keeps the angle exact
    z = np.cumsum(np.broadcast_to(rise, (3, 3)), axis=1)
    assert_allclose(slope_degrees(z, dx_m=dx, dy_m=dy), np.full((3, 3), 10.0), atol=1e-9)


def test_cell_size_of_a_projected_grid_in_feet():
    dx, dy = cell_size_m((2, 3), (10.0, 0, 0, 0, -10.0, 0), geographic=False, metres_per_unit=0.3048)
    assert_allclose(dx, [3.048, 3.048])
    assert dy == pytest.approx(3.048)


def test_geographic_cell_width_shrinks_with_cos_latitude():
    dx, _ = cell_size_m((1, 1), (1.0, 0, 0, 0, -1.0, 60.5), geographic=True)  # row centre 60 N
    assert dx[0] == pytest.approx(0.5 * METRES_PER_DEGREE)


def test_slope_nodata_propagates_to_the_eight_neighbours():
    z = np.arange(25, dtype=np.float64).reshape(5, 5)
    z[2, 2] = np.nan
    slope = slope_degrees(z, dx_m=1.0, dy_m=1.0)
    expected_nan = np.zeros((5, 5), dtype=bool)
    expected_nan[1:4, 1:4] = True
    assert_array_equal(np.isnan(slope), expected_nan)


def test_slope_nodata_on_the_edge_reaches_neighbours_through_the_extrapolated_pad():
    z = np.zeros((3, 4))
    z[0, 0] = np.nan
    slope = slope_degrees(z, dx_m=1.0, dy_m=1.0)
    # the pad beside (0, 0) and (0, 1) is extrapolated from the NaN; (0, 2) and beyond stay valid
    expected_nan = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    assert_array_equal(np.isnan(slope), expected_nan)


def test_height_above_river_in_a_v_valley_by_hand():
    # river in column 2; valley sides rise 3 m per cell; the river falls 1 m per row downstream
    z = np.array(
        [
            [16.0, 13.0, 10.0, 13.0, 16.0],
            [15.0, 12.0, 9.0, 12.0, 15.0],
            [14.0, 11.0, 8.0, 11.0, 14.0],
        ]
    )
    river = np.zeros(z.shape, dtype=bool)
    river[:, 2] = True
    expected = np.array([[6.0, 3.0, 0.0, 3.0, 6.0]] * 3)
    assert_array_equal(height_above_river(z, river, dx_m=100.0, dy_m=100.0), expected)


def test_height_above_river_takes_the_nearest_river_cell_in_metres():
    # two river cells; which one is nearest to (0, 3) depends on the cell size in metres
    z = np.array([[50.0, 60.0, 70.0, 80.0], [55.0, 65.0, 75.0, 85.0], [20.0, 66.0, 77.0, 30.0]])
    river = np.zeros(z.shape, dtype=bool)
    river[0, 0] = True  # z = 50
    river[2, 3] = True  # z = 30
    # cell (0, 3): to (0, 0) 30 m east-west; to (2, 3) 200 m north-south -> (0, 0) is nearest
    hand = height_above_river(z, river, dx_m=10.0, dy_m=100.0)
    assert hand[0, 3] == 80.0 - 50.0
    # with square 10 m cells (2, 3) is nearer (20 m vs 30 m)
    hand_square = height_above_river(z, river, dx_m=10.0, dy_m=10.0)
    assert hand_square[0, 3] == 80.0 - 30.0


def test_height_above_river_nodata():
    z = np.array([[10.0, np.nan, 14.0], [np.nan, 12.0, 15.0]])
    river = np.array([[False, True, False], [False, True, False]])  # top river cell has no elevation
    hand = height_above_river(z, river, dx_m=1.0, dy_m=1.0)
    # every cell refers to the only river cell with an elevation, (1, 1) at 12 m
    expected = np.array([[-2.0, np.nan, 2.0], [np.nan, 0.0, 3.0]])
    assert_array_equal(hand, expected)
    assert np.isnan(height_above_river(z, np.zeros(z.shape, dtype=bool), dx_m=1.0, dy_m=1.0)).all()


def test_height_above_river_rejects_a_mask_of_another_shape():
    with pytest.raises(GridMismatchError):
        height_above_river(np.zeros((2, 2)), np.zeros((2, 3), dtype=bool), dx_m=1.0, dy_m=1.0)


def test_dem_coverage_counts_cells_outside_the_dem():
    z = np.array([[1.0, np.nan, np.nan], [4.0, 5.0, np.nan]])
    cov = dem_coverage(z)
    assert_array_equal(cov.outside, np.isnan(z))
    assert (cov.outside_cells, cov.total_cells) == (3, 6)
    within = np.array([[True, True, False], [True, True, False]])
    cov = dem_coverage(z, within)
    assert_array_equal(cov.outside, np.array([[False, True, False], [False, False, False]]))
    assert (cov.outside_cells, cov.total_cells, cov.outside_share) == (1, 4, 0.25)


def test_terrain_memberships_by_hand():
    assert_allclose(altitude_membership(np.array([0.0, 1000.0, 1100.0, 1500.0, np.nan])), [1, 1, 0.8, 0, np.nan])
    assert_allclose(slope_membership(np.array([0.0, 3.0, 3.7, 10.0, 45.0])), [1, 1, 0.9, 0, 0])
    assert_allclose(height_above_river_membership(np.array([-20.0, 10.0, 20.0, 60.0])), [1, 1, 0.8, 0])
    with pytest.raises(InvalidParameterError):
        altitude_membership(np.zeros(1), full_m=1500.0, zero_m=1000.0)


def test_slope_cost_factor_is_one_plus_k_sin_slope():
    assert_allclose(slope_cost_factor(np.array([0.0, 30.0, 90.0, np.nan])), [1.0, 1 + 11.3 * 0.5, 12.3, np.nan])


def test_altitude_cost_factor_is_geometric_between_start_and_full():
    z = np.array([0.0, 1000.0, 1250.0, 1500.0, 2000.0, 5000.0, np.nan])
    assert_allclose(altitude_cost_factor(z), [1.0, 1.0, 100**0.25, 10.0, 100.0, 100.0, np.nan])
    with pytest.raises(InvalidParameterError):
        altitude_cost_factor(z, max_factor=0.5)


def test_terrain_resistance_multiplies_and_reports_nothing_silently():
    r = np.array([[1.0, 2.0], [np.inf, 4.0]])
    slope = np.array([[0.0, 30.0], [0.0, np.nan]])
    z = np.array([[500.0, 1500.0], [100.0, 300.0]])
    expected = np.array([[1.0, 2.0 * (1 + 11.3 * 0.5) * 10.0], [np.inf, 4.0]])
    assert_allclose(terrain_resistance(r, slope, z), expected)
    impassable = terrain_resistance(r, slope, z, outside_dem="impassable")
    assert impassable[1, 1] == np.inf
    assert_allclose(impassable[0], expected[0])


def test_valley_floodplain_by_hand():
    from habitat.suitability.terrain import valley_floodplain

    # one row of cells moving away from a river cell; 5 km cells
    d = np.array([[0.0, 5000.0, 10000.0, 15000.0, 25000.0, 35000.0, 5000.0, 20000.0]])
    hand = np.array([[0.0, 3.0, 8.0, -15.0, 10.0, 0.0, 70.0, np.nan]])
    z = np.array([[300.0, 303.0, 308.0, 285.0, 310.0, 300.0, 370.0, np.nan]])
    got = valley_floodplain(d, hand, z, buffer_m=7500.0)
    # buffer cells (0, 5 km) in; 10 km at 8 m and 15 km below the river in (valley floor);
    # 25 km at exactly 10 m in (boundary counts); 35 km beyond the valley distance out;
    # a buffer cell 70 m above the river out (>= 60 m); outside the DEM beyond the buffer out
    assert_array_equal(got, [[True, True, True, True, True, False, False, False]])


def test_valley_floodplain_excludes_gorges_and_keeps_the_buffer_outside_the_dem():
    from habitat.suitability.terrain import valley_floodplain

    d = np.array([[0.0, 5000.0, 0.0, 5000.0]])
    hand = np.array([[0.0, 20.0, 0.0, np.nan]])
    z = np.array([[1600.0, 1400.0, 1499.0, np.nan]])
    got = valley_floodplain(d, hand, z, buffer_m=7500.0)
    # a river cell at 1,600 m is a gorge (>= 1,500 m); 1,400 m and 20 m above the river stays
    # (memberships > 0); a buffer cell outside the DEM keeps the buffer
    assert_array_equal(got, [[False, True, True, True]])
    with pytest.raises(InvalidParameterError):
        valley_floodplain(d, hand, z, buffer_m=40_000.0)
    with pytest.raises(GridMismatchError):
        valley_floodplain(d, hand[:, :2], z, buffer_m=7500.0)
