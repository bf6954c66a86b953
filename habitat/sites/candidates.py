"""Candidate release sites from rasters: unoccupied pieces of habitat patches and their criteria."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError, StageContractError
from habitat.vocabulary import neighbourhood

# scipy.ndimage and cKDTree are imported in the functions: habitat.config reads CANDIDATE_COLUMNS
# from here, and `habitat validate` should stay light.

__all__ = [
    "distance_to_points",
    "nearest_point",
    "extract_candidates",
    "central_cells",
    "candidate_criteria",
    "criteria_table",
    "candidate_ids",
    "CANDIDATE_COLUMNS",
    "CRITERIA_COLUMNS",
    "NUMERIC_COLUMNS",
    "candidate_table",
    "overlapping_areas",
]

#: Every column of the candidate table, in its order: what a site criterion
#: (stages.sites.hard_criteria[].column, criteria[].name, pareto_objectives) may name. The
#: pipeline check (habitat.config.settings_problems) and the sites stage read this one list.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate_id", "site_id", "parent_patch_id", "parent_patch_ids", "n_cells", "area_ha", "core_area_ha",
    "usable_area_ha", "capacity_deer", "mean_quality", "mean_degradation", "mean_water_distance_m",
    "share_protected", "share_historical_range", "lcd_to_source", "effective_resistance_to_source_ohm",
    "distance_to_source_m", "dpc_parent_patch", "capacity_x_quality", "centre_x", "centre_y",
    "nearest_source_site", "inside_historical_range", "nearest_translocation_source",
    "distance_to_translocation_source_m",
)
#: Columns the sites stage adds to :func:`candidate_criteria`'s (circuit distance, release point,
#: nearest sources, the historical-range flag); the rest come from :func:`candidate_criteria`.
_STAGE_COLUMNS = frozenset({
    "effective_resistance_to_source_ohm", "capacity_x_quality", "centre_x", "centre_y", "nearest_source_site",
    "inside_historical_range", "nearest_translocation_source", "distance_to_translocation_source_m",
})
#: The columns of :func:`candidate_criteria`, in order.
CRITERIA_COLUMNS: tuple[str, ...] = tuple(c for c in CANDIDATE_COLUMNS if c not in _STAGE_COLUMNS)
#: Columns holding numbers: what a scoring criterion or a Pareto objective may name (hard
#: criteria may also test the text columns, e.g. ``inside_historical_range == "yes"``).
NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in CANDIDATE_COLUMNS
    if c not in {"site_id", "parent_patch_ids", "nearest_source_site", "inside_historical_range",
                 "nearest_translocation_source"}
)

_M2_PER_HA = 1.0e4
_HA_PER_KM2 = 100.0


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidParameterError(f"{name}={value!r}: give a finite number {bound}")
    return v


def distance_to_points(x_coords: np.ndarray, y_coords: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """Euclidean distance from every cell centre to the nearest of a set of points.

    Parameters
    ----------
    x_coords, y_coords : numpy.ndarray
        Cell-centre coordinates of the columns and rows (grid CRS, metres).
    points_xy : numpy.ndarray
        Shape ``(n, 2)``: point x, y in the grid CRS (metres); ``n`` may be 0.

    Returns
    -------
    numpy.ndarray of float64, shape ``(len(y_coords), len(x_coords))``
        ``min_p sqrt((x - x_p)^2 + (y - y_p)^2)`` in metres; inf everywhere when there are no
        points.

    Examples
    --------
    >>> distance_to_points(np.array([0.0, 10.0]), np.array([0.0]), np.array([[0.0, 0.0]])).tolist()
    [[0.0, 10.0]]
    """
    return nearest_point(x_coords, y_coords, points_xy)[0]


def nearest_point(
    x_coords: np.ndarray, y_coords: np.ndarray, points_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from every cell centre to the nearest of a set of points, and which point that is.

    Parameters
    ----------
    x_coords, y_coords : numpy.ndarray
        Cell-centre coordinates of the columns and rows (grid CRS, metres).
    points_xy : numpy.ndarray
        Shape ``(n, 2)``: point x, y in the grid CRS (metres); ``n`` may be 0.

    Returns
    -------
    distance : numpy.ndarray of float64, shape ``(len(y_coords), len(x_coords))``
        ``min_p sqrt((x - x_p)^2 + (y - y_p)^2)`` in metres; inf everywhere when there are no
        points.
    index : numpy.ndarray of int64, same shape
        Row of ``points_xy`` of the nearest point (ties: the lower row); -1 when there are no
        points.

    Examples
    --------
    >>> d, i = nearest_point(np.array([0.0, 10.0]), np.array([0.0]), np.array([[0.0, 0.0], [12.0, 0.0]]))
    >>> d.tolist(), i.tolist()
    ([[0.0, 2.0]], [[0, 1]])
    """
    x = np.asarray(x_coords, dtype=np.float64)
    y = np.asarray(y_coords, dtype=np.float64)
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    out = np.full((y.size, x.size), np.inf)
    index = np.full(out.shape, -1, dtype=np.int64)
    for k, (px, py) in enumerate(pts):
        # Separable squares keep memory at one grid plus two vectors per point.
        d = np.sqrt((y[:, None] - py) ** 2 + (x[None, :] - px) ** 2)
        index[d < out] = k
        np.minimum(out, d, out=out)
    return out, index


def _relabel_in_raster_order(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 1..n by the raster position of each label's first cell."""
    flat = labels.ravel()
    present = np.flatnonzero(flat)
    if present.size == 0:
        return np.zeros_like(labels, dtype=np.int32)
    uniq, first = np.unique(flat[present], return_index=True)
    order = np.argsort(present[first], kind="stable")
    lut = np.zeros(int(uniq.max()) + 1, dtype=np.int32)
    lut[uniq[order]] = np.arange(1, uniq.size + 1, dtype=np.int32)
    return lut[labels]


def _merge_within_gap(labels: np.ndarray, n: int, gap_cells: float) -> np.ndarray:
    """Union pieces whose nearest cell centres lie within ``gap_cells + 1`` cells."""
    from scipy import ndimage
    from scipy.spatial import cKDTree
    # Only boundary cells can hold the nearest pair of two pieces, so the tree stays small.
    mask = labels > 0
    edge = mask & ~ndimage.binary_erosion(mask, structure=neighbourhood(4),
                                          border_value=0)
    rows, cols = np.nonzero(edge)
    parent = np.arange(n + 1)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if rows.size:
        tree = cKDTree(np.column_stack([rows, cols]).astype(np.float64))
        owner = labels[rows, cols]
        for a, b in tree.query_pairs(r=gap_cells + 1.0 + 1e-9, output_type="ndarray"):
            ra, rb = find(int(owner[a])), find(int(owner[b]))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n + 1)])
    return roots[labels]


def extract_candidates(
    patch_id: np.ndarray,
    occupied: np.ndarray,
    *,
    cell_size_m: float,
    cluster_gap_m: float = 0.0,
    reach_tile_m: float = 0.0,
    min_area_ha: float = 0.0,
) -> np.ndarray:
    """Candidate sites: connected pieces of habitat patches outside the occupied areas.

    Parameters
    ----------
    patch_id : numpy.ndarray of int
        Habitat patch labels, 0 = no patch.
    occupied : numpy.ndarray of bool
        Cells occupied by a current population (e.g. within a radius of a population site).
    cell_size_m : float
        Side of a square cell in metres, > 0.
    cluster_gap_m : float
        Pieces whose nearest cells are at most this far apart (edge to edge, metres) form one
        candidate; 0 (default) keeps every 8-connected piece on its own.
    reach_tile_m : float
        Side (m) of square tiles, anchored at the grid's first cell, that cut candidates into
        reaches: a valley strip hundreds of km long becomes sections a planner can visit. The
        part of a candidate inside one tile is a candidate. 0 (default) = no cut; else
        >= cell_size_m, rounded to whole cells.
    min_area_ha : float
        Candidates smaller than this (ha, after clustering and cutting) are dropped as slivers, >= 0.

    Returns
    -------
    numpy.ndarray of int32
        Candidate ids 1..n, numbered in raster order of each candidate's first cell; 0
        elsewhere.

    Notes
    -----
    Cells with ``patch_id > 0`` and not ``occupied`` are labelled 8-connected. With a gap
    ``g > 0`` two pieces merge when the centres of their nearest cells are at most
    ``g + cell_size_m`` apart (for pieces side by side that is an empty strip of at most ``g``
    between them), transitively. A candidate keeps every patch it touches as a parent.

    Examples
    --------
    >>> strip = np.ones((1, 7), int)
    >>> extract_candidates(strip, (np.arange(7) == 3)[None], cell_size_m=100.0).tolist()
    [[1, 1, 1, 0, 2, 2, 2]]
    >>> extract_candidates(strip, 0 * strip, cell_size_m=100.0, reach_tile_m=300.0).tolist()
    [[1, 1, 1, 2, 2, 2, 3]]
    """
    from scipy import ndimage
    cs = _check_positive("cell_size_m", cell_size_m)
    gap = _check_positive("cluster_gap_m", cluster_gap_m, allow_zero=True)
    tile_m = _check_positive("reach_tile_m", reach_tile_m, allow_zero=True)
    if 0 < tile_m < cs:
        raise InvalidParameterError(f"reach_tile_m={tile_m:g} is below one cell ({cs:g} m); use 0 or >= {cs:g}")
    min_ha = _check_positive("min_area_ha", min_area_ha, allow_zero=True)
    patches = np.asarray(patch_id)
    occ = np.asarray(occupied, dtype=bool)
    if patches.shape != occ.shape or patches.ndim != 2:
        raise InvalidParameterError(
            f"patch_id {patches.shape} and occupied {occ.shape}: give two 2-D arrays of one grid"
        )
    labels, n = ndimage.label((patches > 0) & ~occ, structure=neighbourhood(8))
    if gap > 0 and n > 1:
        labels = _merge_within_gap(labels, n, gap / cs)
    if tile_m > 0:
        labels = _cut_by_tiles(labels, int(round(tile_m / cs)))
    if min_ha > 0 and labels.any():
        counts = np.bincount(labels.ravel())
        small = counts * cs * cs / _M2_PER_HA < min_ha
        small[0] = False
        labels = np.where(small[labels], 0, labels)
    return _relabel_in_raster_order(labels)


def _cut_by_tiles(labels: np.ndarray, tile_cells: int) -> np.ndarray:
    """Relabel so that the part of each label inside one tile has its own label."""
    rows, cols = np.nonzero(labels)
    out = np.zeros(labels.shape, dtype=np.int64)
    if rows.size == 0:
        return out
    tiles_across = -(-labels.shape[1] // tile_cells)
    tile = (rows // tile_cells).astype(np.int64) * tiles_across + cols // tile_cells
    n_tiles = (-(-labels.shape[0] // tile_cells)) * tiles_across
    key = labels[rows, cols].astype(np.int64) * n_tiles + tile
    # any distinct positive numbers do: _relabel_in_raster_order renumbers them 1..n
    out[rows, cols] = np.unique(key, return_inverse=True)[1].ravel() + 1
    return out


def candidate_ids(n: int) -> list[str]:
    """Site ids ``C1``... for candidates 1..n, zero-padded so text order is number order.

    Examples
    --------
    >>> candidate_ids(10)[:2]
    ['C01', 'C02']
    """
    width = len(str(max(int(n), 1)))
    return [f"C{k:0{width}d}" for k in range(1, int(n) + 1)]


def central_cells(labels: np.ndarray, *, passable: np.ndarray | None = None) -> list[tuple[int, int] | None]:
    """Per candidate 1..n, its most central cell: the one farthest from the candidate's edge.

    Parameters
    ----------
    labels : numpy.ndarray of int
        Candidate ids 1..n, 0 elsewhere.
    passable : numpy.ndarray of bool, optional
        Only these cells may be chosen (e.g. finite resistance); default every cell.

    Returns
    -------
    list of (row, col) or None
        One entry per id 1..n; None when a candidate has no allowed cell.

    Notes
    -----
    Centrality is the Euclidean distance transform of the candidate mask (distance in cells
    to the nearest cell of another id or background; the grid border counts as outside). Ties
    go to the tied cell nearest the mean position of the tied cells, then to raster order.

    Examples
    --------
    >>> central_cells(np.array([[1, 1, 1, 1, 1]]))
    [(0, 2)]
    """
    from scipy import ndimage
    lab = np.asarray(labels)
    n = int(lab.max()) if lab.size else 0
    if n == 0:
        return []
    allowed = np.ones(lab.shape, dtype=bool) if passable is None else np.asarray(passable, dtype=bool)
    out: list[tuple[int, int] | None] = [None] * n
    for k, window in enumerate(ndimage.find_objects(lab), start=1):
        if window is None:
            continue
        mine = lab[window] == k
        # Pad the window so the grid border and other labels count as outside.
        depth = ndimage.distance_transform_edt(np.pad(mine, 1))[1:-1, 1:-1]
        depth = np.where(mine & allowed[window], depth, 0.0)
        peak = depth.max()
        if peak <= 0:
            continue
        rows, cols = np.nonzero(depth == peak)
        # Ties (a strip one cell wide) go to the tied cell nearest their mean position.
        k_best = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))
        out[k - 1] = (int(rows[k_best] + window[0].start), int(cols[k_best] + window[1].start))
    return out


def _per_label_mean(values: np.ndarray | None, flat: np.ndarray, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.shape != flat.shape:
        raise InvalidParameterError("criteria layers must have the shape of the candidate labels (one grid)")
    ok = np.isfinite(v) & (flat > 0)
    total = np.bincount(flat[ok], weights=v[ok], minlength=n + 1)[1:]
    count = np.bincount(flat[ok], minlength=n + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def candidate_criteria(
    labels: np.ndarray,
    patch_id: np.ndarray,
    *,
    cell_size_m: float,
    quality: np.ndarray,
    degradation: np.ndarray,
    water_distance_m: np.ndarray,
    protected_fraction: np.ndarray | None = None,
    historical_range_fraction: np.ndarray | None = None,
    cost_to_source: np.ndarray | None = None,
    distance_to_source_m: np.ndarray | None = None,
    dpc_by_patch: Mapping[int, float] | None = None,
    centres: list[tuple[int, int] | None] | None = None,
    edge_depth_m: float = 100.0,
    density_per_km2: float = 5.0,
    usable_area: Literal["area", "core_area", "quality_weighted"] = "area",
) -> pd.DataFrame:
    """Per candidate: area, core area, quality, capacity, connectivity, threat, water, protection.

    Parameters
    ----------
    labels : numpy.ndarray of int
        Candidate ids 1..n (from :func:`extract_candidates`), 0 elsewhere.
    patch_id : numpy.ndarray of int
        Habitat patch labels the candidates were cut from (0 = no patch).
    cell_size_m : float
        Side of a square cell in metres, > 0.
    quality, degradation, water_distance_m : numpy.ndarray
        Habitat quality Q in [0, 1], threat degradation D (InVEST, >= 0) and distance to
        water (m); NaN cells are left out of the means.
    protected_fraction : numpy.ndarray, optional
        Fraction of each cell inside protected areas, [0, 1]; absent means 0 everywhere.
    historical_range_fraction : numpy.ndarray, optional
        Fraction of each cell inside the historical range, [0, 1]; absent means not assessed
        (the column is NaN).
    cost_to_source : numpy.ndarray, optional
        Least-cost distance from the nearest source population (resistance x m; inf where
        unreachable); the column is NaN when absent.
    distance_to_source_m : numpy.ndarray, optional
        Euclidean distance to the nearest population site (m); read at each candidate's
        release point; NaN when absent.
    dpc_by_patch : mapping of int to float, optional
        dPC (%) of each habitat patch; patches not listed count 0 (they were left out of
        the graph as the smallest).
    centres : list of (row, col) or None, optional
        Release point of each candidate 1..n (see :func:`central_cells`); default the
        central cells of ``labels``.
    edge_depth_m : float
        Edge depth for the core area (m, >= 0).
    density_per_km2 : float
        Sustainable density for capacity (deer/km2, > 0); DOMAIN.md 8: 5-10 [A].
    usable_area : {'area', 'core_area', 'quality_weighted'}
        Area that carries deer, as in :func:`habitat.suitability.patches.patch_table`.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, by id: ``candidate_id``, ``site_id`` (``C01``...),
        ``parent_patch_id`` (patch holding most of its cells), ``parent_patch_ids``
        (``";"``-joined), ``n_cells``, ``area_ha``, ``core_area_ha``, ``usable_area_ha``,
        ``capacity_deer``, ``mean_quality``, ``mean_degradation``, ``mean_water_distance_m``,
        ``share_protected``, ``share_historical_range``, ``lcd_to_source``, ``distance_to_source_m``,
        ``dpc_parent_patch``.

    Notes
    -----
    With ``a = cs^2 / 10^4`` ha per cell and ``C`` the candidate's cells:
    ``area_ha = |C| a``; ``core_area_ha = |C ∩ core(patches)| a``, where the core is that of
    the whole parent patch (:func:`habitat.suitability.patches.core_mask`), so the cut at an
    occupied area is not treated as a habitat edge; ``usable_area_ha`` is the area, the core
    area or ``Σ_C Q a``; ``capacity_deer = usable_area_ha / 100 · density``; means are over the
    finite cells of C; ``lcd_to_source = min_C cost`` (the candidate's best-connected cell);
    ``distance_to_source_m = d`` at the release point (the central cell; translocation
    logistics, and unlike ``min_C d`` not pinned to the occupied radius by construction);
    ``dpc_parent_patch = max`` of the parents' dPC.

    Examples
    --------
    >>> lab = np.array([[1, 1, 0, 2]])
    >>> one = np.ones((1, 4))
    >>> t = candidate_criteria(lab, one.astype(int), cell_size_m=100.0, quality=one,
    ...                        degradation=0 * one, water_distance_m=100 * one, edge_depth_m=0.0)
    >>> t[["site_id", "area_ha", "capacity_deer"]].values.tolist()
    [['C1', 2.0, 0.1], ['C2', 1.0, 0.05]]
    """
    from scipy import ndimage
    from habitat.suitability.patches import core_mask  # loads xarray: only when measuring

    cs = _check_positive("cell_size_m", cell_size_m)
    density = _check_positive("density_per_km2", density_per_km2)
    if usable_area not in ("area", "core_area", "quality_weighted"):
        raise InvalidParameterError(f"usable_area={usable_area!r}; use 'area', 'core_area' or 'quality_weighted'")
    lab = np.asarray(labels).astype(np.int64)
    patches = np.asarray(patch_id).astype(np.int64)
    if lab.shape != patches.shape:
        raise InvalidParameterError(f"labels {lab.shape} and patch_id {patches.shape}: give arrays of one grid")
    n = int(lab.max()) if lab.size else 0
    flat = lab.ravel()
    cell_ha = cs * cs / _M2_PER_HA
    n_cells = np.bincount(flat, minlength=n + 1)[1:]
    core = np.asarray(core_mask(patches, edge_depth_m=edge_depth_m, cell_size_m=cs)).ravel()
    n_core = np.bincount(flat, weights=core.astype(np.float64), minlength=n + 1)[1:]
    mean_q = _per_label_mean(quality, flat, n)
    q = np.nan_to_num(np.asarray(quality, dtype=np.float64).ravel(), nan=0.0)
    sum_q = np.bincount(flat, weights=np.where(flat > 0, q, 0.0), minlength=n + 1)[1:]
    area_ha = n_cells * cell_ha
    core_ha = n_core * cell_ha
    usable_ha = {"area": area_ha, "core_area": core_ha, "quality_weighted": sum_q * cell_ha}[usable_area]
    index = np.arange(1, n + 1)
    if centres is None:
        centres = central_cells(lab)
    if len(centres) != n:
        raise InvalidParameterError(f"centres: {len(centres)} cells for {n} candidates; give one per candidate")
    if distance_to_source_m is None:
        release_distance = np.full(n, np.nan)
    else:
        d = np.asarray(distance_to_source_m, dtype=np.float64)
        if d.shape != lab.shape:
            raise InvalidParameterError("criteria layers must have the shape of the candidate labels (one grid)")
        release_distance = np.array([d[c] if c is not None else np.nan for c in centres], dtype=np.float64)

    def per_label_min(surface: np.ndarray | None) -> np.ndarray:
        if surface is None or n == 0:
            return np.full(n, np.nan)
        s = np.asarray(surface, dtype=np.float64)
        if s.shape != lab.shape:
            raise InvalidParameterError("criteria layers must have the shape of the candidate labels (one grid)")
        # NaN cells (off the cost surface) must not win the minimum.
        return np.atleast_1d(ndimage.minimum(np.where(np.isnan(s), np.inf, s), lab, index)).astype(np.float64)

    inside = (flat > 0) & (patches.ravel() > 0)
    pairs, pair_cells = np.unique(np.column_stack([flat[inside], patches.ravel()[inside]]), axis=0,
                                  return_counts=True)
    protected = (np.zeros(n) if protected_fraction is None
                 else np.nan_to_num(_per_label_mean(protected_fraction, flat, n), nan=0.0))
    in_range = (np.full(n, np.nan) if historical_range_fraction is None
                else np.nan_to_num(_per_label_mean(historical_range_fraction, flat, n), nan=0.0))
    return criteria_table(
        n_cells=n_cells, core_ha=core_ha, usable_ha=usable_ha, density=density, mean_quality=mean_q,
        mean_degradation=_per_label_mean(degradation, flat, n),
        mean_water_distance_m=_per_label_mean(water_distance_m, flat, n), share_protected=protected,
        share_historical_range=in_range, lcd=per_label_min(cost_to_source), release_distance=release_distance,
        pairs=pairs, pair_cells=pair_cells, dpc_by_patch=dpc_by_patch, cell_size_m=cs,
    )


def criteria_table(*, n_cells, core_ha, usable_ha, density, mean_quality, mean_degradation, mean_water_distance_m,
                   share_protected, share_historical_range, lcd, release_distance, pairs, pair_cells, dpc_by_patch,
                   cell_size_m) -> pd.DataFrame:
    """The table of :func:`candidate_criteria` from its per-candidate numbers (also used by the
    block-wise sums, :mod:`habitat.sites.blockwise`): ``pairs`` are the sorted unique
    (candidate, patch) pairs and ``pair_cells`` their cell counts."""
    n = len(n_cells)
    index = np.arange(1, n + 1)
    area_ha = n_cells * (cell_size_m * cell_size_m / _M2_PER_HA)
    dpc_map = {int(k): float(v) for k, v in (dpc_by_patch or {}).items()}
    pairs = np.asarray(pairs).reshape(-1, 2)
    parents, main_parent, dpc = [], np.zeros(n, dtype=np.int64), np.zeros(n)
    for k in range(n):
        rows = pairs[:, 0] == k + 1
        ids, counts = pairs[rows, 1], pair_cells[rows]
        parents.append(";".join(str(int(i)) for i in ids))
        if ids.size:
            main_parent[k] = int(ids[np.argmax(counts)])
            dpc[k] = max(dpc_map.get(int(i), 0.0) for i in ids)
    return candidate_table(
        {
            "candidate_id": index.astype(np.int64),
            "site_id": pd.Series(candidate_ids(n), dtype=object),
            "parent_patch_id": main_parent,
            "parent_patch_ids": pd.Series(parents, dtype=object),
            "n_cells": np.asarray(n_cells).astype(np.int64),
            "area_ha": area_ha,
            "core_area_ha": core_ha,
            "usable_area_ha": usable_ha,
            "capacity_deer": usable_ha / _HA_PER_KM2 * density,
            "mean_quality": mean_quality,
            "mean_degradation": mean_degradation,
            "mean_water_distance_m": mean_water_distance_m,
            "share_protected": share_protected,
            "share_historical_range": share_historical_range,
            "lcd_to_source": lcd,
            "distance_to_source_m": release_distance,
            "dpc_parent_patch": dpc,
        },
        CRITERIA_COLUMNS,
    )


def candidate_table(columns, declared: tuple[str, ...] = CANDIDATE_COLUMNS) -> pd.DataFrame:
    """The candidate table with exactly the ``declared`` columns, in their order.

    ``columns`` is a DataFrame or a mapping of column name to values. A declared column that is
    missing, or a column that is not declared, is a programming error (StageContractError): the
    pipeline check validates criteria against the declaration, so the table must match it.
    """
    table = columns if isinstance(columns, pd.DataFrame) else pd.DataFrame(dict(columns))
    missing = [c for c in declared if c not in table.columns]
    extra = [c for c in table.columns if c not in declared]
    if missing or extra:
        raise StageContractError(f"candidate table: columns {missing} are declared but not built, {extra} are "
                                 "built but not declared; update habitat.sites.candidates.CANDIDATE_COLUMNS")
    return table[list(declared)]


def overlapping_areas(labels: np.ndarray, areas: np.ndarray) -> dict[int, list[int]]:
    """Which occupied areas each candidate overlaps.

    Parameters
    ----------
    labels : 2-D int array
        Candidate id per cell (0 = none).
    areas : 2-D int array
        Occupied-area index per cell (0 = none), e.g. polygon population sites
        (:func:`habitat.connectivity.populations.site_areas`).

    Returns
    -------
    dict
        Candidate id -> sorted area indices it shares at least one cell with (candidates that
        overlap nothing are left out).

    Examples
    --------
    >>> overlapping_areas(np.array([[1, 1, 2, 0]]), np.array([[0, 3, 0, 3]]))
    {1: [3]}
    """
    lab = np.asarray(labels)
    area = np.asarray(areas)
    both = (lab > 0) & (area > 0)
    out: dict[int, list[int]] = {}
    for cid, aid in sorted(set(zip(lab[both].tolist(), area[both].tolist()))):
        out.setdefault(int(cid), []).append(int(aid))
    return out
