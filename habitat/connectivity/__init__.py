"""Least-cost and graph connectivity; circuit theory lives in :mod:`habitat.connectivity.circuit`."""

from habitat._lazy import lazy_exports

# Names load their submodule on first use (PEP 562): a circuit job imports
# habitat.connectivity.circuit without paying for xarray, pandas and the least-cost kernels
# (about 1 s of start-up). ``cost_distance`` is not listed: it resolves to the submodule,
# callable as the function (see its _CallableModule).
_WHERE = {
    "CorridorResult": "corridors",
    "annulus_footprint": "barriers",
    "apply_barrier": "resistance",
    "barrier_improvement": "barriers",
    "compute_corridors": "corridors",
    "connected_links": "corridors",
    "cost_distance_backlink": "cost_distance",
    "dispersal_cost_limit": "corridors",
    "dispersal_reach": "corridors",
    "distance_matrix_from_links": "graph",
    "equivalent_connectivity": "graph",
    "euclidean_edge_distance": "corridors",
    "graph_components": "graph",
    "integral_index_of_connectivity": "graph",
    "least_cost_distance": "corridors",
    "least_cost_path": "cost_distance",
    "linear_resistance": "resistance",
    "max_barrier_improvement": "barriers",
    "mosaic_corridors": "corridors",
    "negative_exponential_resistance": "resistance",
    "neighbour_offsets": "cost_distance",
    "normalized_corridor": "corridors",
    "patch_importance_iic": "graph",
    "patch_importance_pc": "graph",
    "path_length": "corridors",
    "path_to_line": "corridors",
    "probability_of_connectivity": "graph",
    "reachable_pairs": "graph",
    "resistance_from_suitability": "resistance",
    "trace_least_cost_path": "cost_distance",
    "typical_resistance": "resistance",
    "unreachable_pairs": "graph",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
