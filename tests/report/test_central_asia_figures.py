"""The Central Asia figures as printed (issue 18): 300 dpi, labels that overprint nothing, units on
every colour bar, readable ticks.

Runs pipelines/central_asia.yaml once (5 km grid, report included, about 25 s), then checks the
written PNGs and redraws the same figures to measure every label with the renderer.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from habitat.report.build import figure_specs
from habitat.report.figures import LABEL_GID, draw_map, label_box
from habitat.report.i18n import Messages
from habitat.stages.report import load_report_data, report_options
from habitat.stages.runner import run_pipeline

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "pipelines" / "central_asia.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("central_asia_report") / "out"
    run_pipeline(PIPELINE, out)
    data = load_report_data(out)
    options = report_options(data.manifest)
    return out, data, options


@pytest.fixture(scope="module")
def figures(run):
    """The whole-area figures, drawn at the pipeline's dpi and laid out (labels placed)."""
    _, data, options = run
    m = Messages(options.language)
    drawn = {}
    for name, spec in figure_specs(data, options, m):
        fig = draw_map(spec, data.grid, m, credits="test", version="0")
        fig.set_dpi(options.dpi)
        fig.canvas.draw()
        drawn[name] = fig
    assert {"suitability", "connectivity", "sites"} <= set(drawn)
    return drawn


def test_png_figures_are_300_dpi_and_sized_by_their_content(run):
    out, _, options = run
    assert options.dpi == 300  # pipelines/central_asia.yaml report.dpi
    pngs = sorted((out / "report" / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"suitability", "connectivity", "sites"}
    for path in pngs:
        image = Image.open(io.BytesIO(path.read_bytes()))
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01), path.name
        assert image.size[0] >= 7 * 300, path.name  # at least 7 inches wide at print resolution


def test_no_label_overlaps_another_label_the_legend_or_a_colour_bar(figures):
    labelled = 0
    for name, fig in figures.items():
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        frame = ax.get_window_extent(renderer)
        boxes = [label_box(t, renderer) for t in ax.texts if t.get_gid() == LABEL_GID]
        labelled += len(boxes)
        others = [legend.get_window_extent(renderer) for legend in fig.legends]
        others += [cax.get_tightbbox(renderer) for cax in fig.axes[1:]]
        for i, box in enumerate(boxes):
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
            for other in boxes[i + 1:]:
                assert not box.overlaps(other), (name, box, other)
            for other in others:
                assert not box.overlaps(other), (name, box, other)
        # the legend column stays right of the map
        for other in others:
            assert other.x0 >= frame.x1, name
    assert labelled >= 15  # populations and the best sites are labelled, not all dropped


def test_every_colour_bar_has_units_and_ticks_that_do_not_touch(figures):
    bars = 0
    for name, fig in figures.items():
        renderer = fig.canvas.get_renderer()
        for cax in fig.axes[1:]:
            assert cax.get_gid() == "habitat-colourbar"
            bars += 1
            units = cax.get_xlabel()
            assert units and units != Messages("en")("units.none"), (name, cax.get_title())
            labels = [t for t in cax.get_xticklabels() if t.get_text()]
            assert len(labels) >= 3, (name, [t.get_text() for t in labels])
            extents = [t.get_window_extent(renderer) for t in labels]
            for left, right in zip(extents, extents[1:]):
                assert left.x1 < right.x0, (name, [t.get_text() for t in labels])
    # suitability, and suitability under the sites; corridors and pinch points get a bar only when
    # a pair of populations is within the dispersal limit (none on the Central Asia map, issue 13)
    assert bars >= 2
