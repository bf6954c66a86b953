"""Known-answer and peer tests for habitat.indicators.fragmentation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.indicators import _landscape
from habitat.indicators.fragmentation import METRIC_COLUMNS, PYLANDSTATS_NAMES, class_metrics, landscape_metrics

# 3x3 cells of 10 m: a 2x2 block of class 1, a 2x1 column of class 2, a 1x3 row of class 3.
BLOCKS = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])


def test_class_metrics_full_table_on_hand_drawn_blocks():
    # A = 9 cells * 100 m2 = 900 m2 = 0.09 ha; Z = 9 so the COHESION scale is 1/(1 - 1/3).
    area_ha = 0.09
    cohesion = lambda p, c: (1 - p / (p * math.sqrt(c))) / (1 - 1 / 3) * 100  # noqa: E731
    expected = pd.DataFrame(
        {
            "NP": [1, 1, 1],
            "PD": [100 / area_ha] * 3,
            "LPI": [400 / 9, 200 / 9, 300 / 9],
            # class 1 touches 2 sides of class 2 and 2 of class 3; class 2 touches 2 of class 1
            # and 1 of class 3; class 3 touches 2 of class 1 and 1 of class 2.
            "TE": [40.0, 30.0, 30.0],
            "ED": [40 / area_ha, 30 / area_ha, 30 / area_ha],
            "AREA_MN": [0.04, 0.02, 0.03],
            "TCA": [0.0, 0.0, 0.0],
            "MESH": [400**2 / 900 / 1e4, 200**2 / 900 / 1e4, 300**2 / 900 / 1e4],
            "DIVISION": [1 - 16 / 81, 1 - 4 / 81, 1 - 9 / 81],
            "SPLIT": [81 / 16, 81 / 4, 81 / 9],
            "COHESION": [cohesion(8, 4), cohesion(6, 2), cohesion(8, 3)],
            "ENN_MN": [np.nan] * 3,
        },
        index=pd.Index([1, 2, 3], name="class"),
    )
    got = class_metrics(BLOCKS, cell_size=10.0)
    assert list(got.columns) == list(METRIC_COLUMNS)
    assert_array_equal(got.index.to_numpy(), [1, 2, 3])
    assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-12, equal_nan=True)


def test_total_edge_with_and_without_boundary():
    without = class_metrics(BLOCKS, cell_size=10.0)["TE"].to_numpy()
    # With the boundary every patch side counts: perimeters 8, 6 and 8 sides.
    with_boundary = class_metrics(BLOCKS, cell_size=10.0, count_boundary=True)["TE"].to_numpy()
    assert_allclose(without, [40.0, 30.0, 30.0])
    assert_allclose(with_boundary, [80.0, 60.0, 80.0])
    # Landscape: 5 inner sides between classes; the raster outline adds 12 sides.
    assert landscape_metrics(BLOCKS, cell_size=10.0)["TE"] == pytest.approx(50.0)
    assert landscape_metrics(BLOCKS, cell_size=10.0, count_boundary=True)["TE"] == pytest.approx(170.0)


def test_number_of_patches_4_vs_8_neighbours():
    checker = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    eight = class_metrics(checker, cell_size=1.0, neighbours=8)["NP"]
    four = class_metrics(checker, cell_size=1.0, neighbours=4)["NP"]
    assert_array_equal(eight.to_numpy(), [1, 1])
    assert_array_equal(four.to_numpy(), [4, 5])
    assert landscape_metrics(checker, cell_size=1.0, neighbours=4)["NP"] == 9


def test_total_core_area_by_edge_depth_and_nodata():
    ones = np.ones((5, 5), int)
    # 10 m cells = 0.01 ha. Depth 1 leaves the inner 3x3, depth 2 the centre cell.
    assert_allclose(class_metrics(ones, cell_size=10.0)["TCA"].to_numpy(), [0.09])
    assert_allclose(class_metrics(ones, cell_size=10.0, edge_depth=2)["TCA"].to_numpy(), [0.01])
    hole = ones.copy()
    hole[2, 2] = 2
    # The centre and its 4 neighbours drop out of the inner 3x3: 4 corner cells remain.
    assert_allclose(class_metrics(hole, cell_size=10.0)["TCA"].to_numpy(), [0.04, 0.0])
    nodata = ones.copy()
    nodata[1, 1] = -9
    # Nodata is edge: (1,1) and its inner neighbours (1,2), (2,1) are not core.
    got = class_metrics(nodata, cell_size=10.0, nodata=-9)
    assert_array_equal(got.index.to_numpy(), [1])
    assert_allclose(got["TCA"].to_numpy(), [0.06])
    assert_allclose(got["LPI"].to_numpy(), [100.0])


def test_enn_edge_to_edge_between_cell_centres():
    land = np.zeros((4, 4), int)
    land[0, 0] = land[1, 0] = 1  # patch A
    land[0, 3] = 1  # patch B
    land[3, 2] = 1  # patch C
    # A-B 3 cells, A-C sqrt(8) (from (1,0) to (3,2)), B-C sqrt(10).
    expected_cells = (math.sqrt(8) + 3 + math.sqrt(8)) / 3
    got = class_metrics(land, cell_size=30.0, neighbours=4)
    assert_allclose(got["ENN_MN"].to_numpy(), [np.nan, expected_cells * 30.0], equal_nan=True)
    gap = np.array([[1, 0, 1]])
    assert class_metrics(gap, cell_size=5.0).loc[1, "ENN_MN"] == pytest.approx(10.0)
    # Landscape ENN_MN averages over the patches that have a same-class neighbour.
    assert landscape_metrics(land, cell_size=30.0, neighbours=4)["ENN_MN"] == pytest.approx(
        expected_cells * 30.0
    )


def test_mesh_division_split_analytic():
    # METHODS.md section 3: a 100 ha landscape with habitat patches of 30 and 20 ha -> 13 ha.
    land = np.zeros((10, 10), int)
    land[0:3] = 1
    land[4:6] = 1
    got = class_metrics(land, cell_size=100.0)  # 1 ha cells
    assert_allclose(got["MESH"].to_numpy(), [(10**2 + 40**2) / 100, 13.0])
    assert_allclose(got["DIVISION"].to_numpy(), [1 - 0.01 - 0.16, 1 - 0.09 - 0.04])
    assert_allclose(got["SPLIT"].to_numpy(), [1e4 / 1700, 1e4 / 1300])
    lm = landscape_metrics(land, cell_size=100.0)
    assert lm["MESH"] == pytest.approx(30.0)
    assert lm["NP"] == 4
    assert lm["AREA_MN"] == pytest.approx(25.0)
    assert lm["LPI"] == pytest.approx(40.0)


@pytest.mark.parametrize("neighbours", [4, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_pylandstats_on_random_landscapes(neighbours, seed):
    pls = pytest.importorskip("pylandstats")
    rng = np.random.default_rng(seed)
    land = rng.integers(1, 5, size=(23, 31)).astype(np.int32)
    if seed == 2:
        land[rng.random(land.shape) < 0.1] = 0
    nodata = 0 if seed == 2 else None
    names = PYLANDSTATS_NAMES
    ls = pls.Landscape(land, res=(30, 30), nodata=0, neighborhood_rule=str(neighbours))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ls.compute_class_metrics_df(metrics=list(names)).rename(columns=names)
        ref_land = ls.compute_landscape_metrics_df(metrics=list(names)).rename(columns=names)
    got = class_metrics(land, cell_size=30.0, nodata=nodata, neighbours=neighbours)
    cols = list(names.values())
    assert_array_equal(got.index.to_numpy(), ref.index.to_numpy())
    assert_allclose(got[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=1e-10)
    got_land = landscape_metrics(land, cell_size=30.0, nodata=nodata, neighbours=neighbours)
    assert_allclose(got_land[cols].to_numpy(float), ref_land[cols].to_numpy(float)[0], rtol=1e-10)
    got_b = class_metrics(land, cell_size=30.0, nodata=nodata, neighbours=neighbours, count_boundary=True)
    ref_b = [ls.total_edge(class_val=c, count_boundary=True) for c in got_b.index]
    assert_allclose(got_b["TE"].to_numpy(), ref_b, rtol=1e-12)
    ref_core2 = [ls.total_core_area(class_val=c, edge_depth=2) for c in got.index]
    got_core2 = class_metrics(land, cell_size=30.0, nodata=nodata, neighbours=neighbours, edge_depth=2)
    assert_allclose(got_core2["TCA"].to_numpy(), ref_core2, rtol=1e-12)


def test_blocked_passes_equal_whole_array(monkeypatch):
    rng = np.random.default_rng(5)
    land = rng.integers(0, 3, size=(40, 17))
    land[rng.random(land.shape) < 0.05] = 9
    whole = class_metrics(land, cell_size=20.0, nodata=9, edge_depth=2)
    whole_l = landscape_metrics(land, cell_size=20.0, nodata=9, count_boundary=True)
    # About 3 rows per block, so halos of 2 rows cross many block seams.
    monkeypatch.setattr(_landscape, "_BLOCK_CELLS", 50)
    blocked = class_metrics(land, cell_size=20.0, nodata=9, edge_depth=2)
    blocked_l = landscape_metrics(land, cell_size=20.0, nodata=9, count_boundary=True)
    assert_allclose(blocked.to_numpy(float), whole.to_numpy(float), rtol=1e-12, equal_nan=True)
    assert_allclose(blocked_l.to_numpy(float), whole_l.to_numpy(float), rtol=1e-12, equal_nan=True)


def test_input_not_modified_and_bool_accepted():
    land = BLOCKS.copy()
    class_metrics(land, cell_size=10.0)
    assert_array_equal(land, BLOCKS)
    got = class_metrics(np.array([[True, False], [False, False]]), cell_size=1.0)
    assert_array_equal(got["NP"].to_numpy(), [1, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": np.zeros((3, 3), float)}, "integer"),
        ({"classes": np.zeros(3, int)}, "2-D"),
        ({"cell_size": 0.0}, "cell_size"),
        ({"cell_size": (10.0, 10.0)}, "cell_size"),
        ({"neighbours": 6}, "neighbours"),
        ({"edge_depth": 0}, "edge_depth"),
        ({"nodata": 0}, "nodata"),
        ({"nodata": "x"}, "nodata"),
    ],
)
def test_bad_input_raises_habitat_error(kwargs, match):
    args = {"classes": np.zeros((3, 3), int), "cell_size": 10.0} | kwargs
    classes = args.pop("classes")
    with pytest.raises(InvalidParameterError, match=match):
        class_metrics(classes, **args)
    with pytest.raises(InvalidParameterError, match=match):
        landscape_metrics(classes, **args)
