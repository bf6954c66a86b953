"""The sites stage on a coarser connectivity grid (grid.connectivity_resolution_m): candidate
least-cost distance and effective resistance derived by hand on a tiny strip, the memory check."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from habitat import memory
from habitat.config import GridConfig
from habitat.connectivity.two_grid import Grain
from habitat.errors import MemoryNeedError
from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import CircuitParams, ConnectivityParams, PatchesParams, SitesParams
from habitat.stages.sites import _SitesGrain, run_sites
from habitat.stages.spec import StageContext

nan = np.nan
# 4 x 12 fine cells of 100 m: a habitat strip on rows 0-1 (resistance 1), rows 2-3 impassable.
# Population P1 at the centre of cell (0, 5), its core the cells of rows 0-1, columns 4-5. With
# occupied_radius_m = 150 the cells of columns 4-6 are occupied, leaving candidate C1 (columns
# 0-3) and C2 (columns 7-11). At 200 m the connectivity grid is 2 x 6 cells: row 0 a one-cell
# strip of resistance 1 (harmonic mean of four 1s), row 1 impassable (all four fine cells NaN);
# the core is coarse cell (0, 2).
ROWS, COLS = 4, 12
GRID = GridSpec.from_bounds((0, 0, 100 * COLS, 100 * ROWS), "EPSG:32642", 100)


def _ctx(connectivity_resolution_m=None, *, grid_section=True, resolution_m=100):
    patch_id = np.zeros((ROWS, COLS), np.int32)
    patch_id[0:2, :] = 1
    resistance = np.full((ROWS, COLS), nan, np.float32)
    resistance[0:2, :] = 1.0
    cores = np.zeros((ROWS, COLS), np.int32)
    cores[0:2, 4:6] = 1
    inputs = {
        "patch_id": make_layer(patch_id, GRID, name="patch_id"),
        "quality": make_layer(np.full((ROWS, COLS), 0.8, np.float32), GRID, name="quality"),
        "degradation": make_layer(np.zeros((ROWS, COLS), np.float32), GRID, name="degradation"),
        "water_distance_m": make_layer(np.full((ROWS, COLS), 100.0, np.float32), GRID, name="water_distance_m"),
        "resistance": make_layer(resistance, GRID, name="resistance"),
        "population_cores": make_layer(cores, GRID, name="population_cores"),
        "patch_importance": pd.DataFrame({"patch_id": [1], "dPC": [50.0]}),
        "populations": gpd.GeoDataFrame({"site_id": ["P1"]}, geometry=[shapely.Point(GRID.x_coords[5], GRID.y_coords[0])],
                                        crs=GRID.pyproj_crs),
    }
    params = SitesParams(occupied_radius_m=150.0, min_candidate_area_ha=0.0, target_herd=1, n_draws=20, seed=3,
                         top_n=2, criteria=[{"name": "lcd_to_source", "direction": "cost", "weight": 1},
                                            {"name": "effective_resistance_to_source_ohm", "direction": "cost",
                                             "weight": 1}])
    settings = {"connectivity": ConnectivityParams(), "circuit": CircuitParams(),
                "patches": PatchesParams(density_per_km2=20.0, edge_depth_m=0.0)}
    if grid_section:
        settings["grid"] = GridConfig(resolution_m=resolution_m, connectivity_resolution_m=connectivity_resolution_m)
    return StageContext(grid=GRID, params=params, inputs=inputs, pipeline=None, log=lambda line: None,
                        settings=settings)


def _table(out):
    ranked = out["site_ranking"]
    return ranked.sort_values("centre_x").reset_index(drop=True)


def test_fine_run_lcd_and_resistance_by_hand():
    table = _table(run_sites(_ctx()))
    # C1's nearest cell (column 3) is one 100 m step from the core (column 4); C2's (column 7) two
    np.testing.assert_allclose(table["lcd_to_source"], [100.0, 200.0])
    assert table["area_ha"].tolist() == [8.0, 10.0]


def test_two_grid_lcd_and_resistance_by_hand():
    table = _table(run_sites(_ctx(200.0)))
    # coarse: C1 covers coarse columns 0-1, C2 columns 3-5; each has a coarse cell next to the core
    # (0, 2): one 200 m step of resistance 1 -> 200 resistance x m (the fine run: 100 and 200)
    np.testing.assert_allclose(table["lcd_to_source"], [200.0, 200.0])
    # a one-cell-wide strip of resistance 1: one ohm per coarse step between the release cell
    # (the coarse cell of the candidate's fine centre) and the source's focal cell (0, 2)
    centre_col = np.round((table["centre_x"].to_numpy() - 50.0) / 100.0).astype(int)
    steps = np.abs(centre_col // 2 - 2)
    assert (steps > 0).all()
    np.testing.assert_allclose(table["effective_resistance_to_source_ohm"], steps.astype(float), rtol=1e-6)
    # everything else stays on the analysis grid
    np.testing.assert_array_equal(table["area_ha"], [8.0, 10.0])


def test_default_leaves_the_analysis_grid_run_unchanged():
    plain = run_sites(_ctx(grid_section=False))  # as before the grid section was handed to the stage
    same = run_sites(_ctx(None))  # connectivity_resolution_m unset
    for key in ("site_ranking", "excluded", "site_sensitivity"):
        pd.testing.assert_frame_equal(plain[key], same[key])
    np.testing.assert_array_equal(plain["candidates"].values, same["candidates"].values)


def test_release_cell_moves_off_an_impassable_coarse_cell_within_the_candidate():
    labels = np.zeros((2, 6), np.int32)
    labels[:, 0:4] = 1
    fine = GridSpec.from_bounds((0, 0, 600, 200), "EPSG:32642", 100)
    res = np.array([[nan, 1.0, 1.0]])
    grain = _SitesGrain(Grain.of(fine, 2, np.ones((2, 6))), res, np.zeros((1, 3), np.int32))
    # the centre (0, 1) lies in coarse cell (0, 0), impassable: the nearest passable coarse cell
    # holding a cell of candidate 1 is (0, 1); (0, 2) holds none of it
    assert grain.release_cells([(0, 1), None], labels) == [(0, 1), None]


def test_memory_is_checked_on_the_grid_the_distances_run_on(monkeypatch):
    shape = (8000, 8000)
    side = memory.SITES_FINE_SIDE_BYTES  # the sites stage's own arrays on the analysis grid
    need_coarse = max(memory.estimate_bytes("cost_distance", shape, factor=4, fine_side_bytes=side),
                      memory.estimate_bytes("circuit", shape, factor=4, fine_side_bytes=side))
    available = int(need_coarse / memory.DEFAULT_SHARE * 1.01)
    assert memory.estimate_bytes("circuit", shape) > memory.DEFAULT_SHARE * available  # the fine run cannot fit
    monkeypatch.setattr(memory, "available_bytes", lambda: available)
    grid = GridSpec.from_bounds((0, 0, 80_000, 80_000), "EPSG:32642", 10.0)

    class Unread(dict):
        def get(self, key, default=None):
            raise AssertionError(f"input {key!r} read before the memory check")
        __getitem__ = get

    def ctx(resolution):
        ctx = _ctx(resolution, resolution_m=10)
        return StageContext(grid=grid, params=ctx.params, inputs=Unread(), pipeline=None, log=lambda line: None,
                            settings=ctx.settings)
    with pytest.raises(MemoryNeedError) as err:
        run_sites(ctx(None))
    assert "stage sites on a 8000 x 8000 grid needs about" in str(err.value)
    assert err.value.setting == "grid.connectivity_resolution_m"
    assert "set grid.connectivity_resolution_m:" in str(err.value)
    with pytest.raises(AssertionError, match="read before the memory check"):  # 4x fits: the stage goes on
        run_sites(ctx(40.0))
