"""Least-cost distances between habitat patches (the edges of the patch graph)."""

from __future__ import annotations

import numpy as np

from habitat.connectivity.cost_distance import cost_distance


def patch_distances(
    resistance: np.ndarray, labels: np.ndarray, ids: list[int], *, cell_size_m: float, neighbours: int,
    factor: int = 1, patch_cells: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Least-cost distance between every pair of patches, edge to edge.

    Parameters
    ----------
    resistance : numpy.ndarray
        Resistance per cell (inf = impassable).
    labels : numpy.ndarray of int
        Patch id per cell, 0 = no patch (numpy, dask or a DataArray: read strip by strip,
        :func:`habitat.connectivity.two_grid.patch_coarse_cells`).
    ids : list of int
        Patch ids to connect, in the order of the result's rows.
    cell_size_m : float
        Cell size (m) of ``resistance``, > 0.
    neighbours : {4, 8, 16}
        Moves of the cost-distance kernel.
    factor : int
        ``resistance`` is on a grid ``factor`` times coarser than ``labels``
        (:mod:`habitat.connectivity.two_grid`): a patch starts from, and is reached at, the
        coarse cells of its fine cells. 1: both on one grid.
    patch_cells : (ndarray, ndarray), optional
        :func:`habitat.connectivity.two_grid.patch_coarse_cells` of ``labels``, ``ids`` and
        ``factor`` when already at hand (e.g. from
        :func:`habitat.connectivity.two_grid.summarize_fine`, in the pass that aggregates the
        resistance); then ``labels`` is not read.

    Returns
    -------
    numpy.ndarray of float64, shape ``(len(ids), len(ids))``
        ``d[i, j]`` = min over cells of patch ``j`` of the accumulated cost (resistance x m) from
        patch ``i``, symmetrized by the minimum; 0 on the diagonal, inf where unreachable.
    """
    n = len(ids)
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    from habitat.connectivity.two_grid import patch_coarse_cells
    patch, cell = patch_cells if patch_cells is not None else patch_coarse_cells(labels, ids, factor,
                                                                                  resistance.shape[1])
    for i in range(n):
        sources = np.zeros(resistance.size, bool)
        sources[cell[patch == i]] = True
        cwd = cost_distance(resistance, sources.reshape(resistance.shape), cell_size=cell_size_m,
                            neighbours=neighbours)
        mins = np.full(n, np.inf)
        np.minimum.at(mins, patch, cwd.ravel()[cell])
        dist[i] = np.minimum(dist[i], mins)
    return np.minimum(dist, dist.T)

