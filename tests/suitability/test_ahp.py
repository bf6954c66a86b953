"""AHP weights on the METHODS.md matrix and consistency handling."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from habitat.errors import InvalidParameterError
from habitat.suitability.ahp import RANDOM_INDEX_SAATY_1980, ahp_weights

METHODS_MATRIX = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


def test_methods_matrix_published_values():
    r = ahp_weights(METHODS_MATRIX, names=["class", "water", "threat"])
    assert list(r.weights) == ["class", "water", "threat"]
    assert_allclose(list(r.weights.values()), [0.6370, 0.2583, 0.1047], atol=5e-5)
    assert r.lambda_max == pytest.approx(3.0385, abs=5e-5)
    assert r.ci == pytest.approx(0.0193, abs=5e-5)
    assert r.cr == pytest.approx(0.0332, abs=5e-5)
    assert r.ri == 0.58
    assert r.ri_table == "Saaty 1980"
    assert r.consistent


def test_consistent_matrix_gives_ratio_weights_and_zero_cr():
    # a_ij = w_i / w_j with w = (0.5, 0.3, 0.2): perfectly consistent
    w = np.array([0.5, 0.3, 0.2])
    r = ahp_weights(w[:, None] / w[None, :])
    assert_allclose(list(r.weights.values()), w, rtol=1e-12)
    assert r.lambda_max == pytest.approx(3.0, abs=1e-12)
    assert r.cr == pytest.approx(0.0, abs=1e-12)


def test_two_criteria_always_consistent():
    r = ahp_weights([[1, 4], [0.25, 1]])
    assert_allclose(list(r.weights.values()), [0.8, 0.2], rtol=1e-12)
    assert r.cr == 0.0


def test_inconsistent_matrix_is_error_unless_accepted():
    # circular judgements: a > b > c > a
    bad = [[1, 5, 1 / 5], [1 / 5, 1, 5], [5, 1 / 5, 1]]
    with pytest.raises(InvalidParameterError, match="accept_inconsistent"):
        ahp_weights(bad)
    r = ahp_weights(bad, accept_inconsistent=True)
    assert not r.consistent
    assert r.cr >= 0.10
    assert_allclose(list(r.weights.values()), [1 / 3, 1 / 3, 1 / 3], rtol=1e-9)


@pytest.mark.parametrize(
    "matrix",
    [
        [[1, 2, 3], [0.5, 1, 2]],  # not square
        [[1, 2], [0.4, 1]],  # not reciprocal
        [[2, 2], [0.5, 2]],  # diagonal not 1
        [[1, -2], [-0.5, 1]],  # negative
    ],
)
def test_invalid_matrices_rejected(matrix):
    with pytest.raises(InvalidParameterError):
        ahp_weights(matrix)


def test_ri_table_values_from_methods():
    assert [RANDOM_INDEX_SAATY_1980[n] for n in (3, 4, 5, 6, 7)] == [0.58, 0.90, 1.12, 1.24, 1.32]
