"""Read and write rasters: validated opening, Cloud Optimized GeoTIFF output."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from habitat.compute import active_client
from habitat.errors import InputFileError, MissingCRSError
from habitat.grid import GridSpec
from habitat.io.atomic import atomic_path

@contextlib.contextmanager
def open_raster(path: str | os.PathLike) -> Iterator[rasterio.io.DatasetReader]:
    """Open a raster for reading, turning the ways it can fail into one-line user errors.

    Raises
    ------
    InputFileError
        The file is missing or is not a raster GDAL can read (corrupt, wrong format).
    MissingCRSError
        The raster has no coordinate reference system.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; check the path")
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    try:
        with warnings.catch_warnings():
            # a raster without position is reported below, as one line (not rasterio's warning)
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(path)
    except RasterioIOError as exc:
        if path.suffix.lower() in {".zip", ".gz", ".tgz", ".tar", ".7z", ".rar"}:
            raise InputFileError(
                f"{path}: an archive, not a raster; unpack it and give the path of the raster inside "
                "(e.g. the .tif)"
            ) from exc
        raise InputFileError(
            f"{path}: not a readable raster (corrupt or unsupported format); re-export it as "
            "GeoTIFF"
        ) from exc
    with ds:
        _check_readable(ds)
        if ds.crs is None:
            raise MissingCRSError(
                f"{path}: raster has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:32642)"
            )
        if ds.transform.is_identity and not ds.gcps[0] and not ds.rpcs:
            raise InputFileError(
                f"{path}: raster has no georeferencing (no geotransform: its cells have no position on "
                "the ground); assign one (e.g. gdal_edit.py -a_ullr ULX ULY LRX LRY) or re-export it as GeoTIFF"
            )
        yield ds


def _check_readable(ds: rasterio.io.DatasetReader) -> None:
    """Read the first and last pixel: a truncated or corrupt file fails here, not mid-stage."""
    try:
        for row, col in ((0, 0), (ds.height - 1, ds.width - 1)):
            ds.read(1, window=Window(col, row, 1, 1))
    except RasterioError as exc:
        raise InputFileError(
            f"{ds.name}: not a readable raster (truncated or corrupt); re-export it as GeoTIFF"
        ) from exc


def read_band(ds: rasterio.io.DatasetReader, band: int = 1, **kwargs) -> np.ndarray:
    """Read one band, reporting a truncated or corrupt file as a user error."""
    try:
        return ds.read(band, **kwargs)
    except RasterioError as exc:
        raise InputFileError(
            f"{ds.name}: pixel data cannot be read (truncated or corrupt file); re-export it"
        ) from exc


#: Chunk size (cells per side) of lazily read layers; a multiple of the COG block size.
CHUNK_CELLS = 1024

#: Compression of the COGs written by :func:`write_rasters`, chosen by measurement (bench/README.md,
#: "Per-cell stage throughput"): on 4000 x 4000 float32 layers ZSTD level 1 compresses 6-7x faster than
#: DEFLATE level 6 for files 0-5 % larger; a floating-point predictor made files larger. Tiles are
#: compressed on two threads; GDAL writes them in order, so the bytes do not depend on the threads.
COG_COMPRESSION = {"compress": "ZSTD", "level": 1, "num_threads": 2}

#: GDAL block cache while rasters are computed and written block by block (MB).
GDAL_CACHE_MB = 128
#: GDAL block cache (MB) for stages that read their inputs in full-width strips from top to
#: bottom (connectivity, circuit, indicators): a tile is wanted by at most two consecutive
#: strips, and a cache that can hold whole layers (the 128 MB above) only grows with the grid
#: until its cap (measured 112 MB more after reading a 33 M-cell float32 layer: bench/README.md,
#: "Indicators strip by strip" and "Circuit stage flat").
STRIP_GDAL_CACHE_MB = 16


@dataclass(frozen=True)
class RasterOutput:
    """One raster to write: a 2-D numpy or dask array on ``grid`` and its metadata."""

    array: Any
    path: Path
    grid: GridSpec
    nodata: float | int | None = None
    units: str | None = None
    description: str | None = None


class _WindowWriter:
    """A ``dask.array.store`` target that writes each block into a window of an open raster."""

    def __init__(self, dataset: rasterio.io.DatasetWriter) -> None:
        self.dataset = dataset

    def __setitem__(self, key: tuple[slice, slice], block: np.ndarray) -> None:
        rows, cols = key
        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        self.dataset.write(np.asarray(block), 1, window=window)


def _store_on_cluster(client, sources: list[da.Array], targets: list[_WindowWriter]) -> None:
    """``da.store`` on a Dask cluster: the blocks are computed by the workers (one graph, so
    shared upstream work runs once) and written here, where the files are open, as they arrive.
    The COG copy that follows makes the file independent of the order of the writes."""
    from distributed import as_completed

    # equal arrays (e.g. two distance layers from the same cells) share dask keys: one block
    # computed, written to every place that needs it
    delayed, where = {}, {}
    for array, target in zip(sources, targets):
        edges = [np.cumsum((0, *chunks)) for chunks in array.chunks]
        for index, block in zip(np.ndindex(*array.numblocks), array.to_delayed().ravel()):
            delayed.setdefault(block.key, block)
            where.setdefault(block.key, []).append((target, tuple(slice(e[i], e[i + 1]) for e, i in zip(edges, index))))
    keys = list(delayed)
    futures = client.compute([delayed[k] for k in keys])
    position = {future.key: k for future, k in zip(futures, keys)}
    for future, block in as_completed(futures, with_results=True):
        for target, window in where[position[future.key]]:
            target[window] = block
        future.release()


def write_rasters(outputs: list[RasterOutput]) -> list[Path]:
    """Write rasters as Cloud Optimized GeoTIFFs, block by block, atomically.

    Arrays may be numpy or dask (lazy): numpy ones are written strip by strip (no copy), dask
    ones are all computed together with
    ``dask.array.store`` (shared upstream work is done once) and written window by window into
    tiled temporary GeoTIFFs, which are then copied into COGs beside the targets and renamed
    into place (the temporary GeoTIFFs are uncompressed: the tiles are compressed once, into
    the COG, see ``COG_COMPRESSION``). Memory stays bounded by the chunks in flight, not by the grid size. The output
    is byte-identical for identical inputs: no timestamps are written.
    """
    import dask.array as da
    with contextlib.ExitStack() as stack:
        sources, targets, staged = [], [], []
        for out in outputs:
            if tuple(out.array.shape) != out.grid.shape:
                raise ValueError(f"{out.path.name}: array shape {out.array.shape} is not the grid shape {out.grid.shape}")
            dtype = np.dtype("uint8") if out.array.dtype == np.bool_ else np.dtype(out.array.dtype)
            final = stack.enter_context(atomic_path(out.path))
            work = final.with_name(final.name + ".tiled.tif")
            stack.callback(work.unlink, missing_ok=True)
            profile = dict(
                driver="GTiff", tiled=True, blockxsize=256, blockysize=256,
                width=out.grid.width, height=out.grid.height, count=1, dtype=dtype.name,
                crs=out.grid.pyproj_crs.to_wkt(), transform=out.grid.affine, nodata=out.nodata,
            )
            dataset = stack.enter_context(rasterio.open(work, "w", **profile))
            if out.units:
                dataset.update_tags(1, units=out.units)
                dataset.units = (out.units,)
            if out.description:
                dataset.set_band_description(1, out.description)
            staged.append((dataset, work, final))
            if not isinstance(out.array, da.Array):
                # in memory already: written strip by strip, converted per strip (da.from_array
                # would copy the whole array first)
                with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
                    for r0 in range(0, out.grid.height, CHUNK_CELLS):
                        rows = slice(r0, min(r0 + CHUNK_CELLS, out.grid.height))
                        strip = np.asarray(out.array[rows]).astype(dtype, copy=False)
                        _WindowWriter(dataset)[rows, slice(0, out.grid.width)] = strip
                continue
            sources.append(out.array.astype(dtype) if out.array.dtype != dtype else out.array)
            targets.append(_WindowWriter(dataset))
        # GDAL datasets are not thread-safe: one block is written at a time. GDAL's block cache
        # defaults to 5 % of RAM; a small one keeps memory bounded by the chunks in flight.
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            client = active_client()
            if not sources:
                pass
            elif client is None:
                # no cluster: the configured scheduler, else threads, and the lock dask picks for
                # lock=True on threads, named here because dask's look-ups import distributed (a
                # serial half second before any block runs)
                import dask
                import dask.threaded
                from dask.utils import SerializableLock

                da.store(sources, targets, lock=SerializableLock(),
                         scheduler=dask.config.get("scheduler", None) or dask.threaded.get)
            else:
                _store_on_cluster(client, sources, targets)
        for dataset, _, _ in staged:
            dataset.close()
        # the copies release the GIL and each file is independent: two at a time use both cores
        # where one copy's reading and writing are serial (same bytes: each file is its own copy)
        from concurrent.futures import ThreadPoolExecutor

        def cog(work: Path, final: Path) -> None:
            rio_copy(work, final, driver="COG", blocksize=256, overviews="NONE", **COG_COMPRESSION)

        with ThreadPoolExecutor(max_workers=min(2, max(1, len(staged)))) as pool:
            for future in [pool.submit(cog, work, final) for _, work, final in staged]:
                future.result()
    return [out.path for out in outputs]


def write_raster(
    array: np.ndarray,
    path: str | os.PathLike,
    grid: GridSpec,
    *,
    nodata: float | int | None = None,
    units: str | None = None,
    description: str | None = None,
) -> Path:
    """Write one 2-D array on ``grid`` as a Cloud Optimized GeoTIFF, atomically.

    See :func:`write_rasters`; ``array`` may be numpy or dask.
    """
    return write_rasters([RasterOutput(array, Path(path), grid, nodata, units, description)])[0]


class WindowReader:
    """Band 1 of one raster, read window by window through one open handle per thread.

    ``reader(row0, row1, col0, col1)`` is the band's cells in rows ``row0:row1`` and columns
    ``col0:col1``. Opening the file for each window cost more than the read's decompression
    saved: GDAL drops a closed dataset's block buffers, so every read faulted fresh pages in;
    a kept handle under GDAL's bounded block cache (``GDAL_CACHE_MB``, entered per read, so it
    holds on any thread) recycles them (bench/README.md, "Suitability at 5x": the suitability
    stage's block reads). The handles close when the reader is dropped (with the graph that
    holds it); a pickled reader opens its own. :func:`open_layer`'s reads open a handle each.
    """

    def __init__(self, path: str) -> None:
        import threading

        self.path = path
        self._local = threading.local()

    def __reduce__(self) -> tuple:
        return (WindowReader, (self.path,))

    def __call__(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        dataset = getattr(self._local, "dataset", None)
        if dataset is None:
            dataset = self._local.dataset = rasterio.open(self.path)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            return dataset.read(1, window=Window(col0, row0, col1 - col0, row1 - row0))


class _LayerWindows:
    """Band 1 of a raster file as a lazily read array for ``dask.array.from_array``: each
    ``[rows, cols]`` read opens its own handle, so dask threads decompress in parallel (no lock)."""

    def __init__(self, path: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.path, self.shape, self.dtype, self.ndim = path, shape, dtype, 2

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (2 - len(key))
        if len(key) != 2 or not all(isinstance(k, (slice, int, np.integer)) for k in key):
            return self._read(0, self.shape[0], 0, self.shape[1])[key]  # any other index: whole band
        bounds, local = [], []
        for k, n in zip(key, self.shape):
            if isinstance(k, slice):
                r = range(*k.indices(n))
                lo = min(r[0], r[-1]) if r else 0
                bounds.append((lo, max(r[0], r[-1]) + 1 if r else 0))
                local.append(slice(None) if r.step == 1 else slice(r.start - lo, None if r.stop < lo else r.stop - lo, r.step))
            else:
                i = int(k) + n if k < 0 else int(k)
                bounds.append((i, i + 1))
                local.append(0)
        (r0, r1), (c0, c1) = bounds
        return self._read(r0, r1, c0, c1)[tuple(local)]

    def _read(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        with rasterio.open(self.path) as ds:
            return read_band(ds, 1, window=Window(c0, r0, c1 - c0, r1 - r0))


def open_layer(path: str | os.PathLike, *, name: str | None = None, chunks: int = CHUNK_CELLS) -> xr.DataArray:
    """Open a single-band raster lazily as a dask-backed DataArray on its grid.

    Windows are read only when a computation needs them, so stages can work on rasters larger
    than memory. The layer carries its grid (``attrs["grid"]``), ``nodata`` and ``units`` like
    :func:`habitat.layers.make_layer`.
    """
    import dask.array as da
    from dask.base import tokenize
    from habitat.layers import make_layer
    with open_raster(path) as ds:
        grid = _dataset_grid(ds)
        nodata, units, dtype = ds.nodata, ds.tags(1).get("units"), np.dtype(ds.dtypes[0])
    # band 1 read window by window, raw values (no mask or scale); a direct dask array in place of
    # rioxarray's DataArray, whose coordinates, CRS and chunking cost ~10 ms per layer (the grid's
    # coordinates come from make_layer). The name changes with the file: equal opens share blocks.
    stat = os.stat(path)
    key = tokenize(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, chunks)
    data = da.from_array(_LayerWindows(str(path), grid.shape, dtype), chunks=(chunks, chunks),
                         name=f"open-layer-{key}", lock=False, asarray=False,
                         meta=np.empty((0, 0), dtype=dtype))
    layer = make_layer(data, grid, name=name or Path(path).stem, units=units, nodata=nodata)
    # a block-wise stage may read its windows from the file inside its own task (no read-ahead
    # of the scheduler's input blocks: habitat.stages.suitability)
    layer.encoding["source"] = str(path)
    return layer


def grid_of_raster(path: str | os.PathLike) -> GridSpec:
    """The GridSpec of an existing north-up raster."""
    with open_raster(path) as ds:
        return _dataset_grid(ds)


def _dataset_grid(ds: rasterio.io.DatasetReader) -> GridSpec:
    """The GridSpec of an open raster (grids are immutable: one per CRS, transform and shape)."""
    return _grid(ds.crs.to_wkt(), tuple(ds.transform)[:6], (ds.height, ds.width))


@functools.lru_cache(maxsize=64)
def _grid(crs_wkt: str, transform: tuple[float, ...], shape: tuple[int, int]) -> GridSpec:
    # pyproj's EPSG look-up of the CRS takes ~4 ms; a stage opens many layers on one grid
    return GridSpec.create(crs_wkt, transform, shape)
