"""Aggregation multigrid on the raster grid itself: CG solves of grounded grid Laplacians.

A raster circuit graph whose nodes are single cells joined to their (4 or) 8 neighbours is a
9-point stencil on the grid. Aggregating 2 x 2 blocks of cells keeps it one: the Galerkin
coarse matrix ``P^T A P`` of the piecewise-constant prolongator ``P`` is again a 9-point
Laplacian (coarse edge weights = sums of the fine weights between two blocks, plus the
"leak" to the ground), so every level is four weight arrays on a grid, with no index
arrays, and the levels are built in one pass each. The cycle is Notay's K-cycle
(two flexible-CG steps on each coarser level, Notay & Vassilevski 2008, Numer. Linear
Algebra Appl. 15:473) with one lexicographic Gauss-Seidel sweep before and the reverse
sweep after the coarse correction, in float32 (the cycle only shapes the search directions),
inside a flexible CG in float64 on the fine level. A single solve runs on one core (a
version with row bands on two threads was slower on a loaded machine); several solves run
two at a time.

Effective resistances are quadratic in the solution error: for ``A x* = b`` and any ``x``
with residual ``r = b - A x``, ``(b + r)^T x = b^T x* - ||x - x*||_A^2``. CG stops when the
preconditioned residual ``r^T B r`` (an estimate of ``||x - x*||_A^2`` within the
condition number of ``B A``; measured within a factor 2 of the true error) is below ``tol``
times that value, so the relative error of a resistance is about ``tol`` (default 1e-10,
reached in 8 iterations on a 1000 x 1000 grid), far below the 1e-6 of Circuitscape's own CG.
Rounding limits very ill-conditioned graphs (a chain of 60,000 cells: 2e-9).
"""

from __future__ import annotations

import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency
    njit = None

try:
    from .graph import edge_conductance
except ImportError:  # pragma: no cover - without numba
    edge_conductance = None

#: Solve the coarsest level densely at or below this many active cells.
_COARSE_CELLS = 400
#: ... and refuse a hierarchy whose coarsest level (a thin strip cannot coarsen) is larger.
_COARSE_MAX = 3000
#: K-cycle: skip the second inner step when the first cut the residual norm below this share
#: (Notay's t = 0.25).
_KCYCLE_T = 0.25
_MAXITER = 300
#: Bytes a batch of :meth:`GridAMG.solve_many` holds per padded fine cell and right-hand side:
#: x, r, p, q in float64 (32), the cycle's output z in float32 (4), float32 work arrays of the
#: coarser levels (6 arrays on 1/4 + 1/16 + ... of the cells: 8).
BATCH_BYTES_PER_CELL = 44
#: Memory of one batch (bytes): 8 right-hand sides of a 1000 x 1000 grid (352 MB) ...
BATCH_BUDGET_BYTES = 384 * 2 ** 20
#: ... and at most this many right-hand sides in one batch: the lane loops run as 8-wide
#: vectors (10 lanes cost 0.24 CPU-s each on 1000 x 1000, 8 lanes 0.2, 16 lanes 0.18-0.22) ...
BATCH_MAX = 8
#: ... and fewer than this many (a remainder, or all when the budget allows no more) are solved
#: one at a time.
BATCH_MIN = 4


class NoConvergence(ArithmeticError):
    """CG reached its iteration limit (callers fall back to a direct factor)."""


def grid_stencil(adjacency, coords):
    """Four edge-weight arrays of a raster graph, or None when it is not a plain grid.

    Parameters
    ----------
    adjacency : scipy.sparse.csr_matrix
        Symmetric conductances of one component (siemens).
    coords : numpy.ndarray
        ``(n, 2)`` cell row/column per node (negative for multi-cell nodes).

    Returns
    -------
    tuple or None
        ``(w, cells)``: ``w`` of shape ``(4, rows + 2, cols + 2)`` holds the conductance
        from each cell to its east, south, south-east and south-west neighbour (a zero
        border of one cell around the bounding box of the nodes); ``cells`` the padded
        ``(row, col)`` of each node. None when a node spans several cells or an edge joins
        cells that are not 8-neighbours.
    """
    c = np.asarray(coords)
    if c.shape[0] == 0 or c.min() < 0:
        return None
    r0, c0 = int(c[:, 0].min()), int(c[:, 1].min())
    rows = int(c[:, 0].max()) - r0 + 1
    cols = int(c[:, 1].max()) - c0 + 1
    cr = (c[:, 0] - r0 + 1).astype(np.int64)
    cc = (c[:, 1] - c0 + 1).astype(np.int64)
    w = np.zeros((4, rows + 2, cols + 2))
    if not _stencil_fill(adjacency.indptr, adjacency.indices, adjacency.data, cr, cc, w):
        return None
    return w, np.stack([cr, cc], axis=1)


class GridAMG:
    """Grounded grid Laplacian with a 2 x 2 aggregation hierarchy (see module notes).

    Parameters
    ----------
    w : numpy.ndarray
        ``(4, rows + 2, cols + 2)`` edge conductances (siemens, >= 0) from :func:`grid_stencil`.
    ground : tuple of int
        Padded ``(row, col)`` of the node held at 0 V.
    overwrite : bool, optional
        Ground ``w`` in place instead of a copy (the caller is done with it).

    Notes
    -----
    The hierarchy is built in float64 and kept in float32 for the cycle (half the memory
    traffic; the cycle only shapes the search directions); the fine-level operator of the
    outer CG stays float64.
    """

    def __init__(self, w, ground, *, overwrite=False):
        if not overwrite:
            w = w.copy()
        leak = np.zeros(w.shape[1:])
        _ground(w, leak, int(ground[0]), int(ground[1]))
        self.levels = []
        while True:
            d = np.zeros_like(leak)
            w32 = np.empty(w.shape, dtype=np.float32)
            d32, dinv = np.zeros(d.shape, dtype=np.float32), np.zeros(d.shape, dtype=np.float32)
            active = int(_level_arrays(w, leak, d, w32, d32, dinv))
            if not self.levels:
                self.fine = (w, d)
            self.levels.append({"w": w32, "d": d32, "dinv": dinv})
            rows, cols = w.shape[1] - 2, w.shape[2] - 2
            # 2 x 2 blocks; 1 x 2 or 2 x 1 once a side is down to two cells
            fi, fj = (2 if rows > 2 else 1), (2 if cols > 2 else 1)
            if active <= _COARSE_CELLS or fi * fj == 1:
                break
            self.levels[-1]["f"] = (fi, fj)
            shape = (4, (rows + fi - 1) // fi + 2, (cols + fj - 1) // fj + 2)
            wc = np.zeros(shape)
            leakc = np.zeros(shape[1:])
            _coarsen(w, leak, wc, leakc, fi, fj)
            w, leak = wc, leakc
        self._coarse_idx = np.flatnonzero(d)
        if self._coarse_idx.size > _COARSE_MAX:
            raise NoConvergence(f"coarsest grid level has {self._coarse_idx.size} cells")
        self._coarse_inv = _dense_inverse(w, d, self._coarse_idx).astype(np.float32)
        self._work = self._new_work()
        self._batch_work = (0, None)

    def _new_work(self):
        # per level, the work arrays of its K-cycle steps
        return [{k: np.zeros(lv["d"].shape, dtype=np.float32)
                 for k in ("c", "dd", "v", "ww", "r2", "rhs")} for lv in self.levels]

    def worker(self):
        """A solver sharing this hierarchy with its own work arrays (one per thread)."""
        other = copy.copy(self)
        other._work = self._new_work()
        other._batch_work = (0, None)
        return other

    def precondition(self, level, r, out):
        """One cycle on ``A_level x = r`` from ``x = 0``, written to ``out`` (float32).

        ``r`` and ``out`` are ``(rows, cols)``, or ``(rows, cols, nb)`` for ``nb`` right-hand
        sides at once (the batched kernels, see :meth:`solve_many`).
        """
        many = r.ndim == 3
        if level == len(self.levels) - 1:
            out[...] = 0.0
            # a compiled product, not BLAS: numpy's sgemv wakes OpenBLAS's threads, which
            # then spin on the other core (about 0.1 CPU-s of a 1000 x 1000 solve)
            if many:
                nb = out.shape[-1]
                _coarse_solve_many(self._coarse_inv, self._coarse_idx, r.reshape(-1, nb),
                                   out.reshape(-1, nb))
            else:
                _coarse_solve(self._coarse_inv, self._coarse_idx, r.reshape(-1), out.reshape(-1))
            return out
        lv = self.levels[level]
        w, d, dinv = lv["w"], lv["d"], lv["dinv"]
        fi, fj = lv["f"]
        if many:
            out[...] = 0.0
            _gs_many(w, dinv, out, r, False)
            rc = self._work_many(out.shape[-1])[level + 1]["rhs"]
            rc[...] = 0.0
            _residual_restrict_many(w, d, out, r, rc, fi, fj)
            _prolong_add_many(self._kcycle_many(level + 1, rc), out, d, fi, fj)
            _gs_many(w, dinv, out, r, True)
            return out
        # the forward sweep from x = 0 writes every cell and the restriction every coarse cell:
        # no clearing of out and rc first (their one-cell borders are never written)
        _gs_forward(w, dinv, out, r)
        rc = self._work[level + 1]["rhs"]
        _residual_restrict(w, d, out, r, rc, fi, fj)
        _prolong_add(self._kcycle(level + 1, rc), out, d, fi, fj)
        _gs_backward(w, dinv, out, r)
        return out

    def _kcycle(self, level, r):
        lv, wk = self.levels[level], self._work[level]
        c = wk["c"]
        if level == len(self.levels) - 1:
            return self.precondition(level, r, c)
        w, d = lv["w"], lv["d"]
        self.precondition(level, r, c)
        v = wk["v"]
        rho1, a1, _ = _matvec_dots(w, d, c, r, r, v)
        if rho1 <= 0.0:
            return c
        s1 = a1 / rho1
        r2 = wk["r2"]
        nr2, nr = _axpy_norms(r, -s1, v, r2)
        if nr2 <= _KCYCLE_T ** 2 * nr:
            _lincomb(c, s1, c, 0.0)
            return c
        dd = self.precondition(level, r2, wk["dd"])
        beta, a2, gamma = _matvec_dots(w, d, dd, r2, v, wk["ww"])
        rho2 = beta - gamma * gamma / rho1
        if rho2 <= 0.0:
            _lincomb(c, s1, c, 0.0)
            return c
        _lincomb(c, s1 - gamma * a2 / (rho1 * rho2), dd, a2 / rho2)
        return c

    def solve(self, b, *, tol=1e-10):
        """Flexible CG on the fine level for ``A x = b``.

        Parameters
        ----------
        b : numpy.ndarray of float64
            Injected currents (amperes) on the padded grid, ``(rows + 2, cols + 2)``; 0 at the
            ground and off the nodes.
        tol : float, optional
            Stop when ``r^T B r <= tol * (b + r)^T x`` (see module notes); unitless, in (0, 1).

        Returns
        -------
        x, r : numpy.ndarray of float64
            Voltages (volts, 0 at the ground) and the residual ``r = b - A x`` (amperes).

        Raises
        ------
        NoConvergence
            Not converged in 300 iterations (callers fall back to a direct factor).
        """
        w, d = self.fine
        x = np.zeros_like(b)
        r = b.copy()
        if not np.any(b):
            return x, r
        z = np.zeros(b.shape, dtype=np.float32)
        p = self.precondition(0, r, z).astype(np.float64)
        q = np.empty_like(b)
        for _ in range(_MAXITER):
            pq, pr, _ = _matvec_dots(w, d, p, r, r, q)
            if pq <= 0.0:
                break
            value = _cg_update(x, r, p, q, pr / pq, b)
            self.precondition(0, r, z)
            err, zq = _dots(z, r, q)
            if err <= tol * abs(value):
                return x, r
            _lincomb(p, -zq / pq, z, 1.0)
        raise NoConvergence(f"grid multigrid CG did not converge in {_MAXITER} iterations")

    # -- several right-hand sides at once -------------------------------------------------
    # Every vector of a batch is ``(rows + 2, cols + 2, nb)``: the right-hand sides are the
    # contiguous innermost axis, so each kernel loads a cell's weights once for all of them
    # and runs the same arithmetic on ``nb`` lanes (SIMD). Lexicographic Gauss-Seidel is a
    # serial chain within one right-hand side (one cell waits for the previous cell's update:
    # about 25 cycles a cell here) but independent across them, so a batch turns the chain
    # into vector work. Each lane performs the operations of :meth:`solve` in the same order
    # (K-cycle branches and CG scalars per lane), except the stopping value ``(b + r)^T x``,
    # summed as ``r^T x + b^T x`` over b's few nonzeros: a lane's voltages equal those of
    # :meth:`solve` to the bit while both take the same iterations (the tests), and a lane
    # may stop one iteration apart when the value is within rounding of the tolerance. Each
    # lane leaves the batch when it meets its own stopping test.

    def _work_many(self, nb):
        # work arrays of the coarser levels for nb lanes (level 0 needs none of its own)
        have, work = self._batch_work
        if have != nb:
            work = [None] + [{k: np.zeros(lv["d"].shape + (nb,), dtype=np.float32)
                              for k in ("c", "dd", "v", "ww", "r2", "rhs")}
                             for lv in self.levels[1:]]
            self._batch_work = (nb, work)
        return work

    def _kcycle_many(self, level, r):
        lv, wk = self.levels[level], self._work_many(r.shape[-1])[level]
        c = wk["c"]
        if level == len(self.levels) - 1:
            return self.precondition(level, r, c)
        w, d = lv["w"], lv["d"]
        self.precondition(level, r, c)
        v = wk["v"]
        rho1, a1, _ = _matvec_dots_many(w, d, c, r, r, v)
        pos = rho1 > 0.0
        # lanes with rho1 <= 0 keep c (coefficients 1, 0) and step by 0 so r2 stays finite
        s1 = np.divide(a1, rho1, out=np.zeros_like(a1), where=pos)
        r2 = wk["r2"]
        nr2, nr = _axpy_norms_many(r, -s1, v, r2)
        ca = np.where(pos, s1, 1.0)
        cb = np.zeros_like(ca)
        second = pos & ~(nr2 <= _KCYCLE_T ** 2 * nr)
        other = c
        if second.any():
            other = self.precondition(level, r2, wk["dd"])
            beta, a2, gamma = _matvec_dots_many(w, d, other, r2, v, wk["ww"])
            safe = np.where(second, rho1, 1.0)
            rho2 = beta - gamma * gamma / safe
            ok = second & (rho2 > 0.0)
            rho2 = np.where(ok, rho2, 1.0)
            ca = np.where(ok, s1 - gamma * a2 / (safe * rho2), ca)
            cb = np.where(ok, a2 / rho2, 0.0)
        _lincomb_many(c, ca, other, cb)
        return c

    def batch_size(self, *, budget_bytes=None):
        """Right-hand sides per batch of :meth:`solve_many` within ``budget_bytes``.

        A batch holds ``BATCH_BYTES_PER_CELL`` bytes per padded fine cell and right-hand
        side (float64 x, r, p, q; float32 cycle output; float32 work of the coarser
        levels); the default budget is ``BATCH_BUDGET_BYTES``. At least 1, at most
        ``BATCH_MAX``.
        """
        budget = BATCH_BUDGET_BYTES if budget_bytes is None else budget_bytes
        per = BATCH_BYTES_PER_CELL * self.fine[1].size
        return int(max(1, min(BATCH_MAX, budget // per)))

    def solve_many(self, bs, *, tol=1e-10, out=None, batch=None):
        """:meth:`solve` for several right-hand sides, a batch of them at a time.

        Parameters
        ----------
        bs : sequence of numpy.ndarray
            ``k`` right-hand sides as for :meth:`solve` (a ``(k, rows + 2, cols + 2)`` array,
            or any sequence whose items are read once each, so a caller can build them lazily).
        tol : float, optional
            As for :meth:`solve`, applied to each right-hand side on its own.
        out : tuple of two sequences of numpy.ndarray, optional
            ``(xs, rs)``: ``k`` float64 arrays each to receive the voltages and residuals.
        batch : int, optional
            Right-hand sides solved together (default :meth:`batch_size`); ``k`` is split
            into batches of that many (the last one smaller).

        Returns
        -------
        xs, rs
            The voltages and residuals of each right-hand side (``out`` when given, else
            ``(k, rows + 2, cols + 2)`` float64 arrays), equal to what :meth:`solve`
            returns to rounding.

        Raises
        ------
        NoConvergence
            A right-hand side not converged in 300 iterations.
        """
        k = len(bs)
        shape = self.fine[1].shape
        if out is None:
            out = (np.empty((k,) + shape), np.empty((k,) + shape))
        xs, rs = out
        size = self.batch_size() if batch is None else max(1, int(batch))
        start = 0
        while start < k:
            stop = min(k, start + size)
            if stop - start >= BATCH_MIN:
                self._solve_batch(bs, range(start, stop), xs, rs, tol)
            else:
                # a few lanes cost about what single solves cost (measured: 4 lanes 0.32
                # CPU-s each, one solve 0.35, 8 lanes 0.2 on 1000 x 1000)
                for i in range(start, stop):
                    xs[i][...], rs[i][...] = self.solve(np.asarray(bs[i], dtype=np.float64),
                                                        tol=tol)
            start = stop
        return xs, rs

    def _solve_batch(self, bs, which, xs, rs, tol):
        w, d = self.fine
        lanes, nz, vals = [], [], []
        for i in which:
            b = np.asarray(bs[i], dtype=np.float64)
            idx = np.flatnonzero(b)
            if idx.size == 0:
                xs[i][...] = 0.0
                rs[i][...] = 0.0
                continue
            lanes.append(i)
            nz.append(idx)
            vals.append(b.reshape(-1)[idx])
        if not lanes:
            return
        nb = len(lanes)
        r = np.zeros(d.shape + (nb,))
        flat_r = r.reshape(-1, nb)
        for lane in range(nb):
            flat_r[nz[lane], lane] = vals[lane]
        x = np.zeros_like(r)
        z = np.zeros(r.shape, dtype=np.float32)
        p = self.precondition(0, r, z).astype(np.float64)
        q = np.empty_like(r)
        active = np.ones(nb, dtype=bool)
        for _ in range(_MAXITER):
            pq, pr, _ = _matvec_dots_many(w, d, p, r, r, q)
            if np.any(pq[active] <= 0.0):
                break
            # a lane that has met its test stays in the batch with step 0 (x, r unchanged to
            # the bit): copying the others into narrower arrays cost more (fresh pages) than
            # the one or two extra cycles of a lane that converged early
            alpha = np.where(active, pr / np.where(active, pq, 1.0), 0.0)
            value = _cg_update_many(x, r, p, q, alpha)
            # (b + r)^T x as in solve, with b's few nonzeros gathered instead of streamed
            flat_x = x.reshape(-1, nb)
            value += np.array([vals[a] @ flat_x[nz[a], a] for a in range(nb)])
            self.precondition(0, r, z)
            err, zq = _dots_many(z, r, q)
            done = active & (err <= tol * np.abs(value))
            for a in np.flatnonzero(done):
                xs[lanes[a]][...] = x[..., a]
                rs[lanes[a]][...] = r[..., a]
            active &= ~done
            if not active.any():
                return
            _lincomb_many(p, np.where(active, -zq / np.where(active, pq, 1.0), 1.0), z,
                          active.astype(np.float64))
        raise NoConvergence(f"grid multigrid CG did not converge in {_MAXITER} iterations")


def grid_inverse_block(adjacency, coords, ground, nodes, *, tol=1e-10, keep=None,
                       batch_budget_bytes=None):
    """``(A^-1)[nodes][:, nodes]`` of the Laplacian grounded at ``ground`` by grid multigrid.

    Parameters
    ----------
    adjacency : scipy.sparse.csr_matrix
        Conductances of one connected raster component.
    coords : numpy.ndarray
        ``(n, 2)`` cell row/column per node.
    ground : int
        Node held at 0 V (index into ``adjacency``, 0 <= ground < n).
    nodes : numpy.ndarray of int
        Distinct nodes other than ``ground``.
    tol : float, optional
        Relative accuracy of the entries (see module notes), unitless, in (0, 1); a tolerance
        that rounding does not let CG reach in 300 iterations returns None (callers then factor).
    keep, batch_budget_bytes : optional
        As for :func:`stencil_inverse_block` (entries of two points not kept are NaN).

    Returns
    -------
    numpy.ndarray or None
        ``k x k`` block (ohm); None when the graph is not a plain grid.

    Notes
    -----
    See :func:`stencil_inverse_block`.
    """
    st = grid_stencil(adjacency, coords) if njit is not None else None
    if st is None:
        return None
    w, cells = st
    nodes = np.asarray(nodes, dtype=np.int64)
    return stencil_inverse_block(w, cells[ground], cells[nodes], tol=tol, keep=keep,
                                 batch_budget_bytes=batch_budget_bytes)


def raster_component(conductance, seed, *, four_neighbors=False):
    """The connected component of cell ``seed`` in a raster's circuit graph.

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D cell conductances (siemens); cells > 0 are nodes, joined to their 8 (or 4)
        neighbours that are nodes, as :func:`habitat.connectivity.circuit.graph.build_adjacency`
        joins them.
    seed : tuple of int
        ``(row, col)`` of a node cell.
    four_neighbors : bool, optional
        Orthogonal neighbours only.

    Returns
    -------
    mask : numpy.ndarray of bool
        The cells of the component.
    n_nodes, n_entries : int
        Its nodes and the stored off-diagonal entries of its adjacency (twice its edges).
    box : tuple of int
        ``(row0, row1, col0, col1)``, inclusive bounds of its cells.
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    mask = np.zeros(g.shape, dtype=np.bool_)
    n, entries, r0, r1, c0, c1 = _flood(g, bool(four_neighbors), int(seed[0]), int(seed[1]), mask)
    return mask, int(n), int(entries), (int(r0), int(r1), int(c0), int(c1))


def raster_inverse_block(conductance, mask, box, ground, cells, *, four_neighbors=False,
                         avg_resistance=False, tol=1e-10, keep=None, batch_budget_bytes=None):
    """:func:`grid_inverse_block` of one raster component, built from the cells themselves.

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D cell conductances (siemens).
    mask, box
        The component, from :func:`raster_component`.
    ground : tuple of int
        ``(row, col)`` of the cell held at 0 V.
    cells : numpy.ndarray of int
        ``(k, 2)`` distinct cells other than ``ground``, all in the component.
    four_neighbors, avg_resistance : bool, optional
        As for :func:`habitat.connectivity.circuit.graph.build_adjacency`.
    tol, keep, batch_budget_bytes : optional
        As for :func:`grid_inverse_block`.

    Returns
    -------
    numpy.ndarray or None
        ``k x k`` block (ohm), equal to :func:`grid_inverse_block` on the component's
        adjacency to the last bit (the same edge weights on the same padded bounding box),
        without the adjacency matrix, node coordinates and component labels (about 0.2
        CPU-s and 150 MB of a 1000 x 1000 grid); None where CG does not converge.
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    r0, r1, c0, c1 = box
    w = np.zeros((4, r1 - r0 + 3, c1 - c0 + 3))
    _raster_stencil_fill(g, mask, r0, c0, bool(four_neighbors), bool(avg_resistance), w)
    shift = np.array([r0 - 1, c0 - 1])
    return stencil_inverse_block(w, np.asarray(ground) - shift,
                                 np.asarray(cells, dtype=np.int64).reshape(-1, 2) - shift, tol=tol,
                                 keep=keep, batch_budget_bytes=batch_budget_bytes)


def stencil_inverse_block(w, ground, cells, *, tol=1e-10, keep=None, solutions=False,
                          batch_budget_bytes=None):
    """``(A^-1)[cells][:, cells]`` of the grid Laplacian of ``w`` grounded at ``ground``.

    Parameters
    ----------
    w : numpy.ndarray
        ``(4, rows + 2, cols + 2)`` edge conductances of one connected component (see
        :func:`grid_stencil`); grounded in place.
    ground : tuple of int
        Padded ``(row, col)`` of the cell held at 0 V.
    cells : numpy.ndarray of int
        ``(k, 2)`` padded cells other than ``ground``, distinct.
    tol : float, optional
        As for :func:`grid_inverse_block`.
    keep : numpy.ndarray of bool, optional
        ``(k,)``: the points whose solutions are held for the whole call (default: all). Entry
        ``(p, q)`` is computed when ``p == q`` or ``p`` or ``q`` is kept, NaN otherwise. Each
        point not kept is solved after the kept ones, its entries with them and its diagonal
        taken, and its vectors dropped: memory holds 16 bytes a node per kept point (``x`` and
        ``r`` in float64) instead of per point (see :func:`stream_keep`).
    solutions : bool, optional
        Also return the kept points' voltages ``x`` (for current maps).
    batch_budget_bytes : int, optional
        Bytes per thread for right-hand sides solved together (see :func:`_solve_each`): a
        batch holds ``BATCH_BYTES_PER_CELL`` bytes a cell per right-hand side, so a fixed
        budget keeps the memory flat; 0 solves one at a time (memory first).

    Returns
    -------
    numpy.ndarray or None
        ``k x k`` block (ohm); None when CG does not converge or the coarsest level is not SPD.
        With ``solutions``, ``(block, xs)``: ``xs[i]`` the voltages (volts, flat padded grid)
        for 1 A into the ``i``-th kept point (``(None, None)`` where the block is None).

    Notes
    -----
    One CG solve ``A x_p = e_p`` per cell; each entry uses the symmetric estimate
    ``G_pq = (x_q[p] + x_p[q] + x_p^T r_q + x_q^T r_p) / 2``, whose error is
    ``||x_p - x_p*||_A ||x_q - x_q*||_A`` at most (quadratic in the solve errors). An entry
    is the same number (same operands, same order of sums) whether its points are kept or
    streamed, so ``keep`` changes memory, not results.
    """
    failed = (None, None) if solutions else None
    shape = w.shape[1:]
    try:
        amg = GridAMG(w, ground, overwrite=True)
    except ArithmeticError:  # NoConvergence, or a coarsest level that is not SPD
        return failed
    del w
    cells = np.asarray(cells, dtype=np.int64)
    k = cells.shape[0]
    keep = np.ones(k, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    kept, streamed = np.flatnonzero(keep), np.flatnonzero(~keep)
    at = np.ravel_multi_index((cells[:, 0], cells[:, 1]), shape)
    # the kept solutions as (1, n) rows of the arrays the solves return (no copies into fresh
    # memory: 16 MB of page faults a 1000 x 1000 point); with ``solutions`` the voltages go
    # into one array for the caller
    xs_all = np.empty((kept.size, int(np.prod(shape)))) if solutions else None
    xs, rs = [None] * kept.size, [None] * kept.size

    def hold(i, x, r):
        if xs_all is not None:
            xs_all[i] = x.reshape(-1)
            x = xs_all[i]
        xs[i], rs[i] = x.reshape(1, -1), r.reshape(1, -1)

    out = np.full((k, k), np.nan)
    try:
        _solve_each(amg, shape, cells[kept], tol, hold, batch_budget_bytes)
        m = np.array([x[0, at[kept]] for x in xs]).reshape(kept.size, kept.size)  # x_p at node q
        c = np.empty((kept.size, kept.size))  # c[p, q] = x_p . r_q (compiled: no BLAS threads)
        for p in range(kept.size):
            for q in range(kept.size):
                c[p, q] = _dot(xs[p], rs[q])
        out[np.ix_(kept, kept)] = _symmetric_estimate(m, m.T, c, c.T)
        del m, c
        # x of every kept point at every streamed node
        x_at_s = np.array([x[0, at[streamed]] for x in xs]).reshape(kept.size, streamed.size)

        def take(i, x, r):
            # entries of streamed point s with the kept points and itself, then x, r dropped
            s = streamed[i]
            x, r = x.reshape(1, -1), r.reshape(1, -1)
            c_sk, c_ks = np.empty(kept.size), np.empty(kept.size)
            for j in range(kept.size):  # one row by one: the sums of the kept block's entries
                c_sk[j], c_ks[j] = _dot(x, rs[j]), _dot(xs[j], r)  # x_s . r_q, x_q . r_s
            c_ss = _dot(x, r)
            m_sk, m_ks = x[0, at[kept]], x_at_s[:, i]
            out[s, kept] = _symmetric_estimate(m_sk, m_ks, c_sk, c_ks)
            out[kept, s] = _symmetric_estimate(m_ks, m_sk, c_ks, c_sk)
            m_ss = x[0, at[s]]
            out[s, s] = _symmetric_estimate(m_ss, m_ss, c_ss, c_ss)

        _solve_each(amg, shape, cells[streamed], tol, take, batch_budget_bytes)
    except NoConvergence:
        return failed
    if solutions:
        del rs
        return out, xs_all
    return out


def _dot(x, r):
    """``x . r`` of two ``(1, n)`` rows by :func:`_row_dot` (one sum in index order)."""
    return _row_dot(x.reshape(-1), r.reshape(-1))


def _symmetric_estimate(m_pq, m_qp, c_pq, c_qp):
    """``G_pq`` of :func:`stencil_inverse_block` from ``x_p[q]``, ``x_q[p]``, ``x_p . r_q`` and
    ``x_q . r_p``, summed in one fixed order (kept and streamed entries are the same numbers)."""
    return 0.5 * (((m_pq + m_qp) + c_pq) + c_qp)


def _solve_each(amg, shape, cells, tol, consume, batch_budget_bytes=None):
    """``consume(i, x, r)`` for the solve ``A x = e_i`` of each cell ``cells[i]`` (padded grid).

    Two threads when there are two cores (the kernels release the GIL), each solving batches
    of :meth:`GridAMG.solve_many` of at most :meth:`GridAMG.batch_size` right-hand sides for
    ``batch_budget_bytes`` (per thread; default ``BATCH_BUDGET_BYTES``; 0 solves one at a
    time). The halves and batches are the same on one core, so the answers do not depend on
    the machine. ``consume`` runs one call at a time (a lock), and a
    batch's vectors are released once its lanes are consumed.
    """
    k = len(cells)
    lock = threading.Lock()
    batch = amg.batch_size(budget_bytes=batch_budget_bytes)

    def run(solver, which):
        which = list(which)
        for start in range(0, len(which), batch):
            part = which[start:start + batch]
            units = _UnitCurrents(shape, cells[part])
            if len(part) < BATCH_MIN:
                # one at a time, as solve_many would, but each solve's x and r go straight to
                # consume (no batch arrays to copy them into)
                solved = (solver.solve(units[j], tol=tol) for j in range(len(part)))
            else:
                solved = zip(*solver.solve_many(units, tol=tol, batch=batch))
            for i, (x, r) in zip(part, solved):
                with lock:
                    consume(i, x, r)
            del solved

    # the points are split into the same two halves and batches whatever the cores: a lane of
    # a batch may stop one CG iteration apart from a solve alone (its stopping value is summed
    # in another order), so the split must not depend on the machine
    halves = [range(0, k, 2), range(1, k, 2)]
    if k >= 2 and (os.cpu_count() or 1) >= 2:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run, [amg, amg.worker()], halves))
    else:
        for half in halves:
            run(amg, half)


def stream_keep(k, needed):
    """Points whose solutions :func:`stencil_inverse_block` keeps so that every needed pair has one.

    Parameters
    ----------
    k : int
        Number of points.
    needed : iterable of tuple of int
        Pairs ``(p, q)``, ``p != q``, whose entry is needed (diagonals always are).

    Returns
    -------
    numpy.ndarray of bool
        A vertex cover of the needed pairs, greedy: the point with most uncovered pairs first
        (ties: the lower index). For the sites stage's candidates x sources it is the sources.
    """
    partners = [set() for _ in range(k)]
    for p, q in needed:
        if p != q:
            partners[p].add(q)
            partners[q].add(p)
    keep = np.zeros(k, dtype=bool)
    while True:
        degree = [len(s) for s in partners]
        best = int(np.argmax(degree)) if k else 0
        if not k or degree[best] == 0:
            return keep
        keep[best] = True
        for q in partners[best]:
            partners[q].discard(best)
        partners[best] = set()


class _UnitCurrents:
    """The right-hand sides ``e_p`` (1 A into cell ``p``), built when read (solve_many)."""

    def __init__(self, shape, cells):
        self.shape, self.cells = shape, cells

    def __len__(self):
        return len(self.cells)

    def __getitem__(self, i):
        b = np.zeros(self.shape)
        b[self.cells[i][0], self.cells[i][1]] = 1.0
        return b


def _ground(w, leak, gi, gj):
    """Ground cell ``(gi, gj)``: its edges become leaks of its neighbours, then it leaves the grid.

    Sixteen scalar operations: plain Python (one compiled kernel fewer to load at start-up).
    """
    leak[gi, gj + 1] += w[0, gi, gj]
    leak[gi + 1, gj] += w[1, gi, gj]
    leak[gi + 1, gj + 1] += w[2, gi, gj]
    leak[gi + 1, gj - 1] += w[3, gi, gj]
    leak[gi, gj - 1] += w[0, gi, gj - 1]
    leak[gi - 1, gj] += w[1, gi - 1, gj]
    leak[gi - 1, gj - 1] += w[2, gi - 1, gj - 1]
    leak[gi - 1, gj + 1] += w[3, gi - 1, gj + 1]
    w[:, gi, gj] = 0.0
    w[0, gi, gj - 1] = 0.0
    w[1, gi - 1, gj] = 0.0
    w[2, gi - 1, gj - 1] = 0.0
    w[3, gi - 1, gj + 1] = 0.0


def _dense_inverse(w, d, idx):
    """Inverse of the dense matrix of the active cells ``idx`` (flat padded indices) of one level."""
    pos = -np.ones(d.size, dtype=np.int64)
    pos[idx] = np.arange(idx.size)
    return _dense_fill_inverse(w, d, pos.reshape(d.shape), idx.size)


#: The neighbour that edge-weight array ``k`` points to: east, south, south-east, south-west.
_STEP_I = np.array([0, 1, 1, 1])
_STEP_J = np.array([1, 0, 1, -1])

if njit is not None:
    # the edge from (i, j) to (i + _STEP_I[k], j + _STEP_J[k]) is stored at w[k, i, j]; an
    # edge to the west or north is stored at that neighbour
    @njit(cache=True, nogil=True)
    def _stencil_fill(indptr, indices, data, cr, cc, w):
        n = indptr.size - 1
        for a in range(n):
            i, j = cr[a], cc[a]
            for q in range(indptr[a], indptr[a + 1]):
                b = indices[q]
                if b == a:
                    continue
                di, dj = cr[b] - i, cc[b] - j
                if di == 0 and dj == 1:
                    w[0, i, j] = data[q]
                elif di == 1 and dj == 0:
                    w[1, i, j] = data[q]
                elif di == 1 and dj == 1:
                    w[2, i, j] = data[q]
                elif di == 1 and dj == -1:
                    w[3, i, j] = data[q]
                elif not ((di == 0 and dj == -1) or (di == -1 and -1 <= dj <= 1)):
                    return False
        return True

    @njit(cache=True, nogil=True)
    def _flood(g, four, si, sj, mask):
        # depth-first fill over the node cells (> 0) joined as build_adjacency joins them;
        # returns (cells, stored adjacency entries, row0, row1, col0, col1)
        nrows, ncols = g.shape
        stack = np.empty(nrows * ncols, dtype=np.int64)
        stack[0] = si * ncols + sj
        top = 1
        mask[si, sj] = True
        n = 0
        entries = 0
        r0, r1, c0, c1 = si, si, sj, sj
        while top > 0:
            top -= 1
            i = stack[top] // ncols
            j = stack[top] - i * ncols
            n += 1
            r0, r1, c0, c1 = min(r0, i), max(r1, i), min(c0, j), max(c1, j)
            for di in range(-1, 2):
                for dj in range(-1, 2):
                    if (di == 0 and dj == 0) or (four and di != 0 and dj != 0):
                        continue
                    a, b = i + di, j + dj
                    if 0 <= a < nrows and 0 <= b < ncols and g[a, b] > 0:
                        entries += 1
                        if not mask[a, b]:
                            mask[a, b] = True
                            stack[top] = a * ncols + b
                            top += 1
        return n, entries, r0, r1, c0, c1

    @njit(cache=True, nogil=True)
    def _raster_stencil_fill(g, mask, r0, c0, four, avg_res, w):
        # w[k] at padded (i, j) = the edge from cell (r0 + i - 1, c0 + j - 1) to its neighbour k,
        # for the cells of the component (mask); grid_stencil's layout and values
        nrows, ncols = g.shape
        for i in range(1, w.shape[1] - 1):
            a = r0 + i - 1
            for j in range(1, w.shape[2] - 1):
                b = c0 + j - 1
                if not mask[a, b]:
                    continue
                ga = g[a, b]
                for k in range(2 if four else 4):
                    ta, tb = a + _STEP_I[k], b + _STEP_J[k]
                    if 0 <= ta < nrows and 0 <= tb < ncols and g[ta, tb] > 0:
                        w[k, i, j] = edge_conductance(ga, g[ta, tb], avg_res, k >= 2)

    @njit(cache=True, nogil=True)
    def _level_arrays(w, leak, d, w32, d32, dinv):
        # d = the diagonal (leak + the 8 edge weights of each cell); w and d in float32 and
        # 1 / d (float64 quotient rounded to float32, 0 off the active cells) for the cycle, in
        # one pass; returns the number of active cells (d != 0)
        w32f, wf = w32.reshape(-1), w.reshape(-1)
        for k in range(wf.size):
            w32f[k] = wf[k]
        rows, cols = d.shape
        active = 0
        for i in range(1, rows - 1):
            for j in range(1, cols - 1):
                v = (leak[i, j] + w[0, i, j] + w[1, i, j] + w[2, i, j] + w[3, i, j]
                     + w[0, i, j - 1] + w[1, i - 1, j] + w[2, i - 1, j - 1] + w[3, i - 1, j + 1])
                d[i, j] = v
                d32[i, j] = v
                if v != 0.0:
                    dinv[i, j] = 1.0 / v
                    active += 1
        return active

    @njit(cache=True, nogil=True)
    def _coarsen(w, leak, wc, leakc, fi, fj):
        rows, cols = leak.shape[0] - 2, leak.shape[1] - 2
        for i0 in range(rows):
            for j0 in range(cols):
                i, j = i0 + 1, j0 + 1
                bi, bj = i0 // fi + 1, j0 // fj + 1
                leakc[bi, bj] += leak[i, j]
                for k in range(4):
                    x = w[k, i, j]
                    if x == 0.0:
                        continue
                    ti, tj = i0 + _STEP_I[k], j0 + _STEP_J[k]
                    ci, cj = ti // fi + 1, tj // fj + 1
                    di, dj = ci - bi, cj - bj
                    if di == 0 and dj == 0:
                        continue
                    if di == 0 and dj == 1:
                        wc[0, bi, bj] += x
                    elif di == 0 and dj == -1:
                        wc[0, ci, cj] += x
                    elif di == 1 and dj == 0:
                        wc[1, bi, bj] += x
                    elif di == 1 and dj == 1:
                        wc[2, bi, bj] += x
                    else:  # di == 1 and dj == -1
                        wc[3, bi, bj] += x

    @njit(cache=True, nogil=True)
    def _row_product(w, x, i, j):
        return (w[0, i, j] * x[i, j + 1] + w[1, i, j] * x[i + 1, j]
                + w[2, i, j] * x[i + 1, j + 1] + w[3, i, j] * x[i + 1, j - 1]
                + w[0, i, j - 1] * x[i, j - 1] + w[1, i - 1, j] * x[i - 1, j]
                + w[2, i - 1, j - 1] * x[i - 1, j - 1] + w[3, i - 1, j + 1] * x[i - 1, j + 1])

    @njit(inline="always")
    def _gs_forward_cell(w, dinv, x, b, i, j):
        # a forward sweep from x = 0: the neighbours it has not reached yet (east, south) hold 0
        # and are left out of the sum (the same numbers, up to the sign of a zero sum); the
        # terms known before the sweep reaches the cell are summed first, so only the previous
        # cell's update is on the dependency chain
        acc = (b[i, j] + w[1, i - 1, j] * x[i - 1, j] + w[2, i - 1, j - 1] * x[i - 1, j - 1]
               + w[3, i - 1, j + 1] * x[i - 1, j + 1])
        x[i, j] = (acc + w[0, i, j - 1] * x[i, j - 1]) * dinv[i, j]

    @njit(inline="always")
    def _gs_backward_cell(w, dinv, x, b, i, j):
        acc = (b[i, j] + w[1, i, j] * x[i + 1, j] + w[2, i, j] * x[i + 1, j + 1]
               + w[3, i, j] * x[i + 1, j - 1] + w[0, i, j - 1] * x[i, j - 1]
               + w[1, i - 1, j] * x[i - 1, j] + w[2, i - 1, j - 1] * x[i - 1, j - 1]
               + w[3, i - 1, j + 1] * x[i - 1, j + 1])
        x[i, j] = (acc + w[0, i, j] * x[i, j + 1]) * dinv[i, j]

    # Lexicographic Gauss-Seidel (one pass over the arrays; a colour-wise sweep reads them once
    # per colour); inactive cells have dinv = 0 and b = 0, so they stay at 0. Rows go in pairs,
    # the second row two cells behind the first: its neighbours in the first row are then
    # already updated and those in the row after not yet, exactly as in a row-by-row sweep (the
    # same numbers to the bit), but the two rows are independent dependency chains, which the
    # core overlaps (measured on 1000 x 1000: forward sweep 15 % faster, backward 35 %).
    @njit(cache=True, nogil=True)
    def _gs_forward(w, dinv, x, b):
        # the forward sweep on x = 0, whatever x holds: each cell reads only cells the sweep
        # has written (the row before, west) and the zero border, so x need not be cleared
        rows, cols = dinv.shape
        m = cols - 2
        i = 1
        while i <= rows - 2:
            if i + 1 <= rows - 2 and m >= 2:
                _gs_forward_cell(w, dinv, x, b, i, 1)
                _gs_forward_cell(w, dinv, x, b, i, 2)
                for j in range(3, m + 1):
                    _gs_forward_cell(w, dinv, x, b, i, j)
                    _gs_forward_cell(w, dinv, x, b, i + 1, j - 2)
                _gs_forward_cell(w, dinv, x, b, i + 1, m - 1)
                _gs_forward_cell(w, dinv, x, b, i + 1, m)
                i += 2
            else:
                for j in range(1, m + 1):
                    _gs_forward_cell(w, dinv, x, b, i, j)
                i += 1

    @njit(cache=True, nogil=True)
    def _gs_backward(w, dinv, x, b):
        rows, cols = dinv.shape
        m = cols - 2
        i = rows - 2
        while i >= 1:
            if i - 1 >= 1 and m >= 2:
                _gs_backward_cell(w, dinv, x, b, i, m)
                _gs_backward_cell(w, dinv, x, b, i, m - 1)
                for j in range(m - 2, 0, -1):
                    _gs_backward_cell(w, dinv, x, b, i, j)
                    _gs_backward_cell(w, dinv, x, b, i - 1, j + 2)
                _gs_backward_cell(w, dinv, x, b, i - 1, 2)
                _gs_backward_cell(w, dinv, x, b, i - 1, 1)
                i -= 2
            else:
                for j in range(m, 0, -1):
                    _gs_backward_cell(w, dinv, x, b, i, j)
                i -= 1

    @njit(inline="always")
    def _residual(w, d, x, b, i, j):
        return b[i, j] - d[i, j] * x[i, j] + _row_product(w, x, i, j)

    @njit(cache=True, nogil=True)
    def _residual_restrict(w, d, x, b, rc, fi, fj):
        # rc = P^T (b - A x) without storing the residual, written (not added) cell by cell of
        # the coarse grid: each sums its fine cells in row-major order from 0, rounding to rc's
        # type after each addition: the numbers of a row-by-row accumulation into a cleared rc,
        # without clearing it and without that accumulation's read-modify-write chain. Cells
        # past the last row or column are the zero border (d = 0: skipped).
        rows, cols = d.shape
        zero = rc.dtype.type(0.0)
        if fi == 2 and fj == 2:
            for ci in range(1, rc.shape[0] - 1):
                i = 2 * ci - 1
                for cj in range(1, rc.shape[1] - 1):
                    j = 2 * cj - 1
                    v = zero
                    if d[i, j] != 0.0:
                        v = rc.dtype.type(v + _residual(w, d, x, b, i, j))
                    if d[i, j + 1] != 0.0:
                        v = rc.dtype.type(v + _residual(w, d, x, b, i, j + 1))
                    if d[i + 1, j] != 0.0:
                        v = rc.dtype.type(v + _residual(w, d, x, b, i + 1, j))
                    if d[i + 1, j + 1] != 0.0:
                        v = rc.dtype.type(v + _residual(w, d, x, b, i + 1, j + 1))
                    rc[ci, cj] = v
            return
        for ci in range(1, rc.shape[0] - 1):  # 1 x 2 or 2 x 1 blocks of a thin level
            i0 = (ci - 1) * fi + 1
            for cj in range(1, rc.shape[1] - 1):
                j0 = (cj - 1) * fj + 1
                v = zero
                for i in range(i0, min(i0 + fi, rows - 1)):
                    for j in range(j0, min(j0 + fj, cols - 1)):
                        if d[i, j] != 0.0:
                            v = rc.dtype.type(v + _residual(w, d, x, b, i, j))
                rc[ci, cj] = v

    @njit(cache=True, nogil=True)
    def _matvec_dots(w, d, x, r, v, out):
        # out = A x; returns (x . out, x . r, x . v)
        rows, cols = d.shape
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for i in range(rows):
            for j in range(cols):
                if i == 0 or i == rows - 1 or j == 0 or j == cols - 1 or d[i, j] == 0.0:
                    out[i, j] = 0.0
                else:
                    y = d[i, j] * x[i, j] - _row_product(w, x, i, j)
                    out[i, j] = y
                    xv = np.float64(x[i, j])
                    s1 += xv * y
                    s2 += xv * r[i, j]
                    s3 += xv * v[i, j]
        return s1, s2, s3

    @njit(cache=True, nogil=True)
    def _axpy_norms(r, s, v, out):
        # out = r + s v; returns (|out|^2, |r|^2)
        a = 0.0
        b = 0.0
        rf = r.reshape(-1)
        vf = v.reshape(-1)
        of = out.reshape(-1)
        for k in range(rf.size):
            y = rf[k] + s * vf[k]
            of[k] = y
            a += np.float64(y) * y
            b += np.float64(rf[k]) * rf[k]
        return a, b

    @njit(cache=True, nogil=True)
    def _lincomb(x, a, y, b):
        # x = a x + b y in place
        xf = x.reshape(-1)
        yf = y.reshape(-1)
        for k in range(xf.size):
            xf[k] = a * xf[k] + b * yf[k]

    @njit(cache=True, nogil=True)
    def _dots(z, r, q):
        # (z . r, z . q)
        zf, rf, qf = z.reshape(-1), r.reshape(-1), q.reshape(-1)
        a = 0.0
        b = 0.0
        for k in range(zf.size):
            a += zf[k] * rf[k]
            b += zf[k] * qf[k]
        return a, b

    @njit(cache=True, nogil=True)
    def _cg_update(x, r, p, q, alpha, b):
        # x += alpha p, r -= alpha q; returns (b + r) . x
        xf, rf, pf, qf, bf = x.reshape(-1), r.reshape(-1), p.reshape(-1), q.reshape(-1), b.reshape(-1)
        s = 0.0
        for k in range(xf.size):
            xf[k] += alpha * pf[k]
            rf[k] -= alpha * qf[k]
            s += (bf[k] + rf[k]) * xf[k]
        return s

    @njit(cache=True, nogil=True)
    def _prolong_add(xc, x, d, fi, fj):
        rows, cols = x.shape[0] - 2, x.shape[1] - 2
        for i0 in range(rows):
            ci = i0 // fi + 1
            for j0 in range(cols):
                if d[i0 + 1, j0 + 1] != 0.0:
                    # a shift, not a division by a run-time factor, in the inner loop
                    x[i0 + 1, j0 + 1] += xc[ci, (j0 >> 1 if fj == 2 else j0) + 1]

    @njit(cache=True, nogil=True)
    def _coarse_solve(inv, idx, r, out):
        # out[idx] = inv @ r[idx], sums in float64
        n = idx.size
        for a in range(n):
            s = 0.0
            for b in range(n):
                s += np.float64(inv[a, b]) * r[idx[b]]
            out[idx[a]] = s

    # batched kernels: the same arithmetic as the kernels above, in the same order, on each
    # lane of the innermost axis (see GridAMG._solve_batch). Direct 3-D indexing (row views
    # x[i, j] in the inner loop made them 4-10x slower); a lane loop that stores into the
    # array it reads is not vectorized (aliasing), so the sums go to a small buffer first
    # (2.3x faster Gauss-Seidel at 8 lanes).
    @njit(cache=True, nogil=True)
    def _gs_many(w, dinv, x, b, backward):
        rows, cols = dinv.shape
        nb = x.shape[2]
        acc = np.empty(nb, dtype=b.dtype)  # the sum's type: x is float32, b float32 or 64
        for t in range(rows - 2):
            i = rows - 2 - t if backward else 1 + t
            for u in range(cols - 2):
                j = cols - 2 - u if backward else 1 + u
                dv = dinv[i, j]
                if dv == 0.0:
                    continue  # inactive: b = 0 and x = 0 there, as in _gs_forward
                we, ws, wse, wsw = w[0, i, j], w[1, i, j], w[2, i, j], w[3, i, j]
                ww_, wn, wnw, wne = w[0, i, j - 1], w[1, i - 1, j], w[2, i - 1, j - 1], w[3, i - 1, j + 1]
                if backward:
                    for l in range(nb):
                        acc[l] = (b[i, j, l] + ws * x[i + 1, j, l] + wse * x[i + 1, j + 1, l]
                                  + wsw * x[i + 1, j - 1, l] + ww_ * x[i, j - 1, l]
                                  + wn * x[i - 1, j, l] + wnw * x[i - 1, j - 1, l]
                                  + wne * x[i - 1, j + 1, l])
                    for l in range(nb):
                        x[i, j, l] = (acc[l] + we * x[i, j + 1, l]) * dv
                else:
                    for l in range(nb):
                        acc[l] = (b[i, j, l] + we * x[i, j + 1, l] + ws * x[i + 1, j, l]
                                  + wse * x[i + 1, j + 1, l] + wsw * x[i + 1, j - 1, l]
                                  + wn * x[i - 1, j, l] + wnw * x[i - 1, j - 1, l]
                                  + wne * x[i - 1, j + 1, l])
                    for l in range(nb):
                        x[i, j, l] = (acc[l] + ww_ * x[i, j - 1, l]) * dv

    @njit(cache=True, nogil=True)
    def _residual_restrict_many(w, d, x, b, rc, fi, fj):
        rows, cols = d.shape
        nb = x.shape[2]
        acc = np.empty(nb, dtype=b.dtype)  # the sum's type: x is float32, b float32 or 64
        for i in range(1, rows - 1):
            ci = (i - 1) // fi + 1
            for j in range(1, cols - 1):
                dc = d[i, j]
                if dc == 0.0:
                    continue
                cj = ((j - 1) >> 1 if fj == 2 else j - 1) + 1
                we, ws, wse, wsw = w[0, i, j], w[1, i, j], w[2, i, j], w[3, i, j]
                ww_, wn, wnw, wne = w[0, i, j - 1], w[1, i - 1, j], w[2, i - 1, j - 1], w[3, i - 1, j + 1]
                for l in range(nb):
                    rp = (we * x[i, j + 1, l] + ws * x[i + 1, j, l] + wse * x[i + 1, j + 1, l]
                          + wsw * x[i + 1, j - 1, l] + ww_ * x[i, j - 1, l] + wn * x[i - 1, j, l]
                          + wnw * x[i - 1, j - 1, l] + wne * x[i - 1, j + 1, l])
                    acc[l] = b[i, j, l] - dc * x[i, j, l] + rp
                for l in range(nb):
                    rc[ci, cj, l] += acc[l]

    @njit(cache=True, nogil=True)
    def _matvec_dots_many(w, d, x, r, v, out):
        # out = A x per lane; returns per-lane (x . out, x . r, x . v)
        rows, cols = d.shape
        nb = x.shape[2]
        s1 = np.zeros(nb)
        s2 = np.zeros(nb)
        s3 = np.zeros(nb)
        y = np.empty(nb, dtype=out.dtype)
        for i in range(rows):
            for j in range(cols):
                if i == 0 or i == rows - 1 or j == 0 or j == cols - 1 or d[i, j] == 0.0:
                    for l in range(nb):
                        out[i, j, l] = 0.0
                    continue
                dc = d[i, j]
                we, ws, wse, wsw = w[0, i, j], w[1, i, j], w[2, i, j], w[3, i, j]
                ww_, wn, wnw, wne = w[0, i, j - 1], w[1, i - 1, j], w[2, i - 1, j - 1], w[3, i - 1, j + 1]
                for l in range(nb):
                    rp = (we * x[i, j + 1, l] + ws * x[i + 1, j, l] + wse * x[i + 1, j + 1, l]
                          + wsw * x[i + 1, j - 1, l] + ww_ * x[i, j - 1, l] + wn * x[i - 1, j, l]
                          + wnw * x[i - 1, j - 1, l] + wne * x[i - 1, j + 1, l])
                    y[l] = dc * x[i, j, l] - rp
                for l in range(nb):
                    out[i, j, l] = y[l]
                for l in range(nb):
                    xv = np.float64(x[i, j, l])
                    s1[l] += xv * y[l]
                    s2[l] += xv * r[i, j, l]
                    s3[l] += xv * v[i, j, l]
        return s1, s2, s3

    @njit(cache=True, nogil=True)
    def _axpy_norms_many(r, s, v, out):
        nb = r.shape[-1]
        rf = r.reshape(-1, nb)
        vf = v.reshape(-1, nb)
        of = out.reshape(-1, nb)
        a = np.zeros(nb)
        b = np.zeros(nb)
        y = np.empty(nb)
        for k in range(rf.shape[0]):
            for l in range(nb):
                y[l] = rf[k, l] + s[l] * vf[k, l]
            for l in range(nb):
                of[k, l] = y[l]
            for l in range(nb):
                a[l] += y[l] * y[l]
                b[l] += np.float64(rf[k, l]) * rf[k, l]
        return a, b

    @njit(cache=True, nogil=True)
    def _lincomb_many(x, a, y, b):
        nb = x.shape[-1]
        xf = x.reshape(-1, nb)
        yf = y.reshape(-1, nb)
        t = np.empty(nb)
        for k in range(xf.shape[0]):
            for l in range(nb):
                t[l] = a[l] * xf[k, l] + b[l] * yf[k, l]
            for l in range(nb):
                xf[k, l] = t[l]

    @njit(cache=True, nogil=True)
    def _dots_many(z, r, q):
        nb = z.shape[-1]
        zf, rf, qf = z.reshape(-1, nb), r.reshape(-1, nb), q.reshape(-1, nb)
        a = np.zeros(nb)
        b = np.zeros(nb)
        for k in range(zf.shape[0]):
            for l in range(nb):
                a[l] += zf[k, l] * rf[k, l]
                b[l] += zf[k, l] * qf[k, l]
        return a, b

    @njit(cache=True, nogil=True)
    def _cg_update_many(x, r, p, q, alpha):
        # x += alpha p, r -= alpha q per lane; returns r . x per lane
        nb = x.shape[-1]
        xf, rf, pf, qf = x.reshape(-1, nb), r.reshape(-1, nb), p.reshape(-1, nb), q.reshape(-1, nb)
        s = np.zeros(nb)
        tx = np.empty(nb)
        tr = np.empty(nb)
        for k in range(xf.shape[0]):
            for l in range(nb):
                tx[l] = xf[k, l] + alpha[l] * pf[k, l]
                tr[l] = rf[k, l] - alpha[l] * qf[k, l]
            for l in range(nb):
                xf[k, l] = tx[l]
            for l in range(nb):
                rf[k, l] = tr[l]
            for l in range(nb):
                s[l] += tr[l] * tx[l]
        return s

    @njit(cache=True, nogil=True)
    def _prolong_add_many(xc, x, d, fi, fj):
        rows, cols = x.shape[0] - 2, x.shape[1] - 2
        nb = x.shape[2]
        for i0 in range(rows):
            ci = i0 // fi + 1
            for j0 in range(cols):
                if d[i0 + 1, j0 + 1] != 0.0:
                    cj = (j0 >> 1 if fj == 2 else j0) + 1
                    for l in range(nb):
                        x[i0 + 1, j0 + 1, l] += xc[ci, cj, l]

    @njit(cache=True, nogil=True)
    def _coarse_solve_many(inv, idx, r, out):
        n = idx.size
        nb = r.shape[1]
        s = np.empty(nb)
        for a in range(n):
            for l in range(nb):
                s[l] = 0.0
            for b in range(n):
                f = np.float64(inv[a, b])
                for l in range(nb):
                    s[l] += f * r[idx[b], l]
            for l in range(nb):
                out[idx[a], l] = s[l]

    @njit(cache=True, nogil=True)
    def _row_dot(x, r):
        # x . r summed in index order (numpy's dot would call BLAS, waking its threads)
        s = 0.0
        for t in range(x.size):
            s += x[t] * r[t]
        return s

    @njit(nogil=True)
    def _dense_fill(w, d, pos, out):
        rows, cols = d.shape
        for i in range(1, rows - 1):
            for j in range(1, cols - 1):
                a = pos[i, j]
                if a < 0:
                    continue
                out[a, a] = d[i, j]
                for k in range(4):
                    b = pos[i + _STEP_I[k], j + _STEP_J[k]]
                    if b >= 0 and w[k, i, j] != 0.0:
                        out[a, b] -= w[k, i, j]
                        out[b, a] -= w[k, i, j]

    @njit(cache=True, nogil=True)
    def _dense_fill_inverse(w, d, pos, n):
        # the coarsest level's dense matrix and its inverse in one compiled call
        a = np.zeros((n, n))
        _dense_fill(w, d, pos, a)
        return _spd_inverse(a)

    @njit(nogil=True)
    def _spd_inverse(a):
        # inverse of the small SPD coarsest matrix by Cholesky (numpy's inv starts BLAS
        # threads: 0.08 s of CPU for 256 x 256 here); a non-positive pivot means the level is
        # not SPD, which a grounded connected grid cannot give
        n = a.shape[0]
        low = np.zeros((n, n))
        for j in range(n):
            s = a[j, j]
            for k in range(j):
                s -= low[j, k] * low[j, k]
            if s <= 0.0:
                raise ArithmeticError("coarsest grid matrix is not positive definite")
            low[j, j] = np.sqrt(s)
            for i in range(j + 1, n):
                t = a[i, j]
                for k in range(j):
                    t -= low[i, k] * low[j, k]
                low[i, j] = t / low[j, j]
        inv_low = np.zeros((n, n))
        for j in range(n):
            inv_low[j, j] = 1.0 / low[j, j]
            for i in range(j + 1, n):
                t = 0.0
                for k in range(j, i):
                    t -= low[i, k] * inv_low[k, j]
                inv_low[i, j] = t / low[i, i]
        out = np.empty((n, n))
        for i in range(n):
            for j in range(i + 1):
                t = 0.0
                for k in range(i, n):
                    t += inv_low[k, i] * inv_low[k, j]
                out[i, j] = t
                out[j, i] = t
        return out
