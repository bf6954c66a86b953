"""The circuit stage function on hand-made inputs with known answers."""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import CircuitParams
from habitat.stages.circuit import run_circuit
from habitat.stages.spec import StageContext


def _ctx(resistance: np.ndarray, sites: list[tuple[str, int, int]]):
    grid = GridSpec.from_bounds((0, 0, 100 * resistance.shape[1], 100 * resistance.shape[0]), "EPSG:32642", 100)
    cores = np.zeros(resistance.shape, np.int32)
    for index, (_, row, col) in enumerate(sites, start=1):
        cores[row, col] = index
    points = [shapely.Point(grid.x_coords[c], grid.y_coords[r]) for _, r, c in sites]
    inputs = {
        "resistance": make_layer(resistance.astype(np.float32), grid, name="resistance"),
        "populations": gpd.GeoDataFrame({"site_id": [s for s, _, _ in sites]}, geometry=points, crs=grid.pyproj_crs),
        "population_cores": make_layer(cores, grid, name="population_cores"),
        "patch_id": make_layer(np.ones(resistance.shape, np.int32), grid, name="patch_id"),
        "links": pd.DataFrame({"from_site": ["A"], "to_site": ["B"], "lcd": [123.0]}),
    }
    logs = []
    return StageContext(grid=grid, params=CircuitParams(), inputs=inputs, pipeline=None, log=logs.append)


def test_series_strip_gives_sum_of_resistors_and_unit_current():
    out = run_circuit(_ctx(np.ones((1, 5)), [("A", 0, 0), ("B", 0, 4)]))
    table = out["effective_resistance"]
    assert table[["from_site", "to_site"]].values.tolist() == [["A", "B"]]
    assert abs(table.loc[0, "effective_resistance_ohm"] - 4.0) < 1e-9   # four 1-ohm steps in series
    assert table.loc[0, "lcd"] == 123.0
    np.testing.assert_allclose(out["cumulative_current"].values, np.ones((1, 5)), atol=1e-9)
    np.testing.assert_allclose(out["patch_current"]["current_sum"], [5.0], atol=1e-9)


def test_parallel_paths_halve_resistance_and_barriers_disconnect():
    # two parallel rows of 1-ohm cells joined at the ends (8 neighbours, average conductance)
    two_rows = np.ones((2, 3))
    single = run_circuit(_ctx(np.ones((1, 3)), [("A", 0, 0), ("B", 0, 2)]))["effective_resistance"]
    double = run_circuit(_ctx(two_rows, [("A", 0, 0), ("B", 0, 2)]))["effective_resistance"]
    assert double.loc[0, "effective_resistance_ohm"] < single.loc[0, "effective_resistance_ohm"] == 2.0
    wall = np.ones((1, 5))
    wall[0, 2] = np.nan
    cut = run_circuit(_ctx(wall, [("A", 0, 0), ("B", 0, 4)]))
    assert cut["effective_resistance"].loc[0, "effective_resistance_ohm"] == -1.0
    assert cut["resistance_matrix"].columns.tolist() == ["site_id", "A", "B"]
