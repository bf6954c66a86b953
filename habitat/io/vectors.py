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
from habitat.io.strips import RowArray
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
            gdf = pyogrio.read_dataframe(path, layer=check_one_layer(path, layer))
    except InputFileError:
        raise
    except Exception as exc:  # pyogrio/pyarrow raise many types; all mean "cannot read"
        hint = f" (layers: {', '.join(name for name, _ in _layers(path))})" if layer else ""
        raise InputFileError(
            f"{path}: cannot be read as a vector layer{hint}: {str(exc).splitlines()[0][:160]}"
        ) from exc
    if gdf.crs is None:
        raise MissingCRSError(f"{path}: layer has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    return gdf


def check_one_layer(path: str | os.PathLike, layer: str | None) -> str | None:
    """The layer to read from ``path``: ``layer`` when given, else the file's one layer with
    geometries (attribute-only tables beside it, such as the ``layer_styles`` QGIS saves into a
    GeoPackage, do not count; None: GDAL's first layer). A file of several layers with geometries
    is refused: GDAL would take the first one (perhaps the wrong one, with only a warning); the
    message lists the layers to choose from."""
    if layer is not None:
        return layer
    listed_layers = _layers(Path(path))  # none when unreadable: the read that follows reports it
    spatial = [str(name) for name, kind in listed_layers if kind is not None]
    if len(spatial) == 1:
        return spatial[0] if len(listed_layers) > 1 else None
    names = spatial or [str(name) for name, _ in listed_layers]
    if len(names) > 1:
        listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        raise InputFileError(f"{Path(path).name} holds {len(names)} layers ({listed}); say which one with "
                             f"'layer: <name>' under this input")
    return None


def _layers(path: Path) -> list[tuple[str, str | None]]:
    """(name, geometry type; None for a table without geometries) of each layer of ``path``."""
    try:
        return [(str(name), kind) for name, kind in pyogrio.list_layers(path)]
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

    The whole array of :func:`fraction_rows`.
    """
    return np.asarray(fraction_rows(geoms, grid))


def fraction_rows(geoms: gpd.GeoSeries | np.ndarray, grid: GridSpec) -> RowArray:
    """Fraction of each cell covered by the union of polygons, in [0, 1] (float32), made row
    strip by row strip when read.

    Notes
    -----
    Cells that no polygon boundary touches are either fully inside (1) or outside (0); they are
    found by rasterizing the polygons and their boundaries with ``all_touched=True``. For the
    cells along boundaries (dilated by one cell for safety), the exact area of
    ``cell ∩ union(polygons)`` is computed with shapely and divided by the cell area. The result
    is therefore exact up to floating point (absolute error below 1e-9 per cell, then rounded
    to float32, about 6e-8), not a supersampling estimate; overlapping polygons count once.

    The two rasterizations are made over the whole grid (GDAL's ``all_touched`` burn of a
    vertex on a cell edge depends on the window's origin, so strips would differ) and kept as
    bit masks (:class:`~habitat.io.strips.BitMask`, 1/8 byte a cell each); the dilation and the
    exact cover are then made per strip, each strip's dilation reading one row beyond it. Memory:
    the two bit masks, one strip, and one byte a cell while each mask is rasterized.
    """
    from habitat.io.strips import BitMask, RowArray, strip_rows
    geoms = np.asarray(geoms, dtype=object)
    polys = geoms[shapely.get_dimensions(geoms) == 2] if geoms.size else geoms
    height, width = grid.shape
    if polys.size == 0:
        return RowArray(grid.shape, np.float32, lambda r0, r1: np.zeros((r1 - r0, width), np.float32))
    union = shapely.union_all(polys)
    parts = shapely.get_parts(union)
    touched = BitMask.pack(features.rasterize(
        ((g, 1) for g in parts), out_shape=grid.shape, transform=grid.affine,
        all_touched=True, fill=0, dtype="uint8",
    ).view(bool))
    boundary = shapely.get_parts(shapely.boundary(parts))
    edge = BitMask.pack(features.rasterize(
        ((g, 1) for g in boundary), out_shape=grid.shape, transform=grid.affine,
        all_touched=True, fill=0, dtype="uint8",
    ).view(bool))
    tree = shapely.STRtree(parts)
    a, _, c, _, e, f = grid.transform
    structure = neighbourhood(8)

    def make(r0: int, r1: int) -> np.ndarray:
        out = np.zeros((r1 - r0, width), dtype=np.float32)
        inside = touched.rows(r0, r1)
        h0, h1 = max(0, r0 - 1), min(height, r1 + 1)  # one row of halo for the dilation
        near_edge = ndimage.binary_dilation(edge.rows(h0, h1), structure=structure)[r0 - h0:r0 - h0 + r1 - r0]
        near_edge &= inside
        out[inside & ~near_edge] = 1.0
        rows, cols = np.nonzero(near_edge)
        rows += r0
        # the cell boxes and their intersections are made a batch at a time: shapely objects take
        # hundreds of bytes each (each cell's sum is the same whatever the batch)
        for start in range(0, rows.size, _FRACTION_BATCH_CELLS):
            r, k = rows[start:start + _FRACTION_BATCH_CELLS], cols[start:start + _FRACTION_BATCH_CELLS]
            boxes = shapely.box(c + k * a, f + (r + 1) * e, c + (k + 1) * a, f + r * e)
            box_idx, part_idx = tree.query(boxes, predicate="intersects")
            areas = shapely.area(shapely.intersection(boxes[box_idx], parts[part_idx]))
            covered = np.zeros(r.size)
            np.add.at(covered, box_idx, areas)
            out[r - r0, k] = np.clip(covered / (a * -e), 0.0, 1.0)
        return out

    return RowArray(grid.shape, np.float32, make, max_rows=strip_rows(width))


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
    ).view(bool)  # 0/1 bytes: the same values as astype(bool), without a second grid


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
    return np.asarray(label_rows(geoms, labels, grid, dtype=dtype))


def label_rows(
    geoms: gpd.GeoSeries | np.ndarray, labels: np.ndarray | list[int], grid: GridSpec, *, dtype: str = "int32"
) -> RowArray:
    """:func:`rasterize_labels` made row strip by row strip when read (int32, or ``dtype``).

    Polygons are rasterized strip by strip (each strip on its own window of the grid: the
    cell-centre rule gives the same cells whatever the window, tests/io/test_vectors.py); any
    other geometry makes the whole grid at once on the first read.
    """
    from habitat.io.strips import RowArray, strip_rows
    pairs = [(g, int(v)) for g, v in zip(np.asarray(geoms, dtype=object), labels)
             if g is not None and not g.is_empty]
    height, width = grid.shape
    kind = np.dtype(dtype)
    if not pairs:
        return RowArray(grid.shape, kind, lambda r0, r1: np.zeros((r1 - r0, width), kind))
    if not all(g.geom_type in ("Polygon", "MultiPolygon") for g, _ in pairs):
        whole: list[np.ndarray] = []

        def cached(r0: int, r1: int) -> np.ndarray:
            if not whole:
                whole.append(features.rasterize(pairs, out_shape=grid.shape, transform=grid.affine, fill=0,
                                                dtype=dtype))
            return whole[0][r0:r1]

        return RowArray(grid.shape, kind, cached)

    def make(r0: int, r1: int) -> np.ndarray:
        window = grid.window(r0, 0, r1 - r0, width)
        return features.rasterize(pairs, out_shape=window.shape, transform=window.affine, fill=0, dtype=dtype)

    return RowArray(grid.shape, kind, make, max_rows=strip_rows(width))


def distance_to_presence_m(
    presence: np.ndarray, grid: GridSpec, *, cap_m: float | None = None,
    window: tuple[slice, slice] | None = None, strip_cells: int | None = None,
) -> np.ndarray:
    """Euclidean distance in metres from each cell centre to the nearest present cell centre.

    The whole array of :func:`distance_rows_m` (same parameters; ``presence`` a boolean array
    of ``grid.shape``).

    Returns
    -------
    ndarray of float32, ``grid.shape`` or the window's shape.
    """
    presence = np.asarray(presence, dtype=bool)
    return np.asarray(distance_rows_m(presence, grid, cap_m=cap_m, window=window, strip_cells=strip_cells))


def distance_rows_m(
    presence, grid: GridSpec, *, cap_m: float | None = None, window: tuple[slice, slice] | None = None,
    strip_cells: int | None = None,
) -> RowArray:
    """Exact Euclidean distance (m) to the nearest present cell, made row strip by row strip.

    0 on present cells; ``inf`` everywhere when nothing is present. On a geographic grid the
    cell size is converted to metres at the grid's central latitude (an approximation whose
    error grows with the grid's north-south extent).

    Parameters
    ----------
    presence : bool array, :class:`~habitat.io.strips.BitMask` or callable
        Present cells on ``grid``: anything indexable by a row slice, or ``rows(r0, r1)``
        returning the boolean rows ``r0:r1``. It is read twice, strip by strip, never whole.
    grid : GridSpec
    cap_m : float, optional
        Distance cap in metres (> 0): distances above it become ``inf`` (decided in float64,
        before the float32 cast, so every kept value is the exact one).
    window : (slice, slice), optional
        Return only these rows and columns (the distances still see every present cell).
    strip_cells : int, optional
        Cells per working strip (default :data:`habitat.io.strips.STRIP_CELLS`).

    Returns
    -------
    RowArray of float32, ``grid.shape`` or the window's shape: rows are computed when read.

    Notes
    -----
    The separable exact transform (Felzenszwalb and Huttenlocher 2012, "Distance transforms of
    sampled functions"), strip by strip. A first pass over the strips records, for each strip
    and column, the nearest present row above and below the strip (two int32 per column and
    strip: ``8 * width / strip rows`` bytes a row, the only state that grows with the grid,
    0.03 bytes a cell at the default strip). Reading rows then takes the nearest present row of
    each column for the strip's rows (from those bounds and the strip's own cells) and, per
    row, the lower envelope of the column parabolas. Each distance is made from the index
    differences of the nearest cell exactly as :func:`scipy.ndimage.distance_transform_edt`
    makes it from its feature transform (``sqrt((dr * dy)**2 + (dc * dx)**2)`` in float64,
    then float32), and the nearest cell is checked against the envelope's neighbours, so the
    values equal scipy's bit for bit (tests/io/test_vectors.py). Memory: one strip of
    ``strip_cells`` cells (about 10 bytes each) plus the bounds.
    """
    from habitat.io.strips import BitMask, RowArray, strip_rows
    if cap_m is not None and not cap_m > 0:
        raise ValueError(f"cap_m must be > 0, got {cap_m}")
    dy = grid.resolution * grid.metres_per_unit
    dx = dy * np.cos(np.deg2rad((grid.bounds[1] + grid.bounds[3]) / 2)) if grid.is_geographic else dy
    height, width = grid.shape
    if callable(presence) and not isinstance(presence, (np.ndarray, BitMask)):
        read = presence
    else:
        if tuple(presence.shape) != grid.shape:
            raise ValueError(f"presence shape {presence.shape} is not the grid shape {grid.shape}")
        read = lambda r0, r1: np.asarray(presence[r0:r1], dtype=bool)  # noqa: E731
    rows, cols = window or (slice(0, height), slice(0, width))
    rows, cols = slice(*rows.indices(height)[:2]), slice(*cols.indices(width)[:2])
    step = strip_rows(width, strip_cells)
    cap = np.inf if cap_m is None else float(cap_m)
    state: dict[str, np.ndarray] = {}
    last: dict = {}

    def bounds() -> tuple[np.ndarray, np.ndarray]:
        # per strip and column: the last present row above the strip, the first one below it
        if not state:
            n = -(-height // step)
            above = np.full((n, width), -1, np.int32)
            below = np.full((n, width), -1, np.int32)
            last = np.full(width, -1, np.int32)
            for k in range(n):
                r0, r1 = k * step, min(height, (k + 1) * step)
                p = np.asarray(read(r0, r1), dtype=bool)
                above[k] = last
                hit = p.any(axis=0)
                below[k] = np.where(hit, r0 + p.argmax(axis=0), -1)  # first row in strip k, for now
                last = np.where(hit, r1 - 1 - p[::-1].argmax(axis=0), last).astype(np.int32)
            nxt = np.full(width, -1, np.int32)
            for k in range(n - 1, -1, -1):  # shift: first present row at or below the next strip
                first = below[k].copy()
                below[k] = nxt
                nxt = np.where(first >= 0, first, nxt).astype(np.int32)
            state["above"], state["below"], state["any"] = above, below, np.array(bool((last >= 0).any()))
        return state["above"], state["below"]

    def make(r0: int, r1: int) -> np.ndarray:
        from habitat.io._distance_kernels import nearest_rows, row_distances
        above, below = bounds()
        a0, a1 = rows.start + r0, rows.start + r1
        out = np.empty((r1 - r0, cols.stop - cols.start), np.float32)
        if not state["any"]:
            out.fill(np.inf)
            return out
        v = np.empty(width, np.int64)
        z = np.empty(width + 2, np.float64)
        for k in range(a0 // step, (a1 - 1) // step + 1 if a1 > a0 else a0 // step):
            s0, s1 = k * step, min(height, (k + 1) * step)
            if last.get("k") != k:  # a strip the writer's row blocks share is made once
                last.clear()
                near = np.empty((s1 - s0, width), np.int32)
                nearest_rows(np.asarray(read(s0, s1), dtype=bool), s0, above[k], below[k], near)
                last.update(k=k, near=near)
            near = last["near"]
            lo, hi = max(a0, s0), min(a1, s1)
            row_distances(near, s0, lo - s0, hi - s0, cols.start, cols.stop, float(dy), float(dx), cap,
                          out[lo - a0:hi - a0], v, z)
        return out

    return RowArray((rows.stop - rows.start, cols.stop - cols.start), np.float32, make)


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
