"""Every whole-grid stage refuses a job that cannot fit before it reads or allocates a grid."""

import sys
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from shapely.geometry import Point

from habitat import memory
from habitat.config import Pipeline
from habitat.errors import MemoryNeedError
from habitat.grid import GridSpec
from habitat.stages.registry import get_stage
from habitat.stages.spec import StageContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_cli import run_cli  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_suitability import SCORES, _run  # noqa: E402


class _NoRasters(Mapping):
    """Stage inputs where reading any raster fails the test: the check must come first."""

    def __init__(self, vectors):
        self._vectors = vectors

    def __getitem__(self, key):
        if key in self._vectors:
            return self._vectors[key]
        raise AssertionError(f"input {key!r} read before the memory check")

    def __iter__(self):
        return iter(("populations", "patch_id", "resistance"))

    def __len__(self):
        return 3

    def __contains__(self, key):
        return True


@pytest.mark.parametrize(("stage_id", "setting"), [
    ("patches", "grid.resolution_m"),
    ("indicators", "grid.resolution_m"),
    ("connectivity", "grid.resolution_m"),
    ("circuit", "grid.resolution_m"),
])
def test_stage_refuses_a_grid_that_cannot_fit_before_reading_it(monkeypatch, stage_id, setting):
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**30)
    grid = GridSpec.from_bounds((0, 0, 1_000_000, 1_000_000), "default", 10.0)  # 1e10 cells
    stage = get_stage(stage_id)
    pops = gpd.GeoDataFrame({"site_id": ["A", "B"]}, geometry=[Point(5, 5), Point(50, 50)])
    ctx = StageContext(grid=grid, params=stage.params(), inputs=_NoRasters({"populations": pops}),
                       pipeline=Pipeline.model_construct(), log=lambda line: None)
    with pytest.raises(MemoryNeedError) as err:
        stage.run(ctx)
    message = str(err.value)
    assert f"stage {stage_id} on a 100000 x 100000 grid needs about" in message
    assert "but 8.0 GiB are available" in message and f"raise {setting}" in message
    assert err.value.setting == setting and err.value.needed_bytes > 8 * 2**30


def patches_pipeline(tmp_path: Path) -> Path:
    """The tiny project up to the patches stage (ingest and suitability already run into tmp/out)."""
    _run(tmp_path, {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
                    "weights": {"habitat_class": 1.0}, "ahp": None})
    pipeline = tmp_path / "p" / "pipeline.yaml"
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0}
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def test_cli_refuses_with_exit_2_naming_memory_and_setting(monkeypatch, capsys, tmp_path):
    pipeline = patches_pipeline(tmp_path)
    # a machine with 1 KiB free: ingest and suitability (block-wise) run, patches is refused
    monkeypatch.setattr(memory, "available_bytes", lambda: 1024)
    called = []
    monkeypatch.setattr("habitat.suitability.blockwise.label_patches_blockwise", lambda *a, **k: called.append(1))
    code, _, err = run_cli(monkeypatch, capsys, "run", pipeline, "--out", tmp_path / "out2")
    assert code == 2 and not called
    line = [ln for ln in err.splitlines() if "GiB" in ln]
    assert len(line) == 1 and "stage patches" in line[0] and "raise grid.resolution_m" in line[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out2").exists()  # the run is atomic: nothing half-written


def test_circuit_stage_refuses_a_solve_that_cannot_fit_naming_the_connectivity_grid(monkeypatch):
    # 6000 x 6000 cells of 30 m, 8 GiB free (6.4 GiB usable): the stage's fine-grid arrays
    # (76 bytes/cell, 2.5 GiB) fit; AMG-CG on 36 M nodes (too many for the factor) with one
    # right-hand side (two populations) needs 72 + 850 + 16 bytes a node more: 34.1 GiB in all
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**30)
    grid = GridSpec.from_bounds((0, 0, 180_000, 180_000), "default", 30.0)
    stage = get_stage("circuit")
    pops = gpd.GeoDataFrame({"site_id": ["A", "B"]}, geometry=[Point(5, 5), Point(50, 50)])
    ctx = StageContext(grid=grid, params=stage.params(), inputs=_NoRasters({"populations": pops}),
                       pipeline=Pipeline.model_construct(), log=lambda line: None)
    with pytest.raises(MemoryNeedError) as err:
        stage.run(ctx)
    need = (76 + 72 + 850 + 16) * 6000**2 + 2**25
    assert err.value.needed_bytes == need and err.value.setting == "grid.connectivity_resolution_m"
    message = str(err.value)
    assert f"needs about {need / 2**30:.1f} GiB but 8.0 GiB are available" in message
    # the smallest coarser grid that fits 6.87 GB: not 2x (9 M nodes: 2.74 + 8.4 GB), 3x = 90 m
    # (4 M nodes; the factor, 5.5 GB, is over 60 % of 8 GiB, so AMG-CG: 2.74 + 3.75 GB)
    assert "set grid.connectivity_resolution_m: 90 (3x the 30 m analysis cells) or coarser" in message
