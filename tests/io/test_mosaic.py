import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from habitat.errors import InputFileError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.align import align_to_grid
from habitat.io.landcover import HABITAT_CLASS_CODES, map_landcover, read_crosswalk
from habitat.io.mosaic import (
    class_fractions,
    iter_landcover_blocks,
    iter_mosaic_blocks,
    landcover_to_grid,
    mosaic_to_grid,
    resolve_sources,
)

CODES = np.array([10, 20, 30, 40, 50, 60, 80, 90], np.uint8)


def _write(path, data, crs, transform, nodata=0):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def _two_crs_tiles(tmp_path, seed=0):
    """Tile A in UTM 42N (10 m), tile B in geographic degrees (~10 m), overlapping a little."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 4_400_000.0
    a = CODES[rng.integers(0, CODES.size, (60, 45))]
    a[rng.random(a.shape) < 0.05] = 0  # nodata holes
    pa = _write(tmp_path / "a_utm.tif", a, "EPSG:32642", from_origin(x0, y0, 10.0, 10.0))
    # B starts inside A's east part (overlap), in lon/lat
    lon, lat = Transformer.from_crs("EPSG:32642", "EPSG:4326", always_xy=True).transform(x0 + 400, y0 - 50)
    b = CODES[rng.integers(0, CODES.size, (55, 50))]
    b[rng.random(b.shape) < 0.05] = 0
    pb = _write(tmp_path / "b_geo.tif", b, "EPSG:4326", from_origin(lon, lat, 1.2e-4, 0.9e-4))
    grid_crs = GridSpec.from_bounds((0, 0, 1, 1), "default", 1).pyproj_crs
    to_grid = Transformer.from_crs("EPSG:32642", grid_crs, always_xy=True)
    cx, cy = to_grid.transform(x0 + 500, y0 - 300)
    return [pa, pb], (cx - 420, cy - 330, cx + 440, cy + 310)


def _reference(paths, grid, resampling, tile_shape=(1024, 1024)):
    """Whole-array reference: align_to_grid of each tile, composited in order (later wins)."""
    out = None
    for p in paths:
        arr, nodata = align_to_grid(p, grid, kind="categorical", resampling=resampling, tile_shape=tile_shape)
        out = arr.copy() if out is None else np.where(arr != nodata, arr, out)
    return out


def _assemble(blocks, shape, dtype):
    out = np.full(shape, 255, dtype)
    for b in blocks:
        out[b.rows, b.cols] = b.data
    return out


@pytest.mark.parametrize("res,method", [(30.0, "mode"), (20.0, "mode"), (50.0, "mode")])
def test_two_crs_mosaic_equals_whole_array_alignment(tmp_path, res, method):
    paths, bounds = _two_crs_tiles(tmp_path)
    grid = GridSpec.from_bounds(bounds, "default", res)
    expected = _reference(paths, grid, method)
    got = _assemble(iter_mosaic_blocks(paths, grid, resampling=method, block_cells=7), grid.shape, np.uint8)
    assert (expected != 0).sum() > 0.5 * expected.size  # both tiles contribute
    np.testing.assert_array_equal(got, expected)


def test_nearest_mosaic_equals_alignment_with_the_same_blocks(tmp_path):
    # Nearest: GDAL's approximate transformer (1/8 source pixel) interpolates along each
    # destination chunk, so a cell within 1/8 pixel of a source edge follows the chunking;
    # with the same chunks (1024 by default in both) the results are equal.
    paths, bounds = _two_crs_tiles(tmp_path)
    grid = GridSpec.from_bounds(bounds, "default", 10.0)
    expected = _reference(paths, grid, "nearest", tile_shape=(7, 7))
    got = _assemble(iter_mosaic_blocks(paths, grid, resampling="nearest", block_cells=7), grid.shape, np.uint8)
    np.testing.assert_array_equal(got, expected)


def test_default_resampling_is_mode_when_coarsening_and_file_output(tmp_path):
    paths, bounds = _two_crs_tiles(tmp_path, seed=1)
    grid = GridSpec.from_bounds(bounds, "default", 30.0)
    expected = _reference(paths, grid, "mode")
    out, nodata = mosaic_to_grid(str(tmp_path / "*.tif"), grid, tmp_path / "out" / "codes.tif", block_cells=5)
    with rasterio.open(out) as ds:
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        assert ds.nodata == nodata == 0
        np.testing.assert_array_equal(ds.read(1), expected)
    again, _ = mosaic_to_grid(paths, grid, tmp_path / "out" / "codes2.tif", block_cells=5)
    assert out.read_bytes() == again.read_bytes()


def test_landcover_classes_equal_map_of_codes(tmp_path):
    paths, bounds = _two_crs_tiles(tmp_path, seed=2)
    grid = GridSpec.from_bounds(bounds, "default", 30.0)
    cw = read_crosswalk("esa_worldcover")
    codes = _reference(paths, grid, "mode")
    fp = np.zeros(grid.shape, bool)
    fp[:, : grid.width // 2] = True
    expected = map_landcover(codes, cw, floodplain=fp, nodata=0)
    cls_path, frac_path = landcover_to_grid(paths, grid, cw, tmp_path / "cls.tif", tmp_path / "frac.tif",
                                            floodplain=fp, block_cells=6)
    with rasterio.open(cls_path) as ds:
        np.testing.assert_array_equal(ds.read(1), expected)
    with rasterio.open(frac_path) as ds:
        frac = ds.read()
        assert ds.descriptions[0] == "tugai_forest"
    valid = np.isfinite(frac[0])
    np.testing.assert_allclose(frac[:, valid].sum(axis=0), 1.0, rtol=1e-6)
    # shares of 3 x 3 samples, some nodata: multiples of 1/n_valid, n_valid in 1..9 (lcm 2520)
    np.testing.assert_allclose(frac[:, valid] * 2520, np.round(frac[:, valid] * 2520), atol=1e-3)


def test_fractions_by_hand_4x4_to_2x2(tmp_path):
    # 10 m WorldCover codes, same CRS, grid at 20 m aligned: each grid cell sees 2 x 2 fine cells
    codes = np.array([[10, 10, 20, 30],
                      [10, 90, 40, 40],
                      [80, 80, 0, 0],
                      [80, 50, 0, 60]], np.uint8)
    x0, y0 = 500_000.0, 4_400_000.0
    p = _write(tmp_path / "lc.tif", codes, "EPSG:32642", from_origin(x0, y0, 10.0, 10.0))
    grid = GridSpec.from_bounds((x0, y0 - 40, x0 + 40, y0), "EPSG:32642", 20.0)
    cw = read_crosswalk("esa_worldcover")
    [(block, frac)] = list(iter_landcover_blocks(p, grid, cw))
    c = HABITAT_CLASS_CODES
    expected = np.zeros((10, 2, 2), np.float32)
    # worldcover: 10 tree -> tugai_forest, 20 shrub -> tugai_shrub, 90 wetland -> reed_wetland,
    # 30 grass -> grassland, 40 crop -> cropland, 50 built, 60 bare, 80 water
    expected[c["tugai_forest"] - 1, 0, 0] = 3 / 4
    expected[c["reed_wetland"] - 1, 0, 0] = 1 / 4
    expected[c["tugai_shrub"] - 1, 0, 1] = 1 / 4
    expected[c["grassland"] - 1, 0, 1] = 1 / 4
    expected[c["cropland"] - 1, 0, 1] = 2 / 4
    expected[c["water"] - 1, 1, 0] = 3 / 4
    expected[c["built"] - 1, 1, 0] = 1 / 4
    expected[c["bare"] - 1, 1, 1] = 1.0  # three nodata cells: shares of the one observed cell
    np.testing.assert_array_equal(frac, expected)
    assert block.data[0, 0] == c["tugai_forest"] and block.data[1, 0] == c["water"]


def test_class_fractions_all_nodata_is_nan():
    f = class_fractions(np.zeros((2, 2), np.uint8), 2, n_classes=3)
    assert f.shape == (3, 1, 1) and np.isnan(f).all()


def test_sources_errors(tmp_path):
    with pytest.raises(InputFileError, match="matches no file"):
        resolve_sources(str(tmp_path / "*.tif"))
    with pytest.raises(InputFileError, match="not found"):
        resolve_sources([tmp_path / "missing.tif"])
    p = _write(tmp_path / "far.tif", np.ones((4, 4), np.uint8), "EPSG:32642", from_origin(0, 10_000, 10, 10))
    grid = GridSpec.from_bounds((500_000, 4_000_000, 500_100, 4_000_100), "EPSG:32642", 10.0)
    with pytest.raises(NoOverlapError, match="far.tif"):
        next(iter_mosaic_blocks(p, grid))


@pytest.mark.parametrize(("dtype", "values"), [("float32", 19.6), ("uint16", 266), ("int16", -3)])
def test_tile_codes_the_first_tiles_type_cannot_hold_are_refused(tmp_path, dtype, values):
    # cast into the first tile's uint8, 19.6 would become the shrub code 20 and 266 would wrap to 10
    grid = GridSpec.from_bounds((500_000, 4_000_000, 500_080, 4_000_040), "EPSG:32642", 10.0)
    a = _write(tmp_path / "a.tif", np.full((4, 4), 10, np.uint8), "EPSG:32642", from_origin(500_000, 4_000_040, 10, 10))
    b = _write(tmp_path / "b.tif", np.full((4, 4), values, dtype), "EPSG:32642", from_origin(500_040, 4_000_040, 10, 10))
    cw = read_crosswalk("esa_worldcover")
    with pytest.raises(InputFileError) as exc:
        next(iter_landcover_blocks([a, b], grid, cw))
    assert str(exc.value) == (f"{b}: band 1 holds {values:g}, which the mosaic's uint8 (the first tile's type) cannot "
                              "hold as a class code; export every tile as uint8 whole-number codes")


@pytest.mark.parametrize("dtype", ["float32", "int16", "uint16"])
def test_tile_of_a_wider_type_holding_whole_codes_is_mosaicked(tmp_path, dtype):
    # a raster calculator's float32 or QGIS's int16 export of the same codes, after a uint8 tile;
    # its nodata (-9999 or NaN) cells are not codes
    grid = GridSpec.from_bounds((500_000, 4_000_000, 500_080, 4_000_040), "EPSG:32642", 10.0)
    a = _write(tmp_path / "a.tif", np.full((4, 4), 10, np.uint8), "EPSG:32642", from_origin(500_000, 4_000_040, 10, 10))
    nodata = float("nan") if dtype == "float32" else (-9999 if dtype == "int16" else 65535)
    values = np.full((4, 4), 30, dtype)
    values[0, 0] = nodata
    b = tmp_path / "b.tif"
    with rasterio.open(b, "w", driver="GTiff", width=4, height=4, count=1, dtype=dtype, crs="EPSG:32642",
                       transform=from_origin(500_040, 4_000_040, 10, 10), nodata=nodata) as dst:
        dst.write(values, 1)
    codes = _assemble(iter_mosaic_blocks([a, b], grid), grid.shape, np.uint8)
    expected = np.repeat([[10] * 4 + [30] * 4], 4, axis=0).astype(np.uint8)
    expected[0, 4] = 0  # the tile's nodata: the mosaic's (the first tile's none: 0)
    np.testing.assert_array_equal(codes, expected)
    small = _write(tmp_path / "c.tif", np.full((4, 4), 20, np.uint8), "EPSG:32642", from_origin(500_040, 4_000_040, 10, 10))
    wide = _write(tmp_path / "d.tif", np.full((4, 4), 10, np.uint16), "EPSG:32642", from_origin(500_000, 4_000_040, 10, 10))
    codes = _assemble(iter_mosaic_blocks([wide, small], grid), grid.shape, np.uint16)  # uint8 fits in uint16
    np.testing.assert_array_equal(codes, np.repeat([[10] * 4 + [20] * 4], 4, axis=0))


def test_unknown_code_of_one_tile_names_that_tile(tmp_path):
    from habitat.errors import CrosswalkError

    grid = GridSpec.from_bounds((500_000, 4_000_000, 500_080, 4_000_040), "EPSG:32642", 10.0)
    a = _write(tmp_path / "a.tif", np.full((4, 4), 10, np.uint8), "EPSG:32642", from_origin(500_000, 4_000_040, 10, 10))
    values = np.full((4, 4), 20, np.uint8)
    values[2, 1] = 99  # not an ESA WorldCover code
    b = _write(tmp_path / "b.tif", values, "EPSG:32642", from_origin(500_040, 4_000_040, 10, 10))
    cw = read_crosswalk("esa_worldcover")
    with pytest.raises(CrosswalkError) as exc:
        next(iter_landcover_blocks([a, b], grid, cw))
    with pytest.raises(CrosswalkError) as alone:
        map_landcover(values, cw)
    assert str(exc.value) == f"{b}: {alone.value}"


def test_reads_only_windows_never_a_whole_tile(tmp_path, monkeypatch):
    import habitat.io.mosaic as mosaic

    paths, bounds = _two_crs_tiles(tmp_path)
    grid = GridSpec.from_bounds(bounds, "default", 30.0)
    seen = []
    real = mosaic.read_band

    def spy(ds, band=1, **kw):
        seen.append((ds.shape, kw["window"]))
        return real(ds, band, **kw)

    monkeypatch.setattr(mosaic, "read_band", spy)
    list(iter_mosaic_blocks(paths, grid, block_cells=6))
    assert len(seen) > 4
    for (h, w), win in seen:
        assert win.height * win.width < 0.5 * h * w


def test_fractions_do_not_depend_on_the_blocks(tmp_path):
    paths, bounds = _two_crs_tiles(tmp_path, seed=3)
    grid = GridSpec.from_bounds(bounds, "default", 30.0)
    cw = read_crosswalk("esa_worldcover")
    out = {}
    for cells in (5, 1024):
        frac = np.full((10, *grid.shape), -1.0, np.float32)
        for block, f in iter_landcover_blocks(paths, grid, cw, block_cells=cells):
            frac[:, block.rows, block.cols] = f
        out[cells] = frac
    np.testing.assert_array_equal(out[5], out[1024])
    assert np.isfinite(out[5]).mean() > 0.5
