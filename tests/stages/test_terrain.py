"""Terrain on the tiny project (a V-shaped valley DEM, conftest.write_terrain_and_places) on a grid
that shares the data's CRS: ingest layers and valley floodplain, the suitability terrain
memberships and the resistance terrain costs, with answers derived by hand."""

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import yaml

from habitat.connectivity.resistance import resistance_from_suitability
from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, UTM, write_project, write_terrain_and_places  # noqa: E402

# grid = source rows 2..21, columns 2..27; the river is source row 12 = grid row 10
ROWS = np.arange(2, 22)


def _project(tmp_path: Path, **stages) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 100})
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    extra = write_terrain_and_places(pipeline.parent / "data")
    extra["elevation"]["resampling"] = "nearest"  # aligned grids: the DEM's own values
    data["inputs"].update(extra)
    data["stages"].update(stages)
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def _read(out: Path, stage: str, name: str) -> np.ndarray:
    with rasterio.open(out / stage / f"{name}.tif") as ds:
        values = ds.read(1).astype(np.float64)
        if ds.nodata is not None and not math.isnan(ds.nodata):
            values[values == ds.nodata] = np.nan
        return values


def _expected_elevation() -> np.ndarray:
    z = np.repeat((300.0 + 5.0 * np.abs(ROWS - 12))[:, None], 26, axis=1)
    z[ROWS < 4] = 1800.0
    z[18:20, 23:26] = np.nan  # source rows 20-21, columns 25-27
    return z


def test_ingest_writes_elevation_height_above_river_and_the_valley_floodplain(tmp_path):
    out = tmp_path / "out"
    run_pipeline(_project(tmp_path), out, to_stage="ingest")
    z = _expected_elevation()
    np.testing.assert_array_equal(_read(out, "ingest", "elevation_m"), z)
    # the river cells lie at 300 m: height = 5 m per row away from grid row 10; 1,500 m on the mountain
    np.testing.assert_array_equal(_read(out, "ingest", "height_above_river_m"), z - 300.0)
    # buffer 100 m = grid rows 9-11; valley floor (<= 10 m above the river, within 30 km) adds rows 8 and 12
    expected = np.zeros((20, 26), np.uint8)
    expected[8:13] = 1
    np.testing.assert_array_equal(_read(out, "ingest", "floodplain"), expected)
    slope = _read(out, "ingest", "slope_deg")
    # Horn on the V: 0 on the river row (symmetric), atan(5 / 100) on the sides of the valley floor
    np.testing.assert_allclose(slope[10, 5:20], 0.0, atol=1e-12)
    np.testing.assert_allclose(slope[12, 5:20], math.degrees(math.atan(0.05)), rtol=1e-6)
    report = pd.read_csv(out / "ingest" / "ingest_report.csv").set_index("key")
    assert report.loc["inputs.elevation", "cells"] == 20 * 26 - 6  # six cells outside the DEM


def test_terrain_memberships_multiply_suitability_and_costs_multiply_resistance(tmp_path):
    out = tmp_path / "out"
    run_pipeline(_project(tmp_path, suitability={}, patches={}, resistance={}), out, to_stage="resistance")
    terrain = _read(out, "suitability", "membership_terrain")
    # valley floor: altitude 1 (<= 1,000 m), slope <= 3 degrees, height <= 10 m -> 1
    np.testing.assert_array_equal(terrain[8:13, 5:20], 1.0)
    # grid row 15: 325 m, 25 m above the river -> (60 - 25) / 50 = 0.7; slope atan(0.05) = 2.86 deg -> 1
    np.testing.assert_allclose(terrain[15, 5:20], 0.7, rtol=1e-6)
    # the 1,800 m block -> altitude 0; cells outside the DEM keep their score (1)
    np.testing.assert_array_equal(terrain[0:2], 0.0)
    np.testing.assert_array_equal(terrain[18:20, 23:26], 1.0)
    suit = _read(out, "suitability", "suitability")
    assert (suit[0:2] == 0).all()
    # resistance = transform(suitability) x (1 + 11.3 sin slope) x altitude factor on desert cells
    classes = _read(out, "ingest", "habitat_class_current")
    base = resistance_from_suitability(suit, transform="negative_exponential", shape=6.907755,
                                       min_resistance=1.0, max_resistance=1000.0)
    ratio = _read(out, "resistance", "resistance") / base
    desert = classes == 8
    row15 = desert[15]
    np.testing.assert_allclose(ratio[15][row15], 1 + 11.3 * math.sin(math.atan(0.05)), rtol=1e-5)
    # row 0 is flat (1,800 m on both sides, the edge extrapolated): the altitude factor alone,
    # 100 ** ((1,800 - 1,000) / (2,000 - 1,000)) = 100 ** 0.8
    np.testing.assert_allclose(ratio[0][desert[0]], 100.0**0.8, rtol=1e-5)
    # outside the DEM: the base resistance ('keep')
    np.testing.assert_allclose(ratio[18:20, 23:26][desert[18:20, 23:26]], 1.0, rtol=1e-6)
