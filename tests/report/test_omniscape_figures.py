"""The Omniscape figure and table of the report."""

import numpy as np
import pandas as pd

from habitat.report.build import ReportOptions, build_report
from habitat.report.i18n import Messages
from habitat.report.omniscape_figures import NORMALIZED_STYLE, figure_specs, tables


def _with_omniscape(data):
    norm = np.tile(np.linspace(0.0, 2.5, data.grid.shape[1]), (data.grid.shape[0], 1))
    norm[0, 0] = np.nan
    data.rasters["normalized_current"] = norm
    data.tables["omniscape_summary"] = pd.DataFrame(
        {"unit_id": ["ALL", "AA"], "unit_name": ["study area", "<b>West</b>"], "area_ha": [720.0, 360.0],
         "channelized_share": [0.25, 0.5]})
    data.files["omniscape_summary"] = "omniscape/summary.csv"
    data.manifest["stages"]["omniscape"] = {"params": {"impeded_below": 0.7, "channelized_above": 1.5,
                                                       "radius_m": 2500, "block_size": 5}}
    return data


def test_no_layer_no_figure_or_table(report_data):
    data = report_data
    assert figure_specs(data, Messages("en")) == [] and tables(data, Messages("en")) == []


def test_figure_uses_the_fixed_diverging_ramp_and_the_run_cut_offs(report_data):
    data = _with_omniscape(report_data)
    [(name, spec)] = figure_specs(data, Messages("en"))
    assert name == "normalized_current"
    layer = spec.rasters[0]
    assert layer.style == NORMALIZED_STYLE and (layer.style.low, layer.style.high) == (0.0, 2.0)
    np.testing.assert_array_equal(layer.values, data.rasters["normalized_current"])
    classes = np.ones(data.grid.shape, np.uint8)
    classes[:, :3] = 0  # not assessed: blank, not impeded
    data.rasters["flow_class"] = classes
    shown = figure_specs(data, Messages("en"))[0][1].rasters[0].values
    np.testing.assert_array_equal(shown, np.where(classes == 0, np.nan, data.rasters["normalized_current"]))
    assert spec.notes == ("< 0.7 impeded, 0.7-1.5 diffuse, > 1.5 channelized (Omniscape.jl documentation; "
                          "McRae et al. 2016); window radius 2500 m, block size 5; blank: no window reaches the cell",)
    assert "Нормированный ток" in figure_specs(data, Messages("ru"))[0][1].title


def test_report_shows_the_figure_and_the_escaped_table(report_data):
    data = _with_omniscape(report_data)
    files = build_report(data, ReportOptions(dpi=50, formats=("png",), per_unit_figures=False))
    assert "figures/normalized_current.png" in files
    page = files["report.html"].decode("utf-8")
    assert "Omniscape flow classes per Range State" in page
    assert "&lt;b&gt;West&lt;/b&gt;" in page and "<b>West</b>" not in page
