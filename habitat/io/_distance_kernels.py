"""Compiled kernels of the exact strip-wise Euclidean distances (:func:`habitat.io.vectors.distance_rows`).

Kept apart so that reading vector inputs (``habitat validate``) does not import numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["nearest_rows", "row_distances"]


@njit(cache=True, nogil=True)
def nearest_rows(p, r0, above, below, out):  # pragma: no cover - compiled
    """Nearest present row (absolute index, -1 = none) in each column, for the rows of strip ``p``
    (absolute rows ``r0 + i``), given the nearest present rows above and below the strip."""
    h, w = p.shape
    last = above.copy()
    for i in range(h):
        for c in range(w):
            if p[i, c]:
                last[c] = r0 + i
            out[i, c] = last[c]
    nxt = below.copy()
    for i in range(h - 1, -1, -1):
        r = r0 + i
        for c in range(w):
            if p[i, c]:
                nxt[c] = r
            n = nxt[c]
            if n >= 0:
                u = out[i, c]
                if u < 0 or n - r < r - u:
                    out[i, c] = n


@njit(cache=True, nogil=True)
def row_distances(near, r0, lo, hi, c0, c1, dy, dx, cap, out, v, z):  # pragma: no cover - compiled
    """Distances (m) of rows ``lo:hi`` of ``near``, columns ``c0:c1``, into ``out`` (float32).

    Per row, the lower envelope of the parabolas ``(c - q)**2 + ((near[q] - r) * dy / dx)**2``
    of the columns ``q`` that have a present cell (in cell units); each cell's nearest column
    is then checked against the envelope's neighbours with the float64 distance itself.
    """
    w = near.shape[1]
    for i in range(lo, hi):
        r = r0 + i
        k = -1
        for q in range(w):
            fr = near[i, q]
            if fr < 0:
                continue
            a = (fr - r) * dy / dx
            fq = a * a
            if k < 0:
                k = 0
                v[0] = q
                z[0] = -np.inf
                z[1] = np.inf
                continue
            while True:
                p = v[k]
                b = (near[i, p] - r) * dy / dx
                s = ((fq - b * b) + (q - p) * (q + p)) / (2.0 * (q - p))
                if s <= z[k] and k > 0:
                    k -= 1
                else:
                    break
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = np.inf
        j = 0
        for c in range(c0, c1):
            if k < 0:
                out[i - lo, c - c0] = np.inf
                continue
            while j < k and z[j + 1] < c:
                j += 1
            best = np.inf
            for t in range(max(0, j - 1), min(k, j + 1) + 1):
                q = v[t]
                ddr = float(near[i, q] - r) * dy
                ddc = float(q - c) * dx
                d2 = ddr * ddr + ddc * ddc
                if d2 < best:
                    best = d2
            d = np.sqrt(best)
            out[i - lo, c - c0] = np.inf if d > cap else d
