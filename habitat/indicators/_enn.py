"""Private kernel: edge-to-edge nearest-neighbour distance between patches of one class."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Query points per batch: bounds the (points x k) distance/index arrays to ~ tens of MB.
_BATCH_ENTRIES = 1 << 22


def _nearest_other_patch(points: np.ndarray, patch: np.ndarray, n_patches: int) -> np.ndarray:
    """Distance from each patch to the nearest cell of any other patch in ``points``.

    Parameters
    ----------
    points : ndarray, shape (N, 2)
        Cell-centre coordinates (row, col) in cells of the edge cells of one class.
    patch : ndarray of int, shape (N,)
        Patch index (0-based, global) of each point.
    n_patches : int
        Length of the output.

    Returns
    -------
    ndarray, shape (n_patches,)
        Minimum Euclidean distance in cells; ``inf`` for patches without points or without
        another patch.

    Notes
    -----
    One k-d tree over all points; each point asks for its k nearest points and keeps the first
    one of another patch. Points whose k nearest are all of their own patch are asked again
    with 2k unless their k-th distance already reaches the best distance of their patch (then
    they cannot improve it). Exact, and each point is queried only as deep as its own patch's
    neighbourhood requires, instead of one tree per patch.
    """
    best = np.full(n_patches, np.inf)
    n_points = points.shape[0]
    if n_points == 0:
        return best
    tree = cKDTree(points)
    pending = np.arange(n_points)
    k = 8
    while pending.size:
        kk = min(k, n_points)
        still, still_kth = [], []
        batch = max(1, _BATCH_ENTRIES // kk)
        for start in range(0, pending.size, batch):
            idx_q = pending[start : start + batch]
            dist, nbr = tree.query(points[idx_q], k=kk)
            if kk == 1:
                dist, nbr = dist[:, None], nbr[:, None]
            own = patch[idx_q]
            other = patch[nbr] != own[:, None]
            hit = other.any(axis=1)
            first = other.argmax(axis=1)
            d_hit = dist[np.flatnonzero(hit), first[hit]]
            np.minimum.at(best, own[hit], d_hit)
            miss = np.flatnonzero(~hit)
            if kk < n_points:
                still.append(idx_q[miss])
                still_kth.append(dist[miss, -1])
        if not still:
            break
        pending = np.concatenate(still)
        kth = np.concatenate(still_kth)
        # A point whose k nearest are all of its own patch has its nearest foreign point
        # beyond its k-th neighbour: drop it once that cannot beat its patch's best.
        pending = pending[kth < best[patch[pending]]]
        k *= 2
    return best
