"""Checks of a pipeline's input files before a run: a folder where a file belongs is named with its key."""

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import cli_errors, write_project  # noqa: E402


def test_scenario_edit_that_is_a_folder_is_one_line_naming_the_key(tmp_path, capsys):
    pipeline = write_project(tmp_path / "p")
    (tmp_path / "p" / "data" / "dam.gpkg").mkdir()
    data = yaml.safe_load(pipeline.read_text())
    data["scenarios"] = {"dam": [{"kind": "landcover", "path": "data/dam.gpkg", "to_class": "water"}]}
    pipeline.write_text(yaml.safe_dump(data))
    for argv in (["validate", pipeline], ["run", pipeline, "--out", tmp_path / "out"]):
        code, lines, err = cli_errors(argv, capsys)
        assert code == 2 and "Traceback" not in err
        assert len(lines) == 1 and lines[0].endswith(
            f"scenarios.dam[0]: {tmp_path / 'p' / 'data' / 'dam.gpkg'} is a folder; point the edit at the file"), err
    assert not (tmp_path / "out").exists()


def test_input_file_of_several_layers_without_layer_is_one_line_naming_the_key(tmp_path, capsys):
    # GDAL would read the first layer (here the wells, points) as the rivers, with only a warning
    import geopandas as gpd
    import shapely

    pipeline = write_project(tmp_path / "p")
    both = tmp_path / "p" / "data" / "both.gpkg"
    gpd.GeoDataFrame({"name": ["w"]}, geometry=[shapely.Point(501000, 4699000)], crs="EPSG:32642").to_file(
        both, layer="wells")
    gpd.read_file(tmp_path / "p" / "data" / "rivers.gpkg").to_file(both, layer="rivers")
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"]["rivers"] = {"path": "data/both.gpkg"}
    pipeline.write_text(yaml.safe_dump(data))
    code, lines, err = cli_errors(["run", pipeline, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "Traceback" not in err and "Warning" not in err
    assert lines == [f"error: inputs.rivers: both.gpkg holds 2 layers (wells, rivers); say which one with "
                     f"'layer: <name>' under this input"], err
    assert not (tmp_path / "out").exists()
    data["inputs"]["rivers"]["layer"] = "rivers"
    pipeline.write_text(yaml.safe_dump(data))
    code, lines, err = cli_errors(["validate", pipeline], capsys)
    assert code in (0, None) and not lines, err


def test_known_places_csv_with_an_unknown_crs_is_one_line(tmp_path, capsys):
    pipeline = write_project(tmp_path / "p")
    (tmp_path / "p" / "data" / "places.csv").write_text(
        "place_id,name,kind,x,y,source\nK1,Reserve,reserve,501250,4698650,test\n")
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"]["known_places"] = {"path": "data/places.csv", "x_column": "x", "y_column": "y",
                                      "crs": "WGS 84 / UTM 42N typo"}
    pipeline.write_text(yaml.safe_dump(data))
    for command in ("validate", "run"):
        code, lines, err = cli_errors([command, pipeline, *(["--out", tmp_path / "out"] if command == "run" else [])],
                                      capsys)
        assert code == 2 and "Traceback" not in err, err
        assert len(lines) == 1 and "inputs.known_places.crs" in lines[0], err


@pytest.mark.parametrize("key", ["reporting_units", "protected_areas", "historical_range"])
def test_polygon_layer_wholly_outside_the_study_area_is_found_by_validate(tmp_path, capsys, key):
    # ingest would stop at the layer; validate, which reads only metadata, now says so before any run
    import geopandas as gpd
    import shapely

    pipeline = write_project(tmp_path / "p")
    far = tmp_path / "p" / "data" / "far.gpkg"
    gpd.GeoDataFrame({"unit_id": ["A"], "pa_id": ["A"], "name": ["x"]}, geometry=[shapely.box(0, 0, 1000, 1000)],
                     crs="EPSG:32642").to_file(far)
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"][key] = {"path": "data/far.gpkg"}
    pipeline.write_text(yaml.safe_dump(data))
    code, _, err = cli_errors(["validate", pipeline], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"error: {pipeline}: inputs.{key}: far.gpkg lies outside the study area (grid.bounds): none "
                           "of its features reaches it; check the layer, its CRS or the grid bounds"), err


@pytest.mark.parametrize(("xy", "crs"), [("100,100", "EPSG:32642"), ("42.43,69.0", "EPSG:4326")],
                         ids=["elsewhere", "lat-lon-swapped"])
def test_known_places_csv_with_no_place_in_the_study_area_is_found_by_validate(tmp_path, capsys, xy, crs):
    pipeline = write_project(tmp_path / "p")
    (tmp_path / "p" / "data" / "places.csv").write_text(f"place_id,name,kind,x,y,source\nK1,Reserve,reserve,{xy},test\n")
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"]["known_places"] = {"path": "data/places.csv", "x_column": "x", "y_column": "y", "crs": crs}
    pipeline.write_text(yaml.safe_dump(data))
    code, lines, err = cli_errors(["validate", pipeline], capsys)
    assert code == 2 and "Traceback" not in err
    assert lines == [f"error: {pipeline}: inputs.known_places: places.csv: no place lies inside the study area "
                     f"(grid.bounds); check inputs.known_places.crs ({crs}), the x/y columns (swapped?) or the grid "
                     "bounds"], err
    # the same place in the study area is valid
    (tmp_path / "p" / "data" / "places.csv").write_text(
        "place_id,name,kind,x,y,source\nK1,Reserve,reserve,501250,4698650,test\n")
    data["inputs"]["known_places"]["crs"] = "EPSG:32642"
    pipeline.write_text(yaml.safe_dump(data))
    code, lines, err = cli_errors(["validate", pipeline], capsys)
    assert code in (0, None) and not lines, err
