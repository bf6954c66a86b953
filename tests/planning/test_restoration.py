"""Restoration priorities and budgeted selection on a toy landscape worked out by hand."""

import math

import numpy as np
import pytest

from habitat.errors import InvalidParameterError
from habitat.planning.restoration import (
    PRIORITY_COLUMNS,
    SELECTION_COLUMNS,
    restoration_priorities,
    select_restoration,
)

# 5 x 9 cells of 100 m (1 ha each). Patch A: rows 0-2, cols 0-1 (6 ha); patch B: rows 0-2,
# cols 7-8 (6 ha); edge-to-edge A-B = centres of cols 1 and 7 = 600 m.
HABITAT = np.zeros((5, 9), bool)
HABITAT[0:3, 0:2] = True
HABITAT[0:3, 7:9] = True
UNITS = np.zeros((5, 9), np.int32)
UNITS[1, 2:7] = 1      # bridge: 5 ha joining A and B
UNITS[3:5, 0:2] = 2    # extends A by 4 ha, away from B
UNITS[4, 3:6] = 3      # a new 3 ha patch below the gap
RESTORABLE = UNITS > 0
KW = {"cell_size_m": 100.0, "ref_distance_m": 300.0}  # p = 0.5 at 300 m


def _p(d_m):
    return 0.5 ** (d_m / 300.0)


def test_bridge_ranks_first_with_hand_values():
    # Now: ECA^2 = 36 + 36 + 2*36*p(600) = 72 + 72*0.25 = 90
    eca0 = math.sqrt(90)
    # Unit 1: one 17 ha patch -> ECA = 17; gain per ha = (17 - sqrt 90) / 5
    # Unit 2: A = 10 ha, A-B still 600 m -> ECA^2 = 100 + 36 + 2*60*0.25 = 166
    # Unit 3: C = 3 ha; A-C and C-B: nearest cells (2,1)-(4,3) and (4,5)-(2,7), 200*sqrt(2) m
    #   p*AB = max(p(600) = 0.25, p(200 sqrt 2)^2); ECA^2 = 36+36+9 + 2(36 p*AB + 18 pAC + 18 pCB)
    pc = _p(200 * math.sqrt(2))
    eca3 = math.sqrt(81 + 2 * (36 * max(0.25, pc * pc) + 18 * pc + 18 * pc))
    table = restoration_priorities(HABITAT, RESTORABLE, UNITS, **KW)
    assert list(table.columns) == list(PRIORITY_COLUMNS)
    assert table.unit.tolist()[0] == 1
    by_unit = table.set_index("unit")
    np.testing.assert_allclose(by_unit.loc[[1, 2, 3], "area_ha"], [5, 4, 3])
    np.testing.assert_allclose(by_unit.loc[[1, 2, 3], "eca_ha"], [17, math.sqrt(166), eca3])
    np.testing.assert_allclose(by_unit.loc[[1, 2, 3], "gain_per_ha"],
                               [(17 - eca0) / 5, (math.sqrt(166) - eca0) / 4, (eca3 - eca0) / 3])
    assert by_unit.loc[1, "dECA_pct"] == pytest.approx(100 * (17 - eca0) / eca0)
    assert by_unit.loc[1, "patches_joined"] == "1+2"
    assert by_unit.loc[2, "patches_joined"] == "" and by_unit.loc[3, "patches_joined"] == ""
    assert table["rank"].tolist() == [1, 2, 3]


def test_populations_joined():
    pops = np.zeros((5, 9), np.int32)
    pops[1, 0] = 7
    pops[1, 8] = 9
    table = restoration_priorities(HABITAT, RESTORABLE, UNITS, populations=pops, **KW).set_index("unit")
    assert table.loc[1, "populations_joined"] == "7+9"
    assert table.loc[2, "populations_joined"] == ""


def test_non_restorable_cells_of_a_unit_are_left_alone():
    restorable = RESTORABLE.copy()
    restorable[1, 4] = False  # the bridge now has a hole: no longer joins A and B
    table = restoration_priorities(HABITAT, restorable, UNITS, **KW).set_index("unit")
    assert table.loc[1, "area_ha"] == 4
    assert table.loc[1, "patches_joined"] == ""


def test_selection_under_budget_exact_and_greedy():
    # Budget 5 ha: {1} (ECA 17), {2} (sqrt 166 = 12.9) or {3}; budget 7 ha also allows {2, 3}
    # (4 + 3 ha), whose ECA is below 17 (A' = 10 ha, C = 3 ha, A'-B 600 m), so {1} again.
    for budget in (5.0, 7.0):
        for exact in (12, 0):
            sel = select_restoration(HABITAT, RESTORABLE, UNITS, budget_ha=budget, exact_max_units=exact, **KW)
            assert list(sel.columns) == list(SELECTION_COLUMNS)
            assert sel.unit.tolist()[0] == 1
            assert sel.eca_ha.iloc[0] == pytest.approx(17.0)
    # Budget 12 ha holds everything: all three, ECA with all restored
    sel = select_restoration(HABITAT, RESTORABLE, UNITS, budget_ha=12, **KW)
    assert sorted(sel.unit) == [1, 2, 3] and sel.method.iloc[0] == "exact"
    assert sel.cumulative_area_ha.iloc[-1] == 12
    # Budget 2 ha: no unit fits
    assert select_restoration(HABITAT, RESTORABLE, UNITS, budget_ha=2, **KW).empty


def test_greedy_sees_a_bridge_completed_by_its_second_pick():
    # Split the bridge into a left half (unit 1, cols 2-4) and a right half (unit 4, cols 5-6).
    units = UNITS.copy()
    units[1, 5:7] = 4
    units[4, 3:6] = 0
    units[3:5, 0:2] = 0
    sel = select_restoration(HABITAT, units > 0, units, budget_ha=5, exact_max_units=0, **KW)
    assert sorted(sel.unit) == [1, 4]
    assert sel.eca_ha.iloc[-1] == pytest.approx(17.0)


def test_bad_inputs():
    with pytest.raises(InvalidParameterError, match="one shape"):
        restoration_priorities(HABITAT, RESTORABLE[:2], UNITS, **KW)
    with pytest.raises(InvalidParameterError, match="integer"):
        restoration_priorities(HABITAT, RESTORABLE, UNITS.astype(float), **KW)
    with pytest.raises(InvalidParameterError, match="budget_ha"):
        select_restoration(HABITAT, RESTORABLE, UNITS, budget_ha=-1, **KW)


def test_unit_labels_squares_and_hexagons():
    from habitat.planning.restoration import unit_labels

    squares = unit_labels([50, 150, 250, 350], [350, 250, 150, 50], size_m=200, shape="square")
    np.testing.assert_array_equal(squares, [[2, 2, 4, 4], [2, 2, 4, 4], [1, 1, 3, 3], [1, 1, 3, 3]])
    # pointy-top hexagons of width 1000 m: centres at (0, 0) and (1000, 0); every cell centre
    # closer than the inradius (500 m) to a centre lies in that centre's hexagon
    xs = np.arange(-1000, 2000, 50.0) + 25
    ys = np.arange(-1000, 1000, 50.0) + 25
    labels = unit_labels(xs, ys, size_m=1000)
    xx, yy = np.meshgrid(xs, ys)
    for cx in (0.0, 1000.0):
        inside = np.hypot(xx - cx, yy) < 500
        assert len(np.unique(labels[inside])) == 1
    near0, near1 = np.hypot(xx, yy) < 500, np.hypot(xx - 1000, yy) < 500
    assert labels[near0][0] != labels[near1][0]
    # a hexagon of width w has area sqrt(3)/2 w^2: 0.866 km2 = 346 cells of 50 m
    assert abs(np.sum(labels == labels[near0][0]) - 346.4) < 8
