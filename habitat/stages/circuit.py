"""The circuit stage: effective resistance, cumulative current and pinch points between populations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from habitat.connectivity.circuit import (
    build_adjacency,
    build_node_map,
    conductance_from_raster,
    node_coordinates,
    node_currents,
    pairwise_resistances,
)
from habitat.layers import make_layer
from habitat.params import CircuitParams
from habitat.sites.candidates import distance_to_points
from habitat.stages import connectivity, ingest, patches, resistance
from habitat.stages.spec import LayerSpec, StageContext, StageSpec

INPUTS = (
    resistance.STAGE.output("resistance"),
    ingest.STAGE.output("populations"),
    connectivity.STAGE.output("population_cores"),
    connectivity.STAGE.output("corridors"),
    connectivity.STAGE.output("links"),
    patches.STAGE.output("patch_id"),
)
_CURRENT = dict(kind="raster", dtype="float32", units="A (1 A per pair)", nodata=float("nan"))
OUTPUTS = (
    LayerSpec(id="cumulative_current", **_CURRENT, doc="current summed over all population pairs (Circuitscape cum_curmap)"),
    LayerSpec(id="pinch_points", **_CURRENT, optional=True,
              doc="cumulative current inside the least-cost corridors: where flow concentrates"),
    LayerSpec(id="effective_resistance", kind="table",
              doc="per population pair: effective resistance (ohm), beside the least-cost distance"),
    LayerSpec(id="resistance_matrix", kind="table", doc="effective resistance matrix, -1 = not connected"),
    LayerSpec(id="patch_current", kind="table", doc="per patch: current through it summed over cells and its mean"),
)


def focal_cells(populations, cores: np.ndarray, grid) -> list[tuple[int, int] | None]:
    """Per population, the core cell nearest its site point (None when it has no core)."""
    out: list[tuple[int, int] | None] = []
    for index, point in enumerate(populations.geometry, start=1):
        rows, cols = np.nonzero(cores == index)
        if rows.size == 0:
            out.append(None)
            continue
        distance = distance_to_points(grid.x_coords, grid.y_coords, [[point.x, point.y]])
        k = int(np.argmin(distance[rows, cols]))
        out.append((int(rows[k]), int(cols[k])))
    return out


def effective_resistance_matrix(
    resistance: np.ndarray, cells: list[tuple[int, int] | None], params: CircuitParams, *, with_current: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Effective resistance (ohm) between focal cells of a resistance raster, pairwise.

    Each cell's resistance is in ohms (cell size is not used, as in Circuitscape); NaN and
    inf are not part of the circuit. Returns the ``k x k`` matrix (-1 where not connected or
    the cell is None) and, with ``with_current``, the cumulative current map over all pairs
    (1 A per pair; NaN off the circuit).
    """
    conductance = conductance_from_raster(resistance, is_resistance=True)
    node_map = build_node_map(conductance)
    adjacency = build_adjacency(conductance, node_map, four_neighbors=params.neighbours == 4,
                                avg_resistance=params.average == "resistance")
    focal = [int(node_map[c]) - 1 if c is not None else -1 for c in cells]
    cumulative = np.zeros(adjacency.shape[0])

    def add_currents(solution) -> None:
        cumulative[solution.nodes] += node_currents(solution.adjacency, solution.voltages)

    matrix = (pairwise_resistances(adjacency, focal, on_pair=add_currents if with_current else None,
                                   method=params.solver, node_coords=node_coordinates(node_map))
              if len(focal) >= 2 else -np.ones((len(focal), len(focal))))
    if not with_current:
        return matrix, None
    return matrix, np.where(node_map > 0, cumulative[np.maximum(node_map - 1, 0)], np.nan)


def run_circuit(ctx: StageContext) -> dict[str, Any]:
    """Pairwise circuit solves between population focal cells (1 A in, 1 A out per pair)."""
    params: CircuitParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    res = np.asarray(ctx.inputs["resistance"].values, dtype=np.float64)
    pops = ctx.inputs.get("populations")
    sites = [] if pops is None else pops["site_id"].astype(str).tolist()
    cells = focal_cells(pops, np.asarray(ctx.inputs["population_cores"].values), grid) if sites else []
    matrix, current = effective_resistance_matrix(res, cells, params, with_current=True)
    out: dict[str, Any] = {
        "cumulative_current": make_layer(current.astype(np.float32), grid, name="cumulative_current",
                                         units=_CURRENT["units"]),
    }
    if "corridors" in ctx.inputs:
        inside = np.isfinite(ctx.inputs["corridors"].values)
        out["pinch_points"] = make_layer(np.where(inside, current, np.nan).astype(np.float32), grid,
                                         name="pinch_points", units=_CURRENT["units"])
    lcd = {}
    links = ctx.inputs.get("links")
    if links is not None and len(links):
        lcd = {(str(a), str(b)): float(v) for a, b, v in zip(links["from_site"], links["to_site"], links["lcd"])}
    rows = [{"from_site": sites[i], "to_site": sites[j], "effective_resistance_ohm": float(matrix[i, j]),
             "lcd": lcd.get((sites[i], sites[j]), np.nan)}
            for i in range(len(sites)) for j in range(i + 1, len(sites))]
    out["effective_resistance"] = pd.DataFrame(rows, columns=["from_site", "to_site", "effective_resistance_ohm", "lcd"])
    out["resistance_matrix"] = pd.DataFrame(matrix, columns=sites).assign(site_id=sites)[["site_id", *sites]]
    labels = np.asarray(ctx.inputs["patch_id"].values)
    ids = np.unique(labels[labels > 0])
    finite = np.nan_to_num(current)
    sums = np.bincount(labels.ravel(), weights=finite.ravel(), minlength=int(labels.max()) + 1)
    counts = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1)
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
)
