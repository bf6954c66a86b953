import xml.etree.ElementTree as ET

from habitat.report.i18n import Messages
from habitat.report.qml import raster_qml, vector_qml
from habitat.report.styles import RampStyle, change_style, vector_symbol


def _parse(text: str) -> ET.Element:
    assert text.startswith("<!DOCTYPE qgis")
    return ET.fromstring(text.split("\n", 1)[1])


def test_ramp_qml_has_the_figure_stops():
    style = RampStyle(("#ffffe5", "#78c679", "#004529"), 0.0, 1.0)
    root = _parse(raster_qml(style))
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor"
    items = [(float(i.get("value")), i.get("color")) for i in root.iter("item")]
    assert items == [(0.0, "#ffffe5"), (0.5, "#78c679"), (1.0, "#004529")]


def test_paletted_qml_labels_in_the_report_language():
    root = _parse(raster_qml(change_style(), label=Messages("ru")))
    entries = [(e.get("value"), e.get("color"), e.get("label")) for e in root.iter("paletteEntry")]
    assert entries == [("0", "#eeeeee", "Не местообитание"), ("1", "#4daf4a", "Сохранившееся местообитание"),
                       ("2", "#e41a1c", "Утраченное местообитание"), ("3", "#377eb8", "Новое местообитание")]


def test_vector_qml_symbol_and_label():
    root = _parse(vector_qml(vector_symbol("populations", "Point"), label_field="site_name"))
    layer = root.find("renderer-v2/symbols/symbol/layer")
    assert layer.get("class") == "SimpleMarker"
    opts = {o.get("name"): o.get("value") for o in layer.iter("Option") if o.get("name")}
    assert opts["color"] == "215,48,31,255" and opts["outline_color"] == "0,0,0,255"
    assert root.find("labeling/settings/text-style").get("fieldName") == "site_name"
    poly = _parse(vector_qml(vector_symbol("anything", "MultiPolygon")))
    assert poly.find("renderer-v2/symbols/symbol/layer").get("class") == "SimpleFill"
