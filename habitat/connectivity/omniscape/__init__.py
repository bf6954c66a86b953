"""Omniscape-compatible moving-window connectivity (cumulative current, flow potential)."""

from .engine import (
    Condition,
    OmniscapeResult,
    estimate_memory_bytes,
    omniscape,
    omniscape_dataset,
    reclassify,
    source_from_resistance,
)
from .window import correction_array, targets, window_currents

__all__ = [
    "Condition", "OmniscapeResult", "estimate_memory_bytes", "correction_array", "omniscape", "omniscape_dataset", "reclassify",
    "source_from_resistance", "targets", "window_currents",
]
