"""Shipped defaults with their provenance: land-cover crosswalks and default stage parameters.

The files ship inside the package (package data), so an installed wheel finds them the same
way as a checkout; ``config/`` at the top of the repository links here.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding ``landcover/`` (crosswalk CSVs) and ``suitability/`` (default parameters).
DEFAULTS_DIR = Path(__file__).resolve().parent


def default_file(*parts: str) -> Path:
    """Path of a shipped default file, e.g. ``default_file("suitability", "defaults.yaml")``."""
    return DEFAULTS_DIR.joinpath(*parts)
