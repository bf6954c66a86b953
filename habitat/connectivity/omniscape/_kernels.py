"""Numba kernels of the moving window: fixed-pattern batched LDL^T and window currents.

Every interior window of a moving-window run has the same graph shape (the circle of
radius ``radius + buffer`` around its target), only the conductances differ. The symbolic
work (elimination tree, pattern of ``L``, the up-looking schedule) is therefore done once;
each window refills values and factorizes numerically. Windows are processed in batches of
``B``: the batch is the innermost (contiguous) array axis, so every sparse operation of the
factorization and the solves runs as a short SIMD loop over ``B`` windows at once and the
index arithmetic is paid once per batch.

Cells of the circle that are not graph nodes in a given window (nodata, outside the raster,
or not connected to the target) get an identity row: they are decoupled, stay at 0 V and
carry no current, which gives exactly the solution of the smaller graph Circuitscape builds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_REL_ZERO = 1e-8  # Circuitscape drops branch flows below 1e-8 x the largest one
_INV_SQRT2 = 1.0 / np.sqrt(2.0)


@njit(cache=True, nogil=True)
def ldl_symbolic(n, ap, ai):
    """Pattern of ``L`` and the up-looking schedule of an ``n x n`` SPD pattern.

    Parameters
    ----------
    ap, ai : int64 arrays
        Upper triangle (rows ``i <= k`` of column ``k``) in compressed-column form.

    Returns
    -------
    lp, li : int64 arrays
        Columns of the strictly lower ``L`` (row indices ascending).
    rowptr, rl_i, rl_q : int64 arrays
        For row ``k``: the columns ``i`` of its nonzeros in topological order and the
        position ``q`` of entry ``(k, i)`` in ``li``.

    Notes
    -----
    The elimination-tree traversal of Davis's LDL package (ACM TOMS 2005), run once
    without values.
    """
    parent = np.full(n, -1, np.int64)
    flag = np.full(n, -1, np.int64)
    lnz = np.zeros(n, np.int64)
    for k in range(n):
        flag[k] = k
        for p in range(ap[k], ap[k + 1]):
            i = ai[p]
            if i < k:
                while flag[i] != k:
                    if parent[i] == -1:
                        parent[i] = k
                    lnz[i] += 1
                    flag[i] = k
                    i = parent[i]
    lp = np.zeros(n + 1, np.int64)
    for k in range(n):
        lp[k + 1] = lp[k] + lnz[k]
    nnz = lp[n]
    li = np.empty(nnz, np.int64)
    fill = np.zeros(n, np.int64)
    rowptr = np.zeros(n + 1, np.int64)
    rl_i = np.empty(nnz, np.int64)
    rl_q = np.empty(nnz, np.int64)
    pattern = np.empty(n, np.int64)
    flag[:] = -1
    cnt = 0
    for k in range(n):
        top = n
        flag[k] = k
        for p in range(ap[k], ap[k + 1]):
            i = ai[p]
            if i < k:
                ln = 0
                while flag[i] != k:
                    pattern[ln] = i
                    ln += 1
                    flag[i] = k
                    i = parent[i]
                while ln > 0:
                    top -= 1
                    ln -= 1
                    pattern[top] = pattern[ln]
        for t in range(top, n):
            i = pattern[t]
            q = lp[i] + fill[i]
            li[q] = k
            fill[i] += 1
            rl_i[cnt] = i
            rl_q[cnt] = q
            cnt += 1
        rowptr[k + 1] = cnt
    return lp, li, rowptr, rl_i, rl_q


@njit(cache=True, nogil=True, fastmath={"contract"})
def ldl_numeric(n, ap, ai, ax, lp, li, rowptr, rl_i, rl_q, lx, d, y):
    """Batched numeric ``A = L D L^T`` of ``B`` matrices sharing one pattern.

    ``ax`` is ``(nnz(A_upper), B)``; ``lx`` ``(nnz(L), B)``, ``d`` and the work array ``y``
    ``(n, B)`` (``y`` must be zero on entry and is zero on exit).
    """
    nb = ax.shape[1]
    yi = np.empty(nb)
    for k in range(n):
        for p in range(ap[k], ap[k + 1]):
            i = ai[p]
            for b in range(nb):
                y[i, b] += ax[p, b]
        for b in range(nb):
            d[k, b] = y[k, b]
            y[k, b] = 0.0
        for r in range(rowptr[k], rowptr[k + 1]):
            i = rl_i[r]
            q = rl_q[r]
            for b in range(nb):
                yi[b] = y[i, b]
                y[i, b] = 0.0
            for p in range(lp[i], q):
                j = li[p]
                for b in range(nb):
                    y[j, b] -= lx[p, b] * yi[b]
            for b in range(nb):
                lki = yi[b] / d[i, b]
                d[k, b] -= lki * yi[b]
                lx[q, b] = lki


@njit(cache=True, nogil=True, fastmath={"contract"})
def ldl_solve(n, lp, li, lx, d, x):
    """Solve ``L D L^T x = b`` in place for a batch (``x`` is ``(n, B)``)."""
    nb = x.shape[1]
    for j in range(n):
        for p in range(lp[j], lp[j + 1]):
            r = li[p]
            for b in range(nb):
                x[r, b] -= lx[p, b] * x[j, b]
    for j in range(n):
        for b in range(nb):
            x[j, b] /= d[j, b]
    for j in range(n - 1, -1, -1):
        for p in range(lp[j], lp[j + 1]):
            r = li[p]
            for b in range(nb):
                x[j, b] -= lx[p, b] * x[r, b]


@njit(cache=True, nogil=True, error_model="numpy")
def edge_node_currents(ea, eb, w, v, out):
    """Add Circuitscape node currents of one solve to ``out`` (per node).

    Edges ``ea[e] < eb[e]`` in Circuitscape's node order (column-major cells), conductance
    ``w[e]`` (edges with ``w = 0`` are absent), voltages ``v``. Node current is
    ``max(inflow, outflow)``; flows below 1e-8 of the largest signed flow are dropped,
    separately for the two directions, as in Circuitscape.jl.
    """
    m = ea.size
    maxpos = -np.inf
    maxneg = -np.inf
    for e in range(m):
        if w[e] > 0.0:
            f = w[e] * (v[ea[e]] - v[eb[e]])
            if f > maxpos:
                maxpos = f
            if -f > maxneg:
                maxneg = -f
    nn = v.size
    inflow = np.zeros(nn)
    outflow = np.zeros(nn)
    for e in range(m):
        if w[e] > 0.0:
            a = ea[e]
            b = eb[e]
            f = w[e] * (v[a] - v[b])
            if not (abs(f / maxpos) < _REL_ZERO):
                if f > 0.0:
                    inflow[b] += f
                elif f < 0.0:
                    inflow[a] -= f
            g = -f
            if not (abs(g / maxneg) < _REL_ZERO):
                if g > 0.0:
                    outflow[b] += g
                elif g < 0.0:
                    outflow[a] -= g
    for i in range(nn):
        out[i] += max(inflow[i], outflow[i])


@njit(cache=True, nogil=True)
def window_sources(src_p, y, x, amps, nrows, ncols, radius, buffer, block_radius,
                   cond_kind, cond_p, cond_value, cond_lower, cond_upper, out):
    """Source strengths of one window, in frame coordinates (Omniscape's ``get_source``).

    Parameters
    ----------
    src_p : 2-D float64
        Source strengths padded by ``R = radius + buffer`` cells of 0 on every side.
    y, x : int
        Target row and column in the raster (0-based).
    amps : float
        Target strength (sum of the sources of its block, amperes).
    cond_kind : int64 array (n_conditions,)
        0 = "within", 1 = "equal" per condition (empty: unconditional).
    cond_p : 3-D float64 (n_conditions, ...)
        Present-day condition values, padded like ``src_p`` (NaN = nodata).
    cond_value, cond_lower, cond_upper : float64 arrays
        Target value (median or mode of the future condition over the target block) and
        the bounds of each condition.
    out : 2-D float64 (2R+1, 2R+1)
        Overwritten with the window's source currents (amperes).

    Notes
    -----
    Sources inside ``radius`` of the target count; the block of the target is emptied at
    the frame offsets Omniscape uses (which lie off the target for windows clipped by the
    top or left raster edge; reproduced as is); the remaining sources are scaled to total
    ``amps``; conditional matching then drops sources without rescaling (as Omniscape).
    """
    big_r = radius + buffer
    s = 2 * big_r + 1
    off_y = max(0, big_r - y)
    off_x = max(0, big_r - x)
    h = min(y + big_r, nrows - 1) - max(y - big_r, 0) + 1
    w = min(x + big_r, ncols - 1) - max(x - big_r, 0) + 1
    r2 = radius * radius
    out[:, :] = 0.0
    for fi in range(s):
        di = fi - big_r
        if di * di > r2:
            continue
        for fj in range(s):
            dj = fj - big_r
            if di * di + dj * dj <= r2:
                out[fi, fj] = src_p[y + fi, x + fj]
    # Omniscape zeroes the target block at sub-array offsets fixed for an unclipped window
    r0 = big_r - block_radius
    r1 = min(big_r + block_radius, nrows - 1)
    c0 = big_r - block_radius
    c1 = min(big_r + block_radius, ncols - 1)
    for i in range(max(r0, 0), min(r1, h - 1) + 1):
        for j in range(max(c0, 0), min(c1, w - 1) + 1):
            out[i + off_y, j + off_x] = 0.0
    total = 0.0
    for fi in range(s):
        for fj in range(s):
            if out[fi, fj] > 0.0:
                total += out[fi, fj]
    if total > 0.0:
        for fi in range(s):
            for fj in range(s):
                if out[fi, fj] > 0.0:
                    out[fi, fj] = out[fi, fj] * amps / total
    for c in range(cond_kind.size):
        v = cond_value[c]
        for fi in range(s):
            for fj in range(s):
                if out[fi, fj] == 0.0:
                    continue
                cv = cond_p[c, y + fi, x + fj]
                if np.isnan(cv):
                    continue  # missing conditions never exclude (Omniscape's coalesce)
                if cond_kind[c] == 0:
                    if cv - v > cond_upper[c] or cv - v < cond_lower[c]:
                        out[fi, fj] = 0.0
                elif cv != v:
                    out[fi, fj] = 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def solve_window_batch(cond_p, src_p, ty, tx, tamps, nrows, ncols, radius, buffer,
                       block_radius, cond_kind, cond_p_all, cond_values, cond_lower,
                       cond_upper, cell_i, cell_j, center, pos, nbr_ptr, nbr_cell,
                       ea, eb, ediag, e_ax, cell_dx, ap, ai, lp, li, rowptr, rl_i, rl_q,
                       corr, corr_dy, corr_dx, band, band_y0, n_solved):
    """Solve a batch of windows on the fixed circle pattern and add their currents to ``band``.

    ``band`` holds raster rows ``band_y0 ..`` (all columns); ``corr`` is the block-artifact
    correction in frame coordinates (ones when not correcting) with per-window shifts
    ``corr_dy, corr_dx`` (Omniscape's crop for edge windows). ``n_solved[0]`` counts the
    windows that carried current.
    """
    nb = ty.size
    big_r = radius + buffer
    s = 2 * big_r + 1
    nc = cell_i.size
    n = nc - 1
    m = ea.size
    nnz_a = ai.size
    ax = np.zeros((nnz_a, nb))
    rhs = np.zeros((n, nb))
    g = np.empty(nc)
    comp = np.zeros(nc, np.bool_)
    queue = np.empty(nc, np.int64)
    wts = np.zeros((m, nb))
    live = np.zeros(nb, np.bool_)
    src = np.empty((s, s))
    for b in range(nb):
        y = ty[b]
        x = tx[b]
        for c in range(nc):
            g[c] = cond_p[y + cell_i[c], x + cell_j[c]]
            comp[c] = False
        # component of the target (ground): Circuitscape solves only that one
        if g[center] > 0.0:
            comp[center] = True
            queue[0] = center
            head = 0
            tail = 1
            while head < tail:
                c = queue[head]
                head += 1
                for p in range(nbr_ptr[c], nbr_ptr[c + 1]):
                    q = nbr_cell[p]
                    if not comp[q] and g[q] > 0.0:
                        comp[q] = True
                        queue[tail] = q
                        tail += 1
        for e in range(m):
            a = ea[e]
            c2 = eb[e]
            if comp[a] and comp[c2]:
                wv = (g[a] + g[c2]) / 2.0
                if ediag[e]:
                    wv *= _INV_SQRT2
                wts[e, b] = wv
            else:
                wts[e, b] = 0.0
        for c in range(nc):
            if c != center:
                ax[cell_dx[c], b] = 0.0 if comp[c] else 1.0
        for e in range(m):
            wv = wts[e, b]
            k = e_ax[e]
            if k >= 0:
                ax[k, b] = -wv
            a = ea[e]
            c2 = eb[e]
            if a != center:
                ax[cell_dx[a], b] += wv
            if c2 != center:
                ax[cell_dx[c2], b] += wv
        window_sources(src_p, y, x, tamps[b], nrows, ncols, radius, buffer, block_radius,
                       cond_kind, cond_p_all, cond_values[b], cond_lower, cond_upper, src)
        tot = 0.0
        for c in range(nc):
            if c == center:
                continue
            sv = src[cell_i[c], cell_j[c]] if comp[c] else 0.0
            rhs[pos[c], b] = sv
            tot += sv
        live[b] = tot != 0.0
    lx = np.zeros((lp[n], nb))
    d = np.zeros((n, nb))
    work = np.zeros((n, nb))
    ldl_numeric(n, ap, ai, ax, lp, li, rowptr, rl_i, rl_q, lx, d, work)
    ldl_solve(n, lp, li, lx, d, rhs)
    v = np.zeros(nc)
    cur = np.zeros(nc)
    wcol = np.empty(m)
    for b in range(nb):
        if not live[b]:
            continue
        n_solved[0] += 1
        for c in range(nc):
            v[c] = 0.0 if c == center else rhs[pos[c], b]
            cur[c] = 0.0
        for e in range(m):
            wcol[e] = wts[e, b]
        edge_node_currents(ea, eb, wcol, v, cur)
        y = ty[b]
        x = tx[b]
        dy = corr_dy[b]
        dx = corr_dx[b]
        for c in range(nc):
            if cur[c] == 0.0:
                continue
            fi = cell_i[c]
            fj = cell_j[c]
            gy = y - big_r + fi
            gx = x - big_r + fj
            if gy < 0 or gy >= nrows or gx < 0 or gx >= ncols:
                continue
            band[gy - band_y0, gx] += cur[c] * corr[fi + dy, fj + dx]
