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
