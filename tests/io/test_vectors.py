import geopandas as gpd
import numpy as np
import pytest
import shapely

from habitat.errors import GeometryError, InputFileError, MissingCRSError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.vectors import (
    clean_geometries,
    distance_to_presence_m,
    rasterize_fraction,
    rasterize_presence,
    read_vector,
    to_grid_crs,
    write_vector,
)

UTM = "EPSG:32642"
GRID = GridSpec.from_bounds((0, 0, 400, 300), UTM, 100)


def test_half_cell_polygon_gives_one_half():
    frac = rasterize_fraction([shapely.box(0, 0, 50, 100)], GRID)
    expected = np.zeros((3, 4), np.float32)
    expected[2, 0] = 0.5
    np.testing.assert_array_equal(frac, expected)


def test_fraction_is_exact_and_overlaps_count_once():
    polys = [shapely.box(50, 0, 300, 150), shapely.box(60, 10, 120, 90)]  # second lies inside the first
    expected = np.array([[0, 0, 0, 0], [0.25, 0.5, 0.5, 0], [0.5, 1, 1, 0]], np.float32)
    np.testing.assert_allclose(rasterize_fraction(polys, GRID), expected, atol=1e-7)


def test_fraction_of_a_triangle():
    # right triangle over cell (2, 0): half of the cell
    tri = shapely.Polygon([(0, 0), (100, 0), (0, 100)])
    out = rasterize_fraction([tri], GRID)
    assert out[2, 0] == pytest.approx(0.5, abs=1e-7)
    assert out.sum() == pytest.approx(0.5, abs=1e-6)


def test_large_polygon_interior_is_one():
    grid = GridSpec.from_bounds((0, 0, 1000, 1000), UTM, 100)
    out = rasterize_fraction([shapely.box(150, 150, 850, 850)], grid)
    expected = np.zeros((10, 10), np.float32)
    expected[2:8, 2:8] = 1.0
    expected[1, 2:8] = expected[8, 2:8] = expected[2:8, 1] = expected[2:8, 8] = 0.5
    expected[1, 1] = expected[1, 8] = expected[8, 1] = expected[8, 8] = 0.25
    np.testing.assert_allclose(out, expected, atol=1e-7)


def test_presence_and_distance_in_metres():
    line = shapely.LineString([(0, 250), (400, 250)])  # through row 0
    presence = rasterize_presence([line], GRID)
    np.testing.assert_array_equal(presence, [[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    dist = distance_to_presence_m(presence, GRID)
    np.testing.assert_array_equal(dist, np.repeat([[0.0], [100.0], [200.0]], 4, axis=1))
    point = rasterize_presence([shapely.Point(350, 50)], GRID)
    d = distance_to_presence_m(point, GRID)
    assert d[2, 3] == 0 and d[0, 0] == pytest.approx(np.hypot(200, 300))
    assert np.isinf(distance_to_presence_m(np.zeros((3, 4), bool), GRID)).all()


def test_repair_counts_and_drops_empties():
    bowtie = shapely.from_wkt("POLYGON((0 0, 200 200, 200 0, 0 200, 0 0))")
    gdf = gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[bowtie, shapely.box(0, 0, 1, 1), None], crs=UTM)
    out, report = clean_geometries(gdf)
    assert (report.n_features, report.n_repaired, report.n_empty_dropped) == (3, 1, 1)
    assert list(out["id"]) == [1, 2]
    assert out.geometry.iloc[0].is_valid and out.geometry.iloc[0].area == pytest.approx(20_000)


def test_zero_area_polygon_cannot_be_repaired():
    flat = shapely.from_wkt("POLYGON((0 0, 1 1, 2 2, 0 0))")
    gdf = gpd.GeoDataFrame({"id": [7]}, geometry=[flat], crs=UTM)
    with pytest.raises(GeometryError, match="cannot be repaired"):
        clean_geometries(gdf, source="x.gpkg")


def test_read_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_vector(tmp_path / "missing.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"not a geopackage at all")
    with pytest.raises(InputFileError, match="cannot be read"):
        read_vector(bad)
    shp = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=UTM).to_file(shp)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(MissingCRSError, match="no CRS"):
        read_vector(shp)


def test_reproject_and_overlap(tmp_path):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(10, 10, 20, 20)], crs=UTM).to_crs("EPSG:4326")
    back = to_grid_crs(gdf, GRID)
    assert back.crs == GRID.pyproj_crs
    np.testing.assert_allclose(back.total_bounds, [10, 10, 20, 20], atol=1e-6)
    far = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(1e6, 1e6, 1e6 + 5, 1e6 + 5)], crs=UTM)
    with pytest.raises(NoOverlapError):
        to_grid_crs(far, GRID)


def test_write_vector_round_trip_and_reproducible(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[shapely.Point(1, 2), shapely.Point(3, 4)], crs=UTM)
    a = write_vector(gdf, tmp_path / "one" / "v.gpkg")
    b = write_vector(gdf, tmp_path / "two" / "v.gpkg")
    assert a.read_bytes() == b.read_bytes()
    back = read_vector(a)
    assert list(back["name"]) == ["a", "b"] and back.crs == gdf.crs
