"""Connectivity and circuit stages on a coarser connectivity grid (grid.connectivity_resolution_m):
hand-derived costs, currents and the dispersal limit on tiny grids."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from habitat.config import GridConfig
from habitat.grid import GridSpec
from habitat.layers import grid_of, make_layer
from habitat.params import CircuitParams, ConnectivityParams
from habitat.stages.circuit import run_circuit
from habitat.stages.connectivity import run_connectivity
from habitat.stages.spec import StageContext

nan = np.nan
# 4 x 12 fine cells of 100 m -> 2 x 6 coarse cells of 200 m. Coarse row 0 (fine rows 0-1) has block
# harmonic means 1, 4 (4 / (1/3 + 1/6 + 1/6 + 1/3)), 4, 2, 1, 1; block (0, 2) has one impassable cell
# of four (not more than half: passable, the other three count). Coarse row 1 costs 100 a cell; its
# block (1, 3) is 3/4 impassable -> NaN.
FINE = np.array([
    [1, 1, 3, 6, 4, 4, 2, 2, 1, 1, 1, 1],
    [1, 1, 6, 3, nan, 4, 2, 2, 1, 1, 1, 1],
    [100, 100, 100, 100, 100, 100, nan, nan, 100, 100, 100, 100],
    [100, 100, 100, 100, 100, 100, nan, 100, 100, 100, 100, 100],
])
GRID = GridSpec.from_bounds((0, 0, 1200, 400), "EPSG:32642", 100)


def _inputs(resistance: np.ndarray, sites: list[tuple[str, int, int]]) -> dict:
    patch = np.zeros(resistance.shape, np.int32)
    patch[0:2, 0:2], patch[0:2, 10:12] = 1, 2
    points = [shapely.Point(GRID.x_coords[c], GRID.y_coords[r]) for _, r, c in sites]
    return {
        "resistance": make_layer(resistance.astype(np.float32), GRID, name="resistance"),
        "populations": gpd.GeoDataFrame({"site_id": [s for s, _, _ in sites]}, geometry=points, crs=GRID.pyproj_crs),
        "patch_id": make_layer(patch, GRID, name="patch_id"),
        "patch_table": pd.DataFrame({"patch_id": [1, 2], "area_ha": [4.0, 4.0]}),
    }


def _ctx(params, inputs, connectivity_resolution_m=200.0):
    settings = {"grid": GridConfig(resolution_m=100, connectivity_resolution_m=connectivity_resolution_m)}
    return StageContext(grid=GRID, params=params, inputs=inputs, pipeline=None, log=lambda line: None,
                        settings=settings)


def _connectivity(max_dispersal_m, **extra):
    params = ConnectivityParams(core_radius_m=50, corridor_cutoff=None, barrier_radii_m=[200],
                                max_dispersal_m=max_dispersal_m, **extra)
    return run_connectivity(_ctx(params, _inputs(FINE, [("A", 0, 0), ("B", 1, 11)])))


def test_coarse_link_costs_the_hand_sum_of_coarse_steps():
    out = _connectivity(None)
    links = out["links"]
    # coarse cores: A's fine cell (0, 0) -> coarse (0, 0); B's (1, 11) -> coarse (0, 5). Five 200 m
    # steps along coarse row 0, each (r_i + r_j) / 2 x 200: (2.5 + 4 + 3 + 1.5 + 1) x 200
    assert links[["from_site", "to_site"]].values.tolist() == [["A", "B"]]
    assert links.loc[0, "lcd"] == pytest.approx(2400.0)
    assert links.loc[0, "path_length_m"] == pytest.approx(1000.0)
    assert links.loc[0, "euclidean_distance_m"] == pytest.approx(1000.0)  # coarse cell centres 5 x 200 m apart
    # the path runs through coarse cell centres (y = 300: the middle of fine rows 0-1)
    line = out["least_cost_paths"].geometry.iloc[0]
    np.testing.assert_allclose(np.asarray(line.coords), [[100 + 200 * k, 300] for k in range(6)])
    # rasters come back on the analysis grid: NLCC 0 over coarse row 0, fine impassable cells NaN
    corridors = out["corridors"].values
    assert corridors.shape == (4, 12) and grid_of(out["corridors"]) == GRID
    expected = np.zeros((2, 12))
    expected[1, 4] = nan
    np.testing.assert_array_equal(corridors[:2], expected)
    assert np.isnan(corridors[2:, 6]).all() and np.isnan(corridors[3, 6])
    # population cores stay on the analysis grid (radius 50 m: the cell of the point)
    cores = np.zeros((4, 12), np.int32)
    cores[0, 0], cores[1, 11] = 1, 2
    np.testing.assert_array_equal(out["population_cores"].values, cores)


@pytest.mark.parametrize(("max_dispersal_m", "connected"), [(2400.0, True), (2399.0, False)])
def test_dispersal_limit_applies_to_the_coarse_cost(max_dispersal_m, connected):
    # median fine resistance of habitat-patch cells is 1: the limit is max_dispersal_m resistance x m
    out = _connectivity(max_dispersal_m)
    links = out["links"]
    assert links.loc[0, "max_cost"] == max_dispersal_m and bool(links.loc[0, "connected"]) is connected
    reach = out["dispersal_reach"].values
    if connected:
        # coarse row 0 is within reach; back on the fine grid, its impassable cell is not
        expected = np.zeros((4, 12), np.uint8)
        expected[:2] = 1
        expected[1, 4] = 0
        np.testing.assert_array_equal(reach, expected)
    else:
        assert (reach == 0).all() and np.isnan(out["corridors"].values).all()


@pytest.mark.parametrize(("link_distance", "components"), [(2400.0, 1), (2399.0, 2)])
def test_patch_graph_distance_is_the_coarse_cost(link_distance, components):
    # patch 1 (fine block -> coarse cell (0, 0)) to patch 2 (coarse (0, 5)): the same 2400 as the link
    out = _connectivity(None, iic_link_distance=link_distance)
    assert out["graph_indices"].set_index("index").loc["components", "value"] == components


def test_coarse_circuit_on_a_strip_gives_series_ohms_and_current_per_fine_cell():
    # 2 x 10 fine cells of resistance 1 -> a 1 x 5 coarse strip: 4 one-ohm steps in series, 1 A
    # through every coarse cell, i.e. 1/2 A through each of the 2 fine cells side by side
    grid = GridSpec.from_bounds((0, 0, 1000, 200), "EPSG:32642", 100)
    cores = np.zeros((2, 10), np.int32)
    cores[0, 0], cores[1, 9] = 1, 2
    points = [shapely.Point(grid.x_coords[0], grid.y_coords[0]), shapely.Point(grid.x_coords[9], grid.y_coords[1])]
    inputs = {
        "resistance": make_layer(np.ones((2, 10), np.float32), grid, name="resistance"),
        "populations": gpd.GeoDataFrame({"site_id": ["A", "B"]}, geometry=points, crs=grid.pyproj_crs),
        "population_cores": make_layer(cores, grid, name="population_cores"),
        "patch_id": make_layer(np.ones((2, 10), np.int32), grid, name="patch_id"),
    }
    settings = {"grid": GridConfig(resolution_m=100, connectivity_resolution_m=200)}
    ctx = StageContext(grid=grid, params=CircuitParams(), inputs=inputs, pipeline=None, log=lambda line: None,
                       settings=settings)
    out = run_circuit(ctx)
    assert out["effective_resistance"].loc[0, "effective_resistance_ohm"] == pytest.approx(4.0)
    current = out["cumulative_current"]
    assert current.values.shape == (2, 10) and grid_of(current) == grid
    np.testing.assert_allclose(current.values, np.full((2, 10), 0.5), atol=1e-6)
    np.testing.assert_allclose(out["patch_current"]["current_sum"], [10.0], atol=1e-5)


def test_default_settings_leave_the_stage_on_the_analysis_grid():
    params = ConnectivityParams(core_radius_m=50, corridor_cutoff=None, barrier_radii_m=[200], max_dispersal_m=None)
    inputs = _inputs(FINE, [("A", 0, 0), ("B", 1, 11)])
    unset = run_connectivity(_ctx(params, inputs, connectivity_resolution_m=None))
    same = run_connectivity(_ctx(params, inputs, connectivity_resolution_m=100.0))
    bare = run_connectivity(StageContext(grid=GRID, params=params, inputs=inputs, pipeline=None, log=lambda line: None))
    for out in (same, bare):
        np.testing.assert_array_equal(out["corridors"].values, unset["corridors"].values)
        pd.testing.assert_frame_equal(out["links"], unset["links"])
    # on the fine grid: 100 m steps (0,0)-(0,1)-(0,2), diagonals over the 3s (0,2)-(1,3)-(0,4), along
    # row 0 to (0,10), a diagonal into B's cell (1,11); each step (r_i + r_j) / 2 x its length
    straight = 100 * (1 + 2 + 4 + 3 + 2 + 1.5 + 1 + 1)
    diagonal = 100 * 2**0.5 * (3 + 3.5 + 1)
    assert unset["links"].loc[0, "lcd"] == pytest.approx(straight + diagonal)


def test_a_connectivity_resolution_that_is_not_a_whole_multiple_is_refused(tmp_path, monkeypatch, capsys):
    import sys
    from pathlib import Path

    import yaml
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import write_project
    from test_cli import run_cli

    pipeline = write_project(tmp_path / "project")
    data = yaml.safe_load(pipeline.read_text())
    data["grid"]["connectivity_resolution_m"] = 250  # 2.5 x the 100 m cells
    pipeline.write_text(yaml.safe_dump(data))
    code, _, err = run_cli(monkeypatch, capsys, "run", pipeline, "--out", tmp_path / "out")
    lines = [line for line in err.splitlines() if line.strip() and " habitat 0.1" not in line]  # past the banner
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert "pipeline.yaml: grid.connectivity_resolution_m: 250 is not a whole multiple of grid.resolution_m 100" in lines[0]
    assert "such as 200" in lines[0]
    assert not (tmp_path / "out").exists()


def test_connectivity_stage_refusal_names_a_connectivity_resolution_that_fits(monkeypatch):
    import sys
    from pathlib import Path

    from habitat import memory
    from habitat.config import Pipeline
    from habitat.errors import MemoryNeedError
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_memory_checks import _NoRasters

    # 12000 x 12000 cells of 30 m, 4 populations: the search 74 bytes/cell (42 + 8 x 4) on the
    # connectivity grid, the stage 64 on the analysis grid; 14 GiB x 0.8 = 12.03 GB allowed:
    # (64 + 74) x 1.44e8 = 19.9 GB (f = 1), 64 x 1.44e8 + 74 x 1.44e8 / f^2 = 11.9 GB (f = 2)
    assert memory.FINE_SIDE_BYTES["cost_distance"] == 64
    monkeypatch.setattr(memory, "available_bytes", lambda: 14 * 2**30)
    grid = GridSpec.from_bounds((0, 0, 360_000, 360_000), "EPSG:32642", 30.0)
    pops = gpd.GeoDataFrame({"site_id": list("ABCD")}, geometry=[shapely.Point(5, 5)] * 4)
    ctx = StageContext(grid=grid, params=ConnectivityParams(), inputs=_NoRasters({"populations": pops}),
                       pipeline=Pipeline.model_construct(), log=lambda line: None)
    with pytest.raises(MemoryNeedError) as err:
        run_connectivity(ctx)
    assert err.value.setting == "grid.connectivity_resolution_m" and err.value.needed_bytes == 138 * 12_000**2
    assert "set grid.connectivity_resolution_m: 60 (2x the 30 m analysis cells)" in str(err.value)
    # with the suggested value the stage passes its check (and goes on to read its inputs)
    ctx = StageContext(grid=grid, params=ConnectivityParams(), inputs=_NoRasters({"populations": pops}),
                       pipeline=Pipeline.model_construct(), log=lambda line: None,
                       settings={"grid": GridConfig(resolution_m=30, connectivity_resolution_m=60)})
    with pytest.raises(AssertionError, match="read before the memory check"):
        run_connectivity(ctx)


def _lazy_layers(inputs: dict, chunk: int) -> dict:
    """The raster inputs as dask-backed layers of ``chunk`` cells (as the runner opens files)."""
    import dask.array as da
    return {k: make_layer(da.from_array(v.values, chunks=chunk), GRID, name=k, units=v.attrs.get("units"))
            if hasattr(v, "dims") else v for k, v in inputs.items()}


def _values(out: dict) -> dict:
    return {k: (np.asarray(v.values) if hasattr(v, "dims") else v) for k, v in out.items()}


@pytest.mark.parametrize("chunk", [3, 5])
def test_lazy_inputs_give_the_in_memory_outputs_without_a_fine_grid_array(chunk):
    # chunks of 3 and 5 fine cells do not divide the 2-cell coarse blocks: strips carry rows over
    import dask.array as da
    params = ConnectivityParams(core_radius_m=150, corridor_cutoff=None, barrier_radii_m=[200], max_dispersal_m=None)
    fine = FINE.copy()
    fine[0, 1] = 2.0  # the median of habitat cells is between two values
    inputs = _inputs(fine, [("A", 0, 0), ("B", 1, 11), ("C", 3, 5)])
    eager = run_connectivity(_ctx(params, inputs))
    lazy = run_connectivity(_ctx(params, _lazy_layers(inputs, chunk)))
    for key in ("corridors", "barrier_improvement", "dispersal_reach", "population_cores"):
        if key in lazy:
            assert isinstance(lazy[key].data, da.Array), key  # made chunk by chunk when written
    a, b = _values(eager), _values(lazy)
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            pd.testing.assert_frame_equal(pd.DataFrame(a[key]), pd.DataFrame(b[key]), check_exact=True)
    # the circuit on top, from the connectivity outputs
    circuit_in = {**inputs, "population_cores": eager["population_cores"], "corridors": eager["corridors"],
                  "links": eager["links"]}
    c_eager = run_circuit(_ctx(CircuitParams(), circuit_in))
    c_lazy = run_circuit(_ctx(CircuitParams(), _lazy_layers(circuit_in, chunk)))
    assert isinstance(c_lazy["cumulative_current"].data, da.Array)
    a, b = _values(c_eager), _values(c_lazy)
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)
    assert np.isfinite(b["cumulative_current"]).any() and len(b["patch_current"]) == 2
