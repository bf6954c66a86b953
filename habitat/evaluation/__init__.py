"""Model evaluation against known presence places (METHODS.md section 10)."""

from habitat.evaluation.boyce import BoyceResult, continuous_boyce, spearman
from habitat.evaluation.places import (
    BOTTOM_HALF_PERCENTILE,
    REFERENCE_KINDS,
    percentile_among,
    place_table,
    place_values,
)

__all__ = [
    "BOTTOM_HALF_PERCENTILE",
    "REFERENCE_KINDS",
    "BoyceResult",
    "continuous_boyce",
    "percentile_among",
    "place_table",
    "place_values",
    "spearman",
]
