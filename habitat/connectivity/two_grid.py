"""Two resolutions: connectivity on a coarser grid, results brought back to the fine grid.

Habitat, patches and indicators stay on the fine analysis grid; least-cost and circuit
connectivity may run on a grid ``factor`` times coarser (``grid.connectivity_resolution_m``)
whose cells are exact ``factor x factor`` blocks of fine cells (same origin), so bringing a
result back is a repeat of each coarse value over its block.

Aggregation rule for resistance (per coarse cell, over its fine cells):

* the cell is impassable (NaN) when more than half of its fine cells are impassable (NaN or
  +inf): a majority rule, so a barrier that fills most of the cell stays a barrier and a
  sliver of barrier does not close a whole coarse cell;
* otherwise its resistance is the harmonic mean of the finite fine resistances, i.e. the
  reciprocal of their mean conductance (Circuitscape's default "average conductance" between
  cells). Animals and current cross a block along its cheapest cells: a one-cell-wide strip of
  tugai (resistance 1) in a 2 x 2 block of desert (100) leaves the block about as cheap as two
  strip cells side by side (harmonic 2.0), where the arithmetic mean (75) would close the
  corridor. Measured on the demo (bench/README.md, "Two resolutions"): the six links' least-cost
  distances on a 2x coarser grid differ from the fine run by -1 % to +4 % with the harmonic
  mean and by +4 % to +91 % with the arithmetic mean (+11-13 % against +55-175 % at 4x); the
  minimum underestimates (-2 to -18 %). The cost of a single fine cell of barrier (a road in
  a coarse cell) is diluted the same way; a barrier line survives only where it fills more
  than half of the coarse cells it crosses.

Population cores and patches stay defined on the fine grid: a fine cell's coarse cell is
``(row // factor, col // factor)`` (:func:`coarse_cell`). A population's coarse core is the set of
coarse cells where its fine core cells are the most numerous (:func:`aggregate_labels`); its
focal cell for the circuit is the coarse cell of its fine focal cell; a patch's coarse cells are
the coarse cells of its fine cells (:func:`block_any`).

Where the results go (``grid.connectivity_resolution_m``, README "Two resolutions"): Linkage
Mapper and Circuitscape write their maps on the grid of the resistance raster they were given,
and their users overlay those maps on the habitat maps and cut them by patches and sites. Here
every raster of a run shares the analysis grid (the maps, the report and the sites stage read
corridors, current and pinch points cell by cell beside the patches), so the connectivity and
circuit stages bring their rasters back with :func:`upsample_nearest`: each coarse value is
repeated over its block (blocky at the coarse grain, which shows the resolution the number
has) and fine cells that are impassable stay NoData. Values keep their units: cost-weighted
distances and corridor widths in resistance x m; current in amperes, divided by ``factor``
(:func:`fine_current`), because the current through one coarse cell crosses ``factor`` fine
cells side by side, so a fine cell of a uniformly crossed block carries ``1 / factor`` of it
(the sum of current over a patch then matches a fine run). Tables (links, effective
resistance) are computed on the coarse grid: cost in resistance x m (mean resistance x metres
of the coarse cells' side), distances in metres, effective resistance in ohms (a strip of
``W`` cells by ``L`` cells has ``r L / W`` ohms at either grain).

Results at the coarse grain are an approximation: check them against a fine run on a subset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from habitat.errors import ConfigError
from habitat.grid import GridSpec

__all__ = [
    "Grain",
    "aggregate_labels", "aggregate_resistance", "block_any", "coarse_cell", "coarse_cores", "coarse_focal_cells",
    "coarse_grid", "coarsen_factor", "connectivity_factor",
    "fine_current", "upsample_nearest",
]

#: Fine cells aggregated per strip: bounds the temporaries of the block arrays (~40 bytes a cell)
_STRIP_CELLS = 1 << 22


def coarsen_factor(fine_resolution_m: float, connectivity_resolution_m: float | None) -> int:
    """Fine cells per coarse cell side: ``connectivity_resolution_m / fine_resolution_m``.

    Raises
    ------
    ConfigError
        The ratio is below 1 or not a whole number (within 1e-6).
    """
    if connectivity_resolution_m is None:
        return 1
    ratio = float(connectivity_resolution_m) / float(fine_resolution_m)
    factor = round(ratio)
    if factor < 1 or not math.isclose(ratio, factor, rel_tol=0, abs_tol=1e-6):
        raise ConfigError(
            f"grid.connectivity_resolution_m: {connectivity_resolution_m:g} is not a whole multiple of "
            f"grid.resolution_m {fine_resolution_m:g}; use a whole multiple such as "
            f"{max(1, factor) * fine_resolution_m:g}, or leave it out to run connectivity on the analysis grid"
        )
    return int(factor)


def connectivity_factor(grid: GridSpec, grid_settings) -> int:
    """:func:`coarsen_factor` of a stage's analysis ``grid`` and its declared ``grid`` setting
    (a :class:`habitat.config.GridConfig` or None; ``connectivity_resolution_m`` unset = 1)."""
    return coarsen_factor(grid.resolution, getattr(grid_settings, "connectivity_resolution_m", None))


def coarse_grid(grid: GridSpec, factor: int) -> GridSpec:
    """The grid of ``factor x factor`` blocks of ``grid`` (same origin; the last row/column of
    blocks may reach past the fine grid's edge)."""
    a, b, c, d, e, f = grid.transform
    shape = (-(-grid.height // factor), -(-grid.width // factor))
    return GridSpec(grid.crs, (a * factor, b, c, d, e * factor, f), shape)


def _blocks(values: np.ndarray, factor: int, fill: float) -> np.ndarray:
    rows, cols = values.shape
    h, w = -(-rows // factor), -(-cols // factor)
    padded = np.full((h * factor, w * factor), fill, dtype=np.float64)
    padded[:rows, :cols] = values
    return padded.reshape(h, factor, w, factor).swapaxes(1, 2).reshape(h, w, factor * factor)


def aggregate_resistance(resistance: np.ndarray, factor: int) -> np.ndarray:
    """Resistance on the coarse grid: harmonic mean of the finite fine cells (the reciprocal of
    their mean conductance); NaN if more than half are impassable.

    Parameters
    ----------
    resistance : ndarray, shape (rows, cols)
        Fine resistance (>= 1 per cell; NaN or +inf = impassable).
    factor : int
        Fine cells per coarse cell side (>= 1).

    Returns
    -------
    ndarray of float64, shape (ceil(rows / factor), ceil(cols / factor))
        Coarse resistance. Edge blocks count only the fine cells inside the grid.

    Examples
    --------
    >>> r = np.array([[1, 3, np.nan, np.nan], [1, 3, np.nan, 2.0]])
    >>> aggregate_resistance(r, 2).tolist()
    [[1.5, nan]]
    """
    factor = int(factor)
    if factor == 1:
        res = np.asarray(resistance, dtype=np.float64)
        return np.where(np.isinf(res), np.nan, res)
    res = np.asarray(resistance)
    return _by_strips(res, factor, np.float64, _aggregate_strip)


def _aggregate_strip(strip: np.ndarray, factor: int) -> np.ndarray:
    strip = np.asarray(strip, dtype=np.float64)
    inside = _blocks(np.zeros(strip.shape), factor, np.nan)  # 0 inside the grid, NaN outside
    n_inside = np.isfinite(inside).sum(axis=2)
    values = _blocks(np.where(np.isinf(strip), np.nan, strip), factor, np.nan)
    passable = np.isfinite(values)
    n_pass = passable.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        conductance = np.where(passable, 1.0 / values, 0.0).sum(axis=2)
        mean = n_pass / conductance
    impassable = (n_inside - n_pass) * 2 > n_inside
    return np.where(impassable | (n_pass == 0), np.nan, mean)


def _by_strips(values: np.ndarray, factor: int, dtype, fn) -> np.ndarray:
    """``fn(strip, factor)`` over strips of whole block rows (bounded temporaries), stacked."""
    rows, cols = values.shape
    h, w = -(-rows // factor), -(-cols // factor)
    out = np.empty((h, w), dtype=dtype)
    step = max(1, _STRIP_CELLS // max(1, factor * factor * w))  # block rows per strip
    for top in range(0, h, step):
        out[top: top + step] = fn(values[top * factor: (top + step) * factor], factor)
    return out


def block_any(mask: np.ndarray, factor: int) -> np.ndarray:
    """Coarse cells holding at least one True fine cell.

    Examples
    --------
    >>> block_any(np.array([[0, 0, 0], [0, 0, 1]], bool), 2).tolist()
    [[False, True]]
    """
    def strip_any(strip, f):
        return _blocks(np.asarray(strip, dtype=np.float64), f, 0.0).any(axis=2)
    return _by_strips(np.asarray(mask, dtype=bool), int(factor), bool, strip_any)


def aggregate_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """Per coarse cell, the positive label with the most fine cells in its block (ties: the
    lower label), 0 where the block has none. For few labels (population cores): one pass per
    label.

    Examples
    --------
    >>> aggregate_labels(np.array([[1, 0, 2, 2], [1, 2, 0, 0]]), 2).tolist()
    [[1, 2]]
    """
    factor = int(factor)
    labels = np.asarray(labels)
    ids = [int(v) for v in np.unique(labels) if v > 0]

    def strip_mode(strip, f):
        best = np.zeros((-(-strip.shape[0] // f), -(-strip.shape[1] // f)), np.int32)
        most = np.zeros(best.shape, np.int64)
        for label in ids:  # ascending: a tie keeps the lower label
            count = _blocks((strip == label).astype(np.float64), f, 0.0).sum(axis=2).astype(np.int64)
            win = count > most
            best[win], most[win] = label, count[win]
        return best
    return _by_strips(labels, factor, np.int32, strip_mode)


def coarse_cores(cores: np.ndarray, coarse_resistance: np.ndarray, factor: int) -> np.ndarray:
    """Population cores on the coarse grid: per coarse cell the population with the most fine
    core cells in its block (:func:`aggregate_labels`), on passable coarse cells only (0 elsewhere).

    Examples
    --------
    >>> coarse_cores(np.array([[1, 0, 2, 2], [1, 2, 0, 0]]), np.array([[1.0, np.nan]]), 2).tolist()
    [[1, 0]]
    """
    labels = aggregate_labels(cores, factor)
    return np.where(np.isfinite(coarse_resistance), labels, 0).astype(np.int32)


def coarse_cell(cell: tuple[int, int] | None, factor: int) -> tuple[int, int] | None:
    """The coarse cell ``(row // factor, col // factor)`` holding fine cell ``cell`` (None stays None)."""
    return None if cell is None else (int(cell[0]) // int(factor), int(cell[1]) // int(factor))


def coarse_focal_cells(
    cells: list[tuple[int, int] | None], coarse_cores: np.ndarray, coarse_resistance: np.ndarray, factor: int
) -> list[tuple[int, int] | None]:
    """Focal cells on the coarse grid: the coarse cell of each fine focal cell, or where that one
    is impassable, the passable coarse core cell of the same population (index ``i + 1`` in
    ``coarse_cores``) nearest it; None when the population has none.

    Examples
    --------
    >>> res = np.array([[np.nan, 1.0, 1.0]])
    >>> coarse_focal_cells([(1, 5), (0, 1), None], np.array([[0, 2, 1]]), res, 2)
    [(0, 2), (0, 1), None]
    """
    out: list[tuple[int, int] | None] = []
    for index, cell in enumerate(cells, start=1):
        cc = coarse_cell(cell, factor)
        if cc is not None and not np.isfinite(coarse_resistance[cc]):
            rows, cols = np.nonzero((coarse_cores == index) & np.isfinite(coarse_resistance))
            if rows.size == 0:
                cc = None
            else:
                k = int(np.argmin((rows - cc[0]) ** 2 + (cols - cc[1]) ** 2))
                cc = (int(rows[k]), int(cols[k]))
        out.append(cc)
    return out


def fine_current(coarse_current: np.ndarray, factor: int, fine_shape: tuple[int, int]) -> np.ndarray:
    """Current of a coarse run per fine cell: ``I_coarse / factor`` repeated over the block (A).

    A coarse cell ``factor`` fine cells wide carries its current across ``factor`` fine cells
    side by side (each ``factor`` cells long in series); when the flow crosses the block evenly
    each carries ``1 / factor`` of it, as in a fine run of the same landscape.
    """
    return upsample_nearest(np.asarray(coarse_current, dtype=np.float64) / int(factor), factor, fine_shape)


def upsample_nearest(coarse: np.ndarray, factor: int, fine_shape: tuple[int, int]) -> np.ndarray:
    """Each coarse value repeated over its ``factor x factor`` fine cells, cropped to ``fine_shape``.

    Examples
    --------
    >>> upsample_nearest(np.array([[1, 2]]), 2, (2, 3)).tolist()
    [[1, 1, 2], [1, 1, 2]]
    """
    out = np.repeat(np.repeat(np.asarray(coarse), factor, axis=0), factor, axis=1)
    return out[: fine_shape[0], : fine_shape[1]]


@dataclass(frozen=True)
class Grain:
    """The grid the cost surfaces run on: the analysis grid (``factor`` 1) or ``factor`` times
    coarser; ``impassable`` marks the fine impassable cells (None at factor 1)."""

    fine: GridSpec
    grid: GridSpec
    factor: int
    impassable: np.ndarray | None

    @classmethod
    def of(cls, fine: GridSpec, factor: int, fine_resistance: np.ndarray) -> Grain:
        """The grain ``factor`` times coarser than ``fine`` (``fine_resistance`` marks the
        impassable fine cells: NaN or inf)."""
        if factor == 1:
            return cls(fine, fine, 1, None)
        return cls(fine, coarse_grid(fine, factor), factor, ~np.isfinite(fine_resistance))

    def back(self, values: np.ndarray, fill) -> np.ndarray:
        """A coarse raster on the analysis grid: repeated over each block, ``fill`` on fine
        impassable cells (unchanged at factor 1)."""
        if self.factor == 1:
            return values
        out = upsample_nearest(values, self.factor, self.fine.shape)
        out[self.impassable] = fill
        return out
