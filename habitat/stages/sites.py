"""The sites stage: candidate reintroduction sites, screened, scored, ranked, tested and explained.

With ``grid.connectivity_resolution_m`` set, a candidate's least-cost distance and effective
resistance to the sources are computed on that coarser connectivity grid, as the connectivity
and circuit stages compute theirs (:mod:`habitat.connectivity.two_grid`: the same aggregated
resistance, coarse population cores and focal cells); the cost surface comes back to the
analysis grid (each coarse value over its block) to take the minimum over a candidate's cells,
and a candidate's release cell is the coarse cell of its fine centre (where that is impassable,
the nearest passable coarse cell holding the candidate). Candidates, areas and every other
criterion stay on the analysis grid.

Candidates, their criteria, release cells and the candidate raster are made block by block
(:mod:`habitat.sites.blockwise`: strips of rows, never the whole analysis grid; equal to the
whole-array path bit for bit), except with ``cluster_gap_m``, polygon population sites or reach
tiles wider than 4096 cells, which keep the whole-array path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from habitat.errors import ConfigError
from habitat.memory import SITES_FINE_SIDE_BYTES, check_memory
from habitat.params import CircuitParams, ConnectivityParams, PatchesParams, SitesParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

if TYPE_CHECKING:
    import numpy as np

    from habitat.connectivity.two_grid import Grain

INPUTS = catalog.layers(
    "patch_id", "quality", "degradation", "water_distance_m", "protected_fraction", "historical_range_fraction",
    "populations", "resistance", "population_cores", "patch_importance", "population_status",
)
OUTPUTS = catalog.outputs_of("sites")

#: Scoring columns that need at least one source population to be defined.
_SOURCE_COLUMNS = ("lcd_to_source", "effective_resistance_to_source_ohm", "distance_to_source_m")


def _criteria_spec(params: SitesParams) -> tuple[list[dict], dict[str, float] | None, str]:
    """Scoring criteria records for habitat.sites.ranking, AHP weights if given, and a note."""
    from habitat.sites.ranking import parse_criteria
    from habitat.suitability.ahp import ahp_weights
    spec = [c.model_dump(exclude={"provenance"}, exclude_none=True) for c in params.criteria]
    parse_criteria(spec)
    if params.ahp is None:
        return spec, None, "weights from config"
    names = [c.name for c in params.criteria]
    result = ahp_weights(params.ahp.matrix, names=names, accept_inconsistent=params.ahp.accept_inconsistent)
    return spec, result.weights, f"AHP weights, CR = {result.cr:.3f}"


def _hard_spec(params: SitesParams, patches: PatchesParams) -> list[dict]:
    from habitat.sites.criteria import min_usable_area_ha, parse_hard_criteria
    area = min_usable_area_ha(target_herd=params.target_herd, density_per_km2=patches.density_per_km2)
    records = [{
        "column": "usable_area_ha", "op": ">=", "threshold": area, "units": "ha", "name": "minimum usable area",
        "provenance": f"target herd {params.target_herd:g} at {patches.density_per_km2:g} deer/km2 "
                      "(DOMAIN.md 8: 100-250 animals at 5-10 deer/km2 [A])",
    }]
    records += [c.model_dump() for c in params.hard_criteria]
    if params.require_historical_range:
        records.append({
            "column": "share_historical_range", "op": ">=", "threshold": params.min_historical_range_share,
            "units": "fraction of area", "name": "inside historical range",
            "provenance": "IUCN/SSC 2013: a reintroduction is a release inside the indigenous range "
                          "(DOMAIN.md 6.2); range from inputs.historical_range",
        })
    parse_hard_criteria(records)
    return records


def _effective_resistance_to_sources(
    res: np.ndarray, centres: list[tuple[int, int] | None], source_cells: list[tuple[int, int] | None],
    circuit: CircuitParams,
) -> np.ndarray:
    """Per candidate, min over populations of the effective resistance (ohm) from its release cell,
    on the circuit the pipeline's circuit settings describe."""
    import numpy as np
    from habitat.connectivity.circuit.pairwise import effective_resistance_matrix
    n = len(centres)
    if n == 0 or not any(c is not None for c in source_cells):
        return np.full(n, np.nan)
    # only candidate x source pairs are read: the candidate pairs are not asked for (the
    # multigrid then keeps the sources' solutions only and streams the candidates)
    not_asked = {(i, j) for i in range(n) for j in range(i + 1, n)}
    matrix, _ = effective_resistance_matrix(res, list(centres) + list(source_cells), neighbours=circuit.neighbours,
                                            average=circuit.average, solver=circuit.solver, exclude=not_asked)
    # -1 marks pairs in different components (or without a cell): not connected.
    to_sources = np.where(matrix[:n, n:] >= 0, matrix[:n, n:], np.inf)
    best = to_sources.min(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


@dataclass(frozen=True)
class _SitesGrain:
    """Resistance and population cores on the grid the cost distance and circuit run on: the
    analysis grid (``grain.factor`` 1) or the connectivity grid (``grid.connectivity_resolution_m``)."""

    grain: Grain
    res: np.ndarray
    cores: np.ndarray

    @classmethod
    def of(cls, ctx: StageContext, res: np.ndarray, cores: np.ndarray) -> _SitesGrain:
        from habitat.connectivity.two_grid import Grain, aggregate_resistance, coarse_cores, connectivity_factor
        factor = connectivity_factor(ctx.grid, ctx.settings.get("grid"))
        grain = Grain.of(ctx.grid, factor, res)
        if factor == 1:
            return cls(grain, res, cores)
        coarse = aggregate_resistance(res, factor)
        ctx.log(f"least-cost distance and effective resistance to the sources on the "
                f"{grain.grid.resolution:g} m connectivity grid ({factor}x the analysis cells)")
        return cls(grain, coarse, coarse_cores(cores, coarse, factor))

    def focal_cells(self, cells: list[tuple[int, int] | None]) -> list[tuple[int, int] | None]:
        """Population focal cells on this grid (as the circuit stage maps them)."""
        if self.grain.factor == 1:
            return cells
        from habitat.connectivity.two_grid import coarse_focal_cells
        return coarse_focal_cells(cells, self.cores, self.res, self.grain.factor)

    def release_cells(self, centres: list[tuple[int, int] | None], labels: np.ndarray) -> list[tuple[int, int] | None]:
        """Candidate release cells on this grid: the coarse cell of each centre or, where that
        is impassable, the nearest passable coarse cell holding a cell of the candidate."""
        factor = self.grain.factor
        if factor == 1:
            return centres
        import numpy as np
        from habitat.connectivity.two_grid import block_any, coarse_cell, coarse_focal_cells
        out = []
        for index, centre in enumerate(centres, start=1):
            cc = coarse_cell(centre, factor)
            if cc is not None and not np.isfinite(self.res[cc]):
                held = block_any(labels == index, factor).astype(np.int32)  # only for blocked centres
                cc = coarse_focal_cells([centre], held, self.res, factor)[0]
            out.append(cc)
        return out


def _nearest_points(release_xy: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per release point: index of the nearest point and the Euclidean distance to it (m)."""
    import numpy as np
    d = np.hypot(release_xy[:, 0, None] - points[None, :, 0], release_xy[:, 1, None] - points[None, :, 1])
    # A candidate without a passable cell has no release point (NaN): no nearest point either.
    nearest = np.argmin(np.nan_to_num(d, nan=np.inf), axis=1)
    return nearest, d[np.arange(len(d)), nearest]


def _translocation_sources(ctx: StageContext, pops: gpd.GeoDataFrame | None) -> pd.DataFrame | None:
    from habitat.connectivity.populations import site_points
    import pandas as pd
    status = ctx.inputs.get("population_status")
    if status is None or pops is None or "translocation_source" not in status.columns:
        return None
    flagged = status.loc[status["translocation_source"].astype(str).str.lower() == "true", "site_id"]
    ids = set(flagged.astype(str))
    xy = site_points(pops)
    return pd.DataFrame({"site_id": pops["site_id"].astype(str), "x": xy[:, 0], "y": xy[:, 1]}
                        ).loc[lambda d: d["site_id"].isin(ids)]


def _occupied(passed: pd.DataFrame, labels: np.ndarray, pops: gpd.GeoDataFrame | None,
              grid) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off candidates that overlap a population site given as a polygon (an occupied area)."""
    import numpy as np
    import pandas as pd
    from habitat.connectivity.populations import site_areas
    from habitat.sites.candidates import overlapping_areas
    columns = ["site_id", "n_failed", "failed_criteria", "reason"]
    if pops is None or not pops.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        return passed, pd.DataFrame(columns=columns)
    overlaps = overlapping_areas(labels, site_areas(pops, grid.shape, grid.affine))
    names = pops["site_id"].astype(str).to_numpy()
    hit = passed["candidate_id"].astype(int).map(lambda c: overlaps.get(int(c), [])) if len(passed) else []
    records = [{"site_id": sid, "n_failed": 1, "failed_criteria": "not occupied",
                "reason": "overlaps the occupied area of " + ", ".join(names[i - 1] for i in areas)}
               for sid, areas in zip(passed["site_id"], hit) if areas]
    keep = np.array([not areas for areas in hit], dtype=bool) if len(passed) else np.zeros(0, bool)
    return passed.loc[keep], pd.DataFrame(records, columns=columns)


def _unscorable(passed: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off candidates with a missing/infinite scoring value; they cannot be ranked."""
    import numpy as np
    import pandas as pd
    values = passed[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    rows = bad.any(axis=1)
    records = []
    for i in np.flatnonzero(rows):
        cols = [names[k] for k in np.flatnonzero(bad[i])]
        records.append({
            "site_id": passed["site_id"].iloc[i], "n_failed": len(cols),
            "failed_criteria": "; ".join(f"scorable: {c}" for c in cols),
            "reason": "; ".join(f"{c}: no finite value (unreachable from every source population, "
                                "or no population given)" for c in cols),
        })
    return passed.loc[~rows], pd.DataFrame(records, columns=["site_id", "n_failed", "failed_criteria", "reason"])


def _sensitivity_table(oat: pd.DataFrame, mc) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    oat = oat.assign(analysis="one_at_a_time")
    rho = mc.draws["spearman_rho"].to_numpy()
    summary = mc.sites.assign(analysis="monte_carlo", criterion="all weights (Dirichlet)",
                              spearman_rho=float(np.nanmean(rho)) if np.isfinite(rho).any() else np.nan)
    out = pd.concat([oat, summary], ignore_index=True)
    for column in ("base_rank", "rank", "rank_shift"):
        out[column] = out[column].astype("Int64")
    first = ["analysis", "criterion", "weight_change", "weight", "site_id", "base_rank", "rank", "rank_shift",
             "score", "spearman_rho"]
    return out[first + [c for c in out.columns if c not in first]]


def _criteria_table(hard: list[dict], params: SitesParams, weights: dict[str, float] | None,
                    has_range: bool) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    rows = [{"kind": "hard", "criterion": h["name"] or h["column"], "column": h["column"],
             "rule": f"{h['op']} {h['threshold']}", "direction": "", "normalization": "", "weight": np.nan,
             "units": h["units"], "provenance": h["provenance"]} for h in hard]
    total = sum(c.weight for c in params.criteria)
    for c in params.criteria:
        weight = weights[c.name] if weights is not None else c.weight / total
        rows.append({"kind": "score", "criterion": c.label or c.name, "column": c.name, "rule": "",
                     "direction": c.direction, "normalization": c.normalization, "weight": weight,
                     "units": c.units or "", "provenance": c.provenance})
    if not params.require_historical_range:
        rule = (f"reported, not required (share >= {params.min_historical_range_share:g})" if has_range
                else "not assessed")
        provenance = ("inputs.historical_range; require_historical_range: false" if has_range
                      else "no inputs.historical_range layer")
        rows.append({"kind": "hard", "criterion": "inside historical range", "column": "inside_historical_range",
                     "rule": rule, "direction": "", "normalization": "", "weight": np.nan,
                     "units": "fraction of area" if has_range else "", "provenance": provenance})
    return pd.DataFrame(rows)


def _finish_table(table: pd.DataFrame, eff: np.ndarray, centres: list[tuple[int, int] | None], xs: np.ndarray,
                  ys: np.ndarray) -> None:
    """The stage's columns beside the criteria: effective resistance, capacity x quality, release point."""
    import numpy as np
    table.insert(table.columns.get_loc("lcd_to_source") + 1, "effective_resistance_to_source_ohm", eff)
    table["lcd_to_source"] = table["lcd_to_source"].where(np.isfinite(table["lcd_to_source"]), np.nan)
    table["capacity_x_quality"] = table["capacity_deer"] * table["mean_quality"]
    table["centre_x"] = [xs[c[1]] if c else np.nan for c in centres]
    table["centre_y"] = [ys[c[0]] if c else np.nan for c in centres]


def _candidate_table(ctx: StageContext, params: SitesParams, pops: gpd.GeoDataFrame | None,
                     points: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Candidate labels and their criteria table (area, quality, threat, cost and circuit distance
    to the sources, release point); least-cost and circuit distances follow the pipeline's
    connectivity and circuit settings."""
    import numpy as np
    from habitat.connectivity.cost_distance import cost_distance
    from habitat.connectivity.populations import focal_cells
    from habitat.sites.candidates import candidate_criteria, central_cells, distance_to_points, extract_candidates
    connectivity: ConnectivityParams = ctx.setting("connectivity")  # type: ignore[assignment]
    circuit: CircuitParams = ctx.setting("circuit")  # type: ignore[assignment]
    patches: PatchesParams = ctx.setting("patches")  # type: ignore[assignment]
    grid, inputs = ctx.grid, ctx.inputs
    cell_size_m = grid.cell_size_m
    pid = np.asarray(inputs["patch_id"].values)
    res = np.asarray(inputs["resistance"].values, dtype=np.float64)
    cores = np.asarray(inputs["population_cores"].values)
    xs, ys = np.asarray(grid.x_coords), np.asarray(grid.y_coords)
    to_site = distance_to_points(xs, ys, points)
    # point sites occupy a disc; polygon sites their area (candidates overlapping it are excluded
    # with the reason, _occupied)
    is_point = (np.asarray(pops.geometry.geom_type.isin(["Point", "MultiPoint"])) if pops is not None
                else np.zeros(0, bool))
    near_point = (distance_to_points(xs, ys, points[is_point]) <= params.occupied_radius_m if is_point.any()
                  else np.zeros(pid.shape, bool))
    labels = extract_candidates(pid, near_point, cell_size_m=cell_size_m,
                                cluster_gap_m=params.cluster_gap_m, reach_tile_m=params.reach_tile_m,
                                min_area_ha=params.min_candidate_area_ha)
    ctx.log(f"{int(labels.max())} candidates: habitat patch pieces farther than {params.occupied_radius_m:g} m "
            f"from every population site, >= {params.min_candidate_area_ha:g} ha")
    if pops is None:
        ctx.log("no populations: every patch is a candidate, and the source criteria are undefined")
    importance = inputs.get("patch_importance")
    dpc = ({} if importance is None or not len(importance)
           else dict(zip(importance["patch_id"].astype(int), importance["dPC"].astype(float))))
    grain = _SitesGrain.of(ctx, res, cores)
    cost = None
    if (grain.cores > 0).any():
        cost = cost_distance(grain.res, grain.cores > 0, cell_size=grain.grain.grid.cell_size_m,
                             neighbours=connectivity.neighbours)
        cost = grain.grain.back(cost, np.inf)
    elif (cores > 0).any():
        ctx.log("no population core cell is passable on the connectivity grid: candidates unreachable")
    centres = central_cells(labels, passable=np.isfinite(res))
    protected, in_range = inputs.get("protected_fraction"), inputs.get("historical_range_fraction")
    table = candidate_criteria(
        labels, pid, cell_size_m=cell_size_m, quality=inputs["quality"].values,
        degradation=inputs["degradation"].values, water_distance_m=inputs["water_distance_m"].values,
        protected_fraction=None if protected is None else protected.values,
        historical_range_fraction=None if in_range is None else in_range.values, cost_to_source=cost,
        distance_to_source_m=to_site if pops is not None else None, dpc_by_patch=dpc,
        centres=centres, edge_depth_m=patches.edge_depth_m, density_per_km2=patches.density_per_km2,
        usable_area=patches.usable_area,
    )
    source_cells = focal_cells(points, cores, xs, ys) if pops is not None else []
    eff = _effective_resistance_to_sources(grain.res, grain.release_cells(centres, labels),
                                           grain.focal_cells(source_cells), circuit)
    _finish_table(table, eff, centres, xs, ys)
    return labels, table


#: Grids up to this many cells have their lazy inputs read whole by the block-wise path (the
#: strips then cost no lazy reads); larger ones are read strip by strip.
_LOADED_CELLS = 1 << 22


def _blockwise_ok(params: SitesParams, pops: gpd.GeoDataFrame | None, cell_size_m: float) -> bool:
    """Whether the candidates can be made block by block (habitat.sites.blockwise): not with a
    cluster gap, polygon population sites or a reach tile wider than its largest block."""
    from habitat.sites.blockwise import MAX_TILE_CELLS
    polygons = pops is not None and not pops.geometry.geom_type.isin(["Point", "MultiPoint"]).all()
    return (params.cluster_gap_m == 0 and not polygons
            and (params.reach_tile_m == 0 or round(params.reach_tile_m / cell_size_m) <= MAX_TILE_CELLS))


def _candidate_table_blockwise(ctx: StageContext, params: SitesParams, pops: gpd.GeoDataFrame | None,
                               points: np.ndarray):
    """:func:`_candidate_table` block by block: the same labels and table, bit for bit
    (tests/stages/test_sites_blockwise.py), holding strips of rows and the coarse grid only.
    Returns the candidate labels (:class:`habitat.sites.blockwise.CandidateLabels`) and the table."""
    import numpy as np
    from habitat.connectivity.cost_distance import cost_distance
    from habitat.connectivity.two_grid import (aggregate_resistance, block_any, coarse_cell, coarse_cores,
                                               coarse_focal_cells, coarse_grid, connectivity_factor, label_cells,
                                               upsample_window)
    from habitat.connectivity.populations import focal_cells
    from habitat.sites.blockwise import candidate_sums, central_cells_blockwise, label_candidates, strips
    from habitat.sites.candidates import criteria_table, distance_to_points
    from habitat.suitability.patches import _depth_cells, core_mask
    connectivity: ConnectivityParams = ctx.setting("connectivity")  # type: ignore[assignment]
    circuit: CircuitParams = ctx.setting("circuit")  # type: ignore[assignment]
    patches: PatchesParams = ctx.setting("patches")  # type: ignore[assignment]
    grid, inputs = ctx.grid, ctx.inputs
    cs, (height, width) = grid.cell_size_m, grid.shape
    if height * width <= _LOADED_CELLS:  # a small grid: one read per layer, not one per strip
        inputs = {k: (np.asarray(v) if hasattr(v, "dims") else v) for k, v in inputs.items()}
    pid, res_layer, cores_layer = inputs["patch_id"], inputs["resistance"], inputs["population_cores"]
    xs, ys = np.asarray(grid.x_coords), np.asarray(grid.y_coords)
    near = points[np.asarray(pops.geometry.geom_type.isin(["Point", "MultiPoint"]))] if pops is not None \
        else np.zeros((0, 2))

    def mask(rows: slice, cols: slice) -> np.ndarray:
        free = np.asarray(pid[rows, cols]) > 0
        if len(near):  # point sites occupy a disc
            free &= ~(distance_to_points(xs[cols], ys[rows], near) <= params.occupied_radius_m)
        return free

    cands = label_candidates(mask, grid.shape, cell_size_m=cs, reach_tile_m=params.reach_tile_m,
                             min_area_ha=params.min_candidate_area_ha)
    ctx.log(f"{cands.n} candidates: habitat patch pieces farther than {params.occupied_radius_m:g} m "
            f"from every population site, >= {params.min_candidate_area_ha:g} ha (block by block)")
    if pops is None:
        ctx.log("no populations: every patch is a candidate, and the source criteria are undefined")

    def res_rows(r0: int, r1: int) -> np.ndarray:
        return np.asarray(res_layer[r0:r1], dtype=np.float64)

    def cores_rows(r0: int, r1: int) -> np.ndarray:
        return np.asarray(cores_layer[r0:r1])

    factor = connectivity_factor(grid, ctx.settings.get("grid"))
    if factor == 1:
        res = res_rows(0, height)
        cores = cores_rows(0, height)
        fine_res, grain_cores, step = res, cores, grid.cell_size_m
    else:
        ctx.log(f"least-cost distance and effective resistance to the sources on the "
                f"{coarse_grid(grid, factor).resolution:g} m connectivity grid ({factor}x the analysis cells)")
        # both read their (lazy) input strip by strip, whole blocks per strip
        fine_res = aggregate_resistance(res_layer, factor)
        grain_cores = coarse_cores(cores_layer, fine_res, factor)
        step = coarse_grid(grid, factor).cell_size_m
    cost = None
    if (grain_cores > 0).any():
        cost = cost_distance(fine_res, grain_cores > 0, cell_size=step, neighbours=connectivity.neighbours)
    elif any(bool((cores_rows(r0, r1) > 0).any()) for r0, r1 in strips(height)):
        ctx.log("no population core cell is passable on the connectivity grid: candidates unreachable")

    def cost_rows(r0: int, r1: int) -> np.ndarray:
        if factor == 1:
            return cost[r0:r1]
        out = upsample_window(cost, factor, (r0, r1), (0, width))
        out[~np.isfinite(res_rows(r0, r1))] = np.inf  # as Grain.back: fine impassable cells
        return out

    protected, in_range = inputs.get("protected_fraction"), inputs.get("historical_range_fraction")
    depth = _depth_cells(patches.edge_depth_m, cs)
    sums = candidate_sums(
        cands, patch_id=pid, core_of=lambda w: core_mask(w, edge_depth_m=patches.edge_depth_m, cell_size_m=cs),
        core_halo=depth, quality=inputs["quality"], cost=None if cost is None else cost_rows,
        means={"quality": inputs["quality"], "degradation": inputs["degradation"],
               "water_distance_m": inputs["water_distance_m"], "protected": protected, "range": in_range})
    centres = central_cells_blockwise(cands, lambda r0, r1: np.isfinite(res_rows(r0, r1)), sums["row0"], sums["col0"])
    cell_ha = cs * cs / 1.0e4
    core_ha = sums["n_core"] * cell_ha
    usable_ha = {"area": sums["n_cells"] * cell_ha, "core_area": core_ha,
                 "quality_weighted": sums["sum_quality"] * cell_ha}[patches.usable_area]
    release_distance = np.array([distance_to_points(xs[c[1]: c[1] + 1], ys[c[0]: c[0] + 1], points)[0, 0]
                                 if c is not None else np.nan for c in centres], dtype=np.float64) \
        if pops is not None else np.full(cands.n, np.nan)
    pairs = sorted(sums["pairs"])
    importance = inputs.get("patch_importance")
    dpc = ({} if importance is None or not len(importance)
           else dict(zip(importance["patch_id"].astype(int), importance["dPC"].astype(float))))
    table = criteria_table(
        n_cells=sums["n_cells"], core_ha=core_ha, usable_ha=usable_ha, density=patches.density_per_km2,
        mean_quality=sums["mean_quality"], mean_degradation=sums["mean_degradation"],
        mean_water_distance_m=sums["mean_water_distance_m"],
        share_protected=np.zeros(cands.n) if protected is None else np.nan_to_num(sums["mean_protected"], nan=0.0),
        share_historical_range=(np.full(cands.n, np.nan) if in_range is None
                                else np.nan_to_num(sums["mean_range"], nan=0.0)),
        lcd=sums["lcd"] if cands.n else np.full(0, np.nan), release_distance=release_distance,
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        pair_cells=np.array([sums["pairs"][k] for k in pairs], dtype=np.int64), dpc_by_patch=dpc, cell_size_m=cs,
    )
    source_cells = focal_cells(points, None, xs, ys, cells=label_cells(cores_layer, len(points))) \
        if pops is not None else []
    if factor == 1:
        release, focal = centres, source_cells
    else:
        focal = coarse_focal_cells(source_cells, grain_cores, fine_res, factor)
        release = [coarse_cell(c, factor) for c in centres]
        # a centre on an impassable coarse cell: the nearest passable coarse cell holding the
        # candidate (one pass over the labels for all of them)
        blocked = [k for k, cc in enumerate(release, start=1) if cc is not None and not np.isfinite(fine_res[cc])]
        held = {k: np.zeros(fine_res.shape, np.int32) for k in blocked}
        for r0, r1 in strips(height, multiple=factor) if blocked else ():
            lab = cands.rows(r0, r1)
            for k in blocked:
                held[k][r0 // factor: -(-r1 // factor)] = block_any(lab == k, factor)
        for k in blocked:
            release[k - 1] = coarse_focal_cells([centres[k - 1]], held.pop(k), fine_res, factor)[0]
    _finish_table(table, _effective_resistance_to_sources(fine_res, release, focal, circuit), centres, xs, ys)
    return cands, table


def _add_sources(ctx: StageContext, params: SitesParams, table: pd.DataFrame, pops: gpd.GeoDataFrame | None,
                 points: np.ndarray) -> None:
    """Nearest population and nearest translocation source of each release point; inside the range."""
    import numpy as np
    n = len(table)
    in_range = ctx.inputs.get("historical_range_fraction")
    release = table[["centre_x", "centre_y"]].to_numpy(dtype=float)
    table["nearest_source_site"] = ""
    if pops is not None and n:
        index, _ = _nearest_points(release, points)
        table["nearest_source_site"] = np.where(np.isfinite(release[:, 0]),
                                                pops["site_id"].astype(str).to_numpy()[index], "")
    table["inside_historical_range"] = (
        "not assessed" if in_range is None
        else np.where(table["share_historical_range"] >= params.min_historical_range_share, "yes", "no"))
    sources = _translocation_sources(ctx, pops)
    table["nearest_translocation_source"] = ""
    table["distance_to_translocation_source_m"] = np.nan
    if sources is not None and len(sources) and n:
        index, dist = _nearest_points(release, sources[["x", "y"]].to_numpy(dtype=float))
        table["nearest_translocation_source"] = np.where(np.isfinite(dist), sources["site_id"].to_numpy()[index], "")
        table["distance_to_translocation_source_m"] = dist
        ctx.log(f"translocation sources (overstocked): {', '.join(sources['site_id'])}")
    elif sources is not None:
        ctx.log("no population is flagged as a translocation source")


def _rank(passed: pd.DataFrame, table: pd.DataFrame, spec: list[dict], weights: dict[str, float] | None,
          params: SitesParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and ranks with Monte Carlo robustness, Pareto flags and explanations; the sensitivity table."""
    import pandas as pd
    from habitat.sites.explain import LANGUAGES, explain_top_sites
    from habitat.sites.pareto import pareto_dominance
    from habitat.sites.ranking import score_sites
    from habitat.sites.sensitivity import monte_carlo_weights, one_at_a_time
    if not len(passed):
        ranked = table.iloc[0:0].assign(score=pd.Series(dtype=float), rank=pd.Series(dtype=int),
                                        explanation=pd.Series(dtype=str),
                                        **{f"explanation_{lang}": pd.Series(dtype=str) for lang in LANGUAGES[1:]})
        return ranked, pd.DataFrame(columns=["analysis", "criterion", "weight_change", "weight", "site_id",
                                             "base_rank", "rank", "rank_shift", "score", "spearman_rho"])
    ranked = score_sites(passed, spec, weights=weights)
    oat = one_at_a_time(passed, spec, change_fraction=params.oat_change, weights=weights)
    mc = monte_carlo_weights(passed, spec, n_draws=params.n_draws, seed=params.seed, top_n=params.top_n,
                             concentration=params.concentration, weights=weights)
    pareto = pareto_dominance(passed, params.pareto_objectives)
    robust = mc.sites[["site_id", "rank_mean", "rank_p05", "rank_p95", "p_top_n"]]
    ranked = ranked.merge(robust, on="site_id", how="left").merge(pareto, on="site_id", how="left")
    # one column per report language: explanation (English), explanation_ru, ...
    for language in LANGUAGES:
        column = "explanation" if language == "en" else f"explanation_{language}"
        explained = explain_top_sites(ranked, spec, top_n=params.top_n, monte_carlo=mc.sites, pareto=pareto,
                                      language=language)
        ranked = ranked.merge(explained[["site_id", "explanation"]].rename(columns={"explanation": column}),
                              on="site_id", how="left")
        ranked[column] = ranked[column].fillna("")
    return ranked, _sensitivity_table(oat, mc)


def _lazy_labels(cands):
    """The candidate raster as a dask array, one chunk per labelling block (each made again from
    its block when it is written or read)."""
    import dask
    import dask.array as da
    import numpy as np
    height, width = cands.shape
    bh, bw = cands.labeling.block_shape
    make = dask.delayed(cands.block, pure=True)
    return da.block([[da.from_delayed(make(r0, c0), shape=(min(bh, height - r0), min(bw, width - c0)), dtype=np.int32)
                      for c0 in range(0, width, bw)] for r0 in range(0, height, bh)])


def run_sites(ctx: StageContext) -> dict[str, Any]:
    """Extract candidates, measure criteria, screen, score, test the ranking, explain the top sites."""
    from habitat.connectivity.populations import site_points
    import numpy as np
    import pandas as pd
    from habitat.layers import make_layer
    from habitat.sites.candidates import candidate_table
    from habitat.sites.criteria import screen_candidates
    from habitat.suitability.patches import ranked_outlines
    params: SitesParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the sites stage needs a projected grid in metres (e.g. 'default')")
    from habitat.connectivity.two_grid import connectivity_factor
    factor = connectivity_factor(grid, ctx.settings.get("grid"))
    # the cost distance, then the circuit, on the grid they run on (plus the stage's fine arrays)
    circuit = ctx.setting("circuit")
    check_memory("cost_distance", grid.shape, what="stage sites", factor=factor, cell_size_m=grid.cell_size_m,
                 fine_side_bytes=SITES_FINE_SIDE_BYTES)
    kept = 1
    if circuit.solver == "multigrid":  # type: ignore[attr-defined]
        # the sources' solutions are kept, the candidates' streamed: the population table (a few
        # points, as the circuit stage reads it before its check) gives their number
        pops_in = ctx.inputs.get("populations")
        kept = max(1, 0 if pops_in is None else len(pops_in))
    check_memory("circuit", grid.shape, what="stage sites", factor=factor, cell_size_m=grid.cell_size_m,
                 neighbours=circuit.neighbours, solver=circuit.solver,  # type: ignore[attr-defined]
                 n_rhs=kept, fine_side_bytes=SITES_FINE_SIDE_BYTES)
    in_range = ctx.inputs.get("historical_range_fraction")
    if params.require_historical_range and in_range is None:
        raise ConfigError("stages.sites.require_historical_range: needs inputs.historical_range (range polygons); "
                          "add the layer or set it to false")
    spec, weights, weight_note = _criteria_spec(params)
    hard = _hard_spec(params, ctx.setting("patches"))  # type: ignore[arg-type]
    pops = ctx.inputs.get("populations")
    if pops is not None and len(pops) == 0:
        pops = None
    points = site_points(pops) if pops is not None else np.zeros((0, 2))
    blockwise = _blockwise_ok(params, pops, grid.cell_size_m)
    if blockwise:  # bounded memory: strips of rows and the coarse grid
        cands, table = _candidate_table_blockwise(ctx, params, pops, points)
        labels = None  # only _occupied reads them, for polygon sites (never block-wise)
    else:  # cluster gap, polygon population sites, or very wide reach tiles: the whole grid
        labels, table = _candidate_table(ctx, params, pops, points)
    _add_sources(ctx, params, table, pops, points)
    table = candidate_table(table)  # the declared columns, which the pipeline check validated criteria against

    screened = screen_candidates(table, hard)
    passed, occupied = _occupied(screened.passed, labels, pops, grid)
    passed, unscorable = _unscorable(passed, [c["name"] for c in spec])
    reasons = pd.concat([screened.excluded, occupied, unscorable], ignore_index=True)
    reasons = reasons.sort_values("site_id", kind="stable").reset_index(drop=True)
    excluded = reasons.merge(table, on="site_id", how="left")
    ctx.log(f"{len(excluded)} excluded by hard criteria, {len(passed)} ranked ({weight_note})")
    ranked, sensitivity = _rank(passed, table, spec, weights, params)

    if blockwise:  # a small grid's raster in memory; a large one made chunk by chunk as it is written
        labels = cands.rows(0, grid.height) if grid.height * grid.width <= _LOADED_CELLS else _lazy_labels(cands)
    layer = make_layer(labels, grid, name="candidates", units="candidate id (1..n)", nodata=0)
    sites = ranked_outlines(layer, ranked, id_column="candidate_id", crs=grid.pyproj_crs)
    return {
        "candidates": layer,
        "sites": sites,
        "site_ranking": ranked.reset_index(drop=True),
        "excluded": excluded,
        "site_sensitivity": sensitivity,
        "site_criteria": _criteria_table(hard, params, weights, has_range=in_range is not None),
    }


STAGE = StageSpec(
    id="sites",
    version="1",
    doc="Candidate reintroduction sites: hard criteria, weighted score and rank, sensitivity, Pareto, explanations.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=SitesParams,
    run=run_sites,
    # least-cost distance and effective resistance to the sources follow the pipeline's settings;
    # capacity and core area of a candidate follow the patches' density, edge depth and usable area
    # grid.connectivity_resolution_m: the grid those distances run on
    settings=("connectivity", "circuit", "patches", "grid"),
)
