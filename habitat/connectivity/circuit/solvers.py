"""Grounded Laplacian solvers: sparse direct (reused factor) or AMG-preconditioned CG.

The direct factor is CHOLMOD's supernodal Cholesky (scikit-sparse, optional extra ``fast``)
when it imports, else SuperLU in symmetric mode; both use the geometric nested-dissection
order of :mod:`habitat.connectivity.circuit.ordering` on raster graphs and give the same
answers to rounding.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import typing
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

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
# AMG-CG: the Laplacian (8 bytes an entry), plus per node the hierarchy, its build
# temporaries, the graph and the current map. Measured peak growth of the circuit stage's
# path (float64 pyamg hierarchy, 6 focal points, with current; bench/README.md "Circuit solver
# memory"): 801, 875, 915 bytes/node at 500^2, 1000^2, 2000^2 (the hierarchy's share grows
# with its levels, then levels off: ~840 on the 16.4 M-cell scale circuit); the float32
# LeanAMG single-pair path 327-351. 850 + 8 x 9 + 16 x 5 = 1002 is 9.6 % above the largest.
_AMG_BYTES_PER_NNZ = 8.0
_AMG_BYTES_PER_NODE = 850.0
#: ``method="multigrid"`` (solve.raster_multigrid_resistances, streamed), bytes per node beside
#: 16 per node per kept point: conductance raster, component mask and flood stack (17), the
#: float64 stencil (32), the hierarchy (fine float64 diagonal and leak, float32 copies, coarser
#: levels: ~60), the K-cycle work arrays of two workers (48) and two solves' vectors (88).
#: Measured peak growth of effective_resistance_matrix on the scale pipeline's 300 m grid (74
#: candidates, 9 sources kept; bench/README.md "Sites: the streamed grid multigrid"): 389 and
#: 405 bytes a node at 0.32 M and 1.28 M nodes, i.e. ~250-260 + 16 x 9; 300 + 16 x 9 lies
#: 10-14 % above both.
MULTIGRID_BYTES_PER_NODE = 300.0
#: ``method="auto"`` uses the direct factor while it needs less than this share of the memory.
DIRECT_MEMORY_SHARE = 0.6
#: ... and the component has at most this many nodes (about 2200 x 2200 cells): the factor
#: costs ``O(n^1.5)`` flops and ``O(n log n)`` memory against ``O(n)`` for AMG-CG, so above
#: this size AMG-CG is about as fast and needs several times less memory.
DIRECT_MAX_NODES = 5_000_000


#: Use CHOLMOD when scikit-sparse imports (tests set this to False to check the fallback).
USE_CHOLMOD = True
#: ... for components of at least this many nodes. Below, SuperLU factors in well under a
#: second, and its ``L D L^T``-like arithmetic keeps small results exact (a 2-ohm series
#: path gives 2.0, where ``y^T y`` of the Cholesky factor gives 1.9999999999999996).
CHOLMOD_MIN_NODES = 20_000
#: CHOLMOD's supernodal ``L`` with our nested-dissection order holds about this many entries
#: per ``n log2 n`` (measured 3.19 on an 8-neighbour 1000 x 1000 grid with 5 % nodata).
_FILL_CHOLMOD = 3.5
#: Bytes per node beside the factor and the right-hand sides: graph, Laplacian copies,
#: permutation, node map and current map (fitted with ``_BYTES_PER_CHOLMOD_ENTRY``, below).
_CHOLMOD_BYTES_PER_NODE = 200.0
#: Right-hand sides per CHOLMOD forward solve: each call reads the whole factor, so 19 columns
#: in one call instead of 16 + 3 took 1.3-1.8 s instead of 1.9-3.2 s (1000 x 1000, load ~9).
_SOLVE_CHUNK = 32
# value plus supernode row indices and CHOLMOD's update workspace. Measured peak growth of the
# circuit stage's path (6 focal points, with current): 1135.5, 1223.4, 1296.7 bytes/node at
# 500^2, 1000^2, 2000^2 (log2 n = 17.9, 19.9, 21.9), least squares 40.3 log2 n + 418, i.e.
# 11.5 bytes per entry of L; 12 with the constants below is 10-11 % above every measurement.
_BYTES_PER_CHOLMOD_ENTRY = 12.0
#: Bytes every solve adds beside its per-node model (workspaces, BLAS thread buffers): on
#: 300 x 300 cells the CHOLMOD path grew 1,150-1,195 bytes/node, above the n log2 n fit of the
#: larger grids (about 25 MB more); counted in every method's estimate.
_SOLVER_FIXED_BYTES = 32 * 2**20


def _spla():
    # imported on first use: scipy.sparse.linalg (with scipy.linalg) adds about 0.1 s to the
    # start of every job, and the grid multigrid does not need it
    import scipy.sparse.linalg

    return scipy.sparse.linalg


def cholmod_module():
    """``sksparse.cholmod`` when scikit-sparse is installed and enabled, else None."""
    if not USE_CHOLMOD:
        return None
    try:
        from sksparse import cholmod
    except ImportError:
        return None
    return cholmod


class CholmodFactor:
    """Supernodal Cholesky ``P A P^T = L L^T`` of a symmetric positive definite matrix.

    Parameters
    ----------
    a : scipy.sparse matrix
        SPD matrix; both triangles stored (CHOLMOD reads the lower one).
    natural : bool
        Keep the given order (``P = I``, the caller has permuted ``a`` already, e.g. with
        the nested-dissection order), else CHOLMOD's default ordering (AMD, METIS).

    Notes
    -----
    Works with scikit-sparse 0.4 (``analyze``/``Factor``) and 0.5 (``CholeskyFactor``).
    With ``Y = L^-1 P E`` for unit columns ``E``, ``E^T A^-1 E = Y^T Y``
    (:meth:`inverse_block`): half a solve per column, and with ``P = I`` and the nodes
    ordered last only the trailing rows of ``Y`` are non-zero: they are ``L_FF^-1``, read
    from the factor's trailing block without a solve where scikit-sparse 0.4's factor can
    be read in place (:meth:`_trailing_block`).
    """

    def __init__(self, a, *, natural):
        ch = cholmod_module()
        a = sp.csc_matrix(a)
        order = "natural" if natural else "default"
        # CHOLMOD's OpenMP teams (4 threads) spin beside its own two BLAS threads on two
        # cores: on the calling thread alone the factor is the same for ~20 % less CPU
        # (85,000 nodes: 0.23 -> 0.18 CPU-s), see _openmp_serial
        lib = _cholmod_library(ch.__file__) if getattr(ch, "__file__", None) else None
        if hasattr(ch, "CholeskyFactor"):  # scikit-sparse >= 0.5
            f = ch.CholeskyFactor(a, order=order, supernodal_mode="supernodal")
            with _openmp_serial(lib):
                f.factorize(a, ldl=False)
            self.perm = np.asarray(f.perm, dtype=np.int64)
            self._solve_a = f.solve
            self._solve_l = lambda b: f.solve(b, system="L")
        else:
            f = ch.analyze(a, mode="supernodal", ordering_method=order)
            with _openmp_serial(lib):
                f.cholesky_inplace(a)
            self.perm = np.asarray(f.P(), dtype=np.int64)
            self._solve_a = f.solve_A
            self._solve_l = lambda b: f.solve_L(b, use_LDLt_decomposition=False)
        self._factor = f
        self.n = a.shape[0]

    def solve(self, b):
        """``A^-1 b`` (vector or n x k)."""
        return np.asarray(self._solve_a(np.ascontiguousarray(b, dtype=np.float64)))

    def inverse_block(self, idx, *, chunk=_SOLVE_CHUNK):
        """``(A^-1)[idx][:, idx]`` from forward solves, ``chunk`` columns at a time."""
        idx = np.asarray(idx, dtype=np.int64)
        n, k = self.n, idx.size
        trailing = (np.array_equal(self.perm, np.arange(n))
                    and np.array_equal(np.sort(idx), np.arange(n - k, n)))
        if not trailing:  # general order: full solves, read the rows of idx
            out = np.empty((k, k))
            for c0 in range(0, k, chunk):
                cols = np.arange(c0, min(k, c0 + chunk))
                e = np.zeros((n, cols.size))
                e[idx[cols], np.arange(cols.size)] = 1.0
                out[:, cols] = self.solve(e)[idx]
            return (out + out.T) / 2.0
        l_ff = self._trailing_block(k)
        if l_ff is not None:
            # L e_j and so L^-1 e_j vanish above row j: the trailing rows of Y = L^-1 E are
            # Y_F = L_FF^-1, so the block is Y_F^T Y_F from k^2 entries of the factor
            from scipy.linalg import solve_triangular

            y = solve_triangular(l_ff, np.eye(k), lower=True)[:, idx - (n - k)]
            return y.T @ y
        # (L^-1 e_j) is zero above row j: keep the last k rows only
        y = np.empty((k, k))
        for c0 in range(0, k, chunk):
            cols = np.arange(c0, min(k, c0 + chunk))
            e = np.zeros((n, cols.size))
            e[idx[cols], np.arange(cols.size)] = 1.0
            y[:, cols] = np.asarray(self._solve_l(e))[n - k:]
        return y.T @ y


    def _trailing_block(self, k):
        """``L[n-k:, n-k:]`` read in place from the supernodal factor, or None.

        scikit-sparse 0.4 exposes the factor only through solves or a copy of the whole
        ``L`` (``Factor.L()``, 60 M entries on 1000 x 1000 cells), while the trailing block
        of ``k`` focal nodes is ``k^2`` entries of its last supernodes. Read through
        ``ctypes`` only when the object's layout is the one this was written for (two
        fields, the first the exposed ``_common``) and the ``cholmod_factor`` it points to
        is a real double supernodal ``L L^T`` of this matrix; else None (forward solves).
        """
        fs = _factor_struct(self._factor)
        return None if fs is None else _supernodal_trailing_block(fs, self.n, k)


def _factor_struct(f):
    """The ``cholmod_factor`` of a scikit-sparse 0.4 ``Factor``, or None for another layout.

    Read only when the object's layout is the one this was written for: two fields after
    the object header, the first the exposed ``_common``, the second a non-null pointer.
    """
    if not (type(f).__name__ == "Factor" and type(f).__basicsize__ == 32
            and ctypes.c_void_p.from_address(id(f) + 16).value == id(getattr(f, "_common", None))):
        return None
    ptr = ctypes.c_void_p.from_address(id(f) + 24).value
    return _CholmodFactorStruct.from_address(ptr) if ptr else None


class _CholmodFactorStruct(ctypes.Structure):
    """Leading fields of CHOLMOD's ``cholmod_factor`` (cholmod.h, unchanged since CHOLMOD 1.x)."""

    _fields_ = ([(name, ctypes.c_size_t) for name in ("n", "minor")]
                + [(name, ctypes.c_void_p) for name in ("Perm", "ColCount", "IPerm")]
                + [("nzmax", ctypes.c_size_t)]
                + [(name, ctypes.c_void_p) for name in ("p", "i", "x", "z", "nz", "next", "prev")]
                + [(name, ctypes.c_size_t) for name in ("nsuper", "ssize", "xsize", "maxcsize",
                                                         "maxesize")]
                + [(name, ctypes.c_void_p) for name in ("super", "pi", "px", "s")]
                + [(name, ctypes.c_int) for name in ("ordering", "is_ll", "is_super",
                                                      "is_monotonic", "itype", "xtype", "dtype")])


def _c_array(address, dtype, start, stop, *, copy=True):
    """Elements ``start:stop`` of the C array of ``dtype`` at ``address``: a copy, or with
    ``copy=False`` a view valid only while the C array lives."""
    dtype = np.dtype(dtype)
    count = int(stop) - int(start)
    if count <= 0:
        return np.zeros(0, dtype=dtype)
    buf = (ctypes.c_char * (count * dtype.itemsize)).from_address(address + int(start) * dtype.itemsize)
    view = np.frombuffer(buf, dtype=dtype)
    return view.copy() if copy else view


def _supernodal_trailing_block(fs, n, k):
    """Dense ``L[n-k:, n-k:]`` of a supernodal ``L L^T`` factor ``fs``, or None when ``fs``
    is not one (checked: size, kind, value type, index type, supernode bounds).

    Supernode ``q`` holds columns ``super[q] .. super[q+1]-1``, their rows
    ``s[pi[q] .. pi[q+1]-1]`` (ascending, the columns themselves first) and the values
    column-major from ``x[px[q]]`` with leading dimension ``pi[q+1] - pi[q]``.
    """
    # CHOLMOD_INT = 0, CHOLMOD_LONG = 2; CHOLMOD_REAL = 1; CHOLMOD_DOUBLE = 0
    if not (fs.n == n and fs.minor == n and fs.is_super == 1 and fs.is_ll == 1 and fs.xtype == 1
            and fs.dtype == 0 and fs.itype in (0, 2) and 0 < fs.nsuper <= n and 0 < k <= n
            and fs.super and fs.pi and fs.px and fs.s and fs.x):
        return None
    idx = np.int32 if fs.itype == 0 else np.int64
    ns = int(fs.nsuper)
    sup = _c_array(fs.super, idx, 0, ns + 1)
    if sup[0] != 0 or sup[-1] != n or np.any(np.diff(sup) <= 0):
        return None
    first = n - k
    q0 = int(np.searchsorted(sup, first, side="right")) - 1
    pi = _c_array(fs.pi, idx, q0, ns + 1)
    px = _c_array(fs.px, idx, q0, ns + 1)
    if (pi[0] < 0 or px[0] < 0 or np.any(np.diff(pi) < 0) or np.any(np.diff(px) < 0)
            or pi[-1] > fs.ssize or px[-1] > fs.xsize):
        return None
    out = np.zeros((k, k))
    for q in range(q0, ns):
        c0, c1 = int(sup[q]), int(sup[q + 1])
        rows = _c_array(fs.s, idx, pi[q - q0], pi[q - q0 + 1])
        nrow = rows.size
        if nrow < c1 - c0 or px[q - q0] + nrow * (c1 - c0) > px[q - q0 + 1]:
            return None
        # a view: only the trailing rows of the trailing columns are copied (the last
        # supernode alone holds ~1,500^2 values on a 1000 x 1000 grid's half)
        vals = _c_array(fs.x, np.float64, px[q - q0], px[q - q0] + nrow * (c1 - c0), copy=False)
        vals = vals.reshape(c1 - c0, nrow)  # one row of vals per column of L
        j0 = max(c0, first)
        below = rows >= first
        out[np.ix_(rows[below] - first, np.arange(j0, c1) - first)] = vals[j0 - c0:][:, below].T
    return np.tril(out)


# CHOLMOD's numeric factorization without the GIL. scikit-sparse 0.4 holds the GIL through
# ``cholmod_factorize`` (its module never releases it), so two factorizations in two threads
# run one after the other. A direct call through ctypes releases the GIL: the symbolic
# analysis stays scikit-sparse's, the numeric one is CHOLMOD's own entry point called on the
# factor and the settings (``cholmod_common``) that analysis left, read in place after the
# layout checks below; any mismatch and the caller keeps the serial path.

#: ``cholmod_start``'s defaults of the leading ``cholmod_common`` fields (cholmod_core.h,
#: CHOLMOD 2.x-3.x): they identify the struct inside scikit-sparse's ``Common`` object.
_COMMON_DEFAULTS = {"dbound": 0.0, "grow0": 1.2, "grow1": 1.2, "grow2": 5, "maxrank": 8,
                    "supernodal_switch": 40.0}
_CHOLMOD_SUPERNODAL = 2
_CHOLMOD_NATURAL = 0


class _CholmodCommonHead(ctypes.Structure):
    """Leading fields of CHOLMOD's ``cholmod_common`` (cholmod_core.h, CHOLMOD 2.x-3.x)."""

    _fields_ = ([(name, ctypes.c_double) for name in ("dbound", "grow0", "grow1")]
                + [(name, ctypes.c_size_t) for name in ("grow2", "maxrank")]
                + [("supernodal_switch", ctypes.c_double)]
                + [(name, ctypes.c_int) for name in ("supernodal", "final_asis", "final_super",
                                                      "final_ll", "final_pack", "final_monotonic",
                                                      "final_resymbol")]
                + [("zrelax", ctypes.c_double * 3), ("nrelax", ctypes.c_size_t * 3)]
                + [(name, ctypes.c_int) for name in ("prefer_zomplex", "prefer_upper",
                                                      "quick_return_if_not_posdef", "prefer_binary",
                                                      "print", "precise", "try_catch")]
                + [("error_handler", ctypes.c_void_p)])


class _CholmodSparseStruct(ctypes.Structure):
    """CHOLMOD's ``cholmod_sparse`` (cholmod_core.h, unchanged since CHOLMOD 1.x)."""

    _fields_ = ([(name, ctypes.c_size_t) for name in ("nrow", "ncol", "nzmax")]
                + [(name, ctypes.c_void_p) for name in ("p", "i", "nz", "x", "z")]
                + [(name, ctypes.c_int) for name in ("stype", "itype", "xtype", "dtype", "sorted",
                                                      "packed")])


def _common_struct(f):
    """The ``cholmod_common`` of a scikit-sparse 0.4 ``Factor`` after a supernodal analysis, or None.

    scikit-sparse's ``Common`` holds the struct right after the object header and its
    C-method table pointer; it is taken for one only when ``cholmod_start``'s defaults and
    the supernodal mode of the analysis are found there.
    """
    c = getattr(f, "_common", None)
    offset = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)
    if type(c).__name__ != "Common" or type(c).__basicsize__ < offset + ctypes.sizeof(_CholmodCommonHead):
        return None
    head = _CholmodCommonHead.from_address(id(c) + offset)
    if (any(getattr(head, name) != value for name, value in _COMMON_DEFAULTS.items())
            or head.supernodal != _CHOLMOD_SUPERNODAL or list(head.zrelax) != [0.8, 0.1, 0.05]
            or list(head.nrelax) != [4, 16, 48]):
        return None
    return head


class _CholmodLibrary(typing.NamedTuple):
    """ctypes entry points of the libcholmod (and its BLAS, OpenMP) that scikit-sparse calls;
    each dict maps CHOLMOD's index type (0 int, 2 long) to the ``cholmod_*`` / ``cholmod_l_*`` one."""

    factorize: dict
    threads: tuple | None  # openblas_get_num_threads, openblas_set_num_threads
    omp: tuple | None  # omp_get_max_active_levels, omp_set_max_active_levels
    analyze: dict
    free_factor: dict


@functools.lru_cache(maxsize=None)
def _cholmod_library(path):
    """``cholmod_analyze`` / ``cholmod_factorize`` / ``cholmod_free_factor`` (int and long
    versions), OpenBLAS' thread setters (when CHOLMOD's BLAS is OpenBLAS) and OpenMP's
    active-levels setters (when CHOLMOD is built with OpenMP) of the library the extension
    ``path`` was linked against, or None."""
    try:
        # dlsym on the extension's handle searches its dependencies: the very libcholmod
        # (and BLAS) scikit-sparse calls, whatever its path
        lib = ctypes.CDLL(path)
        factorize = {0: lib.cholmod_factorize, 2: lib.cholmod_l_factorize}
        analyze = {0: lib.cholmod_analyze, 2: lib.cholmod_l_analyze}
        free_factor = {0: lib.cholmod_free_factor, 2: lib.cholmod_l_free_factor}
    except (OSError, AttributeError):
        return None
    for fn in factorize.values():
        fn.argtypes = [ctypes.c_void_p] * 3
        fn.restype = ctypes.c_int
    for fn in analyze.values():
        fn.argtypes = [ctypes.c_void_p] * 2
        fn.restype = ctypes.c_void_p  # cholmod_factor *
    for fn in free_factor.values():
        fn.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
        fn.restype = ctypes.c_int
    threads = _int_getter_setter(lib, "openblas_get_num_threads", "openblas_set_num_threads")
    omp = _int_getter_setter(lib, "omp_get_max_active_levels", "omp_set_max_active_levels")
    return _CholmodLibrary(factorize, threads, omp, analyze, free_factor)


def _int_getter_setter(lib, get, set_):
    """``(int get(void), void set(int))`` of ``lib``, or None when it lacks them."""
    try:
        pair = (getattr(lib, get), getattr(lib, set_))
    except AttributeError:
        return None
    pair[0].restype = ctypes.c_int
    pair[1].argtypes = [ctypes.c_int]
    return pair


def _nogil_cholmod():
    """The ctypes entry points when CHOLMOD can be called without the GIL here, else None.

    Checked on a 2 x 2 matrix end to end (analysis, layouts, numeric factorization, the
    factor's values): scikit-sparse 0.5, another build or another CHOLMOD give None.
    """
    ch = cholmod_module()
    if ch is None or not hasattr(ch, "analyze") or hasattr(ch, "CholeskyFactor"):
        return None
    lib = _cholmod_library(ch.__file__)
    if lib is None:
        return None
    probe = sp.csc_matrix(np.array([[4.0, 0.0], [2.0, 5.0]]))  # L = [[2, 0], [1, 2]]
    f = ch.analyze(probe, mode="supernodal", ordering_method="natural")
    if not _factorize_nogil(lib, f, probe):
        return None
    l = _supernodal_trailing_block(_factor_struct(f), 2, 2)
    return lib if l is not None and np.array_equal(l, [[2.0, 0.0], [1.0, 2.0]]) else None


def _factorize_nogil(lib, f, a):
    """Supernodal numeric factorization of the analysed ``f`` with the lower triangle of ``a``
    by a direct ``cholmod_factorize`` call (the GIL released); False on any mismatch or when
    ``a`` is not positive definite."""
    fs, common = _factor_struct(f), _common_struct(f)
    if (fs is None or common is None or fs.itype not in lib[0] or fs.n != a.shape[0]
            or fs.is_super != 1 or fs.ordering != _CHOLMOD_NATURAL):
        return False
    mat, _arrays = _lower_sparse_struct(a, fs.itype)
    # scikit-sparse's error handler raises Python exceptions from inside CHOLMOD: off for the
    # call (the status is read from the factor instead)
    handler, common.error_handler = common.error_handler, None
    try:
        ok = lib[0][fs.itype](ctypes.addressof(mat), ctypes.addressof(fs), ctypes.addressof(common))
    finally:
        common.error_handler = handler
    return _factorized(ok, fs)


def _factorized(ok, fs):
    # cholmod_factorize's status: a real numeric L L^T of every column (minor = n)
    return ok == 1 and fs.minor == fs.n and fs.xtype == 1 and fs.is_ll == 1


def _lower_sparse_struct(a, itype):
    """``cholmod_sparse`` over the CSC arrays of ``a`` (its lower triangle read: stype -1) with
    CHOLMOD index type ``itype``, and the arrays it points into (keep them alive while used)."""
    idx = np.int32 if itype == 0 else np.int64
    indptr = np.ascontiguousarray(a.indptr, dtype=idx)
    indices = np.ascontiguousarray(a.indices, dtype=idx)
    data = np.ascontiguousarray(a.data, dtype=np.float64)
    # CHOLMOD_REAL = 1, CHOLMOD_DOUBLE = 0, sorted, packed
    mat = _CholmodSparseStruct(a.shape[0], a.shape[1], data.size, indptr.ctypes.data,
                               indices.ctypes.data, None, data.ctypes.data, None, -1, itype,
                               1, 0, 1, 1)
    return mat, (indptr, indices, data)


_BLAS_LOCK = threading.Lock()
_BLAS_SAVED = {"users": 0, "threads": None}


@contextmanager
def _blas_threads(lib, n):
    """OpenBLAS (CHOLMOD's BLAS) at ``n`` threads inside the block, when it is OpenBLAS.

    Blocks may overlap (solves in several threads): the first one in saves the setting, the
    last one out restores it.
    """
    threads = None if lib is None else lib[1]
    if threads is None:
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_SAVED["users"] == 0:
            _BLAS_SAVED["threads"] = threads[0]()
        _BLAS_SAVED["users"] += 1
        threads[1](n)
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_SAVED["users"] -= 1
            if _BLAS_SAVED["users"] == 0:
                threads[1](_BLAS_SAVED["threads"])


@contextmanager
def _openmp_serial(lib):
    """CHOLMOD's OpenMP regions on one thread (the calling one) inside the block.

    CHOLMOD 3 (Debian's build) opens OpenMP teams of a fixed size (4) in its supernodal
    numeric factorization; with two factorizations at once on two cores their worker threads
    spin beside the factorizations (about 0.5 CPU-s and 0.3 s of wall time of the 1000 x 1000,
    20-point job); beside one factorization with two BLAS threads they take ~20 % of its CPU.
    A maximum of 0 active levels makes every region run on its encountering thread; the
    team's work is scatter-adds into disjoint columns, so the factor is the same.
    The setting is an internal control variable of the calling thread (libgomp since GCC 11,
    LLVM's libomp), saved and restored here.
    """
    omp = None if lib is None or len(lib) < 3 else lib[2]
    if omp is None or not _omp_levels_per_thread(omp):
        yield
        return
    saved = omp[0]()
    omp[1](0)
    try:
        yield
    finally:
        omp[1](saved)


_OMP_PER_THREAD: dict = {}


def _omp_levels_per_thread(omp) -> bool:
    """Whether OpenMP's max-active-levels setting is the calling thread's own (OpenMP 5.0; libgomp
    since GCC 11, LLVM's libomp): set on another thread, it must not show here. Where it is
    process-wide, two factor threads saving and restoring it could leave it at 0 for good, so
    :func:`_openmp_serial` then leaves it alone. Probed once per library."""
    key = id(omp[0])  # the getter is kept with the answer below, so its id is not reused
    if key not in _OMP_PER_THREAD:
        here = omp[0]()
        set_there, read_here = threading.Event(), threading.Event()

        def other() -> None:
            omp[1](here + 1)
            set_there.set()
            read_here.wait()
            omp[1](here)

        probe = threading.Thread(target=other)
        probe.start()
        set_there.wait()
        own = omp[0]() == here  # while the other thread holds here + 1
        read_here.set()
        probe.join()
        _OMP_PER_THREAD[key] = (omp[0], own and omp[0]() == here)
    return _OMP_PER_THREAD[key][1]


def _cholmod_half_schur(lib, a, t):
    """``L_TT L_TT^T`` of the supernodal Cholesky factor of ``a`` (lower triangle, the ``t``
    separator nodes last), i.e. its Schur complement onto them; None when not computable.

    Symbolic analysis, numeric factorization and the free of the factor are CHOLMOD's own
    calls through ctypes, so the GIL is released for all three (scikit-sparse 0.4's ``analyze``
    holds it: the two halves' analyses, ~0.05 s each on 1000 x 1000 cells, ran one after the
    other). The ``cholmod_common`` is that of a scikit-sparse ``Factor`` of a 2 x 2 matrix
    analysed with the same settings (supernodal, natural order), one per call and thread; the
    factor is CHOLMOD's, freed here.
    """
    idx = np.int64 if np.int64 in (a.indptr.dtype, a.indices.dtype) else np.int32
    probe = sp.csc_matrix(np.array([[4.0, 0.0], [2.0, 5.0]]))
    probe.indptr, probe.indices = probe.indptr.astype(idx), probe.indices.astype(idx)
    holder = cholmod_module().analyze(probe, mode="supernodal", ordering_method="natural")
    common, fs0 = _common_struct(holder), _factor_struct(holder)
    if common is None or fs0 is None or fs0.itype not in lib.analyze:
        return None
    itype, n = fs0.itype, a.shape[0]
    mat, _arrays = _lower_sparse_struct(a, itype)
    l_tt = None
    handler, common.error_handler = common.error_handler, None  # see _factorize_nogil
    try:
        ptr = lib.analyze[itype](ctypes.addressof(mat), ctypes.addressof(common))
        if not ptr:
            return None
        try:
            fs = _CholmodFactorStruct.from_address(ptr)
            if (fs.n == n and fs.is_super == 1 and fs.ordering == _CHOLMOD_NATURAL
                    and fs.itype == itype and fs.Perm
                    and np.array_equal(_c_array(fs.Perm, np.int32 if itype == 0 else np.int64, 0, n),
                                       np.arange(n))):
                with _openmp_serial(lib):
                    ok = lib.factorize[itype](ctypes.addressof(mat), ptr, ctypes.addressof(common))
                if _factorized(ok, fs):
                    l_tt = _supernodal_trailing_block(fs, n, t)
        finally:
            lib.free_factor[itype](ctypes.byref(ctypes.c_void_p(ptr)), ctypes.addressof(common))
    finally:
        common.error_handler = handler
    return None if l_tt is None else l_tt @ l_tt.T


def _superlu_half_schur(a, t):
    """Schur complement of ``a`` (both triangles, the ``t`` last nodes) from SuperLU's factor
    in symmetric mode (it releases the GIL), or None when SuperLU reordered."""
    lu = _spla().splu(a, permc_spec="NATURAL", **_SPD_OPTIONS)
    if not _order_kept(lu):
        return None
    u_tt = lu.U[-t:, -t:].toarray()
    del lu
    # U = D L^T in symmetric mode
    return ((u_tt / np.diag(u_tt)[:, None]).T) @ u_tt


def estimate_memory_bytes(n_nodes, nnz, *, method, n_rhs=1, ordering="nested_dissection"):
    """Bytes a solver needs for one connected component.

    Parameters
    ----------
    n_nodes : int
        Nodes of the component.
    nnz : int
        Stored entries of its Laplacian (about 9 per node on an 8-neighbour grid).
    method : {"direct", "amg", "multigrid"}
        Solver.
    n_rhs : int, optional
        Right-hand sides solved at once (focal points - 1 for pairwise); for ``multigrid`` the
        points whose solutions are kept.
    ordering : {"nested_dissection", "minimum_degree"}, optional
        Fill-reducing order of the direct factor: nested dissection for raster graphs
        (node coordinates known), minimum degree otherwise.

    Returns
    -------
    int
        Estimated peak bytes.

    Notes
    -----
    direct with CHOLMOD (from ``CHOLMOD_MIN_NODES`` nodes, scikit-sparse installed):
    ``12 * 3.5 * n * log2(n) + 24 * nnz + 16 * n * (n_rhs + 1) + 200 * n``: the
    supernodal ``L`` holds about ``3.2 n log2 n`` entries (60 M at 1000 x 1000) of 8 bytes
    plus supernode indices; float64 right-hand sides and solutions; graph, Laplacian copies and
    current map. Fitted to the circuit stage's measured peaks (1000 x 1000, 6 focal points:
    1.08 GiB measured, 1.19 GiB modelled; 2000 x 2000: 4.59 against 5.06 GiB).

    direct with SuperLU:
    ``18 * f * n * log2(n) + 24 * nnz + 16 * n * n_rhs + 32 * n`` bytes, with the fill
    factor ``f = 6.5`` (nested dissection) or ``f = 8`` (minimum degree): the factor
    ``L + U`` of a planar grid Laplacian holds about ``f n log2 n`` entries of 12-15 bytes,
    plus a copy while reading its trailing block (about 18 bytes an entry in all),
    beside two copies of the matrix and the right-hand sides and solutions. An 8-neighbour
    grid of 1000 x 1000 cells needs about 2.5 GiB (measured peak of the whole job: 2.4 GiB),
    2000 x 2000 about 11 GiB, 4000 x 4000 about 47 GiB. ``method="auto"`` factorizes
    components of up to ``DIRECT_MAX_NODES`` nodes that fit and uses AMG-CG above.

    amg: ``8 * nnz + 850 * n + 16 * n * n_rhs``: the circuit stage's path (float64 Laplacian
    and pyamg hierarchy, right-hand sides and solutions, current map), measured 801-915 bytes
    per node (500^2-2000^2, 6 focal points) and ~840 on the 16.4 M-cell scale circuit
    (14.3 GiB). The single-pair path without current (float32 :class:`LeanAMG`) needs far less
    (327-351 bytes per node; 4000 x 4000 cells 3.82 GiB for the whole job), so the model is
    conservative there.

    The grid multigrid (:mod:`gridamg`), which ``auto`` takes instead of the factor for up
    to 8 focal points, measured 258-284 bytes per node with one right-hand side at a time;
    batched right-hand sides add up to ``2 * gridamg.BATCH_BUDGET_BYTES`` (1000 x 1000, 8
    points: 0.60 GiB for the job against 1.05 GiB with the factor): below the direct estimate.

    multigrid (``method="multigrid"``, the grid multigrid from the raster's cells, streamed;
    ``n_rhs`` = the points whose solutions are kept): ``MULTIGRID_BYTES_PER_NODE * n + 16 * n *
    n_rhs``: the stencil and the hierarchy, two solves at a time, the conductance raster and the
    component mask per node, plus ``x`` and ``r`` (float64) of each kept point.

    Every method adds a fixed 32 MiB (workspaces, BLAS buffers; ``_SOLVER_FIXED_BYTES``).
    """
    if method == "multigrid":
        return int(MULTIGRID_BYTES_PER_NODE * n_nodes + 16 * n_nodes * n_rhs + _SOLVER_FIXED_BYTES)
    if method == "direct" and n_nodes >= CHOLMOD_MIN_NODES and cholmod_module() is not None:
        n = max(int(n_nodes), 2)
        return int(_BYTES_PER_CHOLMOD_ENTRY * _FILL_CHOLMOD * n * np.log2(n) + 24 * nnz
                   + 16 * n * (n_rhs + 1) + _CHOLMOD_BYTES_PER_NODE * n + _SOLVER_FIXED_BYTES)
    if method == "direct":
        fill = _FILL_ND if ordering == "nested_dissection" else _FILL_MMD
        n = max(int(n_nodes), 2)
        return int(_BYTES_PER_FACTOR_ENTRY * fill * n * np.log2(n) + 24 * nnz
                   + 16 * n * n_rhs + 32 * n + _SOLVER_FIXED_BYTES)
    return int(_AMG_BYTES_PER_NNZ * nnz + _AMG_BYTES_PER_NODE * n_nodes + 16 * n_nodes * n_rhs
               + _SOLVER_FIXED_BYTES)


#: The solver methods (``stages.circuit.solver``).
METHODS = ("auto", "direct", "amg", "multigrid")


def check_method(method):
    """Refuse (InvalidParameterError) a solver method not in :data:`METHODS`."""
    if method not in METHODS:
        raise InvalidParameterError(
            f"solver method {method!r} is unknown; use one of {', '.join(METHODS)}")


def choose_method(n_nodes, nnz, *, method="auto", n_rhs=1, memory_limit_bytes=None,
                  ordering="nested_dissection"):
    """Pick ``"direct"`` or ``"amg"`` and check the job fits in memory.

    Parameters
    ----------
    n_nodes, nnz, n_rhs, ordering
        As for :func:`estimate_memory_bytes`.
    method : {"auto", "direct", "amg", "multigrid"}, optional
        ``"auto"`` takes the direct factor while :func:`estimate_memory_bytes` says it
        needs less than ``DIRECT_MEMORY_SHARE`` (60 %) of ``memory_limit_bytes``, else AMG-CG.
        The factor is faster whenever it fits (1000 x 1000 cells: 4 s to factor, 0.07 s a
        solve, against about 6 s of AMG setup and 2 s a CG solve).
    memory_limit_bytes : int, optional
        Default: the memory available now (``MemAvailable``).

    Returns
    -------
    str
        ``"direct"`` or ``"amg"`` (a forced method: itself).

    Raises
    ------
    ResourceError
        When even AMG-CG needs more than ``memory_limit_bytes``, or a forced method does.
    """
    check_method(method)
    limit = available_memory_bytes() if memory_limit_bytes is None else memory_limit_bytes
    if method == "auto":
        method = auto_method(n_nodes, nnz, n_rhs=n_rhs, memory_limit_bytes=limit, ordering=ordering)
    need = estimate_memory_bytes(n_nodes, nnz, method=method, n_rhs=n_rhs, ordering=ordering)
    if need > limit:
        raise ResourceError(
            f"circuit solve of {n_nodes} nodes needs about {need / 2**30:.1f} GiB "
            f"({method}) but {limit / 2**30:.1f} GiB are available; coarsen the raster or "
            "restrict it with a mask"
        )
    return method


def auto_method(n_nodes, nnz, *, n_rhs=1, memory_limit_bytes, ordering="nested_dissection"):
    """The solver ``method="auto"`` takes: ``"direct"`` while its estimate is below
    ``DIRECT_MEMORY_SHARE`` of ``memory_limit_bytes`` (bytes) and ``n_nodes <= DIRECT_MAX_NODES``,
    else ``"amg"``. Never raises (:func:`choose_method` checks the need)."""
    need_direct = estimate_memory_bytes(n_nodes, nnz, method="direct", n_rhs=n_rhs, ordering=ordering)
    fits = need_direct < DIRECT_MEMORY_SHARE * memory_limit_bytes
    return "direct" if fits and n_nodes <= DIRECT_MAX_NODES else "amg"


def planned_memory_bytes(n_nodes, nnz, *, n_rhs=1, memory_limit_bytes, ordering="nested_dissection"):
    """Bytes to plan for a ``method="auto"`` solve, checked before anything is allocated.

    The estimate of the path :func:`auto_method` picks for ``memory_limit_bytes``; when that is
    the direct factor, the larger of the direct and the AMG-CG estimates, because the solver
    decides again on the memory free when it starts (less than now) and may fall back to
    AMG-CG. (The grid multigrid that ``auto`` uses for few focal points instead of the factor
    needs less than either, see bench/README.md.)
    """
    amg = estimate_memory_bytes(n_nodes, nnz, method="amg", n_rhs=n_rhs)
    if auto_method(n_nodes, nnz, n_rhs=n_rhs, memory_limit_bytes=memory_limit_bytes, ordering=ordering) == "amg":
        return amg
    return max(amg, estimate_memory_bytes(n_nodes, nnz, method="direct", n_rhs=n_rhs, ordering=ordering))


class GroundedSolver:
    """Solve ``L x = b`` on one component with node ``ground`` held at 0 V.

    Parameters
    ----------
    lap : scipy.sparse matrix
        Laplacian (plus optional finite-ground diagonal) of one connected component.
    ground : int or None
        Local index of the node fixed at 0 V; None when ``lap`` is already non-singular.
    method : {"direct", "amg"}
        Factorize once (CHOLMOD supernodal Cholesky when scikit-sparse imports, else
        SuperLU), or build a smoothed-aggregation AMG hierarchy once and run
        preconditioned CG per right-hand side.
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
        self._chol = None
        if kept.size == 0:
            self._solve = lambda b: np.zeros_like(b)
        elif method == "direct" and kept.size >= CHOLMOD_MIN_NODES and cholmod_module() is not None:
            perm = kept
            if coords is not None:
                perm = kept[nested_dissection_order(np.asarray(coords)[kept])]
                if last_nodes is not None:
                    perm = _move_last(perm, last_nodes, n)
            a = principal_submatrix(lap, perm)
            self._chol = CholmodFactor(a, natural=coords is not None)
            del a
            pos = np.zeros(n, dtype=np.int64)
            pos[perm] = np.arange(perm.size)
            self._pos = pos
            self._solve = _permuted(self._chol.solve, pos[kept])
        elif method == "direct" and coords is not None:
            perm = kept[nested_dissection_order(np.asarray(coords)[kept])]
            if last_nodes is not None:
                last = np.asarray(last_nodes, dtype=np.int64)
                perm = _move_last(perm, last, n)
            a = principal_submatrix(lap, perm)
            lu = _spla().splu(a, permc_spec="NATURAL", **_SPD_OPTIONS)
            if last_nodes is not None and _order_kept(lu):
                self._last, self._lu = last, lu
            pos = np.zeros(n, dtype=np.int64)
            pos[perm] = np.arange(perm.size)
            self._solve = _permuted(lu.solve, pos[kept])
        elif method == "direct":
            a = principal_submatrix(lap, kept)
            self._solve = _spla().splu(a, permc_spec="MMD_AT_PLUS_A", **_SPD_OPTIONS).solve
        elif overwrite and ground is not None and sp.isspmatrix_csr(lap):
            # ground in place (row and column of the ground -> identity) instead of copying
            # the matrix without them: the solution is the same, with x[ground] = b[ground] = 0
            deg = _degree64(lap)
            _ground_in_place(lap, ground)
            if deg is not None:
                deg[ground] = 1.0
            self.keep = np.ones(n, dtype=bool)
            self._solve = _amg_solver(lap, tol, deg)
        else:
            deg = _degree64(lap)
            self._solve = _amg_solver(principal_submatrix(lap, kept), tol,
                                      None if deg is None else deg[kept])

    def solve(self, b):
        """Voltages (length n, or n x k) for injected currents ``b`` (amperes)."""
        b = np.array(b, dtype=np.float64)
        if self.ground is not None:
            b[self.ground] = 0.0
        if self._all_kept:  # grounded in place: no gather/scatter copies of big vectors
            return np.asarray(self._solve(b), dtype=np.float64).reshape(b.shape)
        out = np.zeros(b.shape)
        out[self.keep] = self._solve(np.ascontiguousarray(b[self.keep]))
        return out

    @property
    def _all_kept(self):
        return bool(self.keep.all())

    def inverse_block(self, nodes):
        """``G[i, j]``: voltage at ``nodes[i]`` for 1 A injected at ``nodes[j]`` (ohm).

        CHOLMOD: ``Y^T Y`` with ``Y = L^-1 P E`` (forward solves only; with ``nodes`` the
        ``last_nodes`` only the trailing rows of ``Y``, ``L_FF^-1``, read from the factor
        when it can be). SuperLU: read from the
        factor when ``nodes`` are the ``last_nodes`` of a nested-dissection factor, else one
        solve per node.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        if self._chol is not None:
            return self._chol.inverse_block(self._pos[nodes])
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


def _move_last(perm, last, n):
    """``perm`` with the nodes ``last`` moved to its end, in the order given."""
    last = np.asarray(last, dtype=np.int64)
    is_last = np.zeros(n, dtype=bool)
    is_last[last] = True
    return np.concatenate([perm[~is_last[perm]], last])


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


def _degree64(lap):
    """Float64 diagonal ``-sum of off-diagonals`` of a float32 Laplacian (None for float64).

    Rounding the stored diagonal to float32 on its own would leave rows that no longer sum
    to zero: parasitic grounds of about 1e-7 of each node's conductance, which on a large
    grid shift effective resistances by 1e-5 to 1e-4. With this diagonal the operator is
    exactly the Laplacian of the float32-rounded conductances (R within about 1e-7).
    """
    if lap.dtype != np.float32:
        return None
    a = sp.csr_matrix(lap)
    if _offdiag_neg_sum is None:
        off = a - sp.diags(a.diagonal())
        return -np.asarray(off.astype(np.float64).sum(axis=1)).ravel()
    return _offdiag_neg_sum(a.indptr, a.indices, a.data)


def _amg_solver(a, tol, deg=None):
    # symmetric: reuse the CSC arrays as CSR instead of converting (saves a matrix copy)
    a = sp.csr_matrix((a.data, a.indices, a.indptr), shape=a.shape) if sp.isspmatrix_csc(a) \
        else sp.csr_matrix(a)
    if a.dtype == np.float32:
        return _lean_amg_cg(a, tol, deg)
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
    return _pcg(a, ml.aspreconditioner(cycle="V"), tol)


def _pcg(op, m, tol):
    """Solver of ``op x = b`` (vector or columns) by CG with preconditioner ``m``."""

    def _cg(b):
        if b.ndim == 2:
            return np.column_stack([_cg(b[:, k]) for k in range(b.shape[1])])
        if not np.any(b):
            return np.zeros_like(b)
        x, _ = _spla().cg(op, b, rtol=tol, atol=0.0, M=m, maxiter=2000)
        return x

    return _cg


#: Coarsest AMG level solved densely at or below this many nodes.
_AMG_COARSE_NODES = 600
#: Jacobi weight of the prolongator smoother, ``omega / rho(D^-1 A)`` with pyamg's default
#: ``omega = 4/3`` and ``rho(D^-1 A) <= 2`` for a (grounded) Laplacian (Gershgorin).
_AMG_JACOBI = 2.0 / 3.0


class LeanAMG:
    """Smoothed-aggregation AMG V-cycle in single precision, built with few temporaries.

    Parameters
    ----------
    a : scipy.sparse.csr_matrix of float32
        SPD matrix (a grounded Laplacian), sorted indices, diagonal stored.

    Notes
    -----
    The hierarchy of pyamg's ``smoothed_aggregation_solver`` (standard aggregation on the
    matrix graph, constant candidate, one Jacobi step ``P = (I - w D^-1 A) T``, Galerkin
    ``A_c = P^T A P``) built without a strength matrix, a spectral-radius estimate
    (``w = 2/3``) or the scaled copies of ``A`` that pyamg makes: about 100 bytes per node
    of temporaries above ``A`` instead of about 450 with float64. Smoothing is one
    symmetric Gauss-Seidel sweep before and after the coarse correction, in float32; the
    preconditioner only shapes the search directions of CG, which iterates in float64.
    """

    def __init__(self, a):
        from pyamg.aggregation.aggregate import standard_aggregation

        self.levels = []
        while a.shape[0] > _AMG_COARSE_NODES and len(self.levels) < 12:
            agg, _ = standard_aggregation(a)
            agg = sp.csr_matrix(agg)
            nc = agg.shape[1]
            if nc == 0 or nc >= a.shape[0]:
                break
            # tentative prolongator: constant on each aggregate, unit columns
            size = np.bincount(agg.indices, minlength=nc).astype(np.float32)
            t = sp.csr_matrix((1.0 / np.sqrt(size[agg.indices]), agg.indices, agg.indptr),
                              shape=agg.shape, dtype=np.float32)
            del agg, size
            dinv = (1.0 / a.diagonal()).astype(np.float32)
            at = a @ t
            at = sp.csr_matrix(sp.diags(_AMG_JACOBI * dinv) @ at)
            p = (t - at).tocsr()
            del t, at
            p.sort_indices()
            ap = a @ p
            coarse = (p.T.tocsr() @ ap).tocsr()
            del ap
            coarse.sort_indices()
            self.levels.append((a, p, p.T))  # restriction: a CSC view, no copy
            a = coarse.astype(np.float32)
        self.coarse = a
        dense = a.toarray().astype(np.float64)
        # the coarsest matrix may be singular when the ground is far away: least squares
        self.coarse_inv = np.linalg.pinv(dense).astype(np.float32)

    def vcycle(self, b):
        """One V-cycle on ``A x = b`` from ``x = 0`` (float32 vectors)."""
        from pyamg.relaxation.relaxation import gauss_seidel

        return self._cycle(0, np.asarray(b, dtype=np.float32), gauss_seidel)

    def _cycle(self, lvl, b, gs):
        if lvl == len(self.levels):
            return self.coarse_inv @ b
        a, p, r = self.levels[lvl]
        x = np.zeros_like(b)
        gs(a, x, b, iterations=1, sweep="symmetric")
        res = b - a @ x
        x += p @ self._cycle(lvl + 1, r @ res, gs)
        gs(a, x, b, iterations=1, sweep="symmetric")
        return x


def _lean_amg_cg(a, tol, deg):
    """Float64 CG on a float32 matrix (float64 diagonal ``deg``) with :class:`LeanAMG`."""
    ml = LeanAMG(a)
    if deg is None:
        deg = a.diagonal().astype(np.float64)
    op = _spla().LinearOperator(a.shape, matvec=lambda x: _matvec32(a, deg, x), dtype=np.float64)
    m = _spla().LinearOperator(a.shape, matvec=lambda r: ml.vcycle(r).astype(np.float64),
                            dtype=np.float64)
    return _pcg(op, m, tol)


def _matvec32(a, deg, x):
    """``A x`` in float64: float32 off-diagonals of CSR ``a``, float64 diagonal ``deg``."""
    x = np.ascontiguousarray(np.ravel(x), dtype=np.float64)
    if _csr_matvec is None:
        out = deg * x
        step = 1 << 20  # scipy would upcast the whole matrix: do it a block of rows at a time
        for r0 in range(0, a.shape[0], step):
            blk = a[r0:r0 + step].astype(np.float64)
            out[r0:r0 + step] += blk @ x - blk.diagonal(k=r0) * x[r0:r0 + blk.shape[0]]
        return out
    return _csr_matvec(a.indptr, a.indices, a.data, deg, x)


try:
    from numba import njit as _njit
    from numba import prange as _prange
except ImportError:  # pragma: no cover - numba is a dependency
    _csr_matvec = _offdiag_neg_sum = None
else:
    @_njit(parallel=True, cache=True, nogil=True)
    def _csr_matvec(indptr, indices, data, deg, x):
        n = indptr.size - 1
        out = np.empty(n)
        for r in _prange(n):
            acc = deg[r] * x[r]
            for q in range(indptr[r], indptr[r + 1]):
                j = indices[q]
                if j != r:
                    acc += np.float64(data[q]) * x[j]
            out[r] = acc
        return out

    @_njit(cache=True, nogil=True)
    def _offdiag_neg_sum(indptr, indices, data):
        n = indptr.size - 1
        out = np.empty(n)
        for r in range(n):
            acc = 0.0
            for q in range(indptr[r], indptr[r + 1]):
                if indices[q] != r:
                    acc -= np.float64(data[q])
            out[r] = acc
        return out


def split_inverse_block(lap, ground, nodes, coords, *, workers=2, backend="superlu",
                        of_adjacency=False):
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
        Threads for the two halves (both backends factorize without the GIL).
    backend : {"superlu", "cholmod"}, optional
        SuperLU in symmetric mode, or CHOLMOD's supernodal Cholesky called without the GIL
        (scikit-sparse 0.4 only; None is returned where that call cannot be made).
    of_adjacency : bool, optional
        ``lap`` is the component's conductance adjacency instead: the blocks of its
        Laplacian are built from it (:func:`habitat.connectivity.circuit.graph.principal_submatrix`
        with ``of_laplacian``), the same values without the whole Laplacian.

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
    the block is ``S_F^-1``. The two factorizations run on two cores at once; with CHOLMOD
    ``S_i = L_TT L_TT^T`` from the trailing block of its supernodal ``L`` read in place,
    with OpenBLAS at one thread per factorization while both run.
    """
    from concurrent.futures import ThreadPoolExecutor

    lib = None
    if backend == "cholmod":
        lib = _nogil_cholmod()
        if lib is None:
            return None
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
        a = principal_submatrix(lap, perm, lower=lib is not None, of_laplacian=of_adjacency)
        return _superlu_half_schur(a, t) if lib is None else _cholmod_half_schur(lib, a, t)

    # CHOLMOD's OpenBLAS at one thread: two factorizations share the two cores, and with
    # one worker its second thread only spin-waits (1-2 system CPU-s per 1000 x 1000 factor)
    with _blas_threads(lib, 1):
        if workers > 1:
            with ThreadPoolExecutor(2) as pool:
                s1, s2 = pool.map(_half, [low, high])
        else:
            s1, s2 = _half(low), _half(high)
    if s1 is None or s2 is None:
        return None
    s = s1 + s2 - principal_submatrix(lap, t_nodes, of_laplacian=of_adjacency).toarray()
    k = nodes.size
    s_f = s[:k, :k] - s[:k, k:] @ np.linalg.solve(s[k:, k:], s[k:, :k])
    return np.linalg.inv((s_f + s_f.T) / 2.0)
