"""Moving-window pieces of Omniscape: targets, window pattern, reference solve, correction.

Coordinates: rows and columns are 0-based. A window around target ``(y, x)`` is framed in
a square of side ``S = 2 R + 1``, ``R = radius + buffer`` cells, whose cell ``(R, R)`` is the
target; frame cell ``(i, j)`` is raster cell ``(y - R + i, x - R + j)``. Raster arrays are
padded by ``R`` cells so that every frame is a plain slice ``padded[y:y+S, x:x+S]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from habitat.connectivity.circuit.currents import node_currents
from habitat.connectivity.circuit.graph import (
    build_adjacency,
    build_node_map,
    components,
    laplacian,
    principal_submatrix,
)
from habitat.connectivity.circuit.ordering import nested_dissection_order, node_coordinates
from habitat.connectivity.circuit.solvers import GroundedSolver

from . import _kernels as K

_OFFSETS_8 = ((0, 1, False), (1, 0, False), (1, 1, True), (-1, 1, True))


def targets(sources, block_size):
    """Target cells and their strengths (Omniscape's ``get_targets``).

    Parameters
    ----------
    sources : numpy.ndarray
        Source strengths (amperes per cell, >= 0; nodata already 0).
    block_size : int
        Odd block side (cells).

    Returns
    -------
    ty, tx : numpy.ndarray of int64
        Target rows and columns: the centres of the ``block_size`` blocks tiling the raster
        from its top-left corner (rows ``br, br + block_size, ... <= nrows - 1 - br``,
        ``br = (block_size - 1) / 2``), in row-major order.
    amps : numpy.ndarray of float64
        Sum of the block's source strengths; only targets with ``amps > 0`` are returned.
    """
    s = np.asarray(sources, dtype=np.float64)
    nrows, ncols = s.shape
    br = (block_size - 1) // 2
    ys = np.arange(br, nrows - br, block_size)
    xs = np.arange(br, ncols - br, block_size)
    if ys.size == 0 or xs.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    # the blocks tile the raster from its top-left corner: sum them by reshaping
    nby, nbx = ys.size, xs.size
    amps = s[:nby * block_size, :nbx * block_size].reshape(
        nby, block_size, nbx, block_size).sum(axis=(1, 3))
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    keep = amps > 0
    return gy[keep].astype(np.int64), gx[keep].astype(np.int64), amps[keep]


def block_values(layer, ty, tx, block_size, *, how):
    """Median (``how="median"``) or mode (``"mode"``) of ``layer`` over each target's block.

    NaN cells are skipped; NaN when the block has no data. The mode is StatsBase's (which
    Omniscape uses): scanning the block in column-major order, the value whose count first
    exceeds every earlier count, so among tied values the one that reached the count first.
    """
    br = (block_size - 1) // 2
    a = np.asarray(layer, dtype=np.float64)
    out = np.full(ty.size, np.nan)
    if ty.size == 0:
        return out
    win = np.lib.stride_tricks.sliding_window_view(a, (block_size, block_size))
    blocks = win[ty - br, tx - br]  # (n, bs, bs)
    if how == "median":
        flat = blocks.reshape(ty.size, -1)
        ok = ~np.all(np.isnan(flat), axis=1)
        out[ok] = np.nanmedian(flat[ok], axis=1)
        return out
    cm = np.transpose(blocks, (0, 2, 1)).reshape(ty.size, -1)  # column-major order
    for t in range(ty.size):
        out[t] = _scan_mode(cm[t][~np.isnan(cm[t])])
    return out


def _scan_mode(vals):
    if vals.size == 0:
        return np.nan
    counts = {}
    best, best_n = vals[0], 0
    for v in vals.tolist():
        c = counts.get(v, 0) + 1
        counts[v] = c
        if c > best_n:
            best, best_n = v, c
    return best


@dataclass(frozen=True)
class CirclePattern:
    """Graph and factor pattern of the circle window (built once per radius)."""

    radius: int  # R = radius + buffer, cells
    cell_i: np.ndarray
    cell_j: np.ndarray
    center: int
    pos: np.ndarray
    nbr_ptr: np.ndarray
    nbr_cell: np.ndarray
    ea: np.ndarray
    eb: np.ndarray
    ediag: np.ndarray
    e_ax: np.ndarray
    cell_dx: np.ndarray
    ap: np.ndarray
    ai: np.ndarray
    lp: np.ndarray
    li: np.ndarray
    rowptr: np.ndarray
    rl_i: np.ndarray
    rl_q: np.ndarray

    @property
    def n_cells(self):
        return self.cell_i.size

    @property
    def factor_entries(self):
        return int(self.lp[-1])


def _grid_edges(mask, four_neighbors):
    """Edges between True cells of ``mask`` as (flat a, flat b, diagonal) with a < b column-major."""
    nr, nc = mask.shape
    out_a, out_b, out_d = [], [], []
    offsets = _OFFSETS_8[:2] if four_neighbors else _OFFSETS_8
    for di, dj, diag in offsets:
        i0, i1 = max(0, -di), nr - max(0, di)
        j0, j1 = 0, nc - dj
        ii, jj = np.mgrid[i0:i1, j0:j1]
        ok = mask[ii, jj] & mask[ii + di, jj + dj]
        out_a.append((ii[ok], jj[ok]))
        out_b.append((ii[ok] + di, jj[ok] + dj))
        out_d.append(np.full(int(ok.sum()), diag))
    ai_, aj_ = (np.concatenate([p[0] for p in out_a]), np.concatenate([p[1] for p in out_a]))
    bi_, bj_ = (np.concatenate([p[0] for p in out_b]), np.concatenate([p[1] for p in out_b]))
    return ai_, aj_, bi_, bj_, np.concatenate(out_d)


@lru_cache(maxsize=4)
def circle_pattern(big_r, four_neighbors=False):
    """Build the :class:`CirclePattern` of a window of radius ``big_r`` cells.

    Cells within Euclidean distance ``big_r`` of the centre (Omniscape's ``clip``) are
    numbered in column-major order (Circuitscape's node order); the unknowns are all cells
    but the centre (the ground), in nested-dissection order.
    """
    s = 2 * big_r + 1
    ii, jj = np.mgrid[0:s, 0:s]
    mask = (ii - big_r) ** 2 + (jj - big_r) ** 2 <= big_r * big_r
    idx = -np.ones((s, s), dtype=np.int64)
    cm_i, cm_j = np.nonzero(mask.T)  # column-major: (col, row) pairs
    cell_i, cell_j = cm_j.astype(np.int64), cm_i.astype(np.int64)
    nc = cell_i.size
    idx[cell_i, cell_j] = np.arange(nc)
    center = int(idx[big_r, big_r])
    a_i, a_j, b_i, b_j, diag = _grid_edges(mask, four_neighbors)
    ea, eb = idx[a_i, a_j], idx[b_i, b_j]
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    order = np.lexsort((lo, hi))
    ea, eb, diag = lo[order], hi[order], diag[order]
    # neighbour lists for the component search
    both_a = np.concatenate([ea, eb])
    both_b = np.concatenate([eb, ea])
    o = np.argsort(both_a, kind="stable")
    nbr_cell = both_b[o].astype(np.int64)
    nbr_ptr = np.concatenate([[0], np.cumsum(np.bincount(both_a, minlength=nc))]).astype(np.int64)
    # unknowns: every cell but the centre, nested-dissection order
    others = np.flatnonzero(np.arange(nc) != center)
    coords = np.column_stack([cell_i[others], cell_j[others]])
    perm = others[nested_dissection_order(coords)]
    pos = -np.ones(nc, dtype=np.int64)
    pos[perm] = np.arange(perm.size)
    n = perm.size
    # upper-triangular pattern (CSC): diagonal plus one entry per edge between unknowns
    inner = (ea != center) & (eb != center)
    pa, pb = pos[ea[inner]], pos[eb[inner]]
    rows = np.concatenate([np.arange(n), np.minimum(pa, pb)])
    cols = np.concatenate([np.arange(n), np.maximum(pa, pb)])
    key = cols * n + rows
    o = np.argsort(key)
    rows_s, cols_s = rows[o], cols[o]
    ap = np.concatenate([[0], np.cumsum(np.bincount(cols_s, minlength=n))]).astype(np.int64)
    ai = rows_s.astype(np.int64)
    where = np.empty(o.size, dtype=np.int64)
    where[o] = np.arange(o.size)
    cell_dx = -np.ones(nc, dtype=np.int64)
    cell_dx[perm] = where[:n]
    e_ax = -np.ones(ea.size, dtype=np.int64)
    e_ax[np.flatnonzero(inner)] = where[n:]
    lp, li, rowptr, rl_i, rl_q = K.ldl_symbolic(n, ap, ai)
    return CirclePattern(big_r, cell_i, cell_j, center, pos, nbr_ptr, nbr_cell,
                         ea.astype(np.int64), eb.astype(np.int64), diag.astype(np.bool_),
                         e_ax, cell_dx, ap, ai, lp, li, rowptr, rl_i, rl_q)


def window_currents(conductance, sources, ground, *, four_neighbors=False, method="direct"):
    """Circuitscape advanced-mode node currents of one window (reference path, scipy).

    Parameters
    ----------
    conductance : numpy.ndarray
        Window conductances (siemens; <= 0 or NaN: no node).
    sources : numpy.ndarray
        Injected currents per cell (amperes), same shape.
    ground : tuple of int
        Cell held at 0 V (direct ground).
    four_neighbors : bool, optional
        Connect orthogonal neighbours only.
    method : {"direct", "amg"}
        Sparse LU with nested dissection, or AMG-preconditioned CG (pyamg).

    Returns
    -------
    numpy.ndarray
        Node current per cell (amperes), 0 off the graph.

    Notes
    -----
    Only the connected component holding the ground is solved (the others carry no
    current); a source on the ground cell is dropped (Circuitscape's ``rmvsrc``). This is
    what ``Circuitscape.compute_omniscape_current`` computes.
    """
    g = np.where(np.isfinite(conductance) & (conductance > 0), conductance, 0.0)
    out = np.zeros(g.shape)
    if g[ground] <= 0:
        return out
    nm = build_node_map(g)
    adj = build_adjacency(g, nm, four_neighbors=four_neighbors)
    gnode = nm[ground] - 1
    comp = next(c for c in components(adj) if np.any(c == gnode))
    sub = principal_submatrix(adj, comp).tocsr()
    src = np.asarray(sources, dtype=np.float64)
    node_src = np.zeros(nm.max())
    ii, jj = np.nonzero(nm)
    np.add.at(node_src, nm[ii, jj] - 1, src[ii, jj])
    b = node_src[comp]
    local_g = int(np.flatnonzero(comp == gnode)[0])
    b[local_g] = 0.0
    if not np.any(b):
        return out
    coords = node_coordinates(nm)[comp]
    solver = GroundedSolver(laplacian(sub), local_g, method=method, coords=coords,
                            tol=1e-12)
    v = solver.solve(b)
    cur = np.zeros(nm.max())
    cur[comp] = node_currents(sub, v)
    out[ii, jj] = cur[nm[ii, jj] - 1]
    return out


def correction_array(radius, buffer, block_size, nrows, ncols, *, four_neighbors=False):
    """Block-artifact correction of Omniscape (``calc_correction``), frame-shaped.

    Returns
    -------
    numpy.ndarray, shape (2R+1, 2R+1)
        ``C = I_1 / I_b`` where ``I_b`` is the current on a uniform circle of radius
        ``R = radius + buffer`` with the target's block of ``block_size^2`` amperes injected
        (sources outside the block, inside ``radius``), and ``I_1`` the sum of the
        ``block_size^2`` shifts of the current with one ampere spread over all cells but the
        target (the current block_size 1 would give); cells where either is 0 get 1.
    """
    big_r = radius + buffer
    s = 2 * big_r + 1
    br = (block_size - 1) // 2
    ii, jj = np.mgrid[0:s, 0:s]
    d2 = (ii - big_r) ** 2 + (jj - big_r) ** 2
    in_r = d2 <= radius * radius
    cond = (d2 <= big_r * big_r).astype(np.float64)
    src_null = np.where(in_r, 1.0, 0.0)
    n_sources = src_null.sum()
    src_null[big_r, big_r] = 0.0
    src_null[src_null != 0] = 1.0 / (n_sources - 1)
    src_block = np.where(in_r, 1.0, 0.0)
    src_block[big_r - br:min(big_r + br, nrows - 1) + 1,
              big_r - br:min(big_r + br, ncols - 1) + 1] = 0.0
    total = src_block.sum()
    if total > 0:
        src_block = src_block * float(block_size * block_size) / total
    blocked = window_currents(cond, src_block, (big_r, big_r), four_neighbors=four_neighbors)
    null = window_currents(cond, src_null, (big_r, big_r), four_neighbors=four_neighbors)
    padded = np.pad(null, br)
    shifted = np.zeros_like(null)
    for di in range(-br, br + 1):
        for dj in range(-br, br + 1):
            shifted += padded[br + di:br + di + s, br + dj:br + dj + s]
    shifted[blocked == 0] = 0.0
    shifted[shifted == 0] = 1.0
    blocked[blocked == 0] = 1.0
    return shifted / blocked


def correction_shift(y, nrows, big_r):
    """Offset between Omniscape's crop of the correction array and the window (one axis).

    Omniscape crops the correction to the clipped window from the far side when the window
    is clipped at the near edge and from the near side otherwise; when a window is clipped
    at both edges this misaligns it by the near-edge clip, which is reproduced.
    """
    s = 2 * big_r + 1
    size = min(y + big_r, nrows - 1) - max(y - big_r, 0) + 1
    upper = s
    lower = 0
    if y + 1 > nrows - big_r:
        upper = size
    if y + 1 < big_r + 1:
        lower = upper - size
    off = max(0, big_r - y)
    return lower - off


def rect_graph(h, w, four_neighbors=False):
    """Uniform conductance-1 graph of an ``h x w`` window: edges (column-major ends), weights."""
    mask = np.ones((h, w), dtype=bool)
    a_i, a_j, b_i, b_j, diag = _grid_edges(mask, four_neighbors)
    ea = a_j * h + a_i
    eb = b_j * h + b_i
    wts = np.where(diag, 1.0 / np.sqrt(2.0), 1.0)
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    adj = sp.coo_matrix((np.concatenate([wts, wts]), (np.concatenate([lo, hi]),
                         np.concatenate([hi, lo]))), shape=(h * w, h * w)).tocsr()
    return lo.astype(np.int64), hi.astype(np.int64), wts, adj
