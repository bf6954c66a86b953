"""Layers for the interactive map: rasters as Web Mercator PNG overlays, vectors as GeoJSON."""

from __future__ import annotations

import base64
import io
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject

from habitat.grid import GridSpec
from habitat.report.styles import ClassStyle, RampStyle

WEB_MERCATOR = "EPSG:3857"


def to_web_mercator(values: np.ndarray, grid: GridSpec, *, max_size_px: int = 1024,
                    nodata: float = math.nan) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Resample a grid layer onto a north-up EPSG:3857 grid (nearest neighbour).

    Parameters
    ----------
    values : ndarray, shape ``grid.shape``
    grid : GridSpec
    max_size_px : int, keyword-only
        The longer side of the result is at most this many pixels (>= 16).
    nodata : float, keyword-only
        Value of pixels outside the grid.

    Returns
    -------
    (ndarray, (south, west, north, east))
        The resampled layer and its bounds in degrees.

    Notes
    -----
    Leaflet stretches an image overlay linearly between its corner latitudes in Web Mercator
    metres, so the image must be regular in EPSG:3857, not in the grid CRS. Nearest neighbour
    keeps class codes and NaN intact.
    """
    height, width = grid.shape
    dst_transform, dst_width, dst_height = calculate_default_transform(
        grid.pyproj_crs.to_wkt(), WEB_MERCATOR, width, height, *grid.bounds)
    scale = max(dst_width, dst_height) / max(int(max_size_px), 16)
    if scale > 1:  # coarser pixels, same footprint
        dst_width, dst_height = max(1, math.ceil(dst_width / scale)), max(1, math.ceil(dst_height / scale))
        xmin, ymax = dst_transform.c, dst_transform.f
        xmax = xmin + dst_transform.a * dst_width * scale
        ymin = ymax + dst_transform.e * dst_height * scale
        dst_transform = from_bounds(xmin, ymin, xmax, ymax, dst_width, dst_height)
    src = np.asarray(values)
    dtype = np.float64 if src.dtype.kind == "f" else src.dtype
    out = np.full((dst_height, dst_width), nodata, dtype=dtype)
    reproject(src.astype(dtype), out, src_transform=grid.affine, src_crs=grid.pyproj_crs.to_wkt(),
              dst_transform=dst_transform, dst_crs=WEB_MERCATOR, resampling=Resampling.nearest,
              src_nodata=nodata, dst_nodata=nodata)
    xmin, ymax = dst_transform.c, dst_transform.f
    xmax, ymin = xmin + dst_transform.a * dst_width, ymax + dst_transform.e * dst_height
    # Web Mercator axes follow meridians and parallels, so the two corners give exact bounds.
    to_ll = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    west, south = to_ll.transform(xmin, ymin)
    east, north = to_ll.transform(xmax, ymax)
    return out, (south, west, north, east)


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode an RGBA uint8 image as PNG (no metadata, so the bytes depend on the pixels only)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8), mode="RGBA").save(buf, format="PNG", optimize=False,
                                                                                  compress_level=6)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def raster_overlay(values: np.ndarray, grid: GridSpec, style: RampStyle | ClassStyle, *,
                   hidden_classes: tuple[int, ...] = (), max_size_px: int = 1024) -> dict:
    """An image overlay for Leaflet: ``{"url": data URI, "bounds": [[south, west], [north, east]]}``."""
    if isinstance(style, ClassStyle):
        codes = np.asarray(values)
        fill = -1 if codes.dtype.kind == "i" else 0
        merc, bounds = to_web_mercator(codes.astype(np.int64), grid, max_size_px=max_size_px, nodata=fill)
        rgba = style.rgba(merc, transparent=hidden_classes)
    else:
        merc, bounds = to_web_mercator(np.asarray(values, dtype=np.float64), grid, max_size_px=max_size_px)
        rgba = style.rgba(merc)
    south, west, north, east = bounds
    return {"url": data_uri(png_bytes(rgba)), "bounds": [[south, west], [north, east]]}


def _json_value(value):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def to_geojson(frame: gpd.GeoDataFrame, *, decimals: int = 6) -> dict:
    """A FeatureCollection in EPSG:4326 with JSON-safe properties (NaN becomes null).

    Coordinates are rounded to ``decimals`` (6 decimals of a degree is about 0.1 m).
    """
    if frame.crs is None:
        raise ValueError("vector layer has no CRS")
    frame = frame.to_crs("EPSG:4326")
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = []
    for row in frame.itertuples(index=False):
        geom = getattr(row, frame.geometry.name)
        if geom is None or geom.is_empty:
            continue
        geom = shapely.set_precision(geom, 10.0 ** -decimals)
        props = {c: _json_value(v) for c, v in zip(columns, (getattr(row, c) if c.isidentifier() else None
                                                                for c in columns))}
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}
