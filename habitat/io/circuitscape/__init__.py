"""Circuitscape files: INI jobs, ASCII/GeoTIFF grids and text tables in, Circuitscape's outputs out.

The circuit computations live in :mod:`habitat.connectivity.circuit`; this package reads and
writes the files a Circuitscape job names and drives those computations.
"""

from .job import run_job

__all__ = ["run_job"]
