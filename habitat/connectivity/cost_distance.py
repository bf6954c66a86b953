"""Cost-weighted distance over a resistance grid, with traceback of least-cost paths."""

from __future__ import annotations

import math
import os
import sys
import types
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from habitat.connectivity import _dijkstra
from habitat.errors import InvalidParameterError
from habitat.layers import cell_size_from_coords

__all__ = [
    "cost_distance",
    "cost_distance_backlink",
    "cost_distance_many",
    "least_cost_path",
    "neighbour_offsets",
    "trace_least_cost_path",
]

_NEIGHBOURS = (4, 8, 16)


# Public API


def cost_distance(
    resistance: Any,
    sources: Any,
    *,
    cell_size_m: float | None = None,
    neighbours: int = 8,
    max_cost: float | None = None,
    cell_size: float | None = None,
) -> Any:
    """Accumulated cost of the cheapest route from the nearest source to every cell.

    Parameters
    ----------
    resistance : 2-D array_like or xarray.DataArray
        Cost of crossing one unit of map distance through each cell (resistance units,
        >= 0). NaN, +/-inf and negative values are impassable. For a DataArray the cell size
        is taken from its x/y coordinates, which must be evenly and equally spaced. A leading
        band dimension of size 1 is dropped.
    sources : 2-D boolean array or sequence of (row, col)
        Start cells (cost 0). Sources on impassable cells are ignored.
    cell_size_m : float
        Side of a square cell in map units (metres), > 0. Required for a numpy array (there
        is no default: a wrong cell size scales every cost); for a DataArray it may be left
        out or must agree with the coordinates. ``cell_size`` is the older name.
    neighbours : {4, 8, 16}, optional
        Moves allowed: rook, queen, or queen plus knight's moves (GRASS ``r.cost -k``).
    max_cost : float, optional
        Stop spreading beyond this accumulated cost (resistance x map units); farther cells
        are inf. Default: no limit.

    Returns
    -------
    numpy.ndarray of float64, shape of ``resistance`` (a DataArray for a DataArray input)
        Cost-weighted distance in resistance x map units, >= 0; 0 at sources, inf where
        unreachable or beyond ``max_cost``. A DataArray keeps the input's coordinates and CRS.

    Notes
    -----
    A step from cell a to neighbour b costs ``L * (R_a + R_b) / 2 * cell_size`` with
    ``L = 1`` orthogonally and ``sqrt(2)`` diagonally; a knight's move costs
    ``sqrt(5) * (R_a + R_b + R_c + R_d) / 4 * cell_size`` where c, d are the two cells the
    move passes beside (METHODS.md section 5, GRASS ``r.cost``). The result is the minimum
    over paths of the summed step costs: with 8 neighbours it equals scikit-image
    ``MCP_Geometric(resistance, fully_connected=True).find_costs(sources)`` times
    ``cell_size``, and GRASS ``r.cost`` output times ``cell_size``.

    Solved exactly by a bucket-queue Dijkstra in a compiled kernel (numba) or, without numba,
    by ``scipy.sparse.csgraph.dijkstra``. All sources spread in one pass. Memory: about 16 bytes
    per cell with numba (padded half resistances and costs interleaved; the result is written
    into the same memory, which then shrinks to 8 bytes per cell; 2 more with backlinks),
    about 30 bytes per edge in the scipy fallback. For many independent source sets see
    :func:`cost_distance_many`.

    Examples
    --------
    >>> cost_distance(np.ones((1, 4)), [(0, 0)], cell_size_m=10.0).tolist()
    [[0.0, 10.0, 20.0, 30.0]]
    """
    size = _cell_size_arg(cell_size_m, cell_size)
    cost, _ = _solve(resistance, sources, size, neighbours, max_cost, want_backlink=False)
    return _like_input(resistance, cost, "cost_distance")


def cost_distance_many(
    resistance: Any,
    sources: Iterable[Any],
    *,
    cell_size_m: float | None = None,
    neighbours: int = 8,
    max_cost: float | None = None,
    workers: int | None = None,
    cell_size: float | None = None,
) -> Iterator[np.ndarray]:
    """Cost distance from each of several independent source sets, runs side by side in threads.

    Parameters
    ----------
    resistance, cell_size_m, neighbours, max_cost
        As for :func:`cost_distance` (``cell_size`` is the older name of ``cell_size_m``).
    sources : iterable of source sets
        Each item is what :func:`cost_distance` takes as ``sources`` (a mask or (row, col)
        pairs); each gives its own surface (e.g. one per habitat patch).
    workers : int, optional
        Runs at the same time, >= 1. Default: the number of CPUs (at most 8). Each run holds
        about 16 bytes per cell while it works.

    Yields
    ------
    numpy.ndarray of float64
        ``cost_distance(resistance, item, ...)`` for each item, in the order given; the arrays
        are identical to those of separate calls.

    Notes
    -----
    Dijkstra on one source set is sequential; independent source sets are not, so this is
    where both cores pay (the compiled kernel releases the GIL). Results are produced at most
    ``2 * workers`` ahead of the consumer, so memory stays bounded for long iterables.

    Examples
    --------
    >>> [c.tolist() for c in cost_distance_many(np.ones((1, 3)), [[(0, 0)], [(0, 2)]], cell_size_m=1.0)]
    [[[0.0, 1.0, 2.0]], [[2.0, 1.0, 0.0]]]
    """
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    if not (isinstance(workers, int) and workers >= 1):
        raise InvalidParameterError(f"workers={workers!r} must be a whole number >= 1")
    grid, cell_size = _as_grid(resistance, _cell_size_arg(cell_size_m, cell_size))
    _check_neighbours(neighbours)

    # Validated here, not at the first next(): a bad call fails where it is made.
    return _many(grid, sources, cell_size, neighbours, max_cost, workers)


def cost_distance_backlink(
    resistance: Any,
    sources: Any,
    *,
    cell_size_m: float | None = None,
    neighbours: int = 8,
    max_cost: float | None = None,
    cell_size: float | None = None,
) -> tuple[Any, Any]:
    """Cost-weighted distance and, per cell, the last move of its least-cost path.

    Parameters are those of :func:`cost_distance`.

    Returns
    -------
    cost : numpy.ndarray of float64 (DataArray for a DataArray input)
        As returned by :func:`cost_distance`.
    backlink : numpy.ndarray of int8 (DataArray for a DataArray input)
        Index into ``neighbour_offsets(neighbours)`` of the move that enters the cell on its
        least-cost path (the previous cell is ``cell - offset``); -1 at sources and where the
        cost is inf.

    Examples
    --------
    >>> cost, back = cost_distance_backlink(np.ones((1, 3)), [(0, 0)], cell_size_m=1.0)
    >>> back.tolist()
    [[-1, 2, 2]]
    """
    size = _cell_size_arg(cell_size_m, cell_size)
    cost, back = _solve(resistance, sources, size, neighbours, max_cost, want_backlink=True)
    return _like_input(resistance, cost, "cost_distance"), _like_input(resistance, back, "backlink")


def neighbour_offsets(neighbours: int = 8) -> np.ndarray:
    """(row, col) offsets of the moves of a neighbourhood, in backlink order.

    Examples
    --------
    >>> neighbour_offsets(4).tolist()
    [[-1, 0], [0, -1], [0, 1], [1, 0]]
    """
    _check_neighbours(neighbours)
    return _dijkstra.moves(neighbours)[0]


def trace_least_cost_path(backlink: np.ndarray, target: Sequence[int], *, neighbours: int = 8) -> np.ndarray:
    """Follow backlinks from ``target`` to its source.

    Parameters
    ----------
    backlink : 2-D int8 array
        From :func:`cost_distance_backlink` with the same ``neighbours``.
    target : (row, col)
        End cell; must have been reached.
    neighbours : {4, 8, 16}, optional

    Returns
    -------
    numpy.ndarray of int64, shape (k, 2)
        (row, col) of the path cells from the source to ``target`` inclusive. A knight's move
        appears as its two end cells.

    Examples
    --------
    >>> back = np.array([[-1, 2, 2]], dtype=np.int8)
    >>> trace_least_cost_path(back, (0, 2)).tolist()
    [[0, 0], [0, 1], [0, 2]]
    """
    offsets = neighbour_offsets(neighbours)
    backlink = np.asarray(backlink)
    row, col = (int(v) for v in target)
    if not (0 <= row < backlink.shape[0] and 0 <= col < backlink.shape[1]):
        raise InvalidParameterError(f"target={tuple(target)} lies outside the grid of shape {backlink.shape}")
    path = [(row, col)]
    # A path never revisits a cell, so more steps than cells means corrupt backlinks.
    for _ in range(backlink.size):
        k = int(backlink[row, col])
        if k < 0:
            break
        if k >= len(offsets):
            raise InvalidParameterError(
                f"backlink holds move {k}, not a {neighbours}-neighbour move; pass the neighbours "
                "used to compute it"
            )
        row -= int(offsets[k, 0])
        col -= int(offsets[k, 1])
        path.append((row, col))
    return np.array(path[::-1], dtype=np.int64).reshape(-1, 2)


def least_cost_path(
    resistance: Any,
    sources: Any,
    target: Any,
    *,
    cell_size_m: float | None = None,
    neighbours: int = 8,
    cell_size: float | None = None,
) -> np.ndarray:
    """Cells of the least-cost path from the nearest source to a target.

    Parameters
    ----------
    resistance, sources, neighbours
        As for :func:`cost_distance`.
    cell_size_m : float, optional
        As for :func:`cost_distance`; the path does not depend on it, so it may be left out.
    target : (row, col) or 2-D boolean array
        End cell, or a mask of candidate end cells: the path goes to the one with least cost
        (first in row-major order on ties).

    Returns
    -------
    numpy.ndarray of int64, shape (k, 2)
        (row, col) from the source to the target inclusive.

    Examples
    --------
    >>> r = np.array([[1, 9, 1], [1, 1, 1]], dtype=float)
    >>> least_cost_path(r, [(0, 0)], (0, 2), neighbours=4).tolist()
    [[0, 0], [1, 0], [1, 1], [1, 2], [0, 2]]
    """
    size = _cell_size_arg(cell_size_m, cell_size)
    cost, back = _solve(resistance, sources, size, neighbours, None, want_backlink=True, required=False)
    end = _target_cell(target, cost)
    if not np.isfinite(cost[end]):
        raise InvalidParameterError(
            f"target {end} cannot be reached from the sources (impassable cells in between); "
            "check the resistance and target"
        )
    return trace_least_cost_path(back, end, neighbours=neighbours)


# Private helpers


def _cell_size_arg(cell_size_m: float | None, cell_size: float | None) -> float | None:
    """``cell_size_m``, or its older name ``cell_size``; both given must agree."""
    if cell_size is None:
        return cell_size_m
    if cell_size_m is not None and cell_size_m != cell_size:
        raise InvalidParameterError(f"cell_size_m={cell_size_m!r} and cell_size={cell_size!r} disagree; give one")
    return cell_size


def _like_input(resistance: Any, values: np.ndarray, name: str) -> Any:
    """A DataArray like the (band-squeezed) input for DataArray input, else the array."""
    import xarray as xr

    from habitat.layers import as_yx, like

    if isinstance(resistance, xr.DataArray):
        return like(as_yx(resistance, name="resistance"), values, name=name)
    return values


def _solve(resistance, sources, cell_size, neighbours, max_cost, *, want_backlink, required=True, parallel=True):
    grid, cell_size = _as_grid(resistance, cell_size, required=required)
    _check_neighbours(neighbours)
    if max_cost is not None and not (max_cost >= 0):
        raise InvalidParameterError(
            f"max_cost={max_cost!r} must be >= 0 (resistance x map units); pass None for no limit"
        )
    rows, cols = _source_cells(sources, grid.shape)
    values = grid[rows, cols]
    # "not >= 0" also catches NaN; +inf is impassable too.
    passable = (values >= 0) & (values != np.inf)
    if not passable.any():
        raise InvalidParameterError(
            "sources: every source cell has impassable resistance (NaN, inf or negative); "
            "move the sources onto passable cells"
        )
    # The kernel works in cell units and scales once at the end, as MCP x cell size does.
    limit = np.inf if max_cost is None else max_cost / cell_size * (1.0 + 1e-12)
    return _dijkstra.dijkstra_grid(
        grid,
        rows[passable],
        cols[passable],
        neighbours,
        limit,
        scale=cell_size,
        max_out=np.inf if max_cost is None else max_cost,
        want_backlink=want_backlink,
        parallel=parallel,
    )


def _many(grid, sources, cell_size, neighbours, max_cost, workers):
    def run(item):
        # threads run side by side: each run stays on its own thread
        cost, _ = _solve(
            grid, item, cell_size, neighbours, max_cost, want_backlink=False, parallel=workers == 1
        )
        return cost

    if workers == 1:
        for item in sources:
            yield run(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        for item in sources:
            pending.append(pool.submit(run, item))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _check_neighbours(neighbours: int) -> None:
    if neighbours not in _NEIGHBOURS:
        raise InvalidParameterError(f"neighbours={neighbours!r} must be 4, 8 or 16")


def _as_grid(resistance: Any, cell_size: float | None, *, required: bool = True) -> tuple[np.ndarray, float]:
    """Resistance as a 2-D float64 array and the cell size (from DataArray coords if given).

    A numpy array needs an explicit cell size when ``required`` (no silent default of 1)."""
    from habitat.layers import as_yx

    resistance = as_yx(resistance, name="resistance")
    coords_size = _cell_size_from_coords(resistance)
    if coords_size is not None:
        if cell_size is not None and not math.isclose(cell_size, coords_size, rel_tol=1e-9):
            raise InvalidParameterError(
                f"cell_size_m={cell_size} disagrees with the resistance coordinates ({coords_size}); "
                "omit cell_size_m for a DataArray"
            )
        cell_size = coords_size
    if cell_size is None:
        if required:
            raise InvalidParameterError(
                "cell_size_m: a numpy resistance carries no cell size; pass cell_size_m (metres), "
                "or a DataArray with x/y coordinates"
            )
        cell_size = 1.0
    values = getattr(resistance, "values", resistance)
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim != 2 or 0 in grid.shape:
        raise InvalidParameterError(f"resistance has shape {grid.shape}; pass a non-empty 2-D (y, x) grid")
    if not (math.isfinite(cell_size) and cell_size > 0):
        raise InvalidParameterError(f"cell_size_m={cell_size!r} must be a finite number > 0 (map units)")
    return grid, float(cell_size)


def _cell_size_from_coords(resistance: Any) -> float | None:
    return cell_size_from_coords(resistance, "resistance", error=InvalidParameterError)


def _source_cells(sources: Any, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(getattr(sources, "values", sources))
    if values.dtype == bool:
        if values.shape != shape:
            raise InvalidParameterError(
                f"sources mask has shape {values.shape}, resistance {shape}; pass a mask on the same grid"
            )
        rows, cols = np.nonzero(values)
    else:
        cells = values.reshape(-1, 2) if values.size else np.empty((0, 2))
        if values.size and (values.ndim != 2 or values.shape[1] != 2):
            raise InvalidParameterError("sources must be a boolean mask or a sequence of (row, col) pairs")
        if not np.all(np.equal(np.mod(cells, 1), 0)):
            raise InvalidParameterError("sources (row, col) must be whole cell indices")
        rows = cells[:, 0].astype(np.int64)
        cols = cells[:, 1].astype(np.int64)
        inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        if not inside.all():
            bad = cells[~inside][0]
            raise InvalidParameterError(
                f"source ({int(bad[0])}, {int(bad[1])}) lies outside the grid of shape {shape}"
            )
    if rows.size == 0:
        raise InvalidParameterError("sources is empty; give at least one source cell")
    return rows.astype(np.int64), cols.astype(np.int64)


def _target_cell(target: Any, cost: np.ndarray) -> tuple[int, int]:
    values = np.asarray(getattr(target, "values", target))
    if values.dtype == bool:
        if values.shape != cost.shape:
            raise InvalidParameterError(
                f"target mask has shape {values.shape}, resistance {cost.shape}; pass a mask on the same grid"
            )
        if not values.any():
            raise InvalidParameterError("target mask is empty; mark at least one cell")
        masked = np.where(values, cost, np.inf)
        flat = int(np.argmin(masked))
        return (flat // cost.shape[1], flat % cost.shape[1])
    if values.shape != (2,):
        raise InvalidParameterError("target must be a (row, col) pair or a boolean mask")
    row, col = (int(v) for v in values)
    if not (0 <= row < cost.shape[0] and 0 <= col < cost.shape[1]):
        raise InvalidParameterError(f"target ({row}, {col}) lies outside the grid of shape {cost.shape}")
    return (row, col)


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`cost_distance`.

    The package re-exports the function under the module's own name, so
    ``habitat.connectivity.cost_distance`` must be both: the module (for the documented path
    ``habitat.connectivity.cost_distance.cost_distance`` and its other functions) and a callable
    (for ``from habitat.connectivity import cost_distance``).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return cost_distance(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
