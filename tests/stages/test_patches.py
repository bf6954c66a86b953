"""The patches stage on the tiny project, on a grid aligned with the data (hand-derived)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import rasterio
import pytest
import yaml

from habitat.stages import patches as patches_stage
from habitat.stages.runner import run_pipeline
from habitat.suitability.patches import habitat_mask, label_patches

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_suitability import SCORES, _run  # noqa: E402


@pytest.mark.parametrize("block_shape", [(2048, 2048), (7, 5), (3, 26)])
def test_two_tugai_strips_are_two_patches(tmp_path, monkeypatch, block_shape):
    # blocks that do not divide the 20 x 26 grid cut both strips: same labels, table, outlines
    monkeypatch.setattr(patches_stage, "BLOCK_SHAPE", block_shape)
    suitability = {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                   "weights": {"habitat_class": 1.0}, "ahp": None}
    out = _run(tmp_path, suitability)
    pipeline = tmp_path / "p" / "pipeline.yaml"
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0, "edge_depth_m": 100, "density_per_km2": 5}
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)

    with rasterio.open(out / "patches" / "patch_id.tif") as ds:
        labels = ds.read(1)
    expected = np.zeros((20, 26), np.int32)
    expected[9, :] = 1          # tugai row north of the river (source row 11)
    expected[11, 6:] = 2        # tugai row south of it, minus the 2020 cropland (source row 13)
    np.testing.assert_array_equal(labels, expected)
    with rasterio.open(out / "suitability" / "suitability.tif") as ds:
        whole = label_patches(habitat_mask(ds.read(1), threshold=0.6), cell_size_m=100.0)
    np.testing.assert_array_equal(labels, whole)  # the whole-array labelling, same numbering

    table = pd.read_csv(out / "patches" / "patches.csv")
    assert table["patch_id"].tolist() == [1, 2]
    np.testing.assert_allclose(table["area_ha"], [26.0, 20.0])
    np.testing.assert_allclose(table["core_area_ha"], [0.0, 0.0])  # one-cell strips are all edge
    np.testing.assert_allclose(table["capacity_deer"], [1.3, 1.0])  # 0.26 / 0.20 km2 x 5 deer/km2
    assert table["sites"].fillna("").tolist() == ["", "P1"]
    polygons = pyogrio.read_dataframe(out / "patches" / "patches.gpkg")
    np.testing.assert_allclose(polygons.area.to_numpy(), [260_000.0, 200_000.0])
