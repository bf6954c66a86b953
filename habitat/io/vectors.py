"""Read, repair and reproject vector layers; rasterize them onto the analysis grid."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from rasterio import features
from scipy import ndimage

from habitat.errors import GeometryError, InputFileError, MissingCRSError, NoOverlapError
from habitat.grid import GridSpec
from habitat.io.atomic import atomic_path
from habitat.vocabulary import neighbourhood

#: Formats read through pyogrio (GDAL/OGR) plus GeoParquet through geopandas.
VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".parquet", ".geoparquet", ".fgb"}


@dataclass(frozen=True)
class RepairReport:
    """What :func:`clean_geometries` did to a layer."""

    n_features: int
    n_repaired: int
    n_empty_dropped: int


def read_vector(path: str | os.PathLike, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (GeoPackage, Shapefile, GeoJSON, FlatGeobuf or GeoParquet).

    Raises
    ------
    InputFileError
        Missing file, unreadable file, or unknown layer.
    MissingCRSError
        The layer has no CRS.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; check the path")
    try:
        if path.suffix.lower() in {".parquet", ".geoparquet"}:
            gdf = gpd.read_parquet(path)
        else:
            gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio/pyarrow raise many types; all mean "cannot read"
        hint = f" (layers: {', '.join(_layers(path))})" if layer else ""
        raise InputFileError(
            f"{path}: cannot be read as a vector layer{hint}: {str(exc).splitlines()[0][:160]}"
        ) from exc
    if gdf.crs is None:
        raise MissingCRSError(f"{path}: layer has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    return gdf


def _layers(path: Path) -> list[str]:
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception:
        return []


def clean_geometries(
    gdf: gpd.GeoDataFrame, *, source: str = "layer"
) -> tuple[gpd.GeoDataFrame, RepairReport]:
    """Repair invalid geometries with ``make_valid`` and drop empty or missing ones.

    A repaired geometry keeps only the parts of the original's dimension (a polygon stays
    polygonal: a bow-tie becomes two triangles, stray lines from the repair are dropped).

    Raises
    ------
    GeometryError
        A non-empty geometry that has no part of its own dimension after repair, e.g. a polygon
        with zero area, which cannot be repaired into a polygon.
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    repaired = geoms.copy()
    if invalid.any():
        dims = shapely.get_dimensions(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        kept = np.array([_keep_dimension(g, d) for g, d in zip(fixed, dims)], dtype=object)
        bad = np.flatnonzero(shapely.is_empty(kept))
        if bad.size:
            idx = np.flatnonzero(invalid)[bad]
            raise GeometryError(
                f"{source}: {bad.size} geometr{'y' if bad.size == 1 else 'ies'} cannot be repaired "
                f"(feature index {', '.join(str(int(i)) for i in idx[:5])}: it collapses to nothing "
                "of its own type, e.g. a zero-area polygon); fix or delete it"
            )
        repaired[invalid] = kept
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(repaired, index=gdf.index, crs=gdf.crs))
    out = out.loc[~missing]
    report = RepairReport(len(gdf), int(invalid.sum()), int(missing.sum()))
    return out, report


def _keep_dimension(geom: shapely.Geometry, dim: int) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_dimensions(parts) == dim]
    if parts.size == 0:
        return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    if parts.size == 1:
        return parts[0]
    if dim == 2:
        return shapely.multipolygons(shapely.get_parts(parts))
    if dim == 1:
        return shapely.multilinestrings(shapely.get_parts(parts))
    return shapely.multipoints(shapely.get_parts(parts))


def to_grid_crs(gdf: gpd.GeoDataFrame, grid: GridSpec, *, source: str = "layer") -> gpd.GeoDataFrame:
    """Reproject to the grid CRS and check that the layer overlaps the grid.

    Raises
    ------
    NoOverlapError
        No feature intersects the grid extent.
    """
    out = gdf.to_crs(grid.pyproj_crs)
    if len(out) and not out.intersects(shapely.box(*grid.bounds)).any():
        raise NoOverlapError(
            f"{source}: does not overlap the study area {tuple(round(v) for v in grid.bounds)} (no feature in it); "
            "check the file or the grid bounds"
        )
    return out


def rasterize_fraction(geoms: gpd.GeoSeries | np.ndarray, grid: GridSpec) -> np.ndarray:
    """Fraction of each cell covered by the union of polygons, in [0, 1] (float32).

    Notes
    -----
    Cells that no polygon boundary touches are either fully inside (1) or outside (0); they are
    found by rasterizing the polygons and their boundaries with ``all_touched=True``. For the
    cells along boundaries (dilated by one cell for safety), the exact area of
    ``cell ∩ union(polygons)`` is computed with shapely and divided by the cell area. The result
    is therefore exact up to floating point (absolute error below 1e-9 per cell, then rounded
    to float32, about 6e-8), not a supersampling estimate; overlapping polygons count once.
    """
    geoms = np.asarray(geoms, dtype=object)
    polys = geoms[shapely.get_dimensions(geoms) == 2] if geoms.size else geoms
    out = np.zeros(grid.shape, dtype=np.float32)
    if polys.size == 0:
        return out
    union = shapely.union_all(polys)
    parts = shapely.get_parts(union)
    touched = features.rasterize(
        ((g, 1) for g in parts), out_shape=grid.shape, transform=grid.affine,
        all_touched=True, fill=0, dtype="uint8",
    ).astype(bool)
    boundary = shapely.get_parts(shapely.boundary(parts))
    edge = features.rasterize(
        ((g, 1) for g in boundary), out_shape=grid.shape, transform=grid.affine,
        all_touched=True, fill=0, dtype="uint8",
    ).astype(bool)
    edge = ndimage.binary_dilation(edge, structure=neighbourhood(8)) & touched
    out[touched & ~edge] = 1.0
    del touched
    rows, cols = np.nonzero(edge)
    del edge
    a, _, c, _, e, f = grid.transform
    tree = shapely.STRtree(parts) if rows.size else None
    # the cell boxes and their intersections are made a batch at a time: shapely objects take
    # hundreds of bytes each, and boundary cells grow with the grid (each cell's sum is the same)
    for start in range(0, rows.size, _FRACTION_BATCH_CELLS):
        r, k = rows[start:start + _FRACTION_BATCH_CELLS], cols[start:start + _FRACTION_BATCH_CELLS]
        boxes = shapely.box(c + k * a, f + (r + 1) * e, c + (k + 1) * a, f + r * e)
        box_idx, part_idx = tree.query(boxes, predicate="intersects")
        areas = shapely.area(shapely.intersection(boxes[box_idx], parts[part_idx]))
        covered = np.zeros(r.size)
        np.add.at(covered, box_idx, areas)
        out[r, k] = np.clip(covered / (a * -e), 0.0, 1.0)
    return out


#: Boundary cells whose exact cover :func:`rasterize_fraction` computes at a time.
_FRACTION_BATCH_CELLS = 65536


def rasterize_presence(geoms: gpd.GeoSeries | np.ndarray, grid: GridSpec) -> np.ndarray:
    """Cells touched by any geometry (lines: every cell the line passes; points: their cell)."""
    geoms = [g for g in np.asarray(geoms, dtype=object) if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, dtype=bool)
    return features.rasterize(
        ((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.affine,
        all_touched=True, fill=0, dtype="uint8",
    ).astype(bool)


def rasterize_labels(
    geoms: gpd.GeoSeries | np.ndarray, labels: np.ndarray | list[int], grid: GridSpec, *, dtype: str = "int32"
) -> np.ndarray:
    """Label of the geometry whose interior holds each cell centre, 0 elsewhere (int32, or
    ``dtype`` when the labels fit a smaller type, e.g. "uint8" for a mask).

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        Polygons in the grid CRS; missing and empty geometries are skipped.
    labels : sequence of int
        One label per geometry, in the int32 range; 0 would be indistinguishable from outside.
    grid : GridSpec
        The analysis grid.

    Notes
    -----
    The cell-centre rule of GDAL rasterization (``all_touched=False``): a cell takes a label when
    its centre lies inside the geometry, so unit areas are counted once per cell; where geometries
    overlap, the later one in ``geoms`` wins. Compare :func:`rasterize_presence` (every touched
    cell) and :func:`rasterize_fraction` (exact covered fraction).
    """
    pairs = [(g, int(v)) for g, v in zip(np.asarray(geoms, dtype=object), labels)
             if g is not None and not g.is_empty]
    if not pairs:
        return np.zeros(grid.shape, dtype=dtype)
    return features.rasterize(pairs, out_shape=grid.shape, transform=grid.affine, fill=0, dtype=dtype)


#: Side (cells) of the output blocks of a capped distance (:func:`distance_to_presence_m`).
DISTANCE_BLOCK_CELLS = 2048


def distance_to_presence_m(
    presence: np.ndarray, grid: GridSpec, *, cap_m: float | None = None,
    window: tuple[slice, slice] | None = None, block_cells: int = DISTANCE_BLOCK_CELLS,
) -> np.ndarray:
    """Euclidean distance in metres from each cell centre to the nearest present cell centre.

    0 on present cells; ``inf`` everywhere when nothing is present. On a geographic grid the
    cell size is converted to metres at the grid's central latitude (an approximation whose
    error grows with the grid's north-south extent).

    Parameters
    ----------
    presence : ndarray of bool, shape ``grid.shape``
    grid : GridSpec
    cap_m : float, optional
        Distance cap in metres (> 0). None (default): one exact Euclidean distance transform of
        the whole grid (memory about 10 bytes per cell: the int32 feature transform, then the
        distances row block by row block). Given: the distances are computed block
        by block (``block_cells`` per side), each block with a halo of ``ceil(cap_m / cell size)``
        cells, so memory is bounded by one block and its halo. Every distance <= ``cap_m`` is
        exactly the whole-grid one (the nearest present cell lies inside the halo); cells farther
        than ``cap_m`` from every present cell get ``inf``.
    window : (slice, slice), optional
        Return only these rows and columns (the distances still see every present cell).
    block_cells : int
        Side of the output blocks with ``cap_m``.

    Returns
    -------
    ndarray of float32, ``grid.shape`` or the window's shape.
    """
    dy = grid.resolution * grid.metres_per_unit
    dx = dy * np.cos(np.deg2rad((grid.bounds[1] + grid.bounds[3]) / 2)) if grid.is_geographic else dy
    presence = np.asarray(presence, dtype=bool)
    rows, cols = window or (slice(0, presence.shape[0]), slice(0, presence.shape[1]))
    rows, cols = slice(*rows.indices(presence.shape[0])[:2]), slice(*cols.indices(presence.shape[1])[:2])
    if cap_m is None:
        return _edt_m(presence, (dy, dx), rows, cols)
    if not cap_m > 0:
        raise ValueError(f"cap_m must be > 0, got {cap_m}")
    halo_y, halo_x = int(np.ceil(cap_m / dy)), int(np.ceil(cap_m / dx))
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), np.float32)
    height, width = presence.shape
    for r0 in range(rows.start, rows.stop, block_cells):
        r1 = min(r0 + block_cells, rows.stop)
        for c0 in range(cols.start, cols.stop, block_cells):
            c1 = min(c0 + block_cells, cols.stop)
            wr0, wr1 = max(0, r0 - halo_y), min(height, r1 + halo_y)
            wc0, wc1 = max(0, c0 - halo_x), min(width, c1 + halo_x)
            d = _edt_m(presence[wr0:wr1, wc0:wc1], (dy, dx), slice(r0 - wr0, r1 - wr0),
                       slice(c0 - wc0, c1 - wc0), dtype=np.float64)
            # compared before the float32 cast: a kept value is <= cap_m, so exact
            out[r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = np.where(
                d > cap_m, np.inf, d).astype(np.float32)
    return out


#: Rows of distances made at a time from a feature transform (:func:`_edt_m`).
_EDT_ROWS = 256


def _edt_m(presence: np.ndarray, sampling_m: tuple[float, float], rows: slice, cols: slice,
           dtype=np.float32) -> np.ndarray:
    """Euclidean distance (m) to the nearest ``presence`` cell, for ``presence[rows, cols]``.

    The same numbers as :func:`habitat.suitability.quality.threat_distance` (scipy's
    ``distance_transform_edt``), made the way scipy makes them from its int32 feature transform
    (index differences to float64, times the cell size, squared, summed, square root) but a few
    rows at a time: about 10 bytes per cell instead of scipy's ~40 (its float64 (2, H, W)
    temporaries). ``inf`` everywhere when nothing is present.
    """
    from scipy import ndimage
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype)
    if not presence.any():
        out.fill(np.inf)
        return out
    ft = ndimage.distance_transform_edt(~presence, sampling=sampling_m, return_distances=False,
                                        return_indices=True)
    sy, sx = (float(v) for v in sampling_m)
    col_index = np.arange(cols.start, cols.stop, dtype=ft.dtype)
    for r0 in range(rows.start, rows.stop, _EDT_ROWS):
        r1 = min(r0 + _EDT_ROWS, rows.stop)
        dr = (ft[0, r0:r1, cols] - np.arange(r0, r1, dtype=ft.dtype)[:, None]).astype(np.float64)
        dc = (ft[1, r0:r1, cols] - col_index).astype(np.float64)
        dr *= sy
        dc *= sx
        np.multiply(dr, dr, dr)
        np.multiply(dc, dc, dc)
        out[r0 - rows.start:r1 - rows.start] = np.sqrt(dr + dc)
    return out


#: GeoPackages record a "last change" timestamp; a fixed one keeps outputs byte-identical.
_FIXED_GPKG_DATE = "2000-01-01T00:00:00.000Z"

#: Name of the default analysis CRS (habitat.grid.DEFAULT_CRS), which a PROJ string leaves "unknown".
DEFAULT_CRS_NAME = "Central Asia Albers Equal Area"


def named_crs(crs: object) -> CRS:
    """``crs`` with a name when it has none ("unknown", as a CRS from a PROJ string): the default
    grid CRS is "Central Asia Albers Equal Area", any other "<projection method> (<datum>)".

    The name changes no parameter (the CRS still compares equal); it is what GIS software shows
    (the GeoPackage ``srs_name``).

    Examples
    --------
    >>> from habitat.grid import DEFAULT_CRS
    >>> named_crs(DEFAULT_CRS).name, named_crs("EPSG:32642").name
    ('Central Asia Albers Equal Area', 'WGS 84 / UTM zone 42N')
    >>> named_crs("+proj=aea +lat_1=30 +lat_2=50 +lon_0=60 +datum=WGS84 +units=m").name
    'Albers Equal Area (World Geodetic System 1984)'
    """
    from habitat.grid import DEFAULT_CRS

    crs = CRS.from_user_input(crs)
    if crs.name not in ("unknown", "") or not crs.is_projected:
        return crs
    if crs == CRS.from_user_input(DEFAULT_CRS):
        name = DEFAULT_CRS_NAME
    else:
        method = crs.coordinate_operation.method_name if crs.coordinate_operation else "Projected CRS"
        name = f"{method} ({crs.datum.name})" if crs.datum else method
    data = crs.to_json_dict()
    data["name"] = name
    base = data.get("base_crs", {})
    if base.get("name") in ("unknown", "") and crs.datum is not None and crs.datum.name == "World Geodetic System 1984":
        base["name"] = "WGS 84"
    return CRS.from_json_dict(data)


def write_vector(gdf: gpd.GeoDataFrame, path: str | os.PathLike, *, layer: str | None = None) -> Path:
    """Write a GeoDataFrame as a GeoPackage, atomically and byte-reproducibly; a CRS without a
    name gets one (:func:`named_crs`)."""
    path = Path(path)
    if gdf.crs is not None and gdf.crs.name in ("unknown", ""):
        gdf = gdf.set_crs(named_crs(gdf.crs), allow_override=True)  # a named CRS, not "unknown", in GIS
    with atomic_path(path) as tmp:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_GPKG_DATE})
        try:
            pyogrio.write_dataframe(gdf, tmp, layer=layer or path.stem, driver="GPKG")
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path
