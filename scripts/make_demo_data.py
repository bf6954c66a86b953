"""Generate the deterministic demo data set in data/demo/ (a fictional tugai landscape)."""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import rasterio.features
import shapely
import shapely.geometry
import shapely.ops
from rasterio.transform import from_origin
from scipy import ndimage

from habitat.errors import HabitatError, InvalidParameterError

# ---------------------------------------------------------------------------
# Fixed layout of the study area
# ---------------------------------------------------------------------------
SEED = 20240607
CRS_UTM = "EPSG:32642"  # UTM 42N, the projected CRS of rasters and most vectors
CRS_GEO = "EPSG:4326"  # tugai and reporting units deliberately differ from the rasters
ORIGIN_X_M = 420000.0  # upper-left corner, middle Syr Darya (about 43.0 N, 68.0 E)
ORIGIN_Y_M = 4760000.0
EXTENT_X_M = 80000.0
EXTENT_Y_M = 60000.0
BASE_CELL_SIZE_M = 100.0
BASE_SHAPE = (600, 800)  # rows, columns at scale 1

# ESA WorldCover 2020/2021 legend codes used here
TREE, SHRUB, GRASS, CROP, BUILT, BARE, WATER, WETLAND = 10, 20, 30, 40, 50, 60, 80, 90
TUGAI_CODES = {TREE: "forest", SHRUB: "shrub", WETLAND: "reed"}

# ESA WorldCover display colours, so the rasters open readable in QGIS
_COLORMAP = {
    0: (0, 0, 0, 0),
    TREE: (0, 100, 0, 255),
    SHRUB: (255, 187, 34, 255),
    GRASS: (255, 255, 76, 255),
    CROP: (240, 150, 255, 255),
    BUILT: (250, 0, 0, 255),
    BARE: (180, 180, 180, 255),
    WATER: (0, 100, 200, 255),
    WETLAND: (0, 150, 160, 255),
}

OUTPUT_FILES = (
    "landcover_2000.tif",
    "landcover_2020.tif",
    "tugai_2000.gpkg",
    "tugai_2020.gpkg",
    "rivers.gpkg",
    "canals.gpkg",
    "roads.gpkg",
    "settlements.gpkg",
    "protected_areas.gpkg",
    "historical_range.gpkg",
    "reporting_units.gpkg",
    "populations.gpkg",
    "census.csv",
    "known_places.csv",
)

# Settlements: name, u and v (m east / north of the south-west corner), population
# (about 2020). Testaul sits on the north terrace with fields down to the river.
_SETTLEMENTS = (
    ("Sampleqala", 8000.0, 27000.0, 14800),
    ("Demoabad", 28500.0, 25500.0, 46300),
    ("Ferrokent", 40500.0, 34500.0, 11200),
    ("Mockatepa", 60500.0, 24300.0, 23900),
    ("Testaul", 77200.0, 28000.0, 4100),
)

# Population sites: id, name, u (m), signed offset from the bank (m, + = north bank)
_SITES = (
    ("P1", "Demo Reserve North", 12500.0, 450.0),
    ("P2", "Kyzyl Tugai (demo)", 24500.0, -450.0),
    ("P3", "Eastmark Floodplain (demo)", 53500.0, -450.0),
    ("P4", "Lower Oxbows Enclosure (demo)", 71500.0, 450.0),
)

# Known places for the evaluation stage (METHODS.md 10): fictional places where the demo deer
# "live", on other reaches than the population sites (kept apart from what the model uses), and
# one desert-terrace reference that a sound map must score low. id, name, kind, u (m), signed
# offset from the bank (m, + = north bank), note.
_KNOWN_PLACES = (
    ("K1", "West Tugai Thicket (demo)", "reserve", 9000.0, -600.0, "shrub tugai on the south bank"),
    ("K2", "Middle Reach Release Pen (demo)", "release_site", 48000.0, -600.0, "shrub tugai on the south bank"),
    ("K3", "Northbank Poplar Grove (demo)", "reserve", 58000.0, 600.0, "shrub and reed on the north bank"),
    ("K4", "Eastern Gallery Forest (demo)", "reserve", 74000.0, -300.0, "forest tugai on the south bank"),
    ("R1", "North Terrace Desert (demo reference)", "desert_reference", 40000.0, 15000.0,
     "NOT a presence: desert terrace 15 km from the river; a sound map scores it low"),
)

# Census series: years, count trajectory endpoints, method; the 2020 value is the
# count stored on the population point. P4 is a fenced enclosure: overstocked.
_CENSUS = {
    "P1": ((2000, 2005, 2010, 2015, 2020, 2023), (95, 210), "ground count"),
    "P2": ((2002, 2006, 2011, 2016, 2020), (60, 120), "drive count"),
    "P3": ((2000, 2004, 2009, 2014, 2018, 2020, 2022), (140, 85), "aerial survey"),
    "P4": ((2001, 2005, 2010, 2015, 2020, 2023), (110, 620), "enclosure count"),
}

# Oxbow lakes: u (m), side (+1 north, -1 south), radius (m)
_OXBOWS = ((5500.0, 1, 650.0), (19500.0, -1, 800.0), (33000.0, 1, 700.0),
           (50500.0, 1, 750.0), (69000.0, -1, 650.0))

_FIELD_LONG_M = 1000.0
_FIELD_SHORT_M = 600.0
_FIELD_ANGLE_RAD = -0.07  # irrigation grid follows the valley trend


# ---------------------------------------------------------------------------
# Geometry of the river valley (u: metres east of the west edge, v: metres north
# of the south edge)
# ---------------------------------------------------------------------------
_MEANDERS = ((3300.0, 27000.0, 0.6), (1400.0, 10500.0, 2.2), (380.0, 4300.0, 0.9))


def _centre_v(u):
    """Northing (m above the south edge) of the river centreline at easting u."""
    v = 29500.0 + 0.07 * (40000.0 - np.asarray(u, dtype=float))
    for amp, wavelength, phase in _MEANDERS:
        v = v + amp * np.sin(2.0 * np.pi * u / wavelength + phase)
    return v


def _centre_slope(u):
    """dv/du of the centreline."""
    slope = np.full(np.shape(u), -0.07)
    for amp, wavelength, phase in _MEANDERS:
        slope = slope + amp * 2.0 * np.pi / wavelength * np.cos(2.0 * np.pi * u / wavelength + phase)
    return slope


def _signed_distance(u, v):
    """Approximate perpendicular distance (m) from the centreline, + = north bank."""
    return (v - _centre_v(u)) / np.sqrt(1.0 + _centre_slope(u) ** 2)


def _offset_point(u, offset_m):
    """Point at a perpendicular offset (m, + = north) from the centreline at easting u."""
    slope = _centre_slope(u)
    norm = np.sqrt(1.0 + slope**2)
    return u - offset_m * slope / norm, _centre_v(u) + offset_m / norm


#: Narrowest main channel (m). At 250 m (2.5 cells of 100 m) the channel stays an unbroken water
#: line after the pipeline reprojects the land cover by nearest neighbour onto its rotated
#: equal-area grid; a 150 m channel broke into diagonal gaps there, so tugai on the two banks
#: touched across the river and the middle reach between P2 and P3 (north and south bank) became
#: one candidate release site. With an unbroken channel each bank is its own reach, as in the far
#: west, and the 100 m demo ranks five candidates.
_CHANNEL_MIN_WIDTH_M = 250.0


def _channel_width_m(u):
    """Width (m) of the main channel, 250-400 m."""
    w = 270.0 + 90.0 * np.sin(2.0 * np.pi * u / 17000.0 + 1.0) + 40.0 * np.sin(2.0 * np.pi * u / 5300.0)
    return np.clip(w, _CHANNEL_MIN_WIDTH_M, 400.0)


# A broad reach in the west: the floodplain widens on both banks (as where the river spreads over
# an old inland delta) up to u = 21 km and narrows back by 25 km. It gives the reaches between and
# beyond the western population sites enough tugai for release sites that can hold 100 deer
# (2000 ha at 5 deer/km2), so the demo ranks several candidates. (full width until u, back to the
# normal width at u, extra half-width in m)
_BROAD_REACH = (21000.0, 25000.0, 2000.0)


def _broad_reach_m(u):
    """Extra floodplain half-width (m) of the broad western reach at easting u."""
    full_until, normal_from, extra = _BROAD_REACH
    return extra * np.clip((normal_from - np.asarray(u, dtype=float)) / (normal_from - full_until), 0.0, 1.0)


def _floodplain_half_m(u, side):
    """Smooth half-width (m) of the floodplain belt on one bank (side +1 north, -1 south)."""
    if side > 0:
        return 1900.0 + 450.0 * np.sin(2.0 * np.pi * u / 33000.0 + 2.0) + _broad_reach_m(u)
    return 2300.0 + 500.0 * np.sin(2.0 * np.pi * u / 26000.0 + 0.4) + _broad_reach_m(u)


class _Noise:
    """Smooth Gaussian noise on a fixed lattice, so the landscape does not depend on scale."""

    def __init__(self, rng, spacing_m):
        self.spacing_m = spacing_m
        ny = int(np.ceil(EXTENT_Y_M / spacing_m)) + 4
        nx = int(np.ceil(EXTENT_X_M / spacing_m)) + 4
        self.lattice = rng.standard_normal((ny, nx))

    def __call__(self, u, v):
        u = np.asarray(u, dtype=float)
        v = np.asarray(v, dtype=float)
        coords = np.stack([v.ravel() / self.spacing_m + 1.5, u.ravel() / self.spacing_m + 1.5])
        out = ndimage.map_coordinates(self.lattice, coords, order=3, mode="nearest")
        return out.reshape(u.shape)


# ---------------------------------------------------------------------------
# Data container
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoGrid:
    """The demo raster grid (EPSG:32642, square cells)."""

    n_rows: int
    n_cols: int
    cell_size_m: float

    @property
    def transform(self):
        return from_origin(ORIGIN_X_M, ORIGIN_Y_M, self.cell_size_m, self.cell_size_m)

    def cell_centres(self):
        """Arrays (u, v) of cell-centre offsets (m) from the south-west corner."""
        u = (np.arange(self.n_cols) + 0.5) * self.cell_size_m
        v = self.n_rows * self.cell_size_m - (np.arange(self.n_rows) + 0.5) * self.cell_size_m
        return np.meshgrid(u, v)


@dataclass
class DemoData:
    """Everything the generator produces, before it is written."""

    grid: DemoGrid
    landcover: dict = field(default_factory=dict)  # year -> uint8 array
    floodplain: np.ndarray | None = None
    layers: dict = field(default_factory=dict)  # file stem -> (layer name, GeoDataFrame)
    census: pd.DataFrame | None = None
    known_places: pd.DataFrame | None = None
    summary: dict = field(default_factory=dict)


def make_grid(scale):
    """Demo grid at a given scale.

    Parameters
    ----------
    scale : float
        Resolution factor in [0.05, 1]: 1 gives 800 x 600 cells of 100 m; 0.25 gives
        200 x 150 cells of 400 m. The extent (80 x 60 km) is the same at every scale.

    Returns
    -------
    DemoGrid
    """
    if not (0.05 <= scale <= 1.0):
        raise InvalidParameterError(
            f"--scale {scale} is out of range; use a value in [0.05, 1] (1 = 800 x 600 cells of 100 m)"
        )
    n_rows = max(1, round(BASE_SHAPE[0] * scale))
    n_cols = max(1, round(BASE_SHAPE[1] * scale))
    return DemoGrid(n_rows=n_rows, n_cols=n_cols, cell_size_m=BASE_CELL_SIZE_M / scale)


# ---------------------------------------------------------------------------
# Land cover
# ---------------------------------------------------------------------------
def _field_index(u, v):
    """Integer (p, q) index of the irrigation field that holds each point."""
    cos_a, sin_a = np.cos(_FIELD_ANGLE_RAD), np.sin(_FIELD_ANGLE_RAD)
    p = u * cos_a + v * sin_a
    q = -u * sin_a + v * cos_a
    return np.floor(p / _FIELD_LONG_M).astype(int), np.floor(q / _FIELD_SHORT_M).astype(int)


def _field_centre(ip, iq):
    """Centre (u, v) of field (ip, iq)."""
    cos_a, sin_a = np.cos(_FIELD_ANGLE_RAD), np.sin(_FIELD_ANGLE_RAD)
    p = (ip + 0.5) * _FIELD_LONG_M
    q = (iq + 0.5) * _FIELD_SHORT_M
    return p * cos_a - q * sin_a, p * sin_a + q * cos_a


class _Fields:
    """Per-field random draws on a fixed index range (independent of the scale)."""

    OFFSET = 40

    def __init__(self, rng):
        self.draw = rng.random((200, 200))

    def __call__(self, ip, iq):
        return self.draw[ip + self.OFFSET, iq + self.OFFSET]


def _south_crop_depth_m(u, *, extra_m=0.0):
    """How far (m) the irrigated belt reaches beyond the southern floodplain edge."""
    return 7500.0 + 2000.0 * np.sin(2.0 * np.pi * u / 23000.0 + 1.3) + extra_m


def _field_mask(u, v, fields, predicate):
    """Cells whose field centre satisfies predicate(uc, vc, draw)."""
    ip, iq = _field_index(u, v)
    uc, vc = _field_centre(ip, iq)
    return predicate(uc, vc, fields(ip, iq))


def _crop_code(draw):
    """Cropland for most fields, fallow grass or bare ground for the rest."""
    return np.where(draw < 0.86, CROP, np.where(draw < 0.94, GRASS, BARE)).astype(np.uint8)


def _build_landcover(grid, rng):
    """Land cover for 2000 and 2020 (uint8 WorldCover codes) and the floodplain mask."""
    u, v = grid.cell_centres()
    cell = grid.cell_size_m
    noise = {name: _Noise(rng, spacing) for name, spacing in (
        ("edge2k", 2000.0), ("edge500", 500.0), ("forest2k", 2200.0), ("forest700", 700.0),
        ("clear600", 600.0), ("grass1k", 1000.0), ("reed1k", 900.0), ("desert3k", 3000.0),
        ("desert800", 800.0), ("built500", 500.0), ("fire1k", 1000.0), ("fire400", 400.0),
    )}
    fields = _Fields(rng)

    s = _signed_distance(u, v)
    half_w = _channel_width_m(u) / 2.0
    edge_jitter = 320.0 * noise["edge2k"](u, v) + 120.0 * noise["edge500"](u, v)
    half_n = _floodplain_half_m(u, 1) + edge_jitter
    half_s = _floodplain_half_m(u, -1) + edge_jitter
    floodplain = (s < half_n) & (s > -half_s)

    # Desert: bare sand and takyr with grassland where the noise is high, more of it
    # close to the floodplain where ground water is shallow.
    outside = np.maximum(s - half_n, -half_s - s)
    near_valley = np.clip(1.0 - outside / 2500.0, 0.0, 1.0)
    desert_score = noise["desert3k"](u, v) + 0.5 * noise["desert800"](u, v) + 1.2 * near_valley
    lc = np.where(desert_score > 0.9, GRASS, BARE).astype(np.uint8)

    # Irrigated belt south of the floodplain, in fields.
    def south_belt(uc, vc, draw, *, extra_m=0.0):
        sc = _signed_distance(uc, vc)
        edge = _floodplain_half_m(uc, -1)
        depth = _south_crop_depth_m(uc, extra_m=extra_m) + 1500.0 * (draw - 0.5)
        return (sc < -(edge + 250.0)) & (sc > -(edge + depth)) & (uc > 1500.0) & (uc < 78500.0)

    crop_fields = _field_mask(u, v, fields, south_belt)
    field_codes = _crop_code(fields(*_field_index(u, v)))
    lc = np.where(crop_fields & ~floodplain, field_codes, lc)

    # Oases around the two north-bank settlements; Testaul's fields reach the river.
    oasis = {}
    for name, radius_m, into_floodplain in (("Ferrokent", 2600.0, False), ("Testaul", 2400.0, True)):
        sx, sy = next((su, sv) for n, su, sv, _ in _SETTLEMENTS if n == name)

        def near(uc, vc, draw, sx=sx, sy=sy, radius_m=radius_m):
            return np.hypot(uc - sx, vc - sy) < radius_m * (0.85 + 0.3 * draw)

        mask = _field_mask(u, v, fields, near)
        if into_floodplain:
            mask &= np.abs(s) > half_w + 200.0
        else:
            mask &= ~floodplain
        oasis[name] = (sx, sy, mask)
        lc = np.where(mask, field_codes, lc)

    # Floodplain: shrub tugai, forest near the channel, grassy glades, reed in low spots.
    from_bank = np.abs(s) - half_w
    forest_band = 850.0 + 380.0 * noise["forest2k"](u, v) + 220.0 * noise["forest700"](u, v)
    nature = np.full(lc.shape, SHRUB, dtype=np.uint8)
    nature[noise["grass1k"](u, v) > 1.0] = GRASS
    nature[(from_bank < forest_band) & (noise["clear600"](u, v) < 1.35)] = TREE
    nature[noise["reed1k"](u, v) < -1.45] = WETLAND
    natural_fp = floodplain & ~oasis["Testaul"][2]
    lc = np.where(natural_fp, nature, lc)

    # Tributary from the north with a narrow riparian strip.
    trib_line = _tributary_line()
    trib_bbox = shapely.bounds(trib_line)
    near_trib = (u > trib_bbox[0] - 1500) & (u < trib_bbox[2] + 1500) & (v > trib_bbox[1] - 1500)
    trib_dist = np.full(lc.shape, np.inf)
    trib_dist[near_trib] = shapely.distance(shapely.points(u[near_trib], v[near_trib]), trib_line)
    trib_dist += 80.0 * noise["edge500"](u, v)
    trib_strip = (trib_dist < 450.0) & ~floodplain
    lc = np.where(trib_strip, np.where(trib_dist < 220.0, TREE, SHRUB), lc)
    lc = np.where((trib_dist < max(60.0, 0.5 * cell)) & ~floodplain, WETLAND, lc)
    floodplain = floodplain | trib_strip

    # Remove specks below about 3 ha before the crisp features are burnt in.
    sieve_cells = max(2, round(30000.0 / cell**2))
    lc = rasterio.features.sieve(lc.astype(np.uint8), size=sieve_cells, connectivity=8)

    crisp = _crisp_features(u, v, s, half_w, cell, floodplain)
    lc = _burn_crisp(lc, crisp, noise, u, v, grid, year=2000)

    # ---------------- 2020: cropland expansion, a fire, growing towns ----------------
    lc20 = lc.copy()

    # South-bank fields spread into the floodplain from around P2 (17 km) to 37 km; the far west
    # and the south bank east of 37 km keep their tugai (release-site candidates).
    def expansion_a(uc, vc, draw):
        sc = _signed_distance(uc, vc)
        in_reach = (uc > 17000.0) & (uc < 37000.0)
        return in_reach & (sc < 0) & (sc > -(_floodplain_half_m(uc, -1) + 400.0))

    # A riparian strip survives except where fields were ploughed up to the bank.
    strip_m = np.where((u > 37500.0) & (u < 41000.0), 50.0, 250.0)
    exp_a = _field_mask(u, v, fields, expansion_a) & floodplain & (s < -(half_w + strip_m))

    fsx, fsy, _ = oasis["Ferrokent"]

    def expansion_b(uc, vc, draw):
        return np.hypot(uc - fsx, vc - fsy) < 4300.0 * (0.85 + 0.3 * draw)

    strip_m = np.where((u > 39000.0) & (u < 42000.0), 50.0, 250.0)
    exp_b = _field_mask(u, v, fields, expansion_b) & (s > half_w + strip_m)
    exp_b &= (u > 36500.0) & (u < 44500.0)

    def expansion_desert(uc, vc, draw):
        return south_belt(uc, vc, draw, extra_m=2500.0) & (uc > 48000.0) & (uc < 72000.0)

    exp_c = _field_mask(u, v, fields, expansion_desert) & ~floodplain
    converted = exp_a | exp_b | exp_c
    lc20 = np.where(converted, field_codes, lc20).astype(np.uint8)

    fire_cx, fire_cy = _offset_point(64500.0, 1300.0)
    fire_radius_m = 4000.0 * np.clip(1.0 + 0.22 * noise["fire1k"](u, v), 0.5, None)
    fire_r = np.hypot(u - fire_cx, v - fire_cy) / fire_radius_m
    burnt = (fire_r < 1.0) & (s > half_w) & np.isin(lc20, (TREE, SHRUB, WETLAND, GRASS))
    severe = burnt & (fire_r + 0.15 * noise["fire400"](u, v) < 0.45)
    lc20[burnt] = GRASS
    lc20[severe] = BARE

    # Sieve only where 2020 changed, so unchanged ground stays identical, and only
    # towards the classes of the change, so water and towns keep their 2000 shape.
    changed = ndimage.binary_dilation(lc20 != lc, iterations=2)
    sieved = rasterio.features.sieve(lc20, size=sieve_cells, connectivity=8)
    lc20 = np.where(changed & np.isin(sieved, (GRASS, CROP, BARE)), sieved, lc20)
    lc20 = _burn_crisp(lc20, crisp, noise, u, v, grid, year=2020)

    return {2000: lc, 2020: lc20}, floodplain


def _crisp_features(u, v, s, half_w, cell, floodplain):
    """Masks of features burnt on top of the fuzzy classes (both epochs)."""
    oxbow_water = np.zeros(u.shape, dtype=bool)
    oxbow_reed = np.zeros(u.shape, dtype=bool)
    for ou, side, radius in _OXBOWS:
        cx, cy = _offset_point(ou, side * (_channel_width_m(ou) / 2.0 + radius + 350.0))
        dx, dy = u - cx, v - cy
        ring = np.abs(np.hypot(dx, dy) - radius)
        # The lake opens towards the river: keep the arc that faces away from it.
        nx, ny = cx - ou, cy - _centre_v(ou)
        facing = (dx * nx + dy * ny) / (np.hypot(dx, dy) * np.hypot(nx, ny) + 1e-9) > -0.45
        oxbow_water |= facing & (ring < max(70.0, 0.45 * cell)) & floodplain
        oxbow_reed |= facing & (ring < 260.0) & floodplain
    channel = np.abs(s) < np.maximum(half_w, 0.6 * cell)
    return {"oxbow_water": oxbow_water, "oxbow_reed": oxbow_reed, "channel": channel}


def _burn_crisp(lc, crisp, noise, u, v, grid, *, year):
    """Burn oxbows, channel, main canal, towns and the protected site cores."""
    lc = lc.copy()
    lc[crisp["oxbow_reed"]] = WETLAND
    lc[crisp["oxbow_water"]] = WATER
    canal = shapely.transform(_main_canal_uv(), _uv_to_xy)
    canal_mask = rasterio.features.rasterize([(canal, 1)], out_shape=lc.shape, transform=grid.transform,
                                             dtype=np.uint8).astype(bool)
    lc[canal_mask] = WATER
    growth = 1.0 if year == 2000 else 1.18
    for _, sx, sy, pop in _SETTLEMENTS:
        pop_at_year = pop / 1.3 if year == 2000 else pop
        radius_m = np.sqrt(pop_at_year / 4500.0 / np.pi) * 1000.0 * growth
        # The clip keeps the noisy radius positive, so no town appears far away.
        dist = np.hypot(u - sx, v - sy) / np.clip(1.0 + 0.25 * noise["built500"](u, v), 0.5, None)
        lc[dist < max(radius_m, 0.6 * grid.cell_size_m)] = BUILT
    lc[crisp["channel"]] = WATER
    for _, _, su, off in _SITES:
        sx, sy = _site_uv(su, off)
        core = (np.hypot(u - sx, v - sy) < max(250.0, 0.75 * grid.cell_size_m)) & ~crisp["channel"]
        lc[core] = TREE
    return lc


def _site_uv(su, offset_from_bank_m):
    """Site position: a fixed distance from the bank of the channel."""
    sign = np.sign(offset_from_bank_m)
    return _offset_point(su, sign * _channel_width_m(su) / 2.0 + offset_from_bank_m)


def _uv_to_xy(uv):
    """Local (u, v) metres to UTM 42N coordinates."""
    out = np.asarray(uv, dtype=float).copy()
    out[:, 0] += ORIGIN_X_M
    out[:, 1] += ORIGIN_Y_M - EXTENT_Y_M
    return out


# ---------------------------------------------------------------------------
# Vector features (all first built in local u, v metres)
# ---------------------------------------------------------------------------
def _centreline(u_from, u_to, *, step_m=100.0):
    """The river centreline between two eastings, as a line in local metres."""
    u = np.arange(u_from, u_to + step_m / 2.0, step_m)
    return shapely.LineString(np.column_stack([u, _centre_v(u)]))


def _tributary_line():
    """A small river entering from the north and joining the main river."""
    v_join = _centre_v(55500.0)
    v = np.linspace(EXTENT_Y_M, v_join, 160)
    t = (EXTENT_Y_M - v) / (EXTENT_Y_M - v_join)
    u = 57500.0 - 2000.0 * t + 700.0 * np.sin(2.0 * np.pi * t * 4.5) * (1.0 - t**2)
    return shapely.LineString(np.column_stack([u, v]))


def _main_canal_uv():
    """The main canal: offtake upstream on the south bank, then west along the terrace."""
    u = np.arange(77000.0, -1.0, -500.0)
    smooth_v = _centre_v(u)
    kernel = np.ones(17) / 17.0
    padded = np.pad(smooth_v, 8, mode="edge")
    smooth_v = np.convolve(padded, kernel, mode="valid")
    target = _floodplain_half_m(u, -1) + 1300.0
    v = smooth_v - target
    # Push vertices south until they are clear of the floodplain, then smooth again.
    for _ in range(60):
        too_close = _signed_distance(u, v) > -target
        if not too_close.any():
            break
        v = np.where(too_close, v - 100.0, v)
    v = np.convolve(np.pad(v, 2, mode="edge"), np.ones(5) / 5.0, mode="valid")
    v = np.minimum(v, _centre_v(u) - target / np.sqrt(1.0 + _centre_slope(u) ** 2))
    offtake = _offset_point(79200.0, -_channel_width_m(79200.0) / 2.0)
    coords = np.vstack([np.array(offtake)[None, :], np.column_stack([u, v])])
    return shapely.LineString(coords)


def _distributaries():
    """Secondary canals leaving the main canal southwards along the field grid."""
    canal = _main_canal_uv()
    lines = []
    cos_a, sin_a = np.cos(_FIELD_ANGLE_RAD), np.sin(_FIELD_ANGLE_RAD)
    for k, p in enumerate(np.arange(6000.0, 76000.0, 8000.0)):
        # Line of constant p: u = p cos a - q sin a, v = p sin a + q cos a.
        q = np.linspace(-5000.0, EXTENT_Y_M, 400)
        pts = np.column_stack([p * cos_a - q * sin_a, p * sin_a + q * cos_a])
        full = shapely.LineString(pts)
        hit = full.intersection(canal)
        if hit.is_empty:
            continue
        start = hit if hit.geom_type == "Point" else shapely.get_geometry(hit, 0)
        uc, vc = start.x, start.y
        depth = _south_crop_depth_m(uc) - 1300.0 - 600.0
        end_v = vc - depth
        if end_v < 0.0:
            end_v = 200.0
        line = shapely.LineString([(uc, vc), (uc + (vc - end_v) * sin_a / cos_a, end_v)])
        lines.append((f"Distributary D{k + 1}", line))
    return lines


def _road(points_uv, rng, *, jitter_m=150.0):
    """A road through given points, with slight natural bends."""
    pts = np.asarray(points_uv, dtype=float)
    out = [pts[0]]
    for a, b in itertools.pairwise(pts):
        for t in (0.33, 0.66):
            mid = a + t * (b - a) + rng.normal(0.0, jitter_m, 2)
            out.append(mid)
        out.append(b)
    return shapely.LineString(np.vstack(out))


def _protected_areas():
    """Three protected areas along the river."""
    pa1 = _centreline(6000.0, 17500.0).buffer(2600.0, cap_style="flat")
    pa2 = _centreline(58500.0, 67500.0).buffer(2300.0, cap_style="flat")
    ou, side, radius = _OXBOWS[1]
    cx, cy = _offset_point(ou, side * (_channel_width_m(ou) / 2.0 + radius + 350.0))
    pa3 = shapely.Point(cx, cy).buffer(radius + 700.0, quad_segs=16)
    polys = [shapely.simplify(p, 150.0) for p in (pa1, pa2, pa3)]
    return [
        (1, "Demo Reserve", "Strict Nature Reserve (IUCN Ia)", polys[0]),
        (2, "Eastmark Tugai Sanctuary (demo)", "Wildlife Sanctuary (IUCN IV)", polys[1]),
        (3, "Oxbow Lakes (demo)", "Ramsar Site", polys[2]),
    ]


def _historical_range():
    """The documented historical range: the main valley, 6 km either side of the river.

    The tributary valley in the north lies outside it (no record of deer there), so a candidate
    up the tributary fails the 'inside the historical range' test (IUCN/SSC 2013).
    """
    return shapely.simplify(_centreline(0.0, EXTENT_X_M).buffer(6000.0), 150.0)


def _border_line():
    """International border between the two fictional countries, north to south."""
    return shapely.LineString([
        (47800.0, EXTENT_Y_M + 500.0), (47200.0, 52000.0), (46300.0, 44000.0),
        (45600.0, 36000.0), (45100.0, 28000.0), (44200.0, 20000.0), (43800.0, 9000.0),
        (44600.0, -500.0),
    ])


# ---------------------------------------------------------------------------
# Tugai polygons
# ---------------------------------------------------------------------------
def _tugai_polygons(lc, floodplain, grid):
    """Vectorize the tugai classes inside the floodplain and simplify them a little."""
    mask = floodplain & np.isin(lc, list(TUGAI_CODES))
    geoms, codes = [], []
    for geom, value in rasterio.features.shapes(lc, mask=mask, connectivity=4, transform=grid.transform):
        geoms.append(shapely.geometry.shape(geom))
        codes.append(int(value))
    geoms = np.asarray(geoms, dtype=object)
    # Coverage simplification keeps neighbouring polygons edge-matched; the tolerance
    # is fixed in metres so reduced-scale runs are simplified no more than the full one.
    simplified = shapely.coverage_simplify(geoms, BASE_CELL_SIZE_M)
    out_geoms, out_codes = [], []
    for geom, code in zip(simplified, codes):
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        for part in shapely.get_parts(geom):
            if part.geom_type == "Polygon" and part.area > 0.25 * grid.cell_size_m**2:
                out_geoms.append(shapely.orient_polygons(part))
                out_codes.append(code)
    gdf = gpd.GeoDataFrame(
        {"tugai_id": np.arange(1, len(out_geoms) + 1, dtype=np.int64),
         "type": [TUGAI_CODES[c] for c in out_codes]},
        geometry=out_geoms, crs=CRS_UTM,
    ).to_crs(CRS_GEO)
    fixed = gdf.geometry.values
    bad = ~shapely.is_valid(fixed)
    if bad.any():
        fixed[bad] = shapely.make_valid(fixed[bad])
        gdf = gdf.set_geometry(fixed)
    return gdf


def _self_touching(polygon):
    """Re-encode a polygon whose hole touches its shell at one vertex as a single
    self-touching ring (an 'inverted hole', invalid in OGC but repairable to the
    same point set by shapely.make_valid or buffer(0)). None if it has no such hole."""
    shell = list(polygon.exterior.coords)[:-1]
    for idx, hole in enumerate(polygon.interiors):
        hole_pts = list(hole.coords)[:-1]
        shared = set(shell) & set(hole_pts)
        if len(shared) != 1:
            continue
        touch = shared.pop()
        i, j = shell.index(touch), hole_pts.index(touch)
        shell_loop = shell[i:] + shell[:i] + [touch]
        hole_loop = hole_pts[j:] + hole_pts[:j] + [touch]
        others = [r for k, r in enumerate(polygon.interiors) if k != idx]
        return shapely.Polygon(shell_loop + hole_loop[1:], others)
    return None


def _notched(polygon):
    """Fallback invalid polygon: a small inverted-hole triangle at a shell vertex."""
    shell = list(polygon.exterior.coords)[:-1]
    centre = polygon.representative_point()
    px, py = shell[0]
    cx, cy = centre.x, centre.y
    a = (px + 0.3 * (cx - px), py + 0.3 * (cy - py))
    b = (a[0] + 0.1 * (cy - py), a[1] - 0.1 * (cx - px))
    loop = [shell[0], b, a, shell[0]]
    return shapely.Polygon(shell + [shell[0]] + loop[1:], list(polygon.interiors))


def _inject_invalid(gdf):
    """Make exactly one polygon of a tugai layer invalid but repairable."""
    geoms = gdf.geometry.values.copy()
    order = np.argsort(-shapely.area(geoms), kind="stable")
    for i in order:
        bad = _self_touching(geoms[i])
        if bad is not None and not bad.is_valid and shapely.make_valid(bad).equals(geoms[i]):
            geoms[i] = bad
            return gdf.set_geometry(geoms), int(gdf["tugai_id"].iloc[i]), "self-touching ring"
    i = order[0]
    geoms[i] = _notched(geoms[i])
    return gdf.set_geometry(geoms), int(gdf["tugai_id"].iloc[i]), "notch"



# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------
def _patch_density(lc, floodplain, grid, x, y, count):
    """Deer per km2 of the 8-connected tugai patch that holds (x, y)."""
    tugai = floodplain & np.isin(lc, list(TUGAI_CODES))
    labels, _ = ndimage.label(tugai, structure=np.ones((3, 3)))
    row = int((ORIGIN_Y_M - y) // grid.cell_size_m)
    col = int((x - ORIGIN_X_M) // grid.cell_size_m)
    label = labels[row, col]
    if label == 0:
        return float("nan"), 0.0
    area_km2 = (labels == label).sum() * grid.cell_size_m**2 / 1e6
    return count / area_km2, area_km2


def _known_places():
    """The fictional known places as a table with lon/lat (WGS84) and UTM 42N coordinates."""
    xy = _uv_to_xy(np.array([_site_uv(su, off) for _, _, _, su, off, _ in _KNOWN_PLACES]))
    lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS_UTM).to_crs(CRS_GEO)
    return pd.DataFrame({
        "place_id": [p[0] for p in _KNOWN_PLACES],
        "name": [p[1] for p in _KNOWN_PLACES],
        "kind": [p[2] for p in _KNOWN_PLACES],
        "lat": np.round(lonlat.y.to_numpy(), 6),
        "lon": np.round(lonlat.x.to_numpy(), 6),
        "x_utm42n": np.round(xy[:, 0], 1),
        "y_utm42n": np.round(xy[:, 1], 1),
        "source": "synthetic demo place (scripts/make_demo_data.py); not a real observation",
        "notes": [p[5] for p in _KNOWN_PLACES],
    })


def _census(rng):
    """Short census series per population; the 2020 count goes on the site point."""
    rows = []
    for site_id, (years, (first, last), method) in _CENSUS.items():
        years = np.asarray(years)
        t = (years - years[0]) / (years[-1] - years[0])
        trend = first * (last / first) ** t
        noisy = trend * (1.0 + rng.normal(0.0, 0.06, len(years)))
        for year, count in zip(years, np.round(noisy).astype(int)):
            rows.append({"site_id": site_id, "year": int(year), "count": int(count), "method": method,
                         "source": "fictional demo data (scripts/make_demo_data.py)"})
    return pd.DataFrame(rows, columns=["site_id", "year", "count", "method", "source"])


def _utm(geoms):
    return [shapely.transform(g, _uv_to_xy) for g in geoms]


def build_demo(*, scale=1.0, seed=SEED):
    r"""Build the whole demo data set in memory (no file I/O).

    Parameters
    ----------
    scale : float, optional
        Resolution factor in [0.05, 1] (1 = 800 x 600 cells of 100 m).
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the only source of randomness.

    Returns
    -------
    DemoData
        Land cover for 2000 and 2020 (uint8 ESA WorldCover codes), the floodplain
        mask, every vector layer as a GeoDataFrame, the census table and a summary
        (tugai areas in km2, loss fraction, population densities in deer/km2).

    Notes
    -----
    Local coordinates u, v are metres east / north of the south-west corner
    (x = 420000 + u, y = 4700000 + v in EPSG:32642). The river centreline is

    .. math:: v_c(u) = 29500 + 0.07 (40000 - u) + \sum_k A_k \sin(2\pi u / L_k + \phi_k)

    with (A, L) = (3300, 27000), (1400, 10500), (380, 4300) m. A cell's signed
    distance from it is approximated by :math:`s = (v - v_c) / \sqrt{1 + v_c'^2}`
    (+ = north bank). Channel: :math:`|s| < w(u)/2` with w in [250, 400] m;
    floodplain: :math:`-h_S < s < h_N` with half-widths of about 1.5-2.8 km plus
    smooth noise. Noise fields are cubic-spline interpolated Gaussian lattices of
    fixed spacing in metres, so the landscape is independent of ``scale``.
    Tugai = codes 10, 20, 90 inside the floodplain; the 2000 -> 2020 loss is
    15-30 % (15.9 % at scale 1).
    """
    grid = make_grid(scale)
    rng = np.random.default_rng(seed)
    landcover, floodplain = _build_landcover(grid, rng)
    data = DemoData(grid=grid, landcover=landcover, floodplain=floodplain)

    tugai00 = _tugai_polygons(landcover[2000], floodplain, grid)
    tugai20 = _tugai_polygons(landcover[2020], floodplain, grid)
    tugai20, invalid_id, invalid_kind = _inject_invalid(tugai20)
    data.layers["tugai_2000"] = ("tugai", tugai00)
    data.layers["tugai_2020"] = ("tugai", tugai20)

    # Rivers: the main river in four reaches (flowing west) and the tributary.
    reaches = []
    for k, (a, b) in enumerate(((60000.0, EXTENT_X_M), (40000.0, 60000.0), (20000.0, 40000.0),
                                (0.0, 20000.0))):
        line = shapely.reverse(_centreline(a, b))  # downstream order: east to west
        width = float(np.round(_channel_width_m(np.arange(a, b, 100.0)).mean(), -1))
        reaches.append(("Demo Darya", width, line))
    reaches.append(("Demo Say", 40.0, _tributary_line()))
    data.layers["rivers"] = ("rivers", gpd.GeoDataFrame(
        {"name": [r[0] for r in reaches], "width_m": [r[1] for r in reaches]},
        geometry=_utm([r[2] for r in reaches]), crs=CRS_UTM))

    canals = [("Demo Main Canal", _main_canal_uv())] + _distributaries()
    data.layers["canals"] = ("canals", gpd.GeoDataFrame(
        {"name": [c[0] for c in canals]}, geometry=_utm([c[1] for c in canals]), crs=CRS_UTM))

    towns = {name: (su, sv) for name, su, sv, _ in _SETTLEMENTS}
    data.layers["settlements"] = ("settlements", gpd.GeoDataFrame(
        {"name": [s[0] for s in _SETTLEMENTS],
         "population": np.array([s[3] for s in _SETTLEMENTS], dtype=np.int64)},
        geometry=_utm([shapely.Point(towns[s[0]]) for s in _SETTLEMENTS]), crs=CRS_UTM))

    bridge1 = _offset_point(36500.0, 0.0)
    bridge2 = _offset_point(75500.0, 0.0)
    roads = [
        ("primary", _road([(0.0, 25500.0), towns["Sampleqala"], (16000.0, 21000.0), towns["Demoabad"],
                           (46500.0, 20000.0), towns["Mockatepa"], (70000.0, 20500.0),
                           (EXTENT_X_M, 19500.0)], rng)),
        ("secondary", _road([towns["Demoabad"], (bridge1[0], bridge1[1] - 2500.0), bridge1,
                             (bridge1[0] + 1500.0, bridge1[1] + 2500.0), towns["Ferrokent"],
                             (42500.0, EXTENT_Y_M)], rng, jitter_m=80.0)),
        ("secondary", _road([(74800.0, 20200.0), (bridge2[0] - 300.0, bridge2[1] - 2500.0), bridge2,
                             towns["Testaul"]], rng, jitter_m=80.0)),
        ("secondary", _road([towns["Sampleqala"], (9000.0, 2000.0), (10000.0, 0.0)], rng)),
    ]
    data.layers["roads"] = ("roads", gpd.GeoDataFrame(
        {"road_class": [r[0] for r in roads]}, geometry=_utm([r[1] for r in roads]), crs=CRS_UTM))

    pas = _protected_areas()
    data.layers["protected_areas"] = ("protected_areas", gpd.GeoDataFrame(
        {"pa_id": np.array([p[0] for p in pas], dtype=np.int64), "name": [p[1] for p in pas],
         "designation": [p[2] for p in pas]},
        geometry=_utm([p[3] for p in pas]), crs=CRS_UTM))

    data.layers["historical_range"] = ("historical_range", gpd.GeoDataFrame(
        {"name": ["Demo Darya valley (documented range, demo)"]},
        geometry=_utm([_historical_range()]), crs=CRS_UTM))

    study = shapely.box(0.0, 0.0, EXTENT_X_M, EXTENT_Y_M)
    west, east = sorted(shapely.get_parts(shapely.ops.split(study, _border_line())),
                        key=lambda g: g.centroid.x)
    units = gpd.GeoDataFrame(
        {"unit_id": ["AA", "BB"], "name": ["Westmark (demo country)", "Eastmark (demo country)"]},
        geometry=_utm([shapely.segmentize(west, 2000.0), shapely.segmentize(east, 2000.0)]), crs=CRS_UTM,
    ).to_crs(CRS_GEO)
    data.layers["reporting_units"] = ("units", units)

    census = _census(rng)
    counts = census[census["year"] == 2020].set_index("site_id")["count"]
    site_xy = [_uv_to_xy(np.array([_site_uv(su, off)]))[0] for _, _, su, off in _SITES]
    data.layers["populations"] = ("populations", gpd.GeoDataFrame(
        {"site_id": [s[0] for s in _SITES], "name": [s[1] for s in _SITES],
         "count": np.array([counts[s[0]] for s in _SITES], dtype=np.int64),
         "year": np.full(len(_SITES), 2020, dtype=np.int64)},
        geometry=[shapely.Point(x, y) for x, y in site_xy], crs=CRS_UTM))
    data.census = census
    data.known_places = _known_places()

    cell_km2 = grid.cell_size_m**2 / 1e6
    area = {year: round(float((floodplain & np.isin(lc, list(TUGAI_CODES))).sum() * cell_km2), 2)
            for year, lc in landcover.items()}
    densities = {}
    for (site_id, _, _, _), (x, y) in zip(_SITES, site_xy):
        densities[site_id] = _patch_density(landcover[2020], floodplain, grid, x, y, int(counts[site_id]))
    data.summary = {
        "tugai_km2": area,
        "tugai_loss_fraction": round(1.0 - area[2020] / area[2000], 4),
        "density_per_km2_2020": {k: round(float(v[0]), 1) for k, v in densities.items()},
        "patch_km2_2020": {k: round(float(v[1]), 1) for k, v in densities.items()},
        "invalid_tugai_2020": (invalid_id, invalid_kind),
        "n_tugai_polygons": {2000: len(tugai00), 2020: len(tugai20)},
    }
    return data


# ---------------------------------------------------------------------------
# Writing (the only part with file I/O)
# ---------------------------------------------------------------------------
def _write_raster(path, array, grid):
    profile = {
        "driver": "GTiff", "height": grid.n_rows, "width": grid.n_cols, "count": 1, "dtype": "uint8",
        "crs": CRS_UTM, "transform": grid.transform, "nodata": 0, "tiled": True,
        "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        dst.write_colormap(1, _COLORMAP)
        # Fixed tags only: a date here would break byte-reproducibility.
        dst.update_tags(1, legend="ESA WorldCover codes",
                        source="fictional demo data (scripts/make_demo_data.py)")


def write_demo(data, out_dir):
    """Write every demo file into a folder, replacing earlier versions.

    Parameters
    ----------
    data : DemoData
        Output of :func:`build_demo`.
    out_dir : str or Path
        Target folder; created if missing. Only the files in ``OUTPUT_FILES`` are
        replaced (a README beside them is kept).

    Notes
    -----
    Byte-reproducible: the GeoTIFFs carry no timestamps and the GeoPackage
    ``last_change`` is pinned through GDAL's ``OGR_CURRENT_DATE``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for year, array in data.landcover.items():
        _write_raster(out_dir / f"landcover_{year}.tif", array, data.grid)
    # GeoPackage stores a last-change timestamp; pin it so two runs give identical bytes.
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    try:
        for stem, (layer, gdf) in data.layers.items():
            gdf.to_file(out_dir / f"{stem}.gpkg", layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    data.census.to_csv(out_dir / "census.csv", index=False, lineterminator="\n")
    data.known_places.to_csv(out_dir / "known_places.csv", index=False, lineterminator="\n")


def main(argv=None):
    """Command line: ``python scripts/make_demo_data.py [--out DIR] [--scale S] [--seed N]``."""
    default_out = Path(__file__).resolve().parents[1] / "data" / "demo"
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=default_out, help="output folder (default data/demo)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="resolution factor in [0.05, 1]; 0.25 gives 200 x 150 cells of 400 m")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="do not print the summary")
    args = parser.parse_args(argv)
    data = build_demo(scale=args.scale, seed=args.seed)
    write_demo(data, args.out)
    if not args.quiet:
        for key, value in data.summary.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HabitatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
