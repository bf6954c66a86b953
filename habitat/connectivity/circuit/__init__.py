"""Circuit-theory connectivity (Circuitscape-compatible engine): computations only.

Circuitscape INI jobs and grid files are read and written by :mod:`habitat.io.circuitscape`.
"""

from .currents import branch_currents, node_currents
from .graph import (
                    build_adjacency,
                    build_node_map,
                    components,
                    conductance_from_raster,
                    laplacian,
)
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
    "solve_sources_grounds",
]


def __getattr__(name: str):
    # run_job reads and writes Circuitscape files: it lives in habitat.io.circuitscape now;
    # kept reachable here for callers written before the move
    if name == "run_job":
        from habitat.io.circuitscape import run_job

        return run_job
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
