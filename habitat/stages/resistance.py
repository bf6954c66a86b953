"""The resistance stage: a cost surface from suitability with barrier overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from habitat.vocabulary import HABITAT_CLASS_CODES
from habitat.params import ResistanceParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

INPUTS = (*catalog.layers("suitability", "habitat_class_current", "canal_distance_m"),
          *catalog.layers("scenario_barriers", "scenario_crossings"),
          *catalog.layers("slope_deg", "elevation_m", optional=True))
OUTPUTS = catalog.outputs_of("resistance")


def _resistance_block(params: ResistanceParams, edit_values: dict[str, np.ndarray], names: list[str],
                      *blocks: np.ndarray) -> np.ndarray:
    """Resistance of one block (every rule is per cell, so blocks give the whole-grid result)."""
    from habitat.suitability.terrain import terrain_resistance
    from habitat.planning.scenarios import BarrierEdit, CrossingEdit, apply_resistance_edits
    import numpy as np
    from habitat.connectivity.resistance import apply_barrier, resistance_from_suitability
    layer = dict(zip(names, blocks))
    classes = layer["habitat_class_current"]
    resistance = resistance_from_suitability(
        np.asarray(layer["suitability"], dtype=np.float64), transform=params.transform,
        shape=params.shape, min_resistance=params.min_resistance, max_resistance=params.max_resistance,
    )
    for name, value in params.barrier_classes.items():
        mask = classes == HABITAT_CLASS_CODES[name]
        resistance = apply_barrier(resistance, mask, resistance_value=np.inf if value is None else value, rule="set")
    if "canal_distance_m" in layer:
        # canal cells are those the canal lines touch (distance 0 in the ingest raster)
        canals = layer["canal_distance_m"] == 0
        value = np.inf if params.canal_resistance is None else params.canal_resistance
        resistance = apply_barrier(resistance, canals, resistance_value=value, rule="max")
    costs = params.terrain_costs
    if costs is not None and "slope_deg" in layer and "elevation_m" in layer:
        resistance = terrain_resistance(
            resistance, np.asarray(layer["slope_deg"], dtype=np.float64),
            np.asarray(layer["elevation_m"], dtype=np.float64), outside_dem=costs.outside_dem,
            climb_cost_ratio=costs.climb_cost_ratio, altitude_start_m=costs.altitude_start_m,
            altitude_full_m=costs.altitude_full_m, altitude_max_factor=costs.altitude_max_factor,
        )
    for layer_id, edit in (("scenario_barriers", BarrierEdit), ("scenario_crossings", CrossingEdit)):
        if layer_id in layer:  # a scenario's new barriers, then crossings (habitat.planning.scenarios)
            cells = np.asarray(layer[layer_id])
            values = edit_values[layer_id]  # every value of the whole raster, in the same order
            resistance = apply_resistance_edits(resistance, [edit((), float(v)) for v in values],
                                                [cells == v for v in values])
    return np.where(np.isfinite(resistance) & (classes > 0), resistance, np.nan).astype(np.float32)


def run_resistance(ctx: StageContext) -> dict[str, Any]:
    """Resistance = transform(suitability), then class and canal overrides; NaN = impassable.

    Computed lazily chunk by chunk (every rule is per cell): the runner writes the raster block
    by block, so memory does not grow with the grid.
    """
    import dask.array as da
    import numpy as np
    from habitat.layers import make_layer
    params: ResistanceParams = ctx.params  # type: ignore[assignment]
    base = da.asarray(ctx.inputs["habitat_class_current"].data)
    names = ["suitability", "habitat_class_current"]
    names += [n for n in ("canal_distance_m", "slope_deg", "elevation_m", "scenario_barriers", "scenario_crossings")
              if n in ctx.inputs]
    if params.terrain_costs is None or not {"slope_deg", "elevation_m"} <= set(ctx.inputs):
        names = [n for n in names if n not in ("slope_deg", "elevation_m")]
    arrays = [da.asarray(ctx.inputs[n].data).rechunk(base.chunks) for n in names]
    edit_values = {}
    for layer_id in ("scenario_barriers", "scenario_crossings"):
        if layer_id in ctx.inputs:  # the edit values of the whole raster (a few numbers)
            cells = arrays[names.index(layer_id)]
            edit_values[layer_id] = np.unique(cells[~da.isnan(cells)].compute())
    resistance = da.map_blocks(
        lambda *blocks: _resistance_block(params, edit_values, names, *blocks), *arrays, dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )
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
