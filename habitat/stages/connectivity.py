"""The connectivity stage: least-cost corridors between populations, barriers, patch graph.

With ``grid.connectivity_resolution_m`` set (a whole multiple of the analysis cell), the cost
surfaces run on that coarser grid (resistance aggregated by
:func:`habitat.connectivity.two_grid.aggregate_resistance`) and the rasters are brought back to
the analysis grid (each coarse value over its block, fine impassable cells NoData); links and
paths are measured on the coarse grid in the same units (resistance x m, m). See
:mod:`habitat.connectivity.two_grid` for why the maps come back to the analysis grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from habitat.errors import ConfigError
from habitat.params import ConnectivityParams
from habitat.stages import catalog
from habitat.memory import check_memory
from habitat.stages.spec import StageContext, StageSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from habitat.connectivity.two_grid import FineSummary, Grain

INPUTS = catalog.layers("resistance", "populations", "patch_id", "patch_table")
OUTPUTS = catalog.outputs_of("connectivity")
_COST_UNITS = catalog.layer("corridors").units


def _max_cost(ctx: StageContext, params: ConnectivityParams, base: float | None) -> float | None:
    """The maximum dispersal cost: max_dispersal_m x ``base``, the median resistance of habitat
    cells (:func:`habitat.connectivity.two_grid.summarize_fine`)."""
    from habitat.connectivity.corridors import dispersal_cost_limit
    if params.max_dispersal_m is None:
        return None
    if base is None:
        ctx.log("no passable habitat cell: no dispersal limit")
        return None
    max_cost = dispersal_cost_limit(params.max_dispersal_m, base_resistance=base)
    ctx.log(f"max dispersal cost {max_cost:.6g} resistance x m = {params.max_dispersal_m:g} m x {base:.4g} "
            "(median resistance of habitat cells)")
    return max_cost


def _cores(ctx: StageContext, params: ConnectivityParams, pops, factor: int) -> tuple[Any, np.ndarray | None]:
    """Core cells of each population: its area (polygon sites) or disc, on habitat where it has
    any; made window by window (a lazy array when the inputs are); at ``factor`` > 1 also their
    majority per coarse cell (made from the windows around the sites), else None."""
    from habitat.connectivity.populations import site_areas_window, site_points
    from habitat.connectivity.two_grid import population_cores_blockwise
    grid = ctx.grid
    habitat = ctx.inputs["patch_id"] if params.cores_on_habitat else None  # labels > 0: habitat
    cores, present, with_habitat, *coarse = population_cores_blockwise(
        site_points(pops), ctx.inputs["resistance"], grid.x_coords, grid.y_coords, params.core_radius_m,
        habitat=habitat, areas=site_areas_window(pops, grid.shape, grid.affine),
        coarse_factor=factor if factor > 1 else None)
    empty = [pops["site_id"].iloc[i] for i in range(len(pops)) if i + 1 not in present]
    if empty:
        raise ConfigError(
            f"stages.connectivity.core_radius_m: no passable cell within {params.core_radius_m} m of "
            f"population(s) {', '.join(empty)}; raise the radius or check the site coordinates"
        )
    if habitat is not None:
        bare = [pops["site_id"].iloc[i] for i in range(len(pops)) if i + 1 not in with_habitat]
        if bare:
            ctx.log(f"no habitat-patch cell in the core of {', '.join(bare)}: their cores keep every passable cell")
    return cores, (coarse[0] if coarse else None)


def _coarse_cores(ctx: StageContext, pops, cores: np.ndarray, res: np.ndarray, factor: int,
                  aggregated: np.ndarray) -> np.ndarray:
    """Population cores on the connectivity grid: per coarse cell the population with the most
    fine core cells in it (``aggregated``), on passable coarse cells."""
    from habitat.connectivity.two_grid import coarse_cores
    coarse = coarse_cores(cores, res, factor, aggregated=aggregated)
    empty = [pops["site_id"].iloc[i] for i in range(len(pops)) if not (coarse == i + 1).any()]
    if empty:
        raise ConfigError(
            f"grid.connectivity_resolution_m: population(s) {', '.join(empty)} have no core cell left on "
            f"the {ctx.grid.resolution * factor:g} m connectivity grid (their cores are impassable or taken "
            "by a larger core there); lower it or raise stages.connectivity.core_radius_m"
        )
    return coarse


def _corridors(ctx: StageContext, params: ConnectivityParams, grain: Grain, res: np.ndarray, res_inf: np.ndarray,
               out: dict[str, Any], max_cost: float | None) -> tuple[Any, pd.DataFrame]:
    """Population cores, and with two or more populations the corridors, barrier scores and paths
    (put in ``out``); returns the cores (analysis grid) and the links table. ``res`` and
    ``res_inf`` are on ``grain.grid``."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from habitat.connectivity.barriers import max_barrier_improvement
    from habitat.connectivity.corridors import LINK_COLUMNS, compute_corridors, path_to_line
    from habitat.layers import make_layer
    grid = ctx.grid
    cell_size_m = grain.grid.cell_size_m
    pops = ctx.inputs.get("populations")
    if pops is None or len(pops) < 2:
        ctx.log("fewer than two populations: no corridors")
        return np.zeros(grid.shape, np.int32), pd.DataFrame(columns=["from_site", "to_site", *LINK_COLUMNS])
    cores, aggregated = _cores(ctx, params, pops, grain.factor)
    if grain.factor == 1:
        cores = cost_cores = np.asarray(cores)
    else:
        cost_cores = _coarse_cores(ctx, pops, cores, res, grain.factor, aggregated)
    result = compute_corridors(res_inf, cost_cores, cell_size=cell_size_m, neighbours=params.neighbours,
                               nearest=params.nearest, cutoff=params.corridor_cutoff, max_cost=max_cost)
    if max_cost is not None:
        n_out = int((~result.links["connected"]).sum())
        ctx.log(f"{n_out} of {len(result.links)} population pairs beyond the dispersal limit: not connected")
    site = dict(enumerate(pops["site_id"].astype(str), start=1))
    links = result.links.copy()
    links.insert(0, "to_site", links["to_id"].astype(int).map(site))
    links.insert(0, "from_site", links["from_id"].astype(int).map(site))
    links["max_cost"] = np.nan if max_cost is None else max_cost  # the dispersal limit the pairs were held to
    back = grain.back
    out["corridors"] = make_layer(back(result.corridors.astype(np.float32), np.nan), grid, name="corridors",
                                  units=_COST_UNITS)
    radii = [r for r in params.barrier_radii_m if r >= cell_size_m]
    if len(radii) < len(params.barrier_radii_m):
        ctx.log(f"barrier radii below the cell size {cell_size_m} m dropped; using {radii or [cell_size_m]}")
    score, _ = max_barrier_improvement(result.cwds, result.links, radii_m=radii or [cell_size_m],
                                       cell_size=cell_size_m)
    score = np.where(np.isfinite(res), score, np.nan).astype(np.float32)
    out["barrier_improvement"] = make_layer(back(score, np.nan), grid, name="barrier_improvement", units="score")
    if result.reach is not None:
        out["dispersal_reach"] = make_layer(back(result.reach.astype(np.uint8), 0), grid,
                                            name="dispersal_reach", nodata=255)
    lines = [path_to_line(result.paths[(int(a), int(b))], grain.grid.affine)
             for a, b in zip(links["from_id"], links["to_id"])]
    out["least_cost_paths"] = gpd.GeoDataFrame(links.reset_index(drop=True), geometry=lines, crs=grid.pyproj_crs)
    return cores, links


def _graph_patches(ctx: StageContext, params: ConnectivityParams) -> tuple[list[int], np.ndarray]:
    """Ids (ascending) and areas (ha) of the ``max_graph_patches`` largest patches."""
    import numpy as np
    table = ctx.inputs["patch_table"]
    kept = table.sort_values(["area_ha", "patch_id"], ascending=[False, True]).head(params.max_graph_patches)
    ids = sorted(int(v) for v in kept["patch_id"])
    return ids, kept.set_index("patch_id").loc[ids, "area_ha"].to_numpy(dtype=np.float64)


def _patch_graph(ctx: StageContext, params: ConnectivityParams, grain: Grain, res_inf: np.ndarray,
                 max_cost: float | None, fine: FineSummary, ids: list[int],
                 area: np.ndarray) -> tuple[pd.DataFrame, dict[str, float]]:
    """Patch importance (dPC, dIIC) and the graph indices of the largest patches (their cells
    from ``fine``; cost distances on ``grain.grid``)."""
    import numpy as np
    import pandas as pd
    from habitat.connectivity.graph import equivalent_connectivity, graph_components, integral_index_of_connectivity, patch_importance_iic, patch_importance_pc, probability_of_connectivity
    from habitat.connectivity.patch_distances import patch_distances
    grid = ctx.grid
    if not ids:
        importance = pd.DataFrame(columns=["patch_id", "component", "dPC", "dPCintra", "dPCflux", "dPCconnector", "dIIC"])
        return importance, {"PC": 0.0, "EC_ha": 0.0, "IIC": 0.0, "components": 0, "patches": 0}
    distance = patch_distances(res_inf, ctx.inputs["patch_id"], ids, cell_size_m=grain.grid.cell_size_m,
                               neighbours=params.neighbours, factor=grain.factor, patch_cells=fine.patch_cells)
    # the first cell's area, from a one-cell grid at the same corner (not a grid of areas)
    corner = grid.window(0, 0, 1, 1).cell_area_m2()[0, 0]
    landscape_ha = float(fine.finite_cells * corner / 1e4)
    limit = np.inf if max_cost is None else max_cost
    pc_args = dict(ref_distance=params.pc_distance, ref_probability=params.pc_probability, max_distance=limit)
    importance = patch_importance_pc(area, distance, **pc_args)
    importance.insert(0, "patch_id", ids)
    link = min(params.iic_link_distance or params.pc_distance, limit)  # IIC and components: linked or not
    importance.insert(1, "component", graph_components(distance, max_distance=link))
    importance["dIIC"] = patch_importance_iic(area, distance, max_distance=link) if len(ids) > 1 else 100.0
    indices = {
        "PC": probability_of_connectivity(area, distance, landscape_area=landscape_ha, **pc_args),
        "EC_ha": equivalent_connectivity(area, distance, **pc_args),
        "IIC": integral_index_of_connectivity(area, distance, landscape_area=landscape_ha, max_distance=link),
        "components": int(len(np.unique(graph_components(distance, max_distance=link)))),
        "patches": len(ids),
    }
    return importance, indices


def run_connectivity(ctx: StageContext) -> dict[str, Any]:
    """Corridors and links between populations; barrier scores; patch graph indices.

    With a connectivity grid coarser than the analysis grid nothing of the analysis grid's size
    is held: the fine inputs are read strip by strip into the coarse grid and the rasters are
    brought back chunk by chunk as they are written (:mod:`habitat.connectivity.two_grid`).
    The fine resistance and patches are read once for everything taken from them
    (:func:`habitat.connectivity.two_grid.summarize_fine`), the resistance once more as the
    rasters brought back are written; population cores read the windows near the sites only.
    """
    import numpy as np
    import pandas as pd
    from habitat.layers import make_layer
    from habitat.connectivity.two_grid import Grain, connectivity_factor, summarize_fine
    params: ConnectivityParams = ctx.params  # type: ignore[assignment]
    pops = ctx.inputs.get("populations")
    factor = connectivity_factor(ctx.grid, ctx.settings.get("grid"))
    # one cost surface kept per population (corridors, barriers) beside the search's own arrays
    check_memory("cost_distance", ctx.grid.shape, what="stage connectivity", factor=factor,
                 cell_size_m=ctx.grid.cell_size_m, n_surfaces=0 if pops is None else len(pops))
    ids, area = _graph_patches(ctx, params)
    # one pass over the fine resistance and patches: the (coarse) resistance, the dispersal
    # limit's median resistance of habitat cells, the patches' cells and the landscape's area
    fine = summarize_fine(ctx.inputs["resistance"], ctx.inputs["patch_id"], factor, patch_ids=ids,
                          q=None if params.max_dispersal_m is None else 0.5)
    res = fine.resistance
    grain = Grain.of(ctx.grid, factor, ctx.inputs["resistance"])
    if factor > 1:
        ctx.log(f"least-cost connectivity on the {grain.grid.resolution:g} m connectivity grid "
                f"({grain.grid.height} x {grain.grid.width} cells, {factor}x the analysis cells)")
    res_inf = np.where(np.isnan(res), np.inf, res)
    out: dict[str, Any] = {}
    # the dispersal limit is metres x the median resistance of fine habitat cells: the same
    # resistance x m units whichever grid the costs run on
    max_cost = _max_cost(ctx, params, fine.quantile)
    cores, links = _corridors(ctx, params, grain, res, res_inf, out, max_cost)
    out["population_cores"] = make_layer(cores, ctx.grid, name="population_cores", nodata=0)
    out["links"] = links.reset_index(drop=True)
    importance, indices = _patch_graph(ctx, params, grain, res_inf, max_cost, fine, ids, area)
    out["patch_importance"] = importance.reset_index(drop=True)
    out["graph_indices"] = pd.DataFrame([{"index": k, "value": v} for k, v in indices.items()])
    return out


STAGE = StageSpec(
    id="connectivity",
    version="1",
    doc="Least-cost corridors, paths and links between populations; barrier improvement; PC/IIC/dPC of patches.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=ConnectivityParams,
    run=run_connectivity,
    settings=("grid",),  # grid.connectivity_resolution_m
)
