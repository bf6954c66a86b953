import numpy as np
import pytest
from pyproj import Geod

from habitat.errors import InvalidParameterError, MissingCRSError
from habitat.grid import DEFAULT_CRS, GridSpec


def test_from_bounds_snaps_outwards_to_resolution():
    grid = GridSpec.from_bounds((10, 20, 260, 190), "EPSG:32642", 100)
    assert grid.bounds == (0.0, 0.0, 300.0, 200.0)
    assert grid.shape == (2, 3)
    assert grid.transform == (100.0, 0.0, 0.0, 0.0, -100.0, 200.0)
    np.testing.assert_array_equal(grid.x_coords, [50.0, 150.0, 250.0])
    np.testing.assert_array_equal(grid.y_coords, [150.0, 50.0])


def test_exact_multiples_do_not_grow():
    assert GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100).shape == (2, 3)


def test_equal_grids_hash_equal_and_json_round_trips():
    a = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100)
    b = GridSpec.from_bounds((0, 0, 300, 200), "epsg:32642", 100.0)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert GridSpec.from_json(a.to_json()) == a
    assert a != GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 50)


def test_default_crs_is_equal_area_albers():
    grid = GridSpec.from_bounds((0, 0, 1000, 1000), "default", 100)
    assert grid.is_equal_area()
    assert grid == GridSpec.from_bounds((0, 0, 1000, 1000), DEFAULT_CRS, 100)
    np.testing.assert_array_equal(grid.cell_area_m2(), np.full((10, 10), 10_000.0))


@pytest.mark.parametrize("resolution", [-100, 0, float("nan")])
def test_bad_resolution_is_a_user_error(resolution):
    with pytest.raises(InvalidParameterError, match="resolution"):
        GridSpec.from_bounds((0, 0, 100, 100), "EPSG:32642", resolution)


def test_missing_crs_is_a_user_error():
    with pytest.raises(MissingCRSError):
        GridSpec.from_bounds((0, 0, 100, 100), None, 10)


def test_tiles_cover_the_grid_once():
    grid = GridSpec.from_bounds((0, 0, 500, 300), "EPSG:32642", 100)
    seen = np.zeros(grid.shape, int)
    for (rows, cols), sub in grid.tiles((2, 2)):
        seen[rows, cols] += 1
        assert sub.shape == seen[rows, cols].shape
        np.testing.assert_array_equal(sub.x_coords, grid.x_coords[cols])
        np.testing.assert_array_equal(sub.y_coords, grid.y_coords[rows])
    np.testing.assert_array_equal(seen, np.ones(grid.shape, int))


def _densified_geodesic_area(lon0, lat0, lon1, lat1, n=400):
    """Cell area from pyproj's geodesic polygon area with edges densified along the parallels."""
    geod = Geod(ellps="WGS84")
    lons = np.concatenate([np.linspace(lon0, lon1, n), np.linspace(lon1, lon0, n)])
    lats = np.concatenate([np.full(n, lat0), np.full(n, lat1)])
    return abs(geod.polygon_area_perimeter(lons, lats)[0])


def test_geographic_grid_uses_ellipsoidal_cell_areas():
    grid = GridSpec.from_bounds((60, 40, 61, 42), "EPSG:4326", 0.5)
    rows = [(41.5, 42), (41, 41.5), (40.5, 41), (40, 40.5)]
    expected = np.array([[_densified_geodesic_area(lon, lat0, lon + 0.5, lat1) for lon in (60, 60.5)]
                         for lat0, lat1 in rows])
    np.testing.assert_allclose(grid.cell_area_m2(), expected, rtol=1e-7)


def test_spherical_cell_area_is_r2_dlon_dsinlat():
    r = 6_371_000.0
    grid = GridSpec.from_bounds((0, 30, 2, 31), f"+proj=longlat +R={r} +no_defs", 1.0)
    expected = r**2 * np.deg2rad(1.0) * (np.sin(np.deg2rad(31)) - np.sin(np.deg2rad(30)))
    np.testing.assert_allclose(grid.cell_area_m2(), np.full((1, 2), expected), rtol=1e-12)


def test_rowcol_of_points():
    grid = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100)
    rows, cols = grid.rowcol([50, 299, 150], [199, 1, 100.0])
    np.testing.assert_array_equal(rows, [0, 1, 1])
    np.testing.assert_array_equal(cols, [0, 2, 1])


def test_pad_grows_every_side_and_keeps_alignment():
    grid = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100)
    big = grid.pad(2)
    assert big.shape == (6, 7) and big.bounds == (-200.0, -200.0, 500.0, 400.0)
    np.testing.assert_array_equal(big.x_coords[2:5], grid.x_coords)
    assert grid.pad(0) == grid


def test_metres_per_unit_of_metre_foot_and_degree_grids():
    assert GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100).metres_per_unit == 1.0
    # NAD83 / New York Long Island, US survey feet: 1200/3937 m per foot
    feet = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:2263", 100)
    assert feet.metres_per_unit == pytest.approx(1200 / 3937, rel=1e-12)
    np.testing.assert_allclose(feet.cell_area_m2(), np.full((2, 3), (100 * 1200 / 3937) ** 2), rtol=1e-12)
    assert GridSpec.from_bounds((60, 40, 61, 42), "EPSG:4326", 0.5).metres_per_unit == 111_320.0
