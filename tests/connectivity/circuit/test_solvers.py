"""Known-answer tests of the solvers, pairwise shortcut, currents and memory refusal."""

import ctypes

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from habitat.connectivity.circuit import (
    build_adjacency,
    build_node_map,
    choose_method,
    estimate_memory_bytes,
    node_currents,
    pairwise_resistances,
    resolve_sources_grounds,
    solve_sources_grounds,
)
from habitat.connectivity.circuit import solvers
from habitat.errors import ResourceError


def _chain(conductances):
    n = len(conductances) + 1
    i = np.arange(n - 1)
    return sp.csr_matrix(sp.coo_matrix((conductances, (i, i + 1)), shape=(n, n)) +
                         sp.coo_matrix((conductances, (i + 1, i)), shape=(n, n)))


@pytest.mark.parametrize("method", ["direct", "amg"])
def test_series_resistances_all_pairs(method, direct_backend):
    adj = _chain([1.0, 0.5, 0.25])  # resistors 1, 2, 4 ohm in series
    res = pairwise_resistances(adj, [0, 1, 3, -1], method=method)
    expected = np.array([[0, 1, 7, -1], [1, 0, 6, -1], [7, 6, 0, -1], [-1, -1, -1, 0]])
    assert_allclose(res, expected, atol=1e-8)


def test_square_of_unit_resistors(direct_backend):
    # 2 x 2 cells of conductance 1, 4 neighbours: two 2-ohm paths in parallel -> 1 ohm
    g = np.ones((2, 2))
    nm = build_node_map(g)
    adj = build_adjacency(g, nm, four_neighbors=True)
    res = pairwise_resistances(adj, [nm[0, 0] - 1, nm[1, 1] - 1, nm[0, 1] - 1])
    assert_allclose(res, [[0, 1, 0.75], [1, 0, 0.75], [0.75, 0.75, 0]])


def test_pair_voltages_and_node_currents(direct_backend):
    adj = _chain([1.0, 1.0])
    got = []
    pairwise_resistances(adj, [0, 2], on_pair=got.append)
    sol = got[0]
    assert_allclose(sol.voltages, [0.0, 1.0, 2.0])
    assert_allclose(node_currents(sol.adjacency, sol.voltages), [1.0, 1.0, 1.0])


def test_advanced_finite_and_direct_ground(direct_backend):
    adj = _chain([1.0, 1.0])  # 0 -1- 1 -1- 2
    sources = np.array([1.0, 0.0, 0.0])
    grounds = np.array([0.0, 0.5, np.inf])
    s, g, fg = resolve_sources_grounds(sources, grounds, policy="keepall")
    v, _ = solve_sources_grounds(adj, s, g, fg)
    # 1 A reaches node 1 and leaves by 0.5 S to ground and 1 S to node 2 (0 V):
    # 1 = 0.5 v1 + v1 -> v1 = 2/3, v0 = v1 + 1 = 5/3
    assert_allclose(v, [5 / 3, 2 / 3, 0.0])
    assert_allclose(node_currents(adj, v, finite_grounds=fg), [1.0, 1.0, 2 / 3])


def test_conflict_policies():
    s, g, _ = resolve_sources_grounds(np.array([1.0, 2.0]), np.array([3.0, 0.0]), policy="rmvsrc")
    assert_allclose(s, [0.0, 2.0])
    s, g, _ = resolve_sources_grounds(np.array([1.0, 2.0]), np.array([3.0, 0.0]), policy="rmvgnd")
    assert_allclose(g, [0.0, 0.0])


def test_memory_formula_and_refusal(monkeypatch):
    monkeypatch.setattr(solvers, "USE_CHOLMOD", False)  # SuperLU fill model
    # 18 * 6.5 * n log2 n + 24 nnz + 16 n n_rhs + 32 n + 32 MiB with n = 1024, nnz = 9000
    assert estimate_memory_bytes(1024, 9000, method="direct") == int(
        18 * 6.5 * 1024 * 10 + 24 * 9000 + 16 * 1024 + 32 * 1024 + 2**25)
    assert estimate_memory_bytes(1024, 9000, method="direct", ordering="minimum_degree") == int(
        18 * 8.0 * 1024 * 10 + 24 * 9000 + 16 * 1024 + 32 * 1024 + 2**25)
    assert estimate_memory_bytes(1024, 9000, method="amg", n_rhs=3) == (
        8 * 9000 + 850 * 1024 + 16 * 1024 * 3 + 2**25)
    with pytest.raises(ResourceError, match="coarsen"):
        choose_method(10**8, 9 * 10**8, memory_limit_bytes=10**9)
    assert choose_method(1000, 9000, memory_limit_bytes=10**12) == "direct"
    # a 4000 x 4000 grid does not fit the direct factor in 24 GiB, AMG does
    n, nnz = 16 * 10**6, 144 * 10**6
    assert choose_method(n, nnz, memory_limit_bytes=24 * 2**30) == "amg"
    with pytest.raises(ResourceError, match="direct"):
        choose_method(n, nnz, method="direct", memory_limit_bytes=24 * 2**30)


def _grid_laplacian(shape, seed):
    from habitat.connectivity.circuit import laplacian
    from habitat.connectivity.circuit.ordering import node_coordinates

    rng = np.random.default_rng(seed)
    g = rng.uniform(0.1, 2.0, shape)
    g[rng.random(shape) < 0.05] = 0.0
    nm = build_node_map(g)
    adj = build_adjacency(g, nm)
    return adj, laplacian(adj), node_coordinates(nm)


@pytest.mark.parametrize("with_coords", [True, False])
def test_cholmod_inverse_block_equals_dense_inverse(with_coords, monkeypatch):
    monkeypatch.setattr(solvers, "CHOLMOD_MIN_NODES", 0)
    if solvers.cholmod_module() is None:
        pytest.skip("scikit-sparse not installed (optional extra 'fast')")
    _, lap, coords = _grid_laplacian((12, 9), 3)
    nodes = np.array([40, 3, 17, 62, 25, 9, 33, 50, 11, 70, 1])
    expected = np.linalg.inv(lap.toarray()[1:, 1:])[np.ix_(nodes - 1, nodes - 1)]
    # with coords: our order, nodes last, forward solves (P = I); without: CHOLMOD's own
    # order and full solves
    solver = solvers.GroundedSolver(lap, 0, coords=coords if with_coords else None,
                                    last_nodes=nodes if with_coords else None)
    assert solver._chol is not None
    assert_allclose(solver.inverse_block(nodes), expected, rtol=1e-10)
    assert_allclose(solver.inverse_block(nodes[::-1]), expected[::-1, ::-1], rtol=1e-10)
    b = np.zeros(lap.shape[0])
    b[nodes[0]] = 1.0
    assert_allclose(solver.solve(b)[1:], np.linalg.solve(lap.toarray()[1:, 1:], b[1:]),
                    rtol=1e-10)


@pytest.mark.parametrize("k", [1, 11, 40])
def test_cholmod_trailing_block_read_in_place_equals_the_factor_and_forward_solves(k, monkeypatch):
    # the k x k trailing block read from the supernodal factor's memory is L[n-k:, n-k:]
    # (Factor.L() copies the whole factor), and the resistances block from it equals the one
    # from forward solves over the whole factor and the dense inverse
    monkeypatch.setattr(solvers, "CHOLMOD_MIN_NODES", 0)
    if solvers.cholmod_module() is None:
        pytest.skip("scikit-sparse not installed (optional extra 'fast')")
    _, lap, coords = _grid_laplacian((30, 25), 5)
    n = lap.shape[0]
    nodes = np.random.default_rng(2).choice(np.arange(1, n), size=k, replace=False)
    solver = solvers.GroundedSolver(lap, 0, coords=coords, last_nodes=nodes)
    chol = solver._chol
    block = chol._trailing_block(k)
    if block is None:
        pytest.skip("this scikit-sparse keeps its factor out of reach (forward solves used)")
    m = n - 1
    if hasattr(chol._factor, "L"):
        full = chol._factor.L().toarray()
        assert_allclose(block, full[m - k:, m - k:], rtol=1e-12, atol=0.0)
    fast, fast_rev = solver.inverse_block(nodes), solver.inverse_block(nodes[::-1])
    monkeypatch.setattr(solvers.CholmodFactor, "_trailing_block", lambda self, k: None)
    assert_allclose(fast, solver.inverse_block(nodes), rtol=1e-12, atol=0.0)
    assert_allclose(fast_rev, solver.inverse_block(nodes[::-1]), rtol=1e-12, atol=0.0)
    expected = np.linalg.inv(lap.toarray()[1:, 1:])[np.ix_(nodes - 1, nodes - 1)]
    assert_allclose(fast, expected, rtol=1e-10)


def test_cholmod_and_superlu_give_the_same_resistances(monkeypatch):
    monkeypatch.setattr(solvers, "CHOLMOD_MIN_NODES", 0)
    if solvers.cholmod_module() is None:
        pytest.skip("scikit-sparse not installed (optional extra 'fast')")
    adj, _, coords = _grid_laplacian((60, 45), 4)
    focal = np.array([0, 100, 900, 1500, 2000, 2400, 37, 1234, 5, 2500])
    with_chol = pairwise_resistances(adj, focal, node_coords=coords, method="direct")
    monkeypatch.setattr(solvers, "USE_CHOLMOD", False)
    with_lu = pairwise_resistances(adj, focal, node_coords=coords, method="direct")
    assert_allclose(with_chol, with_lu, rtol=1e-10)


def test_auto_takes_amg_beyond_the_direct_size_limit():
    n = solvers.DIRECT_MAX_NODES + 1
    assert choose_method(n, 9 * n, memory_limit_bytes=2**50) == "amg"
    assert choose_method(10**5, 9 * 10**5, memory_limit_bytes=2**50) == "direct"


def test_lean_amg_on_a_float32_laplacian_matches_the_direct_solve():
    # 70 x 50 cells: several AMG levels (coarsest at most 600 nodes); float32 conductances
    # with the float64 diagonal keep R within 1e-7 of the float64 direct answer
    from habitat.connectivity.circuit import laplacian

    adj, lap64, coords = _grid_laplacian((70, 50), 9)
    lap32 = laplacian(adj, dtype=np.float32)
    assert lap32.dtype == np.float32
    amg = solvers.GroundedSolver(lap32.copy(), 0, method="amg", tol=1e-10, overwrite=True)
    direct = solvers.GroundedSolver(lap64, 0, method="direct")
    nodes = np.array([5, 400, 1700, 3000])
    assert_allclose(amg.inverse_block(nodes), direct.inverse_block(nodes), rtol=1e-7)
    ml = solvers.LeanAMG(sp.csr_matrix(lap32[1:, 1:]))
    assert len(ml.levels) >= 1 and ml.coarse.shape[0] <= 600
    focal = [0, 1234, 3300]
    assert_allclose(pairwise_resistances(adj, focal, method="amg"),
                    pairwise_resistances(adj, focal, method="direct"), rtol=1e-7)


def test_multigrid_memory_is_linear_in_the_nodes():
    # 300 bytes a node + 16 per node per kept point + 32 MiB; no n log n term, so doubling the
    # nodes doubles the variable part, where the direct factor's grows by more
    assert estimate_memory_bytes(10**6, 9 * 10**6, method="multigrid", n_rhs=9) == (
        300 * 10**6 + 16 * 9 * 10**6 + 2**25)
    one, two = (estimate_memory_bytes(n, 9 * n, method="multigrid", n_rhs=9) - 2**25 for n in (10**6, 2 * 10**6))
    assert two == 2 * one
    d1, d2 = (estimate_memory_bytes(n, 9 * n, method="direct", n_rhs=9) - 2**25 for n in (10**6, 2 * 10**6))
    assert d2 > 2.05 * d1 and d1 > 2 * one


def _nogil_cholmod_or_skip(monkeypatch):
    monkeypatch.setattr(solvers, "USE_CHOLMOD", True)
    monkeypatch.setattr(solvers, "CHOLMOD_MIN_NODES", 0)
    if solvers.cholmod_module() is None:
        pytest.skip("scikit-sparse not installed (optional extra 'fast'): CHOLMOD split skipped")
    lib = solvers._nogil_cholmod()
    if lib is None:
        pytest.skip("this scikit-sparse's CHOLMOD cannot be called without the GIL (serial path)")
    return lib


def _split_case(shape, seed, n_nodes):
    from habitat.connectivity.circuit import components, laplacian
    from habitat.connectivity.circuit.ordering import node_coordinates

    rng = np.random.default_rng(seed)
    g = rng.uniform(0.1, 2.0, shape)
    g[rng.random(shape) < 0.05] = 0.0
    regions = np.zeros(shape, dtype=int)
    regions[5:8, 5:9] = 1  # a multi-cell node: goes with the separator
    nm = build_node_map(g, regions=regions)
    adj = build_adjacency(g, nm)
    comp = max(components(adj), key=len)
    lap = laplacian(adj[comp][:, comp])
    nodes = rng.choice(np.arange(1, comp.size), size=n_nodes, replace=False)
    return lap, node_coordinates(nm)[comp], nodes


@pytest.mark.parametrize("shape, n_nodes", [((40, 30), 8), ((150, 120), 19)])
def test_cholmod_split_equals_the_inverse_and_the_serial_factor(shape, n_nodes, monkeypatch):
    # tiny grid: the dense inverse; 18,000 nodes: sparse solves of the unit columns
    import scipy.sparse.linalg as spla

    _nogil_cholmod_or_skip(monkeypatch)
    lap, coords, nodes = _split_case(shape, 8, n_nodes)
    a = sp.csc_matrix(lap)[1:, 1:]
    if a.shape[0] <= 2000:
        expected = np.linalg.inv(a.toarray())[np.ix_(nodes - 1, nodes - 1)]
    else:
        e = np.zeros((a.shape[0], nodes.size))
        e[nodes - 1, np.arange(nodes.size)] = 1.0
        expected = spla.splu(a).solve(e)[nodes - 1]
    serial = solvers.GroundedSolver(lap, 0, coords=coords, last_nodes=nodes).inverse_block(nodes)
    superlu = solvers.split_inverse_block(lap, 0, nodes, coords, backend="superlu")
    for workers in (1, 2):
        got = solvers.split_inverse_block(lap, 0, nodes, coords, workers=workers, backend="cholmod")
        assert_allclose(got, expected, rtol=1e-10)
        assert_allclose(got, serial, rtol=1e-10)
        assert_allclose(got, superlu, rtol=1e-10)


def test_cholmod_split_falls_back_when_the_layout_differs(monkeypatch):
    # another scikit-sparse or CHOLMOD: the split declines (None) and the job takes the serial
    # factor, with the same resistances
    import habitat.connectivity.circuit.solve as solve_mod

    _nogil_cholmod_or_skip(monkeypatch)
    lap, coords, nodes = _split_case((40, 30), 3, 6)
    adj = -(lap - sp.diags(lap.diagonal()))
    monkeypatch.setattr(solve_mod, "_SPLIT_MIN_NODES", 1)
    split = pairwise_resistances(adj, np.concatenate([[0], nodes]), node_coords=coords)
    calls = []
    real = solvers.GroundedSolver

    def serial(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(solve_mod, "GroundedSolver", serial)
    monkeypatch.setattr(solvers, "_common_struct", lambda f: None)
    assert solvers._nogil_cholmod() is None
    assert solvers.split_inverse_block(lap, 0, nodes, coords, backend="cholmod") is None
    fallback = pairwise_resistances(adj, np.concatenate([[0], nodes]), node_coords=coords)
    assert calls  # the serial CHOLMOD factor answered
    assert_allclose(fallback, split, rtol=1e-10)


def test_cholmod_called_without_the_gil_reports_an_indefinite_matrix(monkeypatch):
    lib = _nogil_cholmod_or_skip(monkeypatch)
    # cholmod_core.h of CHOLMOD 3.0: the fields written or checked sit where C puts them
    head = solvers._CholmodCommonHead
    assert (head.zrelax.offset, head.nrelax.offset, head.print.offset, head.error_handler.offset) \
        == (80, 104, 144, 160)
    assert ctypes.sizeof(solvers._CholmodSparseStruct) == 88
    a = sp.csc_matrix(np.array([[1.0, 0.0], [2.0, 1.0]]))  # eigenvalues 3 and -1
    f = solvers.cholmod_module().analyze(a, mode="supernodal", ordering_method="natural")
    assert not solvers._factorize_nogil(lib, f, a)  # no exception, no factor to read
    assert solvers._factor_struct(f).minor < 2
    spd = sp.csc_matrix(np.array([[9.0, 0.0], [3.0, 5.0]]))  # L = [[3, 0], [1, 2]]
    assert solvers._factorize_nogil(lib, f, spd)
    assert_allclose(solvers._supernodal_trailing_block(solvers._factor_struct(f), 2, 2),
                    [[3.0, 0.0], [1.0, 2.0]], rtol=0, atol=1e-15)
    # 64-bit indices: scikit-sparse analyses with cholmod_l_*, the call is cholmod_l_factorize
    wide = sp.csc_matrix(spd)
    wide.indptr, wide.indices = wide.indptr.astype(np.int64), wide.indices.astype(np.int64)
    f = solvers.cholmod_module().analyze(wide, mode="supernodal", ordering_method="natural")
    assert solvers._factor_struct(f).itype == 2
    assert solvers._factorize_nogil(lib, f, wide)
    assert_allclose(solvers._supernodal_trailing_block(solvers._factor_struct(f), 2, 2),
                    [[3.0, 0.0], [1.0, 2.0]], rtol=0, atol=1e-15)


def test_blas_threads_restored_after_overlapping_blocks():
    calls = []
    threads = [4]
    lib = (None, (lambda: threads[0], lambda k: (calls.append(k), threads.__setitem__(0, k))))
    with solvers._blas_threads(lib, 1):
        with solvers._blas_threads(lib, 1):
            assert threads[0] == 1
        assert threads[0] == 1  # the outer block still runs
    assert threads[0] == 4 and calls == [1, 1, 4]
    with solvers._blas_threads(None, 1):  # no OpenBLAS: nothing to set
        pass
    assert calls == [1, 1, 4]


def test_openmp_serial_sets_and_restores_the_active_levels_of_the_calling_thread(monkeypatch):
    import threading

    local, calls = threading.local(), []

    def get():
        return getattr(local, "levels", 1)

    def set_(k):
        calls.append(k)
        local.levels = k

    lib = (None, None, (get, set_))  # an OpenMP whose setting is per thread (OpenMP 5.0)
    with solvers._openmp_serial(lib):
        assert get() == 0  # every OpenMP region inside runs on the calling thread alone
    assert get() == 1 and calls[-2:] == [0, 1]
    with pytest.raises(RuntimeError):
        with solvers._openmp_serial(lib):
            raise RuntimeError("factorization failed")
    assert get() == 1  # restored on errors too
    shared, shared_calls = [1], []
    process_wide = (None, None, (lambda: shared[0], lambda k: (shared_calls.append(k), shared.__setitem__(0, k))))
    with solvers._openmp_serial(process_wide):
        assert shared[0] == 1  # a process-wide setting (older libgomp) is left alone
    assert shared == [1] and shared_calls == [2, 1]  # only the probe's set and restore
    for no_omp in (None, (None, None), (None, None, None)):  # no CHOLMOD / no OpenMP
        with solvers._openmp_serial(no_omp):
            pass
    real = _nogil_cholmod_or_skip(monkeypatch)
    if real[2] is None:
        pytest.skip("this CHOLMOD is built without OpenMP")
    before = real[2][0]()
    with solvers._openmp_serial(real):
        assert real[2][0]() == 0
    assert real[2][0]() == before


def test_serial_cholmod_factor_is_the_same_with_openmp_on_one_thread(monkeypatch):
    # the whole-matrix factor runs its OpenMP regions on the calling thread: the same bits
    import contextlib

    _nogil_cholmod_or_skip(monkeypatch)
    lap, coords, nodes = _split_case((150, 150), 5, 19)
    entered = []
    real = solvers._openmp_serial

    def spy(lib):
        entered.append(lib is not None and lib[2] is not None)
        return real(lib)

    monkeypatch.setattr(solvers, "_openmp_serial", spy)
    serial = solvers.GroundedSolver(lap, 0, coords=coords, last_nodes=nodes).inverse_block(nodes)
    assert entered
    if not any(entered):
        pytest.skip("this CHOLMOD is built without OpenMP: nothing to compare")
    monkeypatch.setattr(solvers, "_openmp_serial", lambda lib: contextlib.nullcontext())
    teams = solvers.GroundedSolver(lap, 0, coords=coords, last_nodes=nodes).inverse_block(nodes)
    np.testing.assert_array_equal(serial, teams)
