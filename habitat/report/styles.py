"""Colour ramps and class colours shared by the figures, the HTML map and the QGIS styles.

One style object per layer drives all three, so a colour in a figure is the colour of the same
value in the interactive map and in QGIS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap, ListedColormap, Normalize, to_rgba

from habitat.vocabulary import HABITAT_CLASSES

#: Ramps as colour lists spread evenly between a layer's low and high value.
RAMPS: dict[str, tuple[str, ...]] = {
    "suitability": ("#ffffe5", "#d9f0a3", "#78c679", "#238443", "#004529"),
    "resistance": ("#fff5eb", "#fdbe85", "#fd8d3c", "#d94701", "#7f2704"),
    # corridors hold cost above the least-cost path: low values are the best corridor
    "corridors": ("#3f007d", "#6a51a3", "#9e9ac8", "#dadaeb", "#fcfbfd"),
    "current": ("#000004", "#51127c", "#b73779", "#fc8961", "#fcfdbf"),
    "barrier": ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
    "generic": ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"),
}

#: Which ramp a known layer uses and whether its range is fixed.
LAYER_RAMPS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "suitability": ("suitability", (0.0, 1.0)),
    "quality": ("suitability", (0.0, 1.0)),
    "resistance": ("resistance", None),
    "corridors": ("corridors", None),
    "current": ("current", None),
    "current_density": ("current", None),
    "cumulative_current": ("current", None),
    "pinch_points": ("current", None),
    "barrier_improvement": ("barrier", None),
}

HABITAT_CLASS_COLOURS: dict[str, str] = {
    "tugai_forest": "#1b7837", "tugai_shrub": "#7fbc41", "reed_wetland": "#80cdc1", "water": "#2166ac",
    "grassland": "#dfc27d", "cropland": "#f1a340", "built": "#b2182b", "bare": "#e7e1d4",
    "snow": "#ffffff", "other": "#999999",
}

#: Change codes of habitat.indicators.change.change_map: 0 never, 1 stable, 2 lost, 3 gained.
CHANGE_COLOURS: dict[int, tuple[str, str]] = {
    0: ("never", "#eeeeee"), 1: ("stable", "#4daf4a"), 2: ("lost", "#e41a1c"), 3: ("gained", "#377eb8"),
}

#: Vector symbols: (geometry, fill colour or None, edge colour, line width in points, marker size in mm).
VECTOR_SYMBOLS: dict[str, tuple[str, str | None, str, float, float]] = {
    "populations": ("point", "#d7301f", "#000000", 0.6, 3.0),
    "sites": ("point", "#ffd700", "#000000", 0.6, 3.6),
    # magenta: stands out on the yellow-to-dark-green suitability ramp the patches are drawn over
    "patches": ("polygon", None, "#c51b7d", 0.7, 0.0),
    "reporting_units": ("polygon", None, "#333333", 0.8, 0.0),
    "historical_range": ("polygon", None, "#8c510a", 1.2, 0.0),
    "least_cost_paths": ("line", None, "#6a51a3", 1.0, 0.0),
    "least_cost_paths_unconnected": ("line", None, "#a6a6a6", 0.6, 0.0),
}
GENERIC_SYMBOL = {"point": ("point", "#2b8cbe", "#000000", 0.5, 2.6),
                  "line": ("line", None, "#2b8cbe", 0.8, 0.0),
                  "polygon": ("polygon", None, "#2b8cbe", 0.6, 0.0)}


@dataclass(frozen=True)
class RampStyle:
    """A continuous style: ``colours`` spread evenly from ``low`` to ``high`` (clipped outside).

    NaN cells are transparent.
    """

    colours: tuple[str, ...]
    low: float
    high: float

    @property
    def stops(self) -> list[tuple[float, str]]:
        """(value, colour) pairs of the ramp, as QGIS needs them."""
        values = np.linspace(self.low, self.high, len(self.colours))
        return [(float(v), c) for v, c in zip(values, self.colours)]

    def cmap(self) -> LinearSegmentedColormap:
        return LinearSegmentedColormap.from_list("habitat", list(self.colours), N=256)

    def norm(self) -> Normalize:
        high = self.high if self.high > self.low else self.low + 1.0
        return Normalize(vmin=self.low, vmax=high, clip=True)

    def rgba(self, values: np.ndarray) -> np.ndarray:
        """RGBA bytes, shape ``values.shape + (4,)``; NaN is fully transparent."""
        values = np.asarray(values, dtype=np.float64)
        out = self.cmap()(self.norm()(np.where(np.isfinite(values), values, self.low)), bytes=True)
        out[..., 3] = np.where(np.isfinite(values), 255, 0)
        return out


@dataclass(frozen=True)
class ClassStyle:
    """A categorical style: (code, colour, message key) per class; other codes are transparent."""

    classes: tuple[tuple[int, str, str], ...]

    def cmap(self) -> tuple[ListedColormap, BoundaryNorm]:
        codes = [c for c, _, _ in self.classes]
        bounds = [c - 0.5 for c in codes] + [codes[-1] + 0.5]
        return ListedColormap([colour for _, colour, _ in self.classes]), BoundaryNorm(bounds, len(codes))

    def rgba(self, values: np.ndarray, *, transparent: tuple[int, ...] = ()) -> np.ndarray:
        values = np.asarray(values)
        out = np.zeros(values.shape + (4,), dtype=np.uint8)
        for code, colour, _ in self.classes:
            if code in transparent:
                continue
            out[values == code] = np.round(np.array(to_rgba(colour)) * 255).astype(np.uint8)
        return out


def habitat_class_style() -> ClassStyle:
    """Habitat classes 1..10 (habitat.io.landcover.HABITAT_CLASSES order)."""
    return ClassStyle(tuple((i + 1, HABITAT_CLASS_COLOURS[name], f"class.{name}")
                            for i, name in enumerate(HABITAT_CLASSES)))


def change_style() -> ClassStyle:
    return ClassStyle(tuple((code, colour, f"change.{name}") for code, (name, colour) in CHANGE_COLOURS.items()))


def data_range(values: np.ndarray) -> tuple[float, float]:
    """The 2nd and 98th percentiles of the finite values (0, 1 when there are none).

    Notes
    -----
    A percentile stretch keeps one extreme cell (a pinch point, a barrier) from flattening the
    ramp; both ends are rounded to 6 significant digits so the style text is stable.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, [2, 98])
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        high = low + 1.0
    return float(f"{low:.6g}"), float(f"{high:.6g}")


def raster_style(layer_id: str, values: np.ndarray) -> RampStyle | ClassStyle:
    """The style of a raster layer by its id; unknown layers get the generic ramp on their range."""
    if layer_id.startswith("habitat_class"):
        return habitat_class_style()
    if layer_id in ("change", "habitat_change"):
        return change_style()
    ramp, fixed = LAYER_RAMPS.get(layer_id, ("generic", None))
    low, high = fixed if fixed is not None else data_range(values)
    return RampStyle(RAMPS[ramp], low, high)


def vector_symbol(layer_id: str, geometry_type: str) -> tuple[str, str | None, str, float, float]:
    """(geometry, fill, edge, line width pt, marker size mm) of a vector layer."""
    kind = geometry_type.lower().removeprefix("multi")
    kind = {"linestring": "line"}.get(kind, kind)
    kind = kind if kind in GENERIC_SYMBOL else "polygon"
    if layer_id in VECTOR_SYMBOLS:
        # the layer's colours on the geometry it really has (sites may be points or outlines)
        _, fill, edge, width_pt, size_mm = VECTOR_SYMBOLS[layer_id]
        if kind == "polygon" and fill is not None:
            return kind, fill, edge, width_pt, size_mm
        return kind, fill if kind != "line" else None, edge if kind != "line" or fill is None else fill, width_pt, size_mm
    return GENERIC_SYMBOL[kind]
