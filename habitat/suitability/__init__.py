"""Habitat suitability: membership functions, combination, AHP, threat quality, patches.

The names below are loaded on first use (PEP 562), so that importing one submodule, e.g.
``habitat.suitability.ahp`` for validating a pipeline, does not load xarray and dask.
"""

from __future__ import annotations

from habitat._lazy import lazy_exports

#: Submodule that defines each public name.
_SOURCES = {
    "AHPResult": "ahp", "ahp_weights": "ahp",
    "compose_suitability": "compose",
    "COMBINATION_METHODS": "combine", "apply_constraints": "combine", "combine_memberships": "combine",
    "fuzzy_and": "combine", "fuzzy_gamma": "combine", "fuzzy_or": "combine", "fuzzy_product": "combine",
    "fuzzy_sum": "combine", "weighted_geometric_mean": "combine", "weighted_linear": "combine",
    "MEMBERSHIP_FUNCTIONS": "membership", "apply_membership": "membership", "class_scores": "membership",
    "cover_within_radius": "membership", "exponential_decay": "membership", "fuzzy_gaussian": "membership",
    "fuzzy_large": "membership", "fuzzy_linear": "membership", "fuzzy_near": "membership",
    "fuzzy_small": "membership",
    "core_mask": "patches", "habitat_mask": "patches", "label_patches": "patches",
    "patch_polygons": "patches", "patch_table": "patches",
    "degradation_halo_cells": "quality", "habitat_quality": "quality", "habitat_rarity": "quality",
    "threat_decay": "quality", "threat_degradation": "quality", "threat_distance": "quality",
}

__all__ = [
    "AHPResult", "COMBINATION_METHODS", "MEMBERSHIP_FUNCTIONS", "ahp_weights", "apply_constraints",
    "apply_membership", "class_scores", "combine_memberships", "compose_suitability", "core_mask", "cover_within_radius",
    "degradation_halo_cells", "exponential_decay", "fuzzy_and", "fuzzy_gamma", "fuzzy_gaussian", "fuzzy_large",
    "fuzzy_linear", "fuzzy_near", "fuzzy_or", "fuzzy_product", "fuzzy_small", "fuzzy_sum", "habitat_mask",
    "habitat_quality", "habitat_rarity", "label_patches", "patch_polygons", "patch_table", "threat_decay",
    "threat_degradation", "threat_distance", "weighted_geometric_mean", "weighted_linear",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
