"""Omniscape job outputs: GeoTIFFs carry the input's CRS; single precision is written as float32;
an output folder that cannot be written is one line before any window is solved."""

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from habitat.io.omniscape_job import run_job

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import cli_errors  # noqa: E402


def _tif(path, values, crs):
    profile = dict(driver="GTiff", width=values.shape[1], height=values.shape[0], count=1, dtype="float64",
                   transform=from_origin(500000, 4500000, 100, 100), nodata=-9999.0)
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)


@pytest.mark.parametrize(("precision", "crs", "dtype"), [("single", "EPSG:32642", "float32"),
                                                         ("double", "EPSG:32642", "float64"),
                                                         ("double", None, "float64")])
def test_geotiff_outputs_keep_the_crs_and_precision(tmp_path, precision, crs, dtype):
    res = np.full((9, 11), 2.0)
    res[4, 2:6] = -9999.0
    _tif(tmp_path / "r.tif", res, crs)
    _tif(tmp_path / "s.tif", np.ones((9, 11)), crs)
    (tmp_path / "job.ini").write_text(
        "[Required]\nresistance_file = r.tif\nradius = 3\nproject_name = out\n"
        "[General options]\nsource_file = s.tif\nblock_size = 1\ncalc_flow_potential = true\n"
        f"calc_normalized_current = true\nprecision = {precision}\n[Output options]\nwrite_as_tif = true\n")
    written = run_job(tmp_path / "job.ini", cwd=tmp_path, workers=1)
    tifs = [p for p in written if p.suffix == ".tif"]
    assert sorted(p.name for p in tifs) == ["cum_currmap.tif", "flow_potential.tif", "normalized_cum_currmap.tif"]
    for path in tifs:
        with rasterio.open(path) as ds:
            assert ds.dtypes[0] == dtype
            assert (ds.crs is None) if crs is None else ds.crs == rasterio.crs.CRS.from_string(crs)
            assert ds.transform == from_origin(500000, 4500000, 100, 100)
            assert ds.read(1)[4, 3] == -9999.0  # nodata where the resistance is


@pytest.mark.parametrize("where", ["a-file", "proc"])
def test_output_folder_that_cannot_be_written_fails_before_the_windows(tmp_path, capsys, where):
    _tif(tmp_path / "r.tif", np.ones((5, 5)), None)
    (tmp_path / "job.ini").write_text("[Required]\nresistance_file = r.tif\nradius = 1\nproject_name = out\n"
                                      "source_from_resistance = true\n")
    if where == "a-file":
        target = tmp_path / "taken.txt"
        target.write_text("keep me")
        expected = f"error: --output-dir {target}: {target} is a file, not a folder; choose a folder you can write to"
    else:
        if not Path("/proc").is_dir():
            pytest.skip("needs /proc (a file system where folders cannot be made, even as root)")
        target = Path("/proc/habitat-test-omniscape")
        expected = f"error: --output-dir {target}: cannot write in /proc ("
    code, _, err = cli_errors(["omniscape", tmp_path / "job.ini", "--output-dir", target], capsys)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.ini", "r.tif"] + (["taken.txt"] if where == "a-file" else [])


def test_condition_file_not_given_is_named(tmp_path, capsys):
    _tif(tmp_path / "r.tif", np.ones((5, 5)), None)
    (tmp_path / "job.ini").write_text("[Required]\nresistance_file = r.tif\nradius = 1\nproject_name = out\n"
                                      "source_from_resistance = true\nconditional = true\n")
    code, _, err = cli_errors(["omniscape", tmp_path / "job.ini", "--output-dir", tmp_path / "res"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"error: {tmp_path / 'job.ini'}: condition1_file is not given; add "
                           "'condition1_file = <file>' to the job file")
    assert not (tmp_path / "res").exists()
