"""Known-answer tests for habitat.sites.ranking."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import HabitatError, InvalidParameterError
from habitat.sites.ranking import Criterion, normalize_criteria, parse_criteria, rank_order, score_sites


def _sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ["A", "B", "C", "D"],
            "usable_area_ha": [2000.0, 4000.0, 3000.0, 6000.0],
            "threat_degradation_mean": [0.1, 0.2, 0.5, 0.3],
            "mean_quality": [0.5, 0.7, 0.9, 0.8],
        }
    )


SPEC = [
    {"name": "usable_area_ha", "direction": "benefit", "weight": 3},
    {"name": "threat_degradation_mean", "direction": "cost", "weight": 1},
]


def test_minmax_normalization_by_hand():
    # area: (x - 2000)/4000; threat (cost): (0.5 - x)/0.4
    norm = normalize_criteria(_sites(), SPEC)
    assert norm.index.tolist() == ["A", "B", "C", "D"]
    assert_allclose(norm["usable_area_ha"].to_numpy(), [0.0, 0.5, 0.25, 1.0])
    assert_allclose(norm["threat_degradation_mean"].to_numpy(), [1.0, 0.75, 0.0, 0.5])


def test_max_and_target_normalization_by_hand():
    spec = [
        {"name": "usable_area_ha", "direction": "benefit", "weight": 1, "normalization": "max"},
        {"name": "threat_degradation_mean", "direction": "cost", "weight": 1, "normalization": "max"},
        {"name": "mean_quality", "direction": "benefit", "weight": 1, "normalization": "target", "target": 0.7},
    ]
    norm = normalize_criteria(_sites(), spec)
    assert_allclose(norm["usable_area_ha"].to_numpy(), [1 / 3, 2 / 3, 0.5, 1.0])
    assert_allclose(norm["threat_degradation_mean"].to_numpy(), [0.8, 0.6, 0.0, 0.4])
    # |x - 0.7| = (0.2, 0, 0.2, 0.1), worst 0.2
    assert_allclose(norm["mean_quality"].to_numpy(), [0.0, 1.0, 0.0, 0.5], atol=1e-12)


def test_constant_column_gives_full_marks():
    df = _sites().assign(water_access=1.0)
    norm = normalize_criteria(df, [{"name": "water_access", "direction": "cost", "weight": 1}])
    assert_allclose(norm["water_access"].to_numpy(), np.ones(4))


def test_known_ranking_and_contributions():
    ranked = score_sites(_sites(), SPEC)
    # w = (0.75, 0.25); scores A .25, B .5625, C .1875, D .875
    assert ranked["site_id"].tolist() == ["D", "B", "A", "C"]
    assert_array_equal(ranked["rank"].to_numpy(), [1, 2, 3, 4])
    assert_allclose(ranked["score"].to_numpy(), [0.875, 0.5625, 0.25, 0.1875])
    assert_allclose(ranked["contrib_usable_area_ha"].to_numpy(), [0.75, 0.375, 0.0, 0.1875])
    assert_allclose(ranked["contrib_threat_degradation_mean"].to_numpy(), [0.125, 0.1875, 0.25, 0.0])
    assert_allclose(ranked["weight_usable_area_ha"].to_numpy(), np.full(4, 0.75))
    # the input columns are kept, in the ranked order
    assert_allclose(ranked["usable_area_ha"].to_numpy(), [6000.0, 4000.0, 2000.0, 3000.0])


def test_contributions_sum_to_score():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"site_id": np.arange(12), "a_ha": rng.random(12), "b_m": rng.random(12),
                       "c": rng.random(12)})
    spec = [{"name": "a_ha", "direction": "benefit", "weight": 0.2},
            {"name": "b_m", "direction": "cost", "weight": 0.5, "normalization": "max"},
            {"name": "c", "direction": "benefit", "weight": 0.3, "normalization": "target", "target": 0.5}]
    ranked = score_sites(df, spec)
    contrib = ranked[["contrib_a_ha", "contrib_b_m", "contrib_c"]].to_numpy()
    assert_allclose(contrib.sum(axis=1), ranked["score"].to_numpy(), rtol=0, atol=1e-15)
    assert np.all(np.diff(ranked["score"].to_numpy()) <= 0)


def test_weights_override_and_rescaling():
    base = score_sites(_sites(), SPEC)
    same = score_sites(_sites(), SPEC, weights={"usable_area_ha": 0.75, "threat_degradation_mean": 0.25})
    pd.testing.assert_frame_equal(base, same)
    flipped = score_sites(_sites(), SPEC, weights={"usable_area_ha": 0, "threat_degradation_mean": 5})
    # threat only: A 1, B .75, D .5, C 0
    assert flipped["site_id"].tolist() == ["A", "B", "D", "C"]
    assert_allclose(flipped["score"].to_numpy(), [1.0, 0.75, 0.5, 0.0])


def test_ties_broken_by_site_id():
    df = pd.DataFrame({"site_id": ["c", "b", "a"], "x": [1.0, 2.0, 2.0]})
    ranked = score_sites(df, [{"name": "x", "direction": "benefit", "weight": 1}])
    assert ranked["site_id"].tolist() == ["a", "b", "c"]
    assert_array_equal(ranked["rank"].to_numpy(), [1, 2, 3])


def test_rank_order_ignores_float_noise_and_handles_matrices():
    # 0.1 + 0.2 is 0.30000000000000004: still a tie with 0.3, so the smaller id wins
    assert_array_equal(rank_order(np.array([0.1 + 0.2, 0.3]), ["b", "a"]), [2, 1])
    scores = np.array([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1]])
    assert_array_equal(rank_order(scores, [3, 1, 2]), [[3, 1], [2, 2], [1, 3]])


def test_raising_a_benefit_criterion_never_lowers_rank():
    rng = np.random.default_rng(42)
    spec = [{"name": "area_ha", "direction": "benefit", "weight": 0.4},
            {"name": "quality", "direction": "benefit", "weight": 0.3, "normalization": "max"},
            {"name": "lcd_m", "direction": "cost", "weight": 0.3}]
    for _ in range(200):
        df = pd.DataFrame({"site_id": np.arange(6), "area_ha": rng.integers(0, 5, 6).astype(float),
                           "quality": rng.integers(0, 5, 6).astype(float),
                           "lcd_m": rng.integers(0, 5, 6).astype(float)})
        site = int(rng.integers(6))
        column = ["area_ha", "quality"][int(rng.integers(2))]
        before = score_sites(df, spec).set_index("site_id")["rank"][site]
        raised = df.copy()
        raised.loc[site, column] += float(rng.integers(1, 4))
        after = score_sites(raised, spec).set_index("site_id")["rank"][site]
        assert after <= before, (df, site, column)
        lowered = df.copy()
        lowered.loc[site, "lcd_m"] -= float(rng.integers(1, 4))  # less cost is better
        assert score_sites(lowered, spec).set_index("site_id")["rank"][site] <= before


def test_geodataframe_stays_geodataframe():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(_sites(), geometry=[Point(i, i) for i in range(4)], crs="EPSG:3857")
    ranked = score_sites(gdf, SPEC)
    assert isinstance(ranked, gpd.GeoDataFrame)
    assert [p.x for p in ranked.geometry] == [3.0, 1.0, 0.0, 2.0]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([{"name": "usable_area_ha", "direction": "more", "weight": 1}], "direction"),
        ([{"name": "usable_area_ha", "direction": "benefit", "weight": -1}], "weight"),
        ([{"name": "usable_area_ha", "direction": "benefit", "weight": 0}], "all weights are 0"),
        ([{"name": "usable_area_ha", "direction": "benefit", "weight": 1, "normalisation": "max"}], "unknown key"),
        ([{"name": "usable_area_ha", "direction": "benefit", "weight": 1, "normalization": "target"}], "target"),
        ([{"name": "nope_ha", "direction": "benefit", "weight": 1}], "nope_ha"),
        ([{"name": "usable_area_ha", "direction": "benefit", "weight": 1}] * 2, "duplicate"),
        ([], "non-empty"),
    ],
)
def test_bad_spec_raises(spec, match):
    with pytest.raises(InvalidParameterError, match=match):
        score_sites(_sites(), spec)


def test_bad_table_raises():
    with pytest.raises(InvalidParameterError, match="missing or infinite values for site"):
        score_sites(_sites().assign(usable_area_ha=[1.0, np.nan, 2.0, 3.0]), SPEC)
    with pytest.raises(InvalidParameterError, match="duplicate site id"):
        score_sites(_sites().assign(site_id=["A", "A", "B", "C"]), SPEC)
    with pytest.raises(InvalidParameterError, match="id column 'id'"):
        score_sites(_sites(), SPEC, id_column="id")
    with pytest.raises(InvalidParameterError, match="keys must match"):
        score_sites(_sites(), SPEC, weights={"usable_area_ha": 1})
    with pytest.raises(InvalidParameterError, match="needs values >= 0"):
        score_sites(_sites().assign(usable_area_ha=-1.0),
                    [{"name": "usable_area_ha", "direction": "benefit", "weight": 1, "normalization": "max"}])
    assert issubclass(InvalidParameterError, HabitatError)


def test_parse_criteria_accepts_instances():
    c = Criterion("x_m", "cost", 2)
    assert parse_criteria([c]) == (Criterion("x_m", "cost", 2.0),)
