"""The presence stage on the tiny project with occurrence points added."""

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import yaml

pytest.importorskip("elapid")

from habitat.config import load_pipeline
from habitat.errors import ConfigError, InputFileError
from habitat.stages.runner import run_pipeline, selected_stages

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, RES, UTM, write_landcover, write_project

#: Data (row, col) cells of the sightings: tugai rows 11 and 13 beside the river (row 12).
CELLS = [(11, 3), (13, 5), (11, 8), (13, 11), (11, 14), (13, 17), (11, 20), (13, 23), (11, 25), (13, 6)]


def _points() -> gpd.GeoDataFrame:
    xy = [(ORIGIN_X + (c + 0.3) * RES, ORIGIN_Y - (r + 0.6) * RES) for r, c in CELLS]
    xy.append((ORIGIN_X + 3.7 * RES, ORIGIN_Y - 11.2 * RES))  # second sighting in cell (11, 3)
    xy.append((ORIGIN_X - 5 * RES, ORIGIN_Y - 11.5 * RES))  # west of the grid
    return gpd.GeoDataFrame({"n": range(len(xy))}, geometry=[shapely.Point(p) for p in xy], crs=UTM)


def _project(tmp_path: Path, *, presence: dict | None, occurrences: gpd.GeoDataFrame | None) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 300})
    data = yaml.safe_load(pipeline.read_text())
    # a UTM grid on the data's cells: grid (row, col) = data (row - 2, col - 2)
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    if occurrences is not None:
        occurrences.to_file(pipeline.parent / "data" / "occ.gpkg", driver="GPKG")
        data["inputs"]["occurrences"] = {"path": "data/occ.gpkg"}
    if presence is not None:
        data["stages"]["presence"] = presence
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def _read(out: Path, stage: str, name: str) -> np.ndarray:
    with rasterio.open(out / stage / f"{name}.tif") as ds:
        return ds.read(1)


def test_presence_stage_on_the_tiny_project(tmp_path):
    pipeline = _project(tmp_path, presence={"n_folds": 2, "n_background": 80}, occurrences=_points())
    logs = {}
    run_pipeline(pipeline, tmp_path / "out", on_stage_end=lambda r: logs.setdefault(r.id, r.log))
    out = tmp_path / "out"

    occ = gpd.read_file(out / "ingest" / "occurrences.gpkg")
    assert list(occ["occurrence_id"]) == list(range(1, 13))
    np.testing.assert_allclose(np.c_[occ.geometry.x, occ.geometry.y], np.c_[_points().geometry.x, _points().geometry.y])

    # 12 points: one off the grid, two share a cell -> 10 used
    assert logs["presence"][0] == ("occurrences: 12 points, 1 off the grid, 0 on nodata, 10 used (one per cell); "
                                   "0 outside the background mask")
    folds = pd.read_csv(out / "presence" / "presence_folds.csv")
    assert list(folds["fold"]) == [1, 2]
    assert (folds["n_train"] + folds["n_test"] == 10).all() and folds["n_test"].sum() == 10
    assert (folds["n_train_background"] + folds["n_test_background"] == 80).all()
    assert folds["n_test_background"].sum() == 80
    assert folds["auc"].between(0, 1).all()

    score = _read(out, "presence", "presence_suitability")
    floodplain = _read(out, "ingest", "floodplain").astype(bool)
    classes = _read(out, "ingest", "habitat_class_current")
    assert score.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(score), classes == 0)
    np.testing.assert_array_equal(score[~floodplain & (classes > 0)], 0.0)
    inside = score[floodplain & (classes > 0)]
    assert ((inside >= 0) & (inside <= 1)).all()
    # sighted cells (tugai beside the river) score above the floodplain mean
    rows, cols = np.array(CELLS).T - 2
    assert score[rows, cols].mean() > inside.mean()

    model = pd.read_csv(out / "presence" / "presence_model.csv")
    assert list(model.columns) == ["feature", "covariate", "coefficient"] and len(model)

    # deterministic: a forced re-run writes the same bytes
    record = json.loads((out / "presence" / "_stage.json").read_text())
    run_pipeline(pipeline, out, force=True, only="presence")
    again = json.loads((out / "presence" / "_stage.json").read_text())
    assert {k: v["sha256"] for k, v in record["outputs"].items()} == {k: v["sha256"] for k, v in again["outputs"].items()}


def test_stage_runs_only_when_configured(tmp_path):
    pipeline = _project(tmp_path, presence=None, occurrences=_points())
    assert "presence" not in selected_stages(load_pipeline(pipeline))


def test_configured_without_occurrences(tmp_path):
    pipeline = _project(tmp_path / "a", presence={"require_occurrences": True}, occurrences=None)
    # caught when the pipeline is loaded, before any stage runs
    with pytest.raises(ConfigError, match=r"inputs\.occurrences: stages\.presence\.require_occurrences is true"):
        run_pipeline(pipeline, tmp_path / "a" / "out")

    pipeline = _project(tmp_path / "b", presence={}, occurrences=None)
    result = run_pipeline(pipeline, tmp_path / "b" / "out")
    stage = next(r for r in result.stages if r.id == "presence")
    assert stage.record["outputs"] == {}
    assert stage.log == ["presence: no inputs.occurrences given; no model fitted (add inputs.occurrences to fit one)"]


def test_too_few_occurrences_for_the_folds(tmp_path):
    pipeline = _project(tmp_path, presence={"n_folds": 11}, occurrences=_points())
    with pytest.raises(ConfigError, match=r"^stages\.presence\.n_folds: 11 folds need .* \(found 10\)"):
        run_pipeline(pipeline, tmp_path / "out")


def test_occurrences_must_be_points(tmp_path):
    polygons = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(ORIGIN_X, ORIGIN_Y - 1500, ORIGIN_X + 500, ORIGIN_Y - 1000)],
                                crs=UTM)
    pipeline = _project(tmp_path, presence={}, occurrences=polygons)
    with pytest.raises(InputFileError, match=r"^inputs\.occurrences: .*Polygon geometries; occurrences must be points"):
        run_pipeline(pipeline, tmp_path / "out")


def test_covariate_without_any_feature_is_left_out(tmp_path):
    # No cropland anywhere: cropland_distance_m is inf on every cell (nothing to measure from).
    # The covariate carries no information; it must be left out, not turn every cell into nodata.
    pipeline = _project(tmp_path, presence={"n_folds": 2, "n_background": 80}, occurrences=_points())
    for name in ("lc_2000.tif", "lc_2020.tif"):
        path = pipeline.parent / "data" / name
        with rasterio.open(path) as ds:
            codes = ds.read(1)
        write_landcover(path, np.where(codes == 40, 60, codes))
    logs = {}
    run_pipeline(pipeline, tmp_path / "out", on_stage_end=lambda r: logs.setdefault(r.id, r.log))
    with rasterio.open(tmp_path / "out" / "ingest" / "cropland_distance_m.tif") as ds:
        assert np.isinf(ds.read(1)).all()
    assert ("covariate cropland_distance_m: no finite value on the grid (no such feature within the padded "
            "study area); left out") in logs["presence"]
    assert logs["presence"][1].startswith("occurrences: 12 points, 1 off the grid, 0 on nodata, 10 used")
    model = pd.read_csv(tmp_path / "out" / "presence" / "presence_model.csv")
    assert "cropland_distance_m" not in set(model["covariate"])
    score = _read(tmp_path / "out", "presence", "presence_suitability")
    classes = _read(tmp_path / "out", "ingest", "habitat_class_current")
    np.testing.assert_array_equal(np.isnan(score), classes == 0)
