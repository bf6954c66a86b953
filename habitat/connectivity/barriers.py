"""Barrier improvement scores (McRae et al. 2012, Linkage Mapper Barrier Mapper)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from habitat.errors import InvalidParameterError

__all__ = ["annulus_footprint", "barrier_improvement", "max_barrier_improvement"]


# Public API


def annulus_footprint(
    radius_m: float, *, cell_size: float = 1.0, ring_width_m: float | None = None
) -> np.ndarray:
    """Boolean ring of cells whose centres lie at ``radius - ring_width < d <= radius``.

    Parameters
    ----------
    radius_m : float
        Outer radius in map units, >= cell_size.
    cell_size : float, optional
        Cell side in map units.
    ring_width_m : float, optional
        Ring width in map units; default one cell, so the ring has no gaps a path could slip
        through. Linkage Mapper uses ``ANNULUS radius-1 radius MAP`` (width 1 map unit), the
        same on a unit grid; pass ``ring_width_m=1`` to reproduce it on metre grids.

    Returns
    -------
    numpy.ndarray of bool, shape (2k+1, 2k+1), k = floor(radius / cell_size)

    Examples
    --------
    >>> annulus_footprint(1.0).astype(int).tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """
    if not (cell_size > 0 and radius_m >= cell_size and math.isfinite(radius_m)):
        raise InvalidParameterError(
            f"radius {radius_m!r} must be finite and >= the cell size {cell_size!r} (map units)"
        )
    width = cell_size if ring_width_m is None else ring_width_m
    if not (width > 0):
        raise InvalidParameterError(f"ring_width_m={ring_width_m!r} must be > 0 (map units)")
    k = int(math.floor(radius_m / cell_size + 1e-9))
    offsets = np.arange(-k, k + 1) * cell_size
    d = np.hypot(offsets[:, None], offsets[None, :])
    # Small tolerance so centres exactly on the radius count, as in ArcGIS focal neighbourhoods.
    tol = 1e-9 * radius_m
    return (d <= radius_m + tol) & (d > radius_m - width + tol)


def barrier_improvement(
    cwd_a: np.ndarray,
    cwd_b: np.ndarray,
    lcd: float,
    *,
    radius_m: float,
    cell_size: float = 1.0,
    ring_width_m: float | None = None,
) -> np.ndarray:
    """Improvement score of restoring a circle of radius r around each cell, for one link.

    Parameters
    ----------
    cwd_a, cwd_b : 2-D float arrays
        Cost-weighted distance from populations A and B (resistance x map units, inf
        unreachable).
    lcd : float
        Least-cost distance between A and B (resistance x map units).
    radius_m : float
        Search radius r in map units (>= cell size).
    cell_size : float, optional
        Cell side in map units.
    ring_width_m : float, optional
        See :func:`annulus_footprint`.

    Returns
    -------
    numpy.ndarray of float64
        Improvement score (resistance units, >= 0): the reduction of LCD per map unit restored
        if the cells within distance r were restored to resistance 1. 0 where restoring would
        not help or a ring cell is out of reach.

    Notes
    -----
    McRae et al. (2012), Linkage Mapper Barrier Mapper, with D = 2r::

        score(x) = (LCD - min_ring CWD_A - min_ring CWD_B - D) / D,  negatives -> 0

    ``min_ring`` is the minimum over the annulus of radius r around x (outside the grid
    counts as unreachable). McRae, Hall, Beier & Theobald (2012) PLoS ONE 7(12): e52604.

    Examples
    --------
    >>> cwd_a = np.array([[0.0, 1.0, 51.0, 52.0]]); cwd_b = cwd_a[:, ::-1]
    >>> barrier_improvement(cwd_a, cwd_b, 52.0, radius_m=1.0).tolist()
    [[0.0, 24.5, 24.5, 0.0]]
    """
    cwd_a = np.asarray(cwd_a, dtype=np.float64)
    cwd_b = np.asarray(cwd_b, dtype=np.float64)
    if cwd_a.shape != cwd_b.shape or cwd_a.ndim != 2:
        raise InvalidParameterError(
            f"cwd_a {cwd_a.shape} and cwd_b {cwd_b.shape} must be 2-D grids of one shape"
        )
    if not (lcd >= 0 and math.isfinite(lcd)):
        raise InvalidParameterError(f"lcd={lcd!r} must be finite and >= 0 (resistance x map units)")
    ring = annulus_footprint(radius_m, cell_size=cell_size, ring_width_m=ring_width_m)
    diameter = 2.0 * radius_m
    # NaN would poison the minimum filter; it is as unreachable as inf.
    min_a = ndimage.minimum_filter(
        np.nan_to_num(cwd_a, nan=np.inf), footprint=ring, mode="constant", cval=np.inf
    )
    min_b = ndimage.minimum_filter(
        np.nan_to_num(cwd_b, nan=np.inf), footprint=ring, mode="constant", cval=np.inf
    )
    with np.errstate(invalid="ignore", over="ignore"):
        score = (lcd - min_a - min_b - diameter) / diameter
    score[~np.isfinite(score)] = 0.0
    np.maximum(score, 0.0, out=score)
    return score


def max_barrier_improvement(
    cwds: Mapping[int, np.ndarray],
    links: Any,
    *,
    radii_m: Sequence[float],
    cell_size: float = 1.0,
    ring_width_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum improvement score over links and radii, and the radius that gives it.

    Parameters
    ----------
    cwds : mapping of population id -> 2-D float array
        Cost-weighted distance per population (``CorridorResult.cwds``).
    links : pandas.DataFrame or iterable of (from_id, to_id, lcd)
        Linked pairs (``CorridorResult.links``: columns from_id, to_id, lcd); rows with a
        ``connected`` column False (beyond the maximum dispersal cost) are not scored.
    radii_m : sequence of float
        Search radii in map units, each >= cell_size.
    cell_size, ring_width_m
        See :func:`barrier_improvement`.

    Returns
    -------
    score : numpy.ndarray of float64
        Maximum improvement score per cell (>= 0).
    best_radius_m : numpy.ndarray of float64
        Radius giving the maximum; NaN where the score is 0.

    Examples
    --------
    >>> cwds = {1: np.array([[0.0, 1.0, 51.0, 52.0]]), 2: np.array([[52.0, 51.0, 1.0, 0.0]])}
    >>> score, radius = max_barrier_improvement(cwds, [(1, 2, 52.0)], radii_m=[1.0])
    >>> score.tolist()
    [[0.0, 24.5, 24.5, 0.0]]
    """
    radii = [float(r) for r in radii_m]
    if not radii:
        raise InvalidParameterError("radii_m is empty; give at least one search radius (map units)")
    triples = list(_link_triples(links))
    if not cwds:
        raise InvalidParameterError("cwds is empty; pass the cost-weighted distance of each population")
    shape = next(iter(cwds.values())).shape
    best = np.zeros(shape)
    best_radius = np.full(shape, np.nan)
    for a, b, lcd in triples:
        for key in (a, b):
            if key not in cwds:
                raise InvalidParameterError(f"links name population {key}, which has no CWD grid in cwds")
        for radius in sorted(radii):
            score = barrier_improvement(
                cwds[a], cwds[b], lcd, radius_m=radius, cell_size=cell_size, ring_width_m=ring_width_m
            )
            better = score > best
            best[better] = score[better]
            best_radius[better] = radius
    return best, best_radius


# Private helpers


def _connected(links: Any) -> np.ndarray:
    """Boolean row mask of a links table's ``connected`` column (all True without one).

    Accepts the strings a CSV round trip may leave ("True"/"False", "1"/"0").
    """
    if "connected" not in links.columns:
        return np.ones(len(links), dtype=bool)
    values = links["connected"]
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if bad.any():
        raise InvalidParameterError(
            f"links column 'connected' holds {values[bad].iloc[0]!r}; use True/False"
        )
    return text.isin(["true", "1", "1.0"]).to_numpy()


def _link_triples(links: Any) -> Iterable[tuple[int, int, float]]:
    """(from_id, to_id, lcd) of the connected links: rows whose ``connected`` column is False
    (beyond the maximum dispersal cost) are skipped, as Linkage Mapper scores active links only."""
    if hasattr(links, "columns"):
        missing = {"from_id", "to_id", "lcd"} - set(links.columns)
        if missing:
            raise InvalidParameterError(f"links table lacks columns {sorted(missing)}")
        links = links[_connected(links)]
        for a, b, lcd in links[["from_id", "to_id", "lcd"]].itertuples(index=False):
            yield int(a), int(b), float(lcd)
    else:
        for a, b, lcd in links:
            yield int(a), int(b), float(lcd)
