"""Patch graph inputs for connectivity indicators: patch areas and edge-to-edge distances."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from habitat.connectivity.graph import equivalent_connectivity
from habitat.errors import InvalidParameterError
from habitat.suitability.patches import patch_labels_and_areas

_M2_PER_HA = 10_000.0
#: Direct links weaker than this dispersal probability are dropped from the patch graph: such a
#: pair adds at most a_i a_j 1e-6 to the PC numerator.
_MIN_LINK_PROBABILITY = 1e-6


def habitat_patches(habitat, *, cell_area_m2, neighbours: int = 8, min_area_ha: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Label habitat patches and return their areas, dropping patches below ``min_area_ha``.

    Parameters
    ----------
    habitat : array_like of bool, shape (rows, cols)
        Habitat mask (nonzero = habitat).
    cell_area_m2 : float or array_like
        Area of one cell in m² (> 0), or per cell.
    neighbours : {8, 4}, optional
        Patch connectivity rule.
    min_area_ha : float, optional
        Patches smaller than this (ha, >= 0) are dropped.

    Returns
    -------
    labels : ndarray of int32, shape (rows, cols)
        Patch id 1..n (in raster order of first cell), 0 = no kept patch.
    area_ha : ndarray of float64, shape (n,)
        Area of patch ``i + 1`` in ha.

    Examples
    --------
    >>> labels, area = habitat_patches([[1, 0, 1, 1]], cell_area_m2=1e4)
    >>> labels.tolist(), area.tolist()
    ([[1, 0, 2, 2]], [1.0, 2.0])
    """
    h = np.asarray(habitat)
    if h.ndim != 2:
        raise InvalidParameterError(f"habitat must be a 2-D mask, got shape {h.shape}")
    if neighbours not in (4, 8):
        raise InvalidParameterError(f"neighbours must be 4 or 8, got {neighbours!r}")
    if not (min_area_ha >= 0):
        raise InvalidParameterError(f"min_area_ha must be >= 0 ha, got {min_area_ha!r}")
    return patch_labels_and_areas(h, cell_area_m2=cell_area_m2, neighbours=neighbours, min_area_ha=min_area_ha)


def edge_to_edge_distances(labels, *, cell_size_m: float, max_distance_m: float = math.inf) -> np.ndarray:
    """Euclidean edge-to-edge distance between every pair of patches of a label raster.

    Parameters
    ----------
    labels : array_like of int, shape (rows, cols)
        Patch ids 1..n, 0 = background.
    cell_size_m : float
        Side of the square cells in metres (> 0).
    max_distance_m : float, optional
        Pairs farther apart than this (m) get ``inf`` (no link); default keep every pair.

    Returns
    -------
    ndarray, shape (n, n)
        Distance in m between the centres of the nearest cells of patches ``i + 1`` and
        ``j + 1``; 0 on the diagonal; ``inf`` beyond ``max_distance_m``.

    Notes
    -----
    FRAGSTATS ENN convention (METHODS.md 3): the distance between two patches is the shortest
    centre-to-centre distance between a cell of one and a cell of the other, so cells one gap
    apart are ``2 * cell_size_m`` apart. Only patch edge cells (a 4-neighbour outside the patch
    or the raster border) are compared: the nearest cell of a patch to any outside cell is
    an edge cell. Pairs whose bounding boxes are farther apart than ``max_distance_m`` are not
    compared. Cost ``O(n^2)`` k-d tree queries over edge cells.

    Examples
    --------
    >>> edge_to_edge_distances([[1, 0, 2]], cell_size_m=100).tolist()
    [[0.0, 200.0], [200.0, 0.0]]
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise InvalidParameterError(f"labels must be a 2-D integer patch raster, got {lab.dtype} {lab.shape}")
    if not (math.isfinite(cell_size_m) and cell_size_m > 0):
        raise InvalidParameterError(f"cell_size_m must be a positive number of metres, got {cell_size_m!r}")
    if not (max_distance_m >= 0):
        raise InvalidParameterError(f"max_distance_m must be >= 0 (inf = every pair), got {max_distance_m!r}")
    n = int(lab.max()) if lab.size else 0
    if n < 2:
        return _distance_matrix(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.intp), n,
                                cell_size_m=cell_size_m, max_distance_m=max_distance_m)
    rows, cols = _edge_cells(lab)
    return _distance_matrix(rows, cols, lab[rows, cols], n, cell_size_m=cell_size_m, max_distance_m=max_distance_m)


def _edge_cells(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the patch cells with a 4-neighbour outside their patch (or the grid)."""
    padded = np.pad(labels, 1, constant_values=0)
    core = padded[1:-1, 1:-1]
    interior = ((padded[:-2, 1:-1] == core) & (padded[2:, 1:-1] == core)
                & (padded[1:-1, :-2] == core) & (padded[1:-1, 2:] == core))
    return np.nonzero((labels > 0) & ~interior)


def _distance_matrix(rows, cols, ids, n: int, *, cell_size_m: float, max_distance_m: float) -> np.ndarray:
    """Edge-to-edge distances (m) between patches 1..n from their edge cells in raster order.

    ``rows, cols`` are the edge cells (integers) and ``ids`` their patch ids 1..n, listed in
    raster order (as ``np.nonzero`` gives them): the block-wise unit indicators hand in the
    same cells in the same order, so the matrix is the same.
    """
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0.0)
    if n < 2:
        return d
    order = np.argsort(ids, kind="stable")
    rows, cols, ids = rows[order], cols[order], ids[order]
    starts = np.searchsorted(ids, np.arange(1, n + 2))
    points = [np.column_stack((rows[starts[k]:starts[k + 1]], cols[starts[k]:starts[k + 1]])).astype(np.float64)
              for k in range(n)]
    del rows, cols, ids
    lo = np.array([p.min(axis=0) for p in points])
    hi = np.array([p.max(axis=0) for p in points])
    limit = max_distance_m / cell_size_m
    trees = [cKDTree(p) for p in points]
    for i in range(n):
        # bounding-box gap: a lower bound on the distance, to skip far pairs cheaply
        gap = np.maximum(0.0, np.maximum(lo[i + 1:] - hi[i], lo[i] - hi[i + 1:]))
        near = np.hypot(gap[:, 0], gap[:, 1]) <= limit
        for j in np.nonzero(near)[0] + i + 1:
            small, big = (i, j) if len(points[i]) <= len(points[j]) else (j, i)
            dist, _ = trees[big].query(points[small], k=1, distance_upper_bound=limit * (1 + 1e-12))
            best = float(dist.min()) * cell_size_m
            if best <= max_distance_m * (1 + 1e-12):
                d[i, j] = d[j, i] = best
    return d


def habitat_eca(habitat, *, cell_size_m: float, ref_distance_m: float, ref_probability: float = 0.5,
                neighbours: int = 8, min_area_ha: float = 0.0) -> tuple[float, np.ndarray]:
    """Equivalent connected area of a habitat mask, patches as nodes.

    Parameters
    ----------
    habitat : array_like of bool, shape (rows, cols)
        Habitat mask.
    cell_size_m : float
        Side of the square cells in m (> 0).
    ref_distance_m, ref_probability : float
        Dispersal kernel: ``p = ref_probability`` at an edge-to-edge distance of
        ``ref_distance_m`` (0.5 at the median dispersal distance, METHODS.md 11).
    neighbours : {8, 4}, optional
        Patch connectivity rule.
    min_area_ha : float, optional
        Patches smaller than this (ha) are not nodes.

    Returns
    -------
    eca_ha : float
        ``ECA = sqrt(sum_i sum_j a_i a_j p*_ij)`` in ha (0 without patches);
        :func:`habitat.connectivity.graph.equivalent_connectivity` on the patch areas and the
        :func:`edge_to_edge_distances`.
    labels : ndarray of int32
        The patch labels (:func:`habitat_patches`).

    Notes
    -----
    Pairs farther apart than the distance at which ``p = 1e-6`` are not measured (such a pair
    adds at most ``a_i a_j 1e-6`` to ECA²). ``PC = (ECA / A_L)^2`` (METHODS.md 11).

    Examples
    --------
    >>> eca, labels = habitat_eca([[1, 0, 1]], cell_size_m=100, ref_distance_m=200)
    >>> round(eca, 4)  # sqrt(1 + 1 + 2 * 0.5)
    1.7321
    """
    labels, area_ha = habitat_patches(habitat, cell_area_m2=cell_size_m ** 2, neighbours=neighbours,
                                      min_area_ha=min_area_ha)
    if area_ha.size < 2:
        return eca_of_patches(area_ha, None, cell_size_m=cell_size_m, ref_distance_m=ref_distance_m,
                              ref_probability=ref_probability), labels
    rows, cols = _edge_cells(labels)
    return eca_of_patches(area_ha, (rows, cols, labels[rows, cols]), cell_size_m=cell_size_m,
                          ref_distance_m=ref_distance_m, ref_probability=ref_probability), labels


def eca_of_patches(area_ha: np.ndarray, edges, *, cell_size_m: float, ref_distance_m: float,
                   ref_probability: float) -> float:
    """ECA (ha) of patches given their areas and edge cells (``habitat_eca`` without the raster).

    ``edges`` is ``(rows, cols, ids)``: every edge cell of patches 1..n in raster order (None
    with fewer than two patches). Used by :func:`habitat_eca` and by the block-wise unit
    indicators, which gather the same cells strip by strip.
    """
    if area_ha.size == 0:
        return 0.0
    if not (0 < ref_probability < 1):
        raise InvalidParameterError(f"ref_probability must lie strictly between 0 and 1, got {ref_probability!r}")
    if not (math.isfinite(cell_size_m) and cell_size_m > 0):
        raise InvalidParameterError(f"cell_size_m must be a positive number of metres, got {cell_size_m!r}")
    cutoff = ref_distance_m * math.log(_MIN_LINK_PROBABILITY) / math.log(ref_probability)
    empty = np.empty(0, np.intp)
    rows, cols, ids = edges if edges is not None else (empty, empty, empty)
    dist = _distance_matrix(rows, cols, ids, area_ha.size, cell_size_m=cell_size_m, max_distance_m=cutoff)
    return equivalent_connectivity(area_ha, dist, ref_distance=ref_distance_m, ref_probability=ref_probability)
