"""Known-answer tests for place values and percentiles among floodplain cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from numpy.testing import assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.evaluation.places import percentile_among, place_values

# 3 x 4 map, 10 m cells, north-west corner at (0, 30)
MAP = np.array([[0.0, 0.1, 0.2, 0.3], [0.4, 0.5, np.nan, 0.7], [0.8, 0.9, 1.0, 0.6]])
TRANSFORM = Affine(10.0, 0.0, 0.0, 0.0, -10.0, 30.0)


def test_points_take_the_cell_under_them():
    pts = [shapely.Point(5, 25), shapely.Point(35, 5), shapely.Point(25, 15), shapely.Point(50, 5)]
    assert_array_equal(place_values(MAP, TRANSFORM, pts), [0.0, 0.6, np.nan, np.nan])


def test_polygons_take_mean_or_max_of_cells_whose_centres_are_inside():
    # box over the centres of (1, 0), (1, 1), (2, 0), (2, 1): 0.4, 0.5, 0.8, 0.9
    square = shapely.box(0, 0, 20, 20)
    # box over (1, 1), (1, 2) [NaN, ignored], (1, 3)
    strip = shapely.box(10, 10, 40, 20)
    # a sliver holding no cell centre: the cell under its representative point (0, 3) = 0.3
    sliver = shapely.box(31, 21, 33, 23)
    assert_array_equal(place_values(MAP, TRANSFORM, [square, strip, sliver]), [0.65, 0.6, 0.3])
    assert_array_equal(place_values(MAP, TRANSFORM, [square, strip], polygon_stat="max"), [0.9, 0.7])
    with pytest.raises(InvalidParameterError):
        place_values(MAP, TRANSFORM, [shapely.LineString([(0, 0), (5, 5)])])


def test_percentiles_by_hand():
    floodplain = np.array([0.0, 0.0, 0.2, 0.4, 0.6, 0.8, np.nan])  # six finite cells
    places = np.array([0.0, 0.4, 0.5, 0.9, np.nan])
    # 0.0: (0 + 0.5*2)/6; 0.4: (3 + 0.5)/6; 0.5: 4/6; 0.9: 6/6
    expected = 100 * np.array([1 / 6, 3.5 / 6, 4 / 6, 1.0, np.nan])
    assert_array_equal(np.round(percentile_among(places, floodplain), 12), np.round(expected, 12))
    assert np.isnan(percentile_among(np.array([1.0]), np.array([np.nan]))).all()


def test_place_table_flags_the_bottom_half_by_the_first_layer():
    from habitat.evaluation.places import place_table

    places = pd.DataFrame({"place_id": ["a", "b", "c"], "kind": ["reserve", "release_site", "gorge_reference"]})
    floodplain = {"suitability": np.array([0.0, 0.2, 0.4, 0.6]), "quality": np.array([1.0, 2.0, 3.0, 4.0])}
    table = place_table(places, {"suitability": np.array([0.6, 0.2, np.nan]),
                                 "quality": np.array([1.0, 4.0, 2.0])}, floodplain)
    # suitability 0.6: (3 + 0.5) / 4 = 87.5; 0.2: (1 + 0.5) / 4 = 37.5; NaN stays NaN
    assert_array_equal(table["suitability_percentile"], [87.5, 37.5, np.nan])
    assert_array_equal(table["quality_percentile"], [12.5, 87.5, 37.5])
    assert_array_equal(table["bottom_half"], [False, True, True])
    assert list(table.columns) == ["place_id", "kind", "suitability", "suitability_percentile", "quality",
                                   "quality_percentile", "bottom_half"]
    with pytest.raises(InvalidParameterError):
        place_table(places, {"x": np.zeros(3)}, floodplain)
