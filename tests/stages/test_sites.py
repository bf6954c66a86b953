"""The sites stage function on a hand-made context with known candidates, ranks and exclusions."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from habitat.errors import ConfigError
from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import CircuitParams, ConnectivityParams, PatchesParams, SitesParams
from habitat.stages.sites import run_sites
from habitat.stages.spec import StageContext

# 6 x 13 cells of 100 m. A habitat strip (patch 1) on rows 1-3, columns 0-12, with population P1
# at the centre of cell (2, 7); a 2-cell patch 2 on row 5. With occupied_radius_m = 150 the
# cells of columns 6-8 are occupied, leaving candidate C1 (columns 0-5, 18 ha), C2 (columns
# 9-12, 12 ha) and C3 (patch 2, 2 ha).
ROWS, COLS = 6, 13


def _ctx(*, with_population=True, status=True, connectivity=None, circuit=None, **overrides):
    grid = GridSpec.from_bounds((0, 0, 100 * COLS, 100 * ROWS), "EPSG:32642", 100)
    patch_id = np.zeros((ROWS, COLS), np.int32)
    patch_id[1:4, :] = 1
    patch_id[5, 0:2] = 2
    quality = np.zeros((ROWS, COLS), np.float32)
    quality[1:4, 0:6] = 0.9
    quality[1:4, 6:] = 0.6
    quality[5, 0:2] = 0.5
    cores = np.zeros((ROWS, COLS), np.int32)
    cores[1:4, 6:9] = 1
    inputs = {
        "patch_id": make_layer(patch_id, grid, name="patch_id"),
        "quality": make_layer(quality, grid, name="quality"),
        "degradation": make_layer(np.zeros((ROWS, COLS), np.float32), grid, name="degradation"),
        "water_distance_m": make_layer(np.full((ROWS, COLS), 100.0, np.float32), grid, name="water_distance_m"),
        "resistance": make_layer(np.ones((ROWS, COLS), np.float32), grid, name="resistance"),
        "population_cores": make_layer(cores if with_population else 0 * cores, grid, name="population_cores"),
        "patch_importance": pd.DataFrame({"patch_id": [1, 2], "dPC": [50.0, 1.0]}),
    }
    if with_population:
        inputs["populations"] = gpd.GeoDataFrame(
            {"site_id": ["P1"], "site_name": ["One"], "count": [40]},
            geometry=[shapely.Point(grid.x_coords[7], grid.y_coords[2])], crs=grid.pyproj_crs,
        )
        if status:
            inputs["population_status"] = pd.DataFrame({"site_id": ["P1"], "translocation_source": [True]})
    settings = dict(
        occupied_radius_m=150.0, min_candidate_area_ha=0.0, target_herd=1, n_draws=50, seed=3, top_n=2,
        criteria=[{"name": "capacity_deer", "direction": "benefit", "weight": 1},
                  {"name": "mean_quality", "direction": "benefit", "weight": 1}],
    )
    settings.update(overrides)
    logs = []
    upstream = {"connectivity": ConnectivityParams(**(connectivity or {})), "circuit": CircuitParams(**(circuit or {})),
                "patches": PatchesParams(density_per_km2=20.0, edge_depth_m=0.0)}  # 1 deer needs 5 ha
    return StageContext(grid=grid, params=SitesParams(**settings), inputs=inputs, pipeline=None, log=logs.append,
                        settings=upstream)


def test_candidates_ranks_and_exclusions():
    out = run_sites(_ctx())
    expected = np.zeros((ROWS, COLS), np.int32)
    expected[1:4, 0:6] = 1
    expected[1:4, 9:13] = 2
    expected[5, 0:2] = 3
    np.testing.assert_array_equal(out["candidates"].values, expected)

    ranked = out["site_ranking"]
    assert ranked["site_id"].tolist() == ["C1", "C2"]
    # C1 is best on both criteria: normalized 1 on each, C2 0 on each
    np.testing.assert_allclose(ranked["score"], [1.0, 0.0])
    np.testing.assert_array_equal(ranked["rank"], [1, 2])
    np.testing.assert_allclose(ranked[["contrib_capacity_deer", "contrib_mean_quality"]].sum(axis=1), ranked["score"])
    np.testing.assert_allclose(ranked["area_ha"], [18.0, 12.0])
    np.testing.assert_allclose(ranked["capacity_deer"], [18.0 / 100 * 20, 12.0 / 100 * 20])
    np.testing.assert_allclose(ranked["mean_quality"], [0.9, 0.6], rtol=1e-6)
    # least cost: the pieces touch the core (columns 6-8) across one 100 m step of resistance 1
    np.testing.assert_allclose(ranked["lcd_to_source"], [100.0, 100.0])
    # release points (2, 2) and (2, 10); the site is at the centre of (2, 7)
    np.testing.assert_allclose(ranked["distance_to_source_m"], [500.0, 300.0])
    np.testing.assert_allclose(ranked["distance_to_translocation_source_m"], [500.0, 300.0])
    assert ranked["nearest_translocation_source"].tolist() == ["P1", "P1"]
    assert ranked["nearest_source_site"].tolist() == ["P1", "P1"]
    r = ranked["effective_resistance_to_source_ohm"].to_numpy()
    assert np.all(r > 0) and r[0] > r[1]  # farther release point through the same strip
    np.testing.assert_allclose(ranked["dpc_parent_patch"], [50.0, 50.0])
    np.testing.assert_allclose(ranked["share_protected"], [0.0, 0.0])
    assert (ranked["inside_historical_range"] == "not assessed").all()
    # C1 beats C2 on capacity x quality and ties on least cost and threat
    assert ranked["pareto_dominated"].tolist() == [False, True]
    assert ranked["dominated_by"].tolist() == ["", "C1"]
    assert ranked["explanation"].str.startswith("Site C1 ranks 1 of 2").iloc[0]
    assert ranked["explanation_ru"].str.startswith("Участок C1 занимает 1-е место из 2").iloc[0]

    excluded = out["excluded"]
    assert excluded["site_id"].tolist() == ["C3"]
    assert excluded["failed_criteria"].tolist() == ["minimum usable area"]
    assert excluded["reason"].tolist() == ["usable_area_ha >= 5.0 ha: value 2.0 (short by 3 ha)"]

    sites = out["sites"]
    assert sites["site_id"].tolist() == ["C1", "C2"] and sites["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(sites.geometry.area, [18e4, 12e4])


def test_pareto_trade_off_leaves_both_sites_undominated():
    # more threat on C1: it wins on capacity x quality, C2 on threat, so neither dominates
    ctx = _ctx()
    degradation = np.zeros((ROWS, COLS), np.float32)
    degradation[:, :6] = 0.05
    ctx.inputs["degradation"] = make_layer(degradation, ctx.grid, name="degradation")
    ranked = run_sites(ctx)["site_ranking"]
    np.testing.assert_allclose(ranked["mean_degradation"], [0.05, 0.0], rtol=1e-6)
    assert ranked["pareto_dominated"].tolist() == [False, False]


def test_hard_criterion_excludes_exactly_the_failing_candidates():
    hard = [{"column": "mean_quality", "op": ">=", "threshold": 0.7, "units": "", "name": "good habitat"}]
    out = run_sites(_ctx(hard_criteria=hard))
    assert out["site_ranking"]["site_id"].tolist() == ["C1"]
    excluded = out["excluded"].set_index("site_id")
    assert excluded.index.tolist() == ["C2", "C3"]
    assert excluded.loc["C2", "failed_criteria"] == "good habitat"
    assert excluded.loc["C3", "failed_criteria"] == "minimum usable area; good habitat"
    assert excluded.loc["C3", "n_failed"] == 2


def test_sensitivity_is_seeded_and_long_form():
    a = run_sites(_ctx())["site_sensitivity"]
    b = run_sites(_ctx())["site_sensitivity"]
    pd.testing.assert_frame_equal(a, b)
    oat = a[a["analysis"] == "one_at_a_time"]
    assert len(oat) == 2 * 2 * 2  # criteria x (-20 %, +20 %) x sites
    np.testing.assert_allclose(sorted(set(oat["weight_change"])), [-0.2, 0.2])
    mc = a[a["analysis"] == "monte_carlo"]
    assert mc["site_id"].tolist() == ["C1", "C2"]
    # C1 is best on every criterion, so every weight draw ranks it first
    np.testing.assert_allclose(mc["p_rank_1"], [1.0, 0.0])
    other = run_sites(_ctx(seed=4))["site_sensitivity"]
    assert len(other) == len(a)


def test_without_populations_sources_are_undefined_and_sites_unscorable():
    out = run_sites(_ctx(with_population=False, criteria=[
        {"name": "capacity_deer", "direction": "benefit", "weight": 1},
        {"name": "lcd_to_source", "direction": "cost", "weight": 1}]))
    # no occupied area: the whole strip is one candidate, patch 2 another (excluded by area)
    assert out["candidates"].values.max() == 2
    assert len(out["site_ranking"]) == 0 and len(out["site_sensitivity"]) == 0
    excluded = out["excluded"].set_index("site_id")
    assert excluded.loc["C1", "failed_criteria"] == "scorable: lcd_to_source"
    assert len(out["sites"]) == 0


def test_status_without_sources_and_historical_range_switch():
    ctx = _ctx()
    ctx.inputs["population_status"] = pd.DataFrame({"site_id": ["P1"], "translocation_source": [False]})
    ranked = run_sites(ctx)["site_ranking"]
    assert (ranked["nearest_translocation_source"].fillna("") == "").all()
    assert ranked["distance_to_translocation_source_m"].isna().all()
    with pytest.raises(ConfigError, match="require_historical_range"):
        run_sites(_ctx(require_historical_range=True))


def test_ahp_weights_replace_config_weights():
    out = run_sites(_ctx(ahp={"matrix": [[1, 3], [1 / 3, 1]]}))
    ranked = out["site_ranking"]
    np.testing.assert_allclose(ranked["weight_capacity_deer"], [0.75, 0.75])
    criteria = out["site_criteria"]
    np.testing.assert_allclose(criteria.loc[criteria["kind"] == "score", "weight"], [0.75, 0.25])


def test_historical_range_share_is_reported_and_can_be_required():
    # range covers C1 (columns 0-5) and C3 (row 5, columns 0-1) wholly, and column 9 of C2 (columns 9-12)
    share = np.zeros((ROWS, COLS), np.float32)
    share[:, 0:6] = 1.0
    share[:, 9] = 1.0

    def with_range(**overrides):
        ctx = _ctx(**overrides)
        ctx.inputs["historical_range_fraction"] = make_layer(share, ctx.grid, name="historical_range_fraction")
        return ctx

    out = run_sites(with_range())
    ranked = out["site_ranking"]
    assert ranked["site_id"].tolist() == ["C1", "C2"]
    np.testing.assert_allclose(ranked["share_historical_range"], [1.0, 0.25])
    assert ranked["inside_historical_range"].tolist() == ["yes", "no"]
    row = out["site_criteria"].set_index("column").loc["inside_historical_range"]
    assert row["rule"] == "reported, not required (share >= 0.5)"

    out = run_sites(with_range(require_historical_range=True))
    assert out["site_ranking"]["site_id"].tolist() == ["C1"]
    excluded = out["excluded"].set_index("site_id")
    assert excluded.loc["C2", "failed_criteria"] == "inside historical range"
    assert excluded.loc["C2", "reason"] == "share_historical_range >= 0.5 fraction of area: value 0.25 (short by 0.25 fraction of area)"
    assert excluded.loc["C3", "failed_criteria"] == "minimum usable area"  # inside the range, too small
    criteria = out["site_criteria"]
    assert criteria.loc[criteria["column"] == "share_historical_range", "rule"].tolist() == [">= 0.5"]


def _off_axis_source(**settings):
    """The standard context with the population core moved to cell (4, 8), off the strip, and a
    resistance of 3 on row 0 (off every least-cost path): least-cost paths to the candidates then
    bend, and the circuit is not uniform, so the neighbourhood and the averaging rule both matter."""
    ctx = _ctx(**settings)
    cores = np.zeros((ROWS, COLS), np.int32)
    cores[4, 8] = 1
    resistance = np.ones((ROWS, COLS), np.float32)
    resistance[0, :] = 3.0
    ctx.inputs["population_cores"] = make_layer(cores, ctx.grid, name="population_cores")
    ctx.inputs["resistance"] = make_layer(resistance, ctx.grid, name="resistance")
    return ctx


def test_sites_follow_the_connectivity_and_circuit_settings(monkeypatch):
    import habitat.connectivity.circuit.pairwise as pairwise

    methods = []
    solve = pairwise.pairwise_resistances

    def spy(*args, **kwargs):
        methods.append(kwargs["method"])
        return solve(*args, **kwargs)

    monkeypatch.setattr(pairwise, "pairwise_resistances", spy)
    runs = {name: run_sites(_off_axis_source(**settings))["site_ranking"].set_index("site_id") for name, settings in {
        "default": {},
        "connectivity.neighbours=4": {"connectivity": {"neighbours": 4}},
        "connectivity.neighbours=16": {"connectivity": {"neighbours": 16}},
        "circuit.neighbours=4": {"circuit": {"neighbours": 4}},
        "circuit.average=resistance": {"circuit": {"average": "resistance"}},
        "circuit.solver=amg": {"circuit": {"solver": "amg"}},
    }.items()}
    lcd = {name: run.loc[["C1", "C2"], "lcd_to_source"].to_numpy() for name, run in runs.items()}
    d = 100 * np.sqrt(2)
    # resistance 1 on the paths, so a cost is a length: from (4, 8) to C2's cell (3, 9) one diagonal
    # (4 neighbours: two steps); to C1's cell (3, 5) a diagonal and two steps (4 neighbours: four steps)
    np.testing.assert_allclose(lcd["default"], [d + 200, d])
    np.testing.assert_allclose(lcd["connectivity.neighbours=4"], [400.0, 200.0])
    # 16 neighbours: a knight's move (4, 8) -> (3, 6) of 100 sqrt 5, then one step to (3, 5)
    np.testing.assert_allclose(lcd["connectivity.neighbours=16"], [100 * np.sqrt(5) + 100, d])
    ohm = {name: run.loc[["C1", "C2"], "effective_resistance_to_source_ohm"].to_numpy() for name, run in runs.items()}
    for name in ("circuit.neighbours=4", "circuit.average=resistance"):
        assert np.all(np.abs(ohm[name] - ohm["default"]) > 1e-3 * ohm["default"]), name  # well above solver round-off
    for name in ("connectivity.neighbours=4", "connectivity.neighbours=16", "circuit.solver=amg"):
        np.testing.assert_allclose(ohm[name], ohm["default"], rtol=1e-5)  # the circuit does not use these
    # the solver setting reaches the linear solve
    assert methods == ["auto"] * 5 + ["amg"]


def test_sites_with_the_multigrid_solver_equal_the_direct_factor(monkeypatch):
    # the 6 x 13 grid is below MULTIGRID_MIN_NODES: lowered so the multigrid solves it (spy), with
    # the candidates streamed and the one source kept; R to the source within 1e-9 of direct
    from habitat.connectivity.circuit import gridamg, solve

    monkeypatch.setattr(solve, "MULTIGRID_MIN_NODES", 1)
    kept = []
    inner = gridamg.raster_inverse_block

    def spy(*args, keep=None, **kwargs):
        kept.append(keep.tolist())
        return inner(*args, keep=keep, **kwargs)

    monkeypatch.setattr(gridamg, "raster_inverse_block", spy)
    runs = {solver: run_sites(_off_axis_source(circuit={"solver": solver}))["site_ranking"].set_index("site_id")
            for solver in ("direct", "multigrid")}
    assert kept == [[False, False, True]]  # ground C1; C2, C3 streamed, the source kept
    ohm = {k: run["effective_resistance_to_source_ohm"].to_numpy() for k, run in runs.items()}
    assert len(ohm["direct"]) >= 2 and np.all(ohm["direct"] > 0)
    np.testing.assert_allclose(ohm["multigrid"], ohm["direct"], rtol=1e-9)
    other = [c for c in runs["direct"].columns if c != "effective_resistance_to_source_ohm"]
    pd.testing.assert_frame_equal(runs["multigrid"][other], runs["direct"][other])


def test_a_polygon_site_occupies_its_area_and_a_candidate_overlapping_it_is_excluded_with_the_reason():
    # P1 as a polygon over columns 10-11 of the strip (no disc): the strip east of the core
    # (columns 9-12) is not cut by a radius, and the candidate there overlaps the occupied area
    ctx = _ctx()
    grid = ctx.grid
    area = shapely.box(1000, 200, 1200, 500)  # cell centres x = 1050, 1150; rows 1-3
    ctx.inputs["populations"] = gpd.GeoDataFrame({"site_id": ["P1"], "site_name": ["One"], "count": [40]},
                                                 geometry=[area], crs=grid.pyproj_crs)
    out = run_sites(ctx)
    labels = out["candidates"].values
    # no 150 m disc around a point: columns 6-8 (the core, still habitat) join the western piece
    expected = np.zeros((ROWS, COLS), np.int32)
    expected[1:4, 0:13] = 1
    expected[5, 0:2] = 2
    np.testing.assert_array_equal(labels, expected)
    excluded = out["excluded"].set_index("site_id")
    assert excluded.loc["C1", "failed_criteria"] == "not occupied"
    assert excluded.loc["C1", "reason"] == "overlaps the occupied area of P1"
    assert "C1" not in out["site_ranking"]["site_id"].tolist()
