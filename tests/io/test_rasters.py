import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from habitat.errors import InputFileError, MissingCRSError
from habitat.grid import GridSpec
from habitat.io.rasters import grid_of_raster, open_raster, read_band, write_raster

GRID = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100)


def test_write_read_round_trip_is_cog_and_reproducible(tmp_path):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = write_raster(data, tmp_path / "a" / "x.tif", GRID, nodata=np.nan, units="m")
    b = write_raster(data, tmp_path / "b" / "x.tif", GRID, nodata=np.nan, units="m")
    assert a.read_bytes() == b.read_bytes()
    with open_raster(a) as ds:
        np.testing.assert_array_equal(read_band(ds), data)
        assert ds.tags(1)["units"] == "m" and np.isnan(ds.nodata)
        assert ds.profile["compress"].lower() == "zstd"
    assert grid_of_raster(a) == GRID


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        with open_raster(tmp_path / "nope.tif"):
            pass


def test_corrupt_geotiff(tmp_path):
    good = write_raster(np.ones((2, 3), np.uint8), tmp_path / "good.tif", GRID)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(good.read_bytes()[:100])
    with pytest.raises(InputFileError, match="corrupt"):
        with open_raster(bad) as ds:
            read_band(ds)


@pytest.mark.parametrize("name", ["landcover.zip", "landcover.tar.gz"])
def test_archive_given_as_a_raster_says_to_unpack_it(tmp_path, name):
    import zipfile

    good = write_raster(np.ones((2, 3), np.uint8), tmp_path / "good.tif", GRID)
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w") as zf:  # the bytes of an archive; GDAL reads neither as a raster
        zf.write(good, "good.tif")
    with pytest.raises(InputFileError) as exc:
        with open_raster(archive):
            pass
    assert str(exc.value) == (f"{archive}: an archive, not a raster; unpack it and give the path of the raster "
                              "inside (e.g. the .tif)")


def test_raster_without_crs(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                       transform=from_origin(0, 2, 1, 1)) as dst:
        dst.write(np.zeros((2, 2), np.uint8), 1)
    with pytest.raises(MissingCRSError, match="no CRS"):
        with open_raster(path):
            pass


def test_raster_without_georeferencing_is_one_clear_error(tmp_path, recwarn):
    import warnings

    path = tmp_path / "nogeo.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio warns when writing without a transform too
        with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                           crs="EPSG:32642") as dst:
            dst.write(np.zeros((2, 2), np.uint8), 1)
    with pytest.raises(InputFileError, match=r"nogeo.tif: raster has no georeferencing .*gdal_edit.py -a_ullr"):
        with open_raster(path):
            pass
    assert not [w for w in recwarn if "georeferenc" in str(w.message).lower()]  # one line, no warning noise


def test_multi_tile_cog_is_byte_identical_and_lossless(tmp_path):
    # several 256-cell tiles compressed on two threads: same bytes on every run, values exact
    grid = GridSpec.from_bounds((0, 0, 60000, 50000), "EPSG:32642", 100)
    data = np.random.default_rng(1).random(grid.shape, dtype=np.float32)
    data[::7, ::5] = np.nan
    a = write_raster(data, tmp_path / "a.tif", grid, nodata=np.nan)
    b = write_raster(data, tmp_path / "b.tif", grid, nodata=np.nan)
    assert a.read_bytes() == b.read_bytes()
    with open_raster(a) as ds:
        np.testing.assert_array_equal(read_band(ds), data)


@pytest.mark.parametrize("dtype", [np.bool_, np.float32])
def test_numpy_strips_and_dask_blocks_write_the_same_bytes(tmp_path, monkeypatch, dtype):
    """A numpy array (written strip by strip, converted per strip) and the same values as a dask
    array give byte-identical files, bool stored as uint8."""
    import dask.array as da
    from habitat.io import rasters
    monkeypatch.setattr(rasters, "CHUNK_CELLS", 256)  # several strips, the last one short
    grid = GridSpec.from_bounds((0, 0, 30 * 700, 30 * 600), "EPSG:32642", 30)
    values = (np.random.default_rng(1).random(grid.shape) > 0.5).astype(dtype)
    a = write_raster(values, tmp_path / "numpy.tif", grid, nodata=None)
    b = write_raster(da.from_array(values, chunks=300), tmp_path / "dask.tif", grid, nodata=None)
    assert a.read_bytes() == b.read_bytes()
    with rasterio.open(a) as ds:
        assert ds.dtypes[0] == ("uint8" if dtype is np.bool_ else "float32")
        np.testing.assert_array_equal(ds.read(1), values.astype(ds.dtypes[0]))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_open_layer_reads_the_file_lazily_window_by_window(tmp_path, dtype):
    from habitat.io.rasters import open_layer
    from habitat.layers import grid_of

    data = np.arange(5 * 7, dtype=dtype).reshape(5, 7)
    grid = GridSpec.from_bounds((0, 0, 700, 500), "EPSG:32642", 100)
    path = write_raster(data, tmp_path / "x.tif", grid, nodata=0, units="m")
    layer = open_layer(path, name="x", chunks=3)
    assert layer.data.chunks == ((3, 2), (3, 3, 1))
    assert layer.dtype == dtype and layer.attrs["nodata"] == 0 and layer.attrs["units"] == "m"
    assert grid_of(layer) == grid and layer.encoding["source"] == str(path)
    np.testing.assert_array_equal(layer.x.values, [50, 150, 250, 350, 450, 550, 650])
    np.testing.assert_array_equal(layer.values, data)
    np.testing.assert_array_equal(layer[1:4, 2:6].values, data[1:4, 2:6])
    # cells, steps and reversed slices (dask hands some of them to the reader as they are)
    assert int(layer[3, 5]) == data[3, 5] and int(layer[-1, -1]) == data[4, 6]
    np.testing.assert_array_equal(layer[::-1, ::2].values, data[::-1, ::2])
    np.testing.assert_array_equal(layer[4:0:-2, 5].values, data[4:0:-2, 5])
    # two opens of one file share their blocks; another file is another array
    assert open_layer(path, chunks=3).data.name == layer.data.name
    other = write_raster(data, tmp_path / "y.tif", grid)
    assert open_layer(other, chunks=3).data.name != layer.data.name


def test_window_reader_is_the_slice_of_the_band_on_every_thread(tmp_path):
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    from rasterio.transform import from_origin

    from habitat.io.rasters import WindowReader

    values = np.arange(35, dtype=np.float32).reshape(5, 7)
    path = tmp_path / "a.tif"
    with rasterio.open(path, "w", driver="GTiff", width=7, height=5, count=1, dtype="float32",
                       transform=from_origin(0, 50, 10, 10)) as ds:
        ds.write(values, 1)
    reader = WindowReader(str(path))
    np.testing.assert_array_equal(reader(1, 4, 2, 7), values[1:4, 2:7])
    np.testing.assert_array_equal(reader(0, 5, 0, 7), values)  # the same handle again
    with ThreadPoolExecutor(2) as pool:  # each thread its own handle
        parts = list(pool.map(lambda r: reader(r, r + 1, 0, 7), range(5)))
    np.testing.assert_array_equal(np.concatenate(parts), values)
    copy = pickle.loads(pickle.dumps(reader))  # opens its own handle
    np.testing.assert_array_equal(copy(3, 5, 1, 2), values[3:5, 1:2])
