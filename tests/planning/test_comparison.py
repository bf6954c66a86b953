"""Scenario comparison on hand-made tables."""

import math

import numpy as np
import pandas as pd

from habitat.planning.comparison import COMPARISON_COLUMNS, RunTables, scenario_comparison


def _long(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    rows = []
    for uid, items in values.items():
        kind = "study_area" if uid == "ALL" else "range_state"
        for indicator, value in items.items():
            rows.append((kind, uid, uid.lower(), indicator, "2020", value, ""))
        rows.append((kind, uid, uid.lower(), "habitat_area_ha", "2000-2020", 0.0, "ha"))  # period rows are skipped
    return pd.DataFrame(rows, columns=["unit_type", "unit_id", "unit_name", "indicator", "epoch", "value",
                                       "unit_of_measure"])


def test_values_changes_links_and_site_ranks_by_hand():
    base_long = _long({"ALL": {"habitat_area_ha": 30, "quality_weighted_area_ha": 20, "EC_ha": 25, "PC": 0.04},
                       "AA": {"habitat_area_ha": 10, "quality_weighted_area_ha": 5, "EC_ha": 10, "PC": 0.01}})
    run_long = _long({"ALL": {"habitat_area_ha": 24, "quality_weighted_area_ha": 15, "EC_ha": 20, "PC": 0.03},
                      "AA": {"habitat_area_ha": 10, "quality_weighted_area_ha": 5, "EC_ha": 10, "PC": 0.01}})
    # populations: A and B in AA, C elsewhere; the scenario loses A-C and gains B-C
    links = pd.DataFrame({"from_site": ["A", "A", "B"], "to_site": ["B", "C", "C"],
                          "connected": [True, True, False]})
    links2 = links.assign(connected=[True, False, True])
    pops = {"A": "AA", "B": "AA", "C": None}
    # candidates: baseline sites s1 (rank 1, cells of label 1) and s2 (rank 2, label 2), both in AA;
    # in the scenario label 1's cells now belong to t2 (rank 2), label 2's to nothing ranked
    cand = np.array([[1, 1, 0, 2, 2]])
    cand2 = np.array([[5, 5, 0, 0, 0]])
    sites = pd.DataFrame({"site_id": ["s1", "s2"], "candidate_id": [1, 2], "rank": [1, 2]})
    sites2 = pd.DataFrame({"site_id": ["t1", "t2"], "candidate_id": [9, 5], "rank": [1, 2]})
    classes = np.array([[1, 1, 1, 1, 1]])
    mask = {"AA": np.array([[True, True, False, False, False]])}
    base = RunTables(base_long, links, sites, cand, {"s1": "AA", "s2": "AA"}, pops, classes, mask)
    run = RunTables(run_long, links2, sites2, cand2, {"t1": None, "t2": "AA"}, pops, np.array([[1, 4, 1, 4, 1]]),
                    mask)
    table = scenario_comparison({"baseline": base, "dam": run})
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table[["scenario", "unit_id"]].values.tolist() == [["baseline", "ALL"], ["baseline", "AA"],
                                                             ["dam", "ALL"], ["dam", "AA"]]
    dam = table[table["scenario"] == "dam"].set_index("unit_id")
    np.testing.assert_allclose(dam["habitat_area_change_ha"], [-6, 0])
    np.testing.assert_allclose(dam["ECA_change_ha"], [-5, 0])
    np.testing.assert_allclose(dam["dECA_pct"], [-20, 0])
    np.testing.assert_allclose(dam["PC_change"], [-0.01, 0])
    # study area: A-B stays, A-C lost, B-C gained; AA: both touch A or B
    assert dam["links_connected"].tolist() == [2, 2]
    assert dam["links_lost"].tolist() == [1, 1] and dam["links_gained"].tolist() == [1, 1]
    assert dam["sites_ranked"].tolist() == [2, 1]
    # s1 is covered by t2 (rank 2): shift +1; s2 is lost
    assert dam["top_site"].tolist() == ["s1", "s1"] and dam["top_site_rank"].tolist() == [2.0, 2.0]
    assert dam["sites_lost"].tolist() == [1, 1] and dam["mean_rank_shift"].tolist() == [1.0, 1.0]
    assert dam["cells_changed"].tolist() == [2, 1]
    baseline = table[table["scenario"] == "baseline"]
    assert (baseline["links_lost"] == 0).all() and (baseline["mean_rank_shift"] == 0).all()
    assert not math.isnan(baseline["ECA_ha"].iloc[0])
