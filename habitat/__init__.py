"""habitat: habitat and corridor analysis for the Bukhara deer."""

from __future__ import annotations

__version__ = "0.1.0"
