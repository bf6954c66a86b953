"""The translocation stage from its inputs: sources, ranked sites, basins from the river layer."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from habitat.errors import ConfigError
from habitat.grid import GridSpec
from habitat.params import TranslocationParams
from habitat.stages.spec import StageContext
from habitat.stages.translocation import run_translocation

UTM = "EPSG:32642"


def _ctx(params: TranslocationParams, logs: list[str]) -> StageContext:
    grid = GridSpec.from_bounds((0, 0, 100_000, 20_000), UTM, 1000)
    pops = gpd.GeoDataFrame({"site_id": ["A", "B", "C"], "site_name": ["a", "b", "c"], "count": [200, 150, 30]},
                            geometry=[shapely.Point(10_000, 5_000), shapely.Point(90_000, 5_000),
                                      shapely.Point(50_000, 5_000)], crs=UTM)
    status = pd.DataFrame({"site_id": ["A", "B", "C"], "translocation_source": [True, True, False],
                           "surplus_deer": [35.4, 25.0, np.nan]})
    # sites s1 (west, best score), s2 (east), s3 (west, capacity below the founder minimum)
    ranking = pd.DataFrame({"site_id": ["s1", "s2", "s3"], "rank": [1, 2, 3], "score": [0.9, 0.7, 0.5],
                            "capacity_deer": [50.0, 100.0, 12.0], "centre_x": [20_000.0, 80_000.0, 15_000.0],
                            "centre_y": [5_000.0] * 3})
    # two basins: the western river (Amu) and the eastern one (Syr), split at x = 50 km
    rivers = gpd.GeoDataFrame({"basin": ["Amu", "Syr"]},
                              geometry=[shapely.LineString([(0, 4_000), (49_000, 4_000)]),
                                        shapely.LineString([(51_000, 4_000), (100_000, 4_000)])], crs=UTM)
    inputs = {"populations": pops, "population_status": status, "site_ranking": ranking, "rivers": rivers}
    return StageContext(grid=grid, params=params, inputs=inputs, pipeline=None, log=logs.append)


def test_overstocked_sources_fill_the_sites_of_their_basin():
    logs: list[str] = []
    plan = run_translocation(_ctx(TranslocationParams(basin_column="basin"), logs))["translocation_plan"]
    moves = plan[plan["status"] == "move"]
    # A (Amu, surplus floor(35.4) = 35) -> s1 (Amu, capacity 50); B (Syr, 25) -> s2 (Syr); C is no source
    assert moves[["source", "site", "animals"]].values.tolist() == [["A", "s1", 35], ["B", "s2", 25]]
    np.testing.assert_allclose(moves["distance_km"], [10.0, 10.0])
    assert (moves["distance_measure"] == "straight line (km)").all()
    unused = plan[plan["status"] == "unused"]
    assert unused["site"].tolist() == ["s3"]
    assert unused["reason"].iloc[0].startswith("capacity 12 is below the minimum founder group of 20")
    assert any("overstocked populations A, B" in line for line in logs)


def test_user_sources_and_one_basin():
    # without basins B may serve s1 too; the user list gives A 10 (below the minimum) and B 45
    params = TranslocationParams(sources={"A": 10, "B": 45}, max_founders=40)
    plan = run_translocation(_ctx(params, []))["translocation_plan"]
    moves = plan[plan["status"] == "move"].sort_values(["site", "source"])
    # all 55 animals can be placed: s1 takes A's 10 and x of B's, s2 the other 45 - x >= 20; the value
    # 0.9 (10 + x) + 0.7 (45 - x) grows with x, so x = 25 (value 45.5 against 36 for filling s1 to 40)
    assert moves[["site", "source", "animals"]].values.tolist() == [["s1", "A", 10], ["s1", "B", 25],
                                                                    ["s2", "B", 20]]
    with pytest.raises(ConfigError, match="sources"):
        run_translocation(_ctx(TranslocationParams(sources={"Z": 5}), []))
    with pytest.raises(ConfigError, match="basin_column"):
        run_translocation(_ctx(TranslocationParams(basin_column="nope"), []))


def test_least_cost_distance_from_the_resistance_surface():
    from habitat.layers import make_layer

    ctx = _ctx(TranslocationParams(distance="least_cost", basin_column="basin"), [])
    grid = ctx.grid  # 100 x 20 cells of 1 km; resistance 1 everywhere, 3 on columns 12..17
    res = np.ones(grid.shape, np.float32)
    res[:, 12:18] = 3.0
    ctx.inputs["resistance"] = make_layer(res, grid, name="resistance")
    plan = run_translocation(ctx)["translocation_plan"]
    moves = plan[plan["status"] == "move"].set_index("source")
    # A (column 10) -> s1 (column 20), same row: 10 steps of 1 km between cell centres; the cost of a
    # step is the mean of the two cells' resistance: 1 (10->11), 2 (11->12), 3 x 5 (12..17), 2 (17->18),
    # 1 x 2 (18..20) = 22 resistance-km; B -> s2 in uniform land: 10
    np.testing.assert_allclose(moves.loc[["A", "B"], "distance_km"], [22.0, 10.0])
    assert (moves["distance_measure"] == "least-cost (resistance x km)").all()
