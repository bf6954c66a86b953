import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from habitat.errors import ConfigError
from habitat.stages import runner
from habitat.stages.runner import STAGE_RECORD, run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import cli_errors  # noqa: E402


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_run_is_cached_force_recomputes_and_folders_match(tiny_pipeline, tmp_path):
    first = run_pipeline(tiny_pipeline, tmp_path / "out1")
    assert [r.cached for r in first.stages] == [False]
    again = run_pipeline(tiny_pipeline, tmp_path / "out1")
    assert [r.cached for r in again.stages] == [True]
    forced = run_pipeline(tiny_pipeline, tmp_path / "out1", force=True)
    assert [r.cached for r in forced.stages] == [False]
    run_pipeline(tiny_pipeline, tmp_path / "out2")
    assert _files(tmp_path / "out1") == _files(tmp_path / "out2")


def test_manifest_lists_every_output_with_hash(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    manifest = json.loads((out / "manifest.json").read_text())
    outputs = manifest["stages"]["ingest"]["outputs"]
    assert {"habitat_class_current", "habitat_class_baseline", "river_distance_m", "floodplain",
            "tugai_cover_current", "reporting_units", "populations", "ingest_report"} <= set(outputs)
    from habitat.stages.cache import file_sha256

    for info in outputs.values():
        assert file_sha256(out / info["path"]) == info["sha256"]
    assert manifest["stages"]["ingest"]["params"] == {
        "context_pad_m": 5000.0, "floodplain_buffer_m": 300.0, "unknown_landcover_codes": "error",
        "valley_distance_m": 30000.0, "valley_height_m": 10.0, "floodplain_max_altitude_m": 1500.0,
        "floodplain_max_height_m": 60.0, "distance_cap_m": None}
    assert set(manifest["input_files"]) >= {"inputs.landcover[0].path", "inputs.rivers.path"}


def test_changed_input_bytes_or_params_invalidate(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    data = yaml.safe_load(tiny_pipeline.read_text())
    data["stages"]["ingest"]["floodplain_buffer_m"] = 400
    tiny_pipeline.write_text(yaml.safe_dump(data))
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [False]
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [True]
    rivers = tiny_pipeline.parent / "data" / "rivers.gpkg"
    import geopandas as gpd

    gdf = gpd.read_file(rivers)
    gdf["name"] = ["Renamed"]
    gdf.to_file(rivers, driver="GPKG")
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [False]


def test_tampered_output_is_recomputed(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    (out / "ingest" / "floodplain.tif").write_bytes(b"truncated")
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [False]


def test_crash_inside_a_stage_leaves_the_previous_folder_byte_identical(tiny_pipeline, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    before = _files(out)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("habitat.io.tables.write_table", boom)  # the runner imports it when writing
    with pytest.raises(RuntimeError):
        run_pipeline(tiny_pipeline, out, force=True)
    assert _files(out) == before  # no new record, no half-written stage, no staging folder
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    monkeypatch.undo()
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [True]


def test_killed_run_leftovers_are_removed_and_ignored(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    before = _files(out)
    (out / ".staging-999999" / "ingest").mkdir(parents=True)
    (out / ".staging-999999" / "ingest" / "floodplain.tif").write_bytes(b"half")
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [True]
    assert _files(out) == before


def test_out_that_is_a_file_is_a_user_error(tiny_pipeline, tmp_path):
    from habitat.stages.runner import OutputFolderError

    target = tmp_path / "out.txt"
    target.write_text("a file")
    with pytest.raises(OutputFolderError, match=r"--out .*out.txt: is a file"):
        run_pipeline(tiny_pipeline, target)
    with pytest.raises(OutputFolderError, match=r"--out .*sub: .*out.txt is a file, not a folder"):
        run_pipeline(tiny_pipeline, target / "sub")
    assert target.read_text() == "a file"


def test_out_that_cannot_be_written_is_named_before_the_disk_check(tiny_pipeline, monkeypatch, capsys):
    # /proc reports 0 B free: the disk check would blame the cell size; the folder is the problem
    target = Path("/proc/habitat-test-out")
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc (a file system where folders cannot be made, even as root)")
    code, lines, err = cli_errors(["run", tiny_pipeline, "--out", target], capsys)
    assert code == 2 and "Traceback" not in err
    assert lines == [f"error: --out {target}: cannot write in /proc (No such file or directory); choose a writable "
                     "output folder"], err
    assert not target.exists()


def test_subset_options(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    assert [r.id for r in run_pipeline(tiny_pipeline, out, only="ingest").stages] == ["ingest"]
    assert [r.id for r in run_pipeline(tiny_pipeline, out, from_stage="ingest", to_stage="ingest").stages] == ["ingest"]
    with pytest.raises(ConfigError, match="--only nosuch"):
        run_pipeline(tiny_pipeline, out, only="nosuch")


def test_stale_outputs_of_an_earlier_run_are_removed(tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    stale = out / "ingest" / "renamed_output.tif"
    stale.write_bytes(b"from an older habitat")
    keep = out / "ingest" / "notes.txt"
    keep.write_text("the user's own file")
    run_pipeline(tiny_pipeline, out, force=True)
    assert not stale.exists() and keep.exists()


def test_table_inputs_keep_text_site_ids(tmp_path):
    # links.csv as the connectivity stage writes it; the circuit stage matches from_site/to_site
    # against the populations' site ids, which are text ("01"), so they must not come back as 1.
    from habitat.io.tables import write_table
    from habitat.stages import catalog
    from habitat.stages.runner import _load_output

    links = pd.DataFrame({"from_site": ["01"], "to_site": ["02"], "from_id": [1], "to_id": [2], "lcd": [250.0]})
    write_table(links, tmp_path / "connectivity" / "links.csv")
    spec = catalog.layer("links")
    back = _load_output(tmp_path, spec, {"path": "connectivity/links.csv", "kind": "table"})
    pd.testing.assert_frame_equal(back, links)


def test_failure_after_a_stage_rewrote_its_outputs_leaves_the_folder_as_it_was(tiny_pipeline, tmp_path, monkeypatch):
    # ingest reruns (its params changed) and succeeds; a later step fails: neither the new ingest
    # outputs nor a new manifest may reach the folder (no "new ingest with failed patches" mix)
    out = tmp_path / "out"
    run_pipeline(tiny_pipeline, out)
    before = _files(out)
    data = yaml.safe_load(tiny_pipeline.read_text())
    data["stages"]["ingest"]["floodplain_buffer_m"] = 500
    tiny_pipeline.write_text(yaml.safe_dump(data))

    def later_step_fails(*args, **kwargs):
        raise RuntimeError("report failed")

    monkeypatch.setattr(runner, "_write_manifest", later_step_fails)
    with pytest.raises(RuntimeError):
        run_pipeline(tiny_pipeline, out)
    assert _files(out) == before
    monkeypatch.undo()
    assert [r.cached for r in run_pipeline(tiny_pipeline, out).stages] == [False]
    assert _files(out)["ingest/floodplain.tif"] != before["ingest/floodplain.tif"]


def test_deferred_outputs_are_made_one_at_a_time_after_the_others_are_written(tmp_path):
    """A Deferred raster is made only after the plain outputs are written and dropped, and after
    the deferred output before it is written; the files equal those of the same values given
    directly."""
    import numpy as np
    from pydantic import BaseModel
    from habitat.grid import GridSpec
    from habitat.layers import make_layer
    from habitat.stages.spec import Deferred, LayerSpec, StageSpec

    grid = GridSpec.create("EPSG:32642", (30.0, 0.0, 500000.0, 0.0, -30.0, 4500000.0), (5, 7))
    values = {f"r{i}": np.arange(35, dtype=np.float32).reshape(5, 7) * (i + 1) for i in range(3)}
    stage = StageSpec(
        id="toy", version="1", doc="toy", inputs=(), params=BaseModel, run=lambda ctx: {},
        outputs=tuple(LayerSpec(id=k, kind="raster", dtype="float32", units="m", doc=k) for k in values)
        + (LayerSpec(id="t", kind="table", doc="t"),),
    )
    eager = {k: make_layer(v, grid, name=k, units="m") for k, v in values.items()}
    eager["t"] = pd.DataFrame({"a": [1, 2]})
    plain = runner._write_outputs(tmp_path / "plain", stage, dict(eager), grid)

    made: list[str] = []
    produced: dict = {"r0": make_layer(values["r0"], grid, name="r0", units="m"), "t": eager["t"]}

    def make(k: str):
        assert "r0" not in produced  # the plain raster is written and dropped first
        for earlier in made:  # each deferred one is written before the next is made
            assert (tmp_path / "lazy" / "toy" / f"{earlier}.tif").exists()
        made.append(k)
        return make_layer(values[k], grid, name=k, units="m")

    produced.update({k: Deferred(lambda k=k: make(k)) for k in ("r1", "r2")})
    lazy = runner._write_outputs(tmp_path / "lazy", stage, produced, grid)
    assert made == ["r1", "r2"] and produced == {"t": eager["t"]}
    assert lazy == plain  # same files, same sha256


@pytest.mark.parametrize("bounds_crs", ["EPSG:32642", None])
def test_bounds_in_degrees_for_a_projected_crs_name_grid_bounds(tiny_pipeline, tmp_path, capsys, bounds_crs):
    # lon/lat typed where metres belong make a one-cell grid; the error names the bounds, not the cell size
    data = yaml.safe_load(tiny_pipeline.read_text())
    data["grid"].update(bounds=[69.0, 42.3, 69.1, 42.4], crs="EPSG:32642")
    data["grid"].pop("bounds_crs")
    if bounds_crs:
        data["grid"]["bounds_crs"] = bounds_crs
    tiny_pipeline.write_text(yaml.safe_dump(data))
    where = "grid.bounds_crs EPSG:32642" if bounds_crs else "the grid CRS (EPSG:32642)"
    for argv in (["validate", tiny_pipeline], ["run", tiny_pipeline, "--out", tmp_path / "out"]):
        code, lines, err = cli_errors(argv, capsys)
        assert code == 2 and "Traceback" not in err
        assert len(lines) == 1 and lines[0].endswith(
            f"grid.bounds: [69.0, 42.3, 69.1, 42.4] span only 0.1 x 0.1 units of {where}; they look like "
            "longitude/latitude: set grid.bounds_crs: EPSG:4326, or give the bounds in that CRS"), err
    assert not (tmp_path / "out").exists()


def test_small_bounds_that_make_a_grid_of_two_cells_a_side_are_not_taken_for_degrees(tiny_pipeline):
    # 150 m at 100 m cells spans less than two cells but snaps outwards to a 2 x 2 grid (a valid one)
    from habitat.config import load_pipeline
    from habitat.stages.runner import resolve_grid

    data = yaml.safe_load(tiny_pipeline.read_text())
    data["grid"].update(bounds=[100.0, 100.0, 250.0, 250.0], crs="EPSG:32642", resolution_m=100)
    data["grid"].pop("bounds_crs", None)
    tiny_pipeline.write_text(yaml.safe_dump(data))
    assert resolve_grid(load_pipeline(tiny_pipeline)).shape == (2, 2)
