"""Terrain layers from a DEM on the analysis grid: slope, height above the nearest river, coverage.

Also the terrain criteria of tugai habitat (altitude, slope, height above the river) and the
terrain cost factors of movement resistance, each with the source of its thresholds.

Pure functions: arrays and parameters in, arrays out. NaN is nodata throughout (cells outside
the DEM); it propagates and is counted by :func:`dem_coverage`, never read as flat ground.

Threshold sources (flags as in DOMAIN.md: [A] engineering assumption)
--------------------------------------------------------------------
- Altitude. The Bukhara deer is a lowland subspecies of the desert river valleys (Wikipedia,
  "Bactrian deer": "native to the lowlands of Central Asia", separated from the Yarkand deer by
  the Tian Shan). In Tajikistan tugai grows in the plains of the desert belt below about 500 m,
  on the floodplains of the lower Vakhsh, Panj, Kafirnigan and Kyzylsu (Great Soviet
  Encyclopedia, "Tajik SSR", vegetation), at 300-600 m (ru.wikipedia "Тугайный лес", section
  Tajikistan). The highest occupied sites sit at about 750 m (Zarafshan NNP on the Zeravshan
  near Samarkand) and 500-1,000 m in the Ili valley (Karachingil, Altyn-Emel release area):
  elevation.tif of data/central_asia at the population points. Full membership therefore up to
  ``ALTITUDE_FULL_M`` = 1,000 m, none from ``ALTITUDE_ZERO_M`` = 1,500 m (the Dashtijum gorge
  reserve on the Panj, at about 1,500 m, is the reference of a place that must score low) [A
  for the ramp between].
- Slope. Floodplains and low terraces are flat: river gradients of the Amu Darya and Syr Darya
  are 0.01-0.03 % and alluvial depressions of the Murgab delta slope 0.001-0.003 (Springer,
  Sabkha Ecosystems ch. 14, 2006), i.e. well under 1 degree. A 5 km cell that averages valley
  floor and terrace risers stays within a few degrees; ``SLOPE_FULL_DEG`` = 3, zero at
  ``SLOPE_ZERO_DEG`` = 10 (mountain sides and gorges) [A].
  Slope depends on the grid: on the 5 km Central Asia grid (elevation.tif averaged to 5 km) the
  floodplain cells' 99th percentile slope is 2.3 degrees and even the Dashtijum gorge cell is 4.4
  degrees, so there the slope criterion barely bites and altitude and height above the river
  exclude the gorges (measured, data/central_asia/PROVENANCE.md); on grids of 1 km or finer the
  slope thresholds separate valley floors from valley sides.
- Height above the river. Tugai needs groundwater within root reach: the minimum groundwater
  depths for young, near-mature, mature and over-mature *Populus euphratica* are 4.0, 5.0-5.4,
  6.9 and 7.8 m (Ling et al. 2015, Sci. Rep. 5:15418), and the water table of a floodplain sits
  near river level, so land more than about 8 m above the river is beyond the tugai's reach.
  The DEMs blur this: GLOBE and GEBCO_2023 differ by a median 17 m where both cover the study
  area (data/central_asia/PROVENANCE.md), and a 5 km cell averages floodplain and terrace.
  ``HAND_FULL_M`` = 10 m (the groundwater limit rounded up) and ``HAND_ZERO_M`` = 60 m (the
  10 m limit plus about three times the DEM disagreement) [A for the margin].
- Slope cost. Walking uphill costs a deer the work against gravity on top of level walking.
  Parker, Robbins & Hanley (1984, J. Wildl. Manage. 48:474-488) measured 5.9 kcal per kg per
  vertical km for mule deer and elk (24.7 J kg^-1 per vertical m); the net cost of level
  walking of a 150 kg mammal is 10.7 * 150^-0.316 = 2.19 J kg^-1 m^-1 (Taylor, Heglund &
  Maloiy 1982, J. Exp. Biol. 97:1-21; the Bukhara deer weighs 120-200 kg, eco.gov.uz 2023).
  One metre of path at slope theta costs ``1 + k sin(theta)`` level metres with
  ``k`` = 24.7 / 2.19 = 11.3 (``CLIMB_COST_RATIO``). Applied to both directions of a step (the
  resistance surface has no direction): a conservative upper bound for downhill steps.
- Altitude cost. Above the valley floors lie mountains without tugai, water in winter or cover:
  the Tian Shan is what separates the Bukhara deer from the Yarkand deer (Wikipedia, "Bactrian
  deer"). Resistance is multiplied by ``ALTITUDE_COST_MAX`` ** t with
  t = clip((z - 1,000 m) / (2,000 m - 1,000 m), 0, 1): 1 at the highest occupied valleys,
  the full factor 100 from 2,000 m (a barrier-like cost, [A]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from habitat.errors import GridMismatchError, InvalidParameterError
from habitat.suitability.membership import fuzzy_linear

__all__ = [
    "ALTITUDE_COST_FULL_M",
    "ALTITUDE_COST_MAX",
    "ALTITUDE_COST_START_M",
    "ALTITUDE_FULL_M",
    "ALTITUDE_ZERO_M",
    "CLIMB_COST_RATIO",
    "HAND_FULL_M",
    "HAND_ZERO_M",
    "METRES_PER_DEGREE",
    "SLOPE_FULL_DEG",
    "SLOPE_ZERO_DEG",
    "DemCoverage",
    "altitude_cost_factor",
    "altitude_membership",
    "cell_size_m",
    "dem_coverage",
    "height_above_river",
    "height_above_river_membership",
    "slope_cost_factor",
    "slope_degrees",
    "slope_membership",
    "terrain_resistance",
    "VALLEY_DISTANCE_M",
    "valley_floodplain",
]

#: Length of one degree of latitude (and of longitude at the equator), m; as GridSpec.metres_per_unit.
METRES_PER_DEGREE = 111_320.0

#: Altitude membership: 1 up to ALTITUDE_FULL_M, 0 from ALTITUDE_ZERO_M (module docstring).
ALTITUDE_FULL_M = 1_000.0
ALTITUDE_ZERO_M = 1_500.0
#: Slope membership (degrees): 1 up to SLOPE_FULL_DEG, 0 from SLOPE_ZERO_DEG [A].
SLOPE_FULL_DEG = 3.0
SLOPE_ZERO_DEG = 10.0
#: Height-above-river membership (m): 1 up to HAND_FULL_M (Ling et al. 2015), 0 from HAND_ZERO_M [A].
HAND_FULL_M = 10.0
HAND_ZERO_M = 60.0
#: Vertical / level net cost of walking for a 150 kg deer (Parker et al. 1984; Taylor et al. 1982).
CLIMB_COST_RATIO = 11.3
#: Altitude cost: factor 1 up to ALTITUDE_COST_START_M, ALTITUDE_COST_MAX from ALTITUDE_COST_FULL_M [A].
ALTITUDE_COST_START_M = 1_000.0
ALTITUDE_COST_FULL_M = 2_000.0
ALTITUDE_COST_MAX = 100.0
#: Valley floodplain: farthest a valley-floor cell may lie from the river it is linked to (m) [A].
VALLEY_DISTANCE_M = 30_000.0


# --------------------------------------------------------------------------- geometry


def cell_size_m(
    shape: tuple[int, int],
    transform: tuple[float, float, float, float, float, float],
    *,
    geographic: bool,
    metres_per_unit: float = 1.0,
) -> tuple[np.ndarray, float]:
    """Cell width per row and cell height of a north-up grid, in metres.

    Parameters
    ----------
    shape : (height, width)
    transform : 6 floats
        Rasterio affine ``(a, b, c, d, e, f)``; north-up (``b = d = 0``, ``e < 0``).
    geographic : bool
        True for a lon/lat grid (degrees).
    metres_per_unit : float
        Metres per CRS unit of a projected grid (1 for metres); ignored when geographic.

    Returns
    -------
    dx_m : ndarray, shape (height,)
        Cell width of each row, m.
    dy_m : float
        Cell height, m.

    Notes
    -----
    Geographic grids use a sphere of 111,320 m per degree (as ``GridSpec.metres_per_unit``):
    ``dy = |e| * 111320``, ``dx(row) = a * 111320 * cos(lat_row)`` at the row-centre latitude.
    The spherical approximation is within 0.5 % of the WGS84 ellipsoid at 36-47 N.
    """
    a, b, _, d, e, f = (float(v) for v in transform)
    if b != 0 or d != 0 or e >= 0 or a <= 0:
        raise InvalidParameterError("terrain: the grid must be north-up without rotation (b = d = 0, a > 0, e < 0)")
    height = int(shape[0])
    if geographic:
        lat = f + (np.arange(height) + 0.5) * e
        dx = a * METRES_PER_DEGREE * np.cos(np.deg2rad(lat))
        return dx.astype(np.float64), abs(e) * METRES_PER_DEGREE
    return np.full(height, a * metres_per_unit, dtype=np.float64), abs(e) * metres_per_unit


def _as_2d(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise InvalidParameterError(f"terrain: {name} must be a 2-D array, got shape {arr.shape}")
    return arr


def _row_widths(dx_m: float | np.ndarray, height: int) -> np.ndarray:
    dx = np.broadcast_to(np.asarray(dx_m, dtype=np.float64), (height,)) if np.ndim(dx_m) <= 1 else None
    if dx is None or dx.shape != (height,):
        raise GridMismatchError(f"terrain: dx_m must be a number or one width per row ({height} rows)")
    if not np.all(np.isfinite(dx)) or np.any(dx <= 0):
        raise InvalidParameterError("terrain: cell widths dx_m must be finite and > 0")
    return dx


# --------------------------------------------------------------------------- layers


def slope_degrees(elevation: np.ndarray, *, dx_m: float | np.ndarray, dy_m: float) -> np.ndarray:
    """Slope in degrees by Horn's (1981) third-order finite difference.

    Parameters
    ----------
    elevation : 2-D ndarray
        Elevation in metres on a north-up grid; NaN is nodata.
    dx_m : float or ndarray of shape (height,)
        Cell width in metres (one per row on a geographic grid, see :func:`cell_size_m`).
    dy_m : float
        Cell height in metres.

    Returns
    -------
    ndarray of float64
        Slope in [0, 90) degrees; NaN where the cell or any of its 8 neighbours is NaN.

    Notes
    -----
    With the 3 x 3 window ``a b c / d e f / g h i`` (row above, own row, row below):
    ``dz/dx = ((c + 2f + i) - (a + 2d + g)) / (8 dx)``,
    ``dz/dy = ((a + 2b + c) - (g + 2h + i)) / (8 dy)``,
    ``slope = atan(sqrt(dz/dx² + dz/dy²))`` (Horn 1981, Proc. IEEE 69:14-47; as ``gdaldem slope``).
    Cells on the raster edge use a window extended by linear extrapolation (``2 z_edge - z_inner``),
    so a plane keeps its exact slope up to the edge (``gdaldem -compute_edges`` does the same).
    """
    z = _as_2d("elevation", elevation)
    height, width = z.shape
    dy = float(dy_m)
    if not math.isfinite(dy) or dy <= 0:
        raise InvalidParameterError("terrain: cell height dy_m must be finite and > 0")
    dx = _row_widths(dx_m, height)[:, None]
    if height < 2 or width < 2:
        raise InvalidParameterError(f"terrain: slope needs at least 2 x 2 cells, got {z.shape}")
    p = np.pad(z, 1, mode="edge")
    # linear extrapolation across each edge keeps planes exact; corners extrapolate twice
    p[0, :] = 2 * p[1, :] - p[2, :]
    p[-1, :] = 2 * p[-2, :] - p[-3, :]
    p[:, 0] = 2 * p[:, 1] - p[:, 2]
    p[:, -1] = 2 * p[:, -2] - p[:, -3]
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    dzdy = ((a + 2 * b + c) - (g + 2 * h + i)) / (8.0 * dy)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    # any NaN in the 3 x 3 window (extrapolated pads included) makes the cell NaN
    return np.where(np.isnan(z), np.nan, slope)


def height_above_river(
    elevation: np.ndarray, river: np.ndarray, *, dx_m: float | np.ndarray, dy_m: float
) -> np.ndarray:
    """Height above the nearest river cell (a HAND-like index), metres.

    Parameters
    ----------
    elevation : 2-D ndarray
        Elevation in metres; NaN is nodata.
    river : 2-D bool ndarray
        River cells (same shape).
    dx_m, dy_m : float or ndarray, float
        Cell width (scalar or one per row) and height, m.

    Returns
    -------
    ndarray of float64
        ``z(cell) - z(nearest river cell)``: 0 on river cells, negative where a cell lies below
        its nearest river cell (deltas, depressions, DEM noise). NaN where the cell's elevation
        is NaN, or where no river cell has an elevation.

    Notes
    -----
    "Nearest" is by straight-line distance in metres between cell centres (Euclidean distance
    transform), not along the flow path as in HAND proper (Rennó et al. 2008): a 5 km grid of a
    block-averaged DEM cannot route flow reliably through narrow valleys, while the nearest
    river cell by distance is the one whose water table a floodplain cell shares. River cells
    without an elevation are not used as references. On a geographic grid the distance uses the
    mean cell width of the grid (the transform takes one cell size per axis); at 36-47 N the
    width changes by 17 % over the study area, which can only change which of two nearly
    equidistant river cells is taken. Ties go to the first river cell in scipy's order
    (deterministic).
    """
    z = _as_2d("elevation", elevation)
    riv = np.asarray(river, dtype=bool)
    if riv.shape != z.shape:
        raise GridMismatchError(f"terrain: river mask shape {riv.shape} differs from the elevation's {z.shape}")
    dx = _row_widths(dx_m, z.shape[0])
    sources = riv & np.isfinite(z)
    out = np.full(z.shape, np.nan)
    if not sources.any():
        return out
    _, (ri, ci) = ndimage.distance_transform_edt(
        ~sources, sampling=(float(dy_m), float(dx.mean())), return_indices=True
    )
    out = z - z[ri, ci]
    return np.where(np.isfinite(z), out, np.nan)


@dataclass(frozen=True)
class DemCoverage:
    """Cells of the analysis grid outside the DEM (elevation NaN).

    Attributes
    ----------
    outside : ndarray of bool
        True where the DEM gives no elevation (inside ``within`` only).
    outside_cells : int
        Number of such cells.
    total_cells : int
        Number of cells considered (``within``).
    """

    outside: np.ndarray
    outside_cells: int
    total_cells: int

    @property
    def outside_share(self) -> float:
        """Share of considered cells outside the DEM, in [0, 1] (0 when none are considered)."""
        return self.outside_cells / self.total_cells if self.total_cells else 0.0


def dem_coverage(elevation: np.ndarray, within: np.ndarray | None = None) -> DemCoverage:
    """Which cells (of ``within``, default all) have no elevation.

    Examples
    --------
    >>> cov = dem_coverage(np.array([[1.0, np.nan], [np.nan, 4.0]]))
    >>> cov.outside_cells, cov.total_cells, cov.outside_share
    (2, 4, 0.5)
    """
    z = _as_2d("elevation", elevation)
    scope = np.ones(z.shape, dtype=bool) if within is None else np.asarray(within, dtype=bool)
    if scope.shape != z.shape:
        raise GridMismatchError(f"terrain: 'within' mask shape {scope.shape} differs from the elevation's {z.shape}")
    outside = np.isnan(z) & scope
    return DemCoverage(outside=outside, outside_cells=int(outside.sum()), total_cells=int(scope.sum()))


def valley_floodplain(
    river_distance_m: np.ndarray,
    height_above_river_m: np.ndarray,
    elevation_m: np.ndarray,
    *,
    buffer_m: float,
    valley_distance_m: float = VALLEY_DISTANCE_M,
    valley_height_m: float = HAND_FULL_M,
    altitude_zero_m: float = ALTITUDE_ZERO_M,
    hand_zero_m: float = HAND_ZERO_M,
) -> np.ndarray:
    """Floodplain from the river buffer and the terrain: the valley floor within groundwater reach.

    Parameters
    ----------
    river_distance_m : 2-D ndarray
        Distance from each cell centre to the nearest river cell, m (NaN / inf: no river).
    height_above_river_m : 2-D ndarray
        Height above the nearest river cell (:func:`height_above_river`), m; NaN outside the DEM.
    elevation_m : 2-D ndarray
        Elevation, m a.s.l.; NaN outside the DEM.
    buffer_m : float
        Half-width of the plain river buffer, m (>= 0): as ``floodplain_mask`` without a DEM.
    valley_distance_m : float
        Farthest distance from the river at which a low cell still counts (>= ``buffer_m``).
    valley_height_m : float
        Highest height above the river of a valley-floor cell, m (default ``HAND_FULL_M``).
    altitude_zero_m, hand_zero_m : float
        Cells at or above this altitude, or this height above the river, are never floodplain
        (the zero points of :func:`altitude_membership` and
        :func:`height_above_river_membership`).

    Returns
    -------
    ndarray of bool
        ``(d <= buffer_m or (d <= valley_distance_m and hand <= valley_height_m))
        and not z >= altitude_zero_m and not hand >= hand_zero_m``.

    Notes
    -----
    The buffer alone misses the wide deltas and lowland valleys whose river line runs along one
    side (the Ili delta fans 30 km and more north of the single WDBII channel, 10-20 m *below*
    it) and keeps mountain gorges next to a river line. Low land next to the river shares its
    water table: cells no more than ``valley_height_m`` (10 m: the deepest groundwater a mature
    *Populus euphratica* reaches, Ling et al. 2015, rounded up; module docstring) above their
    nearest river cell are floodplain out to ``valley_distance_m``. 30 km [A]: far enough for
    the Ili delta (its Ramsar site point lies 28 km from the WDBII channel and 17 m below it on
    the 5 km Central Asia grid), near enough that low ground of lake basins and desert
    depressions (Aral, Balkhash, Sarykamysh), which the floods do not reach, stays out. Cells outside the DEM (NaN) keep the plain buffer: they are never
    added by the terrain nor removed by it (the stage reports them).

    Examples
    --------
    >>> d = np.array([[0.0, 5000.0, 20000.0, 20000.0, 40000.0]])
    >>> hand = np.array([[0.0, 80.0, -12.0, 25.0, 0.0]])
    >>> z = np.array([[300.0, 380.0, 288.0, 325.0, 300.0]])
    >>> valley_floodplain(d, hand, z, buffer_m=7500.0).tolist()
    [[True, False, True, False, False]]
    """
    d = _as_2d("river_distance_m", river_distance_m)
    hand = _as_2d("height_above_river_m", height_above_river_m)
    z = _as_2d("elevation_m", elevation_m)
    if hand.shape != d.shape or z.shape != d.shape:
        raise GridMismatchError(
            f"terrain: river distance {d.shape}, height above river {hand.shape} and elevation {z.shape} differ"
        )
    for name, value in (("buffer_m", buffer_m), ("valley_distance_m", valley_distance_m),
                        ("valley_height_m", valley_height_m), ("altitude_zero_m", altitude_zero_m),
                        ("hand_zero_m", hand_zero_m)):
        if not math.isfinite(float(value)):
            raise InvalidParameterError(f"terrain: {name}={value!r} must be a finite number")
    if buffer_m < 0 or valley_distance_m < buffer_m:
        raise InvalidParameterError(
            f"terrain: need 0 <= buffer_m ({buffer_m!r}) <= valley_distance_m ({valley_distance_m!r})"
        )
    with np.errstate(invalid="ignore"):
        near = (d <= buffer_m) | ((d <= valley_distance_m) & (hand <= valley_height_m))
        too_high = (z >= altitude_zero_m) | (hand >= hand_zero_m)
    return near & ~too_high


# --------------------------------------------------------------------------- suitability criteria


def altitude_membership(elevation_m, *, full_m: float = ALTITUDE_FULL_M, zero_m: float = ALTITUDE_ZERO_M):
    """Lowland membership: 1 up to ``full_m``, linear to 0 at ``zero_m`` (m a.s.l.); NaN stays NaN.

    ``mu = clip((zero_m - z) / (zero_m - full_m), 0, 1)``; thresholds and sources in the module
    docstring.

    Examples
    --------
    >>> altitude_membership(np.array([300.0, 1000.0, 1250.0, 1500.0, 2500.0])).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.0]
    """
    _check_order("altitude", full_m, zero_m)
    # + 0.0: a decreasing ramp gives -0.0 at the zero point
    return fuzzy_linear(elevation_m, minimum=zero_m, maximum=full_m) + 0.0


def slope_membership(slope_deg, *, full_deg: float = SLOPE_FULL_DEG, zero_deg: float = SLOPE_ZERO_DEG):
    """Valley-floor membership: 1 up to ``full_deg``, linear to 0 at ``zero_deg`` (degrees).

    Examples
    --------
    >>> slope_membership(np.array([0.5, 3.0, 6.5, 12.0])).tolist()
    [1.0, 1.0, 0.5, 0.0]
    """
    _check_order("slope", full_deg, zero_deg)
    # + 0.0: a decreasing ramp gives -0.0 at the zero point
    return fuzzy_linear(slope_deg, minimum=zero_deg, maximum=full_deg) + 0.0


def height_above_river_membership(hand_m, *, full_m: float = HAND_FULL_M, zero_m: float = HAND_ZERO_M):
    """Floodplain membership: 1 up to ``full_m`` above the river, linear to 0 at ``zero_m``.

    Cells below the river (negative height) get 1.

    Examples
    --------
    >>> height_above_river_membership(np.array([-5.0, 10.0, 35.0, 80.0])).tolist()
    [1.0, 1.0, 0.5, 0.0]
    """
    _check_order("height above river", full_m, zero_m)
    # + 0.0: a decreasing ramp gives -0.0 at the zero point
    return fuzzy_linear(hand_m, minimum=zero_m, maximum=full_m) + 0.0


def _check_order(name: str, full: float, zero: float) -> None:
    if not (math.isfinite(full) and math.isfinite(zero)) or full >= zero:
        raise InvalidParameterError(
            f"terrain {name} membership: full={full!r} must be finite and below zero={zero!r}"
        )


# --------------------------------------------------------------------------- resistance


def slope_cost_factor(slope_deg, *, climb_cost_ratio: float = CLIMB_COST_RATIO) -> np.ndarray:
    """Resistance multiplier of slope: ``1 + k sin(slope)`` (k = vertical / level cost of walking).

    Parameters
    ----------
    slope_deg : ndarray
        Slope in degrees, [0, 90); NaN stays NaN.
    climb_cost_ratio : float
        k >= 0, cost of one vertical metre in level metres (11.3 for a 150 kg deer; module
        docstring).

    Examples
    --------
    >>> slope_cost_factor(np.array([0.0, 30.0]), climb_cost_ratio=2.0).tolist()
    [1.0, 2.0]
    """
    k = float(climb_cost_ratio)
    if not math.isfinite(k) or k < 0:
        raise InvalidParameterError(f"climb_cost_ratio={climb_cost_ratio!r} must be a finite number >= 0")
    s = np.asarray(slope_deg, dtype=np.float64)
    return 1.0 + k * np.sin(np.deg2rad(np.clip(s, 0.0, 90.0)))


def altitude_cost_factor(
    elevation_m,
    *,
    start_m: float = ALTITUDE_COST_START_M,
    full_m: float = ALTITUDE_COST_FULL_M,
    max_factor: float = ALTITUDE_COST_MAX,
) -> np.ndarray:
    """Resistance multiplier of altitude: ``max_factor ** clip((z - start_m) / (full_m - start_m), 0, 1)``.

    1 at or below ``start_m``, ``max_factor`` at or above ``full_m``, geometric in between (each
    100 m of climb multiplies the cost by the same amount). NaN stays NaN.

    Examples
    --------
    >>> altitude_cost_factor(np.array([500.0, 1500.0, 2500.0])).tolist()
    [1.0, 10.0, 100.0]
    """
    lo, hi, top = float(start_m), float(full_m), float(max_factor)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise InvalidParameterError(f"altitude cost: full_m={full_m!r} must be finite and above start_m={start_m!r}")
    if not math.isfinite(top) or top < 1:
        raise InvalidParameterError(f"altitude cost: max_factor={max_factor!r} must be a finite number >= 1")
    z = np.asarray(elevation_m, dtype=np.float64)
    t = np.clip((z - lo) / (hi - lo), 0.0, 1.0)
    return top**t


def terrain_resistance(
    resistance: np.ndarray,
    slope_deg: np.ndarray,
    elevation_m: np.ndarray,
    *,
    outside_dem: Literal["keep", "impassable"] = "keep",
    climb_cost_ratio: float = CLIMB_COST_RATIO,
    altitude_start_m: float = ALTITUDE_COST_START_M,
    altitude_full_m: float = ALTITUDE_COST_FULL_M,
    altitude_max_factor: float = ALTITUDE_COST_MAX,
) -> np.ndarray:
    """Resistance times the slope and altitude cost factors.

    ``R' = R * (1 + k sin(slope)) * A(z)`` with ``A`` from :func:`altitude_cost_factor`.

    Parameters
    ----------
    resistance : ndarray
        Base resistance (>= 0, inf impassable, NaN nodata), as from ``resistance_from_suitability``.
    slope_deg, elevation_m : ndarray
        Terrain layers on the same grid; NaN outside the DEM.
    outside_dem : {"keep", "impassable"}
        Cells without slope or elevation keep their base resistance ("keep": the stage must
        report them, see :func:`dem_coverage`) or become impassable (inf).

    Returns
    -------
    ndarray of float64
    """
    r = np.asarray(resistance, dtype=np.float64)
    s = np.asarray(slope_deg, dtype=np.float64)
    z = np.asarray(elevation_m, dtype=np.float64)
    if r.shape != s.shape or r.shape != z.shape:
        raise GridMismatchError(f"terrain: resistance {r.shape}, slope {s.shape} and elevation {z.shape} differ")
    if outside_dem not in ("keep", "impassable"):
        raise InvalidParameterError(f"terrain: outside_dem={outside_dem!r}; use 'keep' or 'impassable'")
    factor = slope_cost_factor(s, climb_cost_ratio=climb_cost_ratio) * altitude_cost_factor(
        z, start_m=altitude_start_m, full_m=altitude_full_m, max_factor=altitude_max_factor
    )
    missing = np.isnan(factor)
    if outside_dem == "keep":
        return r * np.where(missing, 1.0, factor)
    return np.where(missing, np.inf, r * factor)
