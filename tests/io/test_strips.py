"""Row-strip containers: lazy rows, bit-packed masks, grids in a temporary file."""

import numpy as np
import pytest

from habitat.io import strips
from habitat.io.strips import BitMask, DiskGrid, RowArray, strip_rows


def test_strip_rows_keeps_strips_near_the_cell_budget():
    assert strip_rows(1000, 5000) == 5
    assert strip_rows(10_000, 5000) == 1  # at least one row
    assert strip_rows(1000) == strips.STRIP_CELLS // 1000


def test_row_array_makes_only_the_rows_read():
    calls = []
    full = np.arange(7 * 5, dtype=np.int32).reshape(7, 5)

    def rows(r0, r1):
        calls.append((r0, r1))
        return full[r0:r1]

    lazy = RowArray(full.shape, np.int32, rows)
    np.testing.assert_array_equal(lazy[2:4], full[2:4])
    np.testing.assert_array_equal(lazy[3, 1:3], full[3, 1:3])
    np.testing.assert_array_equal(lazy[1:6, 2], full[1:6, 2])
    assert calls == [(2, 4), (3, 4), (1, 6)]
    np.testing.assert_array_equal(np.asarray(lazy), full)
    with pytest.raises(TypeError):
        lazy[::2]


def test_row_array_with_max_rows_asks_for_strips_of_at_most_that_many_rows(monkeypatch):
    calls = []
    full = np.arange(11 * 4, dtype=np.float32).reshape(11, 4)

    def rows(r0, r1):
        calls.append((r0, r1))
        return full[r0:r1]

    lazy = RowArray(full.shape, np.float32, rows, max_rows=3)
    np.testing.assert_array_equal(lazy[1:9, 1:3], full[1:9, 1:3])
    assert calls == [(1, 4), (4, 7), (7, 9)]
    calls.clear()
    np.testing.assert_array_equal(lazy[2:5], full[2:5])
    assert calls == [(2, 5)]  # up to max_rows: one call
    calls.clear()
    monkeypatch.setattr(strips, "STRIP_CELLS", 20)  # np.asarray: strips of 5 rows, each made 3 rows at a time
    np.testing.assert_array_equal(np.asarray(lazy), full)
    assert calls == [(0, 3), (3, 5), (5, 8), (8, 10), (10, 11)]


def test_row_array_and_disk_grid_are_duck_arrays_alike():
    # one base class: size, and numpy functions and ufuncs are not applied to them (xarray
    # wraps them without reading them)
    lazy = RowArray((3, 5), np.uint8, lambda r0, r1: np.ones((r1 - r0, 5), np.uint8))
    disk = DiskGrid((3, 5), np.uint8)
    for grid in (lazy, disk):
        assert grid.size == 15 and grid.ndim == 2
        assert grid.__array_function__(np.sum, (type(grid),), (grid,), {}) is NotImplemented
        assert grid.__array_ufunc__(np.add, "__call__", grid, 1) is NotImplemented
    np.testing.assert_array_equal(np.asarray(disk), np.zeros((3, 5), np.uint8))
    disk.close()


def test_row_array_rejects_rows_of_the_wrong_shape():
    lazy = RowArray((4, 3), np.float32, lambda r0, r1: np.zeros((r1 - r0, 2)))
    with pytest.raises(ValueError, match="shape"):
        lazy[0:2]


def test_row_array_is_wrapped_by_make_layer_without_being_computed():
    from habitat.grid import GridSpec
    from habitat.layers import make_layer
    grid = GridSpec.from_bounds((0, 0, 50, 40), "EPSG:32642", 10)
    calls = []
    lazy = RowArray(grid.shape, np.uint8, lambda r0, r1: calls.append((r0, r1)) or np.ones((r1 - r0, 5), np.uint8))
    layer = make_layer(lazy, grid, name="x")
    assert calls == [] and layer.data is lazy and layer.dtype == np.uint8


def test_rasters_are_written_from_row_arrays_strip_by_strip(tmp_path, monkeypatch):
    import rasterio
    from habitat.grid import GridSpec
    from habitat.io import rasters
    from habitat.io.rasters import write_raster
    monkeypatch.setattr(rasters, "CHUNK_CELLS", 3)
    grid = GridSpec.from_bounds((0, 0, 70, 80), "EPSG:32642", 10)
    full = np.random.default_rng(0).random(grid.shape).astype(np.float32)
    calls = []
    lazy = RowArray(grid.shape, np.float32, lambda r0, r1: calls.append((r0, r1)) or full[r0:r1])
    write_raster(lazy, tmp_path / "lazy.tif", grid)
    write_raster(full, tmp_path / "full.tif", grid)
    assert calls == [(0, 3), (3, 6), (6, 8)]
    assert (tmp_path / "lazy.tif").read_bytes() == (tmp_path / "full.tif").read_bytes()
    with rasterio.open(tmp_path / "lazy.tif") as ds:
        np.testing.assert_array_equal(ds.read(1), full)


@pytest.mark.parametrize("width", [1, 7, 8, 9, 31])
def test_bit_mask_round_trip(width, monkeypatch):
    monkeypatch.setattr(strips, "STRIP_CELLS", 16)  # many packing strips
    mask = np.random.default_rng(width).random((13, width)) < 0.3
    bits = BitMask.pack(mask)
    assert bits.shape == mask.shape and bits.bits.nbytes == 13 * ((width + 7) // 8)
    np.testing.assert_array_equal(np.asarray(bits), mask)
    np.testing.assert_array_equal(bits.rows(4, 9), mask[4:9])
    np.testing.assert_array_equal(bits[2:11, width // 2:], mask[2:11, width // 2:])
    assert bits.any() == mask.any()
    lazy = RowArray(mask.shape, bool, lambda r0, r1: mask[r0:r1])
    np.testing.assert_array_equal(np.asarray(BitMask.pack(lazy)), mask)


def test_disk_grid_writes_blocks_and_reads_rows():
    rng = np.random.default_rng(1)
    full = rng.integers(0, 9, (23, 17)).astype(np.uint8)
    grid = DiskGrid(full.shape, np.uint8)
    np.testing.assert_array_equal(np.asarray(grid), 0)  # starts as zeros
    for r0 in range(0, 23, 5):
        for c0 in range(0, 17, 6):
            grid[r0:r0 + 5, c0:c0 + 6] = full[r0:r0 + 5, c0:c0 + 6]
    np.testing.assert_array_equal(np.asarray(grid), full)
    np.testing.assert_array_equal(grid.rows(20, 30), full[20:])  # clipped to the grid
    np.testing.assert_array_equal(grid[3:9, 2:5], full[3:9, 2:5])
    assert grid.count_nonzero(slice(2, 20), slice(1, 16)) == np.count_nonzero(full[2:20, 1:16])
    wide = DiskGrid((4, 6), np.float32)
    wide[1:3, :] = np.full((2, 6), 2.5, np.float32)  # whole rows in one write
    np.testing.assert_array_equal(np.asarray(wide), np.array([[0] * 6, [2.5] * 6, [2.5] * 6, [0] * 6], np.float32))
    grid.close()


def test_disk_grid_reads_column_windows_and_is_a_layer(monkeypatch):
    from habitat.grid import GridSpec
    from habitat.layers import make_layer
    grid = GridSpec.from_bounds((0, 0, 70, 50), "EPSG:32642", 10)  # 5 x 7 cells
    full = np.arange(35, dtype=np.int32).reshape(5, 7)
    disk = DiskGrid(grid.shape, np.int32)
    disk[0:5, 0:7] = full
    np.testing.assert_array_equal(disk[1:4, 2:6], full[1:4, 2:6])
    np.testing.assert_array_equal(disk[3:9, 5:20], full[3:, 5:])  # clipped to the grid
    np.testing.assert_array_equal(disk[2, 1:3], full[2, 1:3])
    np.testing.assert_array_equal(disk[1:3, 4:2], full[1:3, 4:2])  # empty window
    # a window never reads whole rows of the file
    monkeypatch.setattr(DiskGrid, "rows", lambda self, r0, r1: pytest.fail("read whole rows"))
    layer = make_layer(disk, grid, name="patch_id", nodata=0)
    assert layer.data is disk
    np.testing.assert_array_equal(np.asarray(layer[1:4, 2:6].values), full[1:4, 2:6])
    disk.close()


def test_bitmask_column_windows_equal_the_mask():
    rng = np.random.default_rng(3)
    for width in (1, 7, 8, 9, 37):
        mask = rng.random((11, width)) < 0.5
        bits = BitMask.pack(mask)
        for c0 in range(width + 1):
            for c1 in range(c0, width + 1):
                np.testing.assert_array_equal(bits[2:9, c0:c1], mask[2:9, c0:c1])
                np.testing.assert_array_equal(bits[4, c0:c1], mask[4, c0:c1])
