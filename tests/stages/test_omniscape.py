"""The omniscape stage on a tiny grid: the engine's answer, flow classes and per-unit summary."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from habitat.connectivity.omniscape import omniscape
from habitat.errors import ResourceError
from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import OmniscapeParams, PatchesParams
from habitat.stages import omniscape as stage
from habitat.stages.spec import StageContext


def _inputs(with_units=True):
    rng = np.random.default_rng(7)
    rows, cols = 12, 16
    grid = GridSpec.from_bounds((0, 0, 200 * cols, 200 * rows), "EPSG:32642", 200)
    res = rng.uniform(1, 20, (rows, cols)).astype(np.float32)
    res[5, 3:9] = np.nan  # an impassable strip
    suit = rng.uniform(0, 1, (rows, cols)).astype(np.float32)
    inputs = {"resistance": make_layer(res, grid, name="resistance"),
              "suitability": make_layer(suit, grid, name="suitability")}
    if with_units:
        index = np.zeros((rows, cols), np.int32)
        index[:, :8] = 1
        index[:, 8:] = 2
        inputs["reporting_unit"] = make_layer(index, grid, name="reporting_unit")
        inputs["reporting_units"] = gpd.GeoDataFrame(
            {"unit_index": [1, 2], "unit_id": ["AA", "BB"], "unit_name": ["West", "East"]},
            geometry=[shapely.box(0, 0, 1600, 2400), shapely.box(1600, 0, 3200, 2400)], crs=grid.pyproj_crs)
    return grid, inputs, res, suit


def _run(params, inputs, grid, logs=None):
    ctx = StageContext(grid=grid, params=params, inputs=inputs, pipeline=None,
                       log=(logs if logs is not None else []).append, settings={"patches": PatchesParams(threshold=0.5)})
    return stage.run_omniscape(ctx)


def test_stage_maps_are_the_engine_on_the_same_arrays():
    grid, inputs, res, suit = _inputs()
    params = OmniscapeParams(radius_m=1000, block_size=3, source_threshold=0.4, workers=1)
    logs = []
    out = _run(params, inputs, grid, logs)
    # sources by hand: suitability >= 0.4 on passable cells; 1000 m / 200 m cells = radius 5
    sources = np.where((suit >= 0.4) & np.isfinite(res), suit.astype(np.float64), 0.0)
    want = omniscape(res, sources, radius=5, block_size=3, calc_flow_potential=True,
                     calc_normalized_current=True, workers=1)
    np.testing.assert_array_equal(out["omniscape_current"].values, want.cum_currmap.astype(np.float32))
    np.testing.assert_array_equal(out["flow_potential"].values, want.flow_potential.astype(np.float32))
    np.testing.assert_array_equal(out["normalized_current"].values,
                                  want.normalized_cum_currmap.astype(np.float32))
    norm, fp = want.normalized_cum_currmap, want.flow_potential
    classes = np.where(norm < 0.8, 1, np.where(norm > 1.2, 3, 2))
    ii, jj = np.mgrid[0:res.shape[0], 0:res.shape[1]]
    reach = np.zeros(res.shape, bool)  # cells within 5 cells of a 3 x 3 block centre holding a source
    for y in range(1, res.shape[0] - 1, 3):
        for x in range(1, res.shape[1] - 1, 3):
            if sources[y - 1:y + 2, x - 1:x + 2].sum() > 0:
                reach |= (ii - y) ** 2 + (jj - x) ** 2 <= 25
    classes[~np.isfinite(norm) | ~(fp > 0) | ~reach] = 0
    np.testing.assert_array_equal(out["flow_class"].values, classes)
    assert all(out[k].dtype == np.float32 for k in ("omniscape_current", "flow_potential", "normalized_current"))
    assert any("needs about" in line and "MiB" in line for line in logs)

    table = out["omniscape_summary"].set_index("unit_id")
    assert table.index.tolist() == ["ALL", "AA", "BB"]
    cell_ha = 4.0  # 200 m x 200 m
    west = np.zeros(res.shape, bool)
    west[:, :8] = True
    for unit, mask in (("ALL", np.ones(res.shape, bool)), ("AA", west), ("BB", ~west)):
        for code, name in ((1, "impeded"), (2, "diffuse"), (3, "channelized")):
            assert table.loc[unit, f"{name}_ha"] == cell_ha * np.sum(mask & (classes == code)), (unit, name)
        assessed = mask & (classes > 0)
        assert table.loc[unit, "area_ha"] == cell_ha * assessed.sum()
        assert table.loc[unit, "mean_normalized_current"] == pytest.approx(norm[assessed].mean())


def test_default_threshold_is_the_patches_threshold_and_options_drop_outputs():
    grid, inputs, res, suit = _inputs(with_units=False)
    out = _run(OmniscapeParams(radius_m=600, block_size=1, calc_flow_potential=False,
                               calc_normalized_current=False), inputs, grid)
    assert set(out) == {"omniscape_current"}
    sources = np.where((suit >= 0.5) & np.isfinite(res), suit.astype(np.float64), 0.0)  # patches threshold 0.5
    want = omniscape(res, sources, radius=3, block_size=1)
    np.testing.assert_array_equal(out["omniscape_current"].values, want.cum_currmap.astype(np.float32))
    summary = _run(OmniscapeParams(radius_m=600, block_size=1), inputs, grid)["omniscape_summary"]
    assert summary["unit_id"].tolist() == ["ALL"]  # no reporting units: the study area only


def test_refuses_before_allocating_when_memory_is_short(monkeypatch):
    grid, inputs, _, _ = _inputs()
    monkeypatch.setattr("habitat.connectivity.circuit.solvers.available_memory_bytes", lambda: 1000)  # read by run
    monkeypatch.setattr("habitat.connectivity.omniscape.omniscape", lambda *a, **k: pytest.fail("the engine ran"))
    with pytest.raises(ResourceError, match="stages.omniscape: needs about .* radius_m"):
        _run(OmniscapeParams(radius_m=1000), inputs, grid)


def test_radius_in_cells():
    assert stage.radius_cells(5000, 100) == 50
    assert stage.radius_cells(2500, 400) == 6
    assert stage.radius_cells(100, 5000) == 1
