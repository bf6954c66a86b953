"""Scenario edits on tiny rasters: flooding the only link, barriers, crossings, restoration."""

import math

import numpy as np
import pytest
import shapely

from habitat.connectivity.graph import graph_components
from habitat.errors import InvalidParameterError
from habitat.grid import GridSpec
from habitat.indicators.patch_graph import edge_to_edge_distances, habitat_eca
from habitat.io.landcover import HABITAT_CLASS_CODES as C
from habitat.planning.scenarios import (
    BarrierEdit,
    CrossingEdit,
    LandCoverEdit,
    RestorationEdit,
    Scenario,
    apply_landcover_edits,
    apply_scenario,
    changed_cells,
    edit_mask,
)

# 3 x 7 cells of 100 m; x 0..700, y 0..300 (row 0 at the top, y 200..300).
GRID = GridSpec.create("EPSG:32642", (100.0, 0.0, 0.0, 0.0, -100.0, 300.0), (3, 7))
T, CROP, WATER = C["tugai_forest"], C["cropland"], C["water"]


def _landscape():
    classes = np.full((3, 7), CROP, np.uint8)
    classes[1, :] = T  # one 7 ha strip of tugai along the middle row
    return classes


def test_flooding_the_only_link_splits_the_patch_and_lowers_eca_by_hand():
    # A reservoir floods column 3 (x 300..400): the strip splits into A (cols 0-2, 3 ha) and
    # B (cols 4-6, 3 ha), 200 m apart edge to edge (centres of cols 2 and 4).
    # Before: one 7 ha patch -> ECA = 7 ha.
    # After, median dispersal 100 m (p = 0.5 at 100 m): p_AB = 0.5^2 = 0.25,
    #   ECA^2 = 9 + 9 + 2 * 3 * 3 * 0.25 = 22.5 -> ECA = sqrt(22.5) = 4.7434 ha,
    #   loss 7 - 4.7434 = 2.2566 ha, dECA = -32.24 %.
    reservoir = Scenario("reservoir", (LandCoverEdit(shapely.box(300, 0, 400, 300), "water", name="dam"),))
    before = _landscape()
    after, resistance = apply_scenario(reservoir, GRID, classes=before)
    assert resistance is None
    expected = before.copy()
    expected[:, 3] = WATER
    np.testing.assert_array_equal(after, expected)
    np.testing.assert_array_equal(before[:, 3], [CROP, T, CROP])  # input untouched

    kw = {"cell_size_m": 100.0, "ref_distance_m": 100.0}
    eca_before, labels_before = habitat_eca(before == T, **kw)
    eca_after, labels_after = habitat_eca(after == T, **kw)
    assert labels_before.max() == 1 and labels_after.max() == 2
    assert eca_before == pytest.approx(7.0)
    assert eca_after == pytest.approx(math.sqrt(22.5))
    assert eca_before - eca_after == pytest.approx(7 - math.sqrt(22.5))
    # the two halves are no longer linked within one cell's gap
    dist = edge_to_edge_distances(labels_after, cell_size_m=100.0)
    np.testing.assert_allclose(dist, [[0, 200], [200, 0]])
    np.testing.assert_array_equal(graph_components(dist, max_distance=100), [0, 1])


def test_restoration_changes_only_restorable_floodplain_cells():
    classes = np.array([[CROP, C["built"], C["bare"], WATER, 0, CROP, CROP]] * 3, np.uint8)
    floodplain = np.zeros((3, 7), bool)
    floodplain[1:, :] = True
    release = RestorationEdit(shapely.box(0, 0, 600, 300), name="water release")  # cols 0-5
    out = apply_landcover_edits(classes, [release], [edit_mask(release, GRID)], floodplain=floodplain)
    expected = classes.copy()
    expected[1:, 0] = T     # cropland in the floodplain
    expected[1:, 2] = T     # bare in the floodplain
    expected[1:, 5] = T     # cropland; col 6 is outside the reach
    np.testing.assert_array_equal(out, expected)  # built, water, nodata and row 0 untouched


def test_barrier_line_then_crossing():
    # A canal along x = 350 (column 3, every row) is impassable; a bridge at row 1 reopens it.
    canal = BarrierEdit(shapely.LineString([(350, 0), (350, 300)]), name="canal")
    bridge = CrossingEdit(shapely.LineString([(330, 150), (370, 150)]), resistance=5.0, name="bridge")
    scenario = Scenario("canal", (bridge, canal))  # crossing listed first still wins
    classes, res = apply_scenario(scenario, GRID, classes=_landscape(), resistance=np.ones((3, 7)))
    expected = np.ones((3, 7))
    expected[:, 3] = np.inf
    expected[1, 3] = 5.0
    np.testing.assert_array_equal(res, expected)
    np.testing.assert_array_equal(classes, _landscape())
    np.testing.assert_array_equal(changed_cells(np.ones((3, 7)), res), expected != 1)


def test_polygon_mask_uses_cell_centres():
    # x 260..420 overlaps columns 2, 3 and 4 but holds only column 3's centre (x 350; 250 and 450 are out)
    mask = edit_mask(LandCoverEdit(shapely.box(260, 0, 420, 300), "cropland"), GRID)
    np.testing.assert_array_equal(mask.any(axis=0), [False, False, False, True, False, False, False])


def test_bad_edits():
    with pytest.raises(InvalidParameterError, match="habitat class"):
        LandCoverEdit(shapely.box(0, 0, 1, 1), "lake")
    with pytest.raises(InvalidParameterError, match="> 0"):
        BarrierEdit(shapely.box(0, 0, 1, 1), resistance=0)
    with pytest.raises(InvalidParameterError, match="name"):
        Scenario("", ())
    with pytest.raises(InvalidParameterError, match="one mask per edit"):
        apply_landcover_edits(_landscape(), [LandCoverEdit((), "water")], [])
