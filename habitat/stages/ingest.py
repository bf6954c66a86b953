"""The ingest stage: every pipeline input onto the analysis grid."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from habitat.config import KnownPlacesInput, ProtectedAreasInput, VectorInput
from habitat.config import LandCoverInput
from habitat.params import IngestParams
from habitat.errors import (ConfigError, CrosswalkError, HabitatError, InputFileError, InvalidParameterError,
                            NoOverlapError)
from habitat.grid import GridSpec
from habitat.vocabulary import HABITAT_CLASS_CODES as CLASS
from habitat.stages import catalog
from habitat.memory import check_memory
from habitat.stages.spec import Deferred, StageContext, StageSpec

T = TypeVar("T")

OUTPUTS = catalog.outputs_of("ingest")


def _keyed(key: str, fn: Callable[[], T]) -> T:
    """Run ``fn``; prefix any user error with the pipeline key it concerns."""
    try:
        return fn()
    except HabitatError as exc:
        raise type(exc)(f"{key}: {exc}") from exc


def _vector(
    key: str, item: VectorInput, ctx: StageContext, report: list[dict], *, extent: GridSpec | None = None
) -> gpd.GeoDataFrame:
    """Read, repair and reproject one vector input; it must overlap ``extent`` (default: the grid)."""
    from habitat.io.vectors import clean_geometries, read_vector, to_grid_crs

    def load() -> gpd.GeoDataFrame:
        gdf = read_vector(item.path, layer=item.layer)
        gdf, repair = clean_geometries(gdf, source=str(item.path))
        gdf = to_grid_crs(gdf, extent or ctx.grid, source=str(item.path))
        report.append(
            {"key": key, "file": item.path.name, "features": repair.n_features,
             "repaired": repair.n_repaired, "empty_dropped": repair.n_empty_dropped}
        )
        if repair.n_repaired:
            ctx.log(f"{key}: repaired {repair.n_repaired} invalid geometr"
                    f"{'y' if repair.n_repaired == 1 else 'ies'} in {item.path.name} (make_valid)")
        return gdf

    return _keyed(key, load)


def _require_columns(key: str, gdf: gpd.GeoDataFrame, columns: dict[str, str]) -> None:
    for option, column in columns.items():
        if column not in gdf.columns:
            raise ConfigError(
                f"{key.removesuffix('.path')}.{option}: column {column!r} is not in the layer "
                f"(columns: {', '.join(map(str, gdf.columns.drop('geometry')))}); name the right one"
            )


def _pad_cells(grid: GridSpec, pad_m: float) -> int:
    """Cells that cover ``pad_m`` metres in every direction (on a geographic grid, along the
    shortest degree of longitude, at the latitude farthest from the equator)."""
    import numpy as np
    cell_size_m = grid.cell_size_m
    if grid.is_geographic:
        cell_size_m *= np.cos(np.deg2rad(min(89.0, max(abs(grid.bounds[1]), abs(grid.bounds[3])))))
    return int(np.ceil(pad_m / cell_size_m))


def run_ingest(ctx: StageContext) -> dict[str, Any]:
    """Read, repair, reproject and rasterize every input of the pipeline onto the grid.

    Distances (to rivers, water, cropland, settlements, roads, canals) are computed on the grid
    padded by ``context_pad_m`` and then cropped, so features just outside the study area count;
    with ``distance_cap_m`` block by block, exact up to the cap. The distance, cover and unit
    rasters are returned ``Deferred``: the runner makes and writes them one at a time.
    """
    import numpy as np
    import pandas as pd
    from habitat.io.landcover import floodplain_mask
    from habitat.io.strips import BitMask, DiskGrid, RowArray
    from habitat.io.vectors import distance_rows_m, rasterize_presence
    from habitat.layers import make_layer
    params: IngestParams = ctx.params  # type: ignore[assignment]
    inputs = ctx.pipeline.inputs
    grid = ctx.grid
    pad = _pad_cells(grid, params.context_pad_m)
    big = grid.pad(pad)
    inner = (slice(pad, pad + grid.height), slice(pad, pad + grid.width))
    out: dict[str, Any] = {}
    report: list[dict] = []

    def distance_layer(layer_id: str, presence_rows: Callable[[int, int], np.ndarray]) -> None:
        # deferred: made when the runner writes it, row strip by row strip (exact, see distance_rows_m)
        out[layer_id] = Deferred(lambda: make_layer(
            distance_rows_m(presence_rows(), big, cap_m=params.distance_cap_m, window=inner), grid,
            name=layer_id, units="m"))

    rivers = _vector("inputs.rivers", inputs.rivers, ctx, report, extent=big)
    # the masks kept for the whole stage are bit-packed (1/8 byte a cell); the distances,
    # the floodplain and the fractions are made strip by strip from them
    river_presence = BitMask.pack(rasterize_presence(rivers.geometry.values, big))
    out["rivers"] = rivers
    # the river distance is made once, strip by strip of the padded grid: the floodplain reads
    # it, and each strip's study-area window goes to a temporary file for the output layer
    river_big = distance_rows_m(river_presence, big, cap_m=params.distance_cap_m)
    river_kept = DiskGrid(grid.shape, np.float32)

    def river_rows(r0: int, r1: int) -> np.ndarray:
        d = river_big.rows(r0, r1)
        i0, i1 = max(r0, inner[0].start), min(r1, inner[0].stop)
        if i0 < i1:
            river_kept[i0 - pad:i1 - pad, :] = d[i0 - r0:i1 - r0, inner[1]]
        return d

    river = RowArray(big.shape, np.float32, river_rows)  # read once, in one pass over its rows
    if inputs.elevation is not None:
        if params.distance_cap_m is not None and params.distance_cap_m < params.valley_distance_m:
            raise ConfigError(f"stages.ingest.distance_cap_m: {params.distance_cap_m:g} m is below valley_distance_m "
                              f"({params.valley_distance_m:g} m), which reads the river distance with a DEM; "
                              "raise it or leave it unset")
        # terrain criteria are whole-grid computations (height above the river): whole arrays here
        floodplain = BitMask.pack(_terrain(ctx, big, inner, np.asarray(river_presence), np.asarray(river),
                                           out, report))
    else:
        floodplain = BitMask.pack(RowArray(big.shape, bool, lambda r0, r1: floodplain_mask(
            river[r0:r1], buffer_m=params.floodplain_buffer_m)))
    del river, river_big
    out["river_distance_m"] = make_layer(river_kept, grid, name="river_distance_m", units="m")
    out["floodplain"] = make_layer(RowArray(grid.shape, np.uint8, lambda r0, r1: floodplain.rows(
        pad + r0, pad + r1)[:, inner[1]].astype(np.uint8)), grid, name="floodplain")

    classes_big = _landcover(ctx, big, inner, floodplain, out, report)
    if ctx.pipeline.active_scenario is not None:
        classes_big = _apply_scenario(ctx, big, inner, np.asarray(floodplain), np.asarray(classes_big), out, report)

    # context from the current land cover (the last epoch mapped above); each distance reads its
    # cells from the classes and the river bits strip by strip
    distance_layer("water_distance_m",
                   lambda: lambda r0, r1: (classes_big[r0:r1] == CLASS["water"]) | river_presence.rows(r0, r1))
    distance_layer("cropland_distance_m", lambda: lambda r0, r1: classes_big[r0:r1] == CLASS["cropland"])
    settlements = None
    if inputs.settlements is not None:
        settlements = _vector("inputs.settlements", inputs.settlements, ctx, report, extent=big).geometry.values

    def built() -> Callable[[int, int], np.ndarray]:
        towns = None if settlements is None else BitMask.pack(rasterize_presence(settlements, big))
        if towns is None:
            return lambda r0, r1: classes_big[r0:r1] == CLASS["built"]
        return lambda r0, r1: (classes_big[r0:r1] == CLASS["built"]) | towns.rows(r0, r1)

    distance_layer("settlement_distance_m", built)
    _tugai(ctx, out, report)
    for key, layer_id in (("canals", "canal_distance_m"), ("roads", "road_distance_m")):
        item = getattr(inputs, key)
        if item is not None:
            geoms = _vector(f"inputs.{key}", item, ctx, report, extent=big).geometry.values
            distance_layer(layer_id, lambda geoms=geoms: BitMask.pack(rasterize_presence(geoms, big)))
    _polygon_layers(ctx, out, report)
    _sites_and_counts(ctx, out, report)
    counts = ["features", "repaired", "empty_dropped", "cells"]
    table = pd.DataFrame(report, columns=["key", "file", *counts])
    out["ingest_report"] = table.astype({c: "Int64" for c in counts})
    return out


def _terrain(ctx: StageContext, big: GridSpec, inner: tuple[slice, slice], river_presence: np.ndarray,
             river_distance_big: np.ndarray, out: dict[str, Any], report: list[dict]) -> np.ndarray:
    """Elevation, slope and height above the river (into ``out``); returns the valley floodplain
    on the padded grid. Cells outside the DEM stay NaN and are counted in the log and the report."""
    from habitat.io.align import align_to_grid
    from habitat.layers import make_layer
    import numpy as np
    from habitat.suitability import terrain
    params: IngestParams = ctx.params  # type: ignore[assignment]
    item = ctx.pipeline.inputs.elevation
    z_big, _ = _keyed("inputs.elevation", lambda: align_to_grid(
        item.path, big, kind="continuous", resampling=item.resampling, band=item.band, dtype=np.float64))
    dx, dy = terrain.cell_size_m(big.shape, tuple(big.affine)[:6], geographic=big.is_geographic,
                         metres_per_unit=1.0 if big.is_geographic else big.metres_per_unit)
    slope_big = terrain.slope_degrees(z_big, dx_m=dx, dy_m=dy)
    hand_big = terrain.height_above_river(z_big, river_presence, dx_m=dx, dy_m=dy)
    for layer_id, values, units in (("elevation_m", z_big, "m a.s.l."), ("slope_deg", slope_big, "degrees"),
                                    ("height_above_river_m", hand_big, "m")):
        out[layer_id] = make_layer(values[inner].astype(np.float32), ctx.grid, name=layer_id, units=units)
    coverage = terrain.dem_coverage(z_big[inner])
    report.append({"key": "inputs.elevation", "file": item.path.name,
                   "cells": coverage.total_cells - coverage.outside_cells})
    if coverage.outside_cells:
        ctx.log(f"inputs.elevation: {coverage.outside_cells} of {coverage.total_cells} cells "
                f"({100 * coverage.outside_share:.1f} %) lie outside the DEM: no terrain criteria or costs there, "
                "and their floodplain is the river buffer alone")
    return terrain.valley_floodplain(
        river_distance_big, hand_big, z_big, buffer_m=params.floodplain_buffer_m,
        valley_distance_m=params.valley_distance_m, valley_height_m=params.valley_height_m,
        altitude_zero_m=params.floodplain_max_altitude_m, hand_zero_m=params.floodplain_max_height_m,
    )


def _landcover(ctx: StageContext, big: GridSpec, inner: tuple[slice, slice], floodplain_big: BitMask,
               out: dict[str, Any], report: list[dict]) -> np.ndarray:
    """Habitat classes of each land-cover epoch (into ``out``); returns the current one on the padded grid.
    Tiled inputs read the floodplain block by block from its bits; a single file is mapped whole."""
    import numpy as np
    from habitat.io.align import align_to_grid
    from habitat.io.landcover import map_landcover, read_crosswalk
    from habitat.layers import make_layer
    params: IngestParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    epochs = sorted(enumerate(ctx.pipeline.inputs.landcover), key=lambda pair: pair[1].year)
    names = ["current"] if len(epochs) == 1 else ["baseline", "current"]
    from habitat.io.strips import RowArray
    classes_big = np.zeros(big.shape, np.uint8)
    for name, (i, item) in zip(names, epochs):
        key = f"inputs.landcover[{i}]"

        def load(item=item) -> np.ndarray:
            crosswalk = read_crosswalk(item.product)
            if item.tiles:
                return _mosaic_classes(item, big, inner, crosswalk, floodplain_big, params)
            codes, nodata = align_to_grid(
                item.path, big, kind="categorical", resampling=item.resampling, band=item.band
            )
            if codes[inner].size and (codes[inner] == nodata).all():
                raise NoOverlapError(f"{item.path}: does not overlap the study area (all cells are nodata)")
            try:
                return map_landcover(
                    codes, crosswalk, floodplain=np.asarray(floodplain_big), nodata=nodata,
                    unknown=params.unknown_landcover_codes,
                )
            except (CrosswalkError, InvalidParameterError) as exc:  # codes of this file: name it
                raise type(exc)(f"{item.path.name}: {exc}") from exc

        loaded = _keyed(key, load)
        layer_id = f"habitat_class_{name}"
        if isinstance(loaded, tuple):  # tiled: the classes stay on disk, read strip by strip
            classes_big, cells = loaded
            classes = RowArray(grid.shape, np.uint8, lambda r0, r1, g=classes_big: g.rows(
                inner[0].start + r0, inner[0].start + r1)[:, inner[1]])
        else:
            classes_big = loaded
            classes = classes_big[inner]
            cells = int((classes > 0).sum())
        out[layer_id] = make_layer(classes, grid, name=layer_id, nodata=0)
        out[layer_id].attrs["year"] = item.year
        report.append({"key": key, "file": item.path.name, "cells": cells})
    return classes_big


def _mosaic_classes(item: LandCoverInput, big: GridSpec, inner: tuple[slice, slice], crosswalk,
                    floodplain_big: BitMask, params: IngestParams) -> tuple[DiskGrid, int]:
    """Habitat classes of tiled land cover, mosaicked and reprojected block by block (never a whole
    tile), into a temporary file (never a whole grid in memory), and their non-nodata cells inside
    ``inner``, counted from the blocks as they are written (no second pass over the file)."""
    from habitat.io.mosaic import DEFAULT_BLOCK_CELLS, iter_landcover_blocks
    from habitat.io.strips import DiskGrid
    check_memory("ingest", big.shape, what="stage ingest", block_cells=DEFAULT_BLOCK_CELLS**2)
    import numpy as np
    classes, cells = DiskGrid(big.shape, "uint8"), 0
    for block, _ in iter_landcover_blocks(item.tiles, big, crosswalk, floodplain=floodplain_big,
                                          unknown=params.unknown_landcover_codes, resampling=item.resampling,
                                          band=item.band, fractions=False):
        classes[block.rows, block.cols] = block.data
        r0, r1 = max(block.rows.start, inner[0].start), min(block.rows.stop, inner[0].stop)
        c0, c1 = max(block.cols.start, inner[1].start), min(block.cols.stop, inner[1].stop)
        if r0 < r1 and c0 < c1:
            cells += int(np.count_nonzero(block.data[r0 - block.rows.start:r1 - block.rows.start,
                                                     c0 - block.cols.start:c1 - block.cols.start]))
    if not cells:
        raise NoOverlapError(f"{item.path.parent}: the land-cover tiles do not overlap the study area "
                             "(all cells are nodata)")
    return classes, cells


def _scenario_edits(ctx: StageContext, big: GridSpec, report: list[dict]) -> list:
    """The active scenario's edits with their geometries in the grid CRS."""
    import numpy as np
    from habitat.planning.scenarios import BarrierEdit, CrossingEdit, LandCoverEdit, RESTORABLE_CLASSES, RestorationEdit
    name = ctx.pipeline.active_scenario
    edits = []
    for i, item in enumerate(ctx.pipeline.scenarios[name]):
        gdf = _vector(f"scenarios.{name}[{i}]", item, ctx, report, extent=big)
        geoms, label = tuple(gdf.geometry.to_numpy()), item.name or f"{item.kind} {i + 1}"
        if item.kind == "landcover":
            edits.append(LandCoverEdit(geoms, item.to_class, label))
        elif item.kind == "restoration":
            edits.append(RestorationEdit(geoms, item.to_class or "tugai_forest",
                                         tuple(item.from_classes or RESTORABLE_CLASSES), label))
        elif item.kind == "barrier":
            edits.append(BarrierEdit(geoms, np.inf if item.resistance is None else item.resistance, label))
        else:
            edits.append(CrossingEdit(geoms, 1.0 if item.resistance is None else item.resistance, label))
    return edits


def _apply_scenario(ctx: StageContext, big: GridSpec, inner: tuple[slice, slice], floodplain_big: np.ndarray,
                    classes_big: np.ndarray, out: dict[str, Any], report: list[dict]) -> np.ndarray:
    """Apply the active scenario to the current classes (before distances are taken from them);
    barrier and crossing cells go out as rasters for the resistance stage."""
    import numpy as np
    from habitat.layers import make_layer
    from habitat.planning.scenarios import BarrierEdit, CrossingEdit, apply_landcover_edits, changed_cells, edit_mask
    edits = _scenario_edits(ctx, big, report)
    masks = [edit_mask(edit, big) for edit in edits]
    edited = apply_landcover_edits(classes_big, edits, masks, floodplain=floodplain_big)
    year = out["habitat_class_current"].attrs.get("year")
    out["habitat_class_current"] = make_layer(edited[inner], ctx.grid, name="habitat_class_current", nodata=0)
    out["habitat_class_current"].attrs["year"] = year
    changed = int(changed_cells(classes_big[inner], edited[inner]).sum())
    ctx.log(f"scenario {ctx.pipeline.active_scenario}: {len(edits)} edit(s), {changed} cells change class")
    for kind, layer_id in ((BarrierEdit, "scenario_barriers"), (CrossingEdit, "scenario_crossings")):
        mine = [(e, m[inner]) for e, m in zip(edits, masks) if isinstance(e, kind)]
        if mine:
            values = np.full(ctx.grid.shape, np.nan, np.float32)
            for edit, mask in mine:  # barriers: the highest wins; crossings: the later one
                values[mask] = np.fmax(values[mask], edit.resistance) if kind is BarrierEdit else edit.resistance
            out[layer_id] = make_layer(values, ctx.grid, name=layer_id, units=catalog.layer(layer_id).units)
    return edited


def _tugai(ctx: StageContext, out: dict[str, Any], report: list[dict]) -> None:
    """Tugai polygon cover of each epoch (deferred: rasterized when the runner writes it)."""
    inputs, grid = ctx.pipeline.inputs, ctx.grid
    tugai = sorted(enumerate(inputs.tugai), key=lambda pair: pair[1].year)
    tugai_names = ["current"] if len(tugai) == 1 else ["baseline", "current"]
    for name, (i, item) in zip(tugai_names, tugai):
        gdf = _vector(f"inputs.tugai[{i}]", item, ctx, report)
        out[f"tugai_cover_{name}"] = Deferred(partial(_fraction_layer, gdf.geometry.values, grid,
                                                      f"tugai_cover_{name}", year=item.year))


def _fraction_layer(geoms, grid: GridSpec, layer_id: str, *, year: int | None = None) -> xr.DataArray:
    """The share of each cell covered by ``geoms`` as layer ``layer_id`` (made when the runner writes it)."""
    from habitat.io.vectors import fraction_rows
    from habitat.layers import make_layer
    layer = make_layer(fraction_rows(geoms, grid), grid, name=layer_id, units="fraction")
    if year is not None:
        layer.attrs["year"] = year
    return layer


def _polygon_layers(ctx: StageContext, out: dict[str, Any], report: list[dict]) -> None:
    """Protected areas, the historical range and the reporting units."""
    import geopandas as gpd
    import numpy as np
    from habitat.io.vectors import label_rows
    from habitat.layers import make_layer
    inputs, grid = ctx.pipeline.inputs, ctx.grid
    if inputs.protected_areas is not None:
        gdf = _vector("inputs.protected_areas", inputs.protected_areas, ctx, report)
        out["protected_fraction"] = Deferred(partial(_fraction_layer, gdf.geometry.values, grid,
                                                     "protected_fraction"))
        out["protected_areas"] = _protected_areas(inputs.protected_areas, gdf)

    if inputs.historical_range is not None:
        gdf = _vector("inputs.historical_range", inputs.historical_range, ctx, report)
        out["historical_range_fraction"] = Deferred(partial(_fraction_layer, gdf.geometry.values, grid,
                                                            "historical_range_fraction"))
        out["historical_range"] = gpd.GeoDataFrame({"range_id": np.arange(1, len(gdf) + 1)},
                                                   geometry=gdf.geometry.to_numpy(), crs=gdf.crs)

    if inputs.reporting_units is not None:
        item = inputs.reporting_units
        gdf = _vector("inputs.reporting_units", item, ctx, report)
        _require_columns("inputs.reporting_units", gdf, {"id_column": item.id_column, "name_column": item.name_column})
        units = gpd.GeoDataFrame(
            {"unit_id": gdf[item.id_column].astype(str).to_numpy(),
             "unit_name": gdf[item.name_column].astype(str).to_numpy()},
            geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        ).sort_values("unit_id", kind="stable").reset_index(drop=True)
        units.insert(0, "unit_index", np.arange(1, len(units) + 1, dtype=np.int32))
        out["reporting_units"] = units
        geoms, labels = units.geometry.values, units["unit_index"].tolist()
        out["reporting_unit"] = Deferred(lambda: make_layer(label_rows(geoms, labels, grid), grid,
                                                            name="reporting_unit", nodata=0))


def _sites_and_counts(ctx: StageContext, out: dict[str, Any], report: list[dict]) -> None:
    """Population sites, the census table and the occurrence points."""
    import geopandas as gpd
    import pandas as pd
    from habitat.io.census import read_census
    inputs = ctx.pipeline.inputs
    if inputs.populations is not None:
        item = inputs.populations
        gdf = _vector("inputs.populations", item, ctx, report)
        _require_columns("inputs.populations", gdf, {"id_column": item.id_column, "name_column": item.name_column,
                                                     "count_column": item.count_column})
        out["populations"] = gpd.GeoDataFrame(
            {"site_id": gdf[item.id_column].astype(str).to_numpy(),
             "site_name": gdf[item.name_column].astype(str).to_numpy(),
             "count": pd.to_numeric(gdf[item.count_column], errors="coerce").to_numpy()},
            geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        ).sort_values("site_id", kind="stable").reset_index(drop=True)

    if inputs.census is not None:
        out["census"] = _keyed("inputs.census", lambda: read_census(inputs.census.path))

    if inputs.occurrences is not None:
        gdf = _vector("inputs.occurrences", inputs.occurrences, ctx, report)
        out["occurrences"] = _keyed("inputs.occurrences", lambda: _occurrence_points(gdf, inputs.occurrences.path))

    if inputs.known_places is not None:
        out["known_places"] = _known_places(ctx, inputs.known_places, report)


def _known_places(ctx: StageContext, item: KnownPlacesInput, report: list[dict]) -> gpd.GeoDataFrame:
    """Known places (points or polygons) with place_id, place_name, kind, source in the grid CRS."""
    from habitat.io.vectors import to_grid_crs
    import geopandas as gpd
    import pandas as pd
    key = "inputs.known_places"
    if item.path.suffix.lower() == ".csv":
        def load() -> gpd.GeoDataFrame:
            if not item.path.exists():
                raise InputFileError(f"{item.path}: file not found; check the path")
            table = pd.read_csv(item.path)
            _require_columns(key, table.assign(geometry=None), {"x_column": item.x_column, "y_column": item.y_column})
            xy = table[[item.x_column, item.y_column]].apply(pd.to_numeric, errors="coerce")
            if xy.isna().any().any():
                raise InputFileError(f"{item.path}: {item.x_column}/{item.y_column} must be numbers in every row")
            from habitat.grid import parse_crs

            gdf = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(xy[item.x_column], xy[item.y_column]),
                                   crs=parse_crs(item.crs, f"{key}.crs"))
            report.append({"key": key, "file": item.path.name, "features": len(gdf), "repaired": 0,
                           "empty_dropped": 0})
            return to_grid_crs(gdf, ctx.grid, source=str(item.path))

        gdf = _keyed(key, load)
    else:
        gdf = _vector(key, item, ctx, report)
    _require_columns(key, gdf, {"id_column": item.id_column, "kind_column": item.kind_column,
                                "source_column": item.source_column})
    kinds = set(gdf.geom_type)
    if not kinds <= {"Point", "MultiPoint", "Polygon", "MultiPolygon"}:
        raise InputFileError(f"{item.path}: holds {', '.join(sorted(kinds))} geometries; known places must be "
                             "points or polygons")
    sources = gdf[item.source_column].astype("string").str.strip()
    if sources.isna().any() or (sources == "").any():
        raise InputFileError(f"{item.path}: every known place needs a source ({item.source_column} is empty in "
                             f"{int((sources.isna() | (sources == '')).sum())} row(s))")
    names = gdf[item.name_column] if item.name_column in gdf.columns else gdf[item.id_column]
    return gpd.GeoDataFrame(
        {"place_id": gdf[item.id_column].astype(str).to_numpy(), "place_name": names.astype(str).to_numpy(),
         "kind": gdf[item.kind_column].astype(str).to_numpy(), "source": sources.astype(str).to_numpy()},
        geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
    )


def _protected_areas(item: ProtectedAreasInput, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Protected areas with ``pa_id`` and ``pa_name``; a default column the layer lacks falls
    back to the row number (id) or the id (name), a column named in the pipeline must exist."""
    import geopandas as gpd
    import numpy as np
    key = "inputs.protected_areas"
    named = {o: getattr(item, o) for o in ("id_column", "name_column") if o in item.model_fields_set}
    _require_columns(key, gdf, named)
    ids = (gdf[item.id_column].astype(str).to_numpy() if item.id_column in gdf.columns
           else np.arange(1, len(gdf) + 1).astype(str))
    names = gdf[item.name_column].astype(str).to_numpy() if item.name_column in gdf.columns else ids
    return gpd.GeoDataFrame(
        {"pa_id": ids, "pa_name": names}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs
    ).sort_values("pa_id", kind="stable").reset_index(drop=True)


def _occurrence_points(gdf: gpd.GeoDataFrame, path) -> gpd.GeoDataFrame:
    """Occurrence points (multipoints split) with ``occurrence_id`` 1..n in input order."""
    import geopandas as gpd
    import numpy as np
    kinds = set(gdf.geom_type)
    if not kinds <= {"Point", "MultiPoint"}:
        raise InputFileError(f"{path}: holds {', '.join(sorted(kinds - {'Point', 'MultiPoint'}))} geometries; "
                             "occurrences must be points")
    points = gdf.geometry.explode(index_parts=False).reset_index(drop=True)
    return gpd.GeoDataFrame({"occurrence_id": np.arange(1, len(points) + 1, dtype=np.int64)},
                            geometry=points.to_numpy(), crs=gdf.crs)


STAGE = StageSpec(
    id="ingest",
    version="1",
    doc="Put land cover (mapped to habitat classes), tugai polygons and context layers on the grid.",
    inputs=(),
    outputs=OUTPUTS,
    params=IngestParams,
    run=run_ingest,
    reads_pipeline_inputs=True,
)
