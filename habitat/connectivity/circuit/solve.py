"""Circuit solves on a graph: pairwise effective resistances and source/ground problems."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from habitat.errors import InvalidParameterError

from .graph import components, laplacian, principal_submatrix
from . import solvers
from .solvers import GroundedSolver, check_method, choose_method, cholmod_module, split_inverse_block

_POLICIES = ("keepall", "rmvsrc", "rmvgnd", "rmvall")
_SCHUR_MIN_NODES = 8
_SPLIT_MIN_NODES = 100_000  # below, two half factorizations do not pay for the threads
_CG_TOL = 1e-8  # AMG-CG relative residual: resistances to ~1e-7 relative (Circuitscape: 1e-6)
#: Grid multigrid (:mod:`gridamg`) instead of the direct factor for ``method="auto"`` on plain
#: raster components of at least this many nodes ...
GRID_AMG_MIN_NODES = 50_000
#: ... with at most this many right-hand sides (focal points - 1). Measured on 1000 x 1000
#: (bench/README.md, 2026-11-27 21:28-21:45 UTC, load 3-5): up to 8 points the multigrid
#: (right-hand sides batched, :meth:`gridamg.GridAMG.solve_many`) takes less CPU and half the
#: memory of CHOLMOD with about the same wall time; from 12 points on, the factor is faster
#: (20 points: 5.1 CPU-s for the 19 batched solves against 3.5-5.3 for the whole factor job).
GRID_AMG_MAX_RHS = 7
#: ``method="multigrid"`` takes the grid multigrid for raster components of at least this many
#: nodes, whatever the number of focal points; smaller components take the ``auto`` path (their
#: factor costs a few MB and milliseconds, and the hierarchy would be little more than its dense
#: coarsest level of up to 400 cells).
MULTIGRID_MIN_NODES = 10_000
#: ... to this tolerance (gridamg's ``tol``; its default 1e-10 left effective resistances up to
#: 4e-9 relative from the factor's on the high-contrast 300 m scale grid, resistances 1-1000
#: ohm: 82 points, 574 x 571 cells; 1e-12 left 7e-11 for about one more CG step per solve).
MULTIGRID_TOL = 1e-12
#: ... one right-hand side at a time per thread (``gridamg.stencil_inverse_block``'s
#: ``batch_budget_bytes``): a batch holds 44 bytes a cell per right-hand side, so batches would
#: make this memory-first path grow faster than its hierarchy (measured: sites at 0.16 / 0.33 M
#: coarse cells 1.085x on doubling with single solves).
MULTIGRID_BATCH_BYTES = 0


@dataclass(frozen=True)
class PairSolution:
    """Voltages of one pairwise solve on one component.

    ``nodes`` are the global node indices of the component, ``voltages`` their voltages
    with point ``i`` at 0 V and point ``j`` at ``resistance`` volts (1 A from j to i).
    """

    i: int
    j: int
    nodes: np.ndarray
    voltages: np.ndarray
    resistance: float
    adjacency: sp.csr_matrix


def pairwise_resistances(adjacency, focal_nodes, *, exclude=None, on_pair=None,
                         method="auto", memory_limit_bytes=None, node_coords=None,
                         release_adjacency=False):
    """Effective resistance between every pair of focal nodes.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens) between ``n`` nodes.
    focal_nodes : sequence of int
        Node index of each focal point; -1 for a point that lies on no node.
    exclude : set of tuple of int, optional
        Pairs ``(p, q)``, ``p < q`` (positions in ``focal_nodes``) not to solve (left at -1).
    on_pair : callable, optional
        Called with a :class:`PairSolution` for every solved pair (for maps).
    method : {"auto", "direct", "amg", "multigrid"}, optional
        Linear solver, see :func:`habitat.connectivity.circuit.solvers.choose_method`;
        ``"multigrid"``: the grid multigrid for every raster component of at least
        ``MULTIGRID_MIN_NODES`` nodes whatever the number of focal points (memory linear in the
        nodes; with ``on_pair`` every point's voltages are kept, see
        :func:`_multigrid_solutions`), the ``auto`` path for the others.
    memory_limit_bytes : int, optional
        Refuse (ResourceError) above this; default the available memory.
    node_coords : numpy.ndarray, optional
        ``(n, 2)`` cell row/column per node (raster graphs, from
        :func:`habitat.connectivity.circuit.ordering.node_coordinates`); lets the direct
        solver use a nested-dissection order.
    release_adjacency : bool, optional
        The caller is done with ``adjacency`` (a CSR matrix): once the Laplacian of a
        graph that is one component is built, the matrix is emptied to free its memory
        (96 bytes per node of an 8-neighbour grid). Only without ``on_pair``.

    Returns
    -------
    numpy.ndarray
        ``k x k`` resistances (ohm); 0 on the diagonal and between points on one node,
        -1 for pairs in different components, on no node, or excluded.

    Notes
    -----
    Per component, one node ``a`` (the first focal node) is grounded and the grounded
    Laplacian is factorized once; ``m - 1`` solves ``L_a x_k = e_k`` give every pair:
    ``x_q - x_p`` solves ``L x = e_q - e_p``, so ``R_pq = (x_q - x_p)_q - (x_q - x_p)_p``,
    i.e. ``R_pq = G_pp + G_qq - G_pq - G_qp`` with ``G = L_a^-1`` restricted to the focal
    nodes. Without ``on_pair`` only ``G`` is needed: with ``node_coords`` and the direct
    solver the focal nodes are eliminated last and ``G`` is the inverse of the trailing
    Schur complement read from the factor (no solves at all); components of 100,000 nodes
    or more are cut along their middle row or column and the two halves factorized on two
    cores at once (:func:`habitat.connectivity.circuit.solvers.split_inverse_block`).
    With ``method="auto"``, a component of single raster cells with at least
    ``GRID_AMG_MIN_NODES`` nodes and at most ``GRID_AMG_MAX_RHS + 1`` focal nodes is solved
    by the grid multigrid instead (:func:`habitat.connectivity.circuit.gridamg.grid_inverse_block`:
    no factorization, resistances to about 1e-10 relative); it falls back to the factor
    where the graph is not a plain grid. With ``method="multigrid"`` the grid multigrid keeps
    the solutions of a few points (a greedy vertex cover) that pair with every other needed point
    (:func:`habitat.connectivity.circuit.gridamg.stream_keep`; for candidates x sources with
    the candidate pairs in ``exclude``, the sources) and streams the others.
    """
    check_method(method)
    focal = np.asarray(focal_nodes, dtype=np.int64)
    k = focal.size
    exclude = set() if exclude is None else set(exclude)
    res = -np.ones((k, k))
    adj = sp.csr_matrix(adjacency)
    comp_label = np.full(adj.shape[0], -1, dtype=np.int32)
    comps = components(adj)
    for ci, comp in enumerate(comps):
        comp_label[comp] = ci
    for ci in sorted({int(comp_label[f]) for f in focal if f >= 0}):
        comp = comps[ci]
        members = [p for p in range(k) if focal[p] >= 0 and comp_label[focal[p]] == ci]
        uniq_nodes = list(dict.fromkeys(int(focal[p]) for p in members))
        targets = np.searchsorted(comp, uniq_nodes)
        if comp.size == adj.shape[0]:
            sub = adj  # one component: no copy (a 4000 x 4000 grid's matrix is 1.5 GB)
        else:
            sym = principal_submatrix(adj, comp)
            # symmetric: the CSC arrays are also the CSR arrays
            sub = sp.csr_matrix((sym.data, sym.indices, sym.indptr), shape=sym.shape)
            del sym
        coords = None if node_coords is None else np.asarray(node_coords)
        if coords is not None and comp.size != adj.shape[0]:
            coords = coords[comp]  # a whole graph: no copy
        if on_pair is None:
            release = None
            if release_adjacency and sub is adj:
                def release():
                    _empty(adjacency)
                    _empty(adj)
            u = [uniq_nodes.index(int(focal[p])) for p in members]
            r = _component_resistances(sub, targets, coords, method, memory_limit_bytes,
                                       release, needed=_needed_pairs(members, u, exclude))
            del sub
            _scatter(res, members, u, r, exclude)
            continue
        anchor = int(targets[0])
        solved = (_multigrid_solutions(sub, coords, targets, memory_limit_bytes)
                  if method == "multigrid" else None)
        if solved is not None:  # x[:, col]: voltages for 1 A into targets[col]; R from G
            x, r_of = solved
        else:
            lap = laplacian(sub)
            chosen = choose_method(lap.shape[0], lap.nnz, method="auto" if method == "multigrid" else method,
                                   n_rhs=max(1, len(uniq_nodes) - 1),
                                   memory_limit_bytes=memory_limit_bytes,
                                   ordering=_ordering(coords))
            solver = GroundedSolver(lap, anchor, method=chosen, tol=_CG_TOL, coords=coords)
            rhs = np.zeros((lap.shape[0], len(targets)))
            for col, t in enumerate(targets):
                if t != anchor:
                    rhs[t, col] = 1.0
            x = solver.solve(rhs)
            del solver, lap, rhs
            r_of = None
        col_of = {int(focal[p]): uniq_nodes.index(int(focal[p])) for p in members}
        for a_pos, p in enumerate(members):
            for q in members[a_pos + 1:]:
                if (p, q) in exclude or (q, p) in exclude:
                    continue
                if focal[p] == focal[q]:
                    res[p, q] = res[q, p] = 0.0
                    on_pair(PairSolution(p, q, comp, np.zeros(comp.size), 0.0, sub))
                    continue
                tp, tq = targets[col_of[int(focal[p])]], targets[col_of[int(focal[q])]]
                v = x[:, col_of[int(focal[q])]] - x[:, col_of[int(focal[p])]]
                v = v - v[tp]
                r = float(v[tq] - v[tp]) if r_of is None else float(r_of[col_of[int(focal[p])],
                                                                         col_of[int(focal[q])]])
                res[p, q] = res[q, p] = r
                on_pair(PairSolution(p, q, comp, v, r, sub))
    np.fill_diagonal(res, 0.0)
    return res


def raster_pairwise_resistances(conductance, focal_cells, *, exclude=None, method="auto",
                                four_neighbors=False, avg_resistance=False,
                                memory_limit_bytes=None):
    """:func:`pairwise_resistances` of a raster's graph for a few focal cells, or None.

    The case where ``pairwise_resistances`` takes the grid multigrid (``method="auto"``, one
    node per cell, every focal cell a distinct node of one component of at least
    ``GRID_AMG_MIN_NODES`` nodes, at most ``GRID_AMG_MAX_RHS + 1`` points, the direct factor
    fitting in memory), computed from the cells without the graph: the same edge weights on
    the same grid, so the same resistances to the last bit. None in every other case (the
    caller then builds the graph and calls :func:`pairwise_resistances`).

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D cell conductances (siemens); cells > 0 are nodes.
    focal_cells : numpy.ndarray of int
        ``(k, 2)`` row and column of each focal point.
    exclude, method, memory_limit_bytes
        As for :func:`pairwise_resistances`.
    four_neighbors, avg_resistance : bool, optional
        As for :func:`habitat.connectivity.circuit.graph.build_adjacency`.

    Returns
    -------
    numpy.ndarray or None
        ``k x k`` resistances (ohm) as :func:`pairwise_resistances` returns them.
    """
    cells = np.asarray(focal_cells, dtype=np.int64).reshape(-1, 2)
    k = cells.shape[0]
    g = np.asarray(conductance)
    if (method != "auto" or not 2 <= k <= GRID_AMG_MAX_RHS + 1 or _gridamg().njit is None
            or len({(int(i), int(j)) for i, j in cells}) < k
            or np.any(cells < 0) or np.any(cells >= g.shape) or np.any(g[cells[:, 0], cells[:, 1]] <= 0)):
        return None
    mask, n, entries, box = _gridamg().raster_component(g, cells[0], four_neighbors=four_neighbors)
    if n < GRID_AMG_MIN_NODES or not np.all(mask[cells[:, 0], cells[:, 1]]):
        return None
    chosen = choose_method(n, entries + n, method=method, n_rhs=k - 1,
                           memory_limit_bytes=memory_limit_bytes, ordering=_ordering(cells))
    if not _auto_takes_grid_amg(method, chosen, n, k - 1):
        return None
    block = _gridamg().raster_inverse_block(g, mask, box, cells[0], cells[1:],
                                         four_neighbors=four_neighbors,
                                         avg_resistance=avg_resistance)
    if block is None:
        return None
    res = _resistances_from_block(block, k)
    for p, q in exclude or ():
        res[p, q] = res[q, p] = -1.0
    np.fill_diagonal(res, 0.0)
    return res


def raster_multigrid_resistances(conductance, focal_cells, *, exclude=None, four_neighbors=False,
                                 avg_resistance=False, memory_limit_bytes=None):
    """:func:`pairwise_resistances` with ``method="multigrid"`` computed from a raster's cells.

    Every component holding focal cells that has at least ``MULTIGRID_MIN_NODES`` nodes is
    solved by the streamed grid multigrid straight from the cells
    (:func:`habitat.connectivity.circuit.gridamg.raster_inverse_block`: no adjacency matrix,
    node map or coordinates; the same edge weights and numbers as the graph path); the focal
    points of the other components are returned for the caller to solve on the graph.

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D cell conductances (siemens); cells > 0 are nodes.
    focal_cells : sequence of tuple of int or None
        ``(row, col)`` of each focal point; None (or a cell that is not a node) for none.
    exclude, memory_limit_bytes
        As for :func:`pairwise_resistances`.
    four_neighbors, avg_resistance : bool, optional
        As for :func:`habitat.connectivity.circuit.graph.build_adjacency`.

    Returns
    -------
    res : numpy.ndarray
        ``k x k`` resistances (ohm) as :func:`pairwise_resistances` returns them, -1 for pairs
        in different components, on no node, excluded, or left to the caller.
    rest : list of int
        Positions of the focal points in components left to the caller (too small, or CG
        did not converge).
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    k = len(focal_cells)
    exclude = set() if exclude is None else set(exclude)
    res = -np.ones((k, k))
    on_node = [p for p, c in enumerate(focal_cells) if c is not None
               and 0 <= c[0] < g.shape[0] and 0 <= c[1] < g.shape[1] and g[c[0], c[1]] > 0]
    rest = []
    todo = list(on_node)
    while todo:
        mask, n, _, box = _gridamg().raster_component(g, focal_cells[todo[0]],
                                                   four_neighbors=four_neighbors)
        members = [p for p in todo if mask[focal_cells[p][0], focal_cells[p][1]]]
        inside = set(members)
        todo = [p for p in todo if p not in inside]
        uniq = list(dict.fromkeys((int(focal_cells[p][0]), int(focal_cells[p][1])) for p in members))
        u = [uniq.index((int(focal_cells[p][0]), int(focal_cells[p][1]))) for p in members]
        m = len(uniq)
        if m >= 2 and n < MULTIGRID_MIN_NODES:
            rest += members
            del mask
            continue
        r = np.zeros((m, m))
        if m >= 2:
            keep = _multigrid_keep(m, _needed_pairs(members, u, exclude))
            _check_multigrid_memory(n, keep, memory_limit_bytes)
            block = _gridamg().raster_inverse_block(g, mask, box, uniq[0], np.array(uniq[1:]),
                                                 four_neighbors=four_neighbors,
                                                 avg_resistance=avg_resistance, keep=keep,
                                                 tol=MULTIGRID_TOL, batch_budget_bytes=MULTIGRID_BATCH_BYTES)
            del mask
            if block is None:
                rest += members
                continue
            r = _resistances_from_block(block, m)
        _scatter(res, members, u, r, exclude)
    np.fill_diagonal(res, 0.0)
    return res, rest


def _scatter(res, members, u, r, exclude):
    """``res[p, q] = r[u_p, u_q]`` for the focal positions ``members`` of one component (on
    distinct node ``u[i]``), -1 for their pairs in ``exclude``."""
    res[np.ix_(members, members)] = r[np.ix_(u, u)]
    inside = set(members)
    for p, q in exclude:
        if p in inside and q in inside:
            res[p, q] = res[q, p] = -1.0


def _empty(m):
    """Drop the arrays of a CSR matrix in place (it becomes all zeros)."""
    if sp.isspmatrix_csr(m):
        m.data, m.indices = m.data[:0].copy(), m.indices[:0].copy()
        m.indptr = np.zeros_like(m.indptr)


def _multigrid_solutions(sub, coords, targets, memory_limit_bytes):
    """Voltages and resistances of one component by the grid multigrid, or None (not a plain
    grid of at least ``MULTIGRID_MIN_NODES`` nodes, or CG did not converge).

    Returns ``(x, r)``: ``x[:, c]`` the voltages (volts, per node) for 1 A into ``targets[c]``
    with ``targets[0]`` grounded (column 0 zero), ``r`` the ``m x m`` resistances (ohm) from the
    symmetric estimate of ``G`` (quadratic in the solve errors: within about ``MULTIGRID_TOL``
    of the factor's); the voltages themselves, hence the current maps, are accurate to about
    its square root (CG's energy-norm error), as with Circuitscape's CG (1e-6).
    """
    m, n = len(targets), sub.shape[0]
    if coords is None or n < MULTIGRID_MIN_NODES or _gridamg().njit is None:
        return None
    st = _gridamg().grid_stencil(sub, coords)
    if st is None:
        return None
    w, cells = st
    keep = np.ones(m - 1, dtype=bool)
    _check_multigrid_memory(n, keep, memory_limit_bytes)
    at = np.ravel_multi_index((cells[:, 0], cells[:, 1]), w.shape[1:])
    block, xs = _gridamg().stencil_inverse_block(w, cells[int(targets[0])], cells[np.asarray(targets[1:])],
                                              tol=MULTIGRID_TOL, keep=keep, solutions=True,
                                              batch_budget_bytes=MULTIGRID_BATCH_BYTES)
    del w
    if block is None:
        return None
    x = np.zeros((n, m))
    x[:, 1:] = xs[:, at].T
    return x, _resistances_from_block(block, m)


def _auto_takes_grid_amg(method, chosen, n_nodes, n_rhs):
    """Whether ``method="auto"`` solves a plain raster component of ``n_nodes`` nodes with
    ``n_rhs`` right-hand sides by the grid multigrid instead of the ``chosen`` factor."""
    return (method == "auto" and chosen == "direct" and n_nodes >= GRID_AMG_MIN_NODES
            and n_rhs <= GRID_AMG_MAX_RHS)


def _needed_pairs(members, u, exclude):
    """Pairs of distinct-node indices ``(a, b)`` whose resistance is asked for: the focal
    positions ``members`` (on distinct node ``u[i]``) less the pairs in ``exclude``."""
    out = set()
    for i, p in enumerate(members):
        for j in range(i + 1, len(members)):
            q = members[j]
            if u[i] != u[j] and (p, q) not in exclude and (q, p) not in exclude:
                out.add((min(u[i], u[j]), max(u[i], u[j])))
    return out


def _resistances_from_block(block, m):
    """``R`` between ``m`` points from ``G`` of the last ``m - 1`` (the first is the ground):
    ``R_pq = G_pp + G_qq - G_pq - G_qp`` (NaN where ``G_pq`` was not computed)."""
    g = np.zeros((m, m))
    g[1:, 1:] = block
    d = np.diag(g)
    return d[:, None] + d[None, :] - g - g.T


def _multigrid_keep(m, needed):
    """Which of the ``m - 1`` non-ground points the streamed multigrid keeps for ``needed``
    (pairs of point indices; pairs with the ground, point 0, need only diagonals)."""
    return _gridamg().stream_keep(m - 1, [(a - 1, b - 1) for a, b in needed if a > 0 and b > 0])


def _check_multigrid_memory(n, keep, memory_limit_bytes):
    # the multigrid's need, for the points it keeps (ResourceError when it cannot fit)
    choose_method(n, 9 * n, method="multigrid", n_rhs=int(np.sum(keep)),
                  memory_limit_bytes=memory_limit_bytes)


def _component_resistances(sub, targets, coords, method, memory_limit_bytes, release, needed):
    """Resistances between the distinct local nodes ``targets`` of one component.

    AMG-CG works on a float32 Laplacian (float64 diagonal and CG vectors), see
    :class:`habitat.connectivity.circuit.solvers.LeanAMG`; ``release()`` is called once
    the Laplacian is built (None: nothing to release). ``needed``: pairs of indices into
    ``targets`` asked for; with ``method="multigrid"`` the others may be NaN.
    """
    m = len(targets)
    if m < 2:
        return np.zeros((m, m))
    n = sub.shape[0]
    if method == "multigrid":
        if coords is not None and n >= MULTIGRID_MIN_NODES:
            keep = _multigrid_keep(m, needed)
            _check_multigrid_memory(n, keep, memory_limit_bytes)
            block = _gridamg().grid_inverse_block(sub, coords, int(targets[0]),
                                               np.asarray(targets[1:], dtype=np.int64), keep=keep,
                                               tol=MULTIGRID_TOL, batch_budget_bytes=MULTIGRID_BATCH_BYTES)
            if block is not None:
                return _resistances_from_block(block, m)
        method = "auto"  # not a plain grid, too small, or CG did not converge
    chosen = choose_method(n, sub.nnz + n, method=method, n_rhs=m - 1,
                           memory_limit_bytes=memory_limit_bytes, ordering=_ordering(coords))
    if coords is not None and _auto_takes_grid_amg(method, chosen, n, m - 1):
        block = _gridamg().grid_inverse_block(sub, coords, int(targets[0]),
                                           np.asarray(targets[1:], dtype=np.int64))
        if block is not None:
            return _resistances_from_block(block, m)
    others = np.asarray(targets[1:], dtype=np.int64)
    chol = chosen == "direct" and n > solvers.CHOLMOD_MIN_NODES and cholmod_module() is not None
    block = None
    if chosen == "direct" and coords is not None and n >= _SPLIT_MIN_NODES:
        # two halves on two cores (CHOLMOD called without the GIL, or SuperLU, which releases
        # it), their Laplacian blocks built from the adjacency (no whole Laplacian); None where
        # the grid cannot be split or CHOLMOD cannot be called so
        block = split_inverse_block(sub, int(targets[0]), others, coords,
                                    workers=min(2, os.cpu_count() or 1),
                                    backend="cholmod" if chol else "superlu", of_adjacency=True)
        if block is not None:
            return _resistances_from_block(block, m)
    lap = laplacian(sub, dtype=np.float32 if chosen == "amg" else np.float64)
    del sub
    if release is not None:
        release()
    if chol:
        # CHOLMOD: the focal nodes ordered last, the block read from the factor
        # (CholmodFactor.inverse_block)
        solver = GroundedSolver(lap, int(targets[0]), method=chosen, coords=coords,
                                last_nodes=others)
        del lap
        block = solver.inverse_block(others)
        del solver
    if block is None:
        # reading the factor's trailing block costs about as much as 10 solves (L, U to CSC)
        last = others if others.size >= _SCHUR_MIN_NODES else None
        solver = GroundedSolver(lap, int(targets[0]), method=chosen, tol=_CG_TOL,
                                coords=coords, last_nodes=last, overwrite=True)
        del lap
        block = solver.inverse_block(others)
    return _resistances_from_block(block, m)


def resolve_sources_grounds(sources, grounds, *, policy="keepall"):
    """Apply Circuitscape's conflict policy to node sources and grounds.

    Parameters
    ----------
    sources : numpy.ndarray
        Current injected per node (amperes).
    grounds : numpy.ndarray
        Ground conductance per node (siemens); ``inf`` is a direct ground.
    policy : {"keepall", "rmvsrc", "rmvgnd", "rmvall"}
        What to drop where a node has both a source and a ground.

    Returns
    -------
    sources, grounds, finite_grounds : numpy.ndarray or None
        ``finite_grounds`` holds the finite ground conductances before the policy (None
        when there are none), as Circuitscape 5 does. A direct ground on a node that
        keeps a source is removed.
    """
    if policy not in _POLICIES:
        raise InvalidParameterError(
            f"remove_src_or_gnd = {policy!r} is unknown; use one of {', '.join(_POLICIES)}"
        )
    s = np.array(sources, dtype=np.float64)
    g = np.array(grounds, dtype=np.float64)
    fg = np.where(np.isfinite(g), g, 0.0)
    finite = fg if np.any(fg != 0) else None
    conflict = (s != 0) & (g != 0)
    if np.any(conflict):
        if policy in ("rmvsrc", "rmvall"):
            s[conflict] = 0.0
        if policy in ("rmvgnd", "rmvall"):
            g[conflict] = 0.0
    g[np.isinf(g) & (s > 0)] = 0.0
    return s, g, finite


def solve_sources_grounds(adjacency, sources, grounds, finite_grounds, *, only_node=None,
                          method="auto", memory_limit_bytes=None, node_coords=None):
    """Voltages for current sources and (direct or finite) grounds on a graph.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens).
    sources, grounds, finite_grounds : numpy.ndarray
        As returned by :func:`resolve_sources_grounds`.
    only_node : int, optional
        Solve only the component holding this node.
    method, memory_limit_bytes, node_coords
        As for :func:`pairwise_resistances`.

    Returns
    -------
    voltages : numpy.ndarray
        Volts per node (0 in unsolved components).
    solved : list of numpy.ndarray
        Node indices of each solved component.

    Notes
    -----
    Per component with a source and a ground: ``(L + diag(g_f)) v = s`` with direct-ground
    rows removed (``v = 0`` there).
    """
    adj = sp.csr_matrix(adjacency)
    n = adj.shape[0]
    volts = np.zeros(n)
    solved = []
    for comp in components(adj):
        if only_node is not None and not _contains(comp, only_node):
            continue
        s_l, g_l = sources[comp], grounds[comp]
        if np.sum(s_l) == 0 or np.sum(g_l) == 0:
            continue
        lap = laplacian(adj[comp][:, comp])
        if finite_grounds is not None:
            lap = (lap + sp.diags(finite_grounds[comp])).tocsr()
        direct = np.isinf(g_l)
        keep = ~direct
        a = lap[keep][:, keep]
        v = np.zeros(comp.size)
        if a.shape[0]:
            coords = None if node_coords is None else np.asarray(node_coords)[comp][keep]
            chosen = choose_method(a.shape[0], a.nnz, method=method,
                                   memory_limit_bytes=memory_limit_bytes,
                                   ordering=_ordering(coords))
            v[keep] = GroundedSolver(a, None, method=chosen, tol=_CG_TOL,
                                     coords=coords).solve(s_l[keep])
        volts[comp] = v
        solved.append(comp)
    return volts, solved


def _gridamg():
    # imported on first use: the factor paths never need the multigrid, and its module (32
    # compiled kernels) costs about 0.01 s of a circuit job's start
    from . import gridamg

    return gridamg


def _ordering(coords):
    return "minimum_degree" if coords is None else "nested_dissection"


def _contains(sorted_nodes, node):
    pos = int(np.searchsorted(sorted_nodes, node))
    return pos < sorted_nodes.size and sorted_nodes[pos] == node
