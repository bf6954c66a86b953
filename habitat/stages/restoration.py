"""The restoration stage: which restorable floodplain units add most connected habitat (issue 17)."""

from __future__ import annotations

from typing import Any

from habitat.errors import ConfigError
from habitat.params import IndicatorsParams, RestorationParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec
from habitat.vocabulary import HABITAT_CLASS_CODES

INPUTS = (
    *catalog.layers("habitat_class_current", "floodplain", "patch_id"),
    *catalog.layers("habitat_class_baseline", "populations", optional=True),
)
OUTPUTS = catalog.outputs_of("restoration")


def _restorable(ctx: StageContext, params: RestorationParams, habitat_classes: list[str],
                habitat: np.ndarray) -> np.ndarray:
    """Floodplain cells that are not habitat now: restorable classes, and (if asked) lost habitat."""
    import numpy as np
    current = np.asarray(ctx.inputs["habitat_class_current"].values)
    cells = np.isin(current, [HABITAT_CLASS_CODES[c] for c in params.restorable_classes])
    if params.include_lost_habitat and "habitat_class_baseline" in ctx.inputs:
        codes = [HABITAT_CLASS_CODES[c] for c in habitat_classes]
        cells |= np.isin(np.asarray(ctx.inputs["habitat_class_baseline"].values), codes) & ~np.isin(current, codes)
    return cells & (np.asarray(ctx.inputs["floodplain"].values) > 0) & ~habitat & (current > 0)


def _population_cells(ctx: StageContext, radius_m: float) -> tuple[np.ndarray | None, list[str]]:
    from habitat.io.vectors import rasterize_labels
    pops = ctx.inputs.get("populations")
    if pops is None or not len(pops):
        return None, []
    discs = pops.geometry.buffer(radius_m, 32).to_numpy()
    return rasterize_labels(discs, list(range(1, len(pops) + 1)), ctx.grid), pops["site_id"].astype(str).tolist()


def run_restoration(ctx: StageContext) -> dict[str, Any]:
    """Rank restoration units by ECA gain per hectare restored; choose units under the area budget."""
    import numpy as np
    from habitat.layers import make_layer
    from habitat.planning.restoration import restoration_priorities, select_restoration, unit_labels
    from habitat.suitability.patches import ranked_outlines
    params: RestorationParams = ctx.params  # type: ignore[assignment]
    kernel: IndicatorsParams = ctx.setting("indicators")  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the restoration stage needs a projected grid in metres (e.g. 'default')")
    habitat = np.asarray(ctx.inputs["patch_id"].values) > 0
    restorable = _restorable(ctx, params, kernel.habitat_classes, habitat)
    units = unit_labels(grid.x_coords, grid.y_coords, size_m=params.unit_size_m, shape=params.unit_shape)
    units = np.where(restorable, units, 0).astype(np.int32)
    pop_cells, site_ids = _population_cells(ctx, params.population_radius_m)
    kw = dict(cell_size_m=grid.cell_size_m, ref_distance_m=kernel.dispersal_distance_m,
              ref_probability=kernel.dispersal_probability, neighbours=kernel.neighbours,
              min_patch_area_ha=kernel.graph_min_patch_ha)
    table = restoration_priorities(habitat, restorable, units, populations=pop_cells, **kw)
    table["populations_reconnected"] = [
        ";".join("+".join(site_ids[int(i) - 1] for i in pair.split("+")) for pair in value.split(";") if pair)
        for value in table.pop("populations_joined")]
    pool = table["unit"].head(params.selection_pool).to_numpy()
    selection = select_restoration(habitat, restorable, np.where(np.isin(units, pool), units, 0),
                                   budget_ha=params.budget_ha, exact_max_units=params.exact_max_units, **kw)
    table["selected"] = table["unit"].isin(selection["unit"])
    ctx.log(f"{len(table)} restoration units ({params.unit_shape}, {params.unit_size_m:g} m) with "
            f"{restorable.sum() * grid.cell_size_m ** 2 / 1e4:.0f} ha restorable; {len(selection)} chosen under "
            f"{params.budget_ha:g} ha ({selection['method'].iloc[0] if len(selection) else 'none'})")
    layer = make_layer(units, grid, name="restoration_unit", nodata=0)
    shapes = ranked_outlines(layer, table, id_column="unit", crs=grid.pyproj_crs)
    return {"restoration_units": shapes, "restoration_priorities": table,
            "restoration_selection": selection}


STAGE = StageSpec(
    id="restoration",
    version="1",
    doc="Restoration priorities: ECA gain per hectare of restorable floodplain, per hexagon or reach tile; "
        "selection under an area budget.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=RestorationParams,
    run=run_restoration,
    # the ECA kernel, habitat classes and patch rule are the indicators' (one definition of ECA)
    settings=("indicators",),
)
