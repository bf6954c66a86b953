"""Map figures with matplotlib (Agg): raster layers, vectors, legend, scale bar, north arrow,
CRS and data credits; PNG and PDF bytes that are identical for identical inputs."""

from __future__ import annotations

import io
import math
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
    crs = grid.pyproj_crs
    epsg = crs.to_epsg(min_confidence=90)
    if epsg is not None:
        return f"{crs.name} (EPSG:{epsg})"
    method = crs.coordinate_operation.method_name if crs.coordinate_operation else crs.name
    return f"{method}, {crs.datum.name if crs.datum else ''}".strip(", ")


def _polygon_path(geom) -> MplPath:
    verts, codes = [], []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            verts.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def _draw_vector(ax, layer: VectorLayer) -> None:
    geometry, fill, edge, width_pt, size_mm = layer.symbol
    geoms = [g for g in layer.frame.geometry if g is not None and not g.is_empty]
    if not geoms:
        return
    # draw by the geometry each feature has, whatever the layer's symbol says
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    lines = [np.asarray(part.coords)[:, :2] for g in geoms if g.geom_type in ("LineString", "MultiLineString")
             for part in getattr(g, "geoms", [g])]
    points = [(p.x, p.y) for g in geoms if g.geom_type in ("Point", "MultiPoint") for p in getattr(g, "geoms", [g])]
    if polys:
        patches = [PathPatch(_polygon_path(g)) for g in polys]
        ax.add_collection(PatchCollection(patches, facecolor=fill or "none", edgecolor=edge, linewidth=width_pt,
                                          alpha=0.8 if fill else 1.0, zorder=3))
    if lines:
        ax.add_collection(LineCollection(lines, colors=edge, linewidths=width_pt, zorder=4))
    if points:
        xy = np.array(points)
        size_pt = size_mm * 72 / 25.4
        ax.scatter(xy[:, 0], xy[:, 1], s=size_pt**2, c=fill or edge, edgecolors=edge, linewidths=width_pt, zorder=5)
    if layer.label_field and layer.label_field in layer.frame:
        labelled = layer.frame if layer.max_labels is None else layer.frame.head(layer.max_labels)
        for geom, text in zip(labelled.geometry, labelled[layer.label_field]):
            if geom is None or geom.is_empty:
                continue
            point = geom if geom.geom_type == "Point" else geom.representative_point()
            # parse_math=False: a "$" in a user's name is text, not mathtext
            ax.annotate(str(text), (point.x, point.y), xytext=(4, 4), textcoords="offset points", fontsize=6.5,
                        zorder=6, parse_math=False, annotation_clip=True)


def _legend_handle(layer: VectorLayer):
    geometry, fill, edge, width_pt, size_mm = layer.symbol
    if geometry == "point":
        return Line2D([], [], linestyle="none", marker="o", markersize=size_mm * 72 / 25.4,
                      markerfacecolor=fill, markeredgecolor=edge, label=layer.title)
    if geometry == "line":
        return Line2D([], [], color=edge, linewidth=width_pt, label=layer.title)
    return Patch(facecolor=fill or "none", edgecolor=edge, linewidth=width_pt, label=layer.title)


def _scale_bar(ax, extent, grid: GridSpec, messages: Messages) -> None:
    xmin, ymin, xmax, ymax = extent
    metres_per_unit = grid.metres_per_unit  # metres, feet, or degrees of latitude
    if grid.is_geographic:  # the bar runs east-west: degrees of longitude at the centre latitude
        metres_per_unit *= math.cos(math.radians((ymin + ymax) / 2))
    width_m = (xmax - xmin) * metres_per_unit
    length_m = nice_scale_length(width_m)
    length = length_m / metres_per_unit
    x0, y0 = xmin + 0.04 * (xmax - xmin), ymin + 0.05 * (ymax - ymin)
    height = 0.012 * (ymax - ymin)
    for i in range(2):
        ax.add_patch(Rectangle((x0 + i * length / 2, y0), length / 2, height, facecolor="black" if i == 0 else "white",
                               edgecolor="black", linewidth=0.6, zorder=7))
    text = (messages("figure.scale_km", value=f"{length_m / 1000:g}") if length_m >= 1000
            else messages("figure.scale_m", value=f"{length_m:g}"))
    ax.text(x0 + length / 2, y0 + 1.6 * height, text, ha="center", va="bottom", fontsize=7, zorder=7,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1))


def _north_arrow(ax, angle_deg: float, messages: Messages) -> None:
    tail = np.array([0.93, 0.80])
    rad = math.radians(angle_deg)
    tip = tail + 0.10 * np.array([math.sin(rad), math.cos(rad)])
    ax.annotate("", xy=tuple(tip), xytext=tuple(tail), xycoords="axes fraction",
                arrowprops=dict(arrowstyle="-|>", color="black", linewidth=1.2), zorder=8)
    ax.text(tip[0], tip[1] + 0.015, messages("figure.north"), transform=ax.transAxes, ha="center", va="bottom",
            fontsize=9, fontweight="bold", zorder=8)


def draw_map(spec: MapFigure, grid: GridSpec, messages: Messages, *, credits: str, version: str) -> Figure:
    """Build the figure of a map (no pyplot, so no global state)."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 6.0))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.03, 0.12, 0.66, 0.78))
        xmin, ymin, xmax, ymax = grid.bounds
        extent = spec.extent or grid.bounds
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
        for layer in spec.vectors:
            _draw_vector(ax, layer)
        if spec.outline is not None:
            ax.add_patch(PathPatch(_polygon_path(spec.outline), facecolor="none", edgecolor="black", linewidth=1.4,
                                   zorder=6))
        ax.set_xlim(extent[0], extent[2])
        ax.set_ylim(extent[1], extent[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        _scale_bar(ax, extent, grid, messages)
        _north_arrow(ax, north_angle_deg(grid, (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2), messages)
        fig.text(0.03, 0.955, spec.title, fontsize=11, fontweight="bold", va="top", parse_math=False)

        # legend column: one colour bar per ramp, then classes and vector symbols
        top = 0.86
        handles = []
        for layer in spec.rasters:
            if isinstance(layer.style, RampStyle):
                cax = fig.add_axes((0.73, top - 0.04, 0.22, 0.025))
                bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=layer.style.norm(), cmap=layer.style.cmap()),
                                   cax=cax, orientation="horizontal")
                bar.ax.tick_params(labelsize=6.5)
                cax.set_title(layer.title, fontsize=7, loc="left", wrap=True)
                top -= 0.13
            else:
                handles += [Patch(facecolor=colour, edgecolor="#666666", linewidth=0.3, label=messages(key))
                            for code, colour, key in layer.style.classes if code not in layer.hidden_classes]
        handles += [_legend_handle(layer) for layer in spec.vectors]
        if spec.outline is not None:
            handles.append(Patch(facecolor="none", edgecolor="black", linewidth=1.4, label=messages("table.unit")))
        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.72, top), fontsize=7, frameon=False,
                       title=messages("legend.title"), title_fontsize=8, alignment="left")
        footer = [messages("figure.crs", crs=_crs_label(grid)),
                  messages("figure.credits", credits=credits, version=version), *spec.notes]
        fig.text(0.03, 0.02, "\n".join(footer), fontsize=6.5, va="bottom", color="#333333", parse_math=False,
                 wrap=True)
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
