"""Ingest of tiled land cover (a glob or a list of files): the same classes as the one-file mosaic."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from habitat.config import load_pipeline
from habitat.errors import ConfigError, NoOverlapError
from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, RES, UTM, tiny_codes, write_project  # noqa: E402


def _write_tile(path: Path, codes: np.ndarray, row0: int, col0: int, nodata: int | None = 0) -> None:
    profile = dict(driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8", crs=UTM,
                   transform=from_origin(ORIGIN_X + col0 * RES, ORIGIN_Y - row0 * RES, RES, RES), nodata=nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(codes, 1)


def _classes(out: Path, name: str) -> np.ndarray:
    with rasterio.open(out / "ingest" / f"{name}.tif") as ds:
        return ds.read(1)


@pytest.mark.parametrize("as_glob", [True, False])
def test_tiles_give_the_classes_of_the_single_file(tmp_path, as_glob):
    pipeline = write_project(tmp_path / "p")
    data_dir = tmp_path / "p" / "data"
    codes = tiny_codes(2)
    # four unequal quadrants of the 2020 land cover, each its own GeoTIFF
    for name, (r, c) in {"a": (0, 0), "b": (0, 13), "c": (9, 0), "d": (9, 13)}.items():
        r1 = 9 if r == 0 else codes.shape[0]
        c1 = 13 if c == 0 else codes.shape[1]
        _write_tile(data_dir / f"tile_{name}.tif", codes[r:r1, c:c1].copy(), r, c)
    run_pipeline(pipeline, tmp_path / "single")
    spec = yaml.safe_load(pipeline.read_text())
    tiles = "data/tile_*.tif" if as_glob else [f"data/tile_{n}.tif" for n in "abcd"]
    spec["inputs"]["landcover"][1]["path"] = tiles
    pipeline.write_text(yaml.safe_dump(spec))
    loaded = load_pipeline(pipeline)
    assert [p.name for p in loaded.inputs.landcover[1].sources] == [f"tile_{n}.tif" for n in "abcd"]
    assert sum(key.startswith("inputs.landcover[1].path") for key in loaded.inputs.files()) == 4
    run_pipeline(pipeline, tmp_path / "tiled")
    expected = _classes(tmp_path / "single", "habitat_class_current")
    assert expected.any()
    np.testing.assert_array_equal(_classes(tmp_path / "tiled", "habitat_class_current"), expected)
    np.testing.assert_array_equal(_classes(tmp_path / "tiled", "habitat_class_baseline"),
                                  _classes(tmp_path / "single", "habitat_class_baseline"))
    # the report's cell count, counted from the blocks as they are written, is the classed cells
    report = pd.read_csv(tmp_path / "tiled" / "ingest" / "ingest_report.csv").set_index("key")
    assert report.loc["inputs.landcover[1]", "cells"] == np.count_nonzero(expected)


def test_tiles_of_nodata_only_are_one_line_naming_the_key(tmp_path):
    pipeline = write_project(tmp_path / "p")
    data_dir = tmp_path / "p" / "data"
    # no nodata tag, so the input checks pass; WorldCover code 0 is "No data" in the crosswalk
    _write_tile(data_dir / "empty.tif", np.zeros_like(tiny_codes(2)), 0, 0, nodata=None)
    spec = yaml.safe_load(pipeline.read_text())
    spec["inputs"]["landcover"][1]["path"] = ["data/empty.tif"]
    pipeline.write_text(yaml.safe_dump(spec))
    with pytest.raises(NoOverlapError, match=r"^inputs\.landcover\[1\]: .*data: the land-cover tiles do not "
                                             r"overlap the study area \(all cells are nodata\)$"):
        run_pipeline(pipeline, tmp_path / "out")


def test_a_glob_that_matches_nothing_is_one_line_naming_the_key(tmp_path):
    pipeline = write_project(tmp_path / "p")
    spec = yaml.safe_load(pipeline.read_text())
    spec["inputs"]["landcover"][1]["path"] = "data/nothing_*.tif"
    pipeline.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"inputs\.landcover\[1\]: data/nothing_\*\.tif: the pattern matches no file"):
        load_pipeline(pipeline)
