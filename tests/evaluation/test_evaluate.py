"""Known-answer tests for evaluate_places: a tiny map where the Boyce index is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.testing import assert_array_equal

from habitat.evaluation import evaluate_places

# 2 x 5 map, 10 m cells, north-west corner (0, 20): suitability 0..9 row by row
MAP = np.arange(10.0).reshape(2, 5)
TRANSFORM = Affine(10.0, 0.0, 0.0, 0.0, -10.0, 20.0)


def _centre(value: int) -> shapely.Point:
    row, col = divmod(value, 5)
    return shapely.Point(col * 10 + 5, 20 - row * 10 - 5)


def test_places_found_as_often_as_their_suitability_give_boyce_plus_one_and_the_gorge_is_left_out():
    # value k is found k times: P/E rises with k in every window -> Spearman 1 (Hirzel et al. 2006)
    values = [k for k in range(10) for _ in range(k)]
    places = pd.DataFrame({"place_id": [f"p{i}" for i in range(len(values))] + ["gorge"],
                           "kind": ["reserve"] * len(values) + ["gorge_reference"]})
    geoms = [_centre(k) for k in values] + [_centre(0)]
    result = evaluate_places(places, geoms, TRANSFORM, {"suitability": MAP}, np.ones(MAP.shape, bool))
    summary = result.summary.iloc[0]
    assert summary["boyce_index"] == 1.0
    assert (summary["n_places"], summary["n_presence"], summary["n_reference_cells"]) == (46, 45, 10)
    table = result.places
    # percentile among the ten cells, ties half: value k -> (k + 0.5) * 10
    assert_array_equal(table["suitability_percentile"].to_numpy(), [(k + 0.5) * 10 for k in values] + [5.0])
    # top quartile: (k + 0.5) * 10 >= 75 -> k in 7, 8, 9 (24 places); bottom half: k <= 4 (10) and the gorge
    assert summary["n_presence_top_quartile"] == 24
    assert summary["n_presence_bottom_half"] == 10
    assert_array_equal(table["presence"].to_numpy(), [True] * 45 + [False])
    assert bool(table["bottom_half"].iloc[-1]) and not bool(table["top_quartile"].iloc[-1])


def test_reversed_map_gives_minus_one_and_the_reference_mask_sets_the_percentiles():
    values = [k for k in range(10) for _ in range(k)]
    places = pd.DataFrame({"place_id": range(len(values))})  # no kind column: all presences
    geoms = [_centre(k) for k in values]
    result = evaluate_places(places, geoms, TRANSFORM, {"suitability": 9.0 - MAP}, np.ones(MAP.shape, bool))
    assert result.summary["boyce_index"].iloc[0] == -1.0
    # reference = the first row only (values 0..4 of MAP): a place on 9 is above all of them
    ref = np.zeros(MAP.shape, bool)
    ref[0] = True
    one = evaluate_places(pd.DataFrame({"place_id": ["a", "b"]}), [_centre(9), _centre(2)], TRANSFORM,
                          {"suitability": MAP, "quality": MAP / 10}, ref, reference_name="first row")
    assert_array_equal(one.places["suitability_percentile"].to_numpy(), [100.0, 50.0])
    assert_array_equal(one.places["quality_percentile"].to_numpy(), [100.0, 50.0])
    # two presences: windows hold one place each at most -> the index is defined or NaN, never an error
    assert one.summary["reference"].iloc[0] == "first row"
    assert math.isnan(one.summary["boyce_index"].iloc[0]) or -1 <= one.summary["boyce_index"].iloc[0] <= 1


def test_a_constant_map_gives_an_undefined_index_not_an_error():
    places = pd.DataFrame({"place_id": ["a", "b", "c"]})
    result = evaluate_places(places, [_centre(1), _centre(2), _centre(3)], TRANSFORM,
                             {"suitability": np.ones(MAP.shape)}, np.ones(MAP.shape, bool))
    assert math.isnan(result.summary["boyce_index"].iloc[0])
    assert_array_equal(result.places["suitability_percentile"].to_numpy(), [50.0, 50.0, 50.0])
