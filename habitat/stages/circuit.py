"""The circuit stage: effective resistance, cumulative current and pinch points between populations.

With ``grid.connectivity_resolution_m`` set, the circuit is solved on that coarser grid (the
same aggregated resistance as the connectivity stage; a population's focal cell is the coarse
cell of its fine focal cell) and current comes back to the analysis grid as
amperes per fine cell: the coarse cell's current divided by the factor (the rule in
:mod:`habitat.connectivity.two_grid`).
"""

from __future__ import annotations

from typing import Any

from habitat.params import CircuitParams
from habitat.stages import catalog
from habitat.memory import check_memory
from habitat.stages.spec import StageContext, StageSpec

INPUTS = catalog.layers("resistance", "populations", "population_cores", "corridors", "links", "patch_id",
                        "dispersal_reach")
OUTPUTS = catalog.outputs_of("circuit")


def run_circuit(ctx: StageContext) -> dict[str, Any]:
    """Pairwise circuit solves between population focal cells (1 A in, 1 A out per pair).

    With a connectivity grid coarser than the analysis grid nothing of the analysis grid's size
    is held: the fine inputs are read strip by strip into the coarse grid and the current is
    brought back chunk by chunk as it is written (:mod:`habitat.connectivity.two_grid`).
    """
    import rasterio
    from habitat.io.rasters import STRIP_GDAL_CACHE_MB
    from habitat.memory import return_freed_blocks
    return_freed_blocks()  # strips freed go back to the system (else the heap keeps them)
    with rasterio.Env(GDAL_CACHEMAX=STRIP_GDAL_CACHE_MB):
        return _run(ctx)


def _run(ctx: StageContext) -> dict[str, Any]:
    from habitat.connectivity.corridors import connected_links
    from habitat.connectivity.graph import distance_matrix_from_links, unreachable_pairs
    import numpy as np
    import pandas as pd
    from habitat.connectivity.circuit.pairwise import effective_resistance_matrix
    from functools import partial
    from habitat.connectivity.populations import focal_cells, site_points
    from habitat.layers import make_layer
    from habitat.connectivity.two_grid import (
        aggregate_resistance, block_any, coarse_cores, coarse_focal_cells, connectivity_factor, label_cells,
        Grain, patch_sums,
    )
    params: CircuitParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    factor = connectivity_factor(grid, ctx.settings.get("grid"))
    n_pops = 0 if ctx.inputs.get("populations") is None else len(ctx.inputs["populations"])
    # every population's focal point is a right-hand side of the one factor (or CG run)
    check_memory("circuit", grid.shape, what="stage circuit", neighbours=params.neighbours, factor=factor,
                 cell_size_m=grid.cell_size_m, n_rhs=max(1, n_pops - 1), solver=params.solver)
    fine = ctx.inputs["resistance"]
    res = np.asarray(fine.values, dtype=np.float64) if factor == 1 else aggregate_resistance(fine, factor)
    pops = ctx.inputs.get("populations")
    sites = [] if pops is None else pops["site_id"].astype(str).tolist()
    cores = ctx.inputs["population_cores"]
    cells = focal_cells(site_points(pops), None, grid.x_coords, grid.y_coords,
                        cells=label_cells(cores, len(sites))) if sites else []
    if factor > 1:
        ctx.log(f"circuit on the {grid.resolution * factor:g} m connectivity grid ({factor}x the analysis cells)")
        cells = coarse_focal_cells(cells, coarse_cores(cores, res, factor), res, factor)
    exclude = None
    links = ctx.inputs.get("links")
    if "dispersal_reach" in ctx.inputs and links is not None:
        # current flows only where a disperser between connected populations can go (Linkage
        # Mapper's Pinchpoint Mapper runs Circuitscape inside the truncated corridors)
        reach = ctx.inputs["dispersal_reach"] == 1
        res = np.where(np.asarray(reach) if factor == 1 else block_any(reach, factor), res, np.nan)
        kept = connected_links(links)
        lcd = distance_matrix_from_links(len(sites), np.column_stack(
            [kept["from_id"] - 1, kept["to_id"] - 1, kept["lcd"]]).astype(np.float64))
        exclude = unreachable_pairs(lcd)
        ctx.log(f"{len(exclude)} population pair(s) beyond the dispersal limit are not solved (-1)")
    matrix, current = effective_resistance_matrix(res, cells, neighbours=params.neighbours, average=params.average,
                                                  solver=params.solver, with_current=True, exclude=exclude)
    del res
    # amperes per fine cell: a coarse cell's current crosses `factor` fine cells side by side
    # (two_grid's module notes); NaN on fine impassable cells
    current = current / factor if factor > 1 else current
    fine_current = partial(Grain.of(grid, factor, fine).back, fill=np.nan)
    current32 = current.astype(np.float32)
    out: dict[str, Any] = {
        "cumulative_current": make_layer(fine_current(current32), grid, name="cumulative_current",
                                         units=catalog.CURRENT_UNITS),
    }
    if "corridors" in ctx.inputs:
        corridors = ctx.inputs["corridors"]
        pinch = (np.where(np.isfinite(corridors.values), current, np.nan).astype(np.float32) if factor == 1
                 else fine_current(current32, keep=corridors))
        out["pinch_points"] = make_layer(pinch, grid, name="pinch_points", units=catalog.CURRENT_UNITS)
    lcd = {}
    if links is not None and len(links):
        lcd = {(str(a), str(b)): float(v) for a, b, v in zip(links["from_site"], links["to_site"], links["lcd"])}
    rows = [{"from_site": sites[i], "to_site": sites[j], "effective_resistance_ohm": float(matrix[i, j]),
             "lcd": lcd.get((sites[i], sites[j]), np.nan)}
            for i in range(len(sites)) for j in range(i + 1, len(sites))]
    out["effective_resistance"] = pd.DataFrame(rows, columns=["from_site", "to_site", "effective_resistance_ohm", "lcd"])
    out["resistance_matrix"] = pd.DataFrame(matrix, columns=sites).assign(site_id=sites)[["site_id", *sites]]
    labels = ctx.inputs["patch_id"]
    sums, counts = patch_sums(labels, current, factor, None if factor == 1 else fine)
    ids = (np.flatnonzero(counts[1:]) + 1).astype(labels.dtype)
    out["patch_current"] = pd.DataFrame({"patch_id": ids, "current_sum": sums[ids], "current_mean": sums[ids] / counts[ids]})
    if any(c is None for c in cells):
        ctx.log("populations without a core cell are left out of the circuit (-1 in the matrix)")
    return out


STAGE = StageSpec(
    id="circuit",
    version="1",
    doc="Circuit theory between populations: effective resistance, cumulative current, pinch points.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=CircuitParams,
    run=run_circuit,
    settings=("grid",),  # grid.connectivity_resolution_m
)
