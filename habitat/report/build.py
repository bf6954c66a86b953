"""Assemble the report: figures, QGIS styles and the HTML page, as bytes by relative path.

Pure: layers, tables and the manifest in; ``{"report.html": bytes, "figures/x.png": bytes, ...}``
out. Every layer is optional; the report shows what is there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

import habitat
from habitat.grid import GridSpec
from habitat.indicators.change import change_map
from habitat.vocabulary import HABITAT_CLASSES
from habitat.report import html as page_html
from habitat.report import omniscape_figures
from habitat.report.figures import MapFigure, RasterLayer, VectorLayer, draw_map, figure_pdf, figure_png
from habitat.report.i18n import Messages
from habitat.report.overlay import data_uri, raster_overlay, to_geojson
from habitat.report.qml import raster_qml, vector_qml
from habitat.report.styles import RampStyle, change_style, raster_style, vector_symbol

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
EXTRA_TABLES = ("patch_table", "links", "effective_resistance", "graph_indices", "patch_importance",
                "population_status", "national_report")


@dataclass(frozen=True)
class ReportOptions:
    """Report settings (the report stage's parameters)."""

    language: str = "en"
    dpi: int = 300
    formats: tuple[str, ...] = ("png", "pdf")
    per_unit_figures: bool = True
    credits: str = ""
    change_classes: tuple[str, ...] = ("tugai_forest", "tugai_shrub")
    max_overlay_px: int = 1024


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


def _first(ids: Sequence[str], present: Mapping) -> str | None:
    return next((i for i in ids if i in present), None)


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


def figure_specs(data: ReportData, options: ReportOptions, messages: Messages) -> list[tuple[str, MapFigure]]:
    """The whole-area figures (name, spec) the data allows."""
    specs: list[tuple[str, MapFigure]] = []
    m = messages

    def vectors(*ids: str) -> list[VectorLayer]:
        return [v for v in (_vector(data, i, m) for i in ids) if v is not None]

    def raster(layer_id: str, *, alpha: float = 1.0, values: np.ndarray | None = None) -> RasterLayer:
        values = data.rasters[layer_id] if values is None else values
        return RasterLayer(values, raster_style(layer_id, values), m.layer(layer_id), alpha=alpha)

    if "suitability" in data.rasters:
        specs.append(("suitability", MapFigure(m("figure.suitability"), [raster("suitability")],
                                               vectors("reporting_units", "patches", "populations"))))
    current = _first(CURRENT_IDS, data.rasters)
    if any(i in data.rasters for i in ("corridors", "pinch_points")) or current or "least_cost_paths" in data.vectors:
        rasters = []
        if "corridors" in data.rasters:
            rasters.append(raster("corridors"))
        strength_id = "pinch_points" if "pinch_points" in data.rasters else current
        if strength_id:
            values = np.asarray(data.rasters[strength_id], dtype=np.float64)
            style = raster_style(strength_id, values)
            # only the strongest cells, so the corridors beneath stay visible
            shown = np.where(values >= style.low + 0.5 * (style.high - style.low), values, np.nan)
            rasters.append(RasterLayer(shown, style, m.layer(strength_id)))
        specs.append(("connectivity", MapFigure(m("figure.connectivity"), rasters,
                                                vectors("reporting_units", "least_cost_paths", "populations"))))
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
            notes=(", ".join(m(f"class.{c}") for c in options.change_classes),))))
    return specs


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
                        MapFigure(title, spec.rasters, spec.vectors, extent=extent, outline=geom, notes=spec.notes)))
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
        legends.append(page_html.legend_html(label, style, m, hidden_classes=hidden))
    vectors = []
    for layer_id in MAP_VECTORS:
        frame = data.vectors.get(layer_id)
        if frame is None or len(frame) == 0:
            continue
        geom_type = str(frame.geometry.geom_type.dropna().iloc[0]) if frame.geometry.notna().any() else "Polygon"
        geometry, fill, edge, width_pt, size_mm = vector_symbol(layer_id, geom_type)
        explanation = next((f for f in EXPLANATION_FIELDS if f in frame.columns), None)
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
    files.update(style_files(data, m, options))

    payload, legends = map_data(data, options, m)
    pipeline_name = data.manifest.get("pipeline", {}).get("name", "")
    page = page_html.Page(title=m("report.title"), subtitle=m("report.subtitle", name=pipeline_name, version=version),
                          map_data=payload, legends=legends, figures=shown,
                          description=data.manifest.get("pipeline", {}).get("description", ""))
    page.sites_html = _sites_html(data, m)
    indicator_id = _first(INDICATOR_IDS, data.tables)
    page.indicators_html = (page_html.table_html(data.tables[indicator_id], m, file_name=data.files.get(indicator_id, ""))
                            if indicator_id else f"<p class='empty'>{page_html.esc(m('indicators.none'))}</p>")
    page.tables = [(m.layer(t), page_html.table_html(data.tables[t], m, file_name=data.files.get(t, "")))
                   for t in EXTRA_TABLES if t in data.tables]
    page.tables += omniscape_figures.tables(data, m)
    page.methods_html = page_html.methods_html(data.manifest, m)
    files["report.html"] = page_html.render_page(page, m).encode("utf-8")
    return files


def _sites_html(data: ReportData, m: Messages) -> str:
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
    parts = [page_html.table_html(frame, m, file_name=data.files.get(table_id or vector_id, ""))]
    sens_id = _first(SENSITIVITY_IDS, data.tables)
    if sens_id is not None:
        parts.append(f"<h3>{page_html.esc(m('figure.sensitivity'))}</h3>")
        parts.append(page_html.table_html(data.tables[sens_id], m, file_name=data.files.get(sens_id, "")))
    return "".join(parts)
