import numpy as np
from numpy.testing import assert_array_equal

from habitat.report.styles import ClassStyle, RampStyle, change_style, data_range, raster_style


def test_ramp_rgba_ends_nan_and_clipping():
    style = RampStyle(("#000000", "#ffffff"), 0.0, 2.0)
    out = style.rgba(np.array([[0.0, 2.0, np.nan, -5.0, 9.0]]))
    assert_array_equal(out, [[[0, 0, 0, 255], [255, 255, 255, 255], [0, 0, 0, 0], [0, 0, 0, 255],
                              [255, 255, 255, 255]]])
    assert style.stops == [(0.0, "#000000"), (2.0, "#ffffff")]


def test_class_rgba_and_hidden_classes():
    style = ClassStyle(((1, "#ff0000", "a"), (2, "#0000ff", "b")))
    out = style.rgba(np.array([[1, 2, 3]]), transparent=(2,))
    assert_array_equal(out, [[[255, 0, 0, 255], [0, 0, 0, 0], [0, 0, 0, 0]]])


def test_data_range_is_the_2_98_percentile_stretch():
    values = np.arange(101, dtype=float)  # percentiles equal the values
    values[5] = np.nan
    low, high = data_range(values)
    expected = np.percentile(np.delete(np.arange(101.0), 5), [2, 98])
    assert (low, high) == (float(f"{expected[0]:.6g}"), float(f"{expected[1]:.6g}"))
    assert data_range(np.full(3, np.nan)) == (0.0, 1.0)
    assert data_range(np.full(3, 7.0)) == (7.0, 8.0)


def test_raster_style_by_id():
    assert raster_style("suitability", np.array([5.0])) == RampStyle(raster_style("quality", np.zeros(1)).colours, 0.0, 1.0)
    assert raster_style("habitat_class_current", np.zeros(1)).classes[0][:2] == (1, "#1b7837")
    assert raster_style("habitat_change", np.zeros(1)) == change_style()
    generic = raster_style("river_distance_m", np.arange(101.0))
    assert (generic.low, generic.high) == (2.0, 98.0)
