"""Population cells on the grid: core cells around each site and one focal cell per population."""

from __future__ import annotations

import numpy as np

from habitat.sites.candidates import distance_to_points, nearest_point


def site_points(populations) -> np.ndarray:
    """Site x, y (grid CRS, metres) of a point layer (a GeoDataFrame), shape ``(n, 2)``."""
    return np.column_stack([populations.geometry.x, populations.geometry.y]).reshape(-1, 2)


def population_cores(
    points_xy: np.ndarray, resistance: np.ndarray, x_coords: np.ndarray, y_coords: np.ndarray, radius_m: float
) -> np.ndarray:
    """Population index (1..n in point order) on passable cells within ``radius_m`` of each site.

    Parameters
    ----------
    points_xy : numpy.ndarray
        Shape ``(n, 2)``: site x, y in the grid CRS (metres).
    resistance : numpy.ndarray
        Resistance per cell; NaN or inf is impassable and never a core cell.
    x_coords, y_coords : numpy.ndarray
        Cell-centre coordinates of the columns and rows (metres).
    radius_m : float
        Core radius (m), > 0: cells whose centre lies within it belong to the site.

    Returns
    -------
    numpy.ndarray of int32
        Population index per cell, 0 = no core. Where two discs overlap, the nearer site wins
        (ties to the lower index).
    """
    distance, nearest = nearest_point(x_coords, y_coords, np.asarray(points_xy, dtype=np.float64))
    # the nearest site is within the radius whenever any site is
    take = (distance <= radius_m) & np.isfinite(resistance)
    return np.where(take, nearest + 1, 0).astype(np.int32)


def focal_cells(
    points_xy: np.ndarray, cores: np.ndarray, x_coords: np.ndarray, y_coords: np.ndarray
) -> list[tuple[int, int] | None]:
    """Per population (row ``i`` of ``points_xy`` owns core index ``i + 1``), its core cell
    nearest its site point, as ``(row, col)``; None when it has no core cell."""
    out: list[tuple[int, int] | None] = []
    for index, (x, y) in enumerate(np.asarray(points_xy, dtype=np.float64).reshape(-1, 2), start=1):
        rows, cols = np.nonzero(cores == index)
        if rows.size == 0:
            out.append(None)
            continue
        distance = distance_to_points(x_coords, y_coords, [[x, y]])
        k = int(np.argmin(distance[rows, cols]))
        out.append((int(rows[k]), int(cols[k])))
    return out
