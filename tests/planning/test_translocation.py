"""Translocation plan: the integer programme against brute-force enumeration."""

import itertools

import numpy as np
import pandas as pd
import pytest

from habitat.errors import InvalidParameterError
from habitat.planning.translocation import PLAN_COLUMNS, translocation_plan

SOURCES = pd.DataFrame({"source": ["S1", "S2", "S3"], "surplus": [6, 3, 4], "basin": ["A", "A", "B"]})
SITES = pd.DataFrame({"site": ["T1", "T2", "T3", "T4"], "capacity": [5, 8, 6, 2],
                      "basin": ["A", "A", "B", "A"], "score": [0.9, 0.6, 0.8, 1.0]})
KM = np.array([[30, 10, 200, 5],
               [20, 40, 150, 50],
               [300, 250, 20, 400]], dtype=float)
COST = 0.005  # score units per animal-km
MIN_F, MAX_F = 3, 5


def _compositions(total_max: int, parts: int):
    for combo in itertools.product(range(total_max + 1), repeat=parts):
        if sum(combo) <= total_max:
            yield combo


def _brute_force(sources, sites, km, *, cost, min_f, max_f):
    """Every integer plan that meets the constraints; the lexicographic best of them."""
    ns, nt = len(sources), len(sites)
    options = []
    for s in range(ns):
        cols = [t for t in range(nt) if sites.basin[t] == sources.basin[s]]
        options.append([(cols, c) for c in _compositions(int(sources.surplus[s]), len(cols))])
    value = sites.score.to_numpy()[None, :] - cost * km
    order = np.arange(1, ns * nt + 1, dtype=float).reshape(ns, nt)
    best, best_key = None, None
    for choice in itertools.product(*options):
        x = np.zeros((ns, nt), int)
        for s, (cols, c) in enumerate(choice):
            x[s, cols] = c
        tot = x.sum(axis=0)
        upper = np.minimum(sites.capacity.to_numpy(), max_f)
        if np.any((tot > 0) & ((tot < min_f) | (tot > upper))):
            continue
        key = (-round(float((x * value).sum()), 9), round(float((x * km).sum()), 9), float((x * order).sum()))
        if best_key is None or key < best_key:
            best, best_key = x, key
    return best


def _matrix(plan, sources, sites):
    x = np.zeros((len(sources), len(sites)), int)
    moves = plan[plan.status == "move"]
    for _, r in moves.iterrows():
        x[sources.index[sources.source == r.source][0], sites.index[sites.site == r.site][0]] = r.animals
    return x


def test_three_sources_four_sites_matches_enumeration():
    expected = _brute_force(SOURCES, SITES, KM, cost=COST, min_f=MIN_F, max_f=MAX_F)
    # By hand: values per animal S1->T1 0.75, S2->T1 0.80, S1->T2 0.55, S2->T2 0.40, S3->T3 0.70;
    # T1 takes 5 (S2's 3 at 0.80 + 2 from S1 at 0.75), T2 takes S1's other 4, T3 takes S3's 4;
    # T4 (capacity 2 < 3) stays empty. Value 2.4 + 1.5 + 2.2 + 2.8 = 8.9.
    np.testing.assert_array_equal(expected, [[2, 4, 0, 0], [3, 0, 0, 0], [0, 0, 4, 0]])
    plan = translocation_plan(SOURCES, SITES, KM * 1000, min_founders=MIN_F, max_founders=MAX_F,
                              distance_cost_per_km=COST)
    assert list(plan.columns) == list(PLAN_COLUMNS)
    np.testing.assert_array_equal(_matrix(plan, SOURCES, SITES), expected)
    moves = plan[plan.status == "move"]
    assert (moves.net_value_per_animal * moves.animals).sum() == pytest.approx(8.9)
    unused = plan[plan.status == "unused"].set_index("site")
    assert list(unused.index) == ["T4"]
    assert unused.at["T4", "reason"] == "capacity 2 is below the minimum founder group of 3"
    t2 = moves.set_index(["source", "site"]).loc[("S1", "T2")]
    assert t2.site_total == 4 and "same basin (A)" in t2.reason and "10.0 km" in t2.reason


def test_enumeration_with_other_parameters():
    # Without a distance cost and with a wider founder range the optimum moves; still the same as enumeration.
    for cost, min_f, max_f in ((0.0, 3, 5), (0.002, 2, 8), (0.004, 4, 6)):
        expected = _brute_force(SOURCES, SITES, KM, cost=cost, min_f=min_f, max_f=max_f)
        plan = translocation_plan(SOURCES, SITES, KM * 1000, min_founders=min_f, max_founders=max_f,
                                  distance_cost_per_km=cost)
        np.testing.assert_array_equal(_matrix(plan, SOURCES, SITES), expected)


def test_what_unused_sites_lack():
    sources = pd.DataFrame({"source": ["S1", "S2"], "surplus": [25, 0], "basin": ["A", "C"]})
    sites = pd.DataFrame({"site": ["near", "other_basin", "far", "poor", "second", "empty_basin"],
                          "capacity": [100, 100, 100, 100, 100, 100],
                          "basin": ["A", "B", "A", "A", "A", "C"], "score": [0.9, 0.9, 0.9, 0.05, 0.8, 0.9]})
    km = np.array([[10, 10, 900, 60, 10, 10], [10, 10, 10, 10, 10, 10]], dtype=float)
    plan = translocation_plan(sources, sites, km * 1000, min_founders=20, max_founders=60,
                              distance_cost_per_km=0.001, max_distance_m=500_000)
    lack = plan[plan.status == "unused"].set_index("site").reason
    assert plan[plan.status == "move"][["source", "site", "animals"]].values.tolist() == [["S1", "near", 25]]
    assert lack["other_basin"] == "no source with surplus in basin B"
    assert lack["empty_basin"] == "no source with surplus in basin C"
    assert lack["far"] == "no route from a source with surplus within 500.0 km"
    assert lack["poor"].startswith("too far for its score")
    assert lack["second"] == "the surplus of its sources (S1) goes to sites of higher net value (near)"


def test_cross_basin_only_when_allowed():
    sources = pd.DataFrame({"source": ["S"], "surplus": [30], "basin": ["A"]})
    sites = pd.DataFrame({"site": ["T"], "capacity": [40], "basin": ["B"], "score": [1.0]})
    plan = translocation_plan(sources, sites, [[1000.0]])
    assert (plan.status == "unused").all()
    plan = translocation_plan(sources, sites, [[1000.0]], allow_cross_basin=True)
    move = plan[plan.status == "move"].iloc[0]
    assert move.animals == 30 and "cross-basin (A -> B, allowed)" in move.reason


def test_small_pool_and_defaults():
    # Default founder range 20-60: 15 surplus animals cannot found a group.
    sources = pd.DataFrame({"source": ["S"], "surplus": [15], "basin": ["A"]})
    sites = pd.DataFrame({"site": ["T"], "capacity": [100], "basin": ["A"], "score": [1.0]})
    plan = translocation_plan(sources, sites, [[1000.0]])
    assert plan.reason.iloc[0] == ("its sources hold 15 surplus animals in all, fewer than the minimum "
                                   "founder group of 20")
    # 100 animals to spare: one group of 60 (the maximum), 40 stay
    sources.loc[0, "surplus"] = 100
    plan = translocation_plan(sources, sites, [[1000.0]])
    assert plan.animals.tolist() == [60] and "source keeps 40 surplus" in plan.reason.iloc[0]


def test_bad_inputs():
    with pytest.raises(InvalidParameterError, match="surplus"):
        translocation_plan(SOURCES.drop(columns="surplus"), SITES, KM)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        translocation_plan(SOURCES.assign(surplus=[1.5, 2, 3]), SITES, KM)
    with pytest.raises(InvalidParameterError, match="distance_m"):
        translocation_plan(SOURCES, SITES, KM[:2])
    with pytest.raises(InvalidParameterError, match="max_founders"):
        translocation_plan(SOURCES, SITES, KM, min_founders=10, max_founders=5)
    with pytest.raises(InvalidParameterError, match="duplicate"):
        translocation_plan(SOURCES.assign(source=["S1", "S1", "S3"]), SITES, KM)
