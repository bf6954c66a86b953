"""Two resolutions: connectivity on a coarser grid, results brought back to the fine grid.

Habitat, patches and indicators stay on the fine analysis grid; least-cost and circuit
connectivity may run on a grid ``factor`` times coarser (``grid.connectivity_resolution_m``)
whose cells are exact ``factor x factor`` blocks of fine cells (same origin), so bringing a
result back is a repeat of each coarse value over its block.

Aggregation rule for resistance (per coarse cell, over its fine cells):

* the cell is impassable (NaN) when more than half of its fine cells are impassable (NaN or
  +inf): a majority rule, so a barrier that fills most of the cell stays a barrier and a
  sliver of barrier does not close a whole coarse cell;
* otherwise its resistance is the arithmetic mean of the finite fine resistances. A path
  crossing the coarse cell crosses ``factor`` fine cells in series, and the cost of cells in
  series adds (McRae et al. 2008, Ecology 89: 2712-2724, resistances in series sum), so the
  mean resistance times the coarse cell length is the cost of a straight crossing through
  cells drawn at random from the block. The mean is conservative against the harmonic mean
  (which equals averaging conductance, the parallel-paths equivalent): it does not let a few
  low-resistance cells make the whole block cheap.

Results at the coarse grain are an approximation: check them against a fine run on a subset.
"""

from __future__ import annotations

import math

import numpy as np

from habitat.errors import ConfigError
from habitat.grid import GridSpec

__all__ = ["aggregate_resistance", "coarse_grid", "coarsen_factor", "upsample_nearest"]


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
            f"grid.connectivity_resolution_m: {connectivity_resolution_m} is not a whole multiple of "
            f"grid.resolution_m {fine_resolution_m}; use e.g. {max(1, factor) * fine_resolution_m:g}"
        )
    return int(factor)


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
    """Resistance on the coarse grid: mean of the finite fine cells; NaN if > half impassable.

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
    >>> r = np.array([[1, 3, np.nan, np.nan], [5, 7, np.nan, 2.0]])
    >>> aggregate_resistance(r, 2).tolist()
    [[4.0, nan]]
    """
    factor = int(factor)
    res = np.asarray(resistance, dtype=np.float64)
    if factor == 1:
        return np.where(np.isinf(res), np.nan, res)
    inside = _blocks(np.zeros(res.shape), factor, np.nan)  # 0 inside the grid, NaN outside
    n_inside = np.isfinite(inside).sum(axis=2)
    values = _blocks(np.where(np.isinf(res), np.nan, res), factor, np.nan)
    passable = np.isfinite(values)
    n_pass = passable.sum(axis=2)
    sums = np.where(passable, values, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / n_pass
    impassable = (n_inside - n_pass) * 2 > n_inside
    return np.where(impassable | (n_pass == 0), np.nan, mean)


def upsample_nearest(coarse: np.ndarray, factor: int, fine_shape: tuple[int, int]) -> np.ndarray:
    """Each coarse value repeated over its ``factor x factor`` fine cells, cropped to ``fine_shape``.

    Examples
    --------
    >>> upsample_nearest(np.array([[1, 2]]), 2, (2, 3)).tolist()
    [[1, 1, 2], [1, 1, 2]]
    """
    out = np.repeat(np.repeat(np.asarray(coarse), factor, axis=0), factor, axis=1)
    return out[: fine_shape[0], : fine_shape[1]]
