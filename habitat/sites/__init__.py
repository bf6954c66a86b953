"""Candidate reintroduction sites: hard criteria, ranking, sensitivity, trade-offs, explanations."""

from habitat.sites.criteria import (
    HardCriterion,
    ScreeningResult,
    evaluate_hard_criteria,
    min_usable_area_ha,
    parse_hard_criteria,
    screen_candidates,
)
from habitat.sites.explain import criterion_label, explain_site, explain_top_sites
from habitat.sites.pareto import pareto_dominance
from habitat.sites.ranking import Criterion, normalize_criteria, parse_criteria, rank_order, score_sites
from habitat.sites.sensitivity import MonteCarloResult, monte_carlo_weights, one_at_a_time, spearman_rho

__all__ = [
    "Criterion", "HardCriterion", "MonteCarloResult", "ScreeningResult", "criterion_label",
    "evaluate_hard_criteria", "explain_site", "explain_top_sites", "min_usable_area_ha", "monte_carlo_weights",
    "normalize_criteria", "one_at_a_time", "parse_criteria", "parse_hard_criteria", "pareto_dominance",
    "rank_order", "score_sites", "screen_candidates", "spearman_rho",
]
