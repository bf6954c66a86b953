"""ProtConn, Prot and the change in equivalent connected area (Saura et al. 2017, 2018).

METHODS.md 11. The graph arithmetic (``p*`` as the maximum-product path, computed as a
shortest path on ``-ln p``) is :func:`habitat.connectivity.graph.equivalent_connectivity`;
this module only builds the protected-area nodes of a region and splits ProtConn into its
fractions.

References
----------
- Saura, S., Bastin, L., Battistella, L., Mandrici, A., Dubois, G. (2017). Protected areas in
  the world's ecoregions: how well connected are they? Ecological Indicators 76: 144-158.
- Saura, S., Bertzky, B., Bastin, L., Battistella, L., Mandrici, A., Dubois, G. (2018).
  Protected area connectivity: shortfalls in global targets and country-level priorities.
  Biological Conservation 219: 53-67.
- Saura, S., Pascual-Hortal, L. (2007). A new habitat availability index to integrate
  connectivity in landscape conservation planning. Landscape and Urban Planning 83: 91-103.
- Godínez-Gómez, O., Correa Ayram, C. A. et al., Makurhini (R package, connectscape/Makurhini,
  ``MK_ProtConn``): the same node rules (protected area clipped to the region as the node
  attribute; transboundary protected areas within a search radius enter with attribute 0) and
  the same fractions, read for this implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from habitat.connectivity.graph import equivalent_connectivity, graph_components
from habitat.errors import InvalidParameterError, MissingCRSError

_M2_PER_HA = 10_000.0

#: Columns of :func:`protconn_by_region`, in order.
PROTCONN_COLUMNS = (
    "region", "region_area_ha", "protected_area_ha", "nodes", "transboundary_nodes", "ECA_ha",
    "Prot", "ProtConn", "ProtUnconn", "RelConn", "ProtConn_Prot", "ProtConn_Within",
    "ProtConn_Contig", "ProtConn_Trans", "ProtConn_Unprot",
)


def _vector(values, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if n is not None and v.size != n:
        raise InvalidParameterError(f"{name} must hold one value per node ({n}), got {v.size}")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InvalidParameterError(f"{name} must hold finite areas >= 0")
    return v


# Public API


def delta_eca_pct(eca_t1: float, eca_t2: float) -> float:
    """Change in equivalent connected area between two dates, in % of the first.

    Parameters
    ----------
    eca_t1, eca_t2 : float
        ECA at the first and the second date (same area unit, >= 0).

    Returns
    -------
    float
        ``dECA = 100 (ECA_t2 - ECA_t1) / ECA_t1`` (METHODS.md 11); NaN when ``ECA_t1 = 0``.

    Examples
    --------
    >>> delta_eca_pct(8.0, 6.0)
    -25.0
    """
    for name, v in (("eca_t1", eca_t1), ("eca_t2", eca_t2)):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidParameterError(f"{name} must be a finite area >= 0, got {v!r}")
    if eca_t1 == 0:
        return math.nan
    return 100.0 * (eca_t2 - eca_t1) / eca_t1


def protconn(
    area,
    distance,
    *,
    region_area: float,
    ref_distance: float,
    ref_probability: float = 0.5,
    transboundary=None,
    individual_area=None,
) -> dict[str, float]:
    """ProtConn, Prot and the ProtConn fractions of one region from its node graph.

    Parameters
    ----------
    area : array_like, shape (n,)
        Node attribute: protected area inside the region (any area unit, >= 0). Nodes must
        not overlap (dissolve overlapping protected areas first). Transboundary nodes count 0
        whatever is given here.
    distance : array_like, shape (n, n)
        Edge-to-edge distance between nodes (unit of ``ref_distance``), ``inf`` = no link; 0
        between touching nodes.
    region_area : float
        ``A_L``, the region's area in the unit of ``area`` (> 0).
    ref_distance : float
        Median dispersal distance: ``p_ij = ref_probability`` at ``d_ij = ref_distance``.
    ref_probability : float, optional
        Probability at ``ref_distance`` (default 0.5, Saura et al. 2017).
    transboundary : array_like of bool, shape (n,), optional
        True for protected land outside the region (within the transboundary search radius):
        a stepping stone whose attribute is 0 (Saura et al. 2017).
    individual_area : array_like, optional
        Areas inside the region of the individual (undissolved) protected areas, for
        ProtConn[Within]; default ``area`` of the non-transboundary nodes.

    Returns
    -------
    dict
        ``ECA`` (unit of ``area``), ``protected_area``, and in %: ``Prot``, ``ProtConn``,
        ``ProtUnconn``, ``RelConn``; the fractions ``ProtConn_Prot``, ``ProtConn_Within``,
        ``ProtConn_Contig``, ``ProtConn_Trans``, ``ProtConn_Unprot`` in % of ProtConn
        (``Prot + Trans + Unprot = 100``, ``Prot = Within + Contig``). Fractions are NaN when
        ECA is 0.

    Notes
    -----
    - ``ECA = sqrt(sum_i sum_j a_i a_j p*_ij)`` with ``p = exp(-k d)``,
      ``k = -ln(ref_probability) / ref_distance`` and ``p*`` the maximum-product path over all
      nodes, transboundary ones included (they carry paths, not area).
    - ``ProtConn = 100 ECA / A_L``, ``Prot = 100 sum a_i / A_L``, ``ProtUnconn = Prot -
      ProtConn``, ``RelConn = 100 ProtConn / Prot`` (Saura et al. 2017, 2018).
    - ``ProtConn_Trans = 100 (ECA - ECA_without_transboundary) / ECA``: the part that needs the
      neighbours' protected land.
    - ``ProtConn_Prot = 100 sqrt(sum_g A_g^2) / ECA`` with ``A_g`` the areas of groups of
      touching in-region nodes (``d = 0``): movement that never leaves protected land.
      ``ProtConn_Within = 100 sqrt(sum_i b_i^2) sqrt(sum a / sum b) / ECA`` with ``b`` the
      individual protected areas (the square-root factor corrects overlaps, as in the JRC
      DOPA post-processing); ``ProtConn_Contig = ProtConn_Prot - ProtConn_Within``.
    - ``ProtConn_Unprot = 100 - ProtConn_Prot - ProtConn_Trans``: movement through unprotected
      land.

    Examples
    --------
    >>> r = protconn([4, 4], [[0, 100], [100, 0]], region_area=100, ref_distance=100)
    >>> round(r["ECA"], 4), round(r["ProtConn"], 4), r["Prot"]
    (6.9282, 6.9282, 8.0)
    """
    a = _vector(area, "area")
    n = a.size
    if not (math.isfinite(region_area) and region_area > 0):
        raise InvalidParameterError(f"region_area must be a positive area, got {region_area!r}")
    tb = np.zeros(n, bool) if transboundary is None else np.asarray(transboundary, dtype=bool).ravel()
    if tb.size != n:
        raise InvalidParameterError(f"transboundary must hold one flag per node ({n}), got {tb.size}")
    a = np.where(tb, 0.0, a)
    d = np.asarray(distance, dtype=np.float64)
    if d.shape != (n, n):
        raise InvalidParameterError(f"distance must be an ({n}, {n}) matrix, got shape {d.shape}")
    inside = ~tb
    b = a[inside] if individual_area is None else _vector(individual_area, "individual_area")
    kw = {"ref_distance": ref_distance, "ref_probability": ref_probability}
    protected = float(a.sum())
    eca = equivalent_connectivity(a, d, **kw) if n else 0.0
    eca_in = equivalent_connectivity(a[inside], d[np.ix_(inside, inside)], **kw) if inside.any() else 0.0
    out = {
        "ECA": eca,
        "protected_area": protected,
        "Prot": 100.0 * protected / region_area,
        "ProtConn": 100.0 * eca / region_area,
    }
    out["ProtUnconn"] = out["Prot"] - out["ProtConn"]
    out["RelConn"] = 100.0 * out["ProtConn"] / out["Prot"] if protected > 0 else math.nan
    if eca > 0:
        groups = graph_components(d[np.ix_(inside, inside)], max_distance=0.0)
        group_area = np.bincount(groups, weights=a[inside])
        prot = 100.0 * math.sqrt(float(group_area @ group_area)) / eca
        within = 100.0 * math.sqrt(float(b @ b)) * math.sqrt(protected / float(b.sum())) / eca
        trans = 100.0 * (eca - eca_in) / eca
        out.update(ProtConn_Prot=prot, ProtConn_Within=within, ProtConn_Contig=prot - within,
                   ProtConn_Trans=trans, ProtConn_Unprot=100.0 - prot - trans)
    else:
        out.update(dict.fromkeys(("ProtConn_Prot", "ProtConn_Within", "ProtConn_Contig",
                                  "ProtConn_Trans", "ProtConn_Unprot"), math.nan))
    return out


def polygon_edge_distances(geoms, *, max_distance_m: float = math.inf) -> np.ndarray:
    """Euclidean edge-to-edge distance between every pair of polygons.

    Parameters
    ----------
    geoms : sequence of shapely geometries
        Polygons in a projected CRS whose unit is the metre.
    max_distance_m : float, optional
        Pairs farther apart than this get ``inf`` (no link); default keep every pair.

    Returns
    -------
    ndarray, shape (n, n)
        Shortest distance between the two boundaries in m (0 when they touch or overlap); 0 on
        the diagonal.

    Examples
    --------
    >>> polygon_edge_distances([shapely.box(0, 0, 1, 1), shapely.box(3, 0, 4, 1)]).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    g = np.asarray(list(geoms), dtype=object)
    if not (max_distance_m >= 0):
        raise InvalidParameterError(f"max_distance_m must be >= 0 (inf = every pair), got {max_distance_m!r}")
    n = g.size
    d = np.full((n, n), np.inf)
    if n == 0:
        return d
    if math.isinf(max_distance_m):
        i, j = np.triu_indices(n, 1)
    else:
        # Only pairs the tree finds within reach are measured.
        i, j = shapely.STRtree(g).query(g, predicate="dwithin", distance=max_distance_m)
        keep = i < j
        i, j = i[keep], j[keep]
    dist = shapely.distance(g[i], g[j])
    d[i, j] = d[j, i] = dist
    np.fill_diagonal(d, 0.0)
    return d


def protconn_nodes(protected, region, *, transboundary_distance_m: float):
    """Protected-area nodes of one region, as Saura et al. (2017) define them.

    Parameters
    ----------
    protected : sequence of shapely geometries
        Protected-area polygons (projected CRS, metres), inside and around the region.
    region : shapely geometry
        The region (country, Range State, study area).
    transboundary_distance_m : float
        Protected land outside the region and at most this far from it enters as stepping
        stones (>= 0; 0 keeps only land touching the region). Makurhini's worked example uses
        50 km for a 10 km median dispersal distance.

    Returns
    -------
    geoms : ndarray of shapely geometries
        Nodes: first the parts of the union of protected areas inside the region, then the
        parts outside it within reach.
    area_m2 : ndarray of float
        Node attribute: area inside the region (0 for transboundary nodes).
    transboundary : ndarray of bool
        True for nodes outside the region.
    individual_area_m2 : ndarray of float
        Area inside the region of each input protected area (for ProtConn[Within]).

    Notes
    -----
    Overlapping protected areas are dissolved so no land counts twice; a protected area that
    crosses the boundary gives an inside node with its inside area and an outside stepping
    stone touching it (``d = 0``), as in Makurhini ``MK_ProtConn``. Empty and non-polygon
    geometries are ignored.
    """
    if not (transboundary_distance_m >= 0):
        raise InvalidParameterError(
            f"transboundary_distance_m must be a distance >= 0 m, got {transboundary_distance_m!r}"
        )
    g = np.asarray([p for p in protected if p is not None and not p.is_empty], dtype=object)
    if g.size:
        g = g[shapely.get_dimensions(g) == 2]
    if g.size == 0:
        return np.empty(0, object), np.empty(0), np.empty(0, bool), np.empty(0)
    g = shapely.make_valid(g)
    # Only protected areas inside or within reach of the region matter.
    g = g[np.sort(shapely.STRtree(g).query(region, predicate="dwithin", distance=transboundary_distance_m))]
    if g.size == 0:
        return np.empty(0, object), np.empty(0), np.empty(0, bool), np.empty(0)
    inside = shapely.intersection(g, region)
    individual = shapely.area(inside)
    union = shapely.union_all(g)
    parts_in = _polygons(shapely.intersection(union, region))
    parts_out = _polygons(shapely.difference(union, region))
    if parts_out.size:
        parts_out = parts_out[shapely.distance(parts_out, region) <= transboundary_distance_m]
    geoms = np.concatenate([parts_in, parts_out])
    area = np.concatenate([shapely.area(parts_in), np.zeros(parts_out.size)])
    tb = np.concatenate([np.zeros(parts_in.size, bool), np.ones(parts_out.size, bool)])
    return geoms, area, tb, individual[individual > 0]


def _polygons(geom) -> np.ndarray:
    parts = shapely.get_parts(geom)
    parts = parts[(shapely.get_dimensions(parts) == 2) & (shapely.area(parts) > 0)] if parts.size else parts
    return np.asarray(parts, dtype=object)


def protconn_by_region(
    protected,
    regions,
    *,
    region_column: str,
    median_dispersal_m: float,
    probability: float = 0.5,
    transboundary_distance_m: float,
) -> pd.DataFrame:
    """ProtConn per region from protected-area and region polygons.

    Parameters
    ----------
    protected : geopandas.GeoDataFrame
        Protected-area polygons.
    regions : geopandas.GeoDataFrame
        Region polygons (one row per region; rows sharing a name are dissolved), same CRS.
    region_column : str
        Column of ``regions`` naming each region.
    median_dispersal_m : float
        Median dispersal distance in m (p = ``probability`` there).
    probability : float, optional
        Link probability at ``median_dispersal_m`` (default 0.5, Saura et al. 2017).
    transboundary_distance_m : float
        Search radius for transboundary stepping stones (see :func:`protconn_nodes`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROTCONN_COLUMNS`; areas in ha, indicators in % (fractions in % of
        ProtConn), one row per region in order of first appearance.

    Notes
    -----
    Links with ``p < 1e-6`` are dropped before the graph is built (a pair adds at most
    ``a_i a_j 1e-6`` to ECA²), which bounds the distance computations.
    """
    for name, gdf in (("protected", protected), ("regions", regions)):
        if gdf.crs is None:
            raise MissingCRSError(f"{name}: the layer has no CRS; give it a projected CRS in metres")
        if not gdf.crs.is_projected:
            raise InvalidParameterError(
                f"{name}: CRS {gdf.crs.to_string()} is geographic; reproject to a metric CRS for areas and distances"
            )
    if region_column not in regions.columns:
        raise InvalidParameterError(f"regions has no column {region_column!r}; name the column holding region names")
    if protected.crs != regions.crs:
        protected = protected.to_crs(regions.crs)
    if not (0 < probability < 1):
        raise InvalidParameterError(f"probability must lie strictly between 0 and 1, got {probability!r}")
    cutoff = median_dispersal_m * math.log(1e-6) / math.log(probability)
    rows = []
    geoms = protected.geometry.to_numpy()
    for name, group in regions.groupby(region_column, sort=False):
        region = shapely.union_all(group.geometry.to_numpy())
        nodes, area, tb, individual = protconn_nodes(geoms, region, transboundary_distance_m=transboundary_distance_m)
        dist = polygon_edge_distances(nodes, max_distance_m=cutoff)
        r = protconn(area / _M2_PER_HA, dist, region_area=region.area / _M2_PER_HA, ref_distance=median_dispersal_m,
                     ref_probability=probability, transboundary=tb, individual_area=individual / _M2_PER_HA)
        rows.append({
            "region": name, "region_area_ha": region.area / _M2_PER_HA, "protected_area_ha": r["protected_area"],
            "nodes": int((~tb).sum()), "transboundary_nodes": int(tb.sum()), "ECA_ha": r["ECA"],
            **{k: r[k] for k in PROTCONN_COLUMNS[6:]},
        })
    return pd.DataFrame(rows, columns=list(PROTCONN_COLUMNS))


#: ProtConn outputs written as indicators (long form), by the :func:`protconn` key.
PROTCONN_INDICATORS = {"Prot": "Prot", "ProtConn": "ProtConn", "ProtUnconn": "ProtUnconn", "RelConn": "RelConn",
                       "ProtConn_Prot": "ProtConn_Prot", "ProtConn_Within": "ProtConn_Within",
                       "ProtConn_Contig": "ProtConn_Contig", "ProtConn_Trans": "ProtConn_Trans",
                       "ProtConn_Unprot": "ProtConn_Unprot", "protected_ECA_ha": "ECA_ha"}
#: Note on ProtConn rows of a run without protected-area polygons.
NO_PROTECTED_AREAS = "no protected-area polygons (inputs.protected_areas not given): ProtConn not computed"


def protconn_long(
    protected,
    regions,
    *,
    epoch: str,
    median_dispersal_m: float,
    probability: float = 0.5,
    transboundary_distance_m: float,
) -> pd.DataFrame:
    """ProtConn indicators of each region in long form, with a note where they cannot be computed.

    Parameters
    ----------
    protected : geopandas.GeoDataFrame or None
        Protected-area polygons; None when the pipeline has none.
    regions : geopandas.GeoDataFrame
        Columns ``unit_type``, ``unit_id``, ``unit_name`` and the region polygons (projected,
        metres).
    epoch : str
        Date the protected areas stand for (the current epoch).
    median_dispersal_m, probability, transboundary_distance_m
        As :func:`protconn_by_region`.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_type, unit_id, unit_name, indicator, epoch, value, unit_of_measure, note``:
        :data:`PROTCONN_INDICATORS` per region (``%`` or ``ha``); without protected areas one
        ``ProtConn`` and one ``Prot`` row per region with NaN and the note
        :data:`NO_PROTECTED_AREAS`.
    """
    columns = ["unit_type", "unit_id", "unit_name", "indicator", "epoch", "value", "unit_of_measure", "note"]
    keys = list(zip(regions["unit_type"], regions["unit_id"], regions["unit_name"]))
    rows = []
    if protected is None:
        for kind, uid, name in keys:
            rows += [(kind, uid, name, ind, epoch, math.nan, "%", NO_PROTECTED_AREAS) for ind in ("ProtConn", "Prot")]
        return pd.DataFrame(rows, columns=columns)
    labelled = regions.assign(_region=[f"{k}\x1f{u}" for k, u, _ in keys])
    table = protconn_by_region(protected, labelled, region_column="_region", median_dispersal_m=median_dispersal_m,
                               probability=probability, transboundary_distance_m=transboundary_distance_m)
    table = table.set_index("region")
    for kind, uid, name in dict.fromkeys(keys):
        r = table.loc[f"{kind}\x1f{uid}"]
        for indicator, column in PROTCONN_INDICATORS.items():
            uom = "ha" if column.endswith("_ha") else "% of ProtConn" if indicator.startswith("ProtConn_") else "%"
            rows.append((kind, uid, name, indicator, epoch, float(r[column]), uom, ""))
    return pd.DataFrame(rows, columns=columns)
