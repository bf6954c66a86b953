"""The sites stage block by block (habitat.sites.blockwise) equals its whole-array path exactly:
candidate raster, ranking, exclusions and sensitivity, on the analysis grid and on a coarser
connectivity grid, with blocks and strips that do not divide the grid."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import ndimage

from habitat.config import GridConfig
from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import CircuitParams, ConnectivityParams, PatchesParams, SitesParams
from habitat.sites import blockwise
from habitat.stages import sites as sites_stage
from habitat.stages.spec import StageContext

ROWS, COLS = 47, 58
GRID = GridSpec.from_bounds((0, 0, 100 * COLS, 100 * ROWS), "EPSG:32642", 100)


def _ctx(seed, connectivity_resolution_m=None, reach_tile_m=0.0, holes=False):
    rng = np.random.default_rng(seed)
    habitat = ndimage.gaussian_filter(rng.random((ROWS, COLS)), 1.5) > 0.5
    patch_id = ndimage.label(habitat, structure=np.ones((3, 3)))[0].astype(np.int32)
    resistance = (1 + 99 * rng.random((ROWS, COLS))).astype(np.float32)
    resistance[habitat] = 1.0
    resistance[rng.random((ROWS, COLS)) < 0.04] = np.nan
    if holes:  # 2 of 3 cells impassable: coarse cells there are impassable, some centres blocked
        r, c = np.mgrid[:ROWS, :COLS]
        resistance[((r + c) % 3 != 0) & (r > 12) & (c > 12) & (c < 45)] = np.nan
    cores = np.zeros((ROWS, COLS), np.int32)
    cores[3:8, 4:9], cores[35:40, 45:52] = 1, 2
    quality = rng.random((ROWS, COLS)).astype(np.float32)
    quality[rng.random((ROWS, COLS)) < 0.05] = np.nan

    def layer(values, name):
        return make_layer(values, GRID, name=name)

    inputs = {
        "patch_id": layer(patch_id, "patch_id"), "quality": layer(quality, "quality"),
        "degradation": layer((quality * 0.05).astype(np.float32), "degradation"),
        "water_distance_m": layer((rng.random((ROWS, COLS)) * 2000).astype(np.float32), "water_distance_m"),
        "protected_fraction": layer(rng.random((ROWS, COLS)).astype(np.float32), "protected_fraction"),
        "resistance": layer(resistance, "resistance"), "population_cores": layer(cores, "population_cores"),
        "patch_importance": pd.DataFrame({"patch_id": [1, 2, 3], "dPC": [50.0, 10.0, 5.0]}),
        "populations": gpd.GeoDataFrame(
            {"site_id": ["P1", "P2"]},
            geometry=[shapely.Point(GRID.x_coords[6], GRID.y_coords[5]), shapely.Point(GRID.x_coords[48],
                                                                                       GRID.y_coords[37])],
            crs=GRID.pyproj_crs),
    }
    params = SitesParams(occupied_radius_m=600.0, min_candidate_area_ha=3.0, target_herd=1, n_draws=30, seed=1,
                         top_n=3, reach_tile_m=reach_tile_m, require_historical_range=False)
    settings = {"connectivity": ConnectivityParams(), "circuit": CircuitParams(),
                "patches": PatchesParams(density_per_km2=20.0, edge_depth_m=100.0),
                "grid": GridConfig(resolution_m=100, connectivity_resolution_m=connectivity_resolution_m)}
    return StageContext(grid=GRID, params=params, inputs=inputs, pipeline=None, log=lambda line: None,
                        settings=settings)


@pytest.mark.parametrize("seed,coarse,tile,holes", [
    (0, None, 0.0, False), (1, None, 1300.0, False), (0, 300.0, 0.0, False), (1, 300.0, 1300.0, False),
    (1, 300.0, 0.0, True),  # release cells moved off impassable coarse cells (8 candidates)
    (0, 300.0, 1300.0, True),
])
def test_blockwise_equals_whole_array(monkeypatch, seed, coarse, tile, holes):
    monkeypatch.setattr(blockwise, "BLOCK_SIDE", 9)
    monkeypatch.setattr(blockwise, "STRIP_ROWS", 7)
    monkeypatch.setattr(sites_stage, "_LOADED_CELLS", 0 if seed else 1 << 22)  # lazy (dask) raster, or whole
    calls = []
    real = sites_stage._candidate_table_blockwise
    monkeypatch.setattr(sites_stage, "_candidate_table_blockwise", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(sites_stage, "_blockwise_ok", lambda *a: True)
    block = sites_stage.run_sites(_ctx(seed, coarse, tile, holes))
    assert calls
    monkeypatch.undo()
    monkeypatch.setattr(sites_stage, "_blockwise_ok", lambda *a: False)
    whole = sites_stage.run_sites(_ctx(seed, coarse, tile, holes))
    assert len(whole["site_ranking"]) >= 2
    np.testing.assert_array_equal(np.asarray(block["candidates"].values), np.asarray(whole["candidates"].values))
    for name in ("site_ranking", "excluded", "site_sensitivity", "site_criteria"):
        pd.testing.assert_frame_equal(block[name], whole[name], check_exact=True)
    pd.testing.assert_frame_equal(pd.DataFrame(block["sites"]), pd.DataFrame(whole["sites"]), check_exact=True)


def test_cluster_gap_and_polygon_sites_keep_the_whole_grid():
    params = SitesParams(cluster_gap_m=200.0)
    assert not sites_stage._blockwise_ok(params, None, 100.0)
    polygons = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 300, 300)])
    assert not sites_stage._blockwise_ok(SitesParams(), polygons, 100.0)
    assert sites_stage._blockwise_ok(SitesParams(reach_tile_m=50000.0), None, 100.0)
