import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from habitat.errors import InvalidParameterError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.align import align_to_grid, choose_resampling

SRC_CRS, X0, Y0, RES, H, W = "EPSG:32642", 500_000.0, 4_700_000.0, 100.0, 40, 50


def _index_raster(path):
    """A coordinate-encoding raster: each cell holds its own index row * W + col."""
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1, dtype="int32",
                       crs=SRC_CRS, transform=from_origin(X0, Y0, RES, RES), nodata=-1) as dst:
        dst.write(np.arange(H * W, dtype=np.int32).reshape(H, W), 1)
    return path


def test_values_land_in_the_cell_they_belong_to_after_reprojection(tmp_path):
    src = _index_raster(tmp_path / "index.tif")
    to_utm = Transformer.from_crs(GridSpec.from_bounds((0, 0, 1, 1), "default", 1).pyproj_crs, SRC_CRS, always_xy=True)
    from_utm = Transformer.from_crs(SRC_CRS, to_utm.source_crs, always_xy=True)
    cx, cy = from_utm.transform(X0 + W * RES / 2, Y0 - H * RES / 2)
    grid = GridSpec.from_bounds((cx - 1500, cy - 1200, cx + 1500, cy + 1200), "default", 70)
    out, nodata = align_to_grid(src, grid, kind="categorical", resampling="nearest")
    xs, ys = np.meshgrid(grid.x_coords, grid.y_coords)
    ux, uy = to_utm.transform(xs, ys)
    expected = (np.floor((Y0 - uy) / RES) * W + np.floor((ux - X0) / RES)).astype(np.int32)
    assert nodata == -1
    np.testing.assert_array_equal(out, expected)


def test_tiled_alignment_equals_whole(tmp_path):
    src = _index_raster(tmp_path / "index.tif")
    grid = GridSpec.from_bounds((X0 + 130, Y0 - 3300, X0 + 4000, Y0 - 170), SRC_CRS, 60)
    for kind, method in [("categorical", "mode"), ("continuous", "bilinear"), ("continuous", "average")]:
        whole, _ = align_to_grid(src, grid, kind=kind, resampling=method, tile_shape=(10_000, 10_000))
        tiled, _ = align_to_grid(src, grid, kind=kind, resampling=method, tile_shape=(3, 3))
        np.testing.assert_array_equal(tiled, whole)


def test_aggregation_by_average_and_mode(tmp_path):
    path = tmp_path / "blocks.tif"
    data = np.array([[1, 1, 2, 2], [1, 3, 2, 2]], dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=4, height=2, count=1, dtype="uint8",
                       crs=SRC_CRS, transform=from_origin(X0, Y0, RES, RES)) as dst:
        dst.write(data, 1)
    grid = GridSpec.from_bounds((X0, Y0 - 200, X0 + 400, Y0), SRC_CRS, 200)
    mode, _ = align_to_grid(path, grid, kind="categorical")  # default: mode when coarsening
    np.testing.assert_array_equal(mode, [[1, 2]])
    mean, nodata = align_to_grid(path, grid, kind="continuous")
    np.testing.assert_allclose(mean, [[1.5, 2.0]])
    assert np.isnan(nodata)


def test_nodata_is_carried_through(tmp_path):
    path = tmp_path / "nd.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2, height=1, count=1, dtype="float32",
                       crs=SRC_CRS, transform=from_origin(X0, Y0, RES, RES), nodata=-9999) as dst:
        dst.write(np.array([[5.0, -9999.0]], np.float32), 1)
    grid = GridSpec.from_bounds((X0, Y0 - 100, X0 + 300, Y0), SRC_CRS, 100)
    out, _ = align_to_grid(path, grid, kind="continuous", resampling="nearest")
    np.testing.assert_array_equal(out, [[5.0, np.nan, np.nan]])


def test_no_overlap_and_bad_method_are_user_errors(tmp_path):
    src = _index_raster(tmp_path / "index.tif")
    far = GridSpec.from_bounds((X0 + 1e6, Y0, X0 + 1e6 + 1000, Y0 + 1000), SRC_CRS, 100)
    with pytest.raises(NoOverlapError, match="does not overlap"):
        align_to_grid(src, far, kind="categorical")
    near = GridSpec.from_bounds((X0, Y0 - 1000, X0 + 1000, Y0), SRC_CRS, 100)
    with pytest.raises(InvalidParameterError, match="bilinear"):
        align_to_grid(src, near, kind="categorical", resampling="bilinear")


def test_choose_resampling():
    assert choose_resampling("categorical", 100, 100) == "nearest"
    assert choose_resampling("categorical", 10, 100) == "mode"
    assert choose_resampling("continuous", 10, 30) == "average"
    assert choose_resampling("continuous", 100, 150) == "bilinear"
