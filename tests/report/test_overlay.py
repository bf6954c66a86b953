import numpy as np
import geopandas as gpd
import shapely
from numpy.testing import assert_allclose, assert_array_equal
from pyproj import Transformer

from habitat.grid import GridSpec
from habitat.report.overlay import to_geojson, to_web_mercator


def test_a_web_mercator_grid_comes_back_unchanged_with_its_corner_bounds():
    grid = GridSpec.from_bounds((7_500_000, 5_200_000, 7_500_400, 5_200_300), "EPSG:3857", 100)
    values = np.arange(12, dtype=float).reshape(3, 4)
    out, (south, west, north, east) = to_web_mercator(values, grid)
    assert_array_equal(out, values)
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    assert_allclose([west, south], to_ll.transform(7_500_000, 5_200_000), rtol=0, atol=1e-9)
    assert_allclose([east, north], to_ll.transform(7_500_400, 5_200_300), rtol=0, atol=1e-9)


def test_reprojection_keeps_codes_and_caps_the_size():
    grid = GridSpec.from_bounds((0, 280_000, 3000, 282_400), "default", 100)
    codes = np.zeros(grid.shape, np.int64)
    codes[:, 15:] = 7
    out, bounds = to_web_mercator(codes, grid, max_size_px=16, nodata=-1)
    assert max(out.shape) <= 16
    assert set(np.unique(out)) <= {-1, 0, 7}
    assert (out[:, 0] != 7).all() and (out[:, -1] != 0).all()  # west stays west


def test_geojson_is_lon_lat_with_null_for_nan():
    frame = gpd.GeoDataFrame({"name": ["a"], "v": [np.nan], "n": [np.int64(3)]},
                             geometry=[shapely.Point(500_000, 4_700_000)], crs="EPSG:32642")
    out = to_geojson(frame)
    feature = out["features"][0]
    assert feature["properties"] == {"name": "a", "v": None, "n": 3}
    lon, lat = feature["geometry"]["coordinates"]
    assert_allclose([lon, lat], Transformer.from_crs("EPSG:32642", "EPSG:4326", always_xy=True)
                    .transform(500_000, 4_700_000), atol=1e-6)
