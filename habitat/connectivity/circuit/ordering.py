"""Fill-reducing elimination order for raster graphs: geometric nested dissection."""

from __future__ import annotations

import numpy as np

#: Subgrids at or below this many nodes are eliminated in natural (row) order.
LEAF_NODES = 32  # 16-128 measured on 1000^2: 32 gave the smallest factor time


def node_coordinates(node_map):
    """Row and column of each node's cell; -1 for nodes spanning several cells.

    Parameters
    ----------
    node_map : numpy.ndarray of int
        Node index + 1 per cell, 0 where there is no node (from ``build_node_map``).

    Returns
    -------
    numpy.ndarray of int64, shape (n_nodes, 2)
        ``(row, col)`` per node; ``(-1, -1)`` for a short-circuit region (it has edges to
        cells far apart, so it cannot sit inside a geometric subgrid).
    """
    nm = np.asarray(node_map)
    n = int(nm.max()) if nm.size else 0
    ii, jj = np.nonzero(nm)
    nodes = nm[ii, jj] - 1
    coords = np.empty((n, 2), dtype=np.int64)
    coords[nodes, 0] = ii
    coords[nodes, 1] = jj
    multi = np.bincount(nodes, minlength=n) > 1
    coords[multi] = -1
    return coords


def nested_dissection_order(coords, *, leaf_nodes=LEAF_NODES):
    """Elimination order that splits the grid recursively along its middle row or column.

    Parameters
    ----------
    coords : numpy.ndarray of int, shape (n, 2)
        Cell row and column of each node; negative for nodes without a single cell.
        Edges must join only cells at most one row and one column apart (4 or 8
        neighbours), except edges of the negative-coordinate nodes.
    leaf_nodes : int, optional
        Stop splitting at this many nodes (>= 1).

    Returns
    -------
    numpy.ndarray of int64
        A permutation of ``0 .. n-1``: position ``k`` holds the node eliminated k-th.

    Notes
    -----
    A box of cells is cut at the median of its longer side; the cells on the median line
    separate the two halves (no edge of an 8-neighbour graph skips a line), so the order
    is ``order(lower) + order(upper) + separator`` (George 1973). On an ``m x m`` grid the
    factor then holds ``O(n log n)`` entries and costs ``O(n^1.5)`` flops, against
    ``O(n^2)``-like growth of minimum-degree orders on large grids. Nodes with negative
    coordinates (short-circuit regions) are eliminated last, which keeps the order valid
    for any graph: a wrong order only costs fill, never accuracy.
    """
    c = np.asarray(coords, dtype=np.int64)
    n = c.shape[0]
    regular = np.flatnonzero(c[:, 0] >= 0)
    rows, cols = c[:, 0], c[:, 1]
    out = []
    stack = [(regular, False)]
    # explicit stack: children are pushed so that lower, upper, separator come out in order
    while stack:
        idx, done = stack.pop()
        if done or idx.size <= leaf_nodes:
            out.append(idx)
            continue
        r, q = rows[idx], cols[idx]
        key = r if np.ptp(r) >= np.ptp(q) else q
        mid = np.partition(key, key.size // 2)[key.size // 2]
        low, high = key < mid, key > mid
        if not low.any() or not high.any():
            out.append(idx)
            continue
        stack.append((idx[~low & ~high], True))
        stack.append((idx[high], False))
        stack.append((idx[low], False))
    out.append(np.flatnonzero(c[:, 0] < 0))
    return np.concatenate(out).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
