"""Circuit-theory connectivity (Circuitscape-compatible engine)."""

from .currents import branch_currents, node_currents
from .graph import (
                    build_adjacency,
                    build_node_map,
                    components,
                    conductance_from_raster,
                    laplacian,
)
from .job import run_job
from .ordering import nested_dissection_order, node_coordinates
from .solve import (
                    PairSolution,
                    pairwise_resistances,
                    resolve_sources_grounds,
                    solve_sources_grounds,
)
from .solvers import GroundedSolver, choose_method, estimate_memory_bytes

__all__ = [
    "GroundedSolver", "PairSolution", "branch_currents", "build_adjacency", "build_node_map",
    "choose_method", "components", "conductance_from_raster", "estimate_memory_bytes",
    "laplacian", "nested_dissection_order", "node_coordinates", "node_currents", "pairwise_resistances", "resolve_sources_grounds",
    "run_job", "solve_sources_grounds",
]
