"""Private Dijkstra kernels on a raster grid: numba when installed, scipy.sparse.csgraph otherwise."""

from __future__ import annotations

import math

import numpy as np

try:  # numba is optional: without it the scipy fallback gives the same answer, slower.
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def wrap(func):
            return func

        return wrap


# Padding keeps every neighbour index of a valid cell inside the array, so the kernel needs no
# bounds checks; 2 cells because a knight's move reaches two rows or columns away.
PAD = 2


def moves(neighbours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moves of a neighbourhood: offsets (k, 2), step lengths (k,), touched side cells (k, 2, 2).

    Side cells are the two cells a knight's move passes beside (GRASS ``r.cost -k``); for
    orthogonal and diagonal moves they are unused and set to (0, 0).
    """
    rook = [(-1, 0), (0, -1), (0, 1), (1, 0)]
    diagonal = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    knight = [(-2, -1), (-2, 1), (-1, -2), (-1, 2), (1, -2), (1, 2), (2, -1), (2, 1)]
    offs = list(rook)
    if neighbours >= 8:
        offs += diagonal
    if neighbours == 16:
        offs += knight
    offsets = np.array(offs, dtype=np.int64)
    lengths = np.array([math.sqrt(dr * dr + dc * dc) for dr, dc in offs])
    side = np.zeros((len(offs), 2, 2), dtype=np.int64)
    for k, (dr, dc) in enumerate(offs):
        if abs(dr) == 2:
            side[k] = [(dr // 2, 0), (dr // 2, dc)]
        elif abs(dc) == 2:
            side[k] = [(0, dc // 2), (dr, dc // 2)]
    return offsets, lengths, side


@njit(cache=True, nogil=True)
def _dijkstra_numba(r, sources, step, length, side1, side2, has_side, limit, delta, nslots, nxt, prv):
    """Label-correcting bucket Dijkstra (Delta-stepping, one thread) on a padded flat grid.

    ``r`` is +inf on impassable and padding cells. A queued cell sits in bucket
    ``floor(cost/delta)``; buckets live in a ring of ``nslots`` (a power of two larger than the
    heaviest step over ``delta``), each an intrusive doubly linked list through ``nxt``/``prv``
    (``prv = -1``: not queued; ``prv <= -2``: head of slot ``-prv - 2``), so a cheaper path moves
    a cell between buckets in O(1) and nothing is ever allocated in the loop. When ``delta`` is
    at most the lightest step, every cell taken from the current bucket is final (Dial's
    algorithm); a larger ``delta`` only makes a cell be scanned again, never a wrong answer. The
    result is the fixed point ``cost[v] = min_u cost[u] + w(u, v)``, as a heap Dijkstra gives.
    Returns (cost in cell units, move index of the last step or -1).
    """
    n = r.size
    dist = np.full(n, np.inf)
    back = np.full(n, -1, dtype=np.int8)
    nmoves = step.size
    nplain = 0  # orthogonal and diagonal moves come first, knight's moves after
    while nplain < nmoves and not has_side[nplain]:
        nplain += 1
    mask = nslots - 1
    head = np.full(nslots, -1, dtype=nxt.dtype)
    prv[:] = -1
    queued = 0
    for s in sources:
        if dist[s] == 0.0:
            continue
        dist[s] = 0.0
        h = head[0]
        nxt[s] = h
        prv[s] = -2
        if h != -1:
            prv[h] = s
        head[0] = s
        queued += 1
    inv_delta = 1.0 / delta
    cur = 0
    while queued > 0:
        if cur * delta > limit:
            break
        slot = cur & mask
        while head[slot] != -1:
            u = head[slot]
            h = nxt[u]
            head[slot] = h
            if h != -1:
                prv[h] = -(slot + 2)
            prv[u] = -1
            queued -= 1
            d = dist[u]
            if d > limit:
                continue
            ru = r[u]
            for k in range(nmoves):
                v = u + step[k]
                rv = r[v]
                if rv == np.inf:
                    continue
                if k < nplain:
                    c = 0.5 * (ru + rv) * length[k]
                else:
                    # knight's move: mean of the two end cells and the two cells passed beside
                    c = 0.25 * (ru + rv + r[u + side1[k]] + r[u + side2[k]]) * length[k]
                    if c == np.inf:
                        continue
                nd = d + c
                if nd < dist[v]:
                    dist[v] = nd
                    back[v] = k
                    b = np.int64(nd * inv_delta)
                    if b < cur:
                        b = cur
                    bs = b & mask
                    p = prv[v]
                    if p != -1:
                        if p == -(bs + 2):
                            continue  # already at the head of the right bucket
                        # unlink v from the bucket it waits in
                        h = nxt[v]
                        if p >= 0:
                            nxt[p] = h
                        else:
                            head[-p - 2] = h
                        if h != -1:
                            prv[h] = p
                    else:
                        queued += 1
                    h = head[bs]
                    nxt[v] = h
                    prv[v] = -(bs + 2)
                    if h != -1:
                        prv[h] = v
                    head[bs] = v
        cur += 1
    return dist, back


def _dijkstra_scipy(r, sources, step, length, side1, side2, has_side, limit, delta, nslots, nxt, prv):
    """Same contract as the numba kernel, on an explicit sparse graph (more memory, slower)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = r.size
    passable = np.flatnonzero(np.isfinite(r))
    rows, cols, weights = [], [], []
    for k in range(step.size):
        v = passable + step[k]
        if has_side[k]:
            c = 0.25 * (r[passable] + r[v] + r[passable + side1[k]] + r[passable + side2[k]])
        else:
            c = 0.5 * (r[passable] + r[v])
        c = c * length[k]
        ok = np.isfinite(c)
        rows.append(passable[ok])
        cols.append(v[ok])
        weights.append(c[ok])
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    weights = np.concatenate(weights)
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    # csgraph treats stored zeros of a sparse matrix as edges, so zero-resistance steps stay
    # passable; each ordered pair appears once, so no weights are summed.
    dist, pred, _ = dijkstra(
        graph,
        directed=True,
        indices=np.asarray(sources, dtype=np.int64),
        return_predecessors=True,
        min_only=True,
        limit=limit if np.isfinite(limit) else np.inf,
    )
    back = np.full(n, -1, dtype=np.int8)
    has_pred = pred >= 0
    moved = np.flatnonzero(has_pred) - pred[has_pred]
    order = np.argsort(step)
    back[has_pred] = order[np.searchsorted(step[order], moved)].astype(np.int8)
    return dist, back


@njit(cache=True, nogil=True)
def _pad_numba(grid, pad):
    ny, nx = grid.shape
    out = np.empty((ny + 2 * pad, nx + 2 * pad))
    out[:pad, :] = np.inf
    out[ny + pad :, :] = np.inf
    out[:, :pad] = np.inf
    out[:, nx + pad :] = np.inf
    for i in range(ny):
        for j in range(nx):
            x = grid[i, j]
            # "not >= 0" also catches NaN
            out[i + pad, j + pad] = x if x >= 0 else np.inf
    return out


def pad_impassable(grid: np.ndarray) -> np.ndarray:
    """Copy of ``grid`` padded by PAD cells of +inf, with NaN and negative values set to +inf."""
    if HAVE_NUMBA:
        return _pad_numba(np.ascontiguousarray(grid, dtype=np.float64), PAD)
    padded = np.full((grid.shape[0] + 2 * PAD, grid.shape[1] + 2 * PAD), np.inf)
    inner = padded[PAD:-PAD, PAD:-PAD]
    inner[...] = grid
    # "not >= 0" also catches NaN; -inf and negative values are impassable by contract.
    inner[~(inner >= 0)] = np.inf
    return padded


# Ring size cap: 2**22 slots is 32 MiB of list heads; beyond it delta grows instead.
_MAX_SLOTS = 2**22


@njit(cache=True, nogil=True)
def _finite_range_numba(flat):
    lo = np.inf
    hi = -np.inf
    for x in flat:
        if x != np.inf:
            if x < lo:
                lo = x
            if x > hi:
                hi = x
    return lo, hi


def _finite_range(flat, use_numba):
    if use_numba:
        return _finite_range_numba(flat)
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return np.inf, -np.inf
    return float(finite.min()), float(finite.max())


def _bucket_width(flat, max_length, use_numba):
    """Bucket width and ring size: delta = the lightest possible step (exact, Dial) unless that
    would need more than _MAX_SLOTS buckets to cover the heaviest step."""
    r_min, r_max = _finite_range(flat, use_numba)
    if r_min == np.inf:
        return 1.0, 2
    w_max = r_max * max_length * (1.0 + 1e-9)
    # A step costs at least the smaller of the cells it joins times its length (>= 1).
    delta = max(r_min * (1.0 - 1e-9), w_max / (_MAX_SLOTS - 2))
    if delta <= 0.0 or not np.isfinite(delta):
        delta = 1.0
    nslots = 2
    while nslots < w_max / delta + 2:
        nslots *= 2
    return delta, nslots


def dijkstra_grid(r_padded, sources_flat, neighbours, limit, *, use_numba=None):
    """Run the kernel on a padded grid; returns padded (cost in cell units, backlink)."""
    offsets, lengths, side = moves(neighbours)
    ncols = r_padded.shape[1]
    step = offsets[:, 0] * ncols + offsets[:, 1]
    side1 = side[:, 0, 0] * ncols + side[:, 0, 1]
    side2 = side[:, 1, 0] * ncols + side[:, 1, 1]
    has_side = (np.abs(offsets) == 2).any(axis=1)
    flat = np.ascontiguousarray(r_padded, dtype=np.float64).ravel()
    if use_numba is None:
        use_numba = HAVE_NUMBA
    delta, nslots = _bucket_width(flat, lengths.max(), use_numba)
    kernel = _dijkstra_numba if use_numba else _dijkstra_scipy
    # int32 links halve the memory traffic of the queue when the grid allows it.
    index_dtype = np.int32 if flat.size < 2**31 - 2 * _MAX_SLOTS - 4 else np.int64
    if use_numba:
        links = (np.empty(flat.size, dtype=index_dtype), np.empty(flat.size, dtype=index_dtype))
    else:
        links = (None, None)
    dist, back = kernel(
        flat,
        np.asarray(sources_flat, dtype=np.int64),
        step,
        lengths,
        side1,
        side2,
        has_side,
        float(limit),
        delta,
        nslots,
        *links,
    )
    return dist.reshape(r_padded.shape), back.reshape(r_padded.shape)
