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


# -- the report folder as a cached step (issue 18) ---------------------------------------------
def _tiny_run(folder, report_params):
    import sys
    from pathlib import Path

    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import write_project

    pipeline = write_project(folder / "project")
    data = yaml.safe_load(pipeline.read_text())
    data["stages"].update({"suitability": {}, "patches": {"min_patch_area_ha": 1}, "report": report_params})
    pipeline.write_text(yaml.safe_dump(data))
    return pipeline


def _inodes(folder):
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_unchanged_rerun_keeps_the_report_and_the_language_survives_a_run(tmp_path):
    import yaml

    from habitat.stages.report import write_report
    from habitat.stages.runner import run_pipeline

    pipeline = _tiny_run(tmp_path, {"dpi": 50, "formats": ["png"], "per_unit_figures": False})
    out = tmp_path / "out"
    first = run_pipeline(pipeline, out)
    assert first.files and not first.files_unchanged
    report = out / "report"
    html = report / "report.html"
    assert '<html lang="en">' in html.read_text(encoding="utf-8")
    figures = _inodes(report / "figures")
    assert figures and (report / "report_state.json").exists()

    again = run_pipeline(pipeline, out)  # nothing changed: no figure is redrawn (same inode, same mtime)
    assert _inodes(report / "figures") == figures
    assert again.files_unchanged and sorted(again.files) == sorted(first.files)

    write_report(out, language="ru")  # habitat report OUT --language ru
    assert '<html lang="ru">' in html.read_text(encoding="utf-8")
    ru_figures = _inodes(report / "figures")
    assert ru_figures != figures
    run_pipeline(pipeline, out)  # the next run keeps Russian and does not redraw it
    assert '<html lang="ru">' in html.read_text(encoding="utf-8")
    assert _inodes(report / "figures") == ru_figures

    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["report"]["dpi"] = 55  # a changed setting redraws, still in Russian
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    assert '<html lang="ru">' in html.read_text(encoding="utf-8")
    assert _inodes(report / "figures") != ru_figures

    data["stages"]["report"]["language"] = "ru"  # the pipeline now says ru itself: the override ends
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    state = json.loads((report / "report_state.json").read_text())
    assert state["language_override"] is None
    data["stages"]["report"]["language"] = "en"
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    assert '<html lang="en">' in html.read_text(encoding="utf-8")


def test_a_deleted_or_changed_report_file_is_redrawn_and_styles_sit_beside_the_layers(tmp_path):
    from habitat.stages.report import write_report
    from habitat.stages.runner import run_pipeline

    pipeline = _tiny_run(tmp_path, {"dpi": 50, "formats": ["png"], "per_unit_figures": False})
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    figure = out / "report" / "figures" / "suitability.png"
    original = figure.read_bytes()
    figure.unlink()
    assert not write_report(out).unchanged
    assert figure.read_bytes() == original
    figure.write_bytes(b"not a png")
    write_report(out)
    assert figure.read_bytes() == original
    assert write_report(out).unchanged  # the CLI then says "report up to date", not "wrote N files"
    # QGIS loads name.qml beside name.tif / name.gpkg: the same style as report/styles/<id>.qml
    styles = out / "report" / "styles"
    assert (out / "suitability" / "suitability.qml").read_bytes() == (styles / "suitability.qml").read_bytes()
    assert (out / "ingest" / "populations.qml").read_bytes() == (styles / "populations.qml").read_bytes()
    assert (out / "patches" / "patch_id.qml").exists() and (out / "patches" / "patches.qml").exists()
    assert not list(out.glob("*/*.csv.qml")) and not (out / "patches" / "patch_table.qml").exists()


def test_unknown_language_writes_nothing(tmp_path):
    import pytest

    from habitat.errors import ConfigError
    from habitat.stages.report import write_report
    from habitat.stages.runner import run_pipeline

    pipeline = _tiny_run(tmp_path, {"dpi": 50, "formats": ["png"], "per_unit_figures": False})
    out = tmp_path / "out"
    run_pipeline(pipeline, out)
    before = _inodes(out / "report")
    with pytest.raises(ConfigError, match="language"):
        write_report(out, language="fr")
    assert _inodes(out / "report") == before


def _ranked_sites(n):
    import pandas as pd

    return pd.DataFrame({
        "site_id": [f"C{i}" for i in range(1, n + 1)], "rank": list(range(1, n + 1)),
        "score": [1 - 0.1 * i for i in range(n)], "rank_p05": [1] * n, "rank_p95": [min(n, 4)] * n,
        "p_top_n": [0.9] * n, "explanation": [f"why {i}" for i in range(1, n + 1)],
        **{f"criterion_{k}": [0.5] * n for k in range(6)},
    })


def test_sites_table_shows_the_summary_first_and_every_column_behind_a_toggle(report_data):
    from habitat.report.build import _sites_html
    from habitat.report.i18n import Messages

    report_data.manifest["stages"]["sites"] = {"params": {"top_n": 3}}
    report_data.tables["site_ranking"] = _ranked_sites(5)
    html = _sites_html(report_data, Messages("en"))
    summary, hidden = html.split("<details>")
    head = re.findall(r"<th>(.*?)</th>", summary)
    assert head == ["Rank", "Site", "Score", "Robustness", "Why it ranks here"]
    assert "Top 3 in 90 % of weight draws; ranks 1-4 in 90 % of them." in summary
    assert "criterion_0" not in summary and "criterion_5" in hidden and "All 13 columns" in hidden
    # two sites, top 3: no "top 3 in 90 %" claim, the rank range and the number of sites instead
    report_data.tables["site_ranking"] = _ranked_sites(2)
    html = _sites_html(report_data, Messages("en"))
    assert "Top 3" not in html and "Ranks 1-2 in 90 % of weight draws (only 2 ranked sites)." in html


def test_synthetic_data_is_said_on_every_figure_and_table(report_data):
    from habitat.report.build import figure_specs
    from habitat.report.i18n import Messages

    report_data.tables["patch_table"] = report_data.tables["site_ranking"].copy()
    options = ReportOptions(synthetic_data=True, **FAST)
    m = Messages("en")
    specs = figure_specs(report_data, options, m)
    assert specs and all(spec.stamp == "SYNTHETIC DATA" and m("synthetic.note") in spec.notes for _, spec in specs)
    html = build_report(report_data, options)["report.html"].decode("utf-8")
    sites = html.split('id="sec-sites"')[1].split('id="sec-indicators"')[0]
    assert sites.index("class='synthetic'") < sites.index("<table")
    tables = html.split('id="sec-tables"')[1].split('id="sec-methods"')[0]
    assert tables.count("<table") == tables.count("class='synthetic'") == 1  # the patch table
    assert "Synthetic data: the inputs are invented" in html.split('id="sec-map"')[0]  # the page's header
    assert "Synthetic data: the inputs are invented" in html.split('id="sec-methods"')[1]
    plain = build_report(report_data, ReportOptions(**FAST))["report.html"].decode("utf-8")
    assert "synthetic" not in plain.lower().replace("synthetic {", "")


def test_change_note_names_the_classes_the_indicators_count(report_data):
    from habitat.report.build import change_habitat_note
    from habitat.report.i18n import Messages

    m = Messages("en")
    # no indicators stage: the report's own classes, by default the same list as the indicators'
    assert change_habitat_note(report_data, ReportOptions(), m) == (
        "Habitat = Tugai forest, Tugai shrub, Reed and wetland (the classes the habitat indicators count).")
    report_data.rasters["habitat_change"] = np.zeros(report_data.grid.shape, np.uint8)
    report_data.manifest["stages"]["indicators"] = {"params": {"habitat_source": "landcover",
                                                               "habitat_classes": ["tugai_forest"]}}
    assert change_habitat_note(report_data, ReportOptions(), m).startswith("Habitat = Tugai forest (")
    report_data.manifest["stages"]["indicators"]["params"] = {"habitat_source": "tugai_cover",
                                                              "tugai_cover_threshold": 0.4}
    assert "tugai polygon cover of at least 0.4" in change_habitat_note(report_data, ReportOptions(), m)


def test_colour_bars_carry_the_declared_units(report_data):
    from habitat.report.build import figure_specs
    from habitat.report.figures import draw_map
    from habitat.report.i18n import Messages

    m = Messages("ru")
    report_data.units["suitability"] = "score 0-1"
    spec = dict(figure_specs(report_data, ReportOptions(language="ru", **FAST), m))["suitability"]
    fig = draw_map(spec, report_data.grid, m, credits="", version="0")
    assert [ax.get_xlabel() for ax in fig.axes[1:]] == ["балл (0–1, безразмерный)"]
    del report_data.units["suitability"]
    spec = dict(figure_specs(report_data, ReportOptions(**FAST), Messages("en")))["suitability"]
    fig = draw_map(spec, report_data.grid, Messages("en"), credits="", version="0")
    assert [ax.get_xlabel() for ax in fig.axes[1:]] == ["units not declared"]


def test_the_site_explanations_follow_the_report_language(make_report_data):
    from habitat.report.build import _sites_html
    from habitat.report.i18n import Messages

    from habitat.report.build import SITE_TABLE_IDS

    data = make_report_data()
    texts = {"explanation": "Site C1 ranks first.", "explanation_ru": "Участок C1 первый."}
    for table_id in SITE_TABLE_IDS:
        if table_id in data.tables:
            data.tables[table_id] = data.tables[table_id].assign(**texts)
    data.vectors["sites"] = data.vectors["sites"].assign(**texts)
    ru = _sites_html(data, Messages("ru"))
    en = _sites_html(data, Messages("en"))
    summary = lambda html: html.split("<details")[0]  # noqa: E731 - the table before the all-columns toggle
    assert "Участок C1 первый." in summary(ru) and "Site C1 ranks first." not in summary(ru)
    assert "Site C1 ranks first." in summary(en) and "Участок C1 первый." not in summary(en)
