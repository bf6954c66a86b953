"""QGIS layer styles (.qml) with the ramps and class colours of the figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from matplotlib.colors import to_rgba

from habitat.report.styles import ClassStyle, RampStyle

_QGIS_VERSION = "3.28.0"


def _document(root: ET.Element) -> str:
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def _rgba_text(colour: str) -> str:
    r, g, b, a = (round(v * 255) for v in to_rgba(colour))
    return f"{r},{g},{b},{a}"


def raster_qml(style: RampStyle | ClassStyle, *, label: Callable[[str], str] = str, opacity: float = 1.0) -> str:
    """A QGIS raster style: a pseudocolour ramp (interpolated, same stops as the figures) or a
    paletted renderer (one entry per class, labelled with ``label(message key)``).

    Examples
    --------
    >>> from habitat.report.styles import RampStyle
    >>> text = raster_qml(RampStyle(("#000000", "#ffffff"), 0.0, 2.0))
    >>> 'value="2.0"' in text and 'colorRampType="INTERPOLATED"' in text
    True
    """
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    if isinstance(style, RampStyle):
        renderer = ET.SubElement(pipe, "rasterrenderer", type="singlebandpseudocolor", band="1",
                                 opacity=f"{opacity:g}", alphaBand="-1", classificationMin=repr(style.low),
                                 classificationMax=repr(style.high), nodataColor="")
        ET.SubElement(renderer, "rasterTransparency")
        shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader",
                               colorRampType="INTERPOLATED", classificationMode="1", clip="0",
                               minimumValue=repr(style.low), maximumValue=repr(style.high))
        for value, colour in style.stops:
            ET.SubElement(shader, "item", alpha="255", value=repr(value), label=f"{value:.4g}", color=colour)
    else:
        renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity=f"{opacity:g}",
                                 alphaBand="-1", nodataColor="")
        ET.SubElement(renderer, "rasterTransparency")
        palette = ET.SubElement(renderer, "colorPalette")
        for code, colour, key in style.classes:
            ET.SubElement(palette, "paletteEntry", value=str(code), color=colour, alpha="255", label=label(key))
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    return _document(root)


def vector_qml(symbol: tuple[str, str | None, str, float, float], *, label_field: str | None = None) -> str:
    """A QGIS single-symbol vector style from a ``styles.vector_symbol`` tuple, optionally
    labelling features by ``label_field``."""
    geometry, fill, edge, width_pt, size_mm = symbol
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology|Labeling")
    renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                             forceraster="0")
    symbols = ET.SubElement(renderer, "symbols")
    kind = {"point": "marker", "line": "line", "polygon": "fill"}[geometry]
    sym = ET.SubElement(symbols, "symbol", type=kind, name="0", alpha="1", clip_to_extent="1", force_rhr="0")
    cls = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[kind]
    layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    opts = ET.SubElement(layer, "Option", type="Map")
    width_mm = f"{width_pt * 25.4 / 72:.3f}"
    values: dict[str, str]
    if kind == "marker":
        values = {"name": "circle", "color": _rgba_text(fill or edge), "outline_color": _rgba_text(edge),
                  "outline_width": width_mm, "outline_width_unit": "MM", "size": f"{size_mm:g}", "size_unit": "MM"}
    elif kind == "line":
        values = {"line_color": _rgba_text(edge), "line_width": width_mm, "line_width_unit": "MM",
                  "line_style": "solid"}
    else:
        values = {"color": _rgba_text(fill or "#00000000"), "style": "solid" if fill else "no",
                  "outline_color": _rgba_text(edge), "outline_width": width_mm, "outline_width_unit": "MM",
                  "outline_style": "solid"}
    for name, value in values.items():
        ET.SubElement(opts, "Option", type="QString", name=name, value=value)
    if label_field:
        labeling = ET.SubElement(root, "labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        ET.SubElement(settings, "text-style", fieldName=label_field, fontSize="8", textColor="0,0,0,255",
                      isExpression="0")
    ET.SubElement(root, "blendMode").text = "0"
    return _document(root)
