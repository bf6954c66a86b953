"""The resistance stage: a cost surface from suitability with barrier overrides."""

from __future__ import annotations

from typing import Any

from habitat.vocabulary import HABITAT_CLASS_CODES
from habitat.params import ResistanceParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

INPUTS = (*catalog.layers("suitability", "habitat_class_current", "canal_distance_m"),
          *catalog.layers("scenario_barriers", "scenario_crossings"),
          *catalog.layers("slope_deg", "elevation_m", optional=True))
OUTPUTS = catalog.outputs_of("resistance")


def run_resistance(ctx: StageContext) -> dict[str, Any]:
    """Resistance = transform(suitability), then class and canal overrides; NaN = impassable."""
    from habitat.suitability.terrain import terrain_resistance
    from habitat.planning.scenarios import BarrierEdit, CrossingEdit, apply_resistance_edits
    import numpy as np
    from habitat.connectivity.resistance import apply_barrier, resistance_from_suitability
    from habitat.layers import make_layer
    params: ResistanceParams = ctx.params  # type: ignore[assignment]
    classes = ctx.inputs["habitat_class_current"].values
    resistance = resistance_from_suitability(
        np.asarray(ctx.inputs["suitability"].values, dtype=np.float64), transform=params.transform,
        shape=params.shape, min_resistance=params.min_resistance, max_resistance=params.max_resistance,
    )
    for name, value in params.barrier_classes.items():
        mask = classes == HABITAT_CLASS_CODES[name]
        resistance = apply_barrier(resistance, mask, resistance_value=np.inf if value is None else value, rule="set")
    if "canal_distance_m" in ctx.inputs:
        # canal cells are those the canal lines touch (distance 0 in the ingest raster)
        canals = ctx.inputs["canal_distance_m"].values == 0
        value = np.inf if params.canal_resistance is None else params.canal_resistance
        resistance = apply_barrier(resistance, canals, resistance_value=value, rule="max")
    costs = params.terrain_costs
    if costs is not None and "slope_deg" in ctx.inputs and "elevation_m" in ctx.inputs:
        resistance = terrain_resistance(
            resistance, np.asarray(ctx.inputs["slope_deg"].values, dtype=np.float64),
            np.asarray(ctx.inputs["elevation_m"].values, dtype=np.float64), outside_dem=costs.outside_dem,
            climb_cost_ratio=costs.climb_cost_ratio, altitude_start_m=costs.altitude_start_m,
            altitude_full_m=costs.altitude_full_m, altitude_max_factor=costs.altitude_max_factor,
        )
    for layer_id, edit in (("scenario_barriers", BarrierEdit), ("scenario_crossings", CrossingEdit)):
        if layer_id in ctx.inputs:  # a scenario's new barriers, then crossings (habitat.planning.scenarios)
            cells = np.asarray(ctx.inputs[layer_id].values)
            values = np.unique(cells[~np.isnan(cells)])
            resistance = apply_resistance_edits(resistance, [edit((), float(v)) for v in values],
                                                [cells == v for v in values])
    resistance = np.where(np.isfinite(resistance) & (classes > 0), resistance, np.nan).astype(np.float32)
    return {"resistance": make_layer(resistance, ctx.grid, name="resistance", units=OUTPUTS[0].units)}


STAGE = StageSpec(
    id="resistance",
    version="1",
    doc="Resistance from suitability (linear or Keeley 2016 negative exponential) plus barriers.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=ResistanceParams,
    run=run_resistance,
)
