"""Population core cells and focal cells on tiny grids with hand-derived answers."""

import geopandas as gpd
import numpy as np
import shapely

from habitat.connectivity.populations import focal_cells, population_cores, site_points
from habitat.grid import GridSpec

UTM = "EPSG:32642"


def test_population_cores_nearer_site_wins_ties_go_to_the_lower_index_and_skip_impassable():
    grid = GridSpec.from_bounds((0, 0, 600, 100), UTM, 100)  # one row, cell centres x = 50 ... 550
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(50, 50), shapely.Point(250, 50)], crs=UTM)
    resistance = np.ones((1, 6))
    resistance[0, 3] = np.nan
    # x = 150 is 100 m from both sites (tie: A); x = 350 is impassable; x = 450 is 200 m from B
    cores = population_cores(site_points(sites), resistance, grid.x_coords, grid.y_coords, 150.0)
    np.testing.assert_array_equal(cores, [[1, 1, 2, 0, 0, 0]])
    assert cores.dtype == np.int32
    no_sites = site_points(gpd.GeoDataFrame(geometry=[], crs=UTM))
    np.testing.assert_array_equal(population_cores(no_sites, resistance, grid.x_coords, grid.y_coords, 150.0),
                                  np.zeros((1, 6), np.int32))


def test_focal_cell_is_the_core_cell_nearest_the_site():
    grid = GridSpec.from_bounds((0, 0, 500, 200), UTM, 100)  # centres x = 50 ... 450, y = 150, 50
    cores = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2]], np.int32)
    points = np.array([[180.0, 40.0], [260.0, 180.0], [0.0, 0.0]])
    assert focal_cells(points, cores, grid.x_coords, grid.y_coords) == [(1, 1), (0, 3), None]


def test_population_cores_keep_the_habitat_cells_of_a_site_that_has_any():
    from habitat.connectivity.populations import population_cores as cores_of

    grid = GridSpec.from_bounds((0, 0, 600, 100), UTM, 100)  # centres x = 50 ... 550
    points = np.array([[150.0, 50.0], [450.0, 50.0]])
    resistance = np.ones((1, 6))
    habitat = np.array([[False, True, False, False, False, False]])
    # site A (x = 150, radius 150: cells 0-2) has habitat at cell 1 -> only cell 1; site B (cells 3-5)
    # has none -> keeps its passable cells
    got = cores_of(points, resistance, grid.x_coords, grid.y_coords, 150.0, habitat=habitat)
    np.testing.assert_array_equal(got, [[0, 1, 0, 2, 2, 2]])


def test_polygon_sites_take_their_area_and_point_sites_their_disc():
    from habitat.connectivity.populations import population_cores as cores_of, site_areas

    grid = GridSpec.from_bounds((0, 0, 600, 100), UTM, 100)
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(50, 50), shapely.box(300, 0, 500, 100),
                                       shapely.box(570, 40, 580, 60)], crs=UTM)
    areas = site_areas(sites, grid.shape, grid.affine)
    # the box covers the centres 350, 450; the sliver holds no centre: the cell under it (5)
    np.testing.assert_array_equal(areas, [[0, 0, 0, 2, 2, 3]])
    points = site_points(sites)
    np.testing.assert_array_equal(points[1], [400.0, 50.0])  # representative point of the box
    resistance = np.ones((1, 6))
    resistance[0, 4] = np.inf
    # point site 1: disc of 150 m (cells 0, 1); the box: cell 3 (cell 4 impassable), not a disc
    got = cores_of(points, resistance, grid.x_coords, grid.y_coords, 150.0, areas=areas)
    np.testing.assert_array_equal(got, [[1, 1, 0, 2, 0, 3]])
