"""The indicators stage: two-epoch habitat indicators per reporting unit, population status."""

from __future__ import annotations

from typing import Any

from habitat.errors import ConfigError
from habitat.grid import GridSpec
from habitat.vocabulary import HABITAT_CLASS_CODES
from habitat.params import IndicatorsParams
from habitat.stages import catalog
from habitat.memory import check_memory, return_freed_blocks
from habitat.stages.spec import Deferred, StageContext, StageSpec

_INGEST = ("habitat_class_baseline", "habitat_class_current", "tugai_cover_baseline", "tugai_cover_current",
           "protected_fraction", "protected_areas", "reporting_unit", "reporting_units", "populations", "census")
INPUTS = (
    *(catalog.layers(i, optional=i != "habitat_class_current")[0] for i in _INGEST),
    *catalog.layers("quality", "patch_id", "patch_table", "elevation_m", optional=True),
)
OUTPUTS = catalog.outputs_of("indicators")
def _habitat(values: np.ndarray, params: IndicatorsParams) -> np.ndarray:
    """Habitat cells of one epoch's window (land-cover classes, or tugai cover over the threshold)."""
    import numpy as np
    if params.habitat_source == "landcover":
        return np.isin(values, [HABITAT_CLASS_CODES[c] for c in params.habitat_classes])
    return np.nan_to_num(values) >= params.tugai_cover_threshold


def _valid(values: np.ndarray, params: IndicatorsParams) -> np.ndarray:
    """Cells of one epoch's window that hold data (class code > 0, or a finite cover)."""
    import numpy as np
    return values > 0 if params.habitat_source == "landcover" else np.isfinite(values)


class _Bands:
    """Window reads of a (lazy) layer through whole bands of its chunk rows, the last one kept:
    full-width strips read one after another decompress each chunk once, whatever their height."""

    def __init__(self, layer, band_rows: int = 1024) -> None:
        data = getattr(layer, "data", layer)
        chunks = getattr(data, "chunks", None)
        self.data, self.shape = data, tuple(data.shape)
        self.rows = int(chunks[0][0]) if chunks else int(band_rows)
        self.cache: dict[int, np.ndarray] = {}

    def release(self) -> None:
        """Drop the kept band (a pass is over)."""
        self.cache.clear()

    def _band(self, k: int) -> np.ndarray:
        import numpy as np
        if k not in self.cache:
            self.cache.clear()
            self.cache[k] = np.asarray(self.data[k * self.rows:min(self.shape[0], (k + 1) * self.rows)])
        return self.cache[k]

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        import numpy as np
        rows, cols = key
        if rows.stop <= rows.start:
            return np.asarray(self.data[rows, cols])
        parts = []
        for k in range(rows.start // self.rows, (rows.stop - 1) // self.rows + 1):
            b0 = k * self.rows
            parts.append(self._band(k)[max(rows.start, b0) - b0:min(rows.stop, b0 + self.rows) - b0, cols])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class _Habitat:
    """Window reader of both epochs' habitat masks and the cells with data at both. The last
    window's parts are kept and each is made when first asked for: the passes ask for the same
    window once per epoch (the change counts) or for one epoch only (then the other epoch is
    read for its data cells but not classified)."""

    def __init__(self, first, second, params: IndicatorsParams, patches=None) -> None:
        self.first = None if first is None else _Bands(first)
        self.second, self.params = _Bands(second), params
        self.patches = None if patches is None else _Bands(patches)
        self.shape = self.second.shape
        self.key, self.parts = None, {}

    def _part(self, what, rows: slice, cols: slice):
        """A part of a window: ``"first"`` / ``"second"`` (an epoch's values, each read once: a
        read again would decode its band again), ``"valid"`` (data at both epochs), or epoch
        ``0`` / ``1``'s habitat & valid."""
        key = (rows.start, rows.stop, cols.start, cols.stop)
        if key != self.key:
            self.key, self.parts = key, {}  # drop the last window before reading the next
        if what not in self.parts:
            self.parts[what] = self._make(what, rows, cols)
        return self.parts[what]

    def _make(self, what, rows: slice, cols: slice):
        if what in ("first", "second"):
            return getattr(self, what)[rows, cols]
        if what == "valid":
            if self.patches is not None:  # habitat = cells of the habitat patches, one epoch
                return self._part("second", rows, cols) > 0
            valid = _valid(self._part("second", rows, cols), self.params)
            if self.first is not None:
                valid &= _valid(self._part("first", rows, cols), self.params)
            return valid
        if self.patches is not None:
            mask = self.patches[rows, cols] > 0
        else:
            mask = _habitat(self._part("first" if what == 0 else "second", rows, cols), self.params)
        return mask & self._part("valid", rows, cols)

    def __call__(self, rows: slice, cols: slice):
        """(habitat at the first epoch or None, habitat at the second, cells with data) of a window."""
        first = None if self.first is None else self._part(0, rows, cols)
        return first, self._part(1, rows, cols), self._part("valid", rows, cols)

    def epoch(self, k: int):
        """Reader of the habitat of epoch ``k`` (0 first, 1 second), None without a first epoch."""
        if k == 0 and self.first is None:
            return None
        return lambda rows, cols: self._part(k, rows, cols)


def _habitat_masks(ctx: StageContext, params: IndicatorsParams) -> tuple[_Habitat, int | None, int]:
    """Reader of the habitat at both epochs and of the cells with data, and the two years (None
    for a single epoch)."""
    if params.habitat_source == "patches":
        if "patch_id" not in ctx.inputs:
            raise ConfigError("stages.indicators.habitat_source=patches: needs the patches stage")
        ctx.log("habitat = cells of the habitat patches (one epoch): current-state indicators, no change figures")
        current = ctx.inputs["habitat_class_current"]
        return _Habitat(None, current, params, ctx.inputs["patch_id"]), None, int(current.attrs.get("year", 0))
    if params.habitat_source == "landcover":
        ids, what = ("habitat_class_baseline", "habitat_class_current"), "two land-cover epochs (inputs.landcover)"
    else:
        ids, what = ("tugai_cover_baseline", "tugai_cover_current"), "two tugai epochs (inputs.tugai)"
    if ids[1] not in ctx.inputs:
        raise ConfigError(f"stages.indicators.habitat_source={params.habitat_source}: needs {what}")
    if ids[0] not in ctx.inputs:
        ctx.log(f"one epoch only ({what} has a single date): current-state indicators, no change figures")
        layer = ctx.inputs[ids[1]]
        return _Habitat(None, layer, params), None, int(layer.attrs.get("year", 0))
    layers = [ctx.inputs[i] for i in ids]
    years = [int(layer.attrs.get("year", 0)) for layer in layers]
    return _Habitat(layers[0], layers[1], params), years[0], years[1]


def _rasterize(geometry, grid: GridSpec) -> np.ndarray:
    """Cells whose centre lies inside ``geometry`` (none for a missing or empty geometry), as
    uint8 (1 byte a cell)."""
    from habitat.io.vectors import rasterize_labels
    return rasterize_labels([geometry], [1], grid, dtype="uint8")


def _units(ctx: StageContext, params: IndicatorsParams) -> list[tuple[str, str, str, Any]]:
    from habitat.indicators.units import BoxMask
    grid, inputs = ctx.grid, ctx.inputs
    # each unit kept as the mask of its bounding box (BoxMask): a small unit costs its box
    units = [("study_area", "ALL", "study area", BoxMask.full(grid.shape))]
    if "reporting_unit" in inputs and "reporting_units" in inputs:
        table = inputs["reporting_units"]
        masks = BoxMask.of_zones(_Bands(inputs["reporting_unit"]), table["unit_index"])
        for row, mask in zip(table.itertuples(), masks):
            units.append(("range_state", str(row.unit_id), str(row.unit_name), mask))
    if "protected_areas" in inputs:
        for row in inputs["protected_areas"].itertuples():
            units.append(("protected_area", str(row.pa_id), str(row.pa_name),
                          BoxMask.from_mask(_rasterize(row.geometry, grid).view(bool))))
    if "populations" in inputs:
        for row in inputs["populations"].itertuples():
            disc = None if row.geometry is None else row.geometry.buffer(params.population_buffer_m, 64)
            units.append(("population_area", str(row.site_id), str(row.site_name),
                          BoxMask.from_mask(_rasterize(disc, grid).view(bool))))
    return units


def _population_status(ctx: StageContext, params: IndicatorsParams) -> pd.DataFrame | None:
    import numpy as np
    import pandas as pd
    from habitat.indicators.population import census_trend, population_status
    if "populations" not in ctx.inputs:
        return None
    pops = ctx.inputs["populations"]
    sites = pd.DataFrame({"site_id": pops["site_id"].astype(str), "site_name": pops["site_name"].astype(str),
                          "count": pd.to_numeric(pops["count"], errors="coerce"), "count_year": np.nan})
    trend = None
    if "census" in ctx.inputs and len(ctx.inputs["census"]):
        trend = census_trend(ctx.inputs["census"])
        latest = trend.set_index("site_id")
        known = sites["site_id"].isin(latest.index)
        sites.loc[known, "count"] = latest.loc[sites.loc[known, "site_id"], "last_count"].to_numpy()
        sites.loc[known, "count_year"] = latest.loc[sites.loc[known, "site_id"], "last_year"].to_numpy()
    patch_id = np.full(len(sites), np.nan)
    area = np.full(len(sites), np.nan)
    capacity = np.full(len(sites), np.nan)
    if "patch_id" in ctx.inputs and "patch_table" in ctx.inputs:
        labels = ctx.inputs["patch_id"]  # lazy: one cell is read per site
        table = ctx.inputs["patch_table"].set_index("patch_id")
        grid = ctx.grid
        for k, geom in enumerate(pops.geometry):
            if geom is None or geom.is_empty:
                continue
            point = geom if geom.geom_type == "Point" else geom.representative_point()  # polygon sites
            row, col = (int(v) for v in grid.rowcol(point.x, point.y))
            pid = int(np.asarray(labels[row, col])) if 0 <= row < grid.height and 0 <= col < grid.width else 0
            if pid > 0:
                patch_id[k], area[k], capacity[k] = pid, table.loc[pid, "area_ha"], table.loc[pid, "capacity_deer"]
    sites["patch_id"], sites["patch_area_ha"], sites["capacity_deer"] = patch_id, area, capacity
    status = population_status(sites, overstocked_density_per_km2=params.overstocked_density_per_km2)
    status["count_year"] = status["count_year"].astype("Int64")
    status["patch_id"] = status["patch_id"].astype("Int64")
    status.insert(1, "site_name", sites["site_name"].to_numpy())
    if trend is not None:
        status = status.merge(trend.drop(columns=["last_count", "last_year"]), on="site_id", how="left")
        status = status.astype({"n_counts": "Int64", "first_year": "Int64"})
    else:
        for column in ("n_counts", "first_year", "first_count", "growth_rate_per_yr", "lambda_per_yr"):
            status[column] = np.nan
    return status


def _habitat_elevation(ctx: StageContext, habitat, shape: tuple[int, int]) -> str:
    """'; habitat cells at a-b m (median m, x % above 1,000 m)' from the elevation layer, or ''.

    ``habitat`` reads the current habitat mask by windows; the elevations of habitat cells are
    gathered strip by strip (in raster order, as the whole-grid selection gives them).
    """
    import numpy as np
    if "elevation_m" not in ctx.inputs:
        return ""
    dem = _Bands(ctx.inputs["elevation_m"])
    from habitat.io.strips import strip_rows
    step = strip_rows(shape[1])
    parts = [dem[slice(r0, min(shape[0], r0 + step)), slice(0, shape[1])][habitat(slice(r0, min(shape[0], r0 + step)),
                                                                                   slice(0, shape[1]))]
             for r0 in range(0, shape[0], step)]
    if not sum(p.size for p in parts):
        return ""
    z = np.asarray(np.concatenate(parts), dtype=np.float64)
    del parts
    outside = int(np.isnan(z).sum())
    z = z[np.isfinite(z)]
    if not z.size:
        return "; no habitat cell has an elevation"
    text = (f"; habitat cells at {z.min():.0f}-{z.max():.0f} m a.s.l. (median {np.median(z):.0f} m, "
            f"{100 * np.mean(z > 1000):.1f} % above 1,000 m)")
    return text + (f", {outside} outside the DEM" if outside else "")


def _data_dictionary(params: IndicatorsParams, cell_size_m: float, elevation: str = "") -> pd.DataFrame:
    import pandas as pd
    from habitat.indicators.units import DEFINITIONS
    if params.habitat_source == "landcover":
        rule = f"habitat = land-cover classes {', '.join(params.habitat_classes)} inside the floodplain"
    elif params.habitat_source == "patches":
        rule = "habitat = cells of the habitat patches (suitability >= the patches threshold, minimum patch area)"
    else:
        rule = f"habitat = tugai polygon cover >= {params.tugai_cover_threshold:g} of the cell"
    rule += f" on a {cell_size_m:g} m grid; patches {params.neighbours}-neighbour{elevation}"
    rows = [(name, uom, definition) for name, (uom, definition) in DEFINITIONS.items()]
    rows.append(("habitat", "", rule))
    rows += [
        ("epoch", "", "year of the date; 't1-t2' = the period: change figures, and t2 - t1 for per-date indicators"),
        ("unit_type", "", ("study_area (whole grid), range_state (reporting unit), protected_area, population_area "
                          f"(disc of {params.population_buffer_m:g} m around the site)")),
        ("PC/EC kernel", "", (f"p = {params.dispersal_probability:g} at {params.dispersal_distance_m:g} m edge-to-edge; "
                             f"nodes = patches >= {params.graph_min_patch_ha:g} ha")),
        ("TCA edge depth", "m", f"{params.edge_depth_m:g}"),
        ("ProtConn kernel", "", (f"p = {params.dispersal_probability:g} at {params.protconn_dispersal_m:g} m edge-to-edge "
                                 "between protected-area polygons; transboundary stepping stones within "
                                 f"{params.protconn_transboundary_m:g} m of the region (Saura et al. 2017)")),
        ("note", "", "why a value is missing (e.g. no protected-area polygons for ProtConn); empty otherwise"),
        ("count", "animals", "latest census count (census table), else the populations layer count"),
        ("growth_rate_per_yr", "1/yr", "slope of ln(count) on year over the census series (least squares)"),
        ("lambda_per_yr", "1", "exp(growth_rate_per_yr); 1 = stable"),
        ("patch_count", "animals", "sum of the counts of the sites in the same patch (they share its capacity)"),
        ("density_per_km2", "animals/km2", "patch_count / area of the habitat patch (patches stage) holding the site"),
        ("sustainable_density_per_km2", "animals/km2", "capacity_deer / patch area (patches stage density)"),
        ("stocking_ratio", "1", "patch_count / capacity_deer"),
        ("surplus_deer", "animals", "max(patch_count - capacity_deer, 0)"),
        ("overstocked", "flag", (f"density_per_km2 > {params.overstocked_density_per_km2:g} deer/km2 "
                                "(DOMAIN.md 8: sustainable 5-10 [A]; 24/km2 damages tugai, DOMAIN.md 3.2)")),
        ("translocation_source", "flag", "overstocked sites: candidate sources of animals for the sites stage"),
    ]
    return pd.DataFrame(rows, columns=["indicator", "unit_of_measure", "definition"])


def _with_protconn(ctx: StageContext, params: IndicatorsParams, long: pd.DataFrame, units, epoch: str) -> pd.DataFrame:
    """The long table with ProtConn rows for the study area and each Range State (and a note column)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely
    from habitat.indicators.protconn import NO_PROTECTED_AREAS, protconn_long
    x0, y0, x1, y1 = ctx.grid.bounds
    regions = [("study_area", "ALL", "study area", shapely.box(x0, y0, x1, y1))]
    if "reporting_units" in ctx.inputs:
        regions += [("range_state", str(r.unit_id), str(r.unit_name), r.geometry)
                    for r in ctx.inputs["reporting_units"].itertuples()]
    regions = gpd.GeoDataFrame(regions, columns=["unit_type", "unit_id", "unit_name", "geometry"],
                               geometry="geometry", crs=ctx.grid.pyproj_crs)
    protected = ctx.inputs.get("protected_areas")
    if protected is not None and protected.crs is None:
        protected = protected.set_crs(ctx.grid.pyproj_crs)
    rows = protconn_long(protected, regions, epoch=epoch, median_dispersal_m=params.protconn_dispersal_m,
                         probability=params.dispersal_probability,
                         transboundary_distance_m=params.protconn_transboundary_m)
    if protected is None:
        ctx.log(f"ProtConn: {NO_PROTECTED_AREAS}; not available for "
                + ", ".join(f"{k} {u}" for k, u in zip(regions["unit_type"], regions["unit_id"])))
    else:
        for r in rows[rows["indicator"] == "ProtConn"].itertuples():
            ctx.log(f"ProtConn {r.unit_type} {r.unit_id}: {r.value:.2f} %")
    position = {(k, u): i for i, (k, u, _, _) in enumerate(units)}
    both = pd.concat([long.assign(note=""), rows], ignore_index=True)
    order = both.apply(lambda r: position.get((r["unit_type"], r["unit_id"]), len(units)), axis=1)
    return both.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)




def run_indicators(ctx: StageContext) -> dict[str, Any]:
    """Habitat indicators for the study area, Range States, protected areas and population areas;
    the loss/gain raster; population status; the national-report table; the data dictionary."""
    import rasterio
    from habitat.io.rasters import STRIP_GDAL_CACHE_MB
    with rasterio.Env(GDAL_CACHEMAX=STRIP_GDAL_CACHE_MB):
        return _run(ctx)


def _run(ctx: StageContext) -> dict[str, Any]:
    import rasterio
    from habitat.io.rasters import STRIP_GDAL_CACHE_MB
    from habitat.indicators.change import CHANGE_NODATA, change_map_blocks
    from habitat.indicators.national_report import national_report
    from habitat.indicators.units import unit_indicators, wide_table
    from habitat.layers import make_layer
    params: IndicatorsParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the indicators stage needs a projected equal-area grid in metres (e.g. 'default')")
    check_memory("indicators", grid.shape, what="stage indicators")  # before reading
    return_freed_blocks()  # strips freed go back to the system (else the heap keeps them)
    habitat, y1, y2 = _habitat_masks(ctx, params)
    if y1 is not None and not y2 > y1:
        raise ConfigError(f"inputs: the two habitat epochs need distinct years, got {y1} and {y2}")
    units = _units(ctx, params)
    for kind, uid, _, mask in units:
        if not mask.any():
            ctx.log(f"{kind} {uid}: no cell centre on the grid; left out of the tables")
    # lazy layers, read strip by strip through whole chunk bands
    protected, quality = (None if ctx.inputs.get(k) is None else _Bands(ctx.inputs[k])
                          for k in ("protected_fraction", "quality"))
    long = unit_indicators(
        habitat.epoch(0), habitat.epoch(1), units, year_t1=y1, year_t2=y2, cell_size_m=grid.cell_size_m,
        protected_fraction=protected, quality=quality, neighbours=params.neighbours, edge_depth_m=params.edge_depth_m,
        dispersal_distance_m=params.dispersal_distance_m, dispersal_probability=params.dispersal_probability,
        graph_min_patch_ha=params.graph_min_patch_ha, shape=grid.shape,
    )
    del protected, quality
    long = _with_protconn(ctx, params, long, units, str(y2))
    study = long[(long["unit_type"] == "study_area") & (long["indicator"] == "habitat_loss_pct")]
    if len(study):
        ctx.log(f"habitat {y1}-{y2}: {study['value'].iloc[0]:.1f} % of the {y1} habitat lost (study area)")
    out: dict[str, Any] = {
        "indicators": long,
        "indicators_wide": wide_table(long),
        "data_dictionary": _data_dictionary(params, grid.cell_size_m,
                                            _habitat_elevation(ctx, habitat.epoch(1), grid.shape)),
    }
    if y1 is not None:
        # the one grid-sized array of the stage is its own output, made when it is written
        def change() -> Any:
            with rasterio.Env(GDAL_CACHEMAX=STRIP_GDAL_CACHE_MB):
                return make_layer(change_map_blocks(habitat, grid.shape), grid, name="habitat_change",
                                  nodata=int(CHANGE_NODATA))
        out["habitat_change"] = Deferred(change)
    status = _population_status(ctx, params)
    if status is not None:
        out["population_status"] = status
        flagged = status.loc[status["overstocked"], "site_id"].tolist()
        if flagged:
            ctx.log(f"overstocked (translocation sources): {', '.join(flagged)}")
    report = national_report(long, units, status, y1, y2)
    if report is not None:
        out["national_report"] = report
        out["national_report_xlsx"] = report
    return out


STAGE = StageSpec(
    id="indicators",
    version="1",
    doc="Two-epoch habitat area, loss, fragmentation, protection and connectivity per unit; population status.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=IndicatorsParams,
    run=run_indicators,
)
