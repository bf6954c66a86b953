"""Population cells on the grid: core cells around each site and one focal cell per population.

A site is a point (a coordinate) or a polygon (a protected area, a release enclosure): a point
site's core is a disc around it, a polygon site's core is its area (issue 13).
"""

from __future__ import annotations

import numpy as np
import rasterio.features
from affine import Affine

from habitat.sites.candidates import distance_to_points, nearest_point

_AREA_TYPES = ("Polygon", "MultiPolygon")


def site_points(populations) -> np.ndarray:
    """Site x, y (grid CRS, metres), shape ``(n, 2)``: the point itself, or a polygon's
    representative point (always inside it)."""
    geoms = populations.geometry
    if len(geoms) and geoms.geom_type.isin(_AREA_TYPES).any():
        geoms = geoms.where(~geoms.geom_type.isin(_AREA_TYPES), geoms.representative_point())
    return np.column_stack([geoms.x, geoms.y]).reshape(-1, 2)


def site_areas(populations, shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """Site index (1..n in row order) on the cells of the polygon sites, 0 elsewhere.

    A polygon takes the cells whose centre lies inside it; one that holds no cell centre takes
    the cell under its representative point. Where polygons overlap the later row wins. Point
    sites mark nothing (their core is a disc, :func:`population_cores`).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> sites = gpd.GeoDataFrame(geometry=[shapely.Point(5, 5), shapely.box(10, 0, 30, 10)])
    >>> site_areas(sites, (1, 4), Affine(10, 0, 0, 0, -10, 10)).tolist()
    [[0, 2, 2, 0]]
    """
    out = np.zeros(shape, np.int32)
    for index, geom in enumerate(populations.geometry, start=1):
        if geom is None or geom.is_empty or geom.geom_type not in _AREA_TYPES:
            continue
        inside = rasterio.features.rasterize([(geom, 1)], out_shape=shape, transform=transform, fill=0,
                                             all_touched=False, dtype="uint8").astype(bool)
        if not inside.any():
            point = geom.representative_point()
            row = int(np.floor((point.y - transform.f) / transform.e))
            col = int(np.floor((point.x - transform.c) / transform.a))
            if 0 <= row < shape[0] and 0 <= col < shape[1]:
                inside[row, col] = True
        out[inside] = index
    return out


def population_cores(
    points_xy: np.ndarray, resistance: np.ndarray, x_coords: np.ndarray, y_coords: np.ndarray, radius_m: float,
    *, habitat: np.ndarray | None = None, areas: np.ndarray | None = None,
    area_sites: set[int] | None = None, with_habitat: set[int] | None = None,
) -> np.ndarray:
    """Population index (1..n in point order) on passable cells within ``radius_m`` of each site,
    or inside its area; restricted to habitat cells where the site has any.

    Parameters
    ----------
    points_xy : numpy.ndarray
        Shape ``(n, 2)``: site x, y in the grid CRS (metres).
    resistance : numpy.ndarray
        Resistance per cell; NaN or inf is impassable and never a core cell.
    x_coords, y_coords : numpy.ndarray
        Cell-centre coordinates of the columns and rows (metres).
    radius_m : float
        Core radius (m), > 0: cells whose centre lies within it belong to the site.
    habitat : numpy.ndarray of bool, optional
        Habitat cells (e.g. habitat patches). A site with habitat among its passable cells keeps
        only those: a disc drawn around a coordinate also covers desert and fields, whose cells
        would start every least-cost path from outside the habitat the deer live in. A site
        without any keeps all its passable cells.
    areas : numpy.ndarray of int, optional
        Site index per cell for the sites given as polygons (:func:`site_areas`); those sites
        take their area, not a disc, and their cells win over a disc of another site.
    area_sites, with_habitat : set of int, optional
        For a window of the grid (block-wise cores, :mod:`habitat.connectivity.two_grid`): the
        polygon sites, and the sites with habitat among their passable cells, over the whole
        grid (default: those seen in ``areas`` and ``habitat``).

    Returns
    -------
    numpy.ndarray of int32
        Population index per cell, 0 = no core. Where two discs overlap, the nearer site wins
        (ties to the lower index).
    """
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    if area_sites is None:
        area_sites = set() if areas is None else {int(v) for v in np.unique(areas) if v > 0}
    disc_sites = [i for i in range(points.shape[0]) if i + 1 not in area_sites]
    labels = np.zeros(np.shape(resistance), np.int32)
    if disc_sites:
        distance, nearest = nearest_point(x_coords, y_coords, points[disc_sites])
        # the nearest site is within the radius whenever any site is
        labels = np.where(distance <= radius_m, np.asarray(disc_sites)[nearest] + 1, 0).astype(np.int32)
    if area_sites:
        labels = np.where(areas > 0, areas, labels).astype(np.int32)
    labels = np.where(np.isfinite(resistance), labels, 0).astype(np.int32)
    if habitat is not None:
        on_habitat = np.asarray(habitat, dtype=bool) & (labels > 0)
        if with_habitat is None:
            with_habitat = np.unique(labels[on_habitat])
        labels = np.where(np.isin(labels, list(with_habitat)) & ~on_habitat, 0, labels).astype(np.int32)
    return labels


def focal_cells(
    points_xy: np.ndarray, cores: np.ndarray | None, x_coords: np.ndarray, y_coords: np.ndarray,
    *, cells: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[tuple[int, int] | None]:
    """Per population (row ``i`` of ``points_xy`` owns core index ``i + 1``), its core cell
    nearest its site point, as ``(row, col)``; None when it has no core cell.

    ``cells`` (optional) gives each population's core cells as ``(rows, cols)`` in row-major
    order (e.g. :func:`habitat.connectivity.two_grid.label_cells`, read strip by strip); then
    ``cores`` is not read. Distances are computed on the window holding the core cells only.
    """
    out: list[tuple[int, int] | None] = []
    x_coords, y_coords = np.asarray(x_coords), np.asarray(y_coords)
    for index, (x, y) in enumerate(np.asarray(points_xy, dtype=np.float64).reshape(-1, 2), start=1):
        rows, cols = np.nonzero(cores == index) if cells is None else cells[index - 1]
        if rows.size == 0:
            out.append(None)
            continue
        r0, c0 = int(rows.min()), int(cols.min())
        distance = distance_to_points(x_coords[c0: int(cols.max()) + 1], y_coords[r0: int(rows.max()) + 1], [[x, y]])
        k = int(np.argmin(distance[rows - r0, cols - c0]))
        out.append((int(rows[k]), int(cols[k])))
    return out


def site_areas_window(populations, shape: tuple[int, int], transform: Affine) -> tuple[int, int, np.ndarray] | None:
    """:func:`site_areas` on the window of the grid (``shape``, ``transform``) that holds every
    polygon site, as ``(row0, col0, window)``; None without polygon sites. Memory follows the
    polygons' extent, not the grid's."""
    geoms = populations.geometry
    polys = geoms[geoms.notna() & geoms.geom_type.isin(_AREA_TYPES)]
    polys = polys[~polys.is_empty]
    if polys.empty:
        return None
    minx, miny, maxx, maxy = polys.total_bounds
    cols = sorted(((minx - transform.c) / transform.a, (maxx - transform.c) / transform.a))
    rows = sorted(((miny - transform.f) / transform.e, (maxy - transform.f) / transform.e))
    r0, r1 = max(0, int(np.floor(rows[0])) - 1), min(shape[0], int(np.ceil(rows[1])) + 1)
    c0, c1 = max(0, int(np.floor(cols[0])) - 1), min(shape[1], int(np.ceil(cols[1])) + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    return r0, c0, site_areas(populations, (r1 - r0, c1 - c0), transform @ Affine.translation(c0, r0))
