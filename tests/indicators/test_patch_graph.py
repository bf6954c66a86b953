"""Patch graph inputs: patch labels with a minimum area, edge-to-edge distances."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from habitat.errors import InvalidParameterError
from habitat.indicators.patch_graph import edge_to_edge_distances, habitat_patches


def test_habitat_patches_min_area_and_rule():
    habitat = np.array([[1, 1, 0, 0],
                        [0, 0, 1, 0],
                        [0, 0, 0, 0],
                        [1, 0, 0, 1]])
    labels, area = habitat_patches(habitat, cell_area_m2=1e4, neighbours=8)
    np.testing.assert_array_equal(labels, [[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [2, 0, 0, 3]])
    np.testing.assert_allclose(area, [3, 1, 1])
    labels, area = habitat_patches(habitat, cell_area_m2=1e4, neighbours=4, min_area_ha=2)
    np.testing.assert_array_equal(labels, [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(area, [2])


def test_edge_to_edge_by_hand():
    labels = np.array([[1, 1, 0, 0, 2],
                       [1, 1, 0, 0, 0],
                       [0, 0, 0, 0, 0],
                       [3, 0, 0, 0, 0]])
    d = edge_to_edge_distances(labels, cell_size_m=10)
    expected = np.array([[0, 30, 20], [30, 0, math.hypot(3, 4) * 10], [20, 50, 0]])
    np.testing.assert_allclose(d, expected)
    capped = edge_to_edge_distances(labels, cell_size_m=10, max_distance_m=25)
    np.testing.assert_array_equal(capped, [[0, np.inf, 20], [np.inf, 0, np.inf], [20, np.inf, 0]])


def test_edge_to_edge_matches_brute_force():
    rng = np.random.default_rng(7)
    labels, _ = habitat_patches(rng.random((30, 40)) < 0.2, cell_area_m2=1.0)
    n = labels.max()
    cells = [np.argwhere(labels == k + 1) for k in range(n)]
    brute = np.array([[cdist(a, b).min() if i != j else 0.0 for j, b in enumerate(cells)]
                      for i, a in enumerate(cells)]) * 25.0
    np.testing.assert_allclose(edge_to_edge_distances(labels, cell_size_m=25.0), brute, rtol=1e-12)


def test_edge_to_edge_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="labels"):
        edge_to_edge_distances(np.ones((2, 2)), cell_size_m=1)
    with pytest.raises(InvalidParameterError, match="cell_size_m"):
        edge_to_edge_distances(np.ones((2, 2), int), cell_size_m=0)
