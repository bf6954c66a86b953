"""Known-answer tests for habitat.sites.criteria."""

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.sites.criteria import (
    HardCriterion,
    evaluate_hard_criteria,
    min_usable_area_ha,
    parse_hard_criteria,
    screen_candidates,
)


def _candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": [5, 3, 1, 4, 2],
            "usable_area_ha": [2500.0, 1500.0, 2000.0, 900.0, 3000.0],
            "inside_historical_range": [True, True, False, True, True],
            "threat_degradation_mean": [0.10, 0.20, 0.25, 0.45, 0.31],
        }
    )


HARD = [
    {"column": "usable_area_ha", "op": ">=", "threshold": 2000.0, "units": "ha",
     "provenance": "100 deer at 5 deer/km2, DOMAIN.md 8 [A]"},
    {"column": "inside_historical_range", "op": "==", "threshold": True, "units": "",
     "provenance": "IUCN/SSC 2013"},
    {"column": "threat_degradation_mean", "op": "<=", "threshold": 0.3, "units": ""},
]


def test_min_usable_area_known_values():
    # A = 100 N / D
    assert min_usable_area_ha() == 2000.0
    assert min_usable_area_ha(target_herd=250, density_per_km2=10) == 2500.0
    assert min_usable_area_ha(target_herd=250, density_per_km2=5) == 5000.0
    with pytest.raises(InvalidParameterError, match="density_per_km2"):
        min_usable_area_ha(density_per_km2=0)


def test_hard_criteria_exclude_exactly_the_failing_sites():
    result = screen_candidates(_candidates(), HARD)
    # 5 passes all; 3 area; 1 range; 4 area + threat; 2 threat (0.31 > 0.3)
    assert result.passed["site_id"].tolist() == [5]
    assert result.excluded["site_id"].tolist() == [1, 2, 3, 4]
    assert_array_equal(result.excluded["n_failed"].to_numpy(), [1, 1, 1, 2])
    assert result.excluded["failed_criteria"].tolist() == [
        "inside_historical_range == True",
        "threat_degradation_mean <= 0.3",
        "usable_area_ha >= 2000.0",
        "usable_area_ha >= 2000.0; threat_degradation_mean <= 0.3",
    ]
    assert result.excluded["reason"].tolist() == [
        "inside_historical_range == True: value False",
        "threat_degradation_mean <= 0.3: value 0.31 (over by 0.01)",
        "usable_area_ha >= 2000.0 ha: value 1500.0 (short by 500 ha)",
        "usable_area_ha >= 2000.0 ha: value 900.0 (short by 1100 ha); "
        "threat_degradation_mean <= 0.3: value 0.45 (over by 0.15)",
    ]


def test_each_criterion_alone_excludes_its_sites():
    by_column = {"usable_area_ha": [3, 4], "inside_historical_range": [1], "threat_degradation_mean": [2, 4]}
    for record in HARD:
        excluded = screen_candidates(_candidates(), [record]).excluded["site_id"].tolist()
        assert excluded == by_column[record["column"]]


def test_evaluation_table_shortfalls():
    ev = evaluate_hard_criteria(_candidates(), HARD)
    assert len(ev) == 15
    assert ev["site_id"].tolist() == [5] * 3 + [3] * 3 + [1] * 3 + [4] * 3 + [2] * 3
    area = ev[ev["column"] == "usable_area_ha"]
    assert_array_equal(area["passed"].to_numpy(), [True, False, True, False, True])
    assert_allclose(area["shortfall"].to_numpy(), [0.0, 500.0, 0.0, 1100.0, 0.0])
    assert_allclose(area["shortfall_pct"].to_numpy(), [0.0, 25.0, 0.0, 55.0, 0.0])
    threat = ev[ev["column"] == "threat_degradation_mean"]
    assert_allclose(threat["shortfall"].to_numpy(), [0.0, 0.0, 0.0, 0.15, 0.01], atol=1e-12)
    flag = ev[ev["column"] == "inside_historical_range"]
    assert_array_equal(flag["passed"].to_numpy(), [True, True, False, True, True])
    assert math.isnan(flag["shortfall"].iloc[2])
    assert area["provenance"].iloc[0] == "100 deer at 5 deer/km2, DOMAIN.md 8 [A]"


def test_strict_ops_and_missing_values():
    df = pd.DataFrame({"site_id": ["a", "b", "c"], "x_m": [10.0, 5.0, np.nan]})
    ev = evaluate_hard_criteria(df, [{"column": "x_m", "op": ">", "threshold": 5},
                                     {"column": "x_m", "op": "<", "threshold": 10}])
    # a: > 5 yes, < 10 no (on the bound); b: > 5 no (on the bound); c: missing fails both
    assert_array_equal(ev["passed"].to_numpy(), [True, False, False, True, False, False])
    assert_allclose(ev["shortfall"].to_numpy(), [0, 0, 0, 0, np.nan, np.nan])
    res = screen_candidates(df, [{"column": "x_m", "op": ">", "threshold": 5}])
    assert res.excluded["reason"].tolist() == ["x_m > 5: value 5.0 (short by 0)", "x_m > 5: value nan (missing)"]
    # fractions are shown to 6 significant digits, like the shortfall
    res = screen_candidates(pd.DataFrame({"site_id": ["a"], "share": [1 / 3]}),
                            [{"column": "share", "op": ">=", "threshold": 0.5}])
    assert res.excluded["reason"].tolist() == ["share >= 0.5: value 0.333333 (short by 0.166667)"]


def test_flags_given_as_integers():
    df = pd.DataFrame({"site_id": ["a", "b"], "in_range": [1, 0]})
    res = screen_candidates(df, [{"column": "in_range", "op": "==", "threshold": True}])
    assert res.passed["site_id"].tolist() == ["a"]


def test_no_hard_criteria_keeps_everything():
    res = screen_candidates(_candidates(), [])
    pd.testing.assert_frame_equal(res.passed, _candidates())
    assert len(res.excluded) == 0
    assert list(res.excluded.columns) == ["site_id", "n_failed", "failed_criteria", "reason"]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([{"column": "usable_area_ha", "op": "=>", "threshold": 1}], "op '=>'"),
        ([{"column": "usable_area_ha", "op": ">=", "threshold": "big"}], "numeric threshold"),
        ([{"column": "usable_area_ha", "op": ">="}], "missing key"),
        ([{"column": "usable_area_ha", "op": ">=", "threshold": 1, "unit": "ha"}], "unknown key"),
        ([{"column": "area", "op": ">=", "threshold": 1}], "column 'area' is not in candidates"),
        ([{"column": "inside_historical_range", "op": ">=", "threshold": 1}], "non-numeric"),
    ],
)
def test_bad_spec_raises(spec, match):
    with pytest.raises(InvalidParameterError, match=match):
        screen_candidates(_candidates(), spec)


def test_parse_hard_criteria_names_and_instances():
    parsed = parse_hard_criteria([HardCriterion("a_ha", ">=", 3, units="ha", name="area"),
                                  {"column": "t", "op": "<=", "threshold": 0.5}])
    assert [c.name for c in parsed] == ["area", "t <= 0.5"]
