"""Graph connectivity indices over habitat patches (Conefor / Graphab: IIC, PC, EC, dI)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.sparse import csgraph

from habitat.errors import InvalidParameterError


def _attributes(area) -> np.ndarray:
    a = np.asarray(area, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise InvalidParameterError(
            f"area must be a non-empty 1-D vector of patch attributes, got shape {a.shape}"
        )
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InvalidParameterError("area must hold finite values >= 0 (patch area or quality-weighted area)")
    return a


def _distance(distance, n: int) -> np.ndarray:
    d = np.array(distance, dtype=np.float64)
    if d.shape != (n, n):
        raise InvalidParameterError(
            f"distance must be an ({n}, {n}) matrix matching area, got shape {d.shape}; "
            "build it from a link list with distance_matrix_from_links"
        )
    if np.any(np.isnan(d)) or np.any(d < 0):
        raise InvalidParameterError("distance must hold values >= 0, with inf for no link (no NaN)")
    # Links are undirected: keep the shorter of the two directions.
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0.0)
    return d


def _landscape_area(landscape_area: float) -> float:
    if not (math.isfinite(landscape_area) and landscape_area > 0):
        raise InvalidParameterError(f"landscape_area must be a positive finite area, got {landscape_area!r}")
    return float(landscape_area)


def _check_max_distance(max_distance: float) -> float:
    if isinstance(max_distance, bool) or not (float(max_distance) >= 0):
        raise InvalidParameterError(f"max_distance must be a distance >= 0 (inf = keep every link), got {max_distance!r}")
    return float(max_distance)


def _limit(d: np.ndarray, max_distance: float) -> np.ndarray:
    """Links longer than ``max_distance`` are absent (inf); the diagonal stays 0."""
    if math.isinf(max_distance):
        return d
    out = np.where(d <= max_distance, d, np.inf)
    np.fill_diagonal(out, 0.0)
    return out


def _decay(ref_distance: float, ref_probability: float) -> float:
    if not (math.isfinite(ref_distance) and ref_distance > 0):
        raise InvalidParameterError(f"ref_distance must be a positive finite distance, got {ref_distance!r}")
    if not (0 < ref_probability < 1):
        raise InvalidParameterError(
            f"ref_probability must lie strictly between 0 and 1, got {ref_probability!r}"
        )
    return -math.log(ref_probability) / ref_distance


def _shortest(weight: np.ndarray, *, unweighted: bool = False) -> np.ndarray:
    """All-pairs shortest path; inf entries are missing links (0 is a real zero-length link)."""
    graph = csgraph.csgraph_from_dense(weight, null_value=np.inf)
    return csgraph.shortest_path(graph, method="D", directed=False, unweighted=unweighted)


def _pc_numerator(a: np.ndarray, d: np.ndarray, k: float) -> float:
    # Maximum product of exp(-k d) over paths = exp(-k * shortest path length).
    pstar = np.exp(-k * _shortest(d))
    return float(a @ pstar @ a)


def _iic_numerator(a: np.ndarray, d: np.ndarray, max_distance: float) -> float:
    links = np.where(np.isfinite(d) & (d <= max_distance), 1.0, np.inf)
    np.fill_diagonal(links, 0.0)
    nl = _shortest(links, unweighted=True)
    return float(a @ (1.0 / (1.0 + nl)) @ a)


def _without(a: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.arange(a.size) != k
    return a[keep], d[np.ix_(keep, keep)]


# Public API


def distance_matrix_from_links(n_patches: int, links) -> np.ndarray:
    """Build a symmetric patch-to-patch distance matrix from a link list.

    Parameters
    ----------
    n_patches : int
        Number of patches (matrix size, >= 1).
    links : array_like, shape (m, 3) or pandas.DataFrame
        Rows ``(i, j, distance)`` with 0-based patch indices and a distance >= 0 (e.g. the
        least-cost distance in cost units or metres). A DataFrame needs columns ``i, j,
        distance``. Repeated pairs keep the shortest distance.

    Returns
    -------
    ndarray, shape (n_patches, n_patches)
        0 on the diagonal, the link distance where linked, ``inf`` where not.

    Examples
    --------
    >>> distance_matrix_from_links(3, [(0, 1, 2.0)])[0].tolist()
    [0.0, 2.0, inf]
    """
    if isinstance(n_patches, bool) or int(n_patches) != n_patches or n_patches < 1:
        raise InvalidParameterError(f"n_patches must be a whole number >= 1, got {n_patches!r}")
    n = int(n_patches)
    if isinstance(links, pd.DataFrame):
        missing = {"i", "j", "distance"} - set(links.columns)
        if missing:
            raise InvalidParameterError(f"links is missing column(s) {sorted(missing)}; give i, j, distance")
        arr = links[["i", "j", "distance"]].to_numpy(np.float64)
    else:
        arr = np.asarray(links, dtype=np.float64).reshape(-1, 3) if len(links) else np.empty((0, 3))
    i, j, dist = arr[:, 0], arr[:, 1], arr[:, 2]
    if np.any((i != np.round(i)) | (j != np.round(j)) | (i < 0) | (j < 0) | (i >= n) | (j >= n)):
        raise InvalidParameterError(f"links hold patch indices outside 0..{n - 1}; use 0-based patch indices")
    if np.any(np.isnan(dist)) or np.any(dist < 0):
        raise InvalidParameterError("links hold a negative or NaN distance; distances must be >= 0")
    d = np.full((n, n), np.inf)
    ii, jj = i.astype(np.intp), j.astype(np.intp)
    np.minimum.at(d, (ii, jj), dist)
    np.minimum.at(d, (jj, ii), dist)
    np.fill_diagonal(d, 0.0)
    return d


def graph_components(distance, *, max_distance: float = math.inf) -> np.ndarray:
    """Connected components of the patch graph.

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Patch-to-patch distance, ``inf`` = no link.
    max_distance : float, optional
        Links longer than this are dropped (same unit as ``distance``; default keep all
        finite links).

    Returns
    -------
    ndarray of int, shape (n,)
        Component id per patch, 0..n_components-1, numbered in order of first patch.

    Notes
    -----
    Two patches are in one component when a chain of links each ``<= max_distance`` joins them.

    Examples
    --------
    >>> graph_components([[0, 1, 9], [1, 0, 9], [9, 9, 0]], max_distance=5).tolist()
    [0, 0, 1]
    """
    d = np.asarray(distance, dtype=np.float64)
    d = _distance(d, d.shape[0] if d.ndim == 2 else -1)
    max_distance = _check_max_distance(max_distance)
    links = np.where(np.isfinite(d) & (d <= max_distance), 1.0, 0.0)
    np.fill_diagonal(links, 0.0)
    _, labels = csgraph.connected_components(links, directed=False)
    # Renumber by first appearance so ids do not depend on scipy's traversal order.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return remap[labels]


def probability_of_connectivity(
    area,
    distance,
    *,
    landscape_area: float,
    ref_distance: float,
    ref_probability: float,
    max_distance: float = math.inf,
) -> float:
    """Probability of connectivity PC (Saura & Pascual-Hortal 2007).

    Parameters
    ----------
    area : array_like, shape (n,)
        Patch attribute ``a_i`` (area, or quality-weighted area), >= 0.
    distance : array_like, shape (n, n)
        Patch-to-patch distance ``d_ij`` (e.g. least-cost distance), ``inf`` = no link.
    landscape_area : float
        ``A_L`` in the same unit as ``area``; > 0.
    ref_distance, ref_probability : float
        Dispersal kernel anchor: ``p = ref_probability`` at ``d = ref_distance`` (e.g. 0.5 at
        the median dispersal distance). ``ref_distance`` in the unit of ``distance``.
    max_distance : float, optional
        Dispersal limit in the unit of ``distance``: a link longer than this is absent
        (``p_ij = 0``), as Graphab's thresholded graphs and Linkage Mapper's maximum
        cost-weighted distance; patches beyond it still connect through stepping stones
        whose links are each within it. Default: every finite link.

    Returns
    -------
    float
        PC in [0, 1].

    Notes
    -----
    ``p_ij = exp(-k d_ij)`` with ``k = -ln(ref_probability) / ref_distance``;
    ``p*_ij`` is the maximum product probability over all paths (``p*_ii = 1``), computed as
    ``exp(-k * shortest path on d)``. ``PC = sum_i sum_j a_i a_j p*_ij / A_L^2``. With
    ``max_distance`` the paths use only links ``d_ij <= max_distance``; a pair with no such
    path has ``p*_ij = 0``.

    Examples
    --------
    >>> round(probability_of_connectivity([4, 4], [[0, 1], [1, 0]], landscape_area=10,
    ...       ref_distance=1, ref_probability=0.5), 6)
    0.48
    """
    a = _attributes(area)
    d = _limit(_distance(distance, a.size), _check_max_distance(max_distance))
    k = _decay(ref_distance, ref_probability)
    return _pc_numerator(a, d, k) / _landscape_area(landscape_area) ** 2


def equivalent_connectivity(
    area, distance, *, ref_distance: float, ref_probability: float, max_distance: float = math.inf
) -> float:
    """Equivalent connectivity EC(PC) (Saura et al. 2011).

    Parameters
    ----------
    area, distance, ref_distance, ref_probability, max_distance
        As :func:`probability_of_connectivity`.

    Returns
    -------
    float
        EC in the unit of ``area``; between ``sqrt(sum a_i^2)`` and ``sum a_i``.

    Notes
    -----
    ``EC = sqrt(sum_i sum_j a_i a_j p*_ij)``: the area of a single patch that would give the
    same PC. Comparable between dates regardless of ``A_L``.

    Examples
    --------
    >>> equivalent_connectivity([3, 4], [[0, 1], [1, 0]], ref_distance=1, ref_probability=1e-300)
    5.0
    """
    a = _attributes(area)
    d = _limit(_distance(distance, a.size), _check_max_distance(max_distance))
    k = _decay(ref_distance, ref_probability)
    return math.sqrt(_pc_numerator(a, d, k))


def integral_index_of_connectivity(
    area, distance, *, landscape_area: float, max_distance: float = math.inf
) -> float:
    """Integral index of connectivity IIC (Pascual-Hortal & Saura 2006).

    Parameters
    ----------
    area : array_like, shape (n,)
        Patch attribute ``a_i`` (>= 0).
    distance : array_like, shape (n, n)
        Patch-to-patch distance, ``inf`` = no link.
    landscape_area : float
        ``A_L`` in the unit of ``area``; > 0.
    max_distance : float, optional
        Patches are linked when ``d_ij <= max_distance`` (default: every finite distance).

    Returns
    -------
    float
        IIC in [0, 1].

    Notes
    -----
    ``IIC = sum_i sum_j a_i a_j / (1 + nl_ij) / A_L^2`` with ``nl_ij`` the number of links on
    the topologically shortest path (``nl_ii = 0``); unconnected pairs contribute 0.

    Examples
    --------
    >>> integral_index_of_connectivity([1, 1], [[0, 1], [1, 0]], landscape_area=2)
    0.75
    """
    a = _attributes(area)
    d = _distance(distance, a.size)
    max_distance = _check_max_distance(max_distance)
    return _iic_numerator(a, d, max_distance) / _landscape_area(landscape_area) ** 2


def patch_importance_pc(
    area, distance, *, ref_distance: float, ref_probability: float, max_distance: float = math.inf
) -> pd.DataFrame:
    """Importance of each patch for PC: dPC and its intra, flux and connector fractions.

    Parameters
    ----------
    area, distance, ref_distance, ref_probability, max_distance
        As :func:`probability_of_connectivity` (``A_L`` cancels out of dPC).

    Returns
    -------
    pandas.DataFrame
        One row per patch (index 0..n-1, name ``"patch"``), columns ``dPC, dPCintra,
        dPCflux, dPCconnector`` in %; ``dPC = dPCintra + dPCflux + dPCconnector``.

    Notes
    -----
    With ``PCnum = sum_i sum_j a_i a_j p*_ij`` and ``PCnum_-k`` recomputed on the graph
    without patch k (paths through k are lost):

    - ``dPC_k = 100 (PCnum - PCnum_-k) / PCnum``
    - ``dPCintra_k = 100 a_k^2 / PCnum``
    - ``dPCflux_k = 100 * 2 a_k sum_{j != k} a_j p*_kj / PCnum``
    - ``dPCconnector_k = dPC_k - dPCintra_k - dPCflux_k`` (>= 0 up to rounding)

    Cost: n all-pairs shortest paths, O(n^4) in the worst case; fine for hundreds of patches.

    Examples
    --------
    >>> patch_importance_pc([1, 1], [[0, 1], [1, 0]], ref_distance=1,
    ...                     ref_probability=0.5)["dPCintra"].round(2).tolist()
    [33.33, 33.33]
    """
    a = _attributes(area)
    d = _limit(_distance(distance, a.size), _check_max_distance(max_distance))
    k = _decay(ref_distance, ref_probability)
    pstar = np.exp(-k * _shortest(d))
    total = float(a @ pstar @ a)
    if total <= 0:
        raise InvalidParameterError("area sums to 0: PC and dPC are undefined; give patch areas > 0")
    n = a.size
    dpc = np.empty(n)
    for i in range(n):
        ai, di = _without(a, d, i)
        dpc[i] = 100.0 * (total - (_pc_numerator(ai, di, k) if ai.size else 0.0)) / total
    intra = 100.0 * a * a / total
    flux = 100.0 * 2.0 * a * (pstar @ a - a) / total
    return pd.DataFrame(
        {"dPC": dpc, "dPCintra": intra, "dPCflux": flux, "dPCconnector": dpc - intra - flux},
        index=pd.RangeIndex(n, name="patch"),
    )


def patch_importance_iic(area, distance, *, max_distance: float = math.inf) -> np.ndarray:
    """Importance of each patch for IIC: ``dIIC_k = 100 (IIC - IIC_-k) / IIC`` in %.

    Parameters
    ----------
    area, distance, max_distance
        As :func:`integral_index_of_connectivity` (``A_L`` cancels out).

    Returns
    -------
    ndarray, shape (n,)
        dIIC per patch in % (0..100).

    Notes
    -----
    ``IIC_-k`` is recomputed on the graph without patch k, so links through k are lost.

    Examples
    --------
    >>> patch_importance_iic([1, 1], [[0, 1], [1, 0]]).round(2).tolist()
    [66.67, 66.67]
    """
    a = _attributes(area)
    d = _distance(distance, a.size)
    max_distance = _check_max_distance(max_distance)
    total = _iic_numerator(a, d, max_distance)
    if total <= 0:
        raise InvalidParameterError("area sums to 0: IIC and dIIC are undefined; give patch areas > 0")
    out = np.empty(a.size)
    for i in range(a.size):
        ai, di = _without(a, d, i)
        out[i] = 100.0 * (total - (_iic_numerator(ai, di, max_distance) if ai.size else 0.0)) / total
    return out


def reachable_pairs(distance, *, max_distance: float = math.inf, stepping_stones: bool = True) -> np.ndarray:
    """Which pairs of nodes (populations, patches) lie within dispersal reach of each other.

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Node-to-node distance (e.g. least-cost distance, resistance x m), ``inf`` = no link.
    max_distance : float, optional
        Dispersal limit in the unit of ``distance``: a link longer than this is absent
        (Linkage Mapper drops links whose cost-weighted distance exceeds its maximum).
        Default: every finite link.
    stepping_stones : bool, optional
        True (default): a pair is within reach when a chain of links, each within the limit,
        joins it (same component of :func:`graph_components`), as for PC's ``p*``. False: only
        a direct link within the limit counts.

    Returns
    -------
    numpy.ndarray of bool, shape (n, n)
        Symmetric; True on the diagonal.

    Notes
    -----
    The circuit code should solve only the pairs marked True (pass
    :func:`unreachable_pairs` as ``exclude`` to
    :func:`habitat.connectivity.circuit.pairwise_resistances`), so no current is driven
    between populations no deer can reach; :func:`graph_components` gives the groups.

    Examples
    --------
    >>> reachable_pairs([[0, 1, 9], [1, 0, 2], [9, 2, 0]], max_distance=2).astype(int).tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    >>> reachable_pairs([[0, 1, 9], [1, 0, 2], [9, 2, 0]], max_distance=2,
    ...                 stepping_stones=False).astype(int).tolist()
    [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
    """
    d = np.asarray(distance, dtype=np.float64)
    d = _distance(d, d.shape[0] if d.ndim == 2 else -1)
    max_distance = _check_max_distance(max_distance)
    if stepping_stones:
        labels = graph_components(d, max_distance=max_distance)
        return labels[:, None] == labels[None, :]
    out = np.isfinite(d) & (d <= max_distance)
    np.fill_diagonal(out, True)
    return out


def unreachable_pairs(
    distance, *, max_distance: float = math.inf, stepping_stones: bool = True
) -> set[tuple[int, int]]:
    """Pairs ``(p, q)``, ``p < q``, outside dispersal reach (the complement of :func:`reachable_pairs`).

    Parameters
    ----------
    distance, max_distance, stepping_stones
        As :func:`reachable_pairs`.

    Returns
    -------
    set of tuple of int
        0-based positions, ready for the ``exclude`` argument of
        :func:`habitat.connectivity.circuit.pairwise_resistances`.

    Examples
    --------
    >>> sorted(unreachable_pairs([[0, 1, 9], [1, 0, 9], [9, 9, 0]], max_distance=5))
    [(0, 2), (1, 2)]
    """
    mask = reachable_pairs(distance, max_distance=max_distance, stepping_stones=stepping_stones)
    p, q = np.nonzero(np.triu(~mask, k=1))
    return {(int(i), int(j)) for i, j in zip(p, q, strict=True)}
