"""Known-answer tests for habitat.connectivity.graph (METHODS.md section 7 hand check)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.connectivity.graph import (
    distance_matrix_from_links,
    equivalent_connectivity,
    graph_components,
    integral_index_of_connectivity,
    patch_importance_iic,
    patch_importance_pc,
    probability_of_connectivity,
)
from habitat.errors import InvalidParameterError

AREA = np.array([4.0, 1.0, 4.0])
A_L = 100.0
# With p = 0.5 at distance 1, p12 = p23 = 0.5 at d = 1 and p13 = 0.1 at d = log2(10).
D13 = math.log(10) / math.log(2)
DIST = np.array([[0.0, 1.0, D13], [1.0, 0.0, 1.0], [D13, 1.0, 0.0]])
KERNEL = {"ref_distance": 1.0, "ref_probability": 0.5}
# Links 1-2 and 2-3 only.
CHAIN = np.array([[0.0, 1.0, np.inf], [1.0, 0.0, 1.0], [np.inf, 1.0, 0.0]])


def test_pc_hand_check():
    # p*13 = max(0.1, 0.5 * 0.5) = 0.25; PCnum = 33 + 2 (2 + 2 + 4) = 49.
    assert probability_of_connectivity(AREA, DIST, landscape_area=A_L, **KERNEL) == pytest.approx(
        0.0049, rel=1e-12
    )
    assert equivalent_connectivity(AREA, DIST, **KERNEL) == pytest.approx(7.0, rel=1e-12)


def test_dpc_fractions_hand_check():
    got = patch_importance_pc(AREA, DIST, **KERNEL)
    assert list(got.columns) == ["dPC", "dPCintra", "dPCflux", "dPCconnector"]
    # Patch 2: PCnum without it = 16 + 16 + 2*16*0.1 = 35.2 -> 28.1633 = 2.0408 + 16.3265 + 9.7959.
    # Patch 1 (and 3): without it 1 + 16 + 2*4*0.5 = 21 -> 57.1429 = 32.6531 + 24.4898 + 0.
    end = [2800 / 49, 1600 / 49, 1200 / 49, 0.0]
    expected = np.array([end, [1380 / 49, 100 / 49, 800 / 49, 480 / 49], end])
    assert_allclose(got.to_numpy(), expected, rtol=1e-12, atol=1e-12)
    assert_allclose(got.loc[1].round(4).to_numpy(), [28.1633, 2.0408, 16.3265, 9.7959])


def test_iic_and_diic_hand_check():
    # IICnum = 33 + 2 (4/2 + 4/2 + 16/3) = 155/3.
    assert integral_index_of_connectivity(AREA, CHAIN, landscape_area=A_L) == pytest.approx(
        0.0051667, abs=5e-8
    )
    # Without patch 2: 32 -> 59/155; without patch 1: 1 + 16 + 4 = 21 -> 92/155.
    expected = 100 * np.array([92 / 155, 59 / 155, 92 / 155])
    assert_allclose(patch_importance_iic(AREA, CHAIN), expected, rtol=1e-12)
    assert patch_importance_iic(AREA, CHAIN)[1] == pytest.approx(38.0645, abs=5e-5)
    # The same links by distance threshold (d13 = 3.32 > 1.5) give the same answers.
    assert_allclose(patch_importance_iic(AREA, DIST, max_distance=1.5), expected, rtol=1e-12)


def test_link_list_equals_matrix():
    links = [(0, 1, 1.0), (1, 2, 1.0), (0, 2, D13), (2, 0, 99.0)]
    assert_allclose(distance_matrix_from_links(3, links), DIST)
    frame = pd.DataFrame({"i": [0, 1], "j": [1, 2], "distance": [1.0, 1.0]})
    assert_array_equal(distance_matrix_from_links(3, frame), CHAIN)
    assert_array_equal(distance_matrix_from_links(2, []), [[0.0, np.inf], [np.inf, 0.0]])


def test_components():
    assert_array_equal(graph_components(CHAIN), [0, 0, 0])
    assert_array_equal(graph_components(DIST, max_distance=0.5), [0, 1, 2])
    four = distance_matrix_from_links(4, [(0, 3, 2.0), (1, 2, 5.0)])
    assert_array_equal(graph_components(four), [0, 1, 1, 0])
    assert_array_equal(graph_components(four, max_distance=3.0), [0, 1, 2, 0])


def test_unconnected_patches_only_count_themselves():
    apart = np.array([[0.0, np.inf], [np.inf, 0.0]])
    assert probability_of_connectivity([3, 4], apart, landscape_area=10, **KERNEL) == pytest.approx(0.25)
    got = patch_importance_pc([3, 4], apart, **KERNEL)
    assert_allclose(got.to_numpy(), [[36.0, 36.0, 0.0, 0.0], [64.0, 64.0, 0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: probability_of_connectivity(AREA, DIST[:2], landscape_area=A_L, **KERNEL), "distance"),
        (lambda: probability_of_connectivity([-1, 1, 1], DIST, landscape_area=A_L, **KERNEL), "area"),
        (lambda: probability_of_connectivity(AREA, DIST, landscape_area=0, **KERNEL), "landscape_area"),
        (lambda: equivalent_connectivity(AREA, DIST, ref_distance=1, ref_probability=1.0), "ref_probability"),
        (lambda: equivalent_connectivity(AREA, DIST, ref_distance=-1, ref_probability=0.5), "ref_distance"),
        (lambda: integral_index_of_connectivity(AREA, -DIST, landscape_area=A_L), "distance"),
        (lambda: patch_importance_iic(AREA, DIST, max_distance=-1), "max_distance"),
        (lambda: distance_matrix_from_links(2, [(0, 2, 1.0)]), "links"),
        (lambda: patch_importance_pc([0, 0], CHAIN[:2, :2], **KERNEL), "area"),
    ],
)
def test_bad_input_raises_habitat_error(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()
