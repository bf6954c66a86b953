"""Effective resistance between focal cells of a resistance raster (Circuitscape pairwise mode)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .currents import node_currents
from .graph import build_adjacency, build_node_map, conductance_from_raster
from .ordering import node_coordinates
from .gridamg import raster_component
from .solve import pairwise_resistances, raster_multigrid_resistances


def effective_resistance_matrix(
    resistance: np.ndarray,
    cells: list[tuple[int, int] | None],
    *,
    neighbours: Literal[4, 8] = 8,
    average: Literal["conductance", "resistance"] = "conductance",
    solver: Literal["auto", "direct", "amg", "multigrid"] = "auto",
    with_current: bool = False,
    exclude: set[tuple[int, int]] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Effective resistance (ohm) between focal cells of a resistance raster, pairwise.

    Each cell's resistance is in ohms (cell size is not used, as in Circuitscape); NaN and
    inf are not part of the circuit. ``neighbours`` are the cell connections, ``average`` the
    edge weight rule (mean conductance, Circuitscape's default, or mean resistance) and
    ``solver`` the linear solver. Returns the ``k x k`` matrix (-1 where not connected or the
    cell is None) and, with ``with_current``, the cumulative current map over all pairs (1 A
    per pair; NaN off the circuit). ``exclude`` holds position pairs ``(i, j)``, ``i < j``, not to
    solve (-1 in the matrix): populations beyond the dispersal limit
    (:func:`habitat.connectivity.graph.unreachable_pairs`), or pairs not needed (the sites
    stage's candidate pairs): with ``solver="multigrid"`` the solver then keeps the solutions
    of fewer points (:func:`habitat.connectivity.circuit.solve.pairwise_resistances`).

    ``solver="multigrid"`` without ``with_current`` solves each component of at least
    ``MULTIGRID_MIN_NODES`` cells from the cells themselves, without building the graph
    (:func:`habitat.connectivity.circuit.solve.raster_multigrid_resistances`); the graph is
    built only for the focal points of smaller components (solved as ``auto`` solves them).
    """
    conductance = conductance_from_raster(resistance, is_resistance=True)
    if solver == "multigrid" and not with_current:
        matrix, rest = raster_multigrid_resistances(
            conductance, list(cells), exclude=exclude, four_neighbors=neighbours == 4,
            avg_resistance=average == "resistance")
        if rest:  # small components: the graph and the auto path, of their cells only
            own = np.zeros(conductance.shape, dtype=bool)
            for p in rest:
                if not own[cells[p][0], cells[p][1]]:
                    own |= raster_component(conductance, cells[p], four_neighbors=neighbours == 4)[0]
            sub, _ = effective_resistance_matrix(
                np.where(own, resistance, np.nan), [c if p in rest else None for p, c in enumerate(cells)],
                neighbours=neighbours, average=average, solver="auto", exclude=exclude)
            matrix[np.ix_(rest, rest)] = sub[np.ix_(rest, rest)]
        return matrix, None
    node_map = build_node_map(conductance)
    if not (node_map > 0).any():  # nothing passable (e.g. no pair within dispersal reach): no circuit
        none = -np.ones((len(cells), len(cells)))
        np.fill_diagonal(none, 0.0)
        return none, (np.full(np.shape(resistance), np.nan) if with_current else None)
    adjacency = build_adjacency(conductance, node_map, four_neighbors=neighbours == 4,
                                avg_resistance=average == "resistance")
    focal = [int(node_map[c]) - 1 if c is not None else -1 for c in cells]
    cumulative = np.zeros(adjacency.shape[0])

    def add_currents(solution) -> None:
        cumulative[solution.nodes] += node_currents(solution.adjacency, solution.voltages)

    matrix = (pairwise_resistances(adjacency, focal, exclude=exclude, on_pair=add_currents if with_current else None,
                                   method=solver, node_coords=node_coordinates(node_map))
              if len(focal) >= 2 else -np.ones((len(focal), len(focal))))
    if not with_current:
        return matrix, None
    return matrix, np.where(node_map > 0, cumulative[np.maximum(node_map - 1, 0)], np.nan)
