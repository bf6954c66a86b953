"""Habitat area change between two dates and effective mesh size per reporting unit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage

from habitat.errors import InvalidParameterError
from habitat.suitability.patches import label_areas_m2
from habitat.vocabulary import CHANGE_CODES, CHANGE_NODATA, NEIGHBOURHOODS

_M2_PER_HA = 10_000.0


def _mask(value, name: str, shape=None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise InvalidParameterError(f"{name} must be a 2-D mask on the analysis grid, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise InvalidParameterError(
            f"{name} has shape {arr.shape} but habitat_t1/habitat has {shape}; put both on one grid"
        )
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or (
            np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any()
        ):
            raise InvalidParameterError(
                f"{name} must be a boolean (or 0/1) mask without NaN; fill nodata with 0 first"
            )
        arr = arr != 0
    return arr


def _cell_area(cell_area_m2, shape) -> np.ndarray | float:
    area = np.asarray(cell_area_m2, dtype=np.float64)
    if area.ndim == 0:
        if not (math.isfinite(float(area)) and area > 0):
            raise InvalidParameterError(f"cell_area_m2 must be a positive area in m², got {cell_area_m2!r}")
        return float(area)
    if area.shape != shape:
        raise InvalidParameterError(
            f"cell_area_m2 must be a number or an array of the grid shape {shape}, got {area.shape}"
        )
    if not np.all(np.isfinite(area) & (area > 0)):
        raise InvalidParameterError("cell_area_m2 must be positive and finite everywhere (m² per cell)")
    return area


def _zones(units, shape) -> tuple[np.ndarray, np.ndarray]:
    """Unit id raster (0 = outside) and its sorted nonzero ids; one unit when None."""
    if units is None:
        return np.ones(shape, np.int64), np.array([1])
    zone = np.asarray(units)
    if zone.shape != shape:
        raise InvalidParameterError(
            f"units has shape {zone.shape} but the habitat masks have {shape}; rasterize units on the grid"
        )
    if zone.dtype == bool:
        zone = zone.astype(np.int64)
    if not np.issubdtype(zone.dtype, np.integer):
        raise InvalidParameterError(
            f"units must be an integer id raster (0 = outside every unit) or a mask, got {zone.dtype}"
        )
    # strip by strip: the ids of a grid-sized raster without a grid-sized sorted copy
    parts = [np.unique(strip[strip != 0]) for strip in (zone[r0:r0 + 256] for r0 in range(0, shape[0], 256))]
    ids = np.unique(np.concatenate(parts)) if parts else np.zeros(0, zone.dtype)
    return zone, ids


def _sum_by_unit(zone, ids, select, weights, *, selected: bool = False) -> np.ndarray:
    """Sum of ``weights`` over the selected cells of each unit id (``selected``: ``weights``
    holds the values of the selected cells only, in raster order).

    With one integer-valued weight (a cell area such as 900 m2) the float sums are exactly
    ``count * weight`` below 2^53: cells are counted strip by strip instead (same numbers,
    no grid-sized temporaries).
    """
    if not selected and np.ndim(weights) == 0 and float(weights).is_integer():
        counts = np.zeros(ids.size, np.int64)
        for r0 in range(0, zone.shape[0], 256):
            z = zone[r0:r0 + 256][select[r0:r0 + 256]]
            pos = np.searchsorted(ids, z)
            known = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == z)
            counts += np.bincount(pos[known], minlength=ids.size)
        if counts.max(initial=0) * float(weights) < 2.0**53:
            return counts * float(weights)
    z = zone[select]
    w = weights if selected else weights[select] if np.ndim(weights) else np.full(z.shape, float(weights))
    pos = np.searchsorted(ids, z)
    inside = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == z)
    return np.bincount(pos[inside], weights=w[inside], minlength=ids.size)


def _unit_boxes(zone: np.ndarray, ids: np.ndarray, strip_rows: int = 256) -> list[tuple[slice, slice] | None]:
    """Bounding box of each unit id (``ndimage.find_objects`` order), strip by strip.

    ``zone`` is an array or anything read as ``zone[rows, cols]`` with a ``shape``.

    Each strip's ids are made dense (1..len(ids), 0 outside) and boxed; the boxes of the strips
    are joined, so no grid-sized index raster is made.
    """
    # a lookup table when the ids are small positive integers; else a search per strip
    lut = None
    if ids.min() > 0 and int(ids.max()) < (1 << 24):
        lut = np.zeros(int(ids.max()) + 1, np.int64)
        lut[ids] = np.arange(1, ids.size + 1)
    lo = np.full((ids.size, 2), np.iinfo(np.int64).max, np.int64)
    hi = np.full((ids.size, 2), -1, np.int64)
    height = zone.shape[0]
    for r0 in range(0, height, strip_rows):
        strip = np.asarray(zone[r0:min(height, r0 + strip_rows), :])
        # values that are not one of ``ids`` belong to no unit
        if lut is not None:
            dense = lut[np.where((strip > 0) & (strip < lut.size), strip, 0)]
        else:
            pos = np.searchsorted(ids, strip)
            dense = pos + 1
            dense[(strip == 0) | (ids[np.minimum(pos, ids.size - 1)] != strip)] = 0
        for pos, box in enumerate(ndimage.find_objects(dense, max_label=ids.size)):
            if box is not None:
                lo[pos] = np.minimum(lo[pos], (box[0].start + r0, box[1].start))
                hi[pos] = np.maximum(hi[pos], (box[0].stop + r0, box[1].stop))
    return [None if hi[k, 0] < 0 else (slice(int(lo[k, 0]), int(hi[k, 0])), slice(int(lo[k, 1]), int(hi[k, 1])))
            for k in range(ids.size)]


# Public API


def change_map(habitat_t1, habitat_t2, *, valid=None) -> np.ndarray:
    """Classify every cell as never, stable, lost or gained habitat between two dates.

    Parameters
    ----------
    habitat_t1, habitat_t2 : array_like of bool, shape (rows, cols)
        Habitat masks at the first and second date (nonzero = habitat).
    valid : array_like of bool, optional
        Cells with data at both dates; others get ``CHANGE_NODATA`` (255).

    Returns
    -------
    ndarray of uint8
        ``CHANGE_CODES``: 0 never, 1 stable (habitat at both dates), 2 lost (t1 only),
        3 gained (t2 only); 255 where not ``valid``.

    Examples
    --------
    >>> change_map([[1, 1, 0, 0]], [[1, 0, 1, 0]]).tolist()
    [[1, 2, 3, 0]]
    """
    h1 = _mask(habitat_t1, "habitat_t1")
    h2 = _mask(habitat_t2, "habitat_t2", h1.shape)
    # 2*h1 + h2 gives 0 never, 1 gained, 2 lost, 3 stable; the table maps it to our codes.
    table = np.array(
        [CHANGE_CODES["never"], CHANGE_CODES["gained"], CHANGE_CODES["lost"], CHANGE_CODES["stable"]],
        np.uint8,
    )
    out = table[2 * h1.astype(np.uint8) + h2.astype(np.uint8)]
    if valid is not None:
        out[~_mask(valid, "valid", h1.shape)] = CHANGE_NODATA
    return out


def change_map_blocks(read, shape: tuple[int, int], *, strip_rows: int = 256) -> np.ndarray:
    """:func:`change_map` of a grid read strip by strip (the same codes cell for cell).

    Parameters
    ----------
    read : callable
        ``read(rows, cols) -> (habitat_t1, habitat_t2, valid)`` bool windows of the grid.
    shape : (int, int)
        Grid shape.
    strip_rows : int
        Rows per strip.

    Returns
    -------
    ndarray of uint8, shape ``shape``
        As :func:`change_map`; the only grid-sized array made (1 byte a cell).
    """
    height, width = int(shape[0]), int(shape[1])
    out = np.empty((height, width), np.uint8)
    for r0 in range(0, height, max(1, int(strip_rows))):
        rows = slice(r0, min(height, r0 + max(1, int(strip_rows))))
        h1, h2, valid = read(rows, slice(0, width))
        out[rows] = change_map(h1, h2, valid=valid)
    return out


def habitat_change(habitat_t1, habitat_t2, *, cell_area_m2, units=None) -> pd.DataFrame:
    """Habitat area at two dates, loss, gain, net change and % loss per reporting unit.

    Parameters
    ----------
    habitat_t1, habitat_t2 : array_like of bool, shape (rows, cols)
        Habitat masks at the two dates on the same equal-area grid (nonzero = habitat).
    cell_area_m2 : float or array_like
        Area of one cell in m² (> 0), or per cell (geodesic areas on a geographic grid).
    units : array_like of int or bool, optional
        Reporting-unit id per cell, 0 = outside every unit (a bool mask is unit 1). Default:
        the whole grid is unit 1.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id (name ``"unit"``), columns ``unit_area_ha, area_t1_ha,
        area_t2_ha, loss_ha, gain_ha, net_ha, loss_pct``.

    Notes
    -----
    METHODS.md section 4, with ``a_x`` the cell area: ``loss = sum a_x [H1 and not H2]``,
    ``gain = sum a_x [not H1 and H2]``, ``net = gain - loss = area_t2 - area_t1``,
    ``loss_pct = 100 loss / area_t1`` (NaN when there was no habitat at t1). Areas in ha
    (1 ha = 10^4 m²), all >= 0 except net; loss_pct in [0, 100].

    Examples
    --------
    >>> habitat_change([[1, 1, 0]], [[1, 0, 1]], cell_area_m2=1e4)["loss_pct"].tolist()
    [50.0]
    """
    h1 = _mask(habitat_t1, "habitat_t1")
    h2 = _mask(habitat_t2, "habitat_t2", h1.shape)
    area = _cell_area(cell_area_m2, h1.shape)
    zone, ids = _zones(units, h1.shape)
    inside = zone != 0
    total = _sum_by_unit(zone, ids, inside, area) / _M2_PER_HA
    a1 = _sum_by_unit(zone, ids, inside & h1, area) / _M2_PER_HA
    a2 = _sum_by_unit(zone, ids, inside & h2, area) / _M2_PER_HA
    loss = _sum_by_unit(zone, ids, inside & h1 & ~h2, area) / _M2_PER_HA
    gain = _sum_by_unit(zone, ids, inside & ~h1 & h2, area) / _M2_PER_HA
    with np.errstate(divide="ignore", invalid="ignore"):
        loss_pct = np.where(a1 > 0, 100.0 * loss / a1, np.nan)
    return pd.DataFrame(
        {
            "unit_area_ha": total,
            "area_t1_ha": a1,
            "area_t2_ha": a2,
            "loss_ha": loss,
            "gain_ha": gain,
            "net_ha": gain - loss,
            "loss_pct": loss_pct,
        },
        index=pd.Index(ids, name="unit"),
    )


def annual_rate(area_t1, area_t2, *, year_t1: float, year_t2: float):
    """Annual rate of habitat change (Puyravaud 2003; FAO Forest Resources Assessment).

    Parameters
    ----------
    area_t1, area_t2 : float or array_like
        Habitat area at the two dates (any one unit, e.g. ha), >= 0.
    year_t1, year_t2 : float
        Dates in years, ``year_t2 > year_t1``.

    Returns
    -------
    float or ndarray
        ``r`` per year (negative = loss): -inf when all habitat is lost, NaN when there was
        none at t1.

    Notes
    -----
    ``r = ln(A2 / A1) / (t2 - t1)``; ``A2 = A1 exp(r (t2 - t1))``.

    Examples
    --------
    >>> round(annual_rate(100.0, 90.0, year_t1=2010, year_t2=2020), 6)
    -0.010536
    """
    if not (math.isfinite(year_t1) and math.isfinite(year_t2) and year_t2 > year_t1):
        raise InvalidParameterError(
            f"year_t2 ({year_t2!r}) must be later than year_t1 ({year_t1!r}); check the epoch years"
        )
    a1 = np.asarray(area_t1, dtype=np.float64)
    a2 = np.asarray(area_t2, dtype=np.float64)
    if np.any(a1 < 0) or np.any(a2 < 0) or np.isnan(a1).any() or np.isnan(a2).any():
        raise InvalidParameterError("area_t1 and area_t2 must be areas >= 0 (no NaN)")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(a1 > 0, np.log(a2 / np.where(a1 > 0, a1, 1.0)) / (year_t2 - year_t1), np.nan)
    return float(rate) if rate.ndim == 0 else rate


def effective_mesh_size(habitat, *, cell_area_m2, units=None, neighbours: int = 8) -> pd.DataFrame:
    """Effective mesh size per reporting unit, cutting-out (CUT) and cross-boundary (CBC).

    Parameters
    ----------
    habitat : array_like of bool, shape (rows, cols)
        Habitat mask over the whole analysis grid, including beyond the units, so that patches
        crossing a unit boundary are seen complete.
    cell_area_m2 : float or array_like
        Area of one cell in m² (> 0), or per cell.
    units : array_like of int or bool, optional
        Reporting-unit id per cell, 0 = outside (a bool mask is unit 1); default the whole grid.
    neighbours : {8, 4}, optional
        Patch connectivity rule.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id (name ``"unit"``), columns ``unit_area_ha, MESH_CUT, MESH_CBC`` (ha).

    Notes
    -----
    Jaeger (2000) and Moser et al. (2007), with ``A`` the unit area (all its cells):

    - ``MESH_CUT = sum_i (a_i^in)^2 / A``: patches cut at the unit boundary (pieces inside
      that are not connected inside the unit are separate patches);
    - ``MESH_CBC = sum_i a_i^in a_i^cmpl / A``: each piece inside weighted by the area of the
      complete patch it belongs to.

    Both lie in [0, ...]; ``MESH_CUT <= A`` and ``MESH_CUT <= MESH_CBC``. Check: a 100 ha unit
    with patches of 30 and 20 ha gives 13 ha; if the 30 ha patch continues for another 30 ha
    outside, CBC gives (30 * 60 + 20 * 20) / 100 = 22 ha.

    Examples
    --------
    >>> effective_mesh_size([[1, 1, 0, 1]], cell_area_m2=1e4)["MESH_CUT"].tolist()
    [1.25]
    """
    h = _mask(habitat, "habitat")
    if neighbours not in (4, 8):
        raise InvalidParameterError(f"neighbours must be 4 or 8, got {neighbours!r}")
    area = _cell_area(cell_area_m2, h.shape)
    zone, ids = _zones(units, h.shape)
    area_grid = np.broadcast_to(area, h.shape)
    structure = NEIGHBOURHOODS[neighbours]

    labels, n = ndimage.label(h, structure=structure)
    complete = label_areas_m2(labels, n, area)
    complete[0] = 0.0
    inside = zone != 0
    unit_area = _sum_by_unit(zone, ids, inside, area)
    select = inside & h
    if np.ndim(area) == 0:  # the same products, formed for the selected cells only
        cbc_num = _sum_by_unit(zone, ids, select, area * complete[labels[select]], selected=True)
    else:
        cbc_num = _sum_by_unit(zone, ids, select, area_grid * complete[labels])

    cut_num = np.zeros(ids.size)
    if ids.size:
        # Label each unit's habitat within the unit's bounding box only: the cost is the sum
        # of the boxes, not units x grid.
        boxes = _unit_boxes(zone, ids)
        for pos, box in enumerate(boxes):
            if box is None:
                continue
            sub = h[box] & (zone[box] == ids[pos])
            lab, m = ndimage.label(sub, structure=structure)
            if m == 0:
                continue
            pieces = label_areas_m2(lab, m, area if np.ndim(area) == 0 else area[box])[1:]
            cut_num[pos] = float(np.sum(pieces * pieces))
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "unit_area_ha": unit_area / _M2_PER_HA,
                "MESH_CUT": cut_num / unit_area / _M2_PER_HA,
                "MESH_CBC": cbc_num / unit_area / _M2_PER_HA,
            },
            index=pd.Index(ids, name="unit"),
        )
