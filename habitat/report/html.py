"""The offline HTML report: one file with Leaflet, styles, images and data embedded.

Every piece of text from user data goes through :func:`html.escape` (server side) or
``textContent`` (in the page script); JSON embedded in ``<script>`` has ``<``, ``>`` and ``&``
escaped, so no data can close the script element.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from habitat.report.assets import LEAFLET_VERSION, leaflet_css, leaflet_js
from habitat.report.i18n import Messages
from habitat.report.styles import ClassStyle, RampStyle

MAX_TABLE_ROWS = 200


def script_json(data: object) -> str:
    """JSON that is safe inside a ``<script>`` element.

    Examples
    --------
    >>> script_json({"name": "</script><b>"})
    '{"name": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_cell(value: object) -> str:
    """A table cell as text: floats to 4 significant digits, missing values empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def table_html(frame: pd.DataFrame, messages: Messages, *, file_name: str = "", css_class: str = "data") -> str:
    """An escaped HTML table of at most MAX_TABLE_ROWS rows."""
    if frame is None or len(frame) == 0:
        return f"<p class='empty'>{esc(messages('table.empty'))}</p>"
    shown = frame.head(MAX_TABLE_ROWS)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    rows = "".join("<tr>" + "".join(f"<td>{esc(format_cell(v))}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False, name=None))
    note = ""
    if len(frame) > len(shown):
        note = f"<p class='note'>{esc(messages('table.more_rows', shown=len(shown), total=len(frame), file=file_name))}</p>"
    return f"<div class='scroll'><table class='{css_class}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{note}"


def details_html(summary: str, body_html: str) -> str:
    """``body_html`` behind a toggle: ``<details>`` opens and closes without any script."""
    return f"<details><summary>{esc(summary)}</summary>{body_html}</details>"


def legend_html(title: str, style: RampStyle | ClassStyle, messages: Messages, *,
                hidden_classes: tuple[int, ...] = (), units: str = "") -> str:
    """A map legend: a ramp with its end values and ``units``, or the list of classes."""
    if isinstance(style, RampStyle):
        gradient = ", ".join(style.colours)
        unit_line = f"<div class='ramp-units'>{esc(units)}</div>" if units else ""
        return (f"<div class='legend'><div class='legend-title'>{esc(title)}</div>"
                f"<div class='ramp' style='background: linear-gradient(to right, {gradient})'></div>"
                f"<div class='ramp-labels'><span>{style.low:.4g}</span><span>{style.high:.4g}</span></div>"
                f"{unit_line}</div>")
    items = "".join(f"<li><span class='swatch' style='background:{colour}'></span>{esc(messages(key))}</li>"
                    for code, colour, key in style.classes if code not in hidden_classes)
    return f"<div class='legend'><div class='legend-title'>{esc(title)}</div><ul>{items}</ul></div>"


@dataclass
class Page:
    """What the page shows; the builder in habitat.report.build fills it."""

    title: str
    subtitle: str
    map_data: dict
    description: str = ""  # the pipeline file's description: what the run can and cannot show
    legends: list[str] = field(default_factory=list)
    figures: list[tuple[str, str, list[str]]] = field(default_factory=list)  # title, png data URI, file names
    sites_html: str = ""
    indicators_html: str = ""
    tables: list[tuple[str, str]] = field(default_factory=list)  # title, table html
    methods_html: str = ""


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0; color: #222; background: #fff; }
header { background: #17432b; color: #fff; padding: 12px 24px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; font-size: 13px; opacity: 0.9; }
nav { padding: 6px 24px; background: #e8efe9; font-size: 13px; }
nav a { margin-right: 16px; color: #17432b; }
main { padding: 0 24px 24px 24px; max-width: 1400px; }
section { margin-top: 20px; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; font-size: 18px; }
.leaflet-image-layer { image-rendering: pixelated; }
#map { height: 620px; border: 1px solid #999; background: #dfe6e9; }
.legends { display: flex; flex-wrap: wrap; gap: 16px; margin-top: 8px; font-size: 12px; }
.legend ul { list-style: none; padding: 0; margin: 4px 0; }
.legend-title { font-weight: bold; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 6px; border: 1px solid #777; }
.ramp { width: 180px; height: 12px; border: 1px solid #777; }
.ramp-labels { display: flex; justify-content: space-between; width: 182px; }
.ramp-units { font-size: 11px; color: #444; max-width: 182px; }
figure { margin: 12px 0 24px 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #444; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
table.data th, table.data td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
table.data th { background: #f0f0f0; }
pre { font-size: 11px; white-space: pre-wrap; max-width: 700px; margin: 0; }
.note, .empty { font-size: 12px; color: #555; }
.synthetic { font-size: 12px; color: #b2182b; font-weight: bold; }
details { margin: 6px 0; }
details > summary { cursor: pointer; color: #17432b; font-size: 13px; }
table.sites td:last-child { min-width: 420px; }
.popup-title { font-weight: bold; margin-bottom: 4px; }
.popup-table td { padding: 0 6px 0 0; font-size: 12px; vertical-align: top; }
.popup-explanation { margin-top: 6px; font-size: 12px; max-width: 320px; }
"""

# The page script builds popups with textContent only, never innerHTML, so attribute values
# from user data stay text.
_APP_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var map = L.map("map", { zoomSnap: 0.25 });
  var overlays = {};
  var layers = {};
  function popup(props, spec) {
    var box = document.createElement("div");
    var title = document.createElement("div");
    title.className = "popup-title";
    title.textContent = spec.label + (spec.title_field && props[spec.title_field] != null ? ": " + props[spec.title_field] : "");
    box.appendChild(title);
    var table = document.createElement("table");
    table.className = "popup-table";
    Object.keys(props).forEach(function (key) {
      if (key === spec.explanation_field) { return; }
      var tr = document.createElement("tr");
      var k = document.createElement("td");
      var v = document.createElement("td");
      k.textContent = key;
      v.textContent = props[key] == null ? "" : String(props[key]);
      tr.appendChild(k); tr.appendChild(v); table.appendChild(tr);
    });
    box.appendChild(table);
    if (spec.explanation_field && props[spec.explanation_field]) {
      var head = document.createElement("div");
      head.className = "popup-title";
      head.textContent = data.messages.explanation;
      var p = document.createElement("div");
      p.className = "popup-explanation";
      p.textContent = String(props[spec.explanation_field]);
      box.appendChild(head); box.appendChild(p);
    }
    return box;
  }
  data.rasters.forEach(function (spec) {
    var layer = L.imageOverlay(spec.url, spec.bounds, { opacity: spec.opacity, interactive: false,
                                                        className: "hab-raster hab-" + spec.id });
    overlays[spec.label] = layer; layers[spec.id] = layer;
    if (spec.visible) { layer.addTo(map); }
  });
  data.vectors.forEach(function (spec) {
    var s = spec.style;
    var layer = L.geoJSON(spec.geojson, {
      style: function () {
        return { color: s.edge, weight: s.weight, fill: !!s.fill, fillColor: s.fill || s.edge,
                 fillOpacity: s.fill ? 0.6 : 0, className: "hab-" + spec.id };
      },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { radius: s.radius, color: s.edge, weight: s.weight, fillColor: s.fill,
                                        fillOpacity: 0.9, className: "hab-" + spec.id });
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return popup(feature.properties || {}, spec); });
      }
    });
    overlays[spec.label] = layer; layers[spec.id] = layer;
    if (spec.visible) { layer.addTo(map); }
  });
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(data.bounds);
  window.habitatReport = { map: map, layers: layers };
  document.body.setAttribute("data-ready", "1");
})();
"""


def render_page(page: Page, messages: Messages) -> str:
    """The whole report as one HTML string."""
    m = messages
    nav = "".join(f"<a href='#{anchor}'>{esc(m(key))}</a>" for anchor, key in (
        ("sec-map", "section.map"), ("sec-figures", "section.figures"), ("sec-sites", "section.sites"),
        ("sec-indicators", "section.indicators"), ("sec-tables", "section.tables"), ("sec-methods", "section.methods")))
    figures = "".join(
        f"<figure><img alt='{esc(title)}' src='{uri}'><figcaption>{esc(title)}. "
        f"{esc(m('figure.files', files=', '.join(files)))}</figcaption></figure>"
        for title, uri, files in page.figures) or f"<p class='empty'>{esc(m('figure.none'))}</p>"
    tables = "".join(f"<h3>{esc(title)}</h3>{body}" for title, body in page.tables)
    no_layers = "" if page.map_data["rasters"] or page.map_data["vectors"] else f"<p class='empty'>{esc(m('map.no_layers'))}</p>"
    return f"""<!DOCTYPE html>
<html lang="{esc(m.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{esc(page.title)}</title>
<style>{leaflet_css()}</style>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{esc(page.title)}</h1><p>{esc(page.subtitle)}</p><p>{esc(m('report.offline_note'))}</p></header>
<nav>{nav}</nav>
<main>
{f'<section id="sec-about"><p class="about">{esc(page.description)}</p></section>' if page.description else ''}
<section id="sec-map"><h2>{esc(m('section.map'))}</h2>
<p class="note">{esc(m('map.layers_hint'))} {esc(m('map.background'))}</p>{no_layers}
<div id="map"></div>
<div class="legends">{''.join(page.legends)}</div>
</section>
<section id="sec-figures"><h2>{esc(m('section.figures'))}</h2>{figures}</section>
<section id="sec-sites"><h2>{esc(m('section.sites'))}</h2>{page.sites_html}</section>
<section id="sec-indicators"><h2>{esc(m('section.indicators'))}</h2>{page.indicators_html}</section>
<section id="sec-tables"><h2>{esc(m('section.tables'))}</h2>{tables}</section>
<section id="sec-methods"><h2>{esc(m('section.methods'))}</h2>{page.methods_html}</section>
</main>
<script>/* Leaflet {LEAFLET_VERSION}, BSD-2-Clause, (c) 2010-2023 Vladimir Agafonkin, (c) 2010-2011 CloudMade */
{leaflet_js()}</script>
<script id="report-data" type="application/json">{script_json(page.map_data)}</script>
<script>{_APP_JS}</script>
</body>
</html>
"""


#: Design documents of the developers that are not shipped with the project; a report must not
#: send its reader to them.
_DOC_REF = r"(?:DOMAIN|METHODS|ARCHITECTURE|STYLE|PEERS)\.md(?:\s+\d+(?:\.\d+)*(?:\s*(?:/|,|and)\s*\d+(?:\.\d+)*)*)?"


def clean_references(text: str) -> str:
    """``text`` without references to the developers' design notes (files outside the project).

    A parenthesis that holds only such a reference goes, a leading "DOMAIN.md 3.1: " goes, a
    trailing "of DOMAIN.md 2.3" goes when at least four words of its clause are left, and a
    clause ("; "-separated) that still cites one goes.

    Examples
    --------
    >>> clean_references("[A] deer drink daily (DOMAIN.md 3); exact distance unknown")
    '[A] deer drink daily; exact distance unknown'
    >>> clean_references("DOMAIN.md 3.1 (tugai specialist) and 7.7 (class list); score values [A]")
    'score values [A]'
    >>> clean_references("DOMAIN.md 3.1: water bodies drive distribution (BIO Web Conf. 190, 2025)")
    'water bodies drive distribution (BIO Web Conf. 190, 2025)'
    >>> clean_references("towns and the population sites of DOMAIN.md 2.3. More text.")
    'towns and the population sites. More text.'
    """
    import re

    text = re.sub(rf"\s*\((?:see\s+)?{_DOC_REF}\)", "", str(text))
    text = re.sub(rf"(?:(?<=^)|(?<=[;.]\s)){_DOC_REF}\s*:\s*", "", text)
    kept = []
    for clause in (c.strip() for c in text.split(";")):
        if re.search(_DOC_REF, clause):
            # "... sites of DOMAIN.md 2.3." keeps its sentence when enough of it is left
            shorter = re.sub(rf"\s+(?:of|in|from|see)\s+{_DOC_REF}(?=[.;,)]|$)", "", clause)
            clause = shorter if len(shorter.split()) >= 4 and not re.search(_DOC_REF, shorter) else ""
        if clause:
            kept.append(clause)
    return "; ".join(kept)


def _value_text(value: object, messages: Messages) -> str:
    if value is None:
        return messages("methods.none")
    if isinstance(value, bool):
        return messages("methods.yes" if value else "methods.no")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_value_text(v, messages) for v in value) or messages("methods.none")
    return str(value)


def parameter_rows(params: Mapping, messages: Messages, prefix: str = "") -> list[tuple[str, str, str]]:
    """A stage's parameters as (name, value, source) rows: nested settings get dotted names,
    list items their ``name`` (or index), a ``provenance`` entry becomes the source of its group.

    Examples
    --------
    >>> parameter_rows({"b": 2.0, "a": {"x": [1, 2], "provenance": "[A]"}}, Messages("en"))
    [('a', '', '[A]'), ('a.x', '1, 2', ''), ('b', '2', '')]
    """
    rows: list[tuple[str, str, str]] = []
    for key in sorted(params):
        if key == "provenance":
            continue
        value, name = params[key], f"{prefix}{key}"
        items = None
        if isinstance(value, dict) and value:
            items = [(name, value)]
        elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
            items = [(f"{name}[{v.get('name', i) if isinstance(v, dict) else i}]", v) for i, v in enumerate(value)]
        if items is None:
            rows.append((name, _value_text(value if value != {} else None, messages), ""))
            continue
        for item_name, item in items:
            if not isinstance(item, dict):
                rows.append((item_name, _value_text(item, messages), ""))
                continue
            source = clean_references(item.get("provenance", "")) if isinstance(item.get("provenance"), str) else ""
            if source:
                rows.append((item_name, "", source))
            rows += parameter_rows(item, messages, prefix=f"{item_name}.")
    if isinstance(params.get("provenance"), str) and not prefix:
        rows.insert(0, ("provenance", "", clean_references(params["provenance"])))
    return rows


#: The order the stages run in (habitat.stages.registry), for the methods text; others follow.
STAGE_ORDER = ("ingest", "presence", "suitability", "patches", "resistance", "connectivity", "indicators", "circuit",
               "sites", "report")


def methods_html(manifest: Mapping, messages: Messages, *, synthetic_data: bool = False) -> str:
    """The methods in sentences a report author can paste, each stage's parameters as a table,
    and the content hashes in appendices; every text escaped.
    """
    m = messages
    recorded = manifest.get("stages", {})
    order = {stage_id: i for i, stage_id in enumerate(STAGE_ORDER)}
    stages = {k: recorded[k] for k in sorted(recorded, key=lambda k: (order.get(k, len(order)), k))}
    names = [m.stage(stage_id) for stage_id in stages]
    version = manifest.get("habitat_version", "")
    pipeline = manifest.get("pipeline", {}).get("name", "")
    sentences = [m("methods.run", version=version, name=pipeline, stages=", ".join(names))]
    grid = manifest.get("grid", {})
    if grid:
        from habitat.grid import GridSpec

        from habitat.io.vectors import named_crs

        spec = GridSpec.from_json(grid)
        unit = "°" if spec.is_geographic else m("methods.metres")
        area = float(np.sum(spec.cell_area_m2())) / 1e6 if not spec.is_geographic else float("nan")
        sentences.append(m("methods.grid", crs=named_crs(spec.pyproj_crs).name, width=spec.width, height=spec.height,
                           resolution=f"{spec.resolution:g}", unit=unit, area=f"{area:,.0f}".replace(",", " ")))
    stage_text = [m(f"methods.stage.{stage_id}") for stage_id in stages if m.has(f"methods.stage.{stage_id}")]
    files = manifest.get("input_files", {})
    closing = [m("methods.inputs", n=len(files))] if files else []
    if synthetic_data:
        closing.append(m("synthetic.note"))
    parts = [f"<p>{esc(' '.join(sentences))}</p>"]
    if stage_text:
        parts.append(f"<p>{esc(' '.join(stage_text))}</p>")
    parts.append(f"<p>{esc(' '.join([*closing, m('methods.software')]))}</p>")

    parts.append(f"<h3>{esc(m('methods.parameters'))}</h3>")
    for stage_id, record in stages.items():
        rows = parameter_rows(record.get("params", {}), m)
        if not rows:
            continue
        frame = pd.DataFrame(rows, columns=[m("table.parameter"), m("table.value"), m("table.source")])
        if not frame[m("table.source")].any():
            frame = frame.drop(columns=m("table.source"))
        parts.append(f"<h4>{esc(m.stage(stage_id))}</h4>{table_html(frame, m, css_class='data params')}")

    if files:
        rows = pd.DataFrame([(k, v.get("path", ""), v.get("sha256", "")) for k, v in sorted(files.items())],
                            columns=[m("table.key"), m("table.file"), m("table.sha256")])
        parts.append(f"<h3>{esc(m('methods.appendix_inputs'))}</h3>{table_html(rows, m)}")
    out_rows = [(m.stage(stage_id), record.get("version", ""), info.get("path", layer), info.get("sha256", ""))
                for stage_id, record in stages.items() for layer, info in sorted(record.get("outputs", {}).items())]
    if out_rows:
        frame = pd.DataFrame(out_rows, columns=[m("table.stage"), m("table.version"), m("table.file"), m("table.sha256")])
        parts.append(f"<h3>{esc(m('methods.appendix_outputs'))}</h3><p class='note'>{esc(m('methods.appendix_note'))}</p>"
                     + details_html(m("methods.appendix_toggle", n=len(out_rows)), table_html(frame, m)))
    return "".join(parts)
