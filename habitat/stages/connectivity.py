"""The connectivity stage: least-cost corridors between populations, barriers, patch graph."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from habitat.connectivity.barriers import max_barrier_improvement
from habitat.connectivity.corridors import LINK_COLUMNS, compute_corridors, path_to_line
from habitat.connectivity.cost_distance import cost_distance
from habitat.connectivity.graph import (
    equivalent_connectivity,
    graph_components,
    integral_index_of_connectivity,
    patch_importance_iic,
    patch_importance_pc,
    probability_of_connectivity,
)
from habitat.errors import ConfigError
from habitat.layers import make_layer
from habitat.params import ConnectivityParams
from habitat.sites.candidates import nearest_point
from habitat.stages import ingest, patches, resistance
from habitat.stages.spec import LayerSpec, StageContext, StageSpec

INPUTS = (
    resistance.STAGE.output("resistance"),
    ingest.STAGE.output("populations"),
    patches.STAGE.output("patch_id"),
    patches.STAGE.output("patch_table"),
)
_COST = dict(kind="raster", dtype="float32", units="resistance x m", nodata=float("nan"))
OUTPUTS = (
    LayerSpec(id="population_cores", kind="raster", dtype="int32", units="population index", nodata=0,
              doc="core cells of each population (passable cells within core_radius_m of its site)"),
    LayerSpec(id="corridors", **_COST, optional=True,
              doc="normalized least-cost corridors NLCC mosaicked by minimum, truncated at corridor_cutoff"),
    LayerSpec(id="barrier_improvement", kind="raster", dtype="float32", units="score", nodata=float("nan"),
              optional=True, doc="barrier improvement score (McRae et al. 2012): max over links and radii"),
    LayerSpec(id="least_cost_paths", kind="vector", optional=True, doc="least-cost paths with link attributes"),
    LayerSpec(id="links", kind="table", doc="per population pair: LCD, Euclidean distance, path length, ratios"),
    LayerSpec(id="patch_importance", kind="table",
              doc="per patch: component, dPC with intra/flux/connector fractions, dIIC"),
    LayerSpec(id="graph_indices", kind="table", doc="PC, EC, IIC and the number of components of the patch graph"),
)


def population_cores(populations: gpd.GeoDataFrame, resistance: np.ndarray, grid, radius_m: float) -> np.ndarray:
    """Population index (1..n in site order) on passable cells within ``radius_m`` of each site.

    Where two discs overlap, the nearer site wins (ties to the lower index).
    """
    points = np.column_stack([populations.geometry.x, populations.geometry.y])
    distance, nearest = nearest_point(grid.x_coords, grid.y_coords, points)
    # the nearest site is within the radius whenever any site is
    take = (distance <= radius_m) & np.isfinite(resistance)
    return np.where(take, nearest + 1, 0).astype(np.int32)


def _patch_distances(resistance: np.ndarray, labels: np.ndarray, ids: list[int], cell_size: float,
                     neighbours: int) -> np.ndarray:
    """Least-cost distance between every pair of patches (min over the target patch's cells)."""
    n = len(ids)
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    index = np.zeros(int(labels.max()) + 1, np.int64) - 1
    index[ids] = np.arange(n)
    cells = index[labels]
    for i, pid in enumerate(ids):
        cwd = cost_distance(resistance, labels == pid, cell_size=cell_size, neighbours=neighbours)
        reached = cells >= 0
        mins = np.full(n, np.inf)
        np.minimum.at(mins, cells[reached], cwd[reached])
        dist[i] = np.minimum(dist[i], mins)
    return np.minimum(dist, dist.T)


def run_connectivity(ctx: StageContext) -> dict[str, Any]:
    """Corridors and links between populations; barrier scores; patch graph indices."""
    params: ConnectivityParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    res = np.asarray(ctx.inputs["resistance"].values, dtype=np.float64)
    res_inf = np.where(np.isnan(res), np.inf, res)
    cell = grid.resolution
    out: dict[str, Any] = {}

    pops = ctx.inputs.get("populations")
    if pops is None or len(pops) < 2:
        ctx.log("fewer than two populations: no corridors")
        cores = np.zeros(grid.shape, np.int32)
        links = pd.DataFrame(columns=["from_site", "to_site", *LINK_COLUMNS])
    else:
        cores = population_cores(pops, res, grid, params.core_radius_m)
        empty = [pops["site_id"].iloc[i] for i in range(len(pops)) if not (cores == i + 1).any()]
        if empty:
            raise ConfigError(
                f"stages.connectivity.core_radius_m: no passable cell within {params.core_radius_m} m of "
                f"population(s) {', '.join(empty)}; raise the radius or check the site coordinates"
            )
        result = compute_corridors(res_inf, cores, cell_size=cell, neighbours=params.neighbours,
                                   nearest=params.nearest, cutoff=params.corridor_cutoff)
        site = dict(enumerate(pops["site_id"].astype(str), start=1))
        links = result.links.copy()
        links.insert(0, "to_site", links["to_id"].astype(int).map(site))
        links.insert(0, "from_site", links["from_id"].astype(int).map(site))
        out["corridors"] = make_layer(result.corridors.astype(np.float32), grid, name="corridors", units=_COST["units"])
        radii = [r for r in params.barrier_radii_m if r >= cell]
        if len(radii) < len(params.barrier_radii_m):
            ctx.log(f"barrier radii below the cell size {cell} m dropped; using {radii or [cell]}")
        score, _ = max_barrier_improvement(result.cwds, result.links, radii_m=radii or [cell], cell_size=cell)
        out["barrier_improvement"] = make_layer(np.where(np.isfinite(res), score, np.nan).astype(np.float32), grid,
                                                name="barrier_improvement", units="score")
        lines = [path_to_line(result.paths[(int(a), int(b))], grid.affine)
                 for a, b in zip(links["from_id"], links["to_id"])]
        out["least_cost_paths"] = gpd.GeoDataFrame(links.reset_index(drop=True), geometry=lines, crs=grid.pyproj_crs)
    out["population_cores"] = make_layer(cores, grid, name="population_cores", nodata=0)
    out["links"] = links.reset_index(drop=True)

    labels = np.asarray(ctx.inputs["patch_id"].values)
    table = ctx.inputs["patch_table"]
    kept = table.sort_values(["area_ha", "patch_id"], ascending=[False, True]).head(params.max_graph_patches)
    ids = sorted(int(v) for v in kept["patch_id"])
    area = kept.set_index("patch_id").loc[ids, "area_ha"].to_numpy(dtype=np.float64)
    if len(ids) > 0:
        distance = _patch_distances(res_inf, labels, ids, cell, params.neighbours)
        landscape_ha = float(np.isfinite(res).sum() * grid.cell_area_m2()[0, 0] / 1e4)
        pc_args = dict(ref_distance=params.pc_distance, ref_probability=params.pc_probability)
        importance = patch_importance_pc(area, distance, **pc_args)
        importance.insert(0, "patch_id", ids)
        link = params.iic_link_distance or params.pc_distance  # IIC and components: linked or not
        importance.insert(1, "component", graph_components(distance, max_distance=link))
        importance["dIIC"] = patch_importance_iic(area, distance, max_distance=link) if len(ids) > 1 else 100.0
        indices = {
            "PC": probability_of_connectivity(area, distance, landscape_area=landscape_ha, **pc_args),
            "EC_ha": equivalent_connectivity(area, distance, **pc_args),
            "IIC": integral_index_of_connectivity(area, distance, landscape_area=landscape_ha, max_distance=link),
            "components": int(len(np.unique(graph_components(distance, max_distance=link)))),
            "patches": len(ids),
        }
    else:
        importance = pd.DataFrame(columns=["patch_id", "component", "dPC", "dPCintra", "dPCflux", "dPCconnector", "dIIC"])
        indices = {"PC": 0.0, "EC_ha": 0.0, "IIC": 0.0, "components": 0, "patches": 0}
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
)
