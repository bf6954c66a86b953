import json
import re

import pandas as pd

from habitat.report.html import format_cell, script_json, table_html
from habitat.report.i18n import Messages

XSS = "<script>alert(1)</script>"


def test_script_json_cannot_close_the_script_and_round_trips():
    text = script_json({"name": XSS, "amp": "a&b", "sep": "x\u2028y"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"name": XSS, "amp": "a&b", "sep": "x\u2028y"}


def test_table_cells_are_escaped_and_formatted():
    frame = pd.DataFrame({"name": [XSS], "value": [1.234567], "missing": [float("nan")]})
    html = table_html(frame, Messages("en"))
    assert XSS not in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>1.235</td><td></td>" in html
    assert format_cell(3) == "3"


def test_long_tables_are_cut_with_a_note():
    html = table_html(pd.DataFrame({"a": range(250)}), Messages("en"), file_name="x.csv")
    assert html.count("<tr>") == 201 and "200 of 250 rows shown; the full table is x.csv." in html


def test_pipeline_description_is_shown_escaped():
    from habitat.report.html import Page, render_page
    from habitat.report.i18n import Messages

    page = Page(title="t", subtitle="s", map_data={"rasters": [], "vectors": []},
                description="5 km cells cannot show tugai strips <narrower> than a cell & more")
    html = render_page(page, Messages("en"))
    assert "5 km cells cannot show tugai strips &lt;narrower&gt; than a cell &amp; more" in html
    assert "sec-about" not in render_page(Page(title="t", subtitle="s", map_data={"rasters": [], "vectors": []}), Messages("en"))


def test_methods_are_sentences_with_parameter_tables_and_hashes_in_appendices():
    from habitat.grid import GridSpec
    from habitat.report.html import methods_html

    grid = GridSpec.from_bounds((0.0, 280_000.0, 3000.0, 282_400.0), "default", 100.0)
    manifest = {
        "habitat_version": "0.1.0", "grid": grid.to_dict(), "pipeline": {"name": "tiny"},
        "input_files": {"inputs.rivers.path": {"path": "rivers.gpkg", "sha256": "ab" * 32}},
        "stages": {
            "patches": {"version": "1", "params": {"threshold": 0.6, "min_patch_area_ha": 50.0},
                        "outputs": {"patch_id": {"path": "patches/patch_id.tif", "sha256": "cd" * 32}}},
            "ingest": {"version": "2", "params": {"floodplain_buffer_m": 3000.0, "classes": {
                "provenance": "DOMAIN.md 3.1 (tugai specialist); score values [A]", "tugai_forest": 1.0}}},
        },
    }
    html = methods_html(manifest, Messages("en"))
    text = re.sub(r"(<[^>]+>)+", "|", html)
    assert ("The analysis was run with habitat 0.1.0 (pipeline \u201ctiny\u201d) in these stages: Input preparation, "
            "Habitat patches.") in text  # in run order, not the manifest's alphabetical order
    assert ("Every layer was put on one analysis grid: Central Asia Albers Equal Area, 30 x 24 cells of 100 m "
            "(7 km\u00b2).") in text
    assert "|threshold|0.6|" in text and "|min_patch_area_ha|50|" in text
    assert "|classes|score values [A]|" in text and "|classes.tugai_forest|1|" in text
    assert ".md" not in html
    # hashes only in the appendices, after the parameters
    assert html.index("ab" * 32) > html.index("Appendix A. Input files") > html.index("Parameters of each stage")
    assert html.index("cd" * 32) > html.index("Appendix B")
    ru = methods_html(manifest, Messages("ru"))
    assert "Анализ выполнен программой habitat 0.1.0" in ru and "Подготовка входных данных" in ru
    assert "Приложение A" in ru and "Every layer" not in ru


def test_clean_references_keeps_sources_inside_the_project():
    from habitat.report.html import clean_references

    assert clean_references("InVEST Habitat Quality 3.20 semantics (METHODS.md 2); threats from DOMAIN.md 3.3/4.2") \
        == "InVEST Habitat Quality 3.20 semantics"
    assert clean_references("[A] as the defaults (config/suitability/defaults.yaml)") \
        == "[A] as the defaults (config/suitability/defaults.yaml)"
    assert clean_references("DOMAIN.md 8") == ""


def test_map_legends_of_ramps_carry_units():
    from habitat.report.html import legend_html
    from habitat.report.styles import RampStyle, change_style

    ramp = legend_html("Current", RampStyle(("#000000", "#ffffff"), 0.0, 2.5), Messages("en"), units="A <per> cell")
    assert "<div class='ramp-units'>A &lt;per&gt; cell</div>" in ramp and "<span>2.5</span>" in ramp
    assert "ramp-units" not in legend_html("Change", change_style(), Messages("en"))
