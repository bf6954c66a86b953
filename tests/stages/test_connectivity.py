"""Resistance and connectivity stages on the tiny project (grid aligned with the data)."""

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import pytest
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, UTM, CellReads  # noqa: E402
from test_suitability import SCORES, _read, _run  # noqa: E402

CLASS_ONLY = {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
              "weights": {"habitat_class": 1.0}, "ahp": None}


def _two_populations(pipeline: Path) -> None:
    y = ORIGIN_Y - 11.5 * 100  # source row 11 = grid row 9 (tugai forest in both epochs east of col 8)
    gpd.GeoDataFrame({"site_id": ["A", "B"], "name": ["West", "East"], "count": [10, 20]},
                     geometry=[shapely.Point(ORIGIN_X + 550, y), shapely.Point(ORIGIN_X + 1750, y)],
                     crs=UTM).to_file(pipeline.parent / "data" / "populations.gpkg", driver="GPKG")


def _connectivity_run(tmp_path: Path) -> Path:
    out = _run(tmp_path, CLASS_ONLY)
    pipeline = tmp_path / "p" / "pipeline.yaml"
    _two_populations(pipeline)
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["resistance"] = {"transform": "linear", "barrier_classes": {"built": None, "water": 300.0}}
    data["stages"]["connectivity"] = {"core_radius_m": 100, "corridor_cutoff": 1e9, "barrier_radii_m": [100]}
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    return out


def test_resistance_is_the_linear_transform_with_barriers(tmp_path):
    out = _connectivity_run(tmp_path)
    classes = _read(out, "ingest", "habitat_class_current")
    suit = _read(out, "suitability", "suitability").astype(np.float64)
    expected = 1000.0 - 999.0 * suit           # default range 1-1000
    expected[classes == 4] = 300.0           # water
    expected[classes == 7] = np.nan          # built: impassable
    np.testing.assert_allclose(_read(out, "resistance", "resistance"), expected.astype(np.float32))


def test_link_follows_the_tugai_strip(tmp_path):
    out = _connectivity_run(tmp_path)
    cores = _read(out, "connectivity", "population_cores")
    expected = np.zeros((20, 26), np.int32)
    expected[9, 2:5] = expected[8, 3] = expected[10, 3] = 1   # disc of 100 m around A (grid row 9, col 3)
    expected[9, 14:17] = expected[8, 15] = expected[10, 15] = 2
    np.testing.assert_array_equal(cores, expected)
    links = pd.read_csv(out / "connectivity" / "links.csv")
    assert links[["from_site", "to_site"]].values.tolist() == [["A", "B"]]
    # 10 steps of 100 m at resistance 1 along the forest row between the cores
    assert links.loc[0, "lcd"] == 1000.0
    assert links.loc[0, "path_length_m"] == 1000.0
    path = gpd.read_file(out / "connectivity" / "least_cost_paths.gpkg").geometry.iloc[0]
    np.testing.assert_allclose(np.asarray(path.coords)[:, 1], ORIGIN_Y - 11.5 * 100)
    corridor = _read(out, "connectivity", "corridors")
    np.testing.assert_array_equal(corridor[9, 4:15], 0.0)       # NLCC is 0 on the path
    assert np.nanmin(corridor) >= 0


def _patch_run(tmp_path: Path, stages: dict, **connectivity) -> Path:
    """Two populations on the strip, every patch kept, the linear transform; extra settings."""
    out = _run(tmp_path, CLASS_ONLY)
    pipeline = tmp_path / "p" / "pipeline.yaml"
    _two_populations(pipeline)
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0}
    data["stages"]["resistance"] = {"transform": "linear", "barrier_classes": {"built": None, "water": 300.0}}
    data["stages"]["connectivity"] = {"core_radius_m": 100, "barrier_radii_m": [100], **connectivity}
    data["stages"].update(stages)
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    return out


def _graph_run(tmp_path: Path, iic_link_distance: float) -> pd.DataFrame:
    out = _patch_run(tmp_path, {}, iic_link_distance=iic_link_distance)
    return pd.read_csv(out / "connectivity" / "graph_indices.csv").set_index("index")["value"]


def test_iic_links_only_patches_within_the_link_distance(tmp_path):
    # two forest strips (26 and 20 ha, resistance 1) either side of the river row (resistance 300):
    # crossing costs 2 steps x 100 m x (1 + 300) / 2 = 30100
    res = _read(_connectivity_run(tmp_path / "r"), "resistance", "resistance")
    landscape_ha = float(np.isfinite(res).sum())  # 1 ha cells
    apart = _graph_run(tmp_path / "a", 30000.0)
    linked = _graph_run(tmp_path / "b", 30200.0)
    np.testing.assert_allclose(apart["IIC"], (26**2 + 20**2) / landscape_ha**2)
    np.testing.assert_allclose(linked["IIC"], (26**2 + 20**2 + 2 * 26 * 20 / 2) / landscape_ha**2)
    assert apart["components"] == 2 and linked["components"] == 1


def _limited_run(tmp_path: Path, max_dispersal_m: float) -> Path:
    return _patch_run(tmp_path, {"circuit": {}}, corridor_cutoff=1e9, max_dispersal_m=max_dispersal_m)


def test_dispersal_limit_disconnects_the_pair_truncates_corridors_and_the_circuit(tmp_path):
    # A-B costs 1000 (10 steps of 100 m through forest, resistance 1). The limit is
    # max_dispersal_m x the median resistance of habitat-patch cells (forest 1, shrub 100 - 99 x 0.9).
    near = _limited_run(tmp_path / "near", 2000.0)
    far = _limited_run(tmp_path / "far", 500.0)
    res = _read(near, "resistance", "resistance").astype(np.float64)
    patch = _read(near, "patches", "patch_id")
    typical = float(np.median(res[(patch > 0) & np.isfinite(res)]))
    for out, limit, connected in ((near, 2000.0, True), (far, 500.0, False)):
        links = pd.read_csv(out / "connectivity" / "links.csv")
        assert links.loc[0, "lcd"] == 1000.0
        np.testing.assert_allclose(links.loc[0, "max_cost"], limit * typical)
        assert bool(links.loc[0, "connected"]) == (1000.0 <= limit * typical) == connected
        corridor = _read(out, "connectivity", "corridors")
        reach = _read(out, "connectivity", "dispersal_reach")
        circuit = pd.read_csv(out / "circuit" / "effective_resistance.csv")
        if connected:
            np.testing.assert_array_equal(corridor[9, 4:15], 0.0)
            assert (reach[9, 2:17] == 1).all()          # the path and both cores
            assert circuit.loc[0, "effective_resistance_ohm"] > 0
        else:
            assert np.isnan(corridor).all()                # no corridor beyond the limit
            assert (reach == 0).all()
            assert circuit.loc[0, "effective_resistance_ohm"] == -1  # not solved
            assert links.loc[0, "reason"] == "lcd above max dispersal cost"


# --- how often the stage reads its fine rasters (grids of billions of cells: each pass is a file read) ---

def _stage_inputs(lazy: bool):
    import dask.array as da
    from habitat.grid import GridSpec
    from habitat.layers import make_layer
    grid = GridSpec.from_bounds((0, 0, 6000, 4000), "EPSG:32642", 100)  # 40 x 60 cells
    rng = np.random.default_rng(5)
    res = rng.uniform(1, 50, grid.shape).astype(np.float32)
    res[rng.random(grid.shape) < 0.1] = np.nan
    patch = np.zeros(grid.shape, np.int32)
    patch[1:4, 1:4], patch[1:4, 12:15], patch[30:36, 40:55], patch[20:25, 20:24] = 1, 2, 3, 4
    sources = [CellReads(res), CellReads(patch)]
    arrays = [da.from_array(s, chunks=10) for s in sources] if lazy else [res, patch]
    points = [shapely.Point(grid.x_coords[c], grid.y_coords[2]) for c in (2, 13)]  # in patches 1 and 2
    inputs = {
        "resistance": make_layer(arrays[0], grid, name="resistance"),
        "patch_id": make_layer(arrays[1], grid, name="patch_id"),
        "populations": gpd.GeoDataFrame({"site_id": ["A", "B"]}, geometry=points, crs=grid.pyproj_crs),
        "patch_table": pd.DataFrame({"patch_id": [1, 2, 3, 4], "area_ha": [9.0, 9.0, 90.0, 20.0]}),
    }
    return grid, inputs, sources


def _run_stage(lazy: bool, connectivity_resolution_m):
    import dask
    from habitat.config import GridConfig
    from habitat.params import ConnectivityParams
    from habitat.stages.connectivity import run_connectivity
    from habitat.stages.spec import StageContext
    grid, inputs, sources = _stage_inputs(lazy)
    params = ConnectivityParams(core_radius_m=150, corridor_cutoff=None, barrier_radii_m=[200], max_dispersal_m=3000)
    settings = {"grid": GridConfig(resolution_m=100, connectivity_resolution_m=connectivity_resolution_m)}
    out = run_connectivity(StageContext(grid=grid, params=params, inputs=inputs, pipeline=None, log=lambda line: None,
                                        settings=settings))
    rasters = sorted(k for k, v in out.items() if hasattr(v, "dims"))
    # the runner writes the rasters together (habitat.io.rasters.write_rasters: one dask.array.store)
    values = dict(zip(rasters, dask.compute(*[out[k].data for k in rasters])))
    return out, values, sources


@pytest.mark.parametrize("connectivity_resolution_m", [None, 200.0, 300.0])
def test_stage_reads_each_fine_raster_once_besides_the_write(connectivity_resolution_m):
    out, values, (res, patch) = _run_stage(True, connectivity_resolution_m)
    # away from the sites (the chunks of 10 x 10 cells their cores touch: rows 0-9, cols 0-19),
    # each cell of the resistance is read once to aggregate it, find the median of habitat cells,
    # count the landscape and (at factor > 1) once more as the rasters brought back are written;
    # the patches once, for the median and the patch graph. Before: 7 and 6 reads at factor 1,
    # 9 and 8-9 at factor 2-3 (a pass each for aggregation, count, median x 3, core prelim, cores)
    far = np.ones(res.shape, bool)
    far[:10, :20] = False
    np.testing.assert_array_equal(res.reads[far], 1 if connectivity_resolution_m is None else 2)
    np.testing.assert_array_equal(patch.reads[far], 1)
    # near the sites also their windows (which sites have habitat; at factor > 1 the coarse
    # cores) and the chunks of the cores as written
    near = 3 if connectivity_resolution_m is None else 4
    assert res.reads.max() == near and patch.reads.max() == near
    # the same outputs as from rasters in memory
    ref, ref_values, _ = _run_stage(False, connectivity_resolution_m)
    for key, value in values.items():
        np.testing.assert_array_equal(value, np.asarray(ref[key].values))
    for key in ("links", "patch_importance", "graph_indices"):
        pd.testing.assert_frame_equal(out[key], ref[key])
    assert out["links"]["max_cost"].notna().all() and len(out["patch_importance"]) == 4
