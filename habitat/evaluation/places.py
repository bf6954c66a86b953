"""Values of a map at known places and their percentiles among reference (floodplain) cells.

METHODS.md section 10: each known presence place is ranked among the floodplain
(habitat-capable) cells, not among all cells: when most of the map is 0, any place above 0 is
"top 3 %", which proves nothing. Places in the bottom half of that ranking are flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine

from habitat.errors import GridMismatchError, InvalidParameterError

__all__ = ["BOTTOM_HALF_PERCENTILE", "REFERENCE_KINDS", "percentile_among", "place_table", "place_values"]

#: A place whose percentile is below this is "in the bottom half" of the reference cells.
BOTTOM_HALF_PERCENTILE = 50.0


def place_values(
    values: np.ndarray,
    transform: Affine | Sequence[float],
    geometries: Sequence[shapely.Geometry],
    *,
    polygon_stat: Literal["mean", "max"] = "mean",
) -> np.ndarray:
    """The map's value at each place: the cell under a point, the mean or max of a polygon's cells.

    Parameters
    ----------
    values : 2-D ndarray of float
        The map on a north-up grid (NaN nodata).
    transform : Affine or 6 floats
        The grid's pixel-to-map transform; geometries must be in the grid's CRS.
    geometries : sequence of shapely geometries
        Points (or multipoints: the first point) and polygons (or multipolygons).
    polygon_stat : {"mean", "max"}
        How a polygon summarises its cells. "mean" (default) says how good the place is as a
        whole; "max" says whether any of it scores well and flatters large polygons.

    Returns
    -------
    ndarray of float64, one value per geometry
        NaN when the place lies outside the grid or all its cells are NaN.

    Notes
    -----
    A point takes the cell that contains it (cells are closed on their west and north edges).
    A polygon takes the cells whose centres lie inside it (``rasterio.features.rasterize`` with
    ``all_touched=False``); a polygon smaller than a cell that holds no cell centre takes the
    cell under its representative point, so every place on the grid gets a value. NaN cells
    are ignored by the statistic.
    """
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim != 2:
        raise GridMismatchError(f"place values: the map must be 2-D, got shape {grid.shape}")
    if polygon_stat not in ("mean", "max"):
        raise InvalidParameterError(f"place values: polygon_stat={polygon_stat!r}; use 'mean' or 'max'")
    affine = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    if affine.b != 0 or affine.d != 0 or affine.a <= 0 or affine.e >= 0:
        raise GridMismatchError("place values: the grid must be north-up without rotation")
    height, width = grid.shape
    out = np.full(len(geometries), np.nan)

    def _cell_value(point: shapely.Point) -> float:
        r = int(np.floor((point.y - affine.f) / affine.e))
        c = int(np.floor((point.x - affine.c) / affine.a))
        return grid[r, c] if 0 <= r < height and 0 <= c < width else np.nan

    for i, geom in enumerate(geometries):
        if geom is None or geom.is_empty:
            continue
        kind = geom.geom_type
        if kind == "Point":
            out[i] = _cell_value(geom)
        elif kind == "MultiPoint":
            out[i] = _cell_value(geom.geoms[0])
        elif kind in ("Polygon", "MultiPolygon"):
            inside = rasterio.features.rasterize(
                [(geom, 1)], out_shape=grid.shape, transform=affine, fill=0, all_touched=False, dtype="uint8"
            ).astype(bool)
            cells = grid[inside]
            cells = cells[np.isfinite(cells)]
            if inside.any():
                if cells.size:
                    out[i] = cells.mean() if polygon_stat == "mean" else cells.max()
            else:
                out[i] = _cell_value(geom.representative_point())
        else:
            raise InvalidParameterError(
                f"place values: geometry {i} is a {kind}; known places must be points or polygons"
            )
    return out


def percentile_among(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Percentile of each value among the reference values (ties count half).

    ``pct(v) = 100 * (#{r < v} + 0.5 * #{r == v}) / n`` over the finite reference values (as
    ``scipy.stats.percentileofscore(kind="mean")``): a place equal to every reference cell sits at
    50, one above all of them at 100. NaN values stay NaN; an empty reference gives NaN.

    Examples
    --------
    >>> percentile_among(np.array([0.0, 0.5, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 1.0])).tolist()
    [25.0, 50.0, 75.0, 100.0]
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    ref = np.sort(ref[np.isfinite(ref)])
    v = np.asarray(values, dtype=np.float64)
    if ref.size == 0:
        return np.full(v.shape, np.nan)
    below = np.searchsorted(ref, v, side="left")
    at_or_below = np.searchsorted(ref, v, side="right")
    pct = 100.0 * (below + 0.5 * (at_or_below - below)) / ref.size
    return np.where(np.isnan(v), np.nan, pct)


#: Kinds of known place that are references, not presences: they enter the table but not the
#: Boyce index (a mountain-gorge or desert reserve that a sound map must score low).
REFERENCE_KINDS = ("gorge_reference", "desert_reference")


def place_table(
    places: pd.DataFrame,
    values: dict[str, np.ndarray],
    references: dict[str, np.ndarray],
) -> pd.DataFrame:
    """The per-place evaluation table: each layer's value and percentile among reference cells.

    Parameters
    ----------
    places : DataFrame
        One row per known place, in the order of the value arrays (e.g. place_id, name, kind).
    values : dict of name -> ndarray
        Each layer's value at each place (:func:`place_values`), e.g. ``{"suitability": ...,
        "quality": ...}``.
    references : dict of name -> ndarray
        The same layers' values over the reference cells (floodplain cells).

    Returns
    -------
    DataFrame
        ``places`` plus, per layer, ``<name>`` and ``<name>_percentile``, and ``bottom_half``:
        True when the first layer's percentile is below 50 (NaN percentiles count as bottom
        half: a place off the map or on nodata is not evidence that the map is right).
    """
    if not values:
        raise InvalidParameterError("place table: give at least one layer")
    missing = set(values) - set(references)
    if missing:
        raise InvalidParameterError(f"place table: no reference cells for {sorted(missing)}")
    out = places.reset_index(drop=True).copy()
    for name, vals in values.items():
        vals = np.asarray(vals, dtype=np.float64)
        if vals.shape != (len(out),):
            raise GridMismatchError(f"place table: {name} has {vals.size} values for {len(out)} places")
        out[name] = vals
        out[f"{name}_percentile"] = percentile_among(vals, references[name])
    first = f"{next(iter(values))}_percentile"
    out["bottom_half"] = ~(out[first] >= BOTTOM_HALF_PERCENTILE)
    return out
