"""The restoration stage on the tiny project: the unit that bridges a cut tugai strip ranks first.

Grid: source columns 2..27, rows 2..21 at 100 m (UTM). With a 150 m floodplain the tugai rows 11
and 13 (grid rows 9 and 11) are habitat; the current epoch has cropland in source columns 12..15
of rows 10..14 (a 4-cell gap in each strip) and in row 13, columns 0..7 (lost tugai). Square
tiles of 400 m are aligned with the CRS origin, so the gap in row 11 lies in one tile and the gap
in row 13 in the tile below; the lost row-13 cells fall into the westmost tiles.
"""

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, RES, UTM, tiny_codes, write_landcover, write_project

SCORES = {"tugai_forest": 1.0, "tugai_shrub": 0.8, "reed_wetland": 0.6, "water": 0.3, "grassland": 0.2,
          "cropland": 0.1, "built": 0.9, "bare": 0.05, "snow": 0.0, "other": 0.1}


def _run(tmp_path: Path) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data_dir = pipeline.parent / "data"
    codes = tiny_codes(2)
    codes[10:15, 12:16] = 40
    codes[12, 12:16] = 80
    write_landcover(data_dir / "lc_2020.tif", codes)
    y13 = ORIGIN_Y - 13.5 * RES
    gpd.GeoDataFrame({"site_id": ["P1", "P2"], "name": ["East", "West"], "count": [40, 30]},
                     geometry=[shapely.Point(ORIGIN_X + 2050, y13), shapely.Point(ORIGIN_X + 950, y13)],
                     crs=UTM).to_file(data_dir / "populations.gpkg")
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    data["stages"]["suitability"] = {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                                     "weights": {"habitat_class": 1.0}, "ahp": None}
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0}
    data["stages"]["indicators"] = {"graph_min_patch_ha": 0, "dispersal_distance_m": 1000}
    data["stages"]["restoration"] = {"unit_shape": "square", "unit_size_m": 400, "budget_ha": 4,
                                     "population_radius_m": 100}
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    return out


def test_the_bridging_unit_ranks_first_and_is_chosen(tmp_path):
    out = _run(tmp_path)
    table = pd.read_csv(out / "restoration" / "priorities.csv", keep_default_na=False)
    # four units hold restorable cells: the two gap tiles (4 cells of 1 ha each), and the lost
    # row-13 cells west of the gap: source columns 4..7 in one tile (4 ha), 2..3 in the edge tile (2 ha)
    np.testing.assert_array_equal(np.sort(table["area_ha"].to_numpy()), [2.0, 4.0, 4.0, 4.0])
    assert table["rank"].tolist() == [1, 2, 3, 4]
    # both gap tiles join two patches; the one in row 11 joins the larger strips (10 + 12 ha)
    assert table["patches_joined"].tolist()[:2] == ["1+2", "3+4"]
    assert table["patches_joined"].tolist()[2:] == ["", ""]
    # the row-13 bridge puts P2 (west) and P1 (east) into one patch
    assert table["populations_reconnected"].tolist() == ["", "P1+P2", "", ""]
    assert (table["gain_per_ha"].diff().dropna() <= 0).all()
    np.testing.assert_allclose(table["gain_per_ha"], table["eca_gain_ha"] / table["area_ha"])
    # a 4 ha budget takes exactly the first unit (exact search over the pool)
    selection = pd.read_csv(out / "restoration" / "selection.csv")
    assert selection["unit"].tolist() == [table["unit"].iloc[0]] and selection["method"].tolist() == ["exact"]
    assert table["selected"].astype(str).tolist() == ["True", "False", "False", "False"]
    shapes = gpd.read_file(out / "restoration" / "priorities.gpkg")
    assert shapes["unit"].tolist() == table["unit"].tolist()
    # the first unit is the 400 m tile over the gap in source row 11 (x0+1200..1600, y0-1200..-800)
    tile = shapely.box(ORIGIN_X + 1200, ORIGIN_Y - 1200, ORIGIN_X + 1600, ORIGIN_Y - 800)
    assert shapes.geometry.iloc[0].within(tile.buffer(1e-6))
