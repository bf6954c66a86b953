"""The ingest stage on the tiny project, on a grid that shares the data's CRS (exact answers)."""

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, UTM, cli_errors, tiny_codes, write_project  # noqa: E402


def _utm_project(tmp_path: Path, **ingest) -> Path:
    pipeline = write_project(tmp_path / "p", ingest=ingest or None)
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def _read(out: Path, name: str) -> np.ndarray:
    with rasterio.open(out / "ingest" / f"{name}.tif") as ds:
        return ds.read(1)


def test_classes_and_distances_are_exact_on_an_aligned_grid(tmp_path):
    pipeline = _utm_project(tmp_path, floodplain_buffer_m=150)
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    codes = tiny_codes(2)[2:22, 2:28]  # the grid is the source inset by 2 cells
    classes = _read(out, "habitat_class_current")
    # inside the floodplain (river row 12 +- 150 m = rows 11..13): tree -> tugai_forest (1);
    # shrub rows 10 and 14 lie outside it -> other (10); river -> water (4); desert -> bare (8)
    expected = np.select([codes == 10, codes == 20, codes == 80, codes == 40, codes == 50, codes == 60],
                         [1, 10, 4, 6, 7, 8])
    expected[(codes == 20) & (np.abs(np.arange(2, 22)[:, None] - 12) <= 1)] = 2
    np.testing.assert_array_equal(classes, expected)
    rows = np.arange(2, 22)[:, None].repeat(26, axis=1)
    np.testing.assert_array_equal(_read(out, "river_distance_m"), np.abs(rows - 12) * 100.0)
    np.testing.assert_array_equal(_read(out, "floodplain"), (np.abs(rows - 12) <= 1).astype(np.uint8))


def test_features_outside_the_study_area_count_in_distances(tmp_path):
    pipeline = _utm_project(tmp_path)
    settlements = pipeline.parent / "data" / "settlements.gpkg"
    # a village 200 m north of the grid's top edge, above grid column 8
    gpd.GeoDataFrame({"name": ["Edge"], "population": [300]},
                     geometry=[shapely.Point(ORIGIN_X + 1050, ORIGIN_Y - 50)], crs=UTM).to_file(settlements, driver="GPKG")
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    dist = _read(out, "settlement_distance_m")
    assert dist[0, 8] == 200.0
    assert dist[1, 8] == 300.0


def test_census_is_checked_and_sorted(tmp_path):
    import pytest

    from habitat.errors import ConfigError
    from habitat.io.census import read_census

    path = tmp_path / "census.csv"
    path.write_text("site_id,year,count,method,source\nB,2010,5,aerial,x\nA,2012,7,ground,y\nA,2001,3,ground,y\n")
    table = read_census(path)
    assert table[["site_id", "year", "count"]].values.tolist() == [["A", 2001, 3], ["A", 2012, 7], ["B", 2010, 5]]
    path.write_text("site_id,year,count,method,source\nA,2001,many,ground,y\n")
    with pytest.raises(ConfigError, match="row 2: count"):
        read_census(path)
    path.write_text("site,year,count\nA,2001,3\n")
    with pytest.raises(ConfigError, match="missing columns"):
        read_census(path)


def test_pad_covers_the_margin_in_every_direction():
    from habitat.grid import GridSpec
    from habitat.stages.ingest import _pad_cells

    assert _pad_cells(GridSpec.from_bounds((0, 0, 1000, 1000), UTM, 100), 5000) == 50
    # 0.01 degree cells at 60 N: a degree of longitude is half a degree of latitude long
    geographic = GridSpec.from_bounds((60, 59, 61, 60), "EPSG:4326", 0.01)
    assert _pad_cells(geographic, 5565) == 10   # 5565 m / (0.01 * 111320 m * cos 60)


def test_historical_range_becomes_a_cell_fraction(tmp_path):
    pipeline = _utm_project(tmp_path, floodplain_buffer_m=150)
    # the range polygon ends half-way through grid column 3 (source x 200..550 m = grid columns 0..3)
    gpd.GeoDataFrame({"name": ["range"]},
                     geometry=[shapely.box(ORIGIN_X, ORIGIN_Y - 2400, ORIGIN_X + 550, ORIGIN_Y)],
                     crs=UTM).to_file(pipeline.parent / "data" / "range.gpkg")
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"]["historical_range"] = {"path": "data/range.gpkg"}
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out, to_stage="ingest")
    expected = np.zeros((20, 26), np.float32)
    expected[:, 0:3] = 1.0
    expected[:, 3] = 0.5
    np.testing.assert_array_equal(_read(out, "historical_range_fraction"), expected)


def test_distance_cap_gives_the_uncapped_distances_up_to_the_cap(tmp_path):
    """distance_cap_m: every distance grid equals the default (whole-grid) one where it is <= the
    cap and is inf beyond; a cap beyond every distance changes no byte of any output."""
    layers = ["river_distance_m", "water_distance_m", "cropland_distance_m", "settlement_distance_m"]
    outs = {}
    for name, cap in (("none", None), ("cap", 350.0), ("far", 1e6)):
        pipeline = _utm_project(tmp_path / name, floodplain_buffer_m=150, **({} if cap is None else
                                                                            {"distance_cap_m": cap}))
        run_pipeline(pipeline, tmp_path / name / "out", only="ingest")
        outs[name] = tmp_path / name / "out"
    for layer in layers:
        whole = _read(outs["none"], layer)
        np.testing.assert_array_equal(_read(outs["cap"], layer), np.where(whole <= 350.0, whole, np.inf))
        assert (whole > 350.0).any() or layer != "river_distance_m"  # the cap cuts something
    for path in sorted((outs["none"] / "ingest").glob("*.tif")):
        assert path.read_bytes() == (outs["far"] / "ingest" / path.name).read_bytes(), path.name


def test_land_cover_code_errors_name_the_raster_file(tmp_path, capsys):
    # codes outside the crosswalk, and fractional codes (a bilinear resample): the one line names
    # the key and the raster, so a user with two epochs knows which file to fix
    from conftest import COLS, RES, ROWS, write_landcover

    pipeline = write_project(tmp_path / "p")
    codes = tiny_codes(2)
    codes[5, 4:6] = 77
    write_landcover(tmp_path / "p" / "data" / "lc_2020.tif", codes)
    code, lines, err = cli_errors(["run", pipeline, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: inputs.landcover[1]: lc_2020.tif: land-cover code(s) 77 "), err
    assert not (tmp_path / "out").exists()
    with rasterio.open(tmp_path / "p" / "data" / "lc_2000.tif", "w", driver="GTiff", width=COLS, height=ROWS, count=1,
                       dtype="float32", crs=UTM, transform=rasterio.transform.from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)) as dst:
        dst.write(tiny_codes(1).astype("float32") + 0.5, 1)
    code, lines, err = cli_errors(["run", pipeline, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(
        "error: inputs.landcover[0]: lc_2000.tif: land-cover codes must be whole numbers, found 10.5,"), err
    assert not (tmp_path / "out").exists()
