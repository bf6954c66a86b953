"""The translocation stage: how many deer go from which source population to which ranked site."""

from __future__ import annotations

import math
from typing import Any

from habitat.errors import ConfigError
from habitat.params import TranslocationParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

INPUTS = (
    *catalog.layers("populations", "site_ranking"),
    *catalog.layers("population_status", "rivers", "resistance", optional=True),
)
OUTPUTS = catalog.outputs_of("translocation")


def _sources(ctx: StageContext, params: TranslocationParams) -> pd.DataFrame:
    """Source populations (site_id, surplus, x, y): the user's list, else the overstocked ones."""
    import numpy as np
    import pandas as pd
    pops = ctx.inputs["populations"]
    where = pd.DataFrame({"source": pops["site_id"].astype(str), "x": pops.geometry.x, "y": pops.geometry.y})
    if params.sources is not None:
        unknown = sorted(set(params.sources) - set(where["source"]))
        if unknown:
            raise ConfigError(f"stages.translocation.sources: {unknown} are not population site_ids "
                              f"({', '.join(where['source'])})")
        surplus = pd.DataFrame({"source": list(params.sources), "surplus": list(params.sources.values())})
        ctx.log(f"sources from the pipeline: {', '.join(params.sources)}")
    else:
        status = ctx.inputs.get("population_status")
        if status is None:
            raise ConfigError("stages.translocation: no population_status (run the indicators stage) and no "
                              "stages.translocation.sources; give one of them")
        flagged = status[status["translocation_source"].astype(str).str.lower() == "true"]
        surplus = pd.DataFrame({"source": flagged["site_id"].astype(str),
                                "surplus": np.floor(pd.to_numeric(flagged["surplus_deer"]).fillna(0)).astype(int)})
        ctx.log("sources: overstocked populations " + (", ".join(surplus["source"]) or "(none)"))
    return surplus.merge(where, on="source", how="left").reset_index(drop=True)


def _basins(ctx: StageContext, params: TranslocationParams, x, y) -> list[str]:
    """Basin of the nearest river line to each point (one basin without basin_column)."""
    import numpy as np
    import shapely
    if params.basin_column is None:
        return ["all"] * len(x)
    rivers = ctx.inputs.get("rivers")
    if rivers is None or params.basin_column not in rivers.columns:
        have = "" if rivers is None else f" (columns: {', '.join(map(str, rivers.columns.drop('geometry')))})"
        raise ConfigError(f"stages.translocation.basin_column: {params.basin_column!r} is not a column of the "
                          f"river layer{have}; name the column holding the basin")
    lines = rivers.geometry.to_numpy()
    tree = shapely.STRtree(lines)
    nearest = tree.nearest(shapely.points(np.asarray(x, float), np.asarray(y, float)))
    return rivers[params.basin_column].astype(str).to_numpy()[nearest].tolist()


def _distances(ctx: StageContext, params: TranslocationParams, sources: pd.DataFrame, sites: pd.DataFrame):
    """Source x site distance: Euclidean (m) or least-cost (resistance x m) from the source's cell."""
    import numpy as np
    from habitat.connectivity.cost_distance import cost_distance_many
    if params.distance == "euclidean":
        return np.hypot(sources["x"].to_numpy()[:, None] - sites["x"].to_numpy()[None, :],
                        sources["y"].to_numpy()[:, None] - sites["y"].to_numpy()[None, :])
    if "resistance" not in ctx.inputs:
        raise ConfigError("stages.translocation.distance: least_cost needs the resistance stage")
    grid = ctx.grid
    res = np.asarray(ctx.inputs["resistance"].values, dtype=np.float64)

    def cell(x, y):
        r, c = (int(v) for v in grid.rowcol(x, y))
        return (r, c) if 0 <= r < grid.height and 0 <= c < grid.width and np.isfinite(res[r, c]) else None

    starts = [cell(x, y) for x, y in zip(sources["x"], sources["y"])]
    ends = [cell(x, y) for x, y in zip(sites["x"], sites["y"])]
    d = np.full((len(sources), len(sites)), np.inf)
    usable = [i for i, start in enumerate(starts) if start is not None]
    surfaces = cost_distance_many(res, [[starts[i]] for i in usable], cell_size_m=grid.cell_size_m)
    for i, cost in zip(usable, surfaces):
        d[i] = [cost[end] if end is not None else np.inf for end in ends]
    return d


def run_translocation(ctx: StageContext) -> dict[str, Any]:
    """Sources, sites, distances and basins into the integer programme; the plan with reasons."""
    import numpy as np
    import pandas as pd
    from habitat.planning.translocation import translocation_plan
    params: TranslocationParams = ctx.params  # type: ignore[assignment]
    sources = _sources(ctx, params)
    ranking = ctx.inputs["site_ranking"].sort_values("rank", kind="stable")
    if params.top_sites is not None:
        ranking = ranking.head(params.top_sites)
    sites = pd.DataFrame({
        "site": ranking["site_id"].astype(str).to_numpy(),
        "capacity": np.floor(pd.to_numeric(ranking["capacity_deer"]).fillna(0)).astype(int).to_numpy(),
        "score": pd.to_numeric(ranking["score"]).to_numpy(float),
        "x": pd.to_numeric(ranking["centre_x"]).to_numpy(float), "y": pd.to_numeric(ranking["centre_y"]).to_numpy(float),
    })
    sites = sites[np.isfinite(sites["x"]) & np.isfinite(sites["y"])].reset_index(drop=True)
    sources["basin"] = _basins(ctx, params, sources["x"], sources["y"])
    sites["basin"] = _basins(ctx, params, sites["x"], sites["y"])
    d = _distances(ctx, params, sources, sites)
    plan = translocation_plan(
        sources[["source", "surplus", "basin"]], sites[["site", "capacity", "basin", "score"]], d,
        min_founders=params.min_founders, max_founders=params.max_founders,
        distance_cost_per_km=params.distance_cost_per_km,
        max_distance_m=math.inf if params.max_distance_m is None else params.max_distance_m,
        allow_cross_basin=params.allow_cross_basin,
    )
    plan.insert(plan.columns.get_loc("distance_km") + 1, "distance_measure",
                "straight line (km)" if params.distance == "euclidean" else "least-cost (resistance x km)")
    moved = int(plan.loc[plan["status"] == "move", "animals"].sum())
    ctx.log(f"translocation: {moved} animals from {len(sources)} source(s) to "
            f"{plan.loc[plan['status'] == 'move', 'site'].nunique()} of {len(sites)} site(s)")
    return {"translocation_plan": plan}


STAGE = StageSpec(
    id="translocation",
    version="1",
    doc="Translocation plan: founder groups from overstocked (or listed) populations to ranked sites, "
        "an integer programme (scipy milp) within basins.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=TranslocationParams,
    run=run_translocation,
)
