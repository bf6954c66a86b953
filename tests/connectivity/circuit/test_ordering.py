"""Known-answer tests of the nested-dissection order and the direct solver that uses it."""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.circuit import (
    build_adjacency,
    build_node_map,
    components,
    conductance_from_raster,
    laplacian,
    pairwise_resistances,
)
from habitat.connectivity.circuit.ordering import (
    nested_dissection_order,
    node_coordinates,
)
from habitat.connectivity.circuit import solvers
from habitat.connectivity.circuit.solvers import GroundedSolver, split_inverse_block


def test_node_coordinates_mark_regions():
    g = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    nm = build_node_map(g, regions=np.array([[0, 7, 7], [0, 0, 0]]))  # [[1,3,3],[2,4,5]]
    assert_array_equal(node_coordinates(nm), [[0, 0], [1, 0], [-1, -1], [1, 1], [1, 2]])


def test_node_coordinates_compiled_pass_equals_the_numpy_steps(monkeypatch):
    from habitat.connectivity.circuit import ordering

    rng = np.random.default_rng(4)
    g = rng.uniform(0.0, 1.0, (23, 31))
    g[g < 0.2] = 0.0
    regions = np.zeros(g.shape, dtype=int)
    regions[2:5, 3:9] = 1
    regions[17, 20:30] = 2  # two regions of several cells: (-1, -1)
    for reg in (None, regions):
        nm = build_node_map(g, regions=reg)
        compiled = node_coordinates(nm)
        with monkeypatch.context() as m:
            m.setattr(ordering, "njit", None)
            plain = node_coordinates(nm)
        assert compiled.dtype == plain.dtype
        assert_array_equal(compiled, plain)
    assert np.count_nonzero(compiled[:, 0] < 0) == 2


def test_nested_dissection_3x3_by_hand():
    # nodes numbered column-major: node k sits at row k % 3, column k // 3.
    # cut at row 1 -> row 0 {0,3,6}, row 2 {2,5,8}, separator {1,4,7};
    # row 0 cut at column 1 -> {0}, {6}, separator {3}; likewise row 2.
    coords = np.column_stack([np.arange(9) % 3, np.arange(9) // 3])
    assert_array_equal(nested_dissection_order(coords, leaf_nodes=1),
                       [0, 6, 3, 2, 8, 5, 1, 4, 7])


def test_nested_dissection_line_and_region_nodes_last():
    coords = np.array([[0, 0], [0, 1], [-1, -1], [0, 2], [0, 3], [0, 4]])
    # cut at column 2 -> {0,1} and {3,4} (cannot split further: median on their edge)
    assert_array_equal(nested_dissection_order(coords, leaf_nodes=1), [0, 1, 4, 5, 3, 2])


def test_nested_dissection_reduces_fill_on_a_grid():
    g = np.ones((60, 60))
    nm = build_node_map(g)
    a = sp.csc_matrix(laplacian(build_adjacency(g, nm)))[1:][:, 1:]
    perm = nested_dissection_order(node_coordinates(nm)[1:])
    assert_array_equal(np.sort(perm), np.arange(a.shape[0]))
    opts = {"diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}}
    nd = spla.splu(a[perm][:, perm].tocsc(), permc_spec="NATURAL", **opts)
    natural = spla.splu(a, permc_spec="NATURAL", **opts)
    assert nd.L.nnz + nd.U.nnz < 0.5 * (natural.L.nnz + natural.U.nnz)


def test_direct_with_coords_matches_minimum_degree_and_amg():
    rng = np.random.default_rng(3)
    res = rng.uniform(1, 100, (23, 17))
    res[rng.random(res.shape) < 0.1] = np.nan
    res[0, :] = 5.0  # a connected top row carrying the focal points
    regions = np.zeros(res.shape, dtype=int)
    regions[10:13, 4:9] = 1  # a short-circuit block: coordinates -1, ordered last
    g = conductance_from_raster(res, is_resistance=True)
    nm = build_node_map(g, regions=regions)
    adj = build_adjacency(g, nm)
    focal = [nm[0, 0] - 1, nm[0, 16] - 1, nm[11, 5] - 1, nm[0, 8] - 1]
    coords = node_coordinates(nm)
    with_nd = pairwise_resistances(adj, focal, method="direct", node_coords=coords)
    with_mmd = pairwise_resistances(adj, focal, method="direct")
    with_amg = pairwise_resistances(adj, focal, method="amg", node_coords=coords)
    assert_allclose(with_nd, with_mmd, rtol=1e-10)
    assert_allclose(with_amg, with_mmd, rtol=1e-6)
    assert np.all(with_nd[~np.eye(4, dtype=bool)] > 0)


def test_schur_block_path_square_by_hand():
    # 2 x 2 unit cells, 4 neighbours: diagonal corners 1 ohm, adjacent corners 0.75 ohm
    g = np.ones((2, 2))
    nm = build_node_map(g)
    adj = build_adjacency(g, nm, four_neighbors=True)
    focal = [nm[0, 0] - 1, nm[1, 1] - 1, nm[0, 1] - 1]
    res = pairwise_resistances(adj, focal, method="direct", node_coords=node_coordinates(nm))
    assert_allclose(res, [[0, 1, 0.75], [1, 0, 0.75], [0.75, 0.75, 0]], rtol=1e-12)


def test_schur_block_path_matches_solves_with_duplicates_and_exclusions():
    rng = np.random.default_rng(5)
    res = rng.uniform(1, 10, (30, 20))
    res[15, :] = np.nan  # two components
    g = conductance_from_raster(res, is_resistance=True)
    nm = build_node_map(g)
    adj = build_adjacency(g, nm)
    # 9 distinct nodes in the top component: enough for the factor-block path
    top = [nm[r, c] - 1 for r, c in [(0, 0), (3, 7), (5, 19), (9, 2), (14, 14), (1, 12), (7, 7),
                                      (12, 1)]]
    focal = [nm[2, 3] - 1, nm[20, 5] - 1, nm[10, 18] - 1, nm[2, 3] - 1, -1, nm[29, 19] - 1] + top
    coords = node_coordinates(nm)
    exclude = {(0, 2)}
    fast = pairwise_resistances(adj, focal, exclude=exclude, node_coords=coords)
    slow = pairwise_resistances(adj, focal, exclude=exclude, node_coords=coords,
                                on_pair=lambda sol: None)
    assert_allclose(fast, slow, rtol=1e-9)
    assert fast[0, 2] == -1 and fast[0, 3] == 0 and fast[0, 1] == -1 and fast[1, 5] > 0


def test_inverse_block_from_factor_equals_solves(monkeypatch):
    monkeypatch.setattr(solvers, "USE_CHOLMOD", False)  # the SuperLU factor-block path
    rng = np.random.default_rng(8)
    g = rng.uniform(0.1, 2.0, (9, 7))
    nm = build_node_map(g)
    lap = laplacian(build_adjacency(g, nm))
    coords = node_coordinates(nm)
    last = np.array([40, 3, 17, 62, 25, 9, 33, 50, 11])
    from_factor = GroundedSolver(lap, 0, coords=coords, last_nodes=last)
    assert from_factor._lu is not None  # the factor-block path is the one under test
    by_solves = GroundedSolver(lap, 0)
    expected = np.linalg.inv(lap.toarray()[1:, 1:])[np.ix_(last - 1, last - 1)]
    assert_allclose(from_factor.inverse_block(last), expected, rtol=1e-10)
    assert_allclose(by_solves.inverse_block(last), expected, rtol=1e-10)


def test_split_inverse_block_equals_dense_inverse():
    rng = np.random.default_rng(8)
    g = rng.uniform(0.1, 2.0, (40, 30))
    g[rng.random(g.shape) < 0.05] = 0.0
    regions = np.zeros(g.shape, dtype=int)
    regions[5:8, 5:9] = 1  # a multi-cell node: goes with the separator
    nm = build_node_map(g, regions=regions)
    adj = build_adjacency(g, nm)
    comp = max(components(adj), key=len)
    lap = laplacian(adj[comp][:, comp])
    coords = node_coordinates(nm)[comp]
    nodes = np.array([5, 100, 700, 30, 900, 20, 2, 1000])
    expected = np.linalg.inv(lap.toarray()[1:, 1:])[np.ix_(nodes - 1, nodes - 1)]
    for workers in (1, 2):
        assert_allclose(split_inverse_block(lap, 0, nodes, coords, workers=workers), expected,
                        rtol=1e-9)
    assert_allclose(split_inverse_block(lap, 0, nodes[:1], coords), expected[:1, :1], rtol=1e-9)


def test_pairwise_through_split_path(monkeypatch, direct_backend):
    # SuperLU halves, or CHOLMOD's called without the GIL where scikit-sparse 0.4 allows
    import habitat.connectivity.circuit.solve as solve_mod

    rng = np.random.default_rng(4)
    res = rng.uniform(1, 100, (25, 35))
    g = conductance_from_raster(res, is_resistance=True)
    nm = build_node_map(g)
    adj = build_adjacency(g, nm)
    focal = [nm[0, 0] - 1, nm[24, 34] - 1, nm[12, 17] - 1, nm[3, 30] - 1]
    slow = pairwise_resistances(adj, focal, on_pair=lambda sol: None)
    monkeypatch.setattr(solve_mod, "_SPLIT_MIN_NODES", 1)
    fast = pairwise_resistances(adj, focal, node_coords=node_coordinates(nm))
    assert_allclose(fast, slow, rtol=1e-9)


def test_compiled_nested_dissection_equals_the_numpy_recursion(monkeypatch):
    from habitat.connectivity.circuit import ordering

    rng = np.random.default_rng(11)
    for shape, leaf in [((37, 23), 8), ((9, 60), 32), ((50, 50), 1)]:
        keep = rng.random(shape) > 0.1
        jj, ii = np.nonzero(keep.T)  # column-major node numbering, as build_node_map
        coords = np.column_stack([ii, jj]) + 3  # offset: bounding box not at the origin
        coords[::41] = -1  # multi-cell nodes go last
        compiled = ordering.nested_dissection_order(coords, leaf_nodes=leaf)
        with monkeypatch.context() as m:
            m.setattr(ordering, "njit", None)
            reference = ordering.nested_dissection_order(coords, leaf_nodes=leaf)
        assert_array_equal(compiled, reference)


def test_compiled_principal_submatrix_equals_scipy_slicing(monkeypatch):
    from habitat.connectivity.circuit import graph

    rng = np.random.default_rng(12)
    a = sp.random(300, 300, density=0.03, random_state=3)
    a = (a + a.T).tocsr()
    idx = rng.permutation(300)[:250]
    got = graph.principal_submatrix(a, idx)
    with monkeypatch.context() as m:
        m.setattr(graph, "_njit", None)
        ref = graph.principal_submatrix(a, idx)
    assert_array_equal(got.indptr, ref.indptr)
    assert_array_equal(got.indices, ref.indices)
    assert_array_equal(got.data, ref.data)
    assert_array_equal(got.toarray(), a.toarray()[np.ix_(idx, idx)])
    # the lower triangle alone (what CHOLMOD reads), compiled and numpy
    low = graph.principal_submatrix(a, idx, lower=True)
    with monkeypatch.context() as m:
        m.setattr(graph, "_njit", None)
        low_ref = graph.principal_submatrix(a, idx, lower=True)
    assert low.has_sorted_indices and low.nnz < got.nnz
    assert_array_equal(low.toarray(), np.tril(a.toarray()[np.ix_(idx, idx)]))
    assert_array_equal(low.indptr, low_ref.indptr)
    assert_array_equal(low.indices, low_ref.indices)
    assert_array_equal(low.data, low_ref.data)
    # blocks of the Laplacian read from the adjacency (a stored self-loop is ignored, the
    # degree sums the whole row): the values of the compiled laplacian() to the last bit
    a.setdiag(0.5)
    lap = laplacian(a)
    for lower in (False, True):
        ref = graph.principal_submatrix(lap, idx, lower=lower)
        for compiled in (True, False):
            with monkeypatch.context() as m:
                if not compiled:
                    m.setattr(graph, "_njit", None)
                got = graph.principal_submatrix(a, idx, lower=lower, of_laplacian=True)
            assert_array_equal(got.indptr, ref.indptr)
            assert_array_equal(got.indices, ref.indices)
            if compiled:
                assert_array_equal(got.data, ref.data)
            else:  # numpy's row sums add in another order
                assert_allclose(got.data, ref.data, rtol=1e-14)
