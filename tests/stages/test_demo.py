"""End to end: the demo pipeline on a coarse grid writes every declared output."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import yaml

from habitat.cli import DEMO_PIPELINE
from habitat.stages.registry import get_stage
from habitat.stages.runner import run_pipeline


def _coarse_demo(tmp_path: Path, resolution_m: float) -> Path:
    data = yaml.safe_load(DEMO_PIPELINE.read_text())
    data["grid"]["resolution_m"] = resolution_m
    for value in data["inputs"].values():
        for item in value if isinstance(value, list) else [value]:
            item["path"] = str((DEMO_PIPELINE.parent / item["path"]).resolve())
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_demo_pipeline_end_to_end(tmp_path):
    out = tmp_path / "out"
    run_pipeline(_coarse_demo(tmp_path, 400), out)
    manifest = json.loads((out / "manifest.json").read_text())
    written = manifest["stages"]["ingest"]["outputs"]
    assert set(written) == {spec.id for spec in get_stage("ingest").outputs}
    with rasterio.open(out / written["habitat_class_baseline"]["path"]) as ds:
        before = ds.read(1)
    with rasterio.open(out / written["habitat_class_current"]["path"]) as ds:
        after = ds.read(1)
    tugai = (1, 2)  # tugai_forest, tugai_shrub
    lost = np.isin(before, tugai) & ~np.isin(after, tugai)
    assert np.isin(after, tugai).sum() < np.isin(before, tugai).sum()  # the demo's built-in loss
    assert lost.sum() > 0 and (after[lost] == 6).any()  # some of it to cropland
    assert (before > 0).all() and (after > 0).all()  # the study area lies inside the data
    report = pd.read_csv(out / written["ingest_report"]["path"]).set_index("key")
    assert report.loc["inputs.tugai[1]", "repaired"] == 1  # the demo's one invalid polygon
    assert report.loc["inputs.tugai[0]", "repaired"] == 0
