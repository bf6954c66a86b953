"""Habitat suitability: membership functions, combination, AHP, threat quality, patches."""

from habitat.suitability.ahp import AHPResult, ahp_weights
from habitat.suitability.combine import (
    COMBINATION_METHODS,
    apply_constraints,
    combine_memberships,
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    weighted_geometric_mean,
    weighted_linear,
)
from habitat.suitability.membership import (
    MEMBERSHIP_FUNCTIONS,
    apply_membership,
    class_scores,
    cover_within_radius,
    exponential_decay,
    fuzzy_gaussian,
    fuzzy_large,
    fuzzy_linear,
    fuzzy_near,
    fuzzy_small,
)
from habitat.suitability.patches import core_mask, habitat_mask, label_patches, patch_polygons, patch_table
from habitat.suitability.quality import (
    degradation_halo_cells,
    habitat_quality,
    habitat_rarity,
    threat_decay,
    threat_degradation,
    threat_distance,
)

__all__ = [
    "AHPResult", "COMBINATION_METHODS", "MEMBERSHIP_FUNCTIONS", "ahp_weights", "apply_constraints",
    "apply_membership", "class_scores", "combine_memberships", "core_mask", "cover_within_radius",
    "degradation_halo_cells", "exponential_decay", "fuzzy_and", "fuzzy_gamma", "fuzzy_gaussian", "fuzzy_large",
    "fuzzy_linear", "fuzzy_near", "fuzzy_or", "fuzzy_product", "fuzzy_small", "fuzzy_sum", "habitat_mask",
    "habitat_quality", "habitat_rarity", "label_patches", "patch_polygons", "patch_table", "threat_decay",
    "threat_degradation", "threat_distance", "weighted_geometric_mean", "weighted_linear",
]
