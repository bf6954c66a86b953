"""Grounded Laplacian solvers: sparse direct (reused factor) or AMG-preconditioned CG."""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from habitat.errors import InvalidParameterError, ResourceError

#: Nodes above which ``method="auto"`` switches from the direct factor to AMG-CG.
DIRECT_MAX_NODES = 2_000_000
_FILL_PER_NNZ = 30.0  # SuperLU fill (MMD) on 8-neighbour grids: 57e6 / 9e6 nnz at 1000 x 1000, x4 margin
_AMG_BYTES_PER_NNZ = 60.0


def estimate_memory_bytes(n_nodes, nnz, *, method, n_rhs=1):
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

    Returns
    -------
    int
        Estimated peak bytes.

    Notes
    -----
    direct: ``12 * nnz * f + 8 * n_nodes * (n_rhs + 4)`` with fill factor ``f = 30``
    (SuperLU factor of a planar grid Laplacian grows like ``n log n``; 30 covers grids up to
    about 4000 x 4000).
    amg: ``60 * nnz + 8 * n_nodes * (n_rhs + 8)`` (hierarchy about 1.5 x the matrix, CG vectors).
    """
    if method == "direct":
        return int(12 * nnz * _FILL_PER_NNZ + 8 * n_nodes * (n_rhs + 4))
    return int(_AMG_BYTES_PER_NNZ * nnz + 8 * n_nodes * (n_rhs + 8))


def available_memory_bytes():
    """Physical memory available now (bytes), from /proc/meminfo or sysconf."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def choose_method(n_nodes, nnz, *, method="auto", n_rhs=1, memory_limit_bytes=None):
    """Pick ``"direct"`` or ``"amg"`` and check the job fits in memory.

    Raises
    ------
    ResourceError
        When even AMG-CG needs more than ``memory_limit_bytes`` (default: available memory).
    """
    if method not in ("auto", "direct", "amg"):
        raise InvalidParameterError(
            f"solver method {method!r} is unknown; use 'auto', 'direct' or 'amg'"
        )
    limit = available_memory_bytes() if memory_limit_bytes is None else memory_limit_bytes
    if method == "auto":
        need_direct = estimate_memory_bytes(n_nodes, nnz, method="direct", n_rhs=n_rhs)
        method = "direct" if (n_nodes <= DIRECT_MAX_NODES and need_direct < 0.7 * limit) else "amg"
    need = estimate_memory_bytes(n_nodes, nnz, method=method, n_rhs=n_rhs)
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
        and run preconditioned CG (relative tolerance ``tol``) per right-hand side.
    """

    def __init__(self, lap, ground, *, method="direct", tol=1e-10):
        n = lap.shape[0]
        self.n = n
        self.ground = ground
        keep = np.ones(n, dtype=bool)
        if ground is not None:
            keep[ground] = False
        self.keep = keep
        a = sp.csc_matrix(lap)[keep][:, keep] if ground is not None else sp.csc_matrix(lap)
        self.method = method
        self.tol = tol
        if a.shape[0] == 0:
            self._solve = lambda b: np.zeros_like(b)
        elif method == "direct":
            # minimum degree on A^T + A with symmetric mode: the Laplacian is SPD, so no
            # pivoting is needed and fill is about half of COLAMD's
            lu = spla.splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options=dict(SymmetricMode=True))
            self._solve = lu.solve
        else:
            import pyamg

            a = sp.csr_matrix(a)
            ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
            m = ml.aspreconditioner(cycle="V")

            def _cg(b):
                b = np.asarray(b)
                if b.ndim == 1:
                    x, _ = spla.cg(a, b, rtol=tol, atol=0.0, M=m, maxiter=2000)
                    return x
                return np.column_stack([_cg(b[:, k]) for k in range(b.shape[1])])

            self._solve = _cg

    def solve(self, b):
        """Voltages (length n, or n x k) for injected currents ``b`` (amperes)."""
        b = np.asarray(b, dtype=np.float64)
        out = np.zeros(b.shape)
        if b.ndim == 1:
            out[self.keep] = self._solve(np.ascontiguousarray(b[self.keep]))
        else:
            out[self.keep] = self._solve(np.ascontiguousarray(b[self.keep]))
        return out
