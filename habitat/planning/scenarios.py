"""Scenario edits applied at ingest: land-cover change, barriers, crossings, floodplain restoration.

A scenario is a named, ordered list of edits. Each edit is a plain frozen dataclass (geometries in
the grid CRS plus its parameters); :func:`edit_mask` rasterizes its geometries onto the analysis
grid and the ``apply_*`` functions are pure array operations on the habitat-class raster
(:data:`habitat.io.landcover.HABITAT_CLASSES` codes) and on the resistance raster.

Edits and what they model:

- :class:`LandCoverEdit`: cells inside polygons become one class (a reservoir floods a reach ->
  ``water``; cropland expands -> ``cropland``).
- :class:`BarrierEdit`: resistance raised on the cells a new canal, road or fence crosses
  (:func:`habitat.connectivity.resistance.apply_barrier`, rule ``max``: a barrier never eases
  movement).
- :class:`CrossingEdit`: resistance set on the cells of a bridge or underpass (rule ``set``),
  applied after every barrier so a crossing over a new canal opens it.
- :class:`RestorationEdit`: floodplain cells along a reach turn to tugai (a water release);
  only cells of the listed classes inside the floodplain change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import shapely

from habitat.errors import InvalidParameterError
from habitat.grid import GridSpec
from habitat.vocabulary import HABITAT_CLASS_CODES

# habitat.connectivity (numba) and habitat.io.vectors (geopandas, rasterio) are imported where they
# are used: habitat.params reads RESTORABLE_CLASSES from here, and `habitat validate` should not
# pay for the solvers.

#: Classes a water release can turn to tugai by default **[A]**: cleared or dried floodplain
#: land (issue 17: "lost since the baseline, cropland, bare"; grassland and other cover the
#: lost tugai that land-cover products label as steppe or sparse vegetation). Water, built land,
#: snow and existing tugai or reed stay as they are.
RESTORABLE_CLASSES: tuple[str, ...] = ("cropland", "bare", "grassland", "other")


def _geoms(geometries) -> tuple:
    g = tuple(geometries) if not isinstance(geometries, shapely.Geometry) else (geometries,)
    if not all(isinstance(x, shapely.Geometry) for x in g):
        raise InvalidParameterError("edit geometries must be shapely geometries in the grid CRS")
    return g


def _class_code(name: str, what: str) -> int:
    if name not in HABITAT_CLASS_CODES:
        raise InvalidParameterError(f"{what}={name!r} is not a habitat class; use one of {sorted(HABITAT_CLASS_CODES)}")
    return HABITAT_CLASS_CODES[name]


@dataclass(frozen=True)
class LandCoverEdit:
    """Cells inside ``geometries`` (cell centre inside a polygon) become ``to_class``."""

    geometries: tuple
    to_class: str
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "geometries", _geoms(self.geometries))
        _class_code(self.to_class, "to_class")


@dataclass(frozen=True)
class BarrierEdit:
    """Cells touched by ``geometries`` get at least ``resistance`` (inf = impassable)."""

    geometries: tuple
    resistance: float = math.inf
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "geometries", _geoms(self.geometries))
        if not (self.resistance > 0):
            raise InvalidParameterError(f"barrier resistance must be > 0 (inf = impassable), got {self.resistance!r}")


@dataclass(frozen=True)
class CrossingEdit:
    """Cells touched by ``geometries`` get exactly ``resistance`` (a bridge or underpass)."""

    geometries: tuple
    resistance: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "geometries", _geoms(self.geometries))
        if not (math.isfinite(self.resistance) and self.resistance > 0):
            raise InvalidParameterError(f"crossing resistance must be finite and > 0, got {self.resistance!r}")


@dataclass(frozen=True)
class RestorationEdit:
    """Floodplain cells inside ``geometries`` whose class is in ``from_classes`` become ``to_class``."""

    geometries: tuple
    to_class: str = "tugai_forest"
    from_classes: tuple[str, ...] = RESTORABLE_CLASSES
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "geometries", _geoms(self.geometries))
        object.__setattr__(self, "from_classes", tuple(self.from_classes))
        _class_code(self.to_class, "to_class")
        for c in self.from_classes:
            _class_code(c, "from_classes")


Edit = Union[LandCoverEdit, BarrierEdit, CrossingEdit, RestorationEdit]


@dataclass(frozen=True)
class Scenario:
    """A named, ordered list of edits."""

    name: str
    edits: tuple = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).strip():
            raise InvalidParameterError("a scenario needs a non-empty name")
        object.__setattr__(self, "edits", tuple(self.edits))
        for e in self.edits:
            if not isinstance(e, (LandCoverEdit, BarrierEdit, CrossingEdit, RestorationEdit)):
                raise InvalidParameterError(f"scenario {self.name!r}: {type(e).__name__} is not a scenario edit")


# Public API


def edit_mask(edit: Edit, grid: GridSpec) -> np.ndarray:
    """Cells an edit applies to, on the analysis grid.

    Parameters
    ----------
    edit : LandCoverEdit, BarrierEdit, CrossingEdit or RestorationEdit
        Geometries in the grid CRS.
    grid : GridSpec
        The analysis grid.

    Returns
    -------
    ndarray of bool, shape grid.shape

    Notes
    -----
    Polygons take the cells whose centre lies inside (:func:`habitat.io.vectors.rasterize_labels`,
    so areas are counted once); lines and points take every cell they touch
    (:func:`habitat.io.vectors.rasterize_presence`), so a barrier line has no gaps.
    """
    from habitat.io.vectors import rasterize_labels, rasterize_presence

    g = np.asarray(edit.geometries, dtype=object)
    if g.size == 0:
        return np.zeros(grid.shape, bool)
    polys = shapely.get_dimensions(g) == 2
    mask = rasterize_labels(g[polys], np.ones(int(polys.sum()), np.int32), grid) > 0 if polys.any() else \
        np.zeros(grid.shape, bool)
    if (~polys).any():
        mask |= rasterize_presence(g[~polys], grid)
    return mask


def apply_landcover_edits(classes, edits, masks, *, floodplain=None) -> np.ndarray:
    """Apply land-cover and restoration edits, in order, to a habitat-class raster.

    Parameters
    ----------
    classes : array_like of int, shape (rows, cols)
        Habitat-class codes (:data:`habitat.io.landcover.HABITAT_CLASS_CODES`, 0 = nodata).
    edits : sequence of Edit
        The scenario's edits; barrier and crossing edits are skipped here.
    masks : sequence of ndarray of bool
        One mask per edit (:func:`edit_mask`), same shape as ``classes``.
    floodplain : array_like of bool, optional
        Restoration edits change only cells inside it (default: no restriction).

    Returns
    -------
    ndarray
        New class raster (the input is not modified); nodata cells stay nodata.

    Examples
    --------
    >>> water = HABITAT_CLASS_CODES["water"]
    >>> edit = LandCoverEdit(geometries=(), to_class="water")
    >>> apply_landcover_edits([[1, 1, 0]], [edit], [np.array([[False, True, True]])]).tolist() == [[1, water, 0]]
    True
    """
    out = np.array(classes, copy=True)
    if len(edits) != len(masks):
        raise InvalidParameterError(f"{len(edits)} edits but {len(masks)} masks; give one mask per edit")
    fp = None if floodplain is None else np.asarray(floodplain, dtype=bool)
    valid = out != 0
    for edit, mask in zip(edits, masks):
        m = np.asarray(mask, dtype=bool)
        if m.shape != out.shape:
            raise InvalidParameterError(f"edit {edit.name!r}: mask shape {m.shape} differs from the grid {out.shape}")
        if isinstance(edit, LandCoverEdit):
            out[m & valid] = HABITAT_CLASS_CODES[edit.to_class]
        elif isinstance(edit, RestorationEdit):
            cells = m & np.isin(out, [HABITAT_CLASS_CODES[c] for c in edit.from_classes])
            if fp is not None:
                cells &= fp
            out[cells] = HABITAT_CLASS_CODES[edit.to_class]
    return out


def apply_resistance_edits(resistance, edits, masks):
    """Apply barrier edits (rule max), then crossing edits (rule set), to a resistance raster.

    Parameters
    ----------
    resistance : array_like or xarray.DataArray
        Resistance (>= 0, inf impassable).
    edits, masks
        As :func:`apply_landcover_edits`; land-cover and restoration edits are skipped here
        (they act through the class raster).

    Returns
    -------
    ndarray or xarray.DataArray
        New resistance (:func:`habitat.connectivity.resistance.apply_barrier` per edit).

    Examples
    --------
    >>> r = apply_resistance_edits(np.ones(3), [BarrierEdit(geometries=(), resistance=500),
    ...                                         CrossingEdit(geometries=(), resistance=2)],
    ...                            [np.array([True, True, False]), np.array([True, False, False])])
    >>> r.tolist()
    [2.0, 500.0, 1.0]
    """
    from habitat.connectivity.resistance import apply_barrier

    if len(edits) != len(masks):
        raise InvalidParameterError(f"{len(edits)} edits but {len(masks)} masks; give one mask per edit")
    out = resistance.copy() if hasattr(resistance, "dims") else np.array(resistance, dtype=np.float64)
    for kind, rule in ((BarrierEdit, "max"), (CrossingEdit, "set")):
        for edit, mask in zip(edits, masks):
            if isinstance(edit, kind):
                out = apply_barrier(out, mask, resistance_value=edit.resistance, rule=rule)
    return out


def apply_scenario(scenario: Scenario, grid: GridSpec, *, classes, resistance=None, floodplain=None):
    """Rasterize a scenario's edits and apply them to the class and resistance rasters.

    Parameters
    ----------
    scenario : Scenario
        Edits in the grid CRS.
    grid : GridSpec
        The analysis grid (shape of ``classes``).
    classes : array_like of int
        Habitat-class raster.
    resistance : array_like, optional
        Resistance raster; None skips barrier and crossing edits.
    floodplain : array_like of bool, optional
        Limits restoration edits (:func:`apply_landcover_edits`).

    Returns
    -------
    classes : ndarray
        Edited class raster.
    resistance : ndarray or None
        Edited resistance (None when none was given).
    """
    masks = [edit_mask(e, grid) for e in scenario.edits]
    new_classes = apply_landcover_edits(classes, scenario.edits, masks, floodplain=floodplain)
    new_resistance = None if resistance is None else apply_resistance_edits(resistance, scenario.edits, masks)
    return new_classes, new_resistance


def changed_cells(before, after) -> np.ndarray:
    """Cells whose value differs between two rasters of one shape (NaN equals NaN)."""
    a, b = np.asarray(before), np.asarray(after)
    if a.shape != b.shape:
        raise InvalidParameterError(f"rasters differ in shape: {a.shape} and {b.shape}")
    if np.issubdtype(a.dtype, np.floating) or np.issubdtype(b.dtype, np.floating):
        return ~((a == b) | (np.isnan(a.astype(float)) & np.isnan(b.astype(float))))
    return a != b
