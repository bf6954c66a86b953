"""Sub-cell riparian strip: the share of each cell within a tugai strip along the mapped channels.

On coarse cells (5 km MODIS MCD12C1) a tugai strip along the channel is a minority of the cell,
so the cell's majority land-cover class is cropland, barren or grassland and the class score
misses the strip (issue 13). :func:`strip_share` measures the strip geometrically from the river
lines; :func:`riparian_suitability` lets a cell score at least what its strip of tugai would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from habitat.errors import InvalidParameterError

if TYPE_CHECKING:
    from habitat.grid import GridSpec

__all__ = ["riparian_suitability", "strip_share"]


def strip_share(lines, grid: GridSpec, half_width_m: float) -> np.ndarray:
    """Share of each cell's area within ``half_width_m`` of any river line.

    Parameters
    ----------
    lines : sequence of shapely geometries
        River lines in the grid's (projected, metre) CRS, e.g. the ``rivers`` layer ingest
        writes; missing and empty geometries are skipped.
    grid : GridSpec
        The analysis grid (projected; units metres).
    half_width_m : float
        Half the strip width, metres from the line on either side (> 0).

    Returns
    -------
    ndarray of float32, shape ``grid.shape``
        ``area(cell ∩ union_i buffer(line_i, half_width_m)) / area(cell)``, unitless, in [0, 1].

    Notes
    -----
    The strip is the union of the lines' buffers (round caps and joins, 16 segments per quarter
    circle), so a cell between two channels or at a confluence counts once. Its cell shares are
    exact polygon-cell intersections (:func:`habitat.io.vectors.rasterize_fraction`, the same
    routine as the tugai polygon cover), not a supersampling estimate: a straight line through a
    grid gives the hand-derivable shares ``overlap of [y - h, y + h] with the cell row / cell
    size``.
    """
    from habitat.io.vectors import rasterize_fraction

    if not half_width_m > 0:
        raise InvalidParameterError(f"half_width_m must be > 0 metres, got {half_width_m}")
    geoms = [g for g in np.asarray(lines, dtype=object).ravel() if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, dtype=np.float32)
    strip = shapely.buffer(shapely.union_all(geoms), half_width_m / grid.metres_per_unit, quad_segs=16)
    return rasterize_fraction(np.array([strip], dtype=object), grid)


def riparian_suitability(score: np.ndarray, share: np.ndarray, tugai_score: float,
                         max_share: np.ndarray | float | None = None) -> np.ndarray:
    """Suitability of a cell that holds a riparian strip: ``max(S, min(f, f_max) * s_t)``.

    Parameters
    ----------
    score : ndarray of float
        Suitability ``S`` from the land-cover criteria, in [0, 1] (NaN = nodata, kept).
    share : ndarray of float
        Strip share ``f`` of each cell (:func:`strip_share`), in [0, 1].
    tugai_score : float
        Suitability ``s_t`` of a cell wholly under tugai, in [0, 1].
    max_share : ndarray of float or float, optional
        Largest share ``f_max`` of the cell that can be tugai, per cell, in [0, 1]: 0 where the
        cell cannot gain (built-up or water majority: the strip there is the town or the
        channel), below 1 where the majority class takes part of the strip (fields); 1 (no cap)
        when None.

    Returns
    -------
    ndarray of float64
        ``S' = max(S, min(f, f_max) * s_t)``; unitless, in [0, 1]; NaN where ``S`` is NaN.

    Notes
    -----
    The strip term is the area-weighted suitability of a cell of which a share ``min(f, f_max)``
    is tugai (score ``s_t``) and the rest is worth nothing; taking the maximum with the land-cover
    score means a cell never scores below its majority class nor below its strip. Cells beyond
    the strip of every channel (``f = 0``), such as irrigated oases away from the rivers, are
    unchanged. Terrain memberships and hard constraints are applied after this (by the caller),
    so gorges and towns stay out.
    """
    if not 0.0 <= tugai_score <= 1.0:
        raise InvalidParameterError(f"tugai_score must be in [0, 1], got {tugai_score}")
    score = np.asarray(score, dtype=np.float64)
    share = np.asarray(share, dtype=np.float64)
    if share.shape != score.shape:
        raise InvalidParameterError(f"share has shape {share.shape}, the score {score.shape}")
    if np.any((share < 0) | (share > 1)):
        raise InvalidParameterError("share must be in [0, 1]")
    if max_share is not None:
        cap = np.broadcast_to(np.asarray(max_share, dtype=np.float64), score.shape)
        if np.any((cap < 0) | (cap > 1)):
            raise InvalidParameterError("max_share must be in [0, 1]")
        share = np.minimum(share, cap)
    # fmax would turn a NaN score into the strip value: nodata stays nodata
    return np.where(np.isnan(score), np.nan, np.maximum(score, share * tugai_score))
