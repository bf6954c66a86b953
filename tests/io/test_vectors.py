import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from habitat.errors import GeometryError, InputFileError, MissingCRSError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.vectors import (
    check_one_layer,
    clean_geometries,
    distance_to_presence_m,
    rasterize_fraction,
    rasterize_labels,
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


def test_labels_take_cell_centres_and_the_later_geometry_wins():
    # box 1 holds the centres of columns 0-1 of rows 1-2; box 2 (later) the centres of columns 1-2 of row 2;
    # box 1's edge at x = 160 passes column 1 without reaching the centre of column 2 (x = 250)
    boxes = [shapely.box(0, 0, 160, 200), shapely.box(120, 10, 290, 90), None, shapely.Polygon()]
    expected = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [1, 2, 2, 0]], np.int32)
    out = rasterize_labels(boxes, [1, 2, 3, 4], GRID)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(rasterize_labels([None], [1], GRID), np.zeros((3, 4), np.int32))


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


def test_distance_on_a_geographic_grid_uses_metres_at_the_central_latitude():
    grid = GridSpec.from_bounds((60, 40, 60.03, 40.02), "EPSG:4326", 0.01)  # 2 x 3 cells, centre lat 40.01
    presence = np.zeros((2, 3), bool)
    presence[0, 0] = True
    dy = 0.01 * 111_320.0
    dx = dy * np.cos(np.deg2rad(40.01))
    expected = np.array([[0.0, dx, 2 * dx], [dy, np.hypot(dx, dy), np.hypot(2 * dx, dy)]], np.float32)
    np.testing.assert_allclose(distance_to_presence_m(presence, grid), expected, rtol=1e-6)


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


def test_file_of_several_layers_needs_a_layer_name(tmp_path, recwarn):
    path = tmp_path / "both.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=UTM).to_file(path, layer="wells")
    gpd.GeoDataFrame({"a": [2]}, geometry=[shapely.LineString([(0, 0), (5, 0)])], crs=UTM).to_file(path, layer="rivers")
    with pytest.raises(InputFileError) as exc:
        read_vector(path)
    assert str(exc.value) == "both.gpkg holds 2 layers (wells, rivers); say which one with 'layer: <name>' under this input"
    assert not [w for w in recwarn if "layer" in str(w.message)]  # no GDAL "first layer taken" warning
    assert list(read_vector(path, layer="rivers").geom_type) == ["LineString"]


def test_attribute_tables_beside_one_layer_do_not_count(tmp_path, recwarn):
    # QGIS saves a layer's style into its GeoPackage as a table without geometries
    path = tmp_path / "styled.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"styleName": ["s"]}), path, layer="layer_styles")
    gpd.GeoDataFrame({"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(1, 1)], crs=UTM).to_file(
        path, layer="wells")
    assert sorted(name for name, _ in pyogrio.list_layers(path)) == ["layer_styles", "wells"]
    assert check_one_layer(path, None) == "wells"
    gdf = read_vector(path)
    assert list(gdf["a"]) == [1, 2] and list(gdf.geom_type) == ["Point", "Point"]
    assert not [w for w in recwarn if "layer" in str(w.message)]


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


def test_write_vector_names_the_default_grid_crs(tmp_path):
    import sqlite3

    from habitat.grid import DEFAULT_CRS
    from habitat.io.vectors import write_vector

    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 400_000)], crs=DEFAULT_CRS)
    assert frame.crs.name == "unknown"
    path = write_vector(frame, tmp_path / "x.gpkg")
    names = [row[0] for row in sqlite3.connect(path).execute("SELECT srs_name FROM gpkg_spatial_ref_sys")]
    assert "Central Asia Albers Equal Area" in names and "unknown" not in names
    back = read_vector(path)
    assert back.crs == frame.crs and back.crs.name == "Central Asia Albers Equal Area"


@pytest.mark.parametrize("strip_cells", [1, 3 * 29, 7 * 29, 10_000])
@pytest.mark.parametrize("cap_m", [1.0, 25.0, 42.5, 1e6])
def test_capped_distance_is_the_whole_grid_one_within_the_cap(strip_cells, cap_m):
    """Strip by strip: every distance <= cap_m equals the whole-grid transform
    exactly, every farther cell is inf; a window crops the same values."""
    from habitat.grid import GridSpec
    grid = GridSpec.create("EPSG:32642", (10.0, 0.0, 500000.0, 0.0, -10.0, 4500000.0), (37, 29))
    presence = np.random.default_rng(7).random(grid.shape) > 0.985
    whole = distance_to_presence_m(presence, grid)
    capped = distance_to_presence_m(presence, grid, cap_m=cap_m, strip_cells=strip_cells)
    expected = np.where(whole <= cap_m, whole, np.inf).astype(np.float32)
    np.testing.assert_array_equal(capped, expected)
    window = (slice(5, 30), slice(3, 20))
    np.testing.assert_array_equal(distance_to_presence_m(presence, grid, window=window), whole[window])
    np.testing.assert_array_equal(
        distance_to_presence_m(presence, grid, cap_m=cap_m, window=window, strip_cells=strip_cells), expected[window])


def test_capped_distance_by_hand():
    """One present cell, 10 m cells, cap 15 m: 0 on it, 10 beside it, 14.14 diagonally, inf beyond."""
    from habitat.grid import GridSpec
    grid = GridSpec.create("EPSG:32642", (10.0, 0.0, 500000.0, 0.0, -10.0, 4500000.0), (3, 4))
    presence = np.zeros(grid.shape, bool)
    presence[1, 1] = True
    d = distance_to_presence_m(presence, grid, cap_m=15.0, strip_cells=4)
    r = np.float32(np.sqrt(200.0))
    np.testing.assert_array_equal(d, np.array([[r, 10, r, np.inf], [10, 0, 10, np.inf], [r, 10, r, np.inf]], np.float32))
    assert np.isinf(distance_to_presence_m(np.zeros(grid.shape, bool), grid, cap_m=15.0)).all()


@pytest.mark.parametrize("crs, transform", [
    ("EPSG:32642", (30.0, 0.0, 500000.0, 0.0, -30.0, 4500000.0)),
    ("EPSG:4326", (0.01, 0.0, 60.0, 0.0, -0.01, 42.0)),  # geographic: dx != dy
])
@pytest.mark.parametrize("density", [0.0005, 0.01, 0.2])
@pytest.mark.parametrize("strip_rows", [1, 4, 61])
def test_distance_equals_scipys_whole_grid_transform_bit_for_bit(crs, transform, density, strip_rows):
    """The strip-by-strip separable transform gives scipy's distance_transform_edt, the same
    float32 values, for any strip height and on any window (sparse, dense, with ties)."""
    from habitat.grid import GridSpec
    from habitat.io.vectors import distance_rows_m
    from habitat.suitability.quality import threat_distance
    grid = GridSpec.create(crs, transform, (61, 45))
    presence = np.random.default_rng(3).random(grid.shape) < density
    presence[30, 20] = True
    dy = grid.resolution * grid.metres_per_unit
    dx = dy * np.cos(np.deg2rad((grid.bounds[1] + grid.bounds[3]) / 2)) if grid.is_geographic else dy
    expected = threat_distance(presence, cell_size_m=(dy, dx)).astype(np.float32)
    cells = strip_rows * grid.width
    np.testing.assert_array_equal(distance_to_presence_m(presence, grid, strip_cells=cells), expected)
    window = (slice(7, 50), slice(2, 44))
    np.testing.assert_array_equal(distance_to_presence_m(presence, grid, window=window, strip_cells=cells),
                                  expected[window])
    # read in blocks that do not match the strips, presence given as rows: the same values
    lazy = distance_rows_m(lambda r0, r1: presence[r0:r1], grid, window=window, strip_cells=cells)
    got = np.concatenate([lazy[r0:r0 + 5] for r0 in range(0, lazy.shape[0], 5)])
    np.testing.assert_array_equal(got, expected[window])


def test_distance_on_large_random_grids_equals_scipy():
    """Wider grids and clustered features (long envelopes, many exact ties) on square cells."""
    from habitat.grid import GridSpec
    from habitat.suitability.quality import threat_distance
    rng = np.random.default_rng(11)
    for shape, density in (((300, 257), 0.0002), ((150, 400), 0.003), ((211, 199), 0.05)):
        grid = GridSpec.create("EPSG:32642", (30.0, 0.0, 500000.0, 0.0, -30.0, 4500000.0), shape)
        presence = rng.random(shape) < density
        presence[rng.integers(0, shape[0]), :] |= rng.random(shape[1]) < 0.3  # a broken line
        expected = threat_distance(presence, cell_size_m=(30.0, 30.0)).astype(np.float32)
        np.testing.assert_array_equal(distance_to_presence_m(presence, grid, strip_cells=17 * shape[1]), expected)


def test_fraction_in_batches_of_boundary_cells_is_the_same(monkeypatch):
    """Boundary cells computed a few at a time give the same float32 cover as all at once."""
    from habitat.io import vectors
    grid = GridSpec.from_bounds((0, 0, 2000, 1500), UTM, 100)
    polys = [shapely.Point(600, 700).buffer(430), shapely.box(1130, 210, 1870, 990),
             shapely.Polygon([(100, 1400), (1900, 1300), (300, 1100)])]
    whole = rasterize_fraction(polys, grid)
    monkeypatch.setattr(vectors, "_FRACTION_BATCH_CELLS", 7)
    np.testing.assert_array_equal(rasterize_fraction(polys, grid), whole)
    assert ((whole > 0) & (whole < 1)).sum() > 7  # several batches


def _edge_aligned_polygons(grid: GridSpec, seed: int) -> list:
    """Polygons whose vertices lie on cell edges, cell centres and in between (the cases where a
    rasterization could depend on the window)."""
    rng = np.random.default_rng(seed)
    a, _, c, _, e, f = grid.transform
    polys = []
    for _ in range(12):
        cx, cy = rng.integers(0, grid.width), rng.integers(0, grid.height)
        pts = [(c + (cx + rng.integers(-8, 9) * 0.5) * a, f + (cy + rng.integers(-8, 9) * 0.5) * e) for _ in range(6)]
        poly = shapely.make_valid(shapely.Polygon(pts))
        polys.extend(p for p in shapely.get_parts(poly) if p.geom_type == "Polygon" and p.area > 0)
    return polys


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fraction_strip_by_strip_is_the_whole_grid_one(seed, monkeypatch):
    """Strips of 1, 2 and 5 rows (each dilation reading one row beyond) give the bytes of one strip."""
    from habitat.io import strips
    grid = GridSpec.from_bounds((0, 0, 3000, 2400), UTM, 100)
    polys = _edge_aligned_polygons(grid, seed)
    whole = rasterize_fraction(polys, grid)
    assert ((whole > 0) & (whole < 1)).any() and (whole == 1).any()
    for rows in (1, 2, 5):
        monkeypatch.setattr(strips, "STRIP_CELLS", rows * grid.width)
        np.testing.assert_array_equal(rasterize_fraction(polys, grid), whole)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_strip_by_strip_are_the_whole_grid_ones(seed, monkeypatch):
    """Polygon labels rasterized on row windows equal GDAL's whole-grid burn (cell-centre rule),
    vertices on cell edges and centres included."""
    from rasterio import features
    from habitat.io import strips
    grid = GridSpec.from_bounds((0, 0, 3000, 2400), UTM, 100)
    polys = _edge_aligned_polygons(grid, seed)
    labels = list(range(1, len(polys) + 1))
    whole = features.rasterize(list(zip(polys, labels)), out_shape=grid.shape, transform=grid.affine, fill=0,
                               dtype="int32")
    for rows in (1, 3, 7):
        monkeypatch.setattr(strips, "STRIP_CELLS", rows * grid.width)
        np.testing.assert_array_equal(rasterize_labels(polys, labels, grid), whole)
