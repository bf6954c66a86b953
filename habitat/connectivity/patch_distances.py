"""Least-cost distances between habitat patches (the edges of the patch graph)."""

from __future__ import annotations

import numpy as np

from habitat.connectivity.cost_distance import cost_distance


def patch_distances(
    resistance: np.ndarray, labels: np.ndarray, ids: list[int], *, cell_size_m: float, neighbours: int
) -> np.ndarray:
    """Least-cost distance between every pair of patches, edge to edge.

    Parameters
    ----------
    resistance : numpy.ndarray
        Resistance per cell (inf = impassable).
    labels : numpy.ndarray of int
        Patch id per cell, 0 = no patch.
    ids : list of int
        Patch ids to connect, in the order of the result's rows.
    cell_size_m : float
        Cell size (m), > 0.
    neighbours : {4, 8, 16}
        Moves of the cost-distance kernel.

    Returns
    -------
    numpy.ndarray of float64, shape ``(len(ids), len(ids))``
        ``d[i, j]`` = min over cells of patch ``j`` of the accumulated cost (resistance x m) from
        patch ``i``, symmetrized by the minimum; 0 on the diagonal, inf where unreachable.
    """
    n = len(ids)
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    index = np.zeros(int(labels.max()) + 1, np.int64) - 1
    index[ids] = np.arange(n)
    cells = index[labels]
    for i, pid in enumerate(ids):
        cwd = cost_distance(resistance, labels == pid, cell_size=cell_size_m, neighbours=neighbours)
        reached = cells >= 0
        mins = np.full(n, np.inf)
        np.minimum.at(mins, cells[reached], cwd[reached])
        dist[i] = np.minimum(dist[i], mins)
    return np.minimum(dist, dist.T)
