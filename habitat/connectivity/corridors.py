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

from habitat.connectivity.barriers import _connected, _link_triples
from habitat.connectivity.cost_distance import (
    _as_grid,
    cost_distance_backlink,
    trace_least_cost_path,
)
from habitat.errors import InvalidParameterError

__all__ = [
    "CorridorResult",
    "compute_corridors",
    "connected_links",
    "dispersal_cost_limit",
    "dispersal_reach",
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
    "connected",
    "reason",
)

#: ``reason`` of a link whose LCD exceeds the maximum dispersal cost (Linkage Mapper's link
#: type -12, "too long cost-weighted distance").
BEYOND_MAX_COST = "lcd above max dispersal cost"
_REACH_RTOL = 1e-12


@dataclass(frozen=True)
class CorridorResult:
    """Output of :func:`compute_corridors`.

    Attributes
    ----------
    links : pandas.DataFrame
        One row per linked pair (``from_id < to_id``), columns ``LINK_COLUMNS``;
        ``connected`` is False (and ``reason`` says why) for a pair beyond the maximum
        dispersal cost.
    paths : dict[(int, int), numpy.ndarray]
        Least-cost path per link: (row, col) cells from population ``from_id`` to ``to_id``.
    corridors : numpy.ndarray of float64
        Normalized least-cost corridors of the connected links mosaicked by minimum
        (resistance x map units), NaN beyond the cutoff and where no corridor reaches.
    cwds : dict[int, numpy.ndarray]
        Cost-weighted distance from each population (input to barrier scores).
    reach : numpy.ndarray of bool or None
        Cells within dispersal reach (:func:`dispersal_reach`); None without a maximum cost.
    """

    links: pd.DataFrame
    paths: dict[tuple[int, int], np.ndarray]
    corridors: np.ndarray
    cwds: dict[int, np.ndarray]
    reach: np.ndarray | None = None


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


def connected_links(links: pd.DataFrame) -> pd.DataFrame:
    """Rows of a links table within the dispersal limit (``connected`` True; all rows without the column).

    Examples
    --------
    >>> t = pd.DataFrame({"from_id": [1, 1], "to_id": [2, 3], "lcd": [5.0, 9.0], "connected": ["True", "False"]})
    >>> connected_links(t)["to_id"].tolist()
    [2]
    """
    if not hasattr(links, "columns"):
        raise InvalidParameterError("links must be a table (pandas.DataFrame) with a 'connected' column")
    return links[_connected(links)]


def dispersal_cost_limit(max_dispersal_m: float, *, base_resistance: float = 1.0) -> float:
    """Maximum dispersal cost: a dispersal distance through the best habitat, in cost units.

    Parameters
    ----------
    max_dispersal_m : float
        Longest distance a disperser covers through the best habitat, in metres (> 0; inf =
        no limit).
    base_resistance : float, optional
        Resistance of the best habitat (the transform's ``min_resistance``, > 0).

    Returns
    -------
    float
        ``max_dispersal_m * base_resistance`` (resistance x m), the cutoff for
        :func:`compute_corridors` ``max_cost``. Through land of resistance R the same budget
        carries a deer ``max_dispersal_m * base_resistance / R`` metres.

    Examples
    --------
    >>> dispersal_cost_limit(50_000.0)
    50000.0
    >>> dispersal_cost_limit(50_000.0, base_resistance=2.0)
    100000.0
    """
    if isinstance(max_dispersal_m, bool) or not (float(max_dispersal_m) > 0):
        raise InvalidParameterError(
            f"max_dispersal_m={max_dispersal_m!r} must be a distance > 0 in metres (inf = no limit)"
        )
    if not (math.isfinite(base_resistance) and base_resistance > 0):
        raise InvalidParameterError(
            f"base_resistance={base_resistance!r} must be the finite resistance > 0 of the best habitat"
        )
    return float(max_dispersal_m) * float(base_resistance)


def dispersal_reach(
    cwds: Mapping[int, np.ndarray],
    links: Any,
    *,
    max_cost: float,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Cells a deer can use on a move between two connected populations within the cost budget.

    Parameters
    ----------
    cwds : mapping of population id -> 2-D float array
        Cost-weighted distance from each population (resistance x map units, inf unreachable).
    links : pandas.DataFrame or iterable of (from_id, to_id, lcd)
        Population pairs (``CorridorResult.links``); rows with ``connected`` False and pairs
        with ``lcd > max_cost`` are ignored.
    max_cost : float
        Maximum dispersal cost (resistance x map units, >= 0).
    labels : 2-D integer array, optional
        Population id per cell; the cells of every population with a link within reach are
        added (a population's own range is within its reach).

    Returns
    -------
    numpy.ndarray of bool
        ``OR over links (A, B) with LCD_AB <= max_cost of CWD_A(x) + CWD_B(x) <= max_cost``:
        x lies on some route from A to B whose cost stays within the budget; equivalently
        ``NLCC_AB(x) <= max_cost - LCD_AB`` (with a relative tolerance of 1e-12 for rounding).
        All False when no link is within reach.

    Notes
    -----
    Meant as the circuit domain (resistance set to nodata outside it), so current flows only
    where a disperser between connected populations can go, as Linkage Mapper's Pinchpoint
    Mapper runs Circuitscape inside corridors truncated at a cost-weighted distance.

    Examples
    --------
    >>> cwds = {1: np.array([[0.0, 1.0, 2.0, 3.0]]), 2: np.array([[3.0, 2.0, 1.0, 0.0]])}
    >>> dispersal_reach(cwds, [(1, 2, 3.0)], max_cost=3.0).tolist()
    [[True, True, True, True]]
    >>> dispersal_reach(cwds, [(1, 2, 3.0)], max_cost=2.5).tolist()
    [[False, False, False, False]]
    """
    if not cwds:
        raise InvalidParameterError("cwds is empty; pass the cost-weighted distance of each population")
    if not (max_cost >= 0):
        raise InvalidParameterError(f"max_cost={max_cost!r} must be >= 0 (resistance x map units)")
    shape = next(iter(cwds.values())).shape
    reach = np.zeros(shape, dtype=bool)
    within: set[int] = set()
    for a, b, lcd in _link_triples(links):
        if not (lcd <= max_cost):
            continue
        for key in (a, b):
            if key not in cwds:
                raise InvalidParameterError(f"links name population {key}, which has no CWD grid in cwds")
        with np.errstate(invalid="ignore"):
            total = np.asarray(cwds[a], dtype=np.float64) + np.asarray(cwds[b], dtype=np.float64)
        # A path cell's two CWDs can sum a few ulps above the LCD (another summation order).
        reach |= total <= max_cost + _REACH_RTOL * max_cost
        within.update((a, b))
    if labels is not None and within:
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise InvalidParameterError(f"labels has shape {labels.shape}, the CWD grids {shape}")
        reach |= np.isin(labels, sorted(within))
    return reach


def compute_corridors(
    resistance: Any,
    populations: Any,
    *,
    cell_size: float = 1.0,
    neighbours: int = 8,
    nearest: int | None = None,
    cutoff: float | None = None,
    max_cost: float | None = None,
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
    max_cost : float, optional
        Maximum dispersal cost (resistance x map units, >= 0; see
        :func:`dispersal_cost_limit`): a pair with ``lcd > max_cost`` stays in the table with
        ``connected`` False and ``reason`` :data:`BEYOND_MAX_COST`, and its corridor is left
        out of the mosaic (Linkage Mapper's maximum cost-weighted distance: such links are
        dropped, ``lcd == max_cost`` is kept). Default: no limit, every link connected.

    Returns
    -------
    CorridorResult
        Links table, paths, corridor mosaic, the CWD maps and, with ``max_cost``, the cells
        within dispersal reach. Pairs that cannot reach each other at all are left out of
        the table.

    Notes
    -----
    Per link (METHODS.md section 5): ``lcd`` = min over B of CWD_A (resistance x map units);
    ``euclidean_distance_m`` edge to edge; ``path_length_m`` of the least-cost path (traced
    from the cell of B nearest A back into A); ``cwd_to_euclidean_ratio = lcd /
    euclidean_distance_m``; ``cwd_to_path_length_ratio = lcd / path_length_m``. Corridors:
    ``NLCC_AB = CWD_A + CWD_B - LCD_AB`` mosaicked by minimum over the kept, connected links.
    ``nearest`` picks pairs by LCD whatever ``max_cost``: per population the pairs within the
    limit are a prefix of its LCD-sorted list, so its k nearest connected pairs are its k
    nearest pairs that are connected.
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
    if max_cost is not None and (isinstance(max_cost, bool) or not (float(max_cost) >= 0)):
        raise InvalidParameterError(f"max_cost={max_cost!r} must be >= 0 (resistance x map units) or None for no limit")
    limit = math.inf if max_cost is None else float(max_cost)

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
        connected = lcd <= limit
        rows.append((a, b, lcd, euclid, length, _ratio(lcd, euclid), _ratio(lcd, length), connected,
                     "" if connected else BEYOND_MAX_COST))
        if connected:
            corridors.append(normalized_corridor(cwds[a], cwds[b], lcd))
    links = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    links = links.astype({"from_id": "int64", "to_id": "int64", "connected": "bool", "reason": "object"})
    if corridors:
        mosaic = mosaic_corridors(corridors, cutoff=cutoff)
    else:
        mosaic = np.full(grid.shape, np.nan)
    reach = None if max_cost is None else dispersal_reach(cwds, links, max_cost=limit, labels=labels)
    return CorridorResult(links=links, paths=paths, corridors=mosaic, cwds=cwds, reach=reach)


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
