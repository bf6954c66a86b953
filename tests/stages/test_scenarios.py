"""Scenarios through the pipeline on a tiny grid (hand-derived).

Land cover: desert everywhere, the river in source row 12 and one tugai strip in row 11 (the
only habitat: with a 150 m floodplain it is tugai forest). Grid: source columns 2..27, rows
2..21 (26 x 20 cells of 1 ha). Units: West (AA) = source columns 0..14, East (BB) = 15..29.
Populations: P2 (west) in column 5, P1 (east) in column 20, both on the strip.

Scenario ``dam``: a reservoir across the whole valley in source columns 12..15 turns those cells to
water (impassable here). The strip splits into a west patch (columns 2..11, 10 ha) and an east
patch (16..27, 12 ha) whose nearest cell centres are 500 m apart. With a 20 m median dispersal
distance the link is dropped (p = 1e-6 at 20 ln(1e-6)/ln(0.5) = 399 m < 500 m), so ECA falls from
26 ha (one patch) to sqrt(10^2 + 12^2) = sqrt(244) ha, and the P1-P2 link is lost.
Scenario ``dam_bridge``: the same reservoir and a crossing line along row 11 over it.
Scenario ``fence``: a barrier line in the north-west desert, far from the strip: only the
resistance and what follows from it change, so suitability, patches and indicators are reused.
"""

import json
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import COLS, ORIGIN_X, ORIGIN_Y, RES, ROWS, UTM, write_landcover, write_project

SCORES = {"tugai_forest": 1.0, "tugai_shrub": 0.8, "reed_wetland": 0.6, "water": 0.3, "grassland": 0.2,
          "cropland": 0.1, "built": 0.9, "bare": 0.2, "snow": 0.0, "other": 0.1}


def _project(tmp_path: Path) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data_dir = pipeline.parent / "data"
    codes = np.full((ROWS, COLS), 60, np.uint8)
    codes[11, :] = 10
    codes[12, :] = 80
    for name in ("lc_2000.tif", "lc_2020.tif"):
        write_landcover(data_dir / name, codes)
    y11 = ORIGIN_Y - 11.5 * RES
    gpd.GeoDataFrame({"site_id": ["P1", "P2"], "name": ["East", "West"], "count": [10, 10]},
                     geometry=[shapely.Point(ORIGIN_X + 2050, y11), shapely.Point(ORIGIN_X + 550, y11)],
                     crs=UTM).to_file(data_dir / "populations.gpkg")
    gpd.GeoDataFrame({"name": ["reservoir"]},
                     geometry=[shapely.box(ORIGIN_X + 1200, ORIGIN_Y - ROWS * RES, ORIGIN_X + 1600, ORIGIN_Y)],
                     crs=UTM).to_file(data_dir / "reservoir.gpkg")
    gpd.GeoDataFrame({"name": ["bridge"]},
                     geometry=[shapely.LineString([(ORIGIN_X + 1150, y11), (ORIGIN_X + 1650, y11)])],
                     crs=UTM).to_file(data_dir / "bridge.gpkg")
    gpd.GeoDataFrame({"name": ["fence"]},
                     geometry=[shapely.LineString([(ORIGIN_X + 300, ORIGIN_Y - 350), (ORIGIN_X + 800, ORIGIN_Y - 350)])],
                     crs=UTM).to_file(data_dir / "fence.gpkg")
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    del data["inputs"]["tugai"]
    data["stages"].update({
        "suitability": {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                        "weights": {"habitat_class": 1.0}, "ahp": None, "floodplain_only": False},
        "patches": {"threshold": 0.6, "min_patch_area_ha": 0},
        "resistance": {"barrier_classes": {"water": None}},
        "connectivity": {"core_radius_m": 200, "barrier_radii_m": [100]},
        "indicators": {"graph_min_patch_ha": 0, "dispersal_distance_m": 20},
    })
    data["scenarios"] = {
        "dam": [{"kind": "landcover", "path": "data/reservoir.gpkg", "to_class": "water", "name": "reservoir"}],
        "fence": [{"kind": "barrier", "path": "data/fence.gpkg"}],
        "dam_bridge": [{"kind": "landcover", "path": "data/reservoir.gpkg", "to_class": "water"},
                       {"kind": "crossing", "path": "data/bridge.gpkg", "resistance": 1.0}],
    }
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def test_a_dam_across_the_only_link_splits_the_patch_and_lowers_eca(tmp_path):
    pipeline = _project(tmp_path)
    out = tmp_path / "out"
    result = run_pipeline(pipeline, out)
    table = pd.read_csv(out / "scenarios" / "comparison.csv")
    assert table[["scenario", "unit_id"]].values.tolist() == [
        [name, unit] for name in ("baseline", "dam", "dam_bridge", "fence") for unit in ("ALL", "AA", "BB")]
    dam = table[table["scenario"] == "dam"].set_index("unit_id")
    # habitat: 26 ha -> 22 ha; West 13 -> 10 (columns 2..14 -> 2..11), East 13 -> 12 (15..27 -> 16..27)
    np.testing.assert_allclose(dam["habitat_area_ha"], [22, 10, 12])
    np.testing.assert_allclose(dam["ECA_ha"], [math.sqrt(244), 10, 12])
    np.testing.assert_allclose(dam["ECA_change_ha"], [math.sqrt(244) - 26, -3, -1])
    np.testing.assert_allclose(dam.loc["ALL", "dECA_pct"], 100 * (math.sqrt(244) - 26) / 26)
    assert dam["links_lost"].tolist() == [1, 1, 1] and dam["links_connected"].tolist() == [0, 0, 0]
    # the reservoir: source columns 12..15 over all 20 grid rows, minus the river cells (already water)
    assert dam.loc["ALL", "cells_changed"] == 4 * 20 - 4
    base = table[table["scenario"] == "baseline"]
    assert base["links_connected"].tolist() == [1, 1, 1] and (base["ECA_change_ha"] == 0).all()
    long = pd.read_csv(out / "scenarios" / "dam" / "indicators" / "indicators.csv")
    patches = long[(long["unit_id"] == "ALL") & (long["indicator"] == "graph_patches")]["value"]
    # the scenario edits the current epoch only: one patch in 2000, two in 2020
    assert patches.tolist() == [1.0, 2.0, 1.0]

    # a bridge along the strip over the reservoir (row 11, columns 11..16) lets the deer cross: the
    # link is back, the habitat and ECA stay as with the dam alone
    bridge = table[table["scenario"] == "dam_bridge"].set_index("unit_id")
    assert bridge["links_lost"].tolist() == [0, 0, 0] and bridge["links_connected"].tolist() == [1, 1, 1]
    np.testing.assert_allclose(bridge["ECA_ha"], dam["ECA_ha"])
    record = json.loads((out / "scenarios" / "dam_bridge" / "ingest" / "_stage.json").read_text())
    assert "scenario_crossings" in record["outputs"] and "scenario_barriers" not in record["outputs"]

    # the fence changes only the resistance: the stages before it are taken from the baseline
    cached = {r.id: r.cached for r in result.stages}
    assert cached["fence/ingest"] is False and cached["fence/resistance"] is False
    assert cached["fence/suitability"] and cached["fence/patches"] and cached["fence/indicators"]
    assert not cached["dam/suitability"]
    # dam_bridge has the dam's classes: suitability and patches come from the dam's folder
    assert cached["dam_bridge/suitability"] and cached["dam_bridge/patches"] and cached["dam_bridge/indicators"]
    assert not cached["dam_bridge/resistance"]
    fence = table[table["scenario"] == "fence"]
    np.testing.assert_allclose(fence["ECA_ha"], [26, 13, 13])
    record = json.loads((out / "scenarios" / "fence" / "ingest" / "_stage.json").read_text())
    assert "scenario_barriers" in record["outputs"]

    # a second run reuses every stage of every scenario
    again = run_pipeline(pipeline, out)
    assert all(r.cached for r in again.stages)
