"""Circuit graph of a conductance raster: node map, adjacency and Laplacian."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from habitat.errors import InvalidParameterError

try:
    from numba import njit as _njit
except ImportError:  # pragma: no cover - numba is a dependency; scipy slicing remains
    _njit = None

_SQRT2 = np.sqrt(2.0)


def conductance_from_raster(values, *, is_resistance, nodata=None):
    """Convert a resistance or conductance raster to conductances.

    Parameters
    ----------
    values : numpy.ndarray
        2-D raster (ohm per cell when ``is_resistance``, siemens per cell otherwise).
    is_resistance : bool
        Whether ``values`` holds resistances.
    nodata : float, optional
        Nodata marker; those cells (and NaN) become conductance 0 (no node).

    Returns
    -------
    numpy.ndarray
        Conductance per cell (float64, >= 0; 0 means not part of the graph).

    Notes
    -----
    ``G = 1 / R`` for resistances. Zero resistance is refused: use short-circuit regions.
    """
    arr = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(arr)
    if nodata is not None:
        missing |= arr == nodata
    if is_resistance:
        if np.any((arr == 0) & ~missing):
            raise InvalidParameterError(
                "resistance raster has cells with resistance 0; give them a small positive "
                "resistance or put them in a short-circuit region (polygon_file)"
            )
        with np.errstate(divide="ignore"):
            out = np.where(missing, 0.0, 1.0 / np.where(missing, 1.0, arr))
    else:
        out = np.where(missing, 0.0, arr)
    return out


def build_node_map(conductance, *, regions=None):
    """Number the graph nodes of a raster, collapsing short-circuit regions.

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D conductances; cells with conductance > 0 are nodes.
    regions : numpy.ndarray of int, optional
        Same shape; cells sharing a non-zero id form one node. A region cell with
        conductance 0 joins its region's node when the region has at least one valid cell
        (Circuitscape semantics).

    Returns
    -------
    numpy.ndarray of int64
        Node index + 1 per cell, 0 where there is no node. Numbering follows the
        column-major order of the first cell of each node.
    """
    g = np.asarray(conductance)
    valid = g > 0
    if regions is None or not np.any(regions):
        keys = np.where(valid.T.ravel(), np.arange(g.size), -1)
    else:
        reg_t = np.asarray(regions).T.ravel()
        valid_t = valid.T.ravel()
        flat = np.arange(g.size)
        # a region's node exists only where it touches at least one valid cell
        live = np.unique(reg_t[valid_t & (reg_t != 0)])
        in_live = (reg_t != 0) & np.isin(reg_t, live)
        first = {}
        for idx in flat[in_live]:
            first.setdefault(reg_t[idx], idx)
        keys = np.where(valid_t, flat, -1)
        if first:
            region_ids = np.array(list(first.keys()))
            region_first = np.array(list(first.values()))
            order = np.argsort(region_ids)
            pos = np.searchsorted(region_ids[order], reg_t[in_live])
            keys[in_live] = region_first[order][pos]
    node_t = np.zeros(g.size, dtype=np.int64)
    has = keys >= 0
    if regions is None or not np.any(regions):
        # keys are the increasing cell indices themselves: their rank is a running count
        node_t[has] = np.arange(1, np.count_nonzero(has) + 1)
    else:
        _, inv = np.unique(keys[has], return_inverse=True)
        node_t[has] = inv + 1
    return node_t.reshape(g.shape[::-1]).T.copy()


def build_adjacency(conductance, node_map, *, four_neighbors=False, avg_resistance=False):
    """Symmetric conductance adjacency matrix between raster nodes.

    Parameters
    ----------
    conductance : numpy.ndarray
        2-D cell conductances (siemens).
    node_map : numpy.ndarray of int
        From :func:`build_node_map`.
    four_neighbors : bool, optional
        Connect only orthogonal neighbours (default 8 neighbours).
    avg_resistance : bool, optional
        Average resistances instead of conductances.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n_nodes x n_nodes`` conductances, zero diagonal.

    Notes
    -----
    Average conductance: orthogonal ``(G_a + G_b) / 2``, diagonal ``(G_a + G_b) / (2 sqrt 2)``.
    Average resistance: orthogonal ``1 / ((R_a + R_b) / 2)``, diagonal
    ``1 / (sqrt 2 (R_a + R_b) / 2)``. Cell size is not used. Edges inside one node
    (short-circuit region) are dropped.
    """
    g = np.asarray(conductance, dtype=np.float64)
    nm = np.asarray(node_map)
    n = int(nm.max())
    if _njit is not None and n and n == np.count_nonzero(nm):
        # one cell per node (no short-circuit region): rows written straight into CSR,
        # 96 bytes per node instead of a COO triple plus its CSR copy (about 224)
        return _adjacency_single_cells(g, nm, n, four_neighbors, avg_resistance)
    nrows, ncols = g.shape
    itype = np.int32 if n < 2**31 - 1 else np.int64
    parts = []
    offsets = [(0, 1, False), (1, 0, False)]
    if not four_neighbors:
        offsets += [(1, 1, True), (-1, 1, True)]
    for di, dj, diag in offsets:
        i0, i1 = max(0, -di), nrows - max(0, di)
        j0, j1 = 0, ncols - dj
        a = nm[i0:i1, j0:j1]
        b = nm[i0 + di:i1 + di, j0 + dj:j1 + dj]
        ga = g[i0:i1, j0:j1]
        gb = g[i0 + di:i1 + di, j0 + dj:j1 + dj]
        keep = (a != 0) & (b != 0) & (a != b)
        ga, gb = ga[keep], gb[keep]
        if avg_resistance:
            with np.errstate(divide="ignore"):
                w = 1.0 / ((1.0 / ga + 1.0 / gb) / 2.0)
        else:
            w = (ga + gb) / 2.0
        if diag:
            w /= _SQRT2
        ok = w > 0
        parts.append(((a[keep] - 1)[ok].astype(itype), (b[keep] - 1)[ok].astype(itype), w[ok]))
        del a, b, ga, gb, keep, w, ok
    # both directions in one preallocated COO, filled part by part to bound peak memory
    # (a 4000 x 4000 grid has 120 million stored entries); duplicates, from cells of one
    # short-circuit region touching the same neighbour, are summed by the CSR conversion
    m = sum(p[2].size for p in parts)
    r = np.empty(2 * m, dtype=itype)
    c = np.empty(2 * m, dtype=itype)
    v = np.empty(2 * m)
    pos = 0
    while parts:
        pr, pc, pv = parts.pop(0)
        k = pv.size
        r[pos:pos + k], c[pos:pos + k], v[pos:pos + k] = pr, pc, pv
        r[m + pos:m + pos + k], c[m + pos:m + pos + k], v[m + pos:m + pos + k] = pc, pr, pv
        pos += k
        del pr, pc, pv
    adj = sp.coo_matrix((v, (r, c)), shape=(n, n))
    del r, c, v
    adj = adj.tocsr()
    adj.sum_duplicates()
    return adj


def _csr_arrays(counts, dtype):
    """Empty CSR arrays for rows of ``counts`` entries (int32 indices while they fit)."""
    n = counts.size
    nnz = int(counts.sum())
    itype = np.int32 if max(n, nnz) < 2**31 else np.int64
    indptr = np.zeros(n + 1, dtype=itype)
    np.cumsum(counts, out=indptr[1:])
    return indptr, np.empty(nnz, dtype=itype), np.empty(nnz, dtype=dtype)


def _adjacency_single_cells(g, nm, n, four_neighbors, avg_resistance):
    nm = np.ascontiguousarray(nm)
    counts = np.zeros(n, dtype=np.int64)
    _row_counts(g, nm, bool(four_neighbors), counts)
    indptr, indices, data = _csr_arrays(counts, np.float64)
    del counts
    _row_fill(g, nm, bool(four_neighbors), bool(avg_resistance), indptr, indices, data)
    adj = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    adj.has_sorted_indices = True
    return adj


if _njit is not None:
    @_njit(cache=True, nogil=True)
    def _row_counts(g, nm, four, counts):
        nrows, ncols = nm.shape
        for j in range(ncols):
            for i in range(nrows):
                k = nm[i, j] - 1
                if k < 0:
                    continue
                c = 0
                for dj in range(-1, 2):
                    for di in range(-1, 2):
                        if (di == 0 and dj == 0) or (four and di != 0 and dj != 0):
                            continue
                        a, b = i + di, j + dj
                        if 0 <= a < nrows and 0 <= b < ncols and nm[a, b] > 0:
                            c += 1
                counts[k] = c

    @_njit(cache=True, nogil=True)
    def _row_fill(g, nm, four, avg_res, indptr, indices, data):
        nrows, ncols = nm.shape
        for j in range(ncols):
            for i in range(nrows):
                k = nm[i, j] - 1
                if k < 0:
                    continue
                q = indptr[k]
                ga = g[i, j]
                # neighbours in column-major order = increasing node index (sorted row)
                for dj in range(-1, 2):
                    for di in range(-1, 2):
                        if (di == 0 and dj == 0) or (four and di != 0 and dj != 0):
                            continue
                        a, b = i + di, j + dj
                        if 0 <= a < nrows and 0 <= b < ncols and nm[a, b] > 0:
                            indices[q] = nm[a, b] - 1
                            data[q] = edge_conductance(ga, g[a, b], avg_res, di != 0 and dj != 0)
                            q += 1

    @_njit(cache=True, nogil=True)
    def edge_conductance(ga, gb, avg_res, diagonal):
        """Conductance (siemens) of the edge between cells of conductances ``ga`` and ``gb``.

        The formulas of :func:`build_adjacency` (symmetric in ``ga``, ``gb`` to the last bit);
        compiled, for the kernels that build raster graphs.
        """
        if avg_res:
            w = 1.0 / ((1.0 / ga + 1.0 / gb) / 2.0)
        else:
            w = (ga + gb) / 2.0
        if diagonal:
            w = w / np.sqrt(2.0)
        return w


def laplacian(adjacency, *, dtype=np.float64):
    """Graph Laplacian ``L = D - A`` of a conductance adjacency matrix (CSR).

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens); a stored diagonal (self-loop) is ignored.
    dtype : numpy dtype, optional
        Of the result's values. ``float32`` halves them for AMG-CG on big grids: each
        conductance then carries a relative error below 6e-8, which changes effective
        resistances by less than that (R scales as 1 / G).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``L`` with sorted indices and every diagonal entry stored (degree computed in
        float64, then cast).
    """
    a = sp.csr_matrix(adjacency)
    if _njit is not None and a.nnz:
        if not a.has_sorted_indices:
            a = a.sorted_indices()
        counts = _offdiag_counts(a.indptr, a.indices)
        counts += 1  # the diagonal
        indptr, indices, data = _csr_arrays(counts, dtype)
        del counts
        _laplacian_fill(a.indptr, a.indices, a.data, indptr, indices, data)
        out = sp.csr_matrix((data, indices, indptr), shape=a.shape)
        out.has_sorted_indices = True
        return out
    diag = a.diagonal()
    if np.any(diag):
        a = a - sp.diags(diag)
    deg = np.asarray(a.sum(axis=1)).ravel()
    return (sp.diags(deg) - a).tocsr().astype(dtype, copy=False)


if _njit is not None:
    @_njit(cache=True, nogil=True)
    def _offdiag_counts(indptr, indices):
        n = indptr.size - 1
        counts = np.zeros(n, dtype=np.int64)
        for r in range(n):
            c = 0
            for p in range(indptr[r], indptr[r + 1]):
                if indices[p] != r:
                    c += 1
            counts[r] = c
        return counts

    @_njit(cache=True, nogil=True)
    def _laplacian_fill(indptr, indices, data, out_ptr, out_idx, out_data):
        n = indptr.size - 1
        for r in range(n):
            deg = 0.0
            for p in range(indptr[r], indptr[r + 1]):
                if indices[p] != r:
                    deg += data[p]
            q = out_ptr[r]
            placed = False
            for p in range(indptr[r], indptr[r + 1]):
                j = indices[p]
                if j == r:
                    continue
                if not placed and j > r:
                    out_idx[q] = r
                    out_data[q] = deg
                    q += 1
                    placed = True
                out_idx[q] = j
                out_data[q] = -data[p]
                q += 1
            if not placed:
                out_idx[q] = r
                out_data[q] = deg


def principal_submatrix(matrix, nodes, *, lower=False, of_laplacian=False):
    """``matrix[nodes][:, nodes]`` of a symmetric sparse matrix, as CSC with sorted indices.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Symmetric ``n x n`` matrix.
    nodes : numpy.ndarray of int
        Distinct node indices, in the order wanted for the result.
    lower : bool, optional
        Keep only the lower triangle (row >= column) of the result: all that a Cholesky
        factorization reads, built in about half the time and memory.
    of_laplacian : bool, optional
        ``matrix`` is a conductance adjacency and the result the principal submatrix of its
        Laplacian (:func:`laplacian`, the same values to the last bit: degrees summed over
        the whole rows in stored order), without building the whole Laplacian.

    Returns
    -------
    scipy.sparse.csc_matrix
        ``len(nodes) x len(nodes)``.

    Notes
    -----
    Row selection of the CSR form plus a relabelling of the column indices; for a
    symmetric matrix the CSR arrays of the result are also its CSC arrays. About 5x
    faster than scipy's ``m[nodes][:, nodes]``, whose column fancy-indexing dominates
    on large grids.
    """
    m = sp.csr_matrix(matrix)
    idx = np.asarray(nodes, dtype=np.int64)
    if _njit is not None and m.nnz:
        return _principal_submatrix_compiled(m, idx, lower, of_laplacian)
    if of_laplacian:
        return principal_submatrix(laplacian(m), idx, lower=lower)
    rows = m[idx]
    newpos = np.full(m.shape[1], -1, dtype=np.int64)
    newpos[idx] = np.arange(idx.size)
    cols = newpos[rows.indices]
    keep = cols >= (np.repeat(np.arange(idx.size), np.diff(rows.indptr)) if lower else 0)
    if keep.all():  # a whole component: its rows name only its own nodes
        indptr = rows.indptr.astype(np.int64)
    else:
        indptr = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])[rows.indptr]
    itype = np.int32 if max(idx.size, int(keep.sum())) < 2**31 else np.int64
    data, cols = (rows.data, cols) if keep.all() else (rows.data[keep], cols[keep])
    out = sp.csc_matrix((data, cols.astype(itype), indptr.astype(itype)),
                        shape=(idx.size, idx.size))
    out.sort_indices()
    return out


def _principal_submatrix_compiled(m, idx, lower=False, lap=False):
    n_new = idx.size
    newpos = np.full(m.shape[1], -1, dtype=np.int64)
    newpos[idx] = np.arange(n_new)
    counts = _count_kept(m.indptr, m.indices, idx, newpos, lower, lap)
    indptr, indices, data = _csr_arrays(counts, m.data.dtype)
    del counts
    _fill_sorted(m.indptr, m.indices, m.data, idx, newpos, lower, lap, indptr, indices, data)
    out = sp.csc_matrix((data, indices, indptr), shape=(n_new, n_new))
    out.has_sorted_indices = True
    return out


if _njit is not None:
    @_njit(cache=True, nogil=True)
    def _count_kept(indptr, indices, idx, newpos, lower, lap):
        # lap: rows of the Laplacian of an adjacency (self-loops dropped, the degree added)
        counts = np.zeros(idx.size, dtype=np.int64)
        for k in range(idx.size):
            r = idx[k]
            lo = k if lower else 0
            c = 1 if lap else 0
            for p in range(indptr[r], indptr[r + 1]):
                if newpos[indices[p]] >= lo and not (lap and indices[p] == r):
                    c += 1
            counts[k] = c
        return counts

    @_njit(cache=True, nogil=True)
    def _fill_sorted(indptr, indices, data, idx, newpos, lower, lap, out_ptr, out_idx, out_data):
        for k in range(idx.size):
            r = idx[k]
            lo = k if lower else 0
            q0 = out_ptr[k]
            q = q0
            deg = 0.0
            for p in range(indptr[r], indptr[r + 1] + (1 if lap else 0)):
                if p == indptr[r + 1]:  # lap: the degree, after the whole row is summed
                    j, v = k, deg
                elif lap and indices[p] == r:
                    continue
                else:
                    j, v = newpos[indices[p]], (-data[p] if lap else data[p])
                    if lap:
                        deg += data[p]
                if j >= lo:
                    # insertion sort: a raster row holds at most 9 entries
                    t = q
                    while t > q0 and out_idx[t - 1] > j:
                        out_idx[t] = out_idx[t - 1]
                        out_data[t] = out_data[t - 1]
                        t -= 1
                    out_idx[t] = j
                    out_data[t] = v
                    q += 1


def components(adjacency):
    """Connected components as a list of sorted node-index arrays."""
    n = adjacency.shape[0]
    if n == 0:
        return []
    if _component_labels is not None and sp.issparse(adjacency):
        # union-find over the stored entries: undirected and counting stored zeros as edges,
        # as scipy's connected_components(directed=False), without its CSC copy (0.2 s of a
        # 1000 x 1000 job)
        m = sp.csr_matrix(adjacency)
        labels = np.empty(n, dtype=np.int32)
        ncomp = _component_labels(m.indptr, m.indices, labels)
    else:
        from scipy.sparse.csgraph import connected_components

        ncomp, labels = connected_components(adjacency, directed=False)
    if ncomp == 1:
        return [np.arange(n)]
    order = np.argsort(labels, kind="stable")
    splits = np.cumsum(np.bincount(labels, minlength=ncomp))[:-1]
    return [np.sort(c) for c in np.split(order, splits)]


if _njit is not None:
    @_njit(cache=True, nogil=True)
    def _find(parent, a):
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:  # path compression
            nxt = parent[a]
            parent[a] = root
            a = nxt
        return root

    @_njit(cache=True, nogil=True)
    def _component_labels(indptr, indices, labels):
        # labels numbered by each component's smallest node, as scipy's connected_components
        n = indptr.size - 1
        parent = np.arange(n)
        for a in range(n):
            for q in range(indptr[a], indptr[a + 1]):
                ra, rb = _find(parent, a), _find(parent, indices[q])
                if ra != rb:
                    if ra < rb:
                        parent[rb] = ra
                    else:
                        parent[ra] = rb
        ncomp = 0
        for a in range(n):
            r = _find(parent, a)
            if r == a:
                labels[a] = ncomp
                ncomp += 1
            else:
                labels[a] = labels[r]
        return ncomp
else:  # pragma: no cover
    _component_labels = None
