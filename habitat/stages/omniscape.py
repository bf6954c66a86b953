"""The omniscape stage: wall-to-wall moving-window connectivity of the whole study area.

Resistance from the resistance stage, sources from suitability (cells at or above the source
threshold inject their suitability), one call of
:func:`habitat.connectivity.omniscape.omniscape` (McRae et al. 2016; Landau et al. 2021), then
flow classes of normalized current and a per-Range-State summary
(:mod:`habitat.connectivity.omniscape.flow`). The memory the engine needs is stated (logged)
and checked against the memory available before anything is allocated.
"""

from __future__ import annotations

from typing import Any

from habitat.errors import ResourceError
from habitat.params import OmniscapeParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

INPUTS = (*catalog.layers("resistance", "suitability"),
          *catalog.layers("reporting_unit", "reporting_units", optional=True))
OUTPUTS = catalog.outputs_of("omniscape")

#: Share of the available memory the engine may plan to use.
MEMORY_SHARE = 0.8


def radius_cells(radius_m: float, cell_size_m: float) -> int:
    """Window radius in cells: ``round(radius_m / cell_size_m)``, at least 1."""
    return max(1, int(round(radius_m / cell_size_m)))


def run_omniscape(ctx: StageContext) -> dict[str, Any]:
    """Omniscape over the study area; maps, flow classes and the per-unit summary."""
    import numpy as np
    from habitat.connectivity.circuit.solvers import available_memory_bytes
    from habitat.connectivity.omniscape import estimate_memory_bytes, omniscape
    from habitat.connectivity.omniscape.flow import classify_flow, flow_summary, suitability_sources, window_reach
    from habitat.layers import make_layer
    params: OmniscapeParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    threshold = params.source_threshold
    if threshold is None:
        threshold = float(ctx.setting("patches").threshold)
    resistance = np.asarray(ctx.inputs["resistance"].values)
    sources = suitability_sources(ctx.inputs["suitability"].values, resistance, threshold)
    radius = radius_cells(params.radius_m, grid.cell_size_m)
    want_fp = params.calc_flow_potential or params.calc_normalized_current
    need = estimate_memory_bytes(grid.shape, radius=radius, block_size=params.block_size, sources=sources,
                                 workers=params.workers, flow_potential=want_fp)
    have = available_memory_bytes()
    ctx.log(f"omniscape: {grid.shape[0]} x {grid.shape[1]} cells, radius {radius} cells ({params.radius_m:g} m), "
            f"block_size {params.block_size}, source threshold {threshold:g}; needs about {need / 2**20:.0f} MiB "
            f"(available {have / 2**20:.0f} MiB)")
    if need > MEMORY_SHARE * have:
        raise ResourceError(
            f"stages.omniscape: needs about {need / 2**30:.1f} GiB, {MEMORY_SHARE:.0%} of the available "
            f"{have / 2**30:.1f} GiB is {MEMORY_SHARE * have / 2**30:.1f} GiB; lower radius_m or workers, or "
            "coarsen grid.resolution_m")
    result = omniscape(resistance, sources, radius=radius, block_size=params.block_size,
                       precision=params.precision, correct_artifacts=params.correct_artifacts,
                       calc_flow_potential=want_fp, calc_normalized_current=params.calc_normalized_current,
                       workers=params.workers)
    ctx.log(f"omniscape: {result.n_targets} target blocks, {result.n_solved} windows solved")
    units = catalog.OMNISCAPE_CURRENT_UNITS

    def layer(values, name, units, nodata=None):
        return make_layer(np.asarray(values, dtype=np.float32), grid, name=name, units=units, nodata=nodata)

    out: dict[str, Any] = {"omniscape_current": layer(result.cum_currmap, "omniscape_current", units)}
    if params.calc_flow_potential:
        out["flow_potential"] = layer(result.flow_potential, "flow_potential", units)
    if params.calc_normalized_current:
        norm = result.normalized_cum_currmap
        out["normalized_current"] = layer(norm, "normalized_current", "ratio")
        classes = classify_flow(norm, result.flow_potential, impeded_below=params.impeded_below,
                                channelized_above=params.channelized_above,
                                reach=window_reach(sources, radius=radius, block_size=params.block_size))
        out["flow_class"] = make_layer(classes, grid, name="flow_class", units=catalog.layer("flow_class").units,
                                       nodata=0)
        reporting = []
        if "reporting_unit" in ctx.inputs and "reporting_units" in ctx.inputs:
            index = np.asarray(ctx.inputs["reporting_unit"].values)
            reporting = [(str(r.unit_id), str(r.unit_name), index == int(r.unit_index))
                         for r in ctx.inputs["reporting_units"].itertuples()]
        out["omniscape_summary"] = flow_summary(classes, norm, grid.cell_area_m2() / 1e4, reporting)
    return out


STAGE = StageSpec(
    id="omniscape",
    version="1",
    doc="Omniscape moving-window connectivity of the whole study area: cumulative current, flow potential, "
        "normalized current, flow classes and a per-Range-State summary.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=OmniscapeParams,
    run=run_omniscape,
    settings=("patches",),
)
