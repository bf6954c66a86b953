"""Grounded Laplacian solvers: sparse direct (reused factor) or AMG-preconditioned CG."""

from __future__ import annotations


import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from habitat.errors import InvalidParameterError, ResourceError
from habitat.memory import available_bytes as available_memory_bytes  # one implementation

from .graph import principal_submatrix
from .ordering import nested_dissection_order

#: Fill of the direct factor, in entries of L + U per ``n log2 n``: nested dissection measured
#: 5.4-5.9 on 8-neighbour grids of 250^2-1500^2 cells, minimum degree 6.6 at 500^2 and 7.5 at
#: 1000^2; rounded up for margin.
_FILL_ND = 6.5
_FILL_MMD = 8.0
# value + row index + supernode bookkeeping (measured 12-15), plus the CSC copy of the
# trailing factor block read for pairwise resistances
_BYTES_PER_FACTOR_ENTRY = 18.0
_AMG_BYTES_PER_NNZ = 80.0  # measured 73 at 1000 x 1000 (hierarchy + grounded copy)
#: ``method="auto"`` uses the direct factor while it needs less than this share of the memory.
DIRECT_MEMORY_SHARE = 0.6


def estimate_memory_bytes(n_nodes, nnz, *, method, n_rhs=1, ordering="nested_dissection"):
    """Bytes a solver needs for one connected component.

    Parameters
    ----------
    n_nodes : int
        Nodes of the component.
    nnz : int
        Stored entries of its Laplacian (about 9 per node on an 8-neighbour grid).
    method : {"direct", "amg"}
        Solver.
    n_rhs : int, optional
        Right-hand sides solved at once (focal points - 1 for pairwise).
    ordering : {"nested_dissection", "minimum_degree"}, optional
        Fill-reducing order of the direct factor: nested dissection for raster graphs
        (node coordinates known), minimum degree otherwise.

    Returns
    -------
    int
        Estimated peak bytes.

    Notes
    -----
    direct: ``18 * f * n * log2(n) + 24 * nnz + 16 * n * n_rhs + 32 * n`` bytes, with the fill
    factor ``f = 6.5`` (nested dissection) or ``f = 8`` (minimum degree): the factor
    ``L + U`` of a planar grid Laplacian holds about ``f n log2 n`` entries of 12-15 bytes,
    plus a copy while reading its trailing block (about 18 bytes an entry in all),
    beside two copies of the matrix and the right-hand sides and solutions. An 8-neighbour
    grid of 1000 x 1000 cells needs about 2.5 GiB (measured peak of the whole job: 2.4 GiB),
    2000 x 2000 about 11 GiB, 4000 x 4000 about 47 GiB; AMG 0.7, 2.7 and 10.8 GiB (measured
    peak of a whole 4000 x 4000 job: 11.9 GiB). ``method="auto"`` therefore factorizes
    grids up to about 2000 x 2000 on a 24 GiB machine and uses AMG-CG above.

    amg: ``80 * nnz + 8 * n * (n_rhs + 8)`` (smoothed-aggregation hierarchy, the grounded
    copy of the matrix, CG work vectors; measured 73 bytes per stored entry at 1000 x 1000).
    """
    if method == "direct":
        fill = _FILL_ND if ordering == "nested_dissection" else _FILL_MMD
        n = max(int(n_nodes), 2)
        return int(_BYTES_PER_FACTOR_ENTRY * fill * n * np.log2(n) + 24 * nnz
                   + 16 * n * n_rhs + 32 * n)
    return int(_AMG_BYTES_PER_NNZ * nnz + 8 * n_nodes * (n_rhs + 8))


def choose_method(n_nodes, nnz, *, method="auto", n_rhs=1, memory_limit_bytes=None,
                  ordering="nested_dissection"):
    """Pick ``"direct"`` or ``"amg"`` and check the job fits in memory.

    Parameters
    ----------
    n_nodes, nnz, n_rhs, ordering
        As for :func:`estimate_memory_bytes`.
    method : {"auto", "direct", "amg"}, optional
        ``"auto"`` takes the direct factor while :func:`estimate_memory_bytes` says it
        needs less than ``DIRECT_MEMORY_SHARE`` (60 %) of ``memory_limit_bytes``, else AMG-CG.
        The factor is faster whenever it fits (1000 x 1000 cells: 4 s to factor, 0.07 s a
        solve, against about 6 s of AMG setup and 2 s a CG solve).
    memory_limit_bytes : int, optional
        Default: the memory available now (``MemAvailable``).

    Returns
    -------
    str
        ``"direct"`` or ``"amg"``.

    Raises
    ------
    ResourceError
        When even AMG-CG needs more than ``memory_limit_bytes``, or a forced method does.
    """
    if method not in ("auto", "direct", "amg"):
        raise InvalidParameterError(
            f"solver method {method!r} is unknown; use 'auto', 'direct' or 'amg'"
        )
    limit = available_memory_bytes() if memory_limit_bytes is None else memory_limit_bytes
    if method == "auto":
        need_direct = estimate_memory_bytes(n_nodes, nnz, method="direct", n_rhs=n_rhs,
                                            ordering=ordering)
        method = "direct" if need_direct < DIRECT_MEMORY_SHARE * limit else "amg"
    need = estimate_memory_bytes(n_nodes, nnz, method=method, n_rhs=n_rhs, ordering=ordering)
    if need > limit:
        raise ResourceError(
            f"circuit solve of {n_nodes} nodes needs about {need / 2**30:.1f} GiB "
            f"({method}) but {limit / 2**30:.1f} GiB are available; coarsen the raster or "
            "restrict it with a mask"
        )
    return method


class GroundedSolver:
    """Solve ``L x = b`` on one component with node ``ground`` held at 0 V.

    Parameters
    ----------
    lap : scipy.sparse matrix
        Laplacian (plus optional finite-ground diagonal) of one connected component.
    ground : int or None
        Local index of the node fixed at 0 V; None when ``lap`` is already non-singular.
    method : {"direct", "amg"}
        Factorize once with SuperLU, or build a smoothed-aggregation AMG hierarchy once
        and run preconditioned CG per right-hand side.
    tol : float, optional
        Relative residual ``||b - A x|| / ||b||`` at which CG stops (AMG only).
    coords : numpy.ndarray, optional
        ``(n, 2)`` cell row and column of each node (negative for multi-cell nodes), from
        :func:`habitat.connectivity.circuit.ordering.node_coordinates`. With it the direct
        factor uses a nested-dissection order (about 10x faster than minimum degree on a
        1000 x 1000 grid); without it SuperLU's minimum degree on ``A + A^T``.
    last_nodes : sequence of int, optional
        Nodes to eliminate last (direct with ``coords`` only), so that
        :meth:`inverse_block` on them reads the factor instead of solving.
    overwrite : bool, optional
        AMG may ground a CSR ``lap`` in place (saves a copy of the matrix); ``lap`` is
        then changed.

    Notes
    -----
    The grounded Laplacian ``A`` is symmetric positive definite, so SuperLU runs in
    symmetric mode with diagonal pivots only (no numerical pivoting is needed). Then
    ``A = L U`` with ``U = D L^T``; with the nodes ``F`` ordered last, the trailing blocks
    give the Schur complement ``S = L_FF U_FF = A_FF - A_FI A_II^-1 A_IF`` and
    ``(A^-1)_FF = S^-1``.
    """

    def __init__(self, lap, ground, *, method="direct", tol=1e-10, coords=None,
                 last_nodes=None, overwrite=False):
        n = lap.shape[0]
        self.n = n
        self.ground = ground
        keep = np.ones(n, dtype=bool)
        if ground is not None:
            keep[ground] = False
        self.keep = keep
        kept = np.flatnonzero(keep)
        self.method = method
        self.tol = tol
        self._last = None
        self._lu = None
        if kept.size == 0:
            self._solve = lambda b: np.zeros_like(b)
        elif method == "direct" and coords is not None:
            perm = kept[nested_dissection_order(np.asarray(coords)[kept])]
            if last_nodes is not None:
                last = np.asarray(last_nodes, dtype=np.int64)
                is_last = np.zeros(n, dtype=bool)
                is_last[last] = True
                perm = np.concatenate([perm[~is_last[perm]], last])
            a = principal_submatrix(lap, perm)
            lu = spla.splu(a, permc_spec="NATURAL", **_SPD_OPTIONS)
            if last_nodes is not None and _order_kept(lu):
                self._last, self._lu = last, lu
            pos = np.zeros(n, dtype=np.int64)
            pos[perm] = np.arange(perm.size)
            self._solve = _permuted(lu.solve, pos[kept])
        elif method == "direct":
            a = principal_submatrix(lap, kept)
            self._solve = spla.splu(a, permc_spec="MMD_AT_PLUS_A", **_SPD_OPTIONS).solve
        elif overwrite and ground is not None and sp.isspmatrix_csr(lap):
            # ground in place (row and column of the ground -> identity) instead of copying
            # the matrix without them: the solution is the same, with x[ground] = b[ground] = 0
            _ground_in_place(lap, ground)
            self.keep = np.ones(n, dtype=bool)
            self._solve = _amg_solver(lap, tol)
        else:
            self._solve = _amg_solver(principal_submatrix(lap, kept), tol)

    def solve(self, b):
        """Voltages (length n, or n x k) for injected currents ``b`` (amperes)."""
        b = np.array(b, dtype=np.float64)
        if self.ground is not None:
            b[self.ground] = 0.0
        out = np.zeros(b.shape)
        out[self.keep] = self._solve(np.ascontiguousarray(b[self.keep]))
        return out

    def inverse_block(self, nodes):
        """``G[i, j]``: voltage at ``nodes[i]`` for 1 A injected at ``nodes[j]`` (ohm).

        Read from the factor when ``nodes`` are the ``last_nodes`` of a nested-dissection
        factor, else one solve per node.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        if self._lu is not None and np.array_equal(nodes, self._last):
            k = nodes.size
            u_ff = self._lu.U[-k:, -k:].toarray()
            # U = D L^T in symmetric mode, so L_FF = (U_FF / diag)^T
            l_ff = (u_ff / np.diag(u_ff)[:, None]).T
            s = l_ff @ u_ff
            return np.linalg.inv((s + s.T) / 2.0)
        rhs = np.zeros((self.n, nodes.size))
        rhs[nodes, np.arange(nodes.size)] = 1.0
        return self.solve(rhs)[nodes]


def _ground_in_place(a, g):
    """Make row and column ``g`` of the CSR matrix ``a`` those of the identity."""
    row = slice(a.indptr[g], a.indptr[g + 1])
    neighbours = a.indices[row].copy()
    a.data[row] = np.where(neighbours == g, 1.0, 0.0)
    for j in neighbours[neighbours != g]:
        seg = slice(a.indptr[j], a.indptr[j + 1])
        a.data[seg][a.indices[seg] == g] = 0.0
    a.eliminate_zeros()


_SPD_OPTIONS = {"diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}}


def _order_kept(lu):
    """Whether SuperLU kept the given order (so the trailing factor block is the last nodes)."""
    ident = np.arange(lu.shape[0])
    return np.array_equal(lu.perm_c, ident) and np.array_equal(lu.perm_r, ident)


def _permuted(solve, pos):
    """Solve in original numbering with a factor of the matrix permuted to ``pos``."""
    order = np.argsort(pos)

    def _solve(b):
        return solve(np.ascontiguousarray(b[order]))[pos]

    return _solve


def _amg_solver(a, tol):
    import pyamg

    # symmetric: reuse the CSC arrays as CSR instead of converting (saves a matrix copy)
    a = sp.csr_matrix((a.data, a.indices, a.indptr), shape=a.shape) if sp.isspmatrix_csc(a) \
        else sp.csr_matrix(a)
    ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
    m = ml.aspreconditioner(cycle="V")

    def _cg(b):
        if b.ndim == 2:
            return np.column_stack([_cg(b[:, k]) for k in range(b.shape[1])])
        if not np.any(b):
            return np.zeros_like(b)
        x, _ = spla.cg(a, b, rtol=tol, atol=0.0, M=m, maxiter=2000)
        return x

    return _cg


def split_inverse_block(lap, ground, nodes, coords, *, workers=2):
    """``(A^-1)[nodes][:, nodes]`` of the grounded Laplacian from two half factorizations.

    Parameters
    ----------
    lap : scipy.sparse matrix
        Laplacian of one connected raster component (symmetric).
    ground : int
        Local index of the node held at 0 V (removed from ``A``).
    nodes : numpy.ndarray of int
        Distinct nodes other than ``ground``.
    coords : numpy.ndarray
        ``(n, 2)`` cell row/column per node (negative for multi-cell nodes).
    workers : int, optional
        Threads for the two halves (SuperLU releases the GIL while factorizing).

    Returns
    -------
    numpy.ndarray or None
        ``k x k`` block (ohm); None when the grid cannot be split (caller falls back).

    Notes
    -----
    The middle row (or column) ``sep`` of the grid splits the other nodes into ``I1`` and
    ``I2`` with no edge between them. With ``T = nodes + sep``, each half factorizes the
    principal submatrix ``A[I_i + T]`` (SPD) with ``T`` last; its trailing block is
    ``S_i = A_TT - A_Ti A_ii^-1 A_iT``, so the Schur complement of ``A`` onto ``T`` is
    ``S = S_1 + S_2 - A_TT``, then onto ``nodes``: ``S_F = S_FF - S_Fs S_ss^-1 S_sF`` and
    the block is ``S_F^-1``. The two factorizations run on two cores at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    c = np.asarray(coords)
    n = lap.shape[0]
    nodes = np.asarray(nodes, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[ground] = False
    regular = keep & (c[:, 0] >= 0)
    if regular.sum() < 4:
        return None
    rows, cols = c[:, 0], c[:, 1]
    key = rows if np.ptp(rows[regular]) >= np.ptp(cols[regular]) else cols
    kr = key[regular]
    mid = np.partition(kr, kr.size // 2)[kr.size // 2]
    in_t = keep & ~regular
    in_t[nodes] = True
    in_t |= regular & (key == mid)
    low = regular & (key < mid) & ~in_t
    high = regular & (key > mid) & ~in_t
    if not low.any() or not high.any():
        return None
    is_node = np.zeros(n, dtype=bool)
    is_node[nodes] = True
    t_nodes = np.concatenate([nodes, np.flatnonzero(in_t & ~is_node)])
    t = t_nodes.size

    def _half(mask):
        interior = np.flatnonzero(mask)
        perm = np.concatenate([interior[nested_dissection_order(c[interior])], t_nodes])
        lu = spla.splu(principal_submatrix(lap, perm), permc_spec="NATURAL", **_SPD_OPTIONS)
        if not _order_kept(lu):
            return None
        u_tt = lu.U[-t:, -t:].toarray()
        del lu
        # U = D L^T in symmetric mode
        return ((u_tt / np.diag(u_tt)[:, None]).T) @ u_tt

    if workers > 1:
        with ThreadPoolExecutor(2) as pool:
            s1, s2 = pool.map(_half, [low, high])
    else:
        s1, s2 = _half(low), _half(high)
    if s1 is None or s2 is None:
        return None
    s = s1 + s2 - principal_submatrix(lap, t_nodes).toarray()
    k = nodes.size
    s_f = s[:k, :k] - s[:k, k:] @ np.linalg.solve(s[k:, k:], s[k:, :k])
    return np.linalg.inv((s_f + s_f.T) / 2.0)
