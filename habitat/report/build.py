"""Assemble the report: figures, QGIS styles and the HTML page, as bytes by relative path.

Pure: layers, tables and the manifest in; ``{"report.html": bytes, "figures/x.png": bytes, ...}``
out. Every layer is optional; the report shows what is there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

import habitat
from habitat.grid import GridSpec
from habitat.indicators.change import change_map
from habitat.io.atomic import write_bytes_atomic
from habitat.params import ReportParams
from habitat.report import html as page_html
from habitat.report import omniscape_figures
from habitat.report.figures import MapFigure, RasterLayer, VectorLayer, draw_map, figure_pdf, figure_png
from habitat.report.i18n import Messages
from habitat.report.overlay import data_uri, raster_overlay, to_geojson
from habitat.report.scenario_figures import comparison_table, scenario_figures
from habitat.report.qml import raster_qml, vector_qml
from habitat.report.styles import RampStyle, change_style, raster_style, vector_symbol
from habitat.vocabulary import DEER_HABITAT_CLASSES, HABITAT_CLASSES

#: Ids the report looks for, by role; the first id present wins.
CURRENT_IDS = ("cumulative_current", "current", "current_density")
SITE_VECTOR_IDS = ("sites", "candidate_sites", "ranked_sites")
SITE_TABLE_IDS = ("site_ranking", "sites_ranked", "ranking")
SENSITIVITY_IDS = ("site_sensitivity", "sensitivity")
INDICATOR_IDS = ("indicators_wide", "indicators")
#: Raster overlays of the interactive map, in drawing order (first is at the bottom).
MAP_RASTERS = ("habitat_class_current", "suitability", "resistance", "corridors", *CURRENT_IDS, "pinch_points",
               "habitat_change")
MAP_VISIBLE = ("suitability",)
#: Vector layers of the map, in drawing order.
MAP_VECTORS = ("historical_range", "reporting_units", "patches", "least_cost_paths", "populations", *SITE_VECTOR_IDS)
LABEL_FIELDS = {"populations": "site_name", "reporting_units": "unit_name", "sites": "rank",
                "candidate_sites": "rank", "ranked_sites": "rank", "patches": "patch_id"}
EXPLANATION_FIELDS = ("explanation", "why", "explain")
#: Figures label at most this many sites (the best ranked); the map popups carry every one.
MAX_SITE_LABELS = 20
#: Tables listed in the Tables section when present.
EXTRA_TABLES = ("evaluation", "patch_table", "links", "effective_resistance", "graph_indices", "patch_importance",
                "population_status", "national_report")


@dataclass(frozen=True)
class ReportOptions:
    """Report settings (the report stage's parameters)."""

    language: str = "en"
    dpi: int = 300
    formats: tuple[str, ...] = ("png", "pdf")
    per_unit_figures: bool = True
    credits: str = ""
    change_classes: tuple[str, ...] = DEER_HABITAT_CLASSES
    max_overlay_px: int = 1024
    #: the inputs are synthetic: every figure carries a stamp and every table a note
    synthetic_data: bool = False
    #: the run's description in the report language (None: the pipeline's description)
    description: str | None = None

    @classmethod
    def from_params(cls, params: ReportParams, *, language: str | None = None) -> ReportOptions:
        """The options of the report stage's parameters, in ``language`` (default: the params')."""
        language = language or params.language
        return cls(language=language, dpi=params.dpi, formats=tuple(params.formats),
                   per_unit_figures=params.per_unit_figures, credits=params.credits,
                   change_classes=tuple(params.change_classes), max_overlay_px=params.max_overlay_px,
                   synthetic_data=params.synthetic_data, description=params.descriptions.get(language))


@dataclass
class ReportData:
    """What an output folder holds: rasters (values on ``grid``), vectors (grid CRS), tables,
    the manifest, and the epoch years of the habitat class rasters when known."""

    grid: GridSpec
    rasters: dict[str, np.ndarray] = field(default_factory=dict)
    vectors: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    years: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # layer id -> path in the output folder
    units: dict[str, str] = field(default_factory=dict)  # layer id -> units its stage declares
    out_dir: Path | None = None  # the output folder (scenario runs under out_dir/scenarios)


def _first(ids: Sequence[str], present: Mapping) -> str | None:
    return next((i for i in ids if i in present), None)


def explanation_field(columns, language: str) -> str | None:
    """The column with the site explanations in the report's language (``explanation_<language>``,
    written by the sites stage), else the first of EXPLANATION_FIELDS."""
    translated = f"explanation_{language}"
    return translated if translated in columns else _first(EXPLANATION_FIELDS, columns)


def _slug(text: object) -> str:
    """A file-name-safe version of a unit id.

    Examples
    --------
    >>> _slug("Uzbekistan / Bukhara"), _slug("<script>")
    ('Uzbekistan_Bukhara', 'script')
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "unit"


def change_layer(data: ReportData, options: ReportOptions) -> np.ndarray | None:
    """Change codes (0 never, 1 stable, 2 lost, 3 gained, 255 no data): the indicators stage's
    ``habitat_change`` if present, otherwise from the two habitat class epochs.

    Notes
    -----
    Habitat at an epoch is ``class in change_classes``; cells with class 0 (no data) at either
    epoch are 255, as in :func:`habitat.indicators.change.change_map`.
    """
    if "habitat_change" in data.rasters:
        return np.asarray(data.rasters["habitat_change"])
    if "habitat_class_baseline" in data.rasters and "habitat_class_current" in data.rasters:
        codes = [HABITAT_CLASSES.index(name) + 1 for name in options.change_classes]
        before, after = data.rasters["habitat_class_baseline"], data.rasters["habitat_class_current"]
        return change_map(np.isin(before, codes), np.isin(after, codes), valid=(before > 0) & (after > 0))
    return None


def _vector(data: ReportData, layer_id: str, messages: Messages) -> VectorLayer | None:
    frame = data.vectors.get(layer_id)
    if frame is None or len(frame) == 0:
        return None
    geom_type = str(frame.geometry.geom_type.dropna().iloc[0]) if frame.geometry.notna().any() else "Polygon"
    label = LABEL_FIELDS.get(layer_id)
    if layer_id in ("patches", "reporting_units", "historical_range"):
        label = None  # labels of every polygon clutter the figure; the map popups carry them
    max_labels = None
    if layer_id in SITE_VECTOR_IDS and "rank" in frame.columns:
        frame = frame.sort_values("rank", kind="stable")
        max_labels = MAX_SITE_LABELS
    return VectorLayer(frame, vector_symbol(layer_id, geom_type), messages.layer(layer_id),
                       label if label in frame.columns else None, max_labels)


def _path_layers(data: ReportData, m: Messages) -> tuple[list[VectorLayer], tuple[str, ...]]:
    """Least-cost paths split into connected and not connected (beyond the dispersal limit), and
    the note stating the limit."""
    frame = data.vectors.get("least_cost_paths")
    if frame is None or len(frame) == 0 or "connected" not in frame.columns:
        layer = _vector(data, "least_cost_paths", m)
        return ([layer] if layer is not None else []), ()
    ok = frame["connected"].astype(str).str.lower().isin(("true", "1"))
    layers = []
    for layer_id, part in (("least_cost_paths_unconnected", frame[~ok]), ("least_cost_paths", frame[ok])):
        if len(part):
            layers.append(VectorLayer(part, vector_symbol(layer_id, "LineString"), m.layer(layer_id)))
    limit = data.manifest.get("stages", {}).get("connectivity", {}).get("params", {}).get("max_dispersal_m")
    cost = pd.to_numeric(frame.get("max_cost"), errors="coerce") if "max_cost" in frame.columns else None
    notes: tuple[str, ...] = ()
    if limit is not None and cost is not None and cost.notna().any():
        notes = (m("figure.dispersal_limit", km=f"{float(limit) / 1000:g}", cost=f"{float(cost.iloc[0]):.3g}",
                   connected=int(ok.sum()), pairs=len(frame)),)
    return layers, notes


def figure_specs(data: ReportData, options: ReportOptions, messages: Messages) -> list[tuple[str, MapFigure]]:
    """The whole-area figures (name, spec) the data allows."""
    specs: list[tuple[str, MapFigure]] = []
    m = messages

    def vectors(*ids: str) -> list[VectorLayer]:
        return [v for v in (_vector(data, i, m) for i in ids) if v is not None]

    def raster(layer_id: str, *, alpha: float = 1.0, values: np.ndarray | None = None) -> RasterLayer:
        values = data.rasters[layer_id] if values is None else values
        return RasterLayer(values, raster_style(layer_id, values), m.layer(layer_id), alpha=alpha,
                           units=unit_label(data.units.get(layer_id, ""), m))

    if "suitability" in data.rasters:
        specs.append(("suitability", MapFigure(m("figure.suitability"), [raster("suitability")],
                                               vectors("reporting_units", "patches", "populations"))))
    current = _first(CURRENT_IDS, data.rasters)
    if any(i in data.rasters for i in ("corridors", "pinch_points")) or current or "least_cost_paths" in data.vectors:
        rasters = []
        if "corridors" in data.rasters and np.isfinite(data.rasters["corridors"]).any():
            rasters.append(raster("corridors"))  # empty when no pair is within the dispersal limit
        strength_id = "pinch_points" if "pinch_points" in data.rasters else current
        if strength_id and np.isfinite(np.asarray(data.rasters[strength_id], dtype=np.float64)).any():
            values = np.asarray(data.rasters[strength_id], dtype=np.float64)
            style = raster_style(strength_id, values)
            # only the strongest cells, so the corridors beneath stay visible
            shown = np.where(values >= style.low + 0.5 * (style.high - style.low), values, np.nan)
            rasters.append(RasterLayer(shown, style, m("figure.upper_half", layer=m.layer(strength_id)),
                                       units=unit_label(data.units.get(strength_id, ""), m)))
        paths, notes = _path_layers(data, m)
        specs.append(("connectivity", MapFigure(m("figure.connectivity"), rasters,
                                                [*vectors("reporting_units"), *paths, *vectors("populations")],
                                                notes=notes)))
    site_id = _first(SITE_VECTOR_IDS, data.vectors)
    if site_id:
        rasters = [raster("suitability", alpha=0.6)] if "suitability" in data.rasters else []
        specs.append(("sites", MapFigure(m("figure.sites"), rasters,
                                         vectors("historical_range", "reporting_units", "populations", site_id))))
    change = change_layer(data, options)
    if change is not None:
        years = (data.years.get("habitat_class_baseline", "t1"), data.years.get("habitat_class_current", "t2"))
        specs.append(("change", MapFigure(
            m("figure.change", year1=years[0], year2=years[1]),
            [RasterLayer(change, change_style(), m.layer("change"))], vectors("reporting_units", "populations"),
            notes=(change_habitat_note(data, options, m),))))
    if options.synthetic_data:
        specs = [(name, replace(spec, stamp=m("synthetic.stamp"), notes=(*spec.notes, m("synthetic.note"))))
                 for name, spec in specs]
    return specs


def unit_label(units: str, messages: Messages) -> str:
    """The units a stage declares, as the report words them (``unit.<units>`` in the catalogue),
    or as declared when the catalogue has no wording for them.

    Examples
    --------
    >>> m = Messages("en")
    >>> unit_label("resistance x m", m), unit_label("kg", m), unit_label("", m)
    ('cost units (resistance x metres)', 'kg', '')
    """
    if not units:
        return ""
    key = f"unit.{units}"
    return messages(key) if messages.has(key) else units


def change_habitat_note(data: ReportData, options: ReportOptions, messages: Messages) -> str:
    """Which cells the loss/gain map counts as habitat, worded for its note.

    The indicators stage's rule when its ``habitat_change`` layer is drawn (the same cells as the
    habitat indicators), otherwise ``options.change_classes``.
    """
    params = data.manifest.get("stages", {}).get("indicators", {}).get("params", {})
    classes: Sequence[str] = options.change_classes
    if "habitat_change" in data.rasters and params:
        if params.get("habitat_source", "landcover") != "landcover":
            return messages("figure.change_habitat_cover", threshold=f"{params.get('tugai_cover_threshold', 0.5):g}")
        classes = params.get("habitat_classes", DEER_HABITAT_CLASSES)
    return messages("figure.change_habitat", classes=", ".join(messages(f"class.{c}") for c in classes))


def unit_figures(specs: list[tuple[str, MapFigure]], data: ReportData, messages: Messages) -> list[tuple[str, MapFigure]]:
    """The same figures zoomed to every reporting unit (``<name>_<unit id>``)."""
    units = data.vectors.get("reporting_units")
    if units is None or len(units) == 0:
        return []
    out = []
    id_col = "unit_id" if "unit_id" in units else units.columns[0]
    name_col = "unit_name" if "unit_name" in units else id_col
    for row in units.sort_values(id_col).itertuples(index=False):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        xmin, ymin, xmax, ymax = geom.bounds
        pad = 0.05 * max(xmax - xmin, ymax - ymin)
        extent = (xmin - pad, ymin - pad, xmax + pad, ymax + pad)
        for name, spec in specs:
            title = messages("figure.unit_suffix", title=spec.title, unit=getattr(row, name_col))
            out.append((f"{name}_{_slug(getattr(row, id_col))}",
                        replace(spec, title=title, extent=extent, outline=geom)))
    return out


def style_files(data: ReportData, messages: Messages, options: ReportOptions) -> dict[str, bytes]:
    """``styles/<layer id>.qml`` for every raster and vector in the data (and the change map)."""
    out: dict[str, bytes] = {}
    for layer_id, values in sorted(data.rasters.items()):
        out[f"styles/{layer_id}.qml"] = raster_qml(raster_style(layer_id, values), label=messages).encode("utf-8")
    if "habitat_change" not in data.rasters and change_layer(data, options) is not None:
        out["styles/habitat_change.qml"] = raster_qml(change_style(), label=messages).encode("utf-8")
    for layer_id, frame in sorted(data.vectors.items()):
        geom_type = str(frame.geometry.geom_type.dropna().iloc[0]) if frame.geometry.notna().any() else "Polygon"
        label = LABEL_FIELDS.get(layer_id)
        out[f"styles/{layer_id}.qml"] = vector_qml(vector_symbol(layer_id, geom_type),
                                                   label_field=label if label in frame.columns else None).encode("utf-8")
    return out


def map_data(data: ReportData, options: ReportOptions, messages: Messages) -> tuple[dict, list[str]]:
    """The JSON the page script reads (overlays, GeoJSON, bounds) and the legends' HTML."""
    m = messages
    rasters, legends = [], []
    change = change_layer(data, options)
    for layer_id in MAP_RASTERS:
        if layer_id == "habitat_change":
            values = change
        else:
            values = data.rasters.get(layer_id)
        if values is None:
            continue
        style = raster_style(layer_id, values)
        hidden = (0,) if layer_id == "habitat_change" else ()
        overlay = raster_overlay(values, data.grid, style, hidden_classes=hidden, max_size_px=options.max_overlay_px)
        label = m.layer("change" if layer_id == "habitat_change" else layer_id)
        rasters.append({"id": layer_id, "label": label, "opacity": 0.85, "visible": layer_id in MAP_VISIBLE, **overlay})
        legends.append(page_html.legend_html(label, style, m, hidden_classes=hidden,
                                             units=unit_label(data.units.get(layer_id, ""), m)
                                             or (m("units.none") if isinstance(style, RampStyle) else "")))
    vectors = []
    for layer_id in MAP_VECTORS:
        frame = data.vectors.get(layer_id)
        if frame is None or len(frame) == 0:
            continue
        geom_type = str(frame.geometry.geom_type.dropna().iloc[0]) if frame.geometry.notna().any() else "Polygon"
        geometry, fill, edge, width_pt, size_mm = vector_symbol(layer_id, geom_type)
        explanation = explanation_field(frame.columns, m.language)
        vectors.append({
            "id": layer_id, "label": m.layer(layer_id), "geojson": to_geojson(frame), "visible": True,
            "title_field": LABEL_FIELDS.get(layer_id) if LABEL_FIELDS.get(layer_id) in frame.columns else None,
            "explanation_field": explanation,
            "style": {"fill": fill, "edge": edge, "weight": width_pt * 1.5, "radius": size_mm * 2.2},
        })
    xmin, ymin, xmax, ymax = data.grid.bounds
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(data.grid.pyproj_crs.to_wkt(), "EPSG:4326", xmin, ymin, xmax, ymax,
                                                densify_pts=21)
    payload = {"bounds": [[south, west], [north, east]], "rasters": rasters, "vectors": vectors,
               "messages": {"explanation": m("popup.explanation")}}
    return payload, legends


def build_report(data: ReportData, options: ReportOptions = ReportOptions()) -> dict[str, bytes]:
    """Every file of the report by path relative to the report folder.

    Returns ``report.html``, ``figures/<name>.png|pdf`` (whole area, then per reporting unit) and
    ``styles/<layer id>.qml``.
    """
    m = Messages(options.language)
    version = data.manifest.get("habitat_version", habitat.__version__)
    credits = options.credits or m("credits.default")
    files: dict[str, bytes] = {}
    whole = figure_specs(data, options, m) + omniscape_figures.figure_specs(data, m)
    per_unit = unit_figures(whole, data, m) if options.per_unit_figures else []
    shown = []
    for index, (name, spec) in enumerate([*whole, *per_unit]):
        fig = draw_map(spec, data.grid, m, credits=credits, version=version)
        names = []
        if "png" in options.formats:
            png = figure_png(fig, dpi=options.dpi)
            files[f"figures/{name}.png"] = png
            names.append(f"figures/{name}.png")
        if "pdf" in options.formats:
            files[f"figures/{name}.pdf"] = figure_pdf(fig)
            names.append(f"figures/{name}.pdf")
        if index < len(whole):  # the HTML shows the whole-area figures
            preview = files.get(f"figures/{name}.png") or figure_png(fig, dpi=options.dpi)
            shown.append((spec.title, data_uri(preview), names))
    stamp = m("synthetic.stamp") if options.synthetic_data else ""
    for title, stem, png in scenario_figures(data.out_dir, dpi=min(options.dpi, 150), stamp=stamp):  # scenario maps
        files[f"figures/{stem}.png"] = png
        shown.append((title, data_uri(png), [f"figures/{stem}.png"]))
    files.update(style_files(data, m, options))

    payload, legends = map_data(data, options, m)
    pipeline = data.manifest.get("pipeline", {})
    description = options.description if options.description is not None else pipeline.get("description", "")
    page = page_html.Page(title=m("report.title"), subtitle=m("report.subtitle", name=pipeline.get("name", ""),
                                                                 version=version),
                          map_data=payload, legends=legends, figures=shown,
                          description=" ".join(filter(None, [m("synthetic.note") if options.synthetic_data else "",
                                                             page_html.clean_references(description)])))
    # the demo's tables each say they are synthetic, so no copied table loses the warning
    note = f"<p class='synthetic'>{page_html.esc(m('synthetic.table'))}</p>" if options.synthetic_data else ""
    page.sites_html = _sites_html(data, m, note=note)
    indicator_id = _first(INDICATOR_IDS, data.tables)
    page.indicators_html = (note + _habitat_note(data) + page_html.table_html(data.tables[indicator_id], m,
                                                        file_name=data.files.get(indicator_id, ""))
                            if indicator_id else f"<p class='empty'>{page_html.esc(m('indicators.none'))}</p>")
    page.tables = [(m.layer(t), note + (_evaluation_note(data, m) if t == "evaluation" else "")
                    + page_html.table_html(data.tables[t], m, file_name=data.files.get(t, "")))
                   for t in EXTRA_TABLES if t in data.tables]
    page.tables += omniscape_figures.tables(data, m)
    if (comparison := comparison_table(data.out_dir)) is not None:
        page.tables.append(("scenarios/comparison.csv",
                            note + page_html.table_html(comparison, m, file_name="scenarios/comparison.csv")))
    page.methods_html = page_html.methods_html(data.manifest, m, synthetic_data=options.synthetic_data)
    files["report.html"] = page_html.render_page(page, m).encode("utf-8")
    return files


def _habitat_note(data: ReportData) -> str:
    """Which cells the indicators count as habitat, and at what elevation (the data dictionary's
    'habitat' row), above the indicators table."""
    dictionary = data.tables.get("data_dictionary")
    if dictionary is None or "indicator" not in dictionary.columns:
        return ""
    rows = dictionary.loc[dictionary["indicator"] == "habitat", "definition"]
    return f"<p>{page_html.esc(str(rows.iloc[0]))}</p>" if len(rows) else ""


def _evaluation_note(data: ReportData, m: Messages) -> str:
    """The Boyce sentence above the evaluation table (empty for other tables)."""
    summary = data.tables.get("evaluation_summary")
    if summary is None or not len(summary):
        return ""
    row = summary.iloc[0]
    text = m("evaluation.summary", boyce=f"{float(row['boyce_index']):.2f}", n=int(row["n_presence"]),
             reference=row["reference"], top=int(row["n_presence_top_quartile"]), low=int(row["n_presence_bottom_half"]))
    return f"<p>{page_html.esc(text)}</p>"


#: Columns of the ranked-site table shown before the toggle, by role; the first present wins.
SITE_NAME_COLUMNS = ("name", "site_name", "site_id", "candidate_id")


def robustness_text(row: Mapping, n_sites: int, top_n: int, messages: Messages) -> str:
    """How a site's rank holds up when the weights are drawn at random, in one sentence.

    With more sites than ``top_n``: the share of draws that keep it in the top ``top_n`` and the
    5-95 % rank range. With ``n_sites <= top_n`` every site is always in the top ``top_n``, so
    only the rank range is given (and the number of sites, so the reader sees why).

    Examples
    --------
    >>> m = Messages("en")
    >>> robustness_text({"p_top_n": 0.8, "rank_p05": 2, "rank_p95": 4}, 9, 3, m)
    'Top 3 in 80 % of weight draws; ranks 2-4 in 90 % of them.'
    >>> robustness_text({"p_top_n": 1.0, "rank_p05": 1, "rank_p95": 2}, 2, 3, m)
    'Ranks 1-2 in 90 % of weight draws (only 2 ranked sites).'
    """
    try:
        low, high = int(row["rank_p05"]), int(row["rank_p95"])
    except (KeyError, TypeError, ValueError):
        return ""
    spread = messages("sites.rank_one", rank=low) if low == high else messages("sites.rank_range", low=low, high=high)
    p_top = row.get("p_top_n") if hasattr(row, "get") else None
    if n_sites > top_n and p_top is not None and np.isfinite(float(p_top)):
        return messages("sites.robust_top", top_n=top_n, percent=f"{100 * float(p_top):.0f}", spread=spread)
    return messages("sites.robust_few", spread=spread[:1].upper() + spread[1:], n=n_sites)


def _sites_html(data: ReportData, m: Messages, *, note: str = "") -> str:
    """The ranked sites: rank, name, score, robustness and explanation first; every other
    column of the ranking behind a toggle (``<details>``, no script)."""
    table_id = _first(SITE_TABLE_IDS, data.tables)
    vector_id = _first(SITE_VECTOR_IDS, data.vectors)
    if table_id is None and vector_id is None:
        return f"<p class='empty'>{page_html.esc(m('sites.none'))}</p>"
    if table_id is not None:
        frame = data.tables[table_id]
    else:
        frame = pd.DataFrame(data.vectors[vector_id].drop(columns=data.vectors[vector_id].geometry.name))
    if "rank" in frame.columns:
        frame = frame.sort_values("rank", kind="stable")
    file_name = data.files.get(table_id or vector_id, "")
    top_n = int(data.manifest.get("stages", {}).get("sites", {}).get("params", {}).get("top_n", 3))
    name_col = _first(SITE_NAME_COLUMNS, frame.columns)
    explanation = explanation_field(frame.columns, m.language)
    summary = pd.DataFrame(index=frame.index)
    if "rank" in frame.columns:
        summary[m("table.rank")] = frame["rank"]
    if name_col:
        summary[m("table.site")] = frame[name_col]
    if "score" in frame.columns:
        summary[m("table.score")] = frame["score"]
    if {"rank_p05", "rank_p95"} <= set(frame.columns):
        summary[m("table.robustness")] = [robustness_text(row, len(frame), top_n, m)
                                          for row in frame.to_dict("records")]
    if explanation:
        summary[m("table.explanation")] = frame[explanation].fillna("")
    parts = [note, page_html.table_html(summary, m, file_name=file_name, css_class="data sites")]
    parts.append(page_html.details_html(m("sites.all_columns", n=len(frame.columns)),
                                        page_html.table_html(frame, m, file_name=file_name)))
    sens_id = _first(SENSITIVITY_IDS, data.tables)
    if sens_id is not None:
        parts.append(f"<h3>{page_html.esc(m('figure.sensitivity'))}</h3>{note}")
        parts.append(page_html.details_html(m("sites.sensitivity_rows", n=len(data.tables[sens_id])),
                                            page_html.table_html(data.tables[sens_id], m,
                                                                 file_name=data.files.get(sens_id, ""))))
    return "".join(parts)


# -- the report folder: cached like a stage, language kept between runs -----------------------
#: Folder of the report inside an output folder, and the record of what it was built from.
REPORT_DIR = "report"
STATE_FILE = "report_state.json"
#: Sidecar styles are written beside layer files of these kinds, so QGIS loads them with the layer.
_SIDECAR_SUFFIXES = (".tif", ".gpkg")


def code_sha256() -> str:
    """Hash of the report code, catalogues and embedded assets, and of the matplotlib version
    (figure bytes depend on both)."""
    import matplotlib

    digest = hashlib.sha256(matplotlib.__version__.encode())
    root = Path(__file__).resolve().parent
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".js", ".css")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def report_key(manifest: Mapping, options: ReportOptions) -> str:
    """What the report is drawn from: the manifest (every stage but the report's own record),
    the options (language included) and the report code. Equal keys give equal report files."""
    stages = {k: v for k, v in manifest.get("stages", {}).items() if k != "report"}
    text = json.dumps({"manifest": {**manifest, "stages": stages}, "options": asdict(options), "code": code_sha256()},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def report_language(state: Mapping, language: str | None, pipeline_language: str) -> tuple[str, dict | None]:
    """The language to write and the override to remember.

    ``habitat report --language L`` (``language``) sets an override that later runs keep as long
    as the pipeline's own language setting is the one it overrode; a changed pipeline setting,
    or ``--language`` equal to it, ends the override.

    Examples
    --------
    >>> report_language({}, "ru", "en")
    ('ru', {'language': 'ru', 'pipeline_language': 'en'})
    >>> report_language({"language_override": {"language": "ru", "pipeline_language": "en"}}, None, "en")[0]
    'ru'
    >>> report_language({"language_override": {"language": "ru", "pipeline_language": "en"}}, None, "ru")
    ('ru', None)
    """
    override = state.get("language_override")
    if language is not None:
        override = None if language == pipeline_language else {"language": language,
                                                                 "pipeline_language": pipeline_language}
    elif not isinstance(override, dict) or override.get("pipeline_language") != pipeline_language:
        override = None
    return (override["language"] if override else pipeline_language), override


def _read_state(folder: Path) -> dict:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def sidecar_styles(data: ReportData, styles: Mapping[str, bytes]) -> dict[str, bytes]:
    """``<layer file stem>.qml`` beside every raster and GeoPackage of the output folder (paths
    relative to it), the same style as ``report/styles/<layer id>.qml``."""
    out = {}
    for layer_id, rel in sorted(data.files.items()):
        path = Path(rel)
        style = styles.get(f"styles/{layer_id}.qml")
        if style is not None and path.suffix in _SIDECAR_SUFFIXES:
            out[path.with_suffix(".qml").as_posix()] = style
    return out


class ReportFiles(list):
    """The report's files (a list of Path); ``unchanged`` is True when nothing was redrawn because
    the report's inputs, settings and language were the same as last time."""

    def __init__(self, paths=(), *, unchanged: bool = False) -> None:
        super().__init__(paths)
        self.unchanged = unchanged


def write_report_folder(
    out_dir: str | Path, manifest: Mapping, *, language: str | None,
    options_for: Callable[[str | None], ReportOptions], load_data: Callable[[], ReportData], force: bool = False,
) -> ReportFiles:
    """(Re)write ``OUT/report/`` and the QGIS styles beside the layers, unless nothing changed.

    Parameters
    ----------
    out_dir : path
        The output folder (holds manifest.json).
    manifest : mapping
        Its manifest.
    language : str or None
        ``habitat report --language``; None keeps the language chosen before (see
        :func:`report_language`), else the report stage's setting.
    options_for : callable
        Options in a given language (None: the stage's own language).
    load_data : callable
        Reads the layers; called only when the report is redrawn.
    force : bool
        Redraw even when the key is unchanged.

    Returns
    -------
    ReportFiles
        Every file of the report: written now, or kept because its key and files are unchanged
        (then ``unchanged`` is True).

    Notes
    -----
    ``OUT/report/report_state.json`` records the key (:func:`report_key`), the language override
    and the sha256 of every file written. The report is redrawn when the key differs or a
    recorded file is missing or changed; the state is written last, so an interrupted write is
    redrawn next time. Files are written atomically; figures and styles no longer produced are
    removed.
    """
    out_dir = Path(out_dir)
    folder = out_dir / REPORT_DIR
    state = _read_state(folder)
    chosen, override = report_language(state, language, options_for(None).language)
    options = options_for(chosen)
    Messages(options.language)  # an unknown language fails before anything is written
    key = report_key(manifest, options)
    recorded = state.get("files") if isinstance(state.get("files"), dict) else {}
    if (not force and state.get("key") == key and recorded
            and all(_file_sha256(out_dir / rel) == sha for rel, sha in recorded.items())):
        if state.get("language_override") != override:
            write_bytes_atomic(folder / STATE_FILE, _state_json(key, override, recorded))
        return ReportFiles([out_dir / rel for rel in sorted(recorded)], unchanged=True)
    data = load_data()
    files = {f"{REPORT_DIR}/{rel}": content for rel, content in build_report(data, options).items()}
    files.update(sidecar_styles(data, {rel.removeprefix(f"{REPORT_DIR}/"): c for rel, c in files.items()}))
    for sub in ("figures", "styles"):
        for old in sorted((folder / sub).glob("*")) if (folder / sub).exists() else []:
            if f"{REPORT_DIR}/{sub}/{old.name}" not in files and old.suffix in (".png", ".pdf", ".qml"):
                old.unlink()
    (folder / STATE_FILE).unlink(missing_ok=True)
    written = []
    for rel, content in sorted(files.items()):
        write_bytes_atomic(out_dir / rel, content)
        written.append(out_dir / rel)
    hashes = {rel: hashlib.sha256(content).hexdigest() for rel, content in sorted(files.items())}
    write_bytes_atomic(folder / STATE_FILE, _state_json(key, override, hashes))
    return ReportFiles(written)


def _state_json(key: str, override: dict | None, files: Mapping[str, str]) -> bytes:
    return (json.dumps({"key": key, "language_override": override, "files": dict(files)}, indent=1, sort_keys=True)
            + "\n").encode("utf-8")
