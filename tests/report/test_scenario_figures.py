"""Scenario figures: the changed cells are counted and the demo's synthetic stamp is printed."""

from __future__ import annotations

import numpy as np

from habitat.report import scenario_figures as sf


def _capture(monkeypatch):
    texts: list[list[str]] = []

    def fake_png(fig, dpi):
        texts.append([t.get_text() for t in fig.texts] + [ax.get_title() for ax in fig.axes])
        return b"png"

    monkeypatch.setattr(sf, "figure_png", fake_png)
    return texts


def test_changed_cells_are_counted_and_the_stamp_is_printed(monkeypatch, tmp_path):
    before = np.array([[1, 1], [2, 2]], dtype=float)
    after = np.array([[1, 5], [5, 2]], dtype=float)  # two cells become water (class 5)
    layers = {(tmp_path, "ingest", "habitat_class_current"): before,
              (tmp_path / "scenarios" / "dam", "ingest", "habitat_class_current"): after}
    monkeypatch.setattr(sf, "_layer", lambda out, stage, layer: layers.get((out, stage, layer)))
    texts = _capture(monkeypatch)
    assert sf.scenario_figure(tmp_path, "dam", stamp="SYNTHETIC DATA") == b"png"
    assert "SYNTHETIC DATA" in texts[0]
    assert "cells changed (habitat class): 2 cells" in texts[0]
    sf.scenario_figure(tmp_path, "dam")
    assert "SYNTHETIC DATA" not in texts[1]
