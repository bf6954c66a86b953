"""Known-answer tests for the continuous Boyce index (windows and P/E worked out by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.evaluation.boyce import continuous_boyce, spearman

FIT = np.arange(10.0)  # ten cells with suitability 0..9: window width 0.9 holds at most one value


def test_places_more_frequent_where_suitability_is_higher_give_plus_one():
    obs = np.repeat(FIT, np.arange(10))  # value k at k places
    result = continuous_boyce(FIT, obs)
    assert result.index == 1.0
    # one kept window per value 0..8 once duplicates are dropped; P/E = (k/45) / (1/10)
    assert_allclose(result.pe_ratio[result.used], np.arange(9) * 10 / 45)


def test_reversed_map_gives_minus_one():
    obs = np.repeat(FIT, 9 - np.arange(10))  # value k at 9 - k places
    assert continuous_boyce(FIT, obs).index == -1.0


def test_nan_cells_and_places_are_dropped():
    fit = np.append(FIT, [np.nan, np.nan])
    obs = np.append(np.repeat(FIT, np.arange(10)), np.nan)
    assert continuous_boyce(fit, obs).index == 1.0


def test_a_non_monotone_map_by_hand():
    # cells 0, 1, 2, 3; width 0.3; starts 0.027 k. Windows holding a cell: k = 0 (cell 0),
    # k = 26..37 (cell 1), k = 63..74 (cell 2); cell 3 only in the shifted last window (empty).
    # places at 0, 2, 2, 3: P/E = (count / 4) / (1 / 4) = 1, 0, 2 for cells 0, 1, 2.
    result = continuous_boyce(np.arange(4.0), np.array([0.0, 2.0, 2.0, 3.0]))
    assert result.window_width == pytest.approx(0.3)
    assert_array_equal(result.pe_ratio, [1.0] + [0.0] * 12 + [2.0] * 12)
    assert_allclose(result.window_start[result.used], [0.0, 37 * 0.027, 74 * 0.027])
    # Spearman of P/E (1, 0, 2) against increasing starts: ranks (2, 1, 3) vs (1, 2, 3) -> 0.5
    assert result.index == pytest.approx(0.5)
    assert_allclose(result.window_centre[0], 0.15)


def test_ecospat_drops_a_last_window_whose_pe_equals_one():
    # places at 1, 1, 2, 3 on cells 0..3: P/E = 0, 2, 1 for cells 0, 1, 2. ecospat compares the
    # last P/E with TRUE (= 1) and drops it, leaving (0, 2): index 1. Without that, (0, 2, 1) -> 0.5.
    obs = np.array([1.0, 1.0, 2.0, 3.0])
    result = continuous_boyce(np.arange(4.0), obs)
    assert_array_equal(result.pe_ratio[result.used], [0.0, 2.0])
    assert result.index == 1.0
    kept = result.pe_ratio[[0, 12, -1]]
    assert spearman(kept, np.arange(3.0)) == pytest.approx(0.5)


def test_without_duplicate_removal_every_window_counts():
    result = continuous_boyce(np.arange(4.0), np.array([0.0, 2.0, 2.0, 3.0]), remove_duplicates=False)
    assert result.used.all()
    # P/E values (1, 0 x12, 2 x12) against 25 increasing starts, average ranks
    pe = np.array([1.0] + [0.0] * 12 + [2.0] * 12)
    assert result.index == pytest.approx(spearman(pe, np.arange(25.0)))


def test_undefined_index_is_nan_and_bad_input_is_refused():
    # places spread exactly as the cells: P/E = 1 in every window; duplicates leave the last one,
    # which equals 1 and goes too -> no window -> NaN (ecospat: NA)
    result = continuous_boyce(FIT, FIT)
    assert_array_equal(np.unique(result.pe_ratio), [1.0])
    assert not result.used.any()
    assert math.isnan(result.index)
    # all places on one value: P/E (0, 10, 0) after duplicates -> ranks (1.5, 3, 1.5) -> 0
    assert continuous_boyce(FIT, np.array([4.0, 4.0])).index == 0.0
    with pytest.raises(InvalidParameterError):
        continuous_boyce(np.full(5, 0.3), np.array([0.3]))  # single-valued map
    with pytest.raises(InvalidParameterError):
        continuous_boyce(FIT, np.array([np.nan]))


def test_spearman_matches_pearson_of_average_ranks():
    assert spearman(np.array([1.0, 2.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        np.corrcoef([1.0, 2.5, 2.5, 4.0], [1.0, 2.0, 3.0, 4.0])[0, 1]
    )
    assert math.isnan(spearman(np.array([1.0, 1.0]), np.array([1.0, 2.0])))
