"""Habitat-loss, fragmentation (FRAGSTATS names) and population-status indicators."""

from habitat.indicators.change import annual_rate, change_map, effective_mesh_size, habitat_change
from habitat.indicators.fragmentation import class_metrics, landscape_metrics

__all__ = ["annual_rate", "change_map", "class_metrics", "effective_mesh_size", "habitat_change", "landscape_metrics"]
