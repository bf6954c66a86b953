"""Map figures with matplotlib (Agg): raster layers, vectors, legend, scale bar, north arrow,
CRS and data credits; PNG and PDF bytes that are identical for identical inputs."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from pyproj import Transformer

from habitat.errors import InvalidParameterError
from habitat.grid import GridSpec
from habitat.report.i18n import Messages
from habitat.report.styles import ClassStyle, RampStyle

#: rcParams for every figure: a font with Cyrillic glyphs, TrueType in PDFs, fixed hash salt.
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "pdf.fonttype": 42,
    "svg.hashsalt": "habitat",
    "path.simplify": True,
    "image.interpolation": "nearest",
}
PNG_METADATA = {"Software": "habitat"}
PDF_METADATA = {"Creator": "habitat", "Producer": "habitat", "CreationDate": None, "ModDate": None}


@dataclass(frozen=True)
class RasterLayer:
    """A raster drawn on the map: values on the grid, its style and its legend title."""

    values: np.ndarray
    style: RampStyle | ClassStyle
    title: str
    hidden_classes: tuple[int, ...] = ()
    alpha: float = 1.0
    #: units of the values as the producing stage declares them (shown on the colour bar)
    units: str = ""


@dataclass(frozen=True)
class VectorLayer:
    """Vector features in the grid CRS with a ``styles.vector_symbol`` tuple and legend title."""

    frame: gpd.GeoDataFrame
    symbol: tuple[str, str | None, str, float, float]
    title: str
    label_field: str | None = None
    #: label only the first rows (e.g. the best-ranked sites); None labels every feature
    max_labels: int | None = None


@dataclass(frozen=True)
class MapFigure:
    """Everything a map figure shows; ``extent`` (xmin, ymin, xmax, ymax, grid CRS) zooms in."""

    title: str
    rasters: Sequence[RasterLayer] = ()
    vectors: Sequence[VectorLayer] = ()
    extent: tuple[float, float, float, float] | None = None
    outline: object | None = None  # a shapely geometry drawn bold (the reporting unit)
    notes: Sequence[str] = field(default_factory=tuple)
    #: a boxed line in the map's top-left corner (e.g. "Synthetic data")
    stamp: str = ""


def nice_scale_length(width: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above a fifth of ``width`` (same units).

    Examples
    --------
    >>> nice_scale_length(76000.0), nice_scale_length(2800.0), nice_scale_length(9.0)
    (10000.0, 500.0, 1.0)
    """
    if not width > 0:
        raise InvalidParameterError(f"width: {width} must be positive")
    target = width / 5.0
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power


def north_angle_deg(grid: GridSpec, x: float, y: float) -> float:
    """Angle of true north from grid north at ``(x, y)``, degrees clockwise.

    Notes
    -----
    Move 0.01 degrees north from the point's longitude/latitude and project back:
    ``angle = atan2(dx, dy)``. Zero on a geographic grid and on the central meridian of a
    conic projection.
    """
    if grid.is_geographic:
        return 0.0
    to_ll = Transformer.from_crs(grid.pyproj_crs, "EPSG:4326", always_xy=True)
    to_grid = Transformer.from_crs("EPSG:4326", grid.pyproj_crs, always_xy=True)
    lon, lat = to_ll.transform(x, y)
    x2, y2 = to_grid.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(x2 - x, y2 - y))


def _crs_label(grid: GridSpec) -> str:
    from habitat.io.vectors import named_crs

    crs = named_crs(grid.pyproj_crs)
    epsg = crs.to_epsg(min_confidence=90)
    return f"{crs.name} (EPSG:{epsg})" if epsg is not None else crs.name


def _polygon_path(geom) -> MplPath:
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(verts), np.concatenate(codes))


@dataclass(frozen=True)
class LabelItem:
    """A label to place: anchor in data coordinates, text, and the radius (points) of the
    marker it belongs to (0 for a polygon's representative point)."""

    x: float
    y: float
    text: str
    marker_radius_pt: float = 0.0


def _draw_vector(ax, layer: VectorLayer) -> list[LabelItem]:
    """Draw a layer's features; return the labels it asks for (placed later, all layers together)."""
    geometry, fill, edge, width_pt, size_mm = layer.symbol
    geoms = [g for g in layer.frame.geometry if g is not None and not g.is_empty]
    if not geoms:
        return []
    # draw by the geometry each feature has, whatever the layer's symbol says
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    lines = [np.asarray(part.coords)[:, :2] for g in geoms if g.geom_type in ("LineString", "MultiLineString")
             for part in getattr(g, "geoms", [g])]
    points = [(p.x, p.y) for g in geoms if g.geom_type in ("Point", "MultiPoint") for p in getattr(g, "geoms", [g])]
    size_pt = size_mm * 72 / 25.4
    if polys:
        patches = [PathPatch(_polygon_path(g)) for g in polys]
        ax.add_collection(PatchCollection(patches, facecolor=fill or "none", edgecolor=edge, linewidth=width_pt,
                                          alpha=0.8 if fill else 1.0, zorder=3))
    if lines:
        ax.add_collection(LineCollection(lines, colors=edge, linewidths=width_pt, zorder=4))
    if points:
        xy = np.array(points)
        ax.scatter(xy[:, 0], xy[:, 1], s=size_pt**2, c=fill or edge, edgecolors=edge, linewidths=width_pt, zorder=5,
                   gid="habitat-marker")
    labels: list[LabelItem] = []
    if layer.label_field and layer.label_field in layer.frame:
        labelled = layer.frame if layer.max_labels is None else layer.frame.head(layer.max_labels)
        for geom, text in zip(labelled.geometry, labelled[layer.label_field]):
            if geom is None or geom.is_empty:
                continue
            is_point = geom.geom_type == "Point"
            point = geom if is_point else geom.representative_point()
            labels.append(LabelItem(point.x, point.y, str(text), size_pt / 2 + width_pt if is_point else 0.0))
    return labels


#: Where a label may go around its anchor, in order of preference: (dx, dy) direction and
#: alignment. Offsets are scaled by the marker radius so a label never covers its own marker.
_LABEL_POSITIONS = (
    (1, 1, "left", "bottom"), (1, -1, "left", "top"), (-1, 1, "right", "bottom"), (-1, -1, "right", "top"),
    (1, 0, "left", "center"), (-1, 0, "right", "center"), (0, 1, "center", "bottom"), (0, -1, "center", "top"),
)
LABEL_GID = "habitat-label"
#: Empty space kept around every label (points).
LABEL_PAD_PT = 1.0


def place_labels(ax, items: Sequence[LabelItem], obstacles: Sequence, *, fontsize: float = 6.5) -> list:
    """Greedy label placement: each label in turn takes the first candidate position whose box
    lies inside the map and overlaps no obstacle and no label placed before; a label that fits
    nowhere is dropped.

    Parameters
    ----------
    ax : matplotlib Axes
        The map; labels are annotations of it, marked with ``gid = LABEL_GID``.
    items : sequence of LabelItem
        In order of priority (the first gets the best place).
    obstacles : sequence of matplotlib.transforms.Bbox
        Display-space boxes labels must not touch (markers, scale bar, north arrow, stamp).

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels kept.

    Notes
    -----
    Boxes are measured with the figure's renderer (``Text.get_window_extent``), so the test is
    on the text as drawn, at the figure's dpi; every box is padded by ``LABEL_PAD_PT``.
    """
    from matplotlib import patheffects

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pad = LABEL_PAD_PT * fig.dpi / 72
    taken = [b for b in obstacles]
    kept = []
    for item in items:
        gap = item.marker_radius_pt + 1.5
        positions = _LABEL_POSITIONS if item.marker_radius_pt > 0 else ((0, 0, "center", "center"), *_LABEL_POSITIONS)
        # the positions next to the anchor, then the same ones a little farther out
        for ring, (dx, dy, ha, va) in [(r, p) for r in (1.0, 2.5) for p in positions]:
            # diagonal positions sit on the marker's circle, not its bounding square
            scale = max(gap, 2.0) * ring * (0.75 if dx and dy else 1.0)
            # a label moved away from its anchor gets a leader line, so it is not read as another's
            leader = dict(arrowstyle="-", linewidth=0.5, color="#333333", shrinkA=0, shrinkB=item.marker_radius_pt)
            text = ax.annotate(item.text, (item.x, item.y), xytext=(dx * scale, dy * scale),
                               textcoords="offset points", ha=ha, va=va, fontsize=fontsize, zorder=6,
                               parse_math=False, annotation_clip=False, gid=LABEL_GID,
                               arrowprops=leader if ring > 1 else None,
                               path_effects=[patheffects.withStroke(linewidth=2.0, foreground="white")])
            box = label_box(text, renderer).padded(pad)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                kept.append(text)
                break
            text.remove()
    return kept


def label_box(text, renderer):
    """Display box of a label's text (without its leader line)."""
    from matplotlib.text import Annotation, Text

    if isinstance(text, Annotation):
        text.update_positions(renderer)  # places the text at its offset from the anchor
    return Text.get_window_extent(text, renderer)


def _marker_boxes(ax, items: Sequence[LabelItem]):
    """Display boxes of the labelled markers (labels must not cover any of them)."""
    from matplotlib.transforms import Bbox

    to_px = ax.transData
    scale = ax.figure.dpi / 72
    boxes = []
    for item in items:
        if item.marker_radius_pt <= 0:
            continue
        x, y = to_px.transform((item.x, item.y))
        r = item.marker_radius_pt * scale
        boxes.append(Bbox.from_extents(x - r, y - r, x + r, y + r))
    return boxes


def _legend_handle(layer: VectorLayer):
    geometry, fill, edge, width_pt, size_mm = layer.symbol
    label = wrap_text(layer.title, LEGEND_CHARS)
    if geometry == "point":
        return Line2D([], [], linestyle="none", marker="o", markersize=size_mm * 72 / 25.4,
                      markerfacecolor=fill, markeredgecolor=edge, label=label)
    if geometry == "line":
        return Line2D([], [], color=edge, linewidth=width_pt, label=label)
    return Patch(facecolor=fill or "none", edgecolor=edge, linewidth=width_pt, label=label)


def _scale_bar(ax, extent, grid: GridSpec, messages: Messages) -> list:
    """Draw the scale bar; return its artists (obstacles for the labels)."""
    xmin, ymin, xmax, ymax = extent
    metres_per_unit = grid.metres_per_unit  # metres, feet, or degrees of latitude
    if grid.is_geographic:  # the bar runs east-west: degrees of longitude at the centre latitude
        metres_per_unit *= math.cos(math.radians((ymin + ymax) / 2))
    width_m = (xmax - xmin) * metres_per_unit
    length_m = nice_scale_length(width_m)
    length = length_m / metres_per_unit
    x0, y0 = xmin + 0.04 * (xmax - xmin), ymin + 0.05 * (ymax - ymin)
    height = 0.012 * (ymax - ymin)
    artists = []
    for i in range(2):
        artists.append(ax.add_patch(Rectangle((x0 + i * length / 2, y0), length / 2, height,
                                              facecolor="black" if i == 0 else "white", edgecolor="black",
                                              linewidth=0.6, zorder=7)))
    text = (messages("figure.scale_km", value=f"{length_m / 1000:g}") if length_m >= 1000
            else messages("figure.scale_m", value=f"{length_m:g}"))
    artists.append(ax.text(x0 + length / 2, y0 + 1.6 * height, text, ha="center", va="bottom", fontsize=7, zorder=7,
                           bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1)))
    return artists


def _north_arrow(ax, angle_deg: float, messages: Messages, map_size_in: tuple[float, float]) -> list:
    """A 0.3-inch arrow to true north in the map's top-right corner; returns its artists."""
    width_in, height_in = map_size_in
    tail = np.array([1 - 0.3 / width_in, 1 - 0.55 / height_in])
    rad = math.radians(angle_deg)
    tip = tail + 0.3 * np.array([math.sin(rad) / width_in, math.cos(rad) / height_in])
    # a pale box keeps the arrow readable over outlines and dark rasters
    backdrop = ax.add_patch(Rectangle((tail[0] - 0.16 / width_in, tail[1] - 0.05 / height_in), 0.32 / width_in,
                                      0.55 / height_in, transform=ax.transAxes, facecolor="white", alpha=0.75,
                                      edgecolor="none", zorder=7.5))
    arrow = ax.annotate("", xy=tuple(tip), xytext=tuple(tail), xycoords="axes fraction",
                        arrowprops=dict(arrowstyle="-|>", color="black", linewidth=1.2), zorder=8)
    letter = ax.text(tip[0], tip[1] + 0.03 / height_in, messages("figure.north"), transform=ax.transAxes,
                     ha="center", va="bottom", fontsize=9, fontweight="bold", zorder=8)
    return [backdrop, arrow, letter]


# -- layout (inches): the map keeps the aspect of its extent and fills its frame -------------
MAP_MAX_W_IN = 5.4
MAP_MAX_H_IN = 6.2
LEGEND_W_IN = 2.3
MARGIN_IN = 0.25
GAP_IN = 0.2
LINE_IN = 0.135  # one 6.5-7 pt text line
TITLE_LINE_IN = 0.22  # one 11 pt title line
BAR_IN = 0.15  # colour bar height
#: Characters per line of the wrapped texts (DejaVu Sans is about 0.55 em wide on average).
LEGEND_CHARS = 34
COLOURBAR_TICKS = 5


def wrap_text(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` characters (existing line breaks kept)."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) or line
                     for line in str(text).split("\n"))


def map_size_in(extent: tuple[float, float, float, float]) -> tuple[float, float]:
    """Width and height (inches) of the map frame: the extent's aspect within MAP_MAX_W_IN x MAP_MAX_H_IN.

    Examples
    --------
    >>> map_size_in((0, 0, 200, 100)), map_size_in((0, 0, 100, 200))
    ((5.4, 2.7), (3.1, 6.2))
    """
    width, height = extent[2] - extent[0], extent[3] - extent[1]
    if not (width > 0 and height > 0):
        raise InvalidParameterError(f"extent: {extent} has no area")
    aspect = height / width
    map_w, map_h = MAP_MAX_W_IN, MAP_MAX_W_IN * aspect
    if map_h > MAP_MAX_H_IN:
        map_w, map_h = MAP_MAX_H_IN / aspect, MAP_MAX_H_IN
    return round(map_w, 4), round(map_h, 4)


def colourbar_ticks(low: float, high: float, *, max_ticks: int = COLOURBAR_TICKS) -> np.ndarray:
    """At most ``max_ticks`` round values (1, 2, 2.5 or 5 x 10^k steps) within ``[low, high]``.

    Examples
    --------
    >>> colourbar_ticks(0.0, 1.0).tolist(), colourbar_ticks(3.2, 47_000.0).tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [10000.0, 20000.0, 30000.0, 40000.0])
    """
    from matplotlib.ticker import MaxNLocator

    if not high > low:
        return np.array([low])
    span = high - low
    best = np.array([low, high])
    for nbins in range(max_ticks - 1, 2 * max_ticks):
        ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        ticks = ticks[(ticks >= low - 1e-9 * span) & (ticks <= high + 1e-9 * span)]
        if len(ticks) > max_ticks:
            break
        best = ticks
        if len(ticks) >= 3:  # enough labels to read a value off the bar
            break
    return best


def format_tick(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs and spaces between thousands.

    Examples
    --------
    >>> format_tick(40000.0, 10000.0), format_tick(0.25, 0.25), format_tick(0.1, 0.05), format_tick(-0.0, 1.0)
    ('40 000', '0.25', '0.10', '0')
    """
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > 1e-9 * max(1.0, abs(step)):
        decimals += 1
    text = f"{value:,.{decimals}f}".replace(",", " ")
    return "0" if float(value) == 0 and decimals == 0 else text


def _colourbar(fig, rect, layer: RasterLayer, units: str) -> None:
    style = layer.style
    cax = fig.add_axes(rect)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=style.norm(), cmap=style.cmap()), cax=cax,
                       orientation="horizontal")
    ticks = colourbar_ticks(style.low, style.high)
    step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 1.0
    bar.set_ticks(ticks, labels=[format_tick(t, step) for t in ticks])
    bar.ax.tick_params(labelsize=6.5, length=2.5, pad=1.5)
    bar.outline.set_linewidth(0.5)
    bar.set_label(wrap_text(units, LEGEND_CHARS + 6), fontsize=6.5, labelpad=2)
    cax.set_title(wrap_text(layer.title, LEGEND_CHARS), fontsize=7, loc="left", pad=3)
    cax.set_gid("habitat-colourbar")


def draw_map(spec: MapFigure, grid: GridSpec, messages: Messages, *, credits: str, version: str) -> Figure:
    """Build the figure of a map (no pyplot, so no global state).

    The figure is as large as its content: a map frame with the aspect of the extent (at most
    MAP_MAX_W_IN x MAP_MAX_H_IN inches), a legend column to its right (one colour bar per ramp
    with its units, then classes and symbols), the title above and CRS, credits and notes below.
    """
    extent = spec.extent or grid.bounds
    map_w, map_h = map_size_in(extent)
    bars = [layer for layer in spec.rasters if isinstance(layer.style, RampStyle)]
    handles = []
    for layer in spec.rasters:
        if not isinstance(layer.style, RampStyle):
            handles += [Patch(facecolor=colour, edgecolor="#666666", linewidth=0.3,
                              label=wrap_text(messages(key), LEGEND_CHARS))
                        for code, colour, key in layer.style.classes if code not in layer.hidden_classes]
    handles += [_legend_handle(layer) for layer in spec.vectors]
    if spec.outline is not None and not any(v.title == messages.layer("reporting_units") for v in spec.vectors):
        # the bold outline is one of the reporting units: one legend entry for both, not two
        handles.append(Patch(facecolor="none", edgecolor="black", linewidth=1.4, label=messages("table.unit")))

    bar_titles = [wrap_text(layer.title, LEGEND_CHARS).count("\n") + 1 for layer in bars]
    unit_lines = [wrap_text(layer.units or "-", LEGEND_CHARS + 6).count("\n") + 1 for layer in bars]
    bar_blocks = [lines * LINE_IN + 0.08 + BAR_IN + (1 + units) * LINE_IN + 0.2
                  for lines, units in zip(bar_titles, unit_lines)]
    legend_lines = sum(str(h.get_label()).count("\n") + 1 for h in handles)
    legend_h = sum(bar_blocks) + ((legend_lines + 1.5) * 0.18 if handles else 0.0)

    total_w = MARGIN_IN + map_w + GAP_IN + LEGEND_W_IN + MARGIN_IN
    chars = int(total_w * 72 / (6.5 * 0.55))
    footer = [messages("figure.crs", crs=_crs_label(grid)),
              messages("figure.credits", credits=credits, version=version), *spec.notes]
    footer_text = "\n".join(wrap_text(line, chars) for line in footer)
    title = wrap_text(spec.title, int(total_w * 72 / (11 * 0.62)))
    title_h = title.count("\n") * TITLE_LINE_IN + TITLE_LINE_IN + 0.15
    footer_h = (footer_text.count("\n") + 1) * LINE_IN
    body_h = max(map_h, legend_h)
    total_h = MARGIN_IN + title_h + body_h + GAP_IN + footer_h + MARGIN_IN * 0.6

    def fx(inches: float) -> float:
        return inches / total_w

    def fy(inches: float) -> float:  # inches from the bottom
        return inches / total_h

    map_bottom = total_h - MARGIN_IN - title_h - map_h
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(round(total_w, 3), round(total_h, 3)))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((fx(MARGIN_IN), fy(map_bottom), fx(map_w), fy(map_h)))
        xmin, ymin, xmax, ymax = grid.bounds
        ax.set_facecolor("#f7f7f7")
        for layer in spec.rasters:
            if isinstance(layer.style, RampStyle):
                ax.imshow(np.asarray(layer.values, dtype=np.float64), extent=(xmin, xmax, ymin, ymax),
                          cmap=layer.style.cmap(), norm=layer.style.norm(), alpha=layer.alpha, zorder=1,
                          interpolation="nearest")
            else:
                values = np.ma.masked_where(np.isin(layer.values, layer.hidden_classes)
                                            | ~np.isin(layer.values, [c for c, _, _ in layer.style.classes]),
                                            layer.values)
                cmap, norm = layer.style.cmap()
                ax.imshow(values, extent=(xmin, xmax, ymin, ymax), cmap=cmap, norm=norm, alpha=layer.alpha,
                          zorder=1, interpolation="nearest")
        labels: list[LabelItem] = []
        # ranked layers (max_labels set: the best sites) are labelled first
        for layer in sorted(spec.vectors, key=lambda v: v.max_labels is None):
            labels += _draw_vector(ax, layer)
        if spec.outline is not None:
            ax.add_patch(PathPatch(_polygon_path(spec.outline), facecolor="none", edgecolor="black", linewidth=1.4,
                                   zorder=6))
        ax.set_xlim(extent[0], extent[2])
        ax.set_ylim(extent[1], extent[3])
        ax.set_aspect("auto")  # the frame already has the extent's aspect
        ax.set_xticks([])
        ax.set_yticks([])
        fixed = _scale_bar(ax, extent, grid, messages)
        fixed += _north_arrow(ax, north_angle_deg(grid, (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2),
                              messages, (map_w, map_h))
        if spec.stamp:
            fixed.append(ax.text(0.015, 0.985, spec.stamp, transform=ax.transAxes, ha="left", va="top", fontsize=7,
                                 fontweight="bold", color="#b2182b", zorder=8, parse_math=False,
                                 bbox=dict(facecolor="white", edgecolor="#b2182b", linewidth=0.6, pad=2)))
        fig.text(fx(MARGIN_IN), 1 - fy(MARGIN_IN), title, fontsize=11, fontweight="bold", va="top",
                 parse_math=False)

        # legend column: one colour bar per ramp (title, bar, ticks, units), then classes and symbols
        left = fx(MARGIN_IN + map_w + GAP_IN)
        top_in = total_h - MARGIN_IN - title_h
        for layer, lines, block in zip(bars, bar_titles, bar_blocks):
            bar_top = top_in - lines * LINE_IN - 0.08
            _colourbar(fig, (left, fy(bar_top - BAR_IN), fx(LEGEND_W_IN - 0.1), fy(BAR_IN)), layer,
                       layer.units or messages("units.none"))
            top_in -= block
        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(left - fx(0.05), fy(top_in)), fontsize=7,
                       frameon=False, title=messages("legend.title"), title_fontsize=8, alignment="left",
                       borderaxespad=0.0)
        fig.text(fx(MARGIN_IN), fy(MARGIN_IN * 0.6), footer_text, fontsize=6.5, va="bottom", color="#333333",
                 parse_math=False)
        renderer = fig.canvas.get_renderer()
        obstacles = [artist.get_window_extent(renderer) for artist in fixed] + _marker_boxes(ax, labels)
        place_labels(ax, labels, obstacles)
    return fig


def figure_png(fig: Figure, *, dpi: int = 300) -> bytes:
    """PNG bytes at ``dpi`` with fixed metadata (no timestamp, no version string)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_METADATA)
    return buf.getvalue()


def figure_pdf(fig: Figure) -> bytes:
    """PDF bytes without creation or modification dates."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="pdf", metadata=PDF_METADATA)
    return buf.getvalue()
