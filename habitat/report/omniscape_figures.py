"""The Omniscape part of the report: a normalized-current map and the per-Range-State flow table.

Normalized current (cumulative current / flow potential, the omniscape stage's
``normalized_current``) is drawn on a diverging ramp fixed at 0-2 with 1 (diffuse flow, as much
current as on a uniform landscape) in the middle: blue is impeded, red channelized (Omniscape.jl
documentation; McRae et al. 2016). Cells no window reaches (flow class 0) are left blank; the
notes give the class cut-offs the run used.
"""

from __future__ import annotations

import numpy as np

from habitat.params import OmniscapeParams
from habitat.report import html as page_html
from habitat.report.figures import MapFigure, RasterLayer, VectorLayer
from habitat.report.i18n import Messages
from habitat.report.styles import RampStyle, vector_symbol

#: Diverging ramp: impeded (blue) - diffuse (pale, 1.0) - channelized (red).
NORMALIZED_STYLE = RampStyle(("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"), 0.0, 2.0)

_TEXT = {
    "en": {
        "title": "Omniscape normalized current (cumulative current / flow potential)",
        "layer": "normalized current",
        "classes": "< {lo:g} impeded, {lo:g}-{hi:g} diffuse, > {hi:g} channelized (Omniscape.jl documentation; "
                   "McRae et al. 2016); window radius {radius:g} m, block size {block}; blank: no window reaches the cell",
        "table": "Omniscape flow classes per Range State (areas in ha, shares of the assessed area)",
    },
    "ru": {
        "title": "Нормированный ток Omniscape (суммарный ток / потенциал потока)",
        "layer": "нормированный ток",
        "classes": "< {lo:g} затруднённый, {lo:g}-{hi:g} рассеянный, > {hi:g} канализированный поток "
                   "(документация Omniscape.jl; McRae et al. 2016); радиус окна {radius:g} м, блок {block}; пусто: ни одно окно не достигает ячейки",
        "table": "Классы потока Omniscape по странам ареала (площади в га, доли оценённой площади)",
    },
}


def _text(messages: Messages, key: str, **values: object) -> str:
    return _TEXT.get(messages.language, _TEXT["en"])[key].format(**values)


def _params(data) -> OmniscapeParams:
    recorded = data.manifest.get("stages", {}).get("omniscape", {}).get("params", {})
    return OmniscapeParams(**recorded) if recorded else OmniscapeParams()


def figure_specs(data, messages: Messages) -> list[tuple[str, MapFigure]]:
    """``[("normalized_current", MapFigure)]`` when the run has the layer, else ``[]``."""
    values = data.rasters.get("normalized_current")
    if values is None:
        return []
    params = _params(data)
    vectors = []
    for layer_id in ("reporting_units", "populations"):
        frame = data.vectors.get(layer_id)
        if frame is not None and len(frame):
            geom_type = str(frame.geometry.geom_type.dropna().iloc[0]) if frame.geometry.notna().any() else "Polygon"
            vectors.append(VectorLayer(frame, vector_symbol(layer_id, geom_type), messages.layer(layer_id), None))
    note = _text(messages, "classes", lo=params.impeded_below, hi=params.channelized_above, radius=params.radius_m,
                 block=params.block_size)
    shown = np.asarray(values, dtype=np.float64)
    classes = data.rasters.get("flow_class")
    if classes is not None:
        # no window reaches these cells: Omniscape's 0/0 -> 0 is not impeded flow, so leave them blank
        shown = np.where(np.asarray(classes) == 0, np.nan, shown)
    layer = RasterLayer(shown, NORMALIZED_STYLE, _text(messages, "layer"))
    return [("normalized_current", MapFigure(_text(messages, "title"), [layer], vectors, notes=(note,)))]


def tables(data, messages: Messages) -> list[tuple[str, str]]:
    """The per-unit summary (``omniscape/summary.csv``) as a (title, HTML) pair, when present."""
    frame = data.tables.get("omniscape_summary")
    if frame is None:
        return []
    body = page_html.table_html(frame, messages, file_name=data.files.get("omniscape_summary", ""))
    return [(_text(messages, "table"), body)]
