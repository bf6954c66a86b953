"""Sources from suitability, flow classes and per-unit summaries, checked by hand."""

import tracemalloc

import numpy as np
import pytest

from habitat.connectivity.omniscape import estimate_memory_bytes, omniscape
from habitat.connectivity.omniscape.flow import classify_flow, flow_summary, suitability_sources, window_reach
from habitat.errors import InvalidParameterError


def test_sources_are_suitability_at_or_above_the_threshold_on_passable_cells():
    suit = np.array([[0.2, 0.6, 0.9], [np.nan, 0.7, 1.0]])
    res = np.array([[1.0, 1.0, 1.0], [1.0, np.nan, 2.0]])
    np.testing.assert_array_equal(suitability_sources(suit, res, 0.6), [[0, 0.6, 0.9], [0, 0, 1.0]])
    with pytest.raises(InvalidParameterError, match="source_threshold"):
        suitability_sources(suit, res, 1.5)


def test_flow_classes_at_the_cut_offs():
    norm = np.array([[0.0, 0.79, 0.8, 1.0], [1.2, 1.21, np.nan, 3.0]])
    fp = np.array([[0.0, 1.0, 1.0, 1.0], [1.0, 1.0, np.nan, 2.0]])
    got = classify_flow(norm, fp, impeded_below=0.8, channelized_above=1.2)
    # no flow potential (0) and nodata are not classed; 0.8 and 1.2 are diffuse
    np.testing.assert_array_equal(got, [[0, 1, 2, 2], [2, 3, 0, 3]])
    assert got.dtype == np.uint8
    with pytest.raises(InvalidParameterError):
        classify_flow(norm, fp, impeded_below=1.1, channelized_above=1.2)
    reach = np.ones(norm.shape, bool)
    reach[:, 3] = False
    np.testing.assert_array_equal(classify_flow(norm, fp, impeded_below=0.8, channelized_above=1.2, reach=reach),
                                  [[0, 1, 2, 0], [2, 3, 0, 0]])


def test_window_reach_is_the_circle_around_each_target():
    src = np.zeros((7, 9))
    src[4, 4] = 1.0  # block 3: the block of rows 3-5, cols 3-5 has centre (4, 4)
    got = window_reach(src, radius=2, block_size=3)
    ii, jj = np.mgrid[0:7, 0:9]
    np.testing.assert_array_equal(got, (ii - 4) ** 2 + (jj - 4) ** 2 <= 4)
    src[1, 1] = 0.5  # a second block, centre (1, 1); radius 1 + buffer 1
    got = window_reach(src, radius=1, block_size=3, buffer=1)
    want = ((ii - 4) ** 2 + (jj - 4) ** 2 <= 4) | ((ii - 1) ** 2 + (jj - 1) ** 2 <= 4)
    np.testing.assert_array_equal(got, want)
    assert not window_reach(np.zeros((3, 3)), radius=5).any()


def test_summary_by_hand():
    # 2 x 3 cells of 2 ha; unit A = left two columns, unit B = right column
    classes = np.array([[1, 2, 3], [3, 0, 3]], dtype=np.uint8)
    norm = np.array([[0.5, 1.0, 2.0], [1.5, np.nan, 3.0]])
    a = np.array([[1, 1, 0], [1, 1, 0]], bool)
    table = flow_summary(classes, norm, 2.0, [("A", "Aland", a), ("B", "Bland", ~a)]).set_index("unit_id")
    assert table.index.tolist() == ["ALL", "A", "B"]
    assert table.loc["ALL", "area_ha"] == 10.0 and table.loc["ALL", "not_assessed_ha"] == 2.0
    assert table.loc["ALL", "channelized_ha"] == 6.0 and table.loc["ALL", "channelized_share"] == 0.6
    # unit A: impeded 0.5, diffuse 1.0, channelized 1.5 (one cell each), one cell not assessed
    assert table.loc["A", ["impeded_ha", "diffuse_ha", "channelized_ha", "not_assessed_ha"]].tolist() == [2, 2, 2, 2]
    np.testing.assert_allclose(table.loc["A", ["impeded_share", "diffuse_share", "channelized_share"]], [1 / 3] * 3)
    assert table.loc["A", "mean_normalized_current"] == pytest.approx(1.0)
    assert table.loc["B", "channelized_share"] == 1.0 and table.loc["B", "mean_normalized_current"] == 2.5
    assert table.loc["B", "unit_name"] == "Bland"
    empty = flow_summary(np.zeros((1, 2), np.uint8), np.full((1, 2), np.nan), 1.0)
    assert empty.loc[0, "area_ha"] == 0 and np.isnan(empty.loc[0, "mean_normalized_current"])


@pytest.mark.parametrize("flow_potential", [False, True])
def test_memory_estimate_bounds_the_engine_allocations(flow_potential):
    rng = np.random.default_rng(3)
    res = rng.uniform(1, 10, (60, 80))
    src = np.where(rng.random(res.shape) < 0.3, 1.0, 0.0)
    kwargs = dict(radius=6, block_size=3)
    omniscape(res, src, workers=1, calc_flow_potential=flow_potential, **kwargs)  # compile the kernels first
    tracemalloc.start()
    omniscape(res, src, workers=1, calc_flow_potential=flow_potential, **kwargs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    need = estimate_memory_bytes(res.shape, sources=src, workers=1, flow_potential=flow_potential, **kwargs)
    assert peak <= need < 20 * peak
