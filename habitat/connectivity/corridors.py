"""Least-cost corridors between populations: links table, paths, normalized corridors (Linkage Mapper)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from habitat.connectivity.cost_distance import (
    _as_grid,
    cost_distance_backlink,
    trace_least_cost_path,
)
from habitat.errors import InvalidParameterError

__all__ = [
    "CorridorResult",
    "compute_corridors",
    "euclidean_edge_distance",
    "least_cost_distance",
    "mosaic_corridors",
    "normalized_corridor",
    "path_length",
    "path_to_line",
]

LINK_COLUMNS = (
    "from_id",
    "to_id",
    "lcd",
    "euclidean_distance_m",
    "path_length_m",
    "cwd_to_euclidean_ratio",
    "cwd_to_path_length_ratio",
)


@dataclass(frozen=True)
class CorridorResult:
    """Output of :func:`compute_corridors`.

    Attributes
    ----------
    links : pandas.DataFrame
        One row per linked pair (``from_id < to_id``), columns ``LINK_COLUMNS``.
    paths : dict[(int, int), numpy.ndarray]
        Least-cost path per link: (row, col) cells from population ``from_id`` to ``to_id``.
    corridors : numpy.ndarray of float64
        Normalized least-cost corridors mosaicked by minimum (resistance x map units), NaN
        beyond the cutoff and where no corridor reaches.
    cwds : dict[int, numpy.ndarray]
        Cost-weighted distance from each population (input to barrier scores).
    """

    links: pd.DataFrame
    paths: dict[tuple[int, int], np.ndarray]
    corridors: np.ndarray
    cwds: dict[int, np.ndarray]


# Public API


def least_cost_distance(cwd: np.ndarray, target: np.ndarray) -> float:
    """Least-cost distance to a target patch: ``LCD_AB = min over cells of B of CWD_A``.

    Parameters
    ----------
    cwd : 2-D float array
        Cost-weighted distance from patch A (resistance x map units, inf unreachable).
    target : 2-D boolean array, same shape
        Cells of patch B.

    Returns
    -------
    float
        LCD (>= 0), inf if B cannot be reached.

    Examples
    --------
    >>> least_cost_distance(np.array([[0.0, 1.0, 2.0]]), np.array([[False, True, True]]))
    1.0
    """
    cwd = np.asarray(cwd, dtype=np.float64)
    target = np.asarray(target, dtype=bool)
    if target.shape != cwd.shape or not target.any():
        raise InvalidParameterError(
            f"target mask of shape {target.shape} must match the CWD grid {cwd.shape} and mark cells"
        )
    return float(cwd[target].min())


def normalized_corridor(cwd_a: np.ndarray, cwd_b: np.ndarray, lcd: float | None = None) -> np.ndarray:
    """Normalized least-cost corridor between two patches.

    Parameters
    ----------
    cwd_a, cwd_b : 2-D float arrays
        Cost-weighted distance from patch A and from patch B (resistance x map units).
    lcd : float, optional
        Least-cost distance between A and B; default ``min(cwd_a + cwd_b)``, which equals it.

    Returns
    -------
    numpy.ndarray of float64
        ``NLCC_AB(x) = CWD_A(x) + CWD_B(x) - LCD_AB`` (resistance x map units): 0 along the
        least-cost path, >= 0 elsewhere, inf where either patch cannot reach.

    Examples
    --------
    >>> normalized_corridor(np.array([0.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 0.0]
    """
    total = np.asarray(cwd_a, dtype=np.float64) + np.asarray(cwd_b, dtype=np.float64)
    if lcd is None:
        lcd = float(total.min())
    out = total - lcd
    # Summation order differs from the path's, so a path cell can land a few ulps below 0.
    np.maximum(out, 0.0, out=out)
    return out


def mosaic_corridors(corridors: Sequence[np.ndarray], *, cutoff: float | None = None) -> np.ndarray:
    """Cell-wise minimum of normalized corridors, truncated at a cutoff width.

    Parameters
    ----------
    corridors : sequence of 2-D float arrays
        NLCC grids of the linked pairs, all the same shape.
    cutoff : float, optional
        Keep cells with NLCC <= cutoff (resistance x map units, >= 0); default keep all finite.

    Returns
    -------
    numpy.ndarray of float64
        Minimum NLCC per cell, NaN (nodata) where above the cutoff or reached by no corridor.

    Examples
    --------
    >>> mosaic_corridors([np.array([0.0, 5.0, 9.0]), np.array([3.0, 1.0, np.inf])], cutoff=4).tolist()
    [0.0, 1.0, nan]
    """
    if len(corridors) == 0:
        raise InvalidParameterError("corridors is empty; pass at least one corridor grid")
    if cutoff is not None and not (cutoff >= 0):
        raise InvalidParameterError(f"cutoff={cutoff!r} must be >= 0 (resistance x map units)")
    out = np.array(corridors[0], dtype=np.float64)
    for grid in corridors[1:]:
        np.fmin(out, np.asarray(grid, dtype=np.float64), out=out)
    keep = np.isfinite(out)
    if cutoff is not None:
        keep &= out <= cutoff
    out[~keep] = np.nan
    return out


def euclidean_edge_distance(mask_a: np.ndarray, mask_b: np.ndarray, *, cell_size: float = 1.0) -> float:
    """Euclidean edge-to-edge distance between two patches.

    Distance between the centres of the closest pair of cells, one in each patch, in map units
    (Linkage Mapper's Euclidean distance between core areas on a raster; FRAGSTATS ENN).

    Examples
    --------
    >>> a = np.array([[True, False, False, False]]); b = ~a
    >>> euclidean_edge_distance(a, b, cell_size=30.0)
    30.0
    """
    mask_a = np.asarray(mask_a, dtype=bool)
    mask_b = np.asarray(mask_b, dtype=bool)
    if mask_a.shape != mask_b.shape or not mask_a.any() or not mask_b.any():
        raise InvalidParameterError("patch masks must share one shape and each mark at least one cell")
    distance = ndimage.distance_transform_edt(~mask_b)
    return float(distance[mask_a].min()) * cell_size


def path_length(path: np.ndarray, *, cell_size: float = 1.0) -> float:
    """Length of a cell path through cell centres, in map units.

    Examples
    --------
    >>> round(path_length(np.array([[0, 0], [1, 1], [1, 2]]), cell_size=10.0), 6)
    24.142136
    """
    path = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    if len(path) < 2:
        return 0.0
    return float(np.hypot(*np.diff(path, axis=0).T).sum()) * cell_size


def path_to_line(path: np.ndarray, transform: Any) -> Any:
    """Least-cost path as a shapely LineString through cell centres in map coordinates.

    Parameters
    ----------
    path : (k, 2) int array of (row, col)
    transform : affine.Affine
        Grid transform (pixel corner -> map), as ``GridSpec.transform`` or rasterio.

    Examples
    --------
    >>> from affine import Affine
    >>> path_to_line(np.array([[0, 0], [0, 1]]), Affine(10, 0, 100, 0, -10, 50)).wkt
    'LINESTRING (105 45, 115 45)'
    """
    from shapely.geometry import LineString

    path = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    col = path[:, 1] + 0.5
    row = path[:, 0] + 0.5
    xs = transform.a * col + transform.b * row + transform.c
    ys = transform.d * col + transform.e * row + transform.f
    coords = list(zip(xs.tolist(), ys.tolist(), strict=True))
    if len(coords) == 1:
        coords = coords * 2  # a one-cell path is a degenerate line, still valid in a GeoPackage
    return LineString(coords)


def compute_corridors(
    resistance: Any,
    populations: Any,
    *,
    cell_size: float = 1.0,
    neighbours: int = 8,
    nearest: int | None = None,
    cutoff: float | None = None,
) -> CorridorResult:
    """Least-cost links and corridors between every pair (or k nearest) of populations.

    Parameters
    ----------
    resistance : 2-D array_like or xarray.DataArray
        Resistance (>= 0; NaN, inf, negative impassable); see
        :func:`habitat.connectivity.cost_distance.cost_distance`.
    populations : 2-D integer array, same shape
        Population (core area) id per cell; 0, negative or NaN means none.
    cell_size : float, optional
        Cell side in map units (metres); a DataArray's coordinates take precedence.
    neighbours : {4, 8, 16}, optional
    nearest : int, optional
        Keep, for every population, links to its ``nearest`` neighbours by LCD (union over
        populations); default all pairs.
    cutoff : float, optional
        Corridor width cutoff for the mosaic (resistance x map units), see
        :func:`mosaic_corridors`.

    Returns
    -------
    CorridorResult
        Links table, paths, corridor mosaic and the CWD maps. Pairs that cannot reach each
        other are left out of the table.

    Notes
    -----
    Per link (METHODS.md section 5): ``lcd`` = min over B of CWD_A (resistance x map units);
    ``euclidean_distance_m`` edge to edge; ``path_length_m`` of the least-cost path (traced
    from the cell of B nearest A back into A); ``cwd_to_euclidean_ratio = lcd /
    euclidean_distance_m``; ``cwd_to_path_length_ratio = lcd / path_length_m``. Corridors:
    ``NLCC_AB = CWD_A + CWD_B - LCD_AB`` mosaicked by minimum over the kept links.
    Cost: one cost-distance run per population; memory one float64 grid per population.

    Examples
    --------
    >>> pops = np.array([[1, 0, 0, 2]])
    >>> compute_corridors(np.ones((1, 4)), pops).links[["from_id", "to_id", "lcd"]].values.tolist()
    [[1.0, 2.0, 3.0]]
    """
    grid, cell_size = _as_grid(resistance, cell_size)
    labels = _population_labels(populations, grid.shape)
    ids = [int(v) for v in np.unique(labels) if v > 0]
    if len(ids) < 2:
        raise InvalidParameterError(
            f"populations marks {len(ids)} population(s); corridors need at least two ids > 0"
        )
    if nearest is not None and not (isinstance(nearest, int) and nearest >= 1):
        raise InvalidParameterError(f"nearest={nearest!r} must be an integer >= 1 or None for all pairs")

    cwds: dict[int, np.ndarray] = {}
    backlinks: dict[int, np.ndarray] = {}
    for pid in ids:
        cwds[pid], backlinks[pid] = cost_distance_backlink(
            grid, labels == pid, cell_size=cell_size, neighbours=neighbours
        )
    lcds = {(a, b): least_cost_distance(cwds[a], labels == b) for a, b in itertools.combinations(ids, 2)}
    pairs = _select_pairs(ids, lcds, nearest)

    rows, paths, corridors = [], {}, []
    for a, b in pairs:
        lcd = lcds[(a, b)]
        masked = np.where(labels == b, cwds[a], np.inf)
        end = np.unravel_index(int(np.argmin(masked)), masked.shape)
        path = trace_least_cost_path(backlinks[a], end, neighbours=neighbours)
        paths[(a, b)] = path
        euclid = euclidean_edge_distance(labels == a, labels == b, cell_size=cell_size)
        length = path_length(path, cell_size=cell_size)
        rows.append((a, b, lcd, euclid, length, _ratio(lcd, euclid), _ratio(lcd, length)))
        corridors.append(normalized_corridor(cwds[a], cwds[b], lcd))
    links = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    links = links.astype({"from_id": "int64", "to_id": "int64"})
    if corridors:
        mosaic = mosaic_corridors(corridors, cutoff=cutoff)
    else:
        mosaic = np.full(grid.shape, np.nan)
    return CorridorResult(links=links, paths=paths, corridors=mosaic, cwds=cwds)


# Private helpers


def _population_labels(populations: Any, shape: tuple[int, int]) -> np.ndarray:
    values = np.asarray(getattr(populations, "values", populations))
    if values.shape != shape:
        raise InvalidParameterError(
            f"populations has shape {values.shape}, resistance {shape}; put both on the analysis grid"
        )
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if np.any(values[finite] != np.round(values[finite])):
            raise InvalidParameterError("populations must hold integer ids (0 or NaN for none)")
        values = np.where(finite, values, 0)
    return values.astype(np.int64)


def _select_pairs(
    ids: Sequence[int], lcds: Mapping[tuple[int, int], float], nearest: int | None
) -> list[tuple[int, int]]:
    reachable = [pair for pair in itertools.combinations(ids, 2) if math.isfinite(lcds[pair])]
    if nearest is None:
        return reachable
    keep: set[tuple[int, int]] = set()
    for pid in ids:
        mine = [pair for pair in reachable if pid in pair]
        # Sort by LCD, then ids, so ties resolve the same way on every run.
        mine.sort(key=lambda pair: (lcds[pair], pair))
        keep.update(mine[:nearest])
    return [pair for pair in reachable if pair in keep]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan
