import json
import re

import numpy as np
from numpy.testing import assert_array_equal

from habitat.report.build import ReportOptions, build_report, change_layer

XSS = "<script>alert(1)</script>"
FAST = dict(dpi=40, formats=("png",))


def _payload(html: str) -> dict:
    match = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_change_layer_from_the_two_epochs(report_data):
    change = change_layer(report_data, ReportOptions())
    expected = np.zeros(report_data.grid.shape, np.uint8)
    expected[8:16, :] = 1
    expected[8:16, :10] = 2
    expected[4:6, 20:] = 3
    assert_array_equal(change, expected)
    report_data.rasters["habitat_change"] = np.full(report_data.grid.shape, 255, np.uint8)
    assert_array_equal(change_layer(report_data, ReportOptions()), report_data.rasters["habitat_change"])


def test_files_follow_the_layers_present(report_data):
    files = build_report(report_data, ReportOptions(**FAST))
    figures = sorted(k for k in files if k.startswith("figures/"))
    assert figures == [f"figures/{name}{suffix}.png" for name in ("change", "sites", "suitability")
                       for suffix in ("", "_AA", "_BB")]
    assert sorted(k for k in files if k.startswith("styles/")) == [
        f"styles/{i}.qml" for i in ("habitat_change", "habitat_class_baseline", "habitat_class_current",
                                    "populations", "reporting_units", "sites", "suitability")]
    del report_data.rasters["habitat_class_baseline"], report_data.vectors["sites"]
    files = build_report(report_data, ReportOptions(per_unit_figures=False, **FAST))
    assert sorted(k for k in files if k.startswith("figures/")) == ["figures/suitability.png"]


def test_html_is_self_contained_and_escapes_user_text(report_data):
    html = build_report(report_data, ReportOptions(**FAST))["report.html"].decode("utf-8")
    assert XSS not in html  # neither in tables, the methods section nor the embedded JSON
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)  # the page outside scripts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", markup)
    assert not re.search(r"url\((?!data:)", markup)  # every CSS url() is a data URI
    payload = _payload(html)
    assert [r["id"] for r in payload["rasters"]] == ["habitat_class_current", "suitability", "habitat_change"]
    assert all(r["url"].startswith("data:image/png;base64,") for r in payload["rasters"])
    pops = next(v for v in payload["vectors"] if v["id"] == "populations")
    assert pops["geojson"]["features"][0]["properties"]["site_name"] == XSS
    sites = next(v for v in payload["vectors"] if v["id"] == "sites")
    assert sites["explanation_field"] == "explanation"
    (south, west), (north, east) = payload["bounds"]
    assert 42 < south < north < 43 and 67.9 < west < east < 68.1


def test_language_and_reproducibility(report_data):
    en = build_report(report_data, ReportOptions(**FAST))
    assert en == build_report(report_data, ReportOptions(**FAST))
    ru = build_report(report_data, ReportOptions(language="ru", **FAST))["report.html"].decode("utf-8")
    assert '<html lang="ru">' in ru and "Отчёт о местообитаниях и коридорах" in ru
    assert "Interactive map" not in ru


def test_sites_as_outlines_are_drawn_and_mapped(report_data):
    sites = report_data.vectors["sites"]
    report_data.vectors["sites"] = sites.set_geometry(sites.geometry.buffer(150))
    files = build_report(report_data, ReportOptions(per_unit_figures=False, **FAST))
    assert "figures/sites.png" in files
    payload = _payload(files["report.html"].decode("utf-8"))
    sites_layer = next(v for v in payload["vectors"] if v["id"] == "sites")
    assert {f["geometry"]["type"] for f in sites_layer["geojson"]["features"]} == {"Polygon"}
    assert b"SimpleFill" in files["styles/sites.qml"]
