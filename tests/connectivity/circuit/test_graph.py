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


def test_compiled_adjacency_and_laplacian_equal_the_coo_construction(monkeypatch):
    import numpy as np
    import scipy.sparse as sp

    from habitat.connectivity.circuit import graph

    rng = np.random.default_rng(21)
    cell = rng.uniform(0.01, 1.0, (23, 17))
    cell[rng.random(cell.shape) < 0.1] = 0.0
    nm = graph.build_node_map(cell)
    for four in (False, True):
        for avg_res in (False, True):
            fast = graph.build_adjacency(cell, nm, four_neighbors=four, avg_resistance=avg_res)
            with monkeypatch.context() as m:
                m.setattr(graph, "_njit", None)
                ref = graph.build_adjacency(cell, nm, four_neighbors=four, avg_resistance=avg_res)
                ref_lap = graph.laplacian(ref)
            ref.sort_indices()
            np.testing.assert_array_equal(fast.indptr, ref.indptr)
            np.testing.assert_array_equal(fast.indices, ref.indices)
            np.testing.assert_array_equal(fast.data, ref.data)  # same formula, same bits
            lap = graph.laplacian(fast)
            np.testing.assert_allclose(lap.toarray(), ref_lap.toarray(), rtol=1e-14, atol=1e-15)
            np.testing.assert_allclose(lap.sum(axis=1), 0.0, atol=1e-14)
    # a stored self-loop is ignored, as before
    loop = (fast + sp.diags(np.full(fast.shape[0], 0.5))).tocsr()
    np.testing.assert_allclose(graph.laplacian(loop).toarray(), lap.toarray(), atol=1e-15)
    assert graph.laplacian(fast, dtype=np.float32).dtype == np.float32
