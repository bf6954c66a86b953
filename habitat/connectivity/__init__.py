"""Least-cost and graph connectivity; circuit theory lives in :mod:`habitat.connectivity.circuit`."""

from habitat.connectivity.barriers import annulus_footprint, barrier_improvement, max_barrier_improvement
from habitat.connectivity.corridors import (
    CorridorResult,
    compute_corridors,
    connected_links,
    dispersal_cost_limit,
    dispersal_reach,
    euclidean_edge_distance,
    least_cost_distance,
    mosaic_corridors,
    normalized_corridor,
    path_length,
    path_to_line,
)
# ``cost_distance`` is the submodule, callable as the function (see its _CallableModule): importing
# the function here would hide the module and break ``habitat.connectivity.cost_distance.cost_distance``.
from habitat.connectivity import cost_distance
from habitat.connectivity.cost_distance import (
    cost_distance_backlink,
    least_cost_path,
    neighbour_offsets,
    trace_least_cost_path,
)
from habitat.connectivity.graph import (
    distance_matrix_from_links,
    equivalent_connectivity,
    graph_components,
    integral_index_of_connectivity,
    patch_importance_iic,
    patch_importance_pc,
    probability_of_connectivity,
    reachable_pairs,
    unreachable_pairs,
)
from habitat.connectivity.resistance import (
    apply_barrier,
    linear_resistance,
    negative_exponential_resistance,
    resistance_from_suitability,
    typical_resistance,
)

__all__ = [
    "CorridorResult", "annulus_footprint", "apply_barrier", "barrier_improvement", "compute_corridors",
    "cost_distance", "cost_distance_backlink", "distance_matrix_from_links", "equivalent_connectivity",
    "euclidean_edge_distance", "graph_components", "integral_index_of_connectivity", "least_cost_distance",
    "least_cost_path", "linear_resistance", "max_barrier_improvement", "mosaic_corridors",
    "negative_exponential_resistance", "neighbour_offsets", "normalized_corridor", "patch_importance_iic",
    "patch_importance_pc", "path_length", "path_to_line", "probability_of_connectivity",
    "resistance_from_suitability", "trace_least_cost_path",
    "connected_links", "dispersal_cost_limit", "dispersal_reach", "reachable_pairs", "typical_resistance",
    "unreachable_pairs",
]
