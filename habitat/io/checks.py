"""Checks of a pipeline's input files that run before any work starts.

Each check reads only what it needs (a raster header, a vector layer's metadata and one or two
attribute columns, a census table) and reports a problem as one line naming the input's key,
the file and the fix. ``habitat validate`` lists them all; ``habitat run`` stops at the first,
before the output folder is touched. Accepted-with-warning inputs come back as warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from habitat.errors import ConfigError, HabitatError, InputFileError, MissingCRSError, NoOverlapError

#: Geometry families by input key: what the stages do with the layer only makes sense for these.
POLYGONS = ("Polygon", "MultiPolygon")
POINTS = ("Point", "MultiPoint")
_GEOMETRY: dict[str, tuple[tuple[str, ...], str]] = {
    "tugai": (POLYGONS, "tugai forest must be polygons (areas), not points or lines"),
    "protected_areas": (POLYGONS, "protected areas must be polygons"),
    "historical_range": (POLYGONS, "the historical range must be polygons"),
    "reporting_units": (POLYGONS, "reporting units must be polygons"),
    "populations": (POINTS + POLYGONS, "population sites must be points or polygons (occupied areas), one per site"),
    "known_places": (POINTS + POLYGONS, "known places must be points or polygons"),
    "occurrences": (POINTS, "occurrences must be points"),
}


def _family(geometry_type: str) -> str:
    """'MultiPolygon Z' -> 'MultiPolygon'."""
    return geometry_type.replace("25D", "").split(" ")[0].strip()


def vector_geometry_types(path: Path, layer: str | None) -> tuple[set[str], int, list[str]]:
    """Geometry types, feature count and field names of a vector layer (metadata only where the
    format records one geometry type; otherwise the geometries are read)."""
    import pyogrio

    from habitat.io.vectors import check_one_layer, read_vector

    if path.suffix.lower() in {".parquet", ".geoparquet"}:
        gdf = read_vector(path, layer=layer)
        return set(gdf.geom_type.dropna()), len(gdf), [str(c) for c in gdf.columns if c != gdf.geometry.name]
    layer = check_one_layer(path, layer)
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception:
        read_vector(path, layer=layer)  # raises the InputFileError naming the file and its layers
        raise
    if info.get("geometry_type") is None:
        raise InputFileError(f"{path}: has no geometry column (a plain table?); give a vector layer (GeoPackage, "
                             f"Shapefile, GeoJSON) with points, lines or polygons")
    if info.get("crs") is None:
        raise MissingCRSError(f"{path}: layer has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    fields = [str(f) for f in info["fields"]]
    kind = _family(str(info.get("geometry_type") or "Unknown"))
    if kind in ("Unknown", "Geometry", "GeometryCollection", "None"):
        gdf = pyogrio.read_dataframe(path, layer=layer, columns=[])
        kinds = {_family(t) for t in gdf.geom_type.dropna()}
        return kinds, int(info["features"]), fields
    return {kind}, int(info["features"]), fields


#: Layers whose ``id_column`` names one feature each (tables and maps are keyed by it).
_ID_LAYERS = ("populations", "reporting_units", "protected_areas", "known_places")


def _check_ids(key: str, path: Path, item: Any, layer: str | None) -> list[str]:
    """Every feature of ``layer`` has its own, non-empty id; returns the ids."""
    import pyogrio

    column = item.id_column
    table = pyogrio.read_dataframe(path, layer=layer, columns=[column], read_geometry=False)
    raw = table[column]
    empty = raw.isna() | (raw.astype(str).str.strip() == "")
    if empty.any():
        raise InputFileError(f"{key}.id_column: {path.name}: feature {int(np.flatnonzero(empty.to_numpy())[0]) + 1} "
                             f"has no {column}; give every feature an id")
    ids = raw.astype(str).str.strip()
    twice = ids[ids.duplicated()]
    if len(twice):
        raise InputFileError(f"{key}.id_column: {path.name}: {column} {twice.iloc[0]!r} is used by "
                             f"{int((ids == twice.iloc[0]).sum())} features; give each its own id (or dissolve "
                             f"them into one feature)")
    return list(ids)


def _check_sites_on_grid(key: str, path: Path, item: Any, grid: Any, warnings: list[str]) -> None:
    """Population sites outside the study area belong to no patch: all outside is an error
    (a wrong CRS or the wrong file), some outside a warning naming them."""
    from habitat.io.vectors import read_vector

    gdf = read_vector(path, layer=item.layer)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        return
    points = gdf.geometry.to_crs(grid.pyproj_crs).representative_point()
    xmin, ymin, xmax, ymax = grid.bounds
    inside = ((points.x >= xmin) & (points.x <= xmax) & (points.y >= ymin) & (points.y <= ymax)).to_numpy()
    ids = gdf[item.id_column].astype(str).to_numpy() if item.id_column in gdf.columns else np.arange(len(gdf)) + 1
    if not inside.any():
        raise NoOverlapError(f"{key}: {path.name}: no population site lies inside the study area (grid.bounds); "
                             f"check the layer's CRS or the grid bounds")
    if not inside.all():
        outside = ", ".join(map(str, ids[~inside][:5])) + (" ..." if (~inside).sum() > 5 else "")
        warnings.append(f"{key}: {path.name}: sites {outside} lie outside the study area and are left out")


#: Layers ingest requires to reach into the study area itself (not the padded context extent).
_MUST_OVERLAP = ("tugai", "protected_areas", "historical_range", "reporting_units", "occurrences", "known_places")


def _check_extent(key: str, path: Path, layer: str | None, grid: Any) -> None:
    """A layer whose extent (from its metadata) lies wholly outside the study area: ingest would
    stop at "no feature in it"; found here so that ``habitat validate`` says so too. Only a clear
    miss counts (1 % of the study area's size of margin for the projected box's curved edges)."""
    import math

    import pyogrio
    from rasterio.warp import transform_bounds

    try:
        info = pyogrio.read_info(path, layer=layer, force_total_bounds=True)
        left, bottom, right, top = (float(v) for v in info["total_bounds"])
        box = transform_bounds(grid.pyproj_crs.to_wkt(), info["crs"], *grid.bounds, densify_pts=21)
    except Exception:  # noqa: BLE001 - an extent that cannot be read or projected is left to ingest
        return
    if not all(math.isfinite(v) for v in (left, bottom, right, top, *box)) or box[0] > box[2]:
        return  # no extent recorded, or a box across the antimeridian: left to ingest
    mx, my = 0.01 * (box[2] - box[0]), 0.01 * (box[3] - box[1])
    if left > box[2] + mx or right < box[0] - mx or bottom > box[3] + my or top < box[1] - my:
        raise NoOverlapError(f"{key}: {path.name} lies outside the study area (grid.bounds): none of its features "
                             f"reaches it; check the layer, its CRS or the grid bounds")


def _check_vector(key: str, name: str, item: Any, warnings: list[str], grid: Any = None,
                  pipeline: Any = None) -> list[str] | None:
    path = Path(item.path)
    from habitat.io.vectors import check_one_layer

    layer = check_one_layer(path, getattr(item, "layer", None))  # the layer every check below reads
    kinds, n_features, fields = vector_geometry_types(path, layer)
    allowed, why = _GEOMETRY.get(name, (None, ""))
    if allowed is not None and n_features and kinds - set(allowed):
        raise InputFileError(f"{key}: {path.name} holds {', '.join(sorted(kinds - set(allowed)))} geometries; "
                           f"{why}; convert the layer or point this key at the right file")
    if n_features and not kinds:
        warnings.append(f"{key}: {path.name}: none of its {n_features} features has a geometry; the layer counts "
                        "as empty (check the export)")
    if n_features == 0:
        if name == "tugai":
            warnings.append(f"{key}: {path.name} has no features; tugai cover is taken as 0 everywhere in that "
                            "year (check that this is the right layer)")
        else:
            warnings.append(f"{key}: {path.name} has no features")
    required = [o for o in ("id_column", "name_column", "count_column", "kind_column", "source_column")
                if hasattr(item, o)]
    if name == "protected_areas":  # default columns it lacks fall back to row numbers
        required = [o for o in required if o in item.model_fields_set]
    for option in required:
        column = getattr(item, option)
        if column not in fields:
            raise ConfigError(f"{key}.{option}: column {column!r} is not in {path.name} "
                               f"(columns: {', '.join(fields) or 'none'}); name the right one")
    if name == "occurrences" and pipeline is not None and pipeline.stages.presence is not None:
        folds = pipeline.stages.presence.n_folds
        if n_features < folds:
            raise ConfigError(f"stages.presence.n_folds: {folds} folds need at least as many occurrences; add "
                              f"occurrences to {path.name} or lower n_folds (found {n_features})")
    basin = getattr(pipeline.stages.translocation, "basin_column", None) if pipeline is not None else None
    if name == "rivers" and basin is not None and basin not in fields:
        raise ConfigError(f"stages.translocation.basin_column: column {basin!r} is not in {path.name} "
                          f"(columns: {', '.join(fields) or 'none'}); name the river layer's basin column")
    if name in _MUST_OVERLAP and n_features and kinds and grid is not None:
        _check_extent(key, path, layer, grid)
    ids = None
    if name in _ID_LAYERS and n_features and item.id_column in fields:
        ids = _check_ids(key, path, item, layer)
    if name == "populations" and n_features:
        _check_counts(key, path, item)
        if grid is not None:
            _check_sites_on_grid(key, path, item, grid, warnings)
    return ids


def _check_counts(key: str, path: Path, item: Any) -> None:
    """Population counts must be numbers >= 0 (a missing count is allowed: unknown)."""
    import pandas as pd

    from habitat.io.vectors import read_vector

    gdf = read_vector(path, layer=item.layer)
    raw = gdf[item.count_column]
    values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    bad = (raw.notna() & ~np.isfinite(values)) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        site = gdf[item.id_column].iloc[row] if item.id_column in gdf.columns else row + 1
        raise InputFileError(f"{key}.count_column: {path.name}, site {site}: count {str(raw.iloc[row])!r} is not a number "
                           f">= 0; fix the value (leave it empty when unknown)")


def _check_places_csv(key: str, item: Any, grid: Any = None) -> None:
    """A CSV of known places needs its coordinate, id, kind and source columns, and (with the
    analysis ``grid``) at least one place inside the study area, as ingest does."""
    import pandas as pd

    path = Path(item.path)
    try:
        table = pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputFileError(f"{path}: line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                             f"save the file as UTF-8") from exc
    except Exception as exc:  # pandas raises many types; all mean "cannot read"
        raise InputFileError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0][:160]}") from exc
    columns = [str(c) for c in table.columns]
    for option in ("x_column", "y_column", "id_column", "kind_column", "source_column"):
        column = getattr(item, option)
        if column not in columns:
            raise ConfigError(f"{key}.{option}: column {column!r} is not in {path.name} "
                              f"(columns: {', '.join(columns) or 'none'}); name the right one")
    ids = table[item.id_column].str.strip()
    twice = ids[ids.duplicated() | (ids == "")]
    if len(twice):
        row = int(twice.index[0])
        raise InputFileError(f"{key}.id_column: {path.name}, row {row + 2}: {item.id_column} {ids.iloc[row]!r} is "
                             f"empty or used twice; give each place its own id")
    for option in ("x_column", "y_column"):
        column = getattr(item, option)
        values = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputFileError(f"{key}.{option}: {path.name}, row {row + 2}: {column} {table[column].iloc[row]!r} "
                                 f"is not a coordinate; give a number in {item.crs}")
    if grid is not None and len(table):
        from pyproj import Transformer

        from habitat.grid import parse_crs

        xs, ys = Transformer.from_crs(parse_crs(item.crs, f"{key}.crs"), grid.pyproj_crs, always_xy=True).transform(
            table[item.x_column].astype(np.float64).to_numpy(), table[item.y_column].astype(np.float64).to_numpy())
        xmin, ymin, xmax, ymax = grid.bounds
        if not np.any((xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)):
            raise NoOverlapError(f"{key}: {path.name}: no place lies inside the study area (grid.bounds); check "
                                 f"{key}.crs ({item.crs}), the {item.x_column}/{item.y_column} columns (swapped?) or "
                                 f"the grid bounds")


def _check_crosswalk(path: str) -> None:
    from habitat.io.landcover import read_crosswalk

    read_crosswalk(path)


def _check_raster(key: str, item: Any, grid: Any = None) -> None:
    from rasterio.warp import transform_bounds

    from habitat.io.align import check_band
    from habitat.io.rasters import open_raster

    sources = getattr(item, "sources", [item.path])
    for source in sources:
        with open_raster(source) as ds:
            check_band(source, ds, item.band)
            if ds.count > 1 and "band" not in item.model_fields_set:
                raise InputFileError(f"{key}.band: {Path(source).name} has {ds.count} bands; say which one holds "
                                     f"the values with band: N (1 to {ds.count})")
            if grid is None:
                continue
            try:
                left, bottom, right, top = transform_bounds(ds.crs, grid.pyproj_crs.to_wkt(), *ds.bounds,
                                                            densify_pts=21)
                box = transform_bounds(grid.pyproj_crs.to_wkt(), ds.crs, *grid.bounds, densify_pts=21)
            except Exception:  # noqa: BLE001 - a raster whose extent cannot be projected is left to ingest
                continue
            xmin, ymin, xmax, ymax = grid.bounds
            if not (left < xmax and right > xmin and bottom < ymax and top > ymin):
                raise NoOverlapError(f"{key}: {Path(source).name} does not overlap the study area (grid.bounds); "
                                     f"check the file, its CRS or the grid bounds")
            if len(sources) == 1 and not _has_data(ds, item.band, box):
                raise InputFileError(f"{key}: {Path(source).name} holds only nodata inside the study area; check "
                                     f"the file, its nodata value or the grid bounds")


def _has_data(ds: Any, band: int, box: tuple[float, float, float, float]) -> bool:
    """Whether any cell of the raster inside ``box`` (raster CRS) is not nodata: an averaged read
    of at most 256 x 256 values, where GDAL skips nodata and leaves nodata only where a whole
    block of source cells is nodata."""
    from rasterio.enums import Resampling
    from rasterio.windows import from_bounds

    window = from_bounds(*box, transform=ds.transform).intersection(
        from_bounds(*ds.bounds, transform=ds.transform)).round_offsets().round_lengths()
    if window.width < 1 or window.height < 1:
        return True  # a sliver: left to ingest
    shape = (min(256, int(window.height)), min(256, int(window.width)))
    try:
        values = ds.read(band, window=window, out_shape=shape, resampling=Resampling.average, masked=True)
    except Exception:  # noqa: BLE001 - unreadable blocks are reported by ingest, naming the GDAL error
        return True
    valid = ~np.ma.getmaskarray(values)
    if values.dtype.kind == "f":
        valid &= np.isfinite(values.filled(np.nan))
    return bool(valid.any())


#: Geometry families a scenario edit's layer may hold, by edit kind.
_EDIT_GEOMETRY = {"landcover": POLYGONS, "restoration": POLYGONS,
                  "barrier": POLYGONS + ("LineString", "MultiLineString"),
                  "crossing": POLYGONS + ("LineString", "MultiLineString")}


def _check_edit(key: str, edit: Any, grid: Any = None) -> None:
    path = Path(edit.path)
    kinds, n_features, _ = vector_geometry_types(path, edit.layer)
    wrong = kinds - set(_EDIT_GEOMETRY[edit.kind])
    if n_features and wrong:
        raise InputFileError(f"{key}: {path.name} holds {', '.join(sorted(wrong))} geometries; a {edit.kind} edit "
                             f"takes {' or '.join(sorted({k.removeprefix('Multi') for k in _EDIT_GEOMETRY[edit.kind]}))}"
                             f"s; point it at the right layer")
    if n_features == 0:
        raise InputFileError(f"{key}: {path.name} has no features; the edit would change nothing: point it at a "
                             f"layer with features or drop the edit")
    if grid is not None:
        from habitat.io.vectors import read_vector

        left, bottom, right, top = read_vector(path, layer=edit.layer).to_crs(grid.pyproj_crs).total_bounds
        xmin, ymin, xmax, ymax = grid.bounds
        if not (left <= xmax and right >= xmin and bottom <= ymax and top >= ymin):
            raise NoOverlapError(f"{key}: {path.name} lies outside the study area (grid.bounds); the edit would "
                                 f"change nothing: check the layer and its CRS")


def input_problems(pipeline: Any, grid: Any = None) -> tuple[list[HabitatError], list[str]]:
    """Every problem of a pipeline's input files, without running it, and the warnings.

    Each problem is the error (its type kept: InputFileError, ConfigError, ...) with a message
    that starts with the input's key path. With the analysis ``grid``, rasters and population
    sites are also checked against the study area.
    """
    from habitat.io.census import read_census

    problems: list[HabitatError] = []
    warnings: list[str] = []
    inputs = pipeline.inputs
    census = None

    def attempt(key: str, check, *args) -> Any:
        try:
            return check(*args)
        except HabitatError as exc:
            message = " ".join(str(exc).split())
            keyed = message.startswith((key, "stages.", "inputs.", "scenarios."))  # already names its key
            problems.append(type(exc)(message if keyed else f"{key}: {message}"))
        except OSError as exc:  # unreadable (permissions), a folder where a file belongs ...
            problems.append(InputFileError(f"{key}: {getattr(exc, 'filename', None) or '?'}: cannot be read "
                                           f"({exc.strerror or exc}); check the path and its permissions"))
        return None

    site_ids = None

    for name in type(inputs).model_fields:
        value = getattr(inputs, name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            key = f"inputs.{name}[{i}]" if isinstance(value, list) else f"inputs.{name}"
            if not Path(item.path).exists():
                continue  # reported by config_problems
            if Path(item.path).is_dir() and not str(item.path).lower().endswith((".gdb", ".zarr")):
                problems.append(InputFileError(f"{key}: {item.path} is a folder; point the key at the file"))
                continue
            if name in ("landcover", "elevation"):
                attempt(key, _check_raster, key, item, grid)
                if name == "landcover" and item.product.lower().endswith(".csv") and Path(item.product).exists():
                    attempt(f"{key}.product", _check_crosswalk, item.product)
            elif name == "known_places" and Path(item.path).suffix.lower() == ".csv":
                attempt(key, _check_places_csv, key, item, grid)
            elif name == "census":
                census = attempt(key, read_census, item.path)
            else:
                ids = attempt(key, _check_vector, key, name, item, warnings, grid, pipeline)
                if name == "populations":
                    site_ids = ids
    if site_ids is not None and inputs.census is not None and census is not None:
        unknown = sorted(set(census["site_id"]) - set(site_ids))
        if unknown:
            warnings.append(f"inputs.census: {Path(inputs.census.path).name}: sites {', '.join(unknown[:5])} are not "
                            f"in inputs.populations; their counts are not used")
    sources = getattr(pipeline.stages.translocation, "sources", None)
    if sources and site_ids is not None:
        unknown = [s for s in sources if s not in site_ids]
        if unknown:
            problems.append(ConfigError(f"stages.translocation.sources.{unknown[0]}: not a site_id of "
                                        f"inputs.populations; use one of {', '.join(site_ids[:10])}"))
    years = sorted(item.year for item in inputs.landcover)
    for i, item in enumerate(inputs.tugai):
        if item.year not in years:
            warnings.append(f"inputs.tugai[{i}].year: {item.year} is not a land-cover year ({', '.join(map(str, years))}); "
                            f"its cover is compared as the {'baseline' if item.year < years[-1] else 'current'} epoch")
    for scenario, edits in pipeline.scenarios.items():
        for i, edit in enumerate(edits):
            if Path(edit.path).is_dir() and not str(edit.path).lower().endswith(".gdb"):
                problems.append(InputFileError(f"scenarios.{scenario}[{i}]: {edit.path} is a folder; point the "
                                               "edit at the file"))
            elif Path(edit.path).exists():
                attempt(f"scenarios.{scenario}[{i}]", _check_edit, f"scenarios.{scenario}[{i}]", edit, grid)
    return problems, warnings


def out_dir_problem(pipeline: Any, pipeline_path: Path, out_dir: Path) -> str | None:
    """``--out`` that holds an input (or the pipeline file): a run replaces whole stage folders
    there and cleans up after itself, so inputs must live outside it. A folder *inside* an input
    folder is fine (nothing of the inputs is touched and no input pattern reaches into it)."""
    out = Path(out_dir).absolute().resolve()
    files = {"the pipeline file": Path(pipeline_path), **pipeline.inputs.files()}
    for name in pipeline.scenarios:
        files.update(pipeline.scenario_files(name))
    for key, file in files.items():
        try:
            resolved = Path(file).absolute().resolve()
        except (RuntimeError, OSError):
            continue
        if resolved == out or out in resolved.parents:
            return (f"--out {out_dir}: holds {key} ({file}); a run replaces its stage folders there, so choose "
                    f"an output folder outside the inputs (e.g. {Path(pipeline_path).parent / 'out'})")
    return None

