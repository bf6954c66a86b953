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

from habitat.errors import ConfigError, HabitatError, InputFileError

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

    from habitat.io.vectors import read_vector

    if path.suffix.lower() in {".parquet", ".geoparquet"}:
        gdf = read_vector(path, layer=layer)
        return set(gdf.geom_type.dropna()), len(gdf), [str(c) for c in gdf.columns if c != gdf.geometry.name]
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception:
        read_vector(path, layer=layer)  # raises the InputFileError naming the file and its layers
        raise
    fields = [str(f) for f in info["fields"]]
    kind = _family(str(info.get("geometry_type") or "Unknown"))
    if kind in ("Unknown", "Geometry", "GeometryCollection", "None"):
        gdf = pyogrio.read_dataframe(path, layer=layer, columns=[])
        kinds = {_family(t) for t in gdf.geom_type.dropna()}
        return kinds, int(info["features"]), fields
    return {kind}, int(info["features"]), fields


def _check_vector(key: str, name: str, item: Any, warnings: list[str]) -> None:
    path = Path(item.path)
    kinds, n_features, fields = vector_geometry_types(path, getattr(item, "layer", None))
    allowed, why = _GEOMETRY.get(name, (None, ""))
    if allowed is not None and n_features and kinds - set(allowed):
        raise InputFileError(f"{key}: {path.name} holds {', '.join(sorted(kinds - set(allowed)))} geometries; "
                           f"{why}; convert the layer or point this key at the right file")
    if n_features == 0:
        if name == "tugai":
            warnings.append(f"{key}: {path.name} has no features; tugai cover is taken as 0 everywhere in that "
                            "year (check that this is the right layer)")
        else:
            warnings.append(f"{key}: {path.name} has no features")
    required = [o for o in ("id_column", "name_column", "count_column") if hasattr(item, o)]
    if name == "protected_areas":  # default columns it lacks fall back to row numbers
        required = [o for o in required if o in item.model_fields_set]
    for option in required:
        column = getattr(item, option)
        if column not in fields:
            raise ConfigError(f"{key}.{option}: column {column!r} is not in {path.name} "
                               f"(columns: {', '.join(fields) or 'none'}); name the right one")
    if name == "populations" and n_features:
        _check_counts(key, path, item)


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


def _check_places_csv(key: str, item: Any) -> None:
    """A CSV of known places needs its coordinate, id, kind and source columns."""
    import pandas as pd

    path = Path(item.path)
    try:
        columns = list(pd.read_csv(path, nrows=0).columns)
    except Exception as exc:  # pandas raises many types; all mean "cannot read"
        raise InputFileError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0][:160]}") from exc
    for option in ("x_column", "y_column", "id_column", "kind_column", "source_column"):
        column = getattr(item, option)
        if column not in columns:
            raise ConfigError(f"{key}.{option}: column {column!r} is not in {path.name} "
                              f"(columns: {', '.join(columns) or 'none'}); name the right one")


def _check_raster(key: str, item: Any) -> None:
    from habitat.io.align import check_band
    from habitat.io.rasters import open_raster

    with open_raster(item.path) as ds:
        check_band(item.path, ds, getattr(item, "band", 1))


def input_problems(pipeline: Any) -> tuple[list[HabitatError], list[str]]:
    """Every problem of a pipeline's input files, without running it, and the warnings.

    Each problem is the error (its type kept: InputFileError, ConfigError, ...) with a message
    that starts with the input's key path.
    """
    from habitat.io.census import read_census

    problems: list[HabitatError] = []
    warnings: list[str] = []
    inputs = pipeline.inputs

    def attempt(key: str, check, *args) -> None:
        try:
            check(*args)
        except HabitatError as exc:
            message = " ".join(str(exc).split())
            problems.append(type(exc)(message if message.startswith(key) else f"{key}: {message}"))

    for name in type(inputs).model_fields:
        value = getattr(inputs, name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            key = f"inputs.{name}[{i}]" if isinstance(value, list) else f"inputs.{name}"
            if not Path(item.path).exists():
                continue  # reported by config_problems
            if name in ("landcover", "elevation"):
                attempt(key, _check_raster, key, item)
            elif name == "known_places" and Path(item.path).suffix.lower() == ".csv":
                attempt(key, _check_places_csv, key, item)
            elif name == "census":
                attempt(key, read_census, item.path)
            else:
                attempt(key, _check_vector, key, name, item, warnings)
    return problems, warnings
