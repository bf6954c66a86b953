"""run_job: the collector's state around a job; bad jobs are one line naming the file (exit code 2)."""

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

from habitat.io.circuitscape import run_job

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from conftest import cli_errors  # noqa: E402


def _job(tmp_path):
    (tmp_path / "res.asc").write_text(
        "ncols 3\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 1 1\n")
    (tmp_path / "pts.asc").write_text(
        "ncols 3\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 -9999 2\n")
    ini = tmp_path / "job.ini"
    ini.write_text("[Circuitscape mode]\ndata_type = raster\nscenario = pairwise\n"
                   "[Habitat raster or graph]\nhabitat_file = res.asc\nhabitat_map_is_resistances = True\n"
                   "[Options for pairwise and one-to-all and all-to-one modes]\npoint_file = pts.asc\n"
                   "[Connection scheme for raster habitat data]\nconnect_four_neighbors_only = True\n"
                   "[Output options]\noutput_file = out.out\n")
    return ini


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_state_restored(tmp_path, enabled):
    # three 1-ohm cells in a row, edges of (1 + 1) / 2 S: 2 ohm between the ends
    ini = _job(tmp_path)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        run_job(ini, cwd=tmp_path)
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "out_resistances.out"),
                                  [[0, 1, 2], [1, 0, 2], [2, 2, 0]])


# -- bad jobs: exit code 2, one line naming the file or option, no traceback, nothing written ------
_HEADER = "ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n"
_RASTER = ("[Circuitscape mode]\ndata_type = raster\nscenario = {scenario}\n"
           "[Habitat raster or graph]\nhabitat_file = res.asc\n"
           "[Options for pairwise and one-to-all and all-to-one modes]\npoint_file = {points}\n"
           "[Output options]\noutput_file = out/job.out\n{extra}")
_NETWORK = ("[Circuitscape mode]\ndata_type = network\nscenario = {scenario}\n"
            "[Habitat raster or graph]\nhabitat_file = graph.txt\n"
            "[Options for pairwise and one-to-all and all-to-one modes]\npoint_file = focal.txt\n"
            "[Output options]\noutput_file = out/job.out\n{extra}")


def _bad_job(folder, *, scenario="pairwise", points="pts.asc", extra="", files=None, network=False):
    """A 3 x 2 job (two focal points in opposite corners) with ``files`` (name -> text) written over it."""
    texts = {"res.asc": _HEADER + "1 1 1\n1 1 1\n", "pts.asc": _HEADER + "1 -9999 -9999\n-9999 -9999 2\n",
             "graph.txt": "0 1 1\n1 2 1\n", "focal.txt": "0\n2\n", **(files or {})}
    for name, text in texts.items():
        (folder / name).write_text(text)
    template = _NETWORK if network else _RASTER
    (folder / "job.ini").write_text(template.format(scenario=scenario, points=points, extra=extra))
    return folder / "job.ini"


_SHIFTED = _HEADER.replace("xllcorner 0", "xllcorner 5") + "1 -9999 -9999\n-9999 -9999 2\n"
_BAD_JOBS = {
    "option-misspelt": (dict(extra="write_cur_map = True\n"), "write_cur_map is not a Circuitscape option; did you mean write_cur_maps"),
    "boolean-not-true-or-false": (dict(extra="write_cur_maps = maybe\n"), "write_cur_maps = 'maybe'; use True or False"),
    "remove-src-or-gnd-unknown": (dict(scenario="advanced", extra="source_file = pts.asc\nground_file = pts.asc\n"
                                       "remove_src_or_gnd = rmvboth\n"), "remove_src_or_gnd = 'rmvboth' is unknown"),
    "habitat-file-a-folder": (dict(files={}, extra="habitat_file = sub\n"), "habitat_file = sub is a folder"),
    "point-table-empty": (dict(points="pts.txt", files={"pts.txt": ""}), "pts.txt: holds no data lines"),
    "point-table-two-columns": (dict(points="pts.txt", files={"pts.txt": "1 0.5\n2 2.5\n"}),
                                "pts.txt: has 2 columns but needs 3 (value x y)"),
    "point-table-outside": (dict(points="pts.txt", files={"pts.txt": "1 0.5 0.5\n2 9.5 0.5\n"}),
                            "pts.txt: the focal point on data line 2 (x 9.5, y 0.5) lies outside the habitat grid"),
    "source-table-outside": (dict(scenario="advanced", extra="source_file = src.txt\nground_file = gnd.txt\n",
                                  files={"src.txt": "1 -0.5 0.5\n", "gnd.txt": "1 2.5 1.5\n"}),
                             "src.txt: the point on data line 1 (x -0.5, y 0.5) lies outside"),
    "included-pairs-empty": (dict(extra="use_included_pairs = True\nincluded_pairs_file = inc.txt\n",
                                  files={"inc.txt": ""}), "inc.txt: not an included-pairs file (it is empty)"),
    "included-pairs-text": (dict(extra="use_included_pairs = True\nincluded_pairs_file = inc.txt\n",
                                 files={"inc.txt": "mode include\n1 x\n"}), "inc.txt: not an included-pairs file"),
    "included-matrix-no-max": (dict(extra="use_included_pairs = True\nincluded_pairs_file = inc.txt\n",
                                    files={"inc.txt": "min 1\n0 1 2\n1 0 1\n2 1 0\n"}),
                               "inc.txt: not an included-pairs file (a 'min' line must have a value"),
    "variable-sources-one-column": (dict(scenario="one-to-all", extra="use_variable_source_strengths = True\n"
                                         "variable_source_file = v.txt\n", files={"v.txt": "1\n2\n"}),
                                    "v.txt: has 1 column but needs 2"),
    "network-two-columns": (dict(network=True, files={"graph.txt": "0 1\n1 2\n"}),
                            "graph.txt: has 2 columns but needs 3 (node node weight)"),
    "network-zero-resistance": (dict(network=True, files={"graph.txt": "0 1 0\n1 2 1\n"}),
                                "graph.txt: edge 0-1 (data line 1) has resistance 0"),
    "network-negative-node": (dict(network=True, files={"graph.txt": "0 -1 1\n1 2 1\n"}),
                              "graph.txt: node id -1 is not a node of the graph"),
    "network-focal-not-in-graph": (dict(network=True, files={"focal.txt": "0\n9\n"}),
                                   "focal.txt: focal node 9 is not a node of the graph; the graph's nodes are 0 to 2"),
    "network-empty": (dict(network=True, files={"graph.txt": "\n"}), "graph.txt: holds no data lines"),
}


@pytest.mark.parametrize("case", list(_BAD_JOBS), ids=list(_BAD_JOBS))
def test_bad_job_is_one_line_naming_the_file_exit_2_nothing_written(tmp_path, capsys, case):
    kwargs, expected = _BAD_JOBS[case]
    (tmp_path / "sub").mkdir()
    ini = _bad_job(tmp_path, **kwargs)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = cli_errors(["circuit", ini, "--output-dir", tmp_path / "out"], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no partial file


def test_good_job_of_the_bad_job_set_runs(tmp_path, capsys):
    # the base of the cases above is a valid job: 3 x 2 cells of 1 ohm, corner to corner
    ini = _bad_job(tmp_path)
    code, _, err = cli_errors(["circuit", ini, "--output-dir", tmp_path / "out"], capsys)
    assert code == 0, err
    res = np.loadtxt(tmp_path / "out" / "job_resistances.out")
    assert res[0, 1:].tolist() == [1, 2] and res[1, 2] > 0


@pytest.mark.parametrize("header", [_HEADER.replace("xllcorner 0", "xllcorner 5"),
                                    _HEADER.replace("cellsize 1", "cellsize 0.5")], ids=["shifted", "cellsize"])
def test_point_grid_with_another_header_is_warned_about_and_read_cell_for_cell(tmp_path, capsys, header):
    # Circuitscape 5 (read_polymap) warns and goes on; the cells are taken as the habitat grid's
    ini = _bad_job(tmp_path, files={"pts.asc": header + "1 -9999 -9999\n-9999 -9999 2\n"})
    code, _, err = cli_errors(["circuit", ini, "--output-dir", tmp_path / "out"], capsys)
    assert code == 0, err
    warned = [line for line in err.splitlines() if "pts.asc: point grid has cellsize" in line]
    assert len(warned) == 1 and "Traceback" not in err, err
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "out" / "job_resistances.out"),
                                  np.loadtxt(_good_resistances(tmp_path / "good")))


def _good_resistances(folder):
    folder.mkdir()
    ini = _bad_job(folder)
    from habitat.io.circuitscape import run_job

    run_job(ini, output_dir=folder / "out")
    return folder / "out" / "job_resistances.out"


def test_output_folder_that_cannot_be_written_fails_before_solving(tmp_path, capsys):
    target = Path("/proc/habitat-test-no-such-folder")
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc (a file system where folders cannot be made, even as root)")
    ini = _bad_job(tmp_path)
    code, _, err = cli_errors(["circuit", ini, "--output-dir", target], capsys)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"--output-dir {target}: cannot write in /proc" in lines[0], err
    assert not target.exists()
