"""The indicators stage on the tiny project, on a grid aligned with the data (hand-derived).

Grid: source columns 2..27 and rows 2..21 (26 x 20 cells of 1 ha). With a 150 m floodplain the
tree rows 11 and 13 are tugai forest; they are grid rows 9 and 11, full width, in 2000. In 2020
cropland takes source columns 0..7 of row 13, i.e. grid row 11, columns 0..5 (6 ha lost).
Units: West (AA) = grid columns 0..12, East (BB) = 13..25 (260 ha each); a protected area over
columns 0..7 (160 ha); P1's 250 m disc = 21 cells around grid row 11, column 18.
"""

import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, ROWS, UTM, write_project

SCORES = {"tugai_forest": 1.0, "tugai_shrub": 0.8, "reed_wetland": 0.6, "water": 0.3, "grassland": 0.2,
          "cropland": 0.1, "built": 0.9, "bare": 0.05, "snow": 0.0, "other": 0.1}
P = 0.5 ** (200 / 5000)  # dispersal probability between the two strips, 200 m apart


def _run(tmp_path: Path, indicators: dict | None = None) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data_dir = pipeline.parent / "data"
    gpd.GeoDataFrame({"pa_id": [1], "name": ["Reserve"]},
                     geometry=[shapely.box(ORIGIN_X, ORIGIN_Y - ROWS * 100, ORIGIN_X + 1000, ORIGIN_Y)],
                     crs=UTM).to_file(data_dir / "pas.gpkg")
    (data_dir / "census.csv").write_text("site_id,year,count,method,source\nP1,2000,20,c,s\nP1,2010,30,c,s\n"
                                         "P1,2020,40,c,s\n")
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    data["inputs"]["protected_areas"] = {"path": "data/pas.gpkg"}
    data["inputs"]["census"] = {"path": "data/census.csv"}
    data["stages"]["suitability"] = {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                                     "weights": {"habitat_class": 1.0}, "ahp": None}
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0, "edge_depth_m": 100, "density_per_km2": 5}
    data["stages"]["indicators"] = indicators if indicators is not None else {
        "population_buffer_m": 250, "graph_min_patch_ha": 0}
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    return out


def _values(long: pd.DataFrame, indicator: str, epoch: str) -> np.ndarray:
    rows = long[(long["indicator"] == indicator) & (long["epoch"].astype(str) == epoch)]
    assert rows["unit_id"].astype(str).tolist() == ["ALL", "AA", "BB", "1", "P1"]
    return rows["value"].to_numpy(np.float64)


def test_indicators_by_hand(tmp_path):
    out = _run(tmp_path)
    long = pd.read_csv(out / "indicators" / "indicators.csv")
    assert long["unit_type"].drop_duplicates().tolist() == [
        "study_area", "range_state", "protected_area", "population_area"]
    period = "2000-2020"
    #                                ALL    AA     BB     PA1    P1
    expected = {
        ("unit_area_ha", period):    [520,   260,   260,   160,   21],
        ("habitat_area_ha", "2000"): [52,    26,    26,    16,    8],
        ("habitat_area_ha", "2020"): [46,    20,    26,    10,    8],
        ("habitat_loss_ha", period): [6,     6,     0,     6,     0],
        ("habitat_gain_ha", period): [0,     0,     0,     0,     0],
        ("habitat_net_ha", period):  [-6,    -6,    0,     -6,    0],
        ("habitat_loss_pct", period): [600 / 52, 600 / 26, 0, 37.5, 0],
        ("annual_rate_per_yr", period): [math.log(46 / 52) / 20, math.log(20 / 26) / 20, 0,
                                         math.log(10 / 16) / 20, 0],
        ("habitat_share_pct", "2020"): [4600 / 520, 2000 / 260, 10, 6.25, 800 / 21],
        ("habitat_protected_pct", "2000"): [16 / 52 * 100, 16 / 26 * 100, 0, 100, 0],
        ("habitat_protected_pct", "2020"): [10 / 46 * 100, 50, 0, 100, 0],
        ("NP", "2000"):              [2,     2,     2,     2,     2],
        ("LPI", "2000"):             [26 / 520 * 100, 5, 5, 5, 5 / 21 * 100],
        # edge sides against non-habitat inside the unit (unit and raster boundary not counted)
        ("ED", "2000"):              [20, 20, 20, 20, 1300 / 21],
        ("ED", "2020"):              [9300 / 520, 4100 / 260, 20, 2100 / 160, 1300 / 21],
        ("AREA_MN", "2020"):         [23,    10,    13,    5,     4],
        ("TCA", "2000"):             [0,     0,     0,     0,     0],  # one-cell strips are all edge
        ("MESH_CUT", "2000"):        [2 * 26**2 / 520, 2 * 13**2 / 260, 1.3, 128 / 160, 34 / 21],
        ("MESH_CUT", "2020"):        [(26**2 + 20**2) / 520, (169 + 49) / 260, 1.3, 68 / 160, 34 / 21],
        ("MESH_CBC", "2000"):        [2 * 26**2 / 520, 2.6, 2.6, 2.6, 8 * 26 / 21],
        ("MESH_CBC", "2020"):        [(26**2 + 20**2) / 520, (13 * 26 + 7 * 20) / 260, (13 * 26 + 13 * 20) / 260,
                                      (8 * 26 + 2 * 20) / 160, (3 * 26 + 5 * 20) / 21],
        ("EC_ha", "2000"):           [math.sqrt(2 * 26**2 * (1 + P)), math.sqrt(2 * 13**2 * (1 + P)),
                                      math.sqrt(2 * 13**2 * (1 + P)), math.sqrt(2 * 8**2 * (1 + P)),
                                      math.sqrt(9 + 25 + 30 * P)],
        ("EC_ha", "2020"):           [math.sqrt(26**2 + 20**2 + 2 * 26 * 20 * P),
                                      math.sqrt(13**2 + 7**2 + 2 * 13 * 7 * P), math.sqrt(2 * 13**2 * (1 + P)),
                                      math.sqrt(8**2 + 2**2 + 2 * 8 * 2 * P), math.sqrt(9 + 25 + 30 * P)],
    }
    for (indicator, epoch), want in expected.items():
        np.testing.assert_allclose(_values(long, indicator, epoch), want, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{indicator} {epoch}")
    area_ha = np.array(expected[("unit_area_ha", period)], float)
    np.testing.assert_allclose(_values(long, "PC", "2000"),
                               np.square(expected[("EC_ha", "2000")]) / area_ha**2, rtol=1e-9)
    np.testing.assert_allclose(_values(long, "NP", period), 0)

    with rasterio.open(out / "indicators" / "habitat_change.tif") as ds:
        change = ds.read(1)
        assert ds.nodata == 255
    expected_change = np.zeros((20, 26), np.uint8)
    expected_change[[9, 11], :] = 1
    expected_change[11, :6] = 2
    np.testing.assert_array_equal(change, expected_change)

    # quality-weighted area = the stage's own quality summed over the 2020 habitat cells
    with rasterio.open(out / "suitability" / "quality.tif") as ds:
        quality = ds.read(1).astype(np.float64)
    habitat = expected_change == 1
    west = np.zeros_like(habitat)
    west[:, :13] = True
    qwa = long[(long["indicator"] == "quality_weighted_area_ha")].set_index("unit_id")["value"]
    np.testing.assert_allclose([qwa["ALL"], qwa["AA"]], [quality[habitat].sum(), quality[habitat & west].sum()],
                               rtol=1e-6)

    wide = pd.read_csv(out / "indicators" / "indicators_wide.csv")
    assert wide["unit_id"].astype(str).tolist() == ["ALL", "AA", "BB", "1", "P1"]
    np.testing.assert_allclose(wide["habitat_loss_ha_2000-2020"], [6, 6, 0, 6, 0])

    dictionary = pd.read_csv(out / "indicators" / "data_dictionary.csv")
    assert set(long["indicator"]) <= set(dictionary["indicator"])


def test_population_status_and_national_report(tmp_path):
    out = _run(tmp_path)
    status = pd.read_csv(out / "indicators" / "population_status.csv")
    row = status.iloc[0]
    assert len(status) == 1 and row["site_id"] == "P1"
    # census: last count 40 in 2020; P1 lies in patch 2 (grid row 11, columns 6..25 = 20 ha, capacity 1 deer)
    assert (row["count"], row["count_year"], row["patch_id"]) == (40, 2020, 2)
    np.testing.assert_allclose(
        row[["patch_area_ha", "capacity_deer", "patch_count", "density_per_km2", "sustainable_density_per_km2",
             "stocking_ratio", "surplus_deer", "growth_rate_per_yr"]].to_numpy(float),
        [20, 1.0, 40, 200, 5, 40, 39, math.log(2) / 20])
    assert bool(row["overstocked"]) and bool(row["translocation_source"])

    report = pd.read_csv(out / "indicators" / "national_report.csv")
    assert report["range_state_id"].drop_duplicates().tolist() == ["AA", "BB"]
    west = report[report["range_state_id"] == "AA"]
    area = west[(west["section"] == "1 habitat") & (west["item"] == "habitat_area_ha")].iloc[0]
    assert (area["baseline_year"], area["current_year"]) == (2000, 2020)
    np.testing.assert_allclose(area[["baseline_value", "current_value", "change"]].to_numpy(float), [26, 20, -6])
    # the protected area (columns 0..7) and P1's disc (columns 16..20) fall in AA and BB
    assert west.loc[west["section"] == "2 protected areas", "subject_id"].astype(str).unique().tolist() == ["1"]
    east = report[report["range_state_id"] == "BB"]
    assert east.loc[east["section"] == "3 populations", "subject_id"].unique().tolist() == ["P1"]


def test_tugai_cover_source(tmp_path):
    # tugai polygons: rows 11..13 in 2000; from x0 + 800 on in 2020 (source columns 0..7 lost)
    out = _run(tmp_path, {"habitat_source": "tugai_cover", "tugai_cover_threshold": 0.5,
                          "population_buffer_m": 250})
    with rasterio.open(out / "indicators" / "habitat_change.tif") as ds:
        change = ds.read(1)
    expected = np.zeros((20, 26), np.uint8)
    expected[9:12, :] = 1
    expected[9:12, :6] = 2
    np.testing.assert_array_equal(change, expected)
    long = pd.read_csv(out / "indicators" / "indicators.csv")
    np.testing.assert_allclose(_values(long, "habitat_loss_ha", "2000-2020"), [18, 18, 0, 18, 0])


def test_one_epoch_gives_current_state_only(tmp_path):
    import yaml

    from habitat.stages.runner import run_pipeline

    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    data["inputs"]["landcover"] = data["inputs"]["landcover"][1:]
    data["stages"] = {"ingest": {"floodplain_buffer_m": 150}, "indicators": {}}
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    long = pd.read_csv(out / "indicators" / "indicators.csv")
    assert set(long["epoch"].astype(str)) == {"2020"}
    assert "habitat_loss_ha" not in set(long["indicator"])
    study = long[(long["unit_type"] == "study_area") & (long["indicator"] == "habitat_area_ha")]
    # tugai forest (1) inside the 150 m floodplain: rows 11 and 13 minus the 2020 cropland = 26 + 20 cells of 1 ha
    assert study["value"].tolist() == [46.0]
    assert not (out / "indicators" / "habitat_change.tif").exists()


def test_tca_edge_depth_in_cells_as_the_patches_stage(tmp_path):
    # A 7 x 7 tugai block on a 100 m grid, edge depth 250 m. The patches stage erodes
    # ceil(250 / 100) = 3 cells (core = the centre cell, 1 ha); TCA must use the same depth,
    # not round(2.5) = 2 (banker's rounding: a 3 x 3 core, 9 ha).
    from habitat.grid import GridSpec
    from habitat.io.landcover import HABITAT_CLASS_CODES
    from habitat.layers import make_layer
    from habitat.params import IndicatorsParams
    from habitat.stages.indicators import run_indicators
    from habitat.stages.spec import StageContext
    from habitat.suitability.patches import patch_table

    grid = GridSpec.from_bounds((0, 0, 900, 900), UTM, 100)
    classes = np.full(grid.shape, HABITAT_CLASS_CODES["bare"], np.uint8)
    classes[1:8, 1:8] = HABITAT_CLASS_CODES["tugai_forest"]
    layer = make_layer(classes, grid, name="habitat_class_current", nodata=0)
    layer.attrs["year"] = 2020
    params = IndicatorsParams(edge_depth_m=250)
    ctx = StageContext(grid=grid, params=params, inputs={"habitat_class_current": layer}, pipeline=None,
                       log=lambda _: None)
    long = run_indicators(ctx)["indicators"]
    tca = long[(long["indicator"] == "TCA") & (long["epoch"] == "2020")]["value"].to_numpy()
    np.testing.assert_allclose(tca, [1.0])
    core = patch_table((classes == HABITAT_CLASS_CODES["tugai_forest"]).astype(int), cell_size_m=100,
                       edge_depth_m=250)["core_area_ha"].to_numpy()
    np.testing.assert_allclose(core, tca)


def test_protconn_per_range_state_by_hand(tmp_path):
    # The reserve box x0..x0+1000 m over all 24 rows (240 ha). Study area = the grid box
    # (2600 x 2000 m = 520 ha) holds 800 x 2000 m of it (160 ha); the rest touches it (a
    # transboundary stepping stone of area 0), so ECA = 160 ha. West (AA, 1500 x 2400 m = 360 ha)
    # holds all 240 ha; East (BB, 360 ha) none: the reserve is only a stepping stone 500 m away.
    out = _run(tmp_path)
    long = pd.read_csv(out / "indicators" / "indicators.csv", keep_default_na=False, na_values=[""])
    rows = long[long["indicator"] == "ProtConn"]
    assert rows["unit_id"].astype(str).tolist() == ["ALL", "AA", "BB"]
    np.testing.assert_allclose(rows["value"].to_numpy(float), [100 * 160 / 520, 100 * 240 / 360, 0.0])
    prot = long[long["indicator"] == "Prot"]["value"].to_numpy(float)
    np.testing.assert_allclose(prot, [100 * 160 / 520, 100 * 240 / 360, 0.0])
    eca = long[long["indicator"] == "protected_ECA_ha"]["value"].to_numpy(float)
    np.testing.assert_allclose(eca, [160, 240, 0])
    assert (rows["epoch"].astype(str) == "2020").all() and rows["note"].isna().all()
    # dECA between the dates follows from EC_ha at both dates
    for uid in ("ALL", "AA", "BB"):
        unit = long[long["unit_id"].astype(str) == uid].set_index(["indicator", "epoch"])["value"]
        ec1, ec2 = unit[("EC_ha", "2000")], unit[("EC_ha", "2020")]
        np.testing.assert_allclose(unit[("dECA_pct", "2000-2020")], 100 * (ec2 - ec1) / ec1)
    report = pd.read_csv(out / "indicators" / "national_report.csv")
    west = report[(report["range_state_id"] == "AA") & (report["item"] == "ProtConn")]
    np.testing.assert_allclose(west["current_value"].to_numpy(float), [100 * 240 / 360])
    dictionary = pd.read_csv(out / "indicators" / "data_dictionary.csv")
    assert {"ProtConn", "Prot", "dECA_pct", "ProtConn kernel", "note"} <= set(dictionary["indicator"])


def test_protconn_without_protected_areas_says_so(tmp_path):
    import json

    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data = yaml.safe_load(pipeline.read_text())
    data["stages"] = {"ingest": {"floodplain_buffer_m": 150}, "indicators": {}}
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    long = pd.read_csv(out / "indicators" / "indicators.csv")
    rows = long[long["indicator"].isin(["ProtConn", "Prot"])]
    assert rows["unit_id"].astype(str).tolist() == ["ALL", "ALL", "AA", "AA", "BB", "BB"]
    assert rows["value"].isna().all()
    assert rows["note"].str.startswith("no protected-area polygons").all()
    log = json.loads((out / "indicators" / "_stage.json").read_text())["log"]
    assert any(line.startswith("ProtConn: no protected-area polygons") and "range_state AA" in line for line in log)
    report = pd.read_csv(out / "indicators" / "national_report.csv")
    assert report.loc[report["item"] == "ProtConn", "note"].str.startswith("no protected-area").all()
