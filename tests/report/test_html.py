import json

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
