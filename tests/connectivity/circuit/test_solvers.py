"""Known-answer tests of the solvers, pairwise shortcut, currents and memory refusal."""

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
from habitat.errors import ResourceError


def _chain(conductances):
    n = len(conductances) + 1
    i = np.arange(n - 1)
    return sp.csr_matrix(sp.coo_matrix((conductances, (i, i + 1)), shape=(n, n)) +
                         sp.coo_matrix((conductances, (i + 1, i)), shape=(n, n)))


@pytest.mark.parametrize("method", ["direct", "amg"])
def test_series_resistances_all_pairs(method):
    adj = _chain([1.0, 0.5, 0.25])  # resistors 1, 2, 4 ohm in series
    res = pairwise_resistances(adj, [0, 1, 3, -1], method=method)
    expected = np.array([[0, 1, 7, -1], [1, 0, 6, -1], [7, 6, 0, -1], [-1, -1, -1, 0]])
    assert_allclose(res, expected, atol=1e-8)


def test_square_of_unit_resistors():
    # 2 x 2 cells of conductance 1, 4 neighbours: two 2-ohm paths in parallel -> 1 ohm
    g = np.ones((2, 2))
    nm = build_node_map(g)
    adj = build_adjacency(g, nm, four_neighbors=True)
    res = pairwise_resistances(adj, [nm[0, 0] - 1, nm[1, 1] - 1, nm[0, 1] - 1])
    assert_allclose(res, [[0, 1, 0.75], [1, 0, 0.75], [0.75, 0.75, 0]])


def test_pair_voltages_and_node_currents():
    adj = _chain([1.0, 1.0])
    got = []
    pairwise_resistances(adj, [0, 2], on_pair=got.append)
    sol = got[0]
    assert_allclose(sol.voltages, [0.0, 1.0, 2.0])
    assert_allclose(node_currents(sol.adjacency, sol.voltages), [1.0, 1.0, 1.0])


def test_advanced_finite_and_direct_ground():
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


def test_memory_formula_and_refusal():
    # 18 * 6.5 * n log2 n + 24 nnz + 16 n n_rhs + 32 n with n = 1024, nnz = 9000
    assert estimate_memory_bytes(1024, 9000, method="direct") == int(
        18 * 6.5 * 1024 * 10 + 24 * 9000 + 16 * 1024 + 32 * 1024)
    assert estimate_memory_bytes(1024, 9000, method="direct", ordering="minimum_degree") == int(
        18 * 8.0 * 1024 * 10 + 24 * 9000 + 16 * 1024 + 32 * 1024)
    assert estimate_memory_bytes(1024, 9000, method="amg", n_rhs=3) == 80 * 9000 + 8 * 1024 * 11
    with pytest.raises(ResourceError, match="coarsen"):
        choose_method(10**8, 9 * 10**8, memory_limit_bytes=10**9)
    assert choose_method(1000, 9000, memory_limit_bytes=10**12) == "direct"
    # a 4000 x 4000 grid does not fit the direct factor in 24 GiB, AMG does
    n, nnz = 16 * 10**6, 144 * 10**6
    assert choose_method(n, nnz, memory_limit_bytes=24 * 2**30) == "amg"
    with pytest.raises(ResourceError, match="direct"):
        choose_method(n, nnz, method="direct", memory_limit_bytes=24 * 2**30)
