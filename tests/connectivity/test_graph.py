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
    reachable_pairs,
    unreachable_pairs,
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
        (lambda: probability_of_connectivity(AREA, DIST, landscape_area=A_L, **KERNEL, max_distance=-1),
         "max_distance"),
        (lambda: reachable_pairs(DIST, max_distance=float("nan")), "max_distance"),
    ],
)
def test_bad_input_raises_habitat_error(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


# Dispersal limit (max_distance): METHODS.md section 7 extended with d23 = 2 (p23 = 0.25), so a
# cutoff of 1.5 removes links 2-3 and 1-3 and a cutoff of 2.5 removes 1-3 only.
LIMIT_DIST = np.array([[0.0, 1.0, D13], [1.0, 0.0, 2.0], [D13, 2.0, 0.0]])


def test_pc_with_dispersal_limit_hand_check():
    pc = lambda **kw: probability_of_connectivity(AREA, LIMIT_DIST, landscape_area=A_L, **KERNEL, **kw)  # noqa: E731
    # No limit: p*13 = max(0.1, 0.5 * 0.25) = 0.125; PCnum = 33 + 2 (4*0.5 + 4*0.25 + 16*0.125) = 43.
    assert pc() == pytest.approx(0.0043, rel=1e-12)
    # Cutoff 2.5 drops 1-3 (3.32) only; the stepping stone 1-2-3 still gives p*13 = 0.125.
    assert pc(max_distance=2.5) == pytest.approx(0.0043, rel=1e-12)
    # A link exactly at the cutoff is kept (Linkage Mapper drops CWD > max only).
    assert pc(max_distance=2.0) == pytest.approx(0.0043, rel=1e-12)
    # Cutoff 1.5 drops 2-3 and 1-3: p*13 = p*23 = 0; PCnum = 33 + 2 * 4 * 0.5 = 37.
    assert pc(max_distance=1.5) == pytest.approx(0.0037, rel=1e-12)
    assert equivalent_connectivity(AREA, LIMIT_DIST, **KERNEL, max_distance=1.5) == pytest.approx(
        math.sqrt(37), rel=1e-12
    )
    # Below every link: only the patches themselves, 16 + 1 + 16.
    assert pc(max_distance=0.5) == pytest.approx(0.0033, rel=1e-12)
    # Without the limit the same graph with those links removed by hand gives the same PC.
    cut = LIMIT_DIST.copy()
    cut[[1, 2, 0, 2], [2, 1, 2, 0]] = np.inf
    assert pc(max_distance=1.5) == probability_of_connectivity(AREA, cut, landscape_area=A_L, **KERNEL)


def test_dpc_with_dispersal_limit_hand_check():
    got = patch_importance_pc(AREA, LIMIT_DIST, **KERNEL, max_distance=1.5)
    # PCnum = 37. Patch 1: without it (1, 4) unlinked -> 17: dPC 2000/37 = intra 1600/37 +
    # flux 2*4*(1*0.5)*100/37. Patch 2: without it 32 -> 500/37 = 100/37 + 400/37.
    # Patch 3 is isolated: without it 21 -> 1600/37, all intra.
    expected = np.array(
        [[2000, 1600, 400, 0], [500, 100, 400, 0], [1600, 1600, 0, 0]], dtype=float
    ) / 37
    assert_allclose(got.to_numpy(), expected, rtol=1e-12, atol=1e-12)


def test_iic_and_components_with_dispersal_limit_hand_check():
    # Cutoff 1.5 keeps link 1-2 only: IICnum = 33 + 2 * 4 * 1 / 2 = 37.
    assert integral_index_of_connectivity(AREA, LIMIT_DIST, landscape_area=A_L, max_distance=1.5) == (
        pytest.approx(0.0037, rel=1e-12)
    )
    # Cutoff 2.5 keeps 1-2 and 2-3: the METHODS.md chain, IIC = 155/3 / 100^2.
    assert integral_index_of_connectivity(AREA, LIMIT_DIST, landscape_area=A_L, max_distance=2.5) == (
        pytest.approx(155 / 3 / 1e4, rel=1e-12)
    )
    assert_array_equal(graph_components(LIMIT_DIST, max_distance=1.5), [0, 0, 1])
    assert_array_equal(graph_components(LIMIT_DIST, max_distance=2.5), [0, 0, 0])
    assert_array_equal(graph_components(LIMIT_DIST, max_distance=0.5), [0, 1, 2])


def test_reachable_and_unreachable_pairs():
    t, f = True, False
    assert_array_equal(reachable_pairs(LIMIT_DIST, max_distance=1.5), [[t, t, f], [t, t, f], [f, f, t]])
    assert unreachable_pairs(LIMIT_DIST, max_distance=1.5) == {(0, 2), (1, 2)}
    # Cutoff 2.5: 1 reaches 3 through 2 (stepping stones) but has no direct link to it.
    assert_array_equal(reachable_pairs(LIMIT_DIST, max_distance=2.5), np.ones((3, 3), dtype=bool))
    assert unreachable_pairs(LIMIT_DIST, max_distance=2.5) == set()
    direct = reachable_pairs(LIMIT_DIST, max_distance=2.5, stepping_stones=False)
    assert_array_equal(direct, [[t, t, f], [t, t, t], [f, t, t]])
    assert unreachable_pairs(LIMIT_DIST, max_distance=2.5, stepping_stones=False) == {(0, 2)}
    # No limit: every finite link counts.
    assert unreachable_pairs(CHAIN) == set()
    assert unreachable_pairs(CHAIN, stepping_stones=False) == {(0, 2)}


def test_unreachable_pairs_keep_the_circuit_from_solving_them():
    from habitat.connectivity.circuit import build_adjacency, build_node_map, pairwise_resistances

    # A 1 x 5 strip of unit conductances with focal nodes at cells 0, 2, 4: 1 ohm per step.
    conductance = np.ones((1, 5))
    node_map = build_node_map(conductance)
    adjacency = build_adjacency(conductance, node_map, four_neighbors=True)
    focal = [int(node_map[0, c]) - 1 for c in (0, 2, 4)]
    assert_allclose(pairwise_resistances(adjacency, focal), [[0, 2, 4], [2, 0, 2], [4, 2, 0]])
    # Populations 1-2 within reach, 3 beyond: pairs with 3 are left at -1 (not connected).
    lcd = np.array([[0.0, 10.0, 30.0], [10.0, 0.0, 20.0], [30.0, 20.0, 0.0]])
    exclude = unreachable_pairs(lcd, max_distance=15.0)
    got = pairwise_resistances(adjacency, focal, exclude=exclude)
    assert_allclose(got, [[0, 2, -1], [2, 0, -1], [-1, -1, 0]])
