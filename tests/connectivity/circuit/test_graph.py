"""Known-answer tests of the circuit graph: conductances, node map, edge weights."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from habitat.connectivity.circuit import (
    build_adjacency,
    build_node_map,
    components,
    conductance_from_raster,
    laplacian,
)
from habitat.errors import InvalidParameterError


def test_conductance_from_resistance_and_nodata():
    g = conductance_from_raster(np.array([[2.0, -9999.0], [4.0, np.nan]]),
                                is_resistance=True, nodata=-9999.0)
    assert_allclose(g, [[0.5, 0.0], [0.25, 0.0]])


def test_zero_resistance_refused():
    with pytest.raises(InvalidParameterError, match="short-circuit"):
        conductance_from_raster(np.array([[0.0, 1.0]]), is_resistance=True)


def test_node_map_collapses_regions_column_major():
    g = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    regions = np.array([[0, 7, 7], [0, 0, 0]])
    # (0,2) has no conductance but joins region 7, which has a valid cell
    assert_allclose(build_node_map(g, regions=regions), [[1, 3, 3], [2, 4, 5]])
    assert_allclose(build_node_map(g), [[1, 3, 0], [2, 4, 5]])


def test_adjacency_weights_8_neighbours_avg_conductance():
    g = np.array([[1.0, 3.0], [5.0, 7.0]])
    nm = build_node_map(g)  # column-major: (0,0)=1 (1,0)=2 (0,1)=3 (1,1)=4
    a = build_adjacency(g, nm).toarray()
    s = np.sqrt(2.0)
    expected = np.array([
        [0, 3, 2, 4 / s],
        [3, 0, 4 / s, 6],
        [2, 4 / s, 0, 5],
        [4 / s, 6, 5, 0]])
    assert_allclose(a, expected)


def test_adjacency_avg_resistance_four_neighbours():
    g = np.array([[1.0, 0.25]])  # resistances 1 and 4
    a = build_adjacency(g, build_node_map(g), four_neighbors=True, avg_resistance=True).toarray()
    assert_allclose(a, [[0, 1 / 2.5], [1 / 2.5, 0]])


def test_laplacian_and_components():
    g = np.array([[1.0, 1.0, 0.0, 2.0]])
    adj = build_adjacency(g, build_node_map(g), four_neighbors=True)
    assert_allclose(laplacian(adj).toarray(), [[1, -1, 0], [-1, 1, 0], [0, 0, 0]])
    comps = components(adj)
    assert [c.tolist() for c in comps] == [[0, 1], [2]]


def test_write_as_tif_writes_geotiffs_with_the_same_values(tmp_path, monkeypatch, circuitscape_reference):
    import shutil
    from pathlib import Path

    import numpy as np
    import rasterio

    from habitat.io.circuitscape import run_job

    reference = circuitscape_reference
    job = tmp_path / "job.ini"
    text = (reference / "input/raster/pairwise/2/sgVerify2.ini").read_text()
    job.write_text(text + "\n[Output options]\nwrite_as_tif = True\n" if "write_as_tif" not in text
                   else text.replace("write_as_tif = False", "write_as_tif = True"))
    monkeypatch.chdir(reference)
    written = run_job(job, output_dir=tmp_path / "out")
    tifs = [p for p in written if p.suffix == ".tif"]
    assert tifs and not [p for p in written if p.suffix == ".asc"]
    asc_dir = tmp_path / "asc"
    run_job(reference / "input/raster/pairwise/2/sgVerify2.ini", output_dir=asc_dir)
    for tif in tifs:
        with rasterio.open(tif) as ds:
            ours = ds.read(1)
        expected = np.loadtxt(asc_dir / (tif.stem + ".asc"), skiprows=6)
        np.testing.assert_allclose(ours, expected, atol=1e-8)
    shutil.rmtree(asc_dir)
