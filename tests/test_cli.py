"""The command line: user errors are one line on stderr, exit code 2, and no output written."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from habitat import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import tiny_codes, write_landcover  # noqa: E402


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["habitat", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def _edit(pipeline: Path, change):
    data = yaml.safe_load(pipeline.read_text())
    change(data)
    pipeline.write_text(yaml.safe_dump(data))


def _files(folder: Path):
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_run_ok(monkeypatch, capsys, tiny_pipeline, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert code == 0
    assert "ingest" in err and (tmp_path / "out" / "manifest.json").exists()
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert code == 0 and "cached" in err


def _missing_file(p):
    _edit(p, lambda d: d["inputs"]["landcover"][1].update(path="data/nope.tif"))


def _missing_crs(p):
    write_landcover(p.parent / "data" / "lc_2020.tif", tiny_codes(2), crs=None)


def _no_overlap(p):
    _edit(p, lambda d: d["grid"].update(bounds=[900000, 1000000, 901000, 1001000]))


def _corrupt_tiff(p):
    f = p.parent / "data" / "lc_2020.tif"
    f.write_bytes(f.read_bytes()[:300])


def _unrepairable(p):
    import geopandas as gpd
    import shapely

    gdf = gpd.read_file(p.parent / "data" / "tugai_2.gpkg")
    flat = shapely.from_wkt("POLYGON((69 42.4, 69.01 42.4, 69.02 42.4, 69 42.4))")
    gpd.GeoDataFrame({"type": ["forest", "forest"]}, geometry=[gdf.geometry.iloc[0], flat], crs=gdf.crs).to_file(
        p.parent / "data" / "tugai_2.gpkg", driver="GPKG")


def _unknown_code(p):
    codes = tiny_codes(2)
    codes[5, 4:7] = [123, 124, 124]
    write_landcover(p.parent / "data" / "lc_2020.tif", codes)


def _misspelt_key(p):
    _edit(p, lambda d: d["stages"].update(ingest={"floodplain_bufer_m": 300}))


def _negative_resolution(p):
    _edit(p, lambda d: d["grid"].update(resolution_m=-100))


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (_missing_file, "inputs.landcover[1].path: file not found"),
        (_missing_crs, "lc_2020.tif: raster has no CRS"),
        (_no_overlap, "does not overlap the study area"),
        (_corrupt_tiff, "lc_2020.tif: not a readable raster"),
        (_unrepairable, "inputs.tugai[1]: "),
        (_unknown_code, "123, 124"),
        (_misspelt_key, "stages.ingest.floodplain_bufer_m: unknown key"),
        (_negative_resolution, "grid.resolution_m: "),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else None,
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(monkeypatch, capsys, tiny_pipeline, tmp_path, breakage, expected):
    breakage(tiny_pipeline)
    out = tmp_path / "out"
    code, stdout, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", out)
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert len(error_lines) == 1 and "Traceback" not in err
    assert expected in error_lines[0]
    assert _files(out) == []


def test_unknown_code_error_names_the_fix(monkeypatch, capsys, tiny_pipeline, tmp_path):
    _unknown_code(tiny_pipeline)
    _, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert "inputs.landcover[1]" in err and "unknown_landcover_codes" in err
    _edit(tiny_pipeline, lambda d: d["stages"]["ingest"].update(unknown_landcover_codes="nodata"))
    code, _, _ = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert code == 0


def test_validate_reports_every_problem_in_one_pass(monkeypatch, capsys, tiny_pipeline):
    _edit(tiny_pipeline, lambda d: (d["grid"].update(resolution_m=-1, resolutoin=5),
                                    d["stages"].update(ingest={"floodplain_bufer_m": 1})))
    code, _, err = run_cli(monkeypatch, capsys, "validate", tiny_pipeline)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3
    assert any("grid.resolution_m" in line for line in lines)
    assert any("grid.resolutoin: unknown key" in line for line in lines)
    assert any("stages.ingest.floodplain_bufer_m: unknown key" in line for line in lines)


def test_validate_ok_and_stages_list(monkeypatch, capsys, tiny_pipeline):
    assert run_cli(monkeypatch, capsys, "validate", tiny_pipeline)[0] == 0
    code, out, _ = run_cli(monkeypatch, capsys, "stages")
    assert code == 0 and "ingest" in out


def test_debug_shows_the_traceback(monkeypatch, capsys, tiny_pipeline, tmp_path):
    _negative_resolution(tiny_pipeline)
    monkeypatch.setattr(sys, "argv", ["habitat", "--debug", "run", str(tiny_pipeline), "--out", str(tmp_path / "o")])
    from habitat.errors import HabitatError

    with pytest.raises(HabitatError):
        cli.main()


def test_circuit_job_writes_circuitscape_outputs(monkeypatch, capsys, tmp_path, circuitscape_reference):
    reference = circuitscape_reference
    monkeypatch.chdir(reference)
    code, _, _ = run_cli(monkeypatch, capsys, "circuit", "input/raster/pairwise/2/sgVerify2.ini", "--output-dir", tmp_path)
    assert code == 0
    ours = np.loadtxt(tmp_path / "sgVerify2_resistances.out")
    expected = np.loadtxt(reference / "output_verify" / "sgVerify2_resistances.out")
    np.testing.assert_allclose(ours, expected, atol=1e-3)
    assert ours[4, 5] == pytest.approx(0.75, abs=1e-9)  # METHODS.md 6 hand check: R45 = 0.75


def test_circuit_job_missing_file_is_a_user_error(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "circuit", tmp_path / "nope.ini")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1


# -- help, version, usage errors: exit 0 / 2 and never a traceback -----------------------------
REPO = Path(__file__).resolve().parents[1]


def _subprocess(*args, cwd=None):
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "habitat.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    "args, code, expected",
    [
        (["-h"], 0, "Usage"),
        (["--help"], 0, "Usage"),
        (["--version"], 0, "habitat "),
        ([], 2, "Usage"),
        (["run"], 2, "Missing argument"),
        (["run", "-h"], 0, "--out"),
        (["bogus"], 2, "No such command"),
        (["run", "x.yaml", "--bogus"], 2, "No such option"),
    ],
    ids=["h", "help", "version", "no-args", "run-no-pipeline", "run-h", "unknown-command", "unknown-option"],
)
def test_help_version_and_usage_errors_exit_0_or_2_without_traceback(args, code, expected):
    rc, out, err = _subprocess(*args)
    assert rc == code
    assert expected in out + err
    assert "Traceback" not in out + err


def test_version_is_the_package_version():
    import habitat

    assert _subprocess("--version")[1].strip() == f"habitat {habitat.__version__}"


def test_piped_output_is_timestamped_unwrapped_lines_and_log_file_gets_them(tiny_pipeline, tmp_path):
    import re

    log_file = tmp_path / "logs" / "run.log"
    rc, out, err = _subprocess("--log-file", log_file, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert rc == 0, err
    lines = err.splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
    assert lines and all(stamp.match(line) for line in lines)
    # the first line names pipeline and out dir in full: longer than 80 columns, yet one line
    assert len(lines[0]) > 80 and str(tiny_pipeline) in lines[0]
    assert any(re.search(r" ingest +done ", line) for line in lines)
    logged = log_file.read_text(encoding="utf-8")
    assert "ingest" in logged and "DEBUG steps: ingest" in logged


def test_quiet_prints_nothing_on_success_and_errors_still_show(monkeypatch, capsys, tiny_pipeline, tmp_path):
    rc, out, err = run_cli(monkeypatch, capsys, "-q", "run", tiny_pipeline, "--out", tmp_path / "out")
    assert rc == 0 and err == "" and out == ""
    rc, _, err = run_cli(monkeypatch, capsys, "-q", "run", tmp_path / "missing.yaml", "--out", tmp_path / "out2")
    assert rc == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_stages_lists_full_output_names_when_piped(monkeypatch, capsys):
    from habitat.stages.registry import STAGES

    rc, out, _ = run_cli(monkeypatch, capsys, "stages")
    assert rc == 0
    for stage in STAGES:
        for spec in stage.outputs:
            assert spec.id in out  # never cut to fit 80 columns


# -- two runs into one output folder -------------------------------------------------------------
def test_second_run_into_a_locked_folder_exits_2_naming_the_running_process(tiny_pipeline, tmp_path):
    import os

    from habitat.stages.runner import output_lock

    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):  # this test process plays the running habitat
        rc, stdout, err = _subprocess("run", tiny_pipeline, "--out", out)
    assert rc == 2 and "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and f"PID {os.getpid()}" in error_lines[0]
    assert list(out.iterdir()) == []  # lock released and removed; nothing written
    from habitat.stages.runner import run_pipeline

    assert run_pipeline(tiny_pipeline, out).stages  # the folder is usable again


def test_two_concurrent_runs_both_finish_or_the_second_exits_2(tiny_pipeline, tmp_path):
    import os
    import subprocess
    import time

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "habitat.cli", "run", str(tiny_pipeline), "--out", str(out)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".lock").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    # the second run is this test process: another process as far as flock is concerned
    from habitat.errors import HabitatError
    from habitat.stages.runner import OutputFolderBusyError, run_pipeline

    try:
        run_pipeline(tiny_pipeline, out)
        second_error = None
    except HabitatError as exc:
        second_error = exc
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert "Traceback" not in first_err
    if second_error is not None:
        assert isinstance(second_error, OutputFolderBusyError) and f"PID {first.pid}" in str(second_error)
    from habitat.stages.cache import file_sha256
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    for record in manifest["stages"].values():
        for info in record["outputs"].values():
            assert file_sha256(out / info["path"]) == info["sha256"]


# -- Circuitscape jobs: bad grids are one line naming the file ----------------------------------
_HEADER = "ncols 4\nnrows 3\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n"
_CELLS = "1 2 1 1\n1 1 1 1\n1 1 -9999 1\n"
_POINTS = "1 0 0 2\n0 0 0 0\n0 0 -9999 0\n"


def _circuit_job(folder: Path, *, cells: str = _HEADER + _CELLS, points: str = _HEADER + _POINTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cells.asc").write_text(cells)
    (folder / "points.asc").write_text(points)
    ini = folder / "job.ini"
    ini.write_text(
        "[Circuitscape mode]\ndata_type = raster\nscenario = pairwise\n"
        "[Habitat raster or graph]\nhabitat_file = cells.asc\nhabitat_map_is_resistances = True\n"
        "[Options for pairwise and one-to-all and all-to-one modes]\npoint_file = points.asc\n"
        "[Output options]\noutput_file = out/job.out\n"
    )
    return ini


def test_circuit_small_job_runs(monkeypatch, capsys, tmp_path):
    ini = _circuit_job(tmp_path / "job")
    code, _, err = run_cli(monkeypatch, capsys, "circuit", ini, "--output-dir", tmp_path / "res")
    assert code == 0, err
    resistances = np.loadtxt(tmp_path / "res" / "job_resistances.out")
    assert resistances.shape == (3, 3) and resistances[1, 2] > 0


@pytest.mark.parametrize(
    "cells, points, expected",
    [
        (_HEADER.replace("cellsize 1", "cellsize") + _CELLS, None, "cells.asc: line 5: header key 'cellsize' has no value"),
        (_HEADER + _CELLS.replace("1 2 1 1", "1 -2 1 1"), None, "cells.asc: 1 cell with negative resistance"),
        (_HEADER + _CELLS.replace("1 2 1 1", "1 nan 1 1"), None, "cells.asc: 1 cell with NaN resistance"),
        (_HEADER + _CELLS.replace("1 2 1 1", "1 inf 1 1"), None, "cells.asc: 1 cell with infinite resistance"),
        (_HEADER + _CELLS.replace("1 2 1 1", "1 0 1 1"), None, "cells.asc: 1 cell with zero resistance"),
        (None, _HEADER.replace("ncols 4", "ncols 3") + "1 0 2\n0 0 0\n0 0 0\n",
         "points.asc: point grid is 3 x 3 but the habitat grid is 3 x 4"),
    ],
    ids=["header-no-value", "negative", "nan", "inf", "zero", "point-grid-shape"],
)
def test_circuit_bad_grid_is_one_line_naming_the_file(monkeypatch, capsys, tmp_path, cells, points, expected):
    kwargs = {k: v for k, v in (("cells", cells), ("points", points)) if v is not None}
    ini = _circuit_job(tmp_path / "job", **kwargs)
    code, out, err = run_cli(monkeypatch, capsys, "circuit", ini, "--output-dir", tmp_path / "res")
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert not (tmp_path / "res").exists()


def test_circuit_output_dir_that_is_a_file(monkeypatch, capsys, tmp_path):
    ini = _circuit_job(tmp_path / "job")
    target = tmp_path / "res.txt"
    target.write_text("keep me")
    code, _, err = run_cli(monkeypatch, capsys, "circuit", ini, "--output-dir", target)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--output-dir" in err and "is a file" in err
    assert target.read_text() == "keep me"


# -- every bad input: exit 2, one line, an earlier good output folder left byte-identical -------
@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """The tiny project and a finished run of it, made once; tests copy both."""
    from conftest import write_project

    from habitat.stages.runner import run_pipeline

    root = tmp_path_factory.mktemp("good")
    pipeline = write_project(root / "project")
    run_pipeline(pipeline, root / "out")
    return pipeline, root / "out"


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_float_landcover(path: Path, values: np.ndarray) -> None:
    import rasterio
    from conftest import ORIGIN_X, ORIGIN_Y, RES, UTM
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=UTM, transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)) as dst:
        dst.write(values.astype("float32"), 1)


def _corrupt_tiles(p):
    import rasterio
    from conftest import ORIGIN_X, ORIGIN_Y, UTM
    from rasterio.transform import from_origin

    f = p.parent / "data" / "lc_2020.tif"
    codes = np.repeat(np.repeat(tiny_codes(2), 10, axis=0), 10, axis=1)  # same map at 10 m
    with rasterio.open(f, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                       crs=UTM, transform=from_origin(ORIGIN_X, ORIGIN_Y, 10, 10), nodata=0, tiled=True,
                       blockxsize=64, blockysize=64, compress="deflate") as dst:
        dst.write(codes, 1)
    data = bytearray(f.read_bytes())
    lo, hi = int(len(data) * 0.7), int(len(data) * 0.9)
    data[lo:hi] = np.random.default_rng(1).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    f.write_bytes(bytes(data))  # the header (at the start) stays good; tile data in the middle is garbage


def _float_nan_landcover(p):
    codes = tiny_codes(2).astype(np.float32)
    codes[5, 5], codes[6, 6] = np.nan, np.inf
    _write_float_landcover(p.parent / "data" / "lc_2020.tif", codes)


def _not_utf8(p):
    p.write_bytes(p.read_bytes().replace(b"name: tiny", b"name: tiny\ndescription: caf\xe9"))


def _gdf(columns, geometry):
    import geopandas as gpd
    from conftest import UTM

    return gpd.GeoDataFrame(columns, geometry=geometry, crs=UTM)


def _write_layer(p, name, gdf):
    gdf.to_file(p.parent / "data" / f"{name}.gpkg", driver="GPKG")


def _point():
    import shapely

    return shapely.Point(502050, 4698650)


def _units_as_points(p):
    _write_layer(p, "units", _gdf({"unit_id": ["A"], "name": ["x"]}, [_point()]))


def _populations_as_lines(p):
    import shapely

    # points and polygons (occupied areas, issue 13) are sites; a line is not
    _write_layer(p, "populations", _gdf({"site_id": ["P1"], "name": ["x"], "count": [4]},
                                        [shapely.LineString([(500500, 4698800), (502000, 4698800)])]))


def _tugai_as_lines(p):
    import shapely

    _write_layer(p, "tugai_2", _gdf({"type": ["f"]}, [shapely.LineString([(500500, 4698800), (502000, 4698800)])]))


def _protected_areas_as_points(p):
    _write_layer(p, "protected", _gdf({"pa_id": ["A"], "name": ["x"]}, [_point()]))
    _edit(p, lambda d: d["inputs"].update(protected_areas={"path": "data/protected.gpkg"}))


def _count_text(p):
    _write_layer(p, "populations", _gdf({"site_id": ["P1"], "name": ["x"], "count": ["many"]}, [_point()]))


def _count_negative(p):
    _write_layer(p, "populations", _gdf({"site_id": ["P1"], "name": ["x"], "count": [-5]}, [_point()]))


def _census_year_inf(p):
    (p.parent / "data" / "census.csv").write_text("site_id,year,count,method,source\nP1,2000,30,a,b\nP1,inf,40,a,b\n")
    _edit(p, lambda d: d["inputs"].update(census={"path": "data/census.csv"}))


_SUITABILITY = ["habitat_class", "tugai_cover", "water_distance_m", "quality"]

BAD_INPUTS = [
    (_corrupt_tiles, "lc_2020.tif: corrupt or unreadable raster data"),
    (lambda p: _edit(p, lambda d: d["inputs"]["landcover"][0].update(band=3)),
     "lc_2000.tif: band 3 does not exist (the raster has 1 band)"),
    (_not_utf8, "pipeline.yaml: line 2: not UTF-8 text"),
    (lambda p: _edit(p, lambda d: d["grid"].update(resolution_m=0.01)), "grid.resolution_m: 0.01 makes a grid of"),
    (lambda p: _edit(p, lambda d: d["grid"].update(resolution_m=1e6)), "grid.resolution_m: 1e+06 makes a grid of only 1 x 1"),
    (lambda p: _edit(p, lambda d: d["grid"].update(crs="EPSG:999999")), "grid.crs: 'EPSG:999999' is not a CRS"),
    (lambda p: _edit(p, lambda d: d["grid"].update(bounds_crs="EPSG:999999")), "grid.bounds_crs: 'EPSG:999999'"),
    (lambda p: _edit(p, lambda d: d["stages"].update(suitability={"weights": dict.fromkeys(_SUITABILITY, 0), "ahp": None})),
     "stages.suitability.weights: every weight is 0"),
    (lambda p: _edit(p, lambda d: d["stages"].update(
        suitability={"ahp": {"matrix": [[1, 2, 3, 1], [0.5, 1, 1, 1], [1 / 3, 1, 1], [1, 1, 1, 1]]}})),
     "stages.suitability.ahp.matrix[2]: row has 3 values but the matrix has 4 rows"),
    (lambda p: _edit(p, lambda d: d["stages"].update(
        sites={"criteria": [{"name": "capacity_deer", "direction": "benefit", "weight": 0}]})),
     "stages.sites.criteria: every weight is 0"),
    (_census_year_inf, "census.csv: row 3: year 'inf' must be a whole number >= 0"),
    (_units_as_points, "inputs.reporting_units: units.gpkg holds Point geometries"),
    (_populations_as_lines, "inputs.populations: populations.gpkg holds LineString geometries"),
    (_tugai_as_lines, "inputs.tugai[1]: tugai_2.gpkg holds LineString geometries"),
    (_protected_areas_as_points, "inputs.protected_areas: protected.gpkg holds Point geometries"),
    (_count_text, "populations.gpkg, site P1: count 'many' is not a number >= 0"),
    (_count_negative, "populations.gpkg, site P1: count '-5' is not a number >= 0"),
    (lambda p: _edit(p, lambda d: d["inputs"]["populations"].update(count_column="n")),
     "inputs.populations.count_column: column 'n' is not in populations.gpkg"),
    (_float_nan_landcover, "lc_2020.tif: land cover holds NaN or infinite values"),
]


@pytest.mark.parametrize(
    "breakage, expected", BAD_INPUTS,
    ids=["corrupt-tiles", "band", "not-utf8", "memory", "huge-cell", "crs", "bounds-crs", "weights-0", "ahp-ragged",
         "site-weights-0", "census-inf", "units-points", "populations-lines", "tugai-lines", "protected-points",
         "count-text", "count-negative", "missing-column", "landcover-nan"],
)
def test_bad_input_leaves_a_previous_good_output_byte_identical(monkeypatch, capsys, good_run, tmp_path,
                                                                breakage, expected):
    import shutil

    pipeline, good_out = good_run
    project, out = tmp_path / "project", tmp_path / "out"
    shutil.copytree(pipeline.parent, project)
    shutil.copytree(good_out, out)
    before = _bytes(out)
    breakage(project / pipeline.name)
    code, stdout, err = run_cli(monkeypatch, capsys, "run", project / pipeline.name, "--out", out)
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(error_lines) == 1 and "Traceback" not in err, err
    assert expected in error_lines[0]
    assert _bytes(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in good_out.iterdir())


def test_empty_tugai_layer_is_a_warning(monkeypatch, capsys, good_run, tmp_path):
    import shutil

    pipeline, _ = good_run
    project = tmp_path / "project"
    shutil.copytree(pipeline.parent, project)
    _write_layer(project / pipeline.name, "tugai_2", _gdf({"type": []}, []))
    code, _, err = run_cli(monkeypatch, capsys, "run", project / pipeline.name, "--out", tmp_path / "out")
    assert code == 0
    assert "warning: inputs.tugai[1]: tugai_2.gpkg has no features" in err


def test_validate_catches_what_run_rejects(monkeypatch, capsys, tiny_pipeline):
    _count_negative(tiny_pipeline)
    _edit(tiny_pipeline, lambda d: d["inputs"]["reporting_units"].update(name_column="nom"))
    code, _, err = run_cli(monkeypatch, capsys, "validate", tiny_pipeline)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2
    assert any("inputs.reporting_units.name_column: column 'nom' is not in units.gpkg" in line for line in lines)
    assert any("count '-5' is not a number >= 0" in line for line in lines)


def test_out_that_is_a_file_exits_2_and_keeps_the_file(monkeypatch, capsys, tiny_pipeline, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", target)
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(error_lines) == 1 and "--out" in error_lines[0] and "is a file" in error_lines[0]
    assert target.read_text() == "keep me"


def test_a_site_criterion_on_a_missing_column_is_caught_before_the_run(monkeypatch, capsys, tiny_pipeline, tmp_path):
    from habitat.sites.candidates import CANDIDATE_COLUMNS

    _edit(tiny_pipeline, lambda d: d["stages"].update(sites={
        "criteria": [{"name": "mean_qualty", "direction": "benefit", "weight": 1.0}],
        "hard_criteria": [{"column": "inside_historical_range", "op": "==", "threshold": "yes"}]}))
    code, _, err = run_cli(monkeypatch, capsys, "validate", tiny_pipeline)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "stages.sites.criteria[0].name: 'mean_qualty' is not a numeric column of the candidate table" in lines[0]
    assert "mean_quality" in lines[0] and "inside_historical_range" not in lines[0]  # text columns cannot score
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", tmp_path / "out")
    assert code == 2 and "stages.sites.criteria[0].name" in err and "Traceback" not in err
    assert _files(tmp_path / "out") == []
    _edit(tiny_pipeline, lambda d: d["stages"]["sites"].update(
        criteria=[{"name": "mean_quality", "direction": "benefit", "weight": 1.0}],
        hard_criteria=[{"column": "historic_range", "op": "==", "threshold": "yes"}]))
    code, _, err = run_cli(monkeypatch, capsys, "validate", tiny_pipeline)
    assert code == 2 and "stages.sites.hard_criteria[0].column: 'historic_range' is not a column" in err
    assert ", ".join(CANDIDATE_COLUMNS) in err


def test_an_unchanged_report_is_reported_up_to_date(monkeypatch, capsys, tiny_pipeline, tmp_path):
    _edit(tiny_pipeline, lambda d: d["stages"].update(
        suitability={}, patches={"min_patch_area_ha": 1},
        report={"dpi": 50, "formats": ["png"], "per_unit_figures": False}))
    out = tmp_path / "out"
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", out)
    assert code == 0 and "report files; open" in err and "up to date" not in err
    code, _, err = run_cli(monkeypatch, capsys, "run", tiny_pipeline, "--out", out)
    assert code == 0 and "report up to date" in err and not re.search(r"wrote \d+ report files", err)
    code, _, err = run_cli(monkeypatch, capsys, "report", out)
    assert code == 0 and "report up to date" in err and "report.html" in err


def test_run_bounds_gdal_block_cache_unless_the_user_set_it(monkeypatch, tmp_path):
    import os

    import habitat.stages.runner as runner
    from habitat.io.rasters import GDAL_CACHE_MB

    seen = []

    class Stop(Exception):
        pass

    def fake_run(*args, **kwargs):
        seen.append(os.environ.get("GDAL_CACHEMAX"))
        raise Stop

    monkeypatch.setattr(runner, "run_pipeline", fake_run)
    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    with pytest.raises(Stop):
        cli._run(tmp_path / "p.yaml", tmp_path / "out", False, None, None, None)
    monkeypatch.setenv("GDAL_CACHEMAX", "512")
    with pytest.raises(Stop):
        cli._run(tmp_path / "p.yaml", tmp_path / "out", False, None, None, None)
    assert seen == [str(GDAL_CACHE_MB), "512"]


def test_collector_settings_restored_and_freeze_left_for_exit(monkeypatch, capsys):
    # main() lowers the collector's work while the imports allocate and freezes the heap only
    # at interpreter exit (atexit), once however often it runs in one process
    import atexit
    import gc

    before = gc.get_threshold()
    registered = []
    monkeypatch.setattr(atexit, "register", lambda f: registered.append(f))
    monkeypatch.setattr(atexit, "unregister", lambda f: registered.remove(f) if f in registered else None)
    for _ in range(2):
        code, _, _ = run_cli(monkeypatch, capsys, "-h")
        assert code == 0
    assert gc.get_threshold() == before
    assert registered == [gc.freeze]
    assert gc.isenabled()


# -- the circuit command's direct path (no typer parsing) equals typer's ----------------------
@pytest.mark.parametrize("flags", [["-q"], [], ["--debug", "-v"]], ids=["quiet", "plain", "debug-verbose"])
def test_circuit_direct_path_writes_what_typer_writes(monkeypatch, capsys, tmp_path, flags):
    ini = _circuit_job(tmp_path / "job")
    code, _, err = run_cli(monkeypatch, capsys, *flags, "circuit", ini, "--output-dir", tmp_path / "typer")
    assert code == 0, err

    def no_typer(*args, **kwargs):
        raise AssertionError("typer should not parse this command line")

    monkeypatch.setattr(cli, "app", no_typer)
    code, _, err = run_cli(monkeypatch, capsys, *flags, "circuit", ini, "--output-dir", tmp_path / "direct")
    assert code == 0, err
    for name in ("job_resistances.out", "job_resistances_3columns.out"):
        assert (tmp_path / "direct" / name).read_bytes() == (tmp_path / "typer" / name).read_bytes()
    assert cli._state["quiet"] == ("-q" in flags) and cli._state["debug"] == ("--debug" in flags)
    if "--debug" not in flags:  # (--debug raises the error with its traceback)
        code, _, err = run_cli(monkeypatch, capsys, *flags, "circuit", tmp_path / "nope.ini")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "nope.ini: job file not found" in err


@pytest.mark.parametrize("args", [["circuit"], ["circuit", "-h"], ["circuit", "job.ini", "--bogus"],
                                  ["circuit", "job.ini", "--output-dir"], ["--log-file", "x", "circuit", "job.ini"],
                                  ["circuit", "--output-dir", "d", "job.ini"], ["run", "p.yaml"], ["-q"]])
def test_circuit_direct_path_leaves_every_other_command_line_to_typer(monkeypatch, args):
    def no_command(*a, **k):
        raise AssertionError("not the direct path")

    monkeypatch.setattr(cli, "circuit", no_command)
    assert cli._direct_circuit(args) is False
