"""Circuit solves on a graph: pairwise effective resistances and source/ground problems."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from habitat.errors import InvalidParameterError

from .graph import components, laplacian
from .solvers import GroundedSolver, choose_method

_POLICIES = ("keepall", "rmvsrc", "rmvgnd", "rmvall")


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
                         method="auto", memory_limit_bytes=None):
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
    method : {"auto", "direct", "amg"}, optional
        Linear solver, see :func:`habitat.connectivity.circuit.solvers.choose_method`.
    memory_limit_bytes : int, optional
        Refuse (ResourceError) above this; default the available memory.

    Returns
    -------
    numpy.ndarray
        ``k x k`` resistances (ohm); 0 on the diagonal and between points on one node,
        -1 for pairs in different components, on no node, or excluded.

    Notes
    -----
    Per component, one node ``a`` (the first focal node) is grounded and the grounded
    Laplacian is factorized once; ``m - 1`` solves ``L_a x_k = e_k`` give every pair:
    ``x_q - x_p`` solves ``L x = e_q - e_p``, so ``R_pq = (x_q - x_p)_q - (x_q - x_p)_p``.
    """
    focal = np.asarray(focal_nodes, dtype=np.int64)
    k = focal.size
    exclude = set() if exclude is None else set(exclude)
    res = -np.ones((k, k))
    adj = sp.csr_matrix(adjacency)
    comp_label = np.full(adj.shape[0], -1, dtype=np.int64)
    comps = components(adj)
    for ci, comp in enumerate(comps):
        comp_label[comp] = ci
    for ci, comp in enumerate(comps):
        members = [p for p in range(k) if focal[p] >= 0 and comp_label[focal[p]] == ci]
        if not members:
            continue
        uniq_nodes = list(dict.fromkeys(int(focal[p]) for p in members))
        local = {node: pos for pos, node in enumerate(np.searchsorted(comp, uniq_nodes))}
        sub = adj[comp][:, comp]
        lap = laplacian(sub)
        anchor = int(np.searchsorted(comp, uniq_nodes[0]))
        chosen = choose_method(lap.shape[0], lap.nnz, method=method,
                               n_rhs=max(1, len(uniq_nodes) - 1),
                               memory_limit_bytes=memory_limit_bytes)
        solver = GroundedSolver(lap, anchor, method=chosen)
        targets = [int(np.searchsorted(comp, nd)) for nd in uniq_nodes]
        rhs = np.zeros((lap.shape[0], len(targets)))
        for col, t in enumerate(targets):
            if t != anchor:
                rhs[t, col] = 1.0
        x = solver.solve(rhs)
        col_of = {int(focal[p]): targets.index(int(np.searchsorted(comp, focal[p])))
                  for p in members}
        del local
        for a_pos, p in enumerate(members):
            for q in members[a_pos + 1:]:
                if (p, q) in exclude or (q, p) in exclude:
                    continue
                if focal[p] == focal[q]:
                    res[p, q] = res[q, p] = 0.0
                    if on_pair is not None:
                        on_pair(PairSolution(p, q, comp, np.zeros(comp.size), 0.0, sub))
                    continue
                tp, tq = targets[col_of[int(focal[p])]], targets[col_of[int(focal[q])]]
                v = x[:, col_of[int(focal[q])]] - x[:, col_of[int(focal[p])]]
                v = v - v[tp]
                r = float(v[tq] - v[tp])
                res[p, q] = res[q, p] = r
                if on_pair is not None:
                    on_pair(PairSolution(p, q, comp, v, r, sub))
    np.fill_diagonal(res, 0.0)
    return res


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
                          method="auto", memory_limit_bytes=None):
    """Voltages for current sources and (direct or finite) grounds on a graph.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens).
    sources, grounds, finite_grounds : numpy.ndarray
        As returned by :func:`resolve_sources_grounds`.
    only_node : int, optional
        Solve only the component holding this node.

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
            chosen = choose_method(a.shape[0], a.nnz, method=method,
                                   memory_limit_bytes=memory_limit_bytes)
            v[keep] = GroundedSolver(a, None, method=chosen).solve(s_l[keep])
        volts[comp] = v
        solved.append(comp)
    return volts, solved


def _contains(sorted_nodes, node):
    pos = int(np.searchsorted(sorted_nodes, node))
    return pos < sorted_nodes.size and sorted_nodes[pos] == node
