"""Kernels of the strip-by-strip unit indicators: sums in the whole-array order, bit for bit."""

import numpy as np
import pytest

from habitat.indicators._unit_scan import PairwiseSum, cell_sums, repeated_sums, sequential_sum
from habitat.suitability.patches import label_areas_m2


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 255, 1000, 4097, 65536, 100_003])
def test_pairwise_sum_in_chunks_equals_np_sum(n):
    rng = np.random.default_rng(n)
    values = rng.random(n) * 10.0 ** rng.uniform(-3, 9, n)  # magnitudes apart: rounding matters
    cuts = np.sort(rng.integers(0, n + 1, 12))
    total = PairwiseSum(n)
    for part in np.split(values, cuts):
        total.add(part)
    assert total.total() == float(np.sum(values))


def test_pairwise_sum_refuses_a_wrong_count():
    total = PairwiseSum(10)
    total.add(np.ones(9))
    with pytest.raises(ValueError):
        total.total()


def test_sequential_sum_is_bincount_order():
    rng = np.random.default_rng(3)
    values = rng.random(5000) * 1e12
    # one bin of np.bincount adds its weights one by one in input order
    expected = np.bincount(np.zeros(5000, np.intp), weights=values)[0]
    acc = 0.0
    for part in np.array_split(values, 7):
        acc = sequential_sum(acc, part)
    assert acc == expected and acc != float(np.sum(values))


@pytest.mark.parametrize("area", [900.0, 0.7, 1e12, 2.5e7])
def test_cell_sums_equal_label_areas(area):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 6, (300, 200))
    labels[:150] = 1  # one big label: 1e12 m2 x 30,000+ cells passes 2^53 (sums added cell by cell)
    n = 5
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    np.testing.assert_array_equal(cell_sums(counts, area), label_areas_m2(labels, n, area))


def test_repeated_sums_add_one_at_a_time():
    area = 0.1
    expected = [float(np.add.accumulate(np.full(k, area))[-1]) if k else 0.0 for k in (0, 1, 3, 10, 2_500_000)]
    np.testing.assert_array_equal(repeated_sums(area, np.array([0, 1, 3, 10, 2_500_000])), expected)
    assert expected[-1] != 2_500_000 * area  # the sequential sum is not the product
