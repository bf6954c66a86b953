"""Put rasters onto the analysis grid: the only place in habitat that resamples."""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from rasterio.errors import RasterioError

from habitat.errors import InputFileError, InvalidParameterError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.rasters import open_raster

LayerKind = Literal["categorical", "continuous"]

#: Methods allowed per kind; the first is used when the source is about as fine as the grid or
#: coarser, the second when the grid is at least twice as coarse as the source (aggregation).
RESAMPLING_BY_KIND: dict[str, tuple[str, str]] = {
    "categorical": ("nearest", "mode"),
    "continuous": ("bilinear", "average"),
}
_ALLOWED = {"categorical": {"nearest", "mode"}, "continuous": {"bilinear", "average", "nearest"}}


def choose_resampling(kind: LayerKind, source_res: float, grid_res: float) -> str:
    """Default resampling method for a layer kind and the ratio of cell sizes.

    Examples
    --------
    >>> choose_resampling("categorical", 10.0, 100.0)
    'mode'
    >>> choose_resampling("continuous", 100.0, 100.0)
    'bilinear'
    """
    fine, coarse = RESAMPLING_BY_KIND[kind]
    return coarse if grid_res >= 2 * source_res else fine


def align_to_grid(
    path: str | os.PathLike,
    grid: GridSpec,
    *,
    kind: LayerKind,
    resampling: str | None = None,
    band: int = 1,
    dtype: np.dtype | str | None = None,
    tile_shape: tuple[int, int] = (1024, 1024),
) -> tuple[np.ndarray, float | int | None]:
    """Reproject and resample one raster band onto ``grid``.

    Parameters
    ----------
    path : path
        Any GDAL-readable raster with a CRS.
    grid : GridSpec
        Target grid.
    kind : {'categorical', 'continuous'}
        Categorical layers (class codes) keep their codes: nearest or mode. Continuous layers:
        bilinear or average (or nearest on request).
    resampling : str, optional
        Override the method chosen by :func:`choose_resampling`.
    dtype : dtype, optional
        Output dtype; default: the source dtype for categorical layers, float32 for continuous.
    tile_shape : (int, int)
        Destination tiles processed one at a time; each destination cell is computed from its
        own source footprint, so the result does not depend on the tiling.

    Returns
    -------
    array : ndarray
        ``grid.shape`` array.
    nodata : number or None
        Nodata value of the result: the source nodata for categorical layers (0 if the source
        has none and cells fall outside it), NaN for continuous layers.

    Raises
    ------
    NoOverlapError
        The raster does not overlap the grid.
    """
    if kind not in _ALLOWED:
        raise InvalidParameterError(f"layer kind {kind!r} must be 'categorical' or 'continuous'")
    with open_raster(path) as src:
        check_band(path, src, band)
        src_bounds = src.bounds
        grid_in_src = transform_bounds(grid.pyproj_crs.to_wkt(), src.crs, *grid.bounds, densify_pts=21)
        if not _overlaps(src_bounds, grid_in_src):
            raise NoOverlapError(
                f"{path}: does not overlap the study area (raster bounds {tuple(round(v, 3) for v in src_bounds)} "
                f"in {src.crs.to_string()}); check the grid bounds or the file"
            )
        if resampling is None:
            src_in_grid, _, _ = calculate_default_transform(
                src.crs, grid.pyproj_crs.to_wkt(), src.width, src.height, *src_bounds
            )
            resampling = choose_resampling(kind, abs(src_in_grid.a), grid.resolution)
        if resampling not in _ALLOWED[kind]:
            raise InvalidParameterError(
                f"{path}: resampling {resampling!r} is not allowed for a {kind} layer; use one of "
                f"{sorted(_ALLOWED[kind])}"
            )
        src_nodata = src.nodata
        if kind == "categorical":
            out_dtype = np.dtype(dtype or src.dtypes[band - 1])
            dst_nodata = src_nodata if src_nodata is not None else 0
        else:
            out_dtype = np.dtype(dtype or np.float32)
            dst_nodata = np.nan
        out = np.full(grid.shape, dst_nodata, dtype=out_dtype)
        for (rows, cols), tile in grid.tiles(tile_shape):
            dst = np.full(tile.shape, dst_nodata, dtype=out_dtype)
            try:
                reproject(
                    source=rasterio.band(src, band),
                    destination=dst,
                    src_transform=src.transform,
                    src_crs=src.crs,
                    src_nodata=src_nodata,
                    dst_transform=tile.affine,
                    dst_crs=grid.pyproj_crs.to_wkt(),
                    dst_nodata=dst_nodata,
                    resampling=Resampling[resampling],
                )
            except RasterioError as exc:
                # a good header with corrupt tile data fails only here (GDAL's warp reads the blocks)
                raise InputFileError(
                    f"{path}: corrupt or unreadable raster data ({_gdal_message(exc)}); "
                    f"re-export or re-download the file"
                ) from exc
            if kind == "categorical" and out_dtype.kind == "f":
                _check_finite_codes(path, dst, src_nodata)
            out[rows, cols] = dst
    return out, dst_nodata


def check_band(path: str | os.PathLike, src: rasterio.io.DatasetReader, band: int) -> None:
    """``band`` (1-based) must be one of the raster's bands."""
    if not 1 <= band <= src.count:
        raise InputFileError(
            f"{path}: band {band} does not exist (the raster has {src.count} band"
            f"{'s' if src.count != 1 else ''}); set band to a number from 1 to {src.count}"
        )


def _check_finite_codes(path: str | os.PathLike, values: np.ndarray, src_nodata: float | None) -> None:
    """Class codes in a float raster must be finite (NaN is allowed only as the declared nodata)."""
    bad = np.isinf(values)
    if src_nodata is None or not np.isnan(src_nodata):
        bad |= np.isnan(values)
    if bad.any():
        raise InputFileError(
            f"{path}: land cover holds NaN or infinite values but class codes must be finite numbers; "
            f"set those cells to the nodata value (or declare NaN as nodata) or convert the raster to integer codes"
        )


def _gdal_message(exc: BaseException) -> str:
    """The most specific GDAL message of an error chain, on one line."""
    messages = [str(e) for e in (exc, exc.__cause__, exc.__context__) if e is not None and str(e)]
    return " ".join(messages[-1].split()) if messages else type(exc).__name__


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
