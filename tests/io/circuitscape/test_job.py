"""run_job: the collector's state around a job."""

import gc

import numpy as np
import pytest

from habitat.io.circuitscape import run_job


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
