"""The suitability stage on the tiny project: whole arrays derived by hand."""

import json
import sys
from pathlib import Path

import numpy as np
import rasterio
import yaml

from habitat.layers import grid_of
from habitat.params import SuitabilityParams
from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, UTM, write_project  # noqa: E402

SCORES = {"tugai_forest": 1.0, "tugai_shrub": 0.8, "reed_wetland": 0.6, "water": 0.3, "grassland": 0.2,
          "cropland": 0.1, "built": 0.9, "bare": 0.05, "snow": 0.0, "other": 0.1}


def _run(tmp_path: Path, suitability: dict) -> Path:
    pipeline = write_project(tmp_path / "p", ingest={"floodplain_buffer_m": 150})
    data = yaml.safe_load(pipeline.read_text())
    data["grid"] = {"crs": UTM, "resolution_m": 100,
                    "bounds": [ORIGIN_X + 200, ORIGIN_Y - 2200, ORIGIN_X + 2800, ORIGIN_Y - 200]}
    data["stages"]["suitability"] = suitability
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    return out


def _read(out: Path, stage: str, name: str) -> np.ndarray:
    with rasterio.open(out / stage / f"{name}.tif") as ds:
        return ds.read(1)


def test_class_scores_with_constraints(tmp_path):
    out = _run(tmp_path, {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                          "weights": {"habitat_class": 1.0}, "ahp": None})
    classes = _read(out, "ingest", "habitat_class_current")
    floodplain = _read(out, "ingest", "floodplain")
    lookup = np.array([np.nan, *SCORES.values()])
    expected = lookup[classes] * floodplain * (classes != 7)  # built (7) excluded even with score 0.9
    np.testing.assert_allclose(_read(out, "suitability", "suitability"), expected.astype(np.float32))
    np.testing.assert_allclose(_read(out, "suitability", "membership_habitat_class"), lookup[classes].astype(np.float32))


def test_quality_from_one_threat_by_hand(tmp_path):
    params = {
        "criteria": {"quality": {"function": "linear", "params": {"minimum": 0.0, "maximum": 1.0}}},
        "weights": {"quality": 1.0}, "ahp": None, "floodplain_only": False, "exclude_classes": [],
        "threats": {"cropland": {"max_dist_m": 400, "weight": 1.0, "decay": "linear"}},
        "sensitivity": {c: {"habitat": 1.0, "cropland": 1.0} for c in SCORES},
        "half_saturation": 0.5,
    }
    out = _run(tmp_path, params)
    dist = _read(out, "ingest", "cropland_distance_m").astype(np.float64)
    d = np.where(dist > 400, 0.0, 1 - dist / 400)
    q = 1 - d**2.5 / (d**2.5 + 0.5**2.5)
    np.testing.assert_allclose(_read(out, "suitability", "degradation"), d.astype(np.float32), atol=1e-6)
    np.testing.assert_allclose(_read(out, "suitability", "quality"), q.astype(np.float32), atol=1e-6)
    np.testing.assert_allclose(_read(out, "suitability", "suitability"), q.astype(np.float32), atol=1e-6)


def test_defaults_are_complete_and_consistent():
    params = SuitabilityParams()
    assert list(params.criteria) == ["habitat_class", "tugai_cover", "water_distance_m", "quality"]
    assert all(c.provenance for c in params.criteria.values())
    assert all(t.provenance for t in params.threats.values())
    from habitat.suitability.ahp import ahp_weights

    result = ahp_weights(params.ahp.matrix, names=list(params.criteria))
    assert result.cr < 0.10
    np.testing.assert_allclose(list(result.weights.values()), [0.4236, 0.2270, 0.1223, 0.2270], atol=5e-5)


def test_block_wise_equals_whole_array_with_tiny_chunks(tmp_path):
    """The stage on 3 x 3-cell lazy chunks gives exactly what it gives on whole in-memory arrays
    (default criteria, so the 500 m neighbourhood criterion exercises chunk seams)."""
    from habitat.io.rasters import open_layer
    from habitat.layers import make_layer
    from habitat.stages.spec import StageContext
    from habitat.stages.suitability import STAGE

    out = _run(tmp_path, {})
    record = json.loads((out / "ingest" / "_stage.json").read_text())
    lazy, whole = {}, {}
    for layer_id, info in record["outputs"].items():
        if info["kind"] != "raster":
            continue
        lazy[layer_id] = open_layer(out / info["path"], name=layer_id, chunks=3)
        layer = lazy[layer_id]
        whole[layer_id] = make_layer(np.asarray(layer.values), grid_of(layer), name=layer_id,
                                     units=layer.attrs.get("units"), nodata=layer.attrs.get("nodata"))
    grid = grid_of(lazy["habitat_class_current"])
    results = [STAGE.run(StageContext(grid=grid, params=SuitabilityParams(), inputs=inputs, pipeline=None,
                                      log=lambda _: None)) for inputs in (lazy, whole)]
    assert hasattr(results[0]["suitability"].data, "chunks")  # lazy in, lazy out
    for name in ("suitability", "quality", "degradation", "membership_tugai_cover"):
        np.testing.assert_array_equal(np.asarray(results[0][name].values), np.asarray(results[1][name].values))


def test_riparian_strip_raises_cells_near_the_river_by_hand(tmp_path):
    """The tiny river runs west-east through the middle of grid row 10 (y = ORIGIN_Y - 1250); a
    75 m half width covers 25 m of rows 9 and 11 (share 0.25) and all of row 10 (1.0)."""
    rule = {"half_width_m": 75.0, "tugai_score": 0.9,
            "max_share_by_class": {"water": 0.0, "built": 0.0, "snow": 0.0, "cropland": 0.4}}
    out = _run(tmp_path, {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                          "weights": {"habitat_class": 1.0}, "ahp": None, "riparian_strip": rule})
    classes = _read(out, "ingest", "habitat_class_current")
    floodplain = _read(out, "ingest", "floodplain")
    share = np.zeros(classes.shape)
    share[9], share[10], share[11] = 0.25, 1.0, 0.25
    np.testing.assert_allclose(_read(out, "suitability", "riparian_strip_share"), share.astype(np.float32), atol=1e-6)
    cap = np.ones(11)
    cap[[4, 7, 9]], cap[6] = 0.0, 0.4  # water, built, snow; cropland
    lookup = np.array([np.nan, *SCORES.values()])
    expected = np.maximum(lookup[classes], np.minimum(share, cap[classes]) * 0.9) * floodplain * (classes != 7)
    np.testing.assert_allclose(_read(out, "suitability", "suitability"), expected.astype(np.float32), atol=1e-6)
    assert (expected > lookup[classes] * floodplain * (classes != 7)).any()  # some cell does gain


def test_quality_without_threats_is_the_class_habitat_score(tmp_path):
    """No threats: D = 0 and Q = the class's sensitivity habitat score (InVEST H_j), NaN off the data."""
    habitat = {c: round(0.1 * i, 1) for i, c in enumerate(SCORES)}
    params = {
        "criteria": {"quality": {"function": "linear", "params": {"minimum": 0.0, "maximum": 1.0}}},
        "weights": {"quality": 1.0}, "ahp": None, "floodplain_only": False, "exclude_classes": [],
        "threats": {}, "sensitivity": {c: {"habitat": h} for c, h in habitat.items()},
    }
    out = _run(tmp_path, params)
    classes = _read(out, "ingest", "habitat_class_current")
    lookup = np.array([np.nan, *habitat.values()])
    np.testing.assert_array_equal(_read(out, "suitability", "quality"), lookup[classes].astype(np.float32))
    np.testing.assert_array_equal(_read(out, "suitability", "degradation"),
                                  np.where(classes > 0, 0.0, np.nan).astype(np.float32))
    np.testing.assert_array_equal(_read(out, "suitability", "suitability"), lookup[classes].astype(np.float32))


def test_file_backed_inputs_are_read_inside_the_block_tasks(tmp_path):
    """Layers opened from files (encoding["source"]) are read by the block tasks themselves: the
    graph holds no read task of them, and the outputs equal those from the layers' dask blocks."""
    from habitat.io.rasters import open_layer
    from habitat.stages.spec import StageContext
    from habitat.stages.suitability import STAGE

    out = _run(tmp_path, {})
    record = json.loads((out / "ingest" / "_stage.json").read_text())
    from_file, from_blocks = {}, {}
    for layer_id, info in record["outputs"].items():
        if info["kind"] == "raster":
            from_file[layer_id] = open_layer(out / info["path"], name=layer_id, chunks=3)
            from_blocks[layer_id] = open_layer(out / info["path"], name=layer_id, chunks=3)
            del from_blocks[layer_id].encoding["source"]
    grid = grid_of(from_file["habitat_class_current"])
    results = [STAGE.run(StageContext(grid=grid, params=SuitabilityParams(), inputs=inputs, pipeline=None,
                                      log=lambda _: None)) for inputs in (from_file, from_blocks)]
    read_keys = {key for layer in from_file.values() for key in layer.data.__dask_graph__()}
    assert read_keys and not read_keys & set(results[0]["suitability"].data.__dask_graph__())
    assert read_keys & set(results[1]["suitability"].data.__dask_graph__())
    for name in ("suitability", "quality", "degradation", "membership_tugai_cover"):
        np.testing.assert_array_equal(np.asarray(results[0][name].values), np.asarray(results[1][name].values))


def test_neighbourhood_of_quality_is_the_disk_mean_of_the_quality_output(tmp_path):
    """A quality criterion with radius_m: its membership is the linear ramp of the 300 m disk mean
    of the stage's own quality output (block-wise on 3 x 3 chunks, whole-array mean to compare)."""
    from habitat.io.rasters import open_layer
    from habitat.stages.spec import StageContext
    from habitat.stages.suitability import STAGE
    from habitat.suitability.membership import cover_within_radius

    out = _run(tmp_path, {})
    record = json.loads((out / "ingest" / "_stage.json").read_text())
    lazy = {layer_id: open_layer(out / info["path"], name=layer_id, chunks=3)
            for layer_id, info in record["outputs"].items() if info["kind"] == "raster"}
    base = SuitabilityParams()
    criteria = {**base.criteria, "quality": base.criteria["quality"].model_copy(update={"radius_m": 300.0})}
    params = base.model_copy(update={"criteria": criteria})
    result = STAGE.run(StageContext(grid=grid_of(lazy["habitat_class_current"]), params=params, inputs=lazy,
                                    pipeline=None, log=lambda _: None))
    quality = np.asarray(result["quality"].values).astype(np.float64)
    valid = np.isfinite(quality)
    # the stage's quality is float32; its mean is taken on the float64 quality, so compare to 1e-6
    expected = np.clip(cover_within_radius(quality, radius_m=300.0, cell_size_m=100.0), 0, 1)
    got = np.asarray(result["membership_quality"].values)
    assert valid.any() and np.array_equal(np.isfinite(got), valid)
    np.testing.assert_allclose(got[valid], expected[valid], atol=1e-6)
