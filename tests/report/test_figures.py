import math

import numpy as np
import pytest

from habitat.grid import GridSpec
from habitat.report.figures import (
    MapFigure, RasterLayer, draw_map, figure_pdf, figure_png, nice_scale_length, north_angle_deg,
)
from habitat.report.i18n import Messages
from habitat.report.styles import raster_style


def test_nice_scale_length():
    assert [nice_scale_length(w) for w in (76_000.0, 2_800.0, 9.0, 5.0, 100.0)] == [10_000.0, 500.0, 1.0, 1.0, 20.0]


def test_north_angle_is_zero_on_the_central_meridian_and_turns_east_of_it():
    grid = GridSpec.from_bounds((0.0, 280_000.0, 3000.0, 282_400.0), "default", 100.0)
    assert north_angle_deg(grid, 0.0, 281_000.0) == pytest.approx(0.0, abs=1e-9)
    # Albers: meridians converge towards the pole by n * dlon, n = (sin 37 + sin 45) / 2
    east = north_angle_deg(grid, 80_000.0, 281_000.0)
    from pyproj import Transformer

    lon, _ = Transformer.from_crs(grid.pyproj_crs, "EPSG:4326", always_xy=True).transform(80_000.0, 281_000.0)
    n = (math.sin(math.radians(37)) + math.sin(math.radians(45))) / 2
    assert east == pytest.approx(-n * (lon - 68.0), abs=1e-3)
    assert north_angle_deg(GridSpec.from_bounds((68, 42, 69, 43), "EPSG:4326", 0.1), 68.5, 42.5) == 0.0


def _figure(data, language="en"):
    values = data.rasters["suitability"]
    spec = MapFigure("Test <$x$>", [RasterLayer(values, raster_style("suitability", values), "suit")])
    return draw_map(spec, data.grid, Messages(language), credits="demo", version="0")


def test_two_renders_are_byte_identical(report_data):
    assert figure_png(_figure(report_data), dpi=60) == figure_png(_figure(report_data), dpi=60)
    pdf = figure_pdf(_figure(report_data, "ru"))
    assert pdf == figure_pdf(_figure(report_data, "ru"))
    assert b"CreationDate" not in pdf and b"ModDate" not in pdf


def test_png_has_the_requested_size_and_the_map_the_aspect_of_its_extent(report_data):
    from PIL import Image
    import io

    fig = _figure(report_data)
    image = Image.open(io.BytesIO(figure_png(fig, dpi=100)))
    width_in, height_in = fig.get_size_inches()
    assert image.size == (round(width_in * 100), round(height_in * 100))
    assert image.info.get("Software") == "habitat"
    assert image.info.get("dpi") == pytest.approx((100, 100), abs=0.01)
    # the tiny grid is 3000 x 2400 m: the map frame is 5.4 x 4.32 inches, no margin inside it
    box = fig.axes[0].get_position()
    assert (box.width * width_in, box.height * height_in) == pytest.approx((5.4, 4.32), abs=1e-6)
    assert fig.axes[0].get_xlim() == (0.0, 3000.0) and fig.axes[0].get_ylim() == (280_000.0, 282_400.0)


def test_max_labels_labels_only_the_first_features(report_data):
    import geopandas as gpd
    import shapely

    from habitat.report.figures import VectorLayer

    grid = report_data.grid
    x0, y0 = grid.x_coords[2], grid.y_coords[2]
    sites = gpd.GeoDataFrame({"rank": [1, 2, 3]}, geometry=[shapely.Point(x0 + 500 * i, y0) for i in range(3)],
                             crs=grid.pyproj_crs)

    def texts(max_labels):
        layer = VectorLayer(sites, ("point", "#ffd700", "#000000", 0.6, 3.6), "Sites", "rank", max_labels)
        fig = draw_map(MapFigure("t", [], [layer]), grid, Messages("en"), credits="", version="0")
        return sorted(t.get_text() for t in fig.axes[0].texts)

    assert [t for t in texts(None) if t in {"1", "2", "3"}] == ["1", "2", "3"]
    assert [t for t in texts(2) if t in {"1", "2", "3"}] == ["1", "2"]


def test_unit_figures_name_the_units_once_and_patch_outlines_contrast_with_suitability(report_data):
    from habitat.report.build import ReportOptions, figure_specs, unit_figures
    from habitat.report.styles import VECTOR_SYMBOLS, raster_style

    messages = Messages("en")
    specs = [(name, spec) for name, spec in figure_specs(report_data, ReportOptions(), messages)
             if name == "suitability"]
    assert specs
    zoomed = unit_figures(specs, report_data, messages)
    assert zoomed
    for _, spec in zoomed:
        fig = draw_map(spec, report_data.grid, messages, credits="", version="0")
        labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        assert labels.count("Reporting units") == 1 and "Reporting unit" not in labels
    # without a reporting-units layer the bold outline keeps its own entry
    _, spec = zoomed[0]
    bare = draw_map(MapFigure("t", [], [], outline=spec.outline), report_data.grid, messages, credits="", version="0")
    assert "Reporting unit" in [t.get_text() for legend in bare.legends for t in legend.get_texts()]
    # the patch edge is far (in RGB) from every colour of the suitability ramp it is drawn over
    from matplotlib.colors import to_rgb

    edge = np.array(to_rgb(VECTOR_SYMBOLS["patches"][2]))
    ramp = raster_style("suitability", np.linspace(0, 1, 5)).colours
    assert min(np.abs(edge - np.array(to_rgb(c))).sum() for c in ramp) > 0.6
