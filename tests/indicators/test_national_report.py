"""The national-report table from a hand-made long indicator table."""

import math

import numpy as np
import pandas as pd

from habitat.indicators.national_report import national_report
from habitat.indicators.units import DEFINITIONS


def test_rows_per_state_section_and_item():
    state = np.array([[True, True, False]])
    other = ~state
    park = np.array([[False, True, False]])  # inside state A
    units = [("study_area", "ALL", "study area", np.ones((1, 3), bool)), ("range_state", "A", "Alpha", state),
             ("range_state", "B", "Beta", other), ("protected_area", "P1", "Park", park)]
    long = pd.DataFrame(
        [("range_state", "A", "habitat_area_ha", "2000", 10.0), ("range_state", "A", "habitat_area_ha", "2020", 8.0),
         ("range_state", "A", "habitat_loss_pct", "2000-2020", 20.0),
         ("protected_area", "P1", "habitat_area_ha", "2000", 3.0),
         ("protected_area", "P1", "habitat_area_ha", "2020", 2.0)],
        columns=["unit_type", "unit_id", "indicator", "epoch", "value"])
    table = national_report(long, units, None, 2000, 2020)
    got = table[["range_state_id", "section", "subject_id", "item", "baseline_value", "current_value", "change"]]
    expected = pd.DataFrame(
        [("A", "1 habitat", "A", "habitat_area_ha", 10.0, 8.0, math.nan),
         ("A", "1 habitat", "A", "habitat_loss_pct", math.nan, math.nan, 20.0),
         ("A", "2 protected areas", "P1", "habitat_area_ha", 3.0, 2.0, math.nan)],
        columns=got.columns)
    pd.testing.assert_frame_equal(got, expected)
    assert table["unit_of_measure"].tolist() == [DEFINITIONS["habitat_area_ha"][0], DEFINITIONS["habitat_loss_pct"][0],
                                                 DEFINITIONS["habitat_area_ha"][0]]
    assert national_report(long, units[:1], None, 2000, 2020) is None  # no Range States, no report
