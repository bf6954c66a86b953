"""A tiny report input: 24 x 30 cells of 100 m on the default grid, near 42.5 N, 68 E."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from habitat.grid import GridSpec
from habitat.report.build import ReportData

XSS = "<script>alert(1)</script>"


def tiny_grid() -> GridSpec:
    return GridSpec.from_bounds((0.0, 280_000.0, 3000.0, 282_400.0), "default", 100.0)


def tiny_data(*, name: str = XSS) -> ReportData:
    grid = tiny_grid()
    rows, cols = grid.shape
    suit = np.tile(np.linspace(0.0, 1.0, cols, dtype=np.float32), (rows, 1))
    suit[0, 0] = np.nan
    before = np.full(grid.shape, 8, np.uint8)
    before[8:16, :] = 1
    after = before.copy()
    after[8:16, :10] = 6  # tugai turned to cropland in the west
    after[4:6, 20:] = 2  # new shrub in the north-east
    crs = grid.pyproj_crs
    pops = gpd.GeoDataFrame({"site_id": ["P1"], "site_name": [name], "count": [40]},
                            geometry=[shapely.Point(1050, 281_150)], crs=crs)
    units = gpd.GeoDataFrame({"unit_index": [1, 2], "unit_id": ["AA", "BB"], "unit_name": ["West", "East"]},
                             geometry=[shapely.box(0, 280_000, 1500, 282_400), shapely.box(1500, 280_000, 3000, 282_400)],
                             crs=crs)
    sites = gpd.GeoDataFrame({"site_id": ["S1", "S2"], "rank": [1, 2], "score": [0.91, 0.55],
                              "explanation": ["large tugai patch far from roads", "close to a canal"]},
                             geometry=[shapely.Point(2550, 281_650), shapely.Point(550, 280_550)], crs=crs)
    manifest = {
        "habitat_version": "0.1.0", "grid": grid.to_dict(), "pipeline": {"name": "tiny", "file": "p.yaml", "sha256": "ab"},
        "input_files": {"inputs.populations.path": {"path": "pops.gpkg", "sha256": "c0ffee"}},
        "stages": {"ingest": {"version": "1", "key": "k", "params": {"note": name}, "inputs": {"x": "1234"},
                              "outputs": {}, "log": []}},
    }
    return ReportData(
        grid=grid,
        rasters={"suitability": suit, "habitat_class_baseline": before, "habitat_class_current": after},
        vectors={"populations": pops, "reporting_units": units, "sites": sites},
        tables={"site_ranking": pd.DataFrame({"rank": [2, 1], "site_id": ["S2", "S1"], "name": ["b", name]})},
        manifest=manifest, years={"habitat_class_baseline": 2000, "habitat_class_current": 2020},
    )


@pytest.fixture
def report_data() -> ReportData:
    return tiny_data()


@pytest.fixture
def make_report_data():
    """The builder of the tiny report input (keyword ``name``: the population's name)."""
    return tiny_data
