"""Model evaluation against known presence places (METHODS.md section 10)."""

from habitat.evaluation.boyce import BoyceResult, continuous_boyce, spearman
from habitat.evaluation.evaluate import TOP_QUARTILE_PERCENTILE, Evaluation, evaluate_places
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
    "Evaluation",
    "TOP_QUARTILE_PERCENTILE",
    "continuous_boyce",
    "evaluate_places",
    "percentile_among",
    "place_table",
    "place_values",
    "spearman",
]
