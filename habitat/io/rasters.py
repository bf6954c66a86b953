"""Read and write rasters: validated opening, Cloud Optimized GeoTIFF output."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from habitat.errors import InputFileError, MissingCRSError
from habitat.grid import GridSpec
from habitat.io.atomic import atomic_path

#: Creation options for every raster habitat writes: COG, deflate, fixed block size.
COG_OPTIONS = {"driver": "COG", "compress": "DEFLATE", "blocksize": 256, "overviews": "NONE"}


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
    try:
        ds = rasterio.open(path)
    except RasterioIOError as exc:
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


def write_raster(
    array: np.ndarray,
    path: str | os.PathLike,
    grid: GridSpec,
    *,
    nodata: float | int | None = None,
    units: str | None = None,
    description: str | None = None,
) -> Path:
    """Write a 2-D array on ``grid`` as a Cloud Optimized GeoTIFF, atomically.

    Parameters
    ----------
    array : ndarray
        ``(height, width)`` array on ``grid``; its dtype is kept.
    path : path
        Target file; written to a temporary name in the same folder and renamed into place.
    grid : GridSpec
        The array's grid.
    nodata : number, optional
        Nodata value recorded in the file (NaN for float layers by convention).
    units, description : str, optional
        Stored as the band's unit and description.

    Notes
    -----
    The output is byte-identical for identical inputs: no timestamps are written.
    """
    if array.shape != grid.shape:
        raise ValueError(f"array shape {array.shape} is not the grid shape {grid.shape}")
    path = Path(path)
    profile = dict(
        COG_OPTIONS,
        width=grid.width,
        height=grid.height,
        count=1,
        dtype=array.dtype.name,
        crs=grid.pyproj_crs.to_wkt(),
        transform=grid.affine,
        nodata=nodata,
    )
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
        profile["dtype"] = "uint8"
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(array, 1)
            if units:
                dst.update_tags(1, units=units)
                dst.units = (units,)
            if description:
                dst.set_band_description(1, description)
    return path


def grid_of_raster(path: str | os.PathLike) -> GridSpec:
    """The GridSpec of an existing north-up raster."""
    with open_raster(path) as ds:
        return GridSpec.create(ds.crs.to_wkt(), ds.transform, (ds.height, ds.width))
