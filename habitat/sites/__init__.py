"""Candidate reintroduction sites: hard criteria, ranking, sensitivity, trade-offs, explanations.

The names below are loaded on first use (PEP 562), so that importing one submodule, e.g.
``habitat.sites.candidates`` for its column list when validating a pipeline, loads only that one.
"""

from __future__ import annotations

from habitat._lazy import lazy_exports

#: Submodule that defines each public name.
_SOURCES = {
    "HardCriterion": "criteria", "ScreeningResult": "criteria", "evaluate_hard_criteria": "criteria",
    "min_usable_area_ha": "criteria", "parse_hard_criteria": "criteria", "screen_candidates": "criteria",
    "criterion_label": "explain", "explain_site": "explain", "explain_top_sites": "explain",
    "pareto_dominance": "pareto",
    "Criterion": "ranking", "normalize_criteria": "ranking", "parse_criteria": "ranking",
    "rank_order": "ranking", "score_sites": "ranking",
    "MonteCarloResult": "sensitivity", "monte_carlo_weights": "sensitivity", "one_at_a_time": "sensitivity",
    "spearman_rho": "sensitivity",
}

__all__ = [
    "Criterion", "HardCriterion", "MonteCarloResult", "ScreeningResult", "criterion_label",
    "evaluate_hard_criteria", "explain_site", "explain_top_sites", "min_usable_area_ha", "monte_carlo_weights",
    "normalize_criteria", "one_at_a_time", "parse_criteria", "parse_hard_criteria", "pareto_dominance",
    "rank_order", "score_sites", "screen_candidates", "spearman_rho",
]


__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
