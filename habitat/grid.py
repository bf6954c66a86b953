"""GridSpec: the analysis grid as a frozen, hashable value.

Axis-order rule: arrays are indexed ``[row, col]`` = ``[y, x]``; shapes are ``(height, width)``;
bounds are ``(xmin, ymin, xmax, ymax)``; resolutions are given as one positive cell size in CRS
units (square cells, north-up).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from habitat.errors import InvalidParameterError, MissingCRSError

#: Default analysis CRS: an Albers equal-area conic fitted to Central Asia (standard parallels
#: 37 N and 45 N enclose the Bukhara deer range, 36-47 N; central meridian 68 E). Area distortion
#: is zero by construction; scale distortion along meridians stays under about 1 % in 36-47 N.
DEFAULT_CRS = (
    "+proj=aea +lat_0=40 +lon_0=68 +lat_1=37 +lat_2=45 +x_0=0 +y_0=0 "
    "+datum=WGS84 +units=m +no_defs"
)


def parse_crs(crs: object, key: str = "grid.crs") -> CRS:
    """A pyproj CRS from user input ('default', 'EPSG:<code>', PROJ, WKT); an unknown code is a
    user error naming ``key``."""
    if crs is None or crs == "":
        raise MissingCRSError(f"{key}: no CRS given; name one, e.g. 'EPSG:32642' or 'default'")
    if isinstance(crs, str) and crs.strip().lower() == "default":
        crs = DEFAULT_CRS
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError with a long message
        raise InvalidParameterError(
            f"{key}: {crs!r} is not a CRS pyproj understands (unknown code?); use 'EPSG:<code>', "
            "a PROJ string or WKT"
        ) from exc


def _canonical_crs(crs: object) -> str:
    parsed = parse_crs(crs)
    epsg = parsed.to_epsg(min_confidence=100)
    return f"EPSG:{epsg}" if epsg is not None else parsed.to_wkt()


@dataclass(frozen=True)
class GridSpec:
    """An analysis grid: CRS, affine transform and shape.

    Parameters
    ----------
    crs : str
        Canonical CRS string (``EPSG:<code>`` or WKT); use :meth:`create` or
        :meth:`from_bounds` to build one from any user input.
    transform : tuple of 6 float
        ``(a, b, c, d, e, f)`` of the affine pixel-to-map transform (rasterio order); north-up
        square cells: ``b = d = 0``, ``a = -e > 0``.
    shape : tuple of 2 int
        ``(height, width)`` in cells.

    Notes
    -----
    The grid is a value: equal grids compare and hash equal, so a grid can be part of a cache
    key. Cell ``(row, col)`` covers ``[c + col a, c + (col+1) a) x (f + (row+1) e, f + row e]``
    and its centre is at ``(c + (col + 0.5) a, f + (row + 0.5) e)``.
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        a, b, _, d, e, _ = self.transform
        if b != 0 or d != 0:
            raise InvalidParameterError("grid.transform: rotated grids are not supported")
        if a <= 0 or e >= 0 or not math.isclose(a, -e, rel_tol=1e-9):
            raise InvalidParameterError(
                "grid.transform: cells must be square and north-up (a = -e > 0)"
            )
        if self.shape[0] <= 0 or self.shape[1] <= 0:
            raise InvalidParameterError(f"grid.shape: {self.shape} must be positive")

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def create(cls, crs: object, transform: Affine | tuple, shape: tuple[int, int]) -> GridSpec:
        """Build a grid from any CRS input, an Affine (or 6-tuple) and ``(height, width)``."""
        t = tuple(float(v) for v in tuple(transform)[:6])
        return cls(_canonical_crs(crs), t, (int(shape[0]), int(shape[1])))

    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], crs: object, resolution: float
    ) -> GridSpec:
        """Grid covering ``bounds`` with square cells of ``resolution`` CRS units.

        The bounds are snapped outwards to whole multiples of ``resolution`` so that grids of
        the same resolution and CRS always align.

        Examples
        --------
        >>> g = GridSpec.from_bounds((0, 0, 250, 100), "EPSG:32642", 100)
        >>> g.shape, g.bounds
        ((1, 3), (0.0, 0.0, 300.0, 100.0))
        """
        res = float(resolution)
        if not math.isfinite(res) or res <= 0:
            raise InvalidParameterError(
                f"grid.resolution_m: {resolution} must be a positive number of CRS units"
            )
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        if not (xmax > xmin and ymax > ymin):
            raise InvalidParameterError(
                f"grid.bounds: {tuple(bounds)} must be (xmin, ymin, xmax, ymax) with max > min"
            )
        # A tiny tolerance keeps bounds that are already multiples from growing by a cell.
        eps = res * 1e-9
        x0 = math.floor((xmin + eps) / res) * res
        y1 = math.ceil((ymax - eps) / res) * res
        width = max(1, math.ceil((xmax - eps - x0) / res))
        height = max(1, math.ceil((y1 - (ymin + eps)) / res))
        return cls.create(crs, (res, 0.0, x0, 0.0, -res, y1), (height, width))

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"crs": self.crs, "transform": list(self.transform), "shape": list(self.shape)}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces); equal grids give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | dict) -> GridSpec:
        d = json.loads(text) if isinstance(text, str) else text
        return cls(d["crs"], tuple(float(v) for v in d["transform"]), tuple(d["shape"]))

    # -- geometry ---------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def resolution(self) -> float:
        """Cell size in CRS units (metres on a projected grid, degrees on a geographic one)."""
        return self.transform[0]

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, _, c, _, e, f = self.transform
        return (c, f + e * self.height, c + a * self.width, f)

    @cached_property
    def pyproj_crs(self) -> CRS:
        return CRS.from_user_input(self.crs)

    @property
    def is_geographic(self) -> bool:
        return bool(self.pyproj_crs.is_geographic)

    @property
    def x_coords(self) -> np.ndarray:
        """Cell-centre x coordinates, west to east."""
        a, _, c, *_ = self.transform
        return c + (np.arange(self.width) + 0.5) * a

    @property
    def y_coords(self) -> np.ndarray:
        """Cell-centre y coordinates, north to south."""
        e, f = self.transform[4], self.transform[5]
        return f + (np.arange(self.height) + 0.5) * e

    @property
    def metres_per_unit(self) -> float:
        """Metres per CRS unit: the linear unit on a projected grid, a degree of latitude on a geographic one.

        Notes
        -----
        Projected: the CRS axis unit's conversion factor (1 for metres, 0.3048 for feet; 1 when the
        CRS names no axis). Geographic: 111 320 m per degree, the length of a degree of latitude
        (and of longitude at the equator; multiply by ``cos(latitude)`` for longitude elsewhere).
        """
        crs = self.pyproj_crs
        if crs.is_geographic:
            return 111_320.0
        return crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0

    @property
    def cell_size_m(self) -> float:
        """Cell side in metres: ``resolution * metres_per_unit`` (exact on a projected grid; on a
        geographic grid the north-south side, a degree of latitude being 111 320 m)."""
        return self.resolution * self.metres_per_unit

    def cell_area_m2(self) -> np.ndarray:
        """Area of every cell in m², shape ``(height, width)``, float64.

        On a projected grid the cell area is ``resolution**2`` times the squared linear unit in
        metres (exact on an equal-area projection). On a geographic grid each cell is a
        quadrangle bounded by meridians and parallels on the CRS ellipsoid, with the exact area

        ``A = Δλ · b²/2 · [q(φ2) - q(φ1)]``,
        ``q(φ) = sin φ / (1 - e² sin² φ) + ln((1 + e sin φ)/(1 - e sin φ)) / (2e)``

        (Δλ in radians, b the semi-minor axis, e the eccentricity), which depends on the row only.
        """
        crs = self.pyproj_crs
        if not crs.is_geographic:
            return np.full(self.shape, (self.resolution * self.metres_per_unit) ** 2, dtype=np.float64)
        ellipsoid = crs.ellipsoid
        a_m, b_m = ellipsoid.semi_major_metre, ellipsoid.semi_minor_metre
        e2 = 1.0 - (b_m / a_m) ** 2
        edges = np.deg2rad(self.transform[5] + np.arange(self.height + 1) * self.transform[4])
        sin = np.sin(edges)
        if e2 > 0:
            e = np.sqrt(e2)
            q = sin / (1 - e2 * sin**2) + np.log((1 + e * sin) / (1 - e * sin)) / (2 * e)
        else:  # sphere: the limit e -> 0 of the expression above
            q = 2 * sin
        dlon = np.deg2rad(self.resolution)
        row_area = np.abs(dlon * b_m**2 / 2 * np.diff(q))
        return np.repeat(row_area[:, None], self.width, axis=1)

    def is_equal_area(self) -> bool:
        """True when the CRS is an equal-area projection (areas need no correction)."""
        crs = self.pyproj_crs
        if crs.is_geographic:
            return False
        method = (crs.coordinate_operation.method_name or "").lower() if crs.coordinate_operation else ""
        return "equal area" in method or "albers" in method or "mollweide" in method or (
            "sinusoidal" in method
        )

    # -- blocks -----------------------------------------------------------------------------
    def window(self, row_off: int, col_off: int, height: int, width: int) -> GridSpec:
        """The sub-grid of ``height x width`` cells starting at ``(row_off, col_off)``."""
        a, b, c, d, e, f = self.transform
        return GridSpec(
            self.crs, (a, b, c + col_off * a, d, e, f + row_off * e), (int(height), int(width))
        )

    def pad(self, cells: int) -> GridSpec:
        """The grid grown by ``cells`` cells on every side (same CRS, resolution, alignment)."""
        n = int(cells)
        if n < 0:
            raise InvalidParameterError(f"pad of {cells} cells must be >= 0")
        return self.window(-n, -n, self.height + 2 * n, self.width + 2 * n)

    def tiles(self, tile_shape: tuple[int, int]) -> Iterator[tuple[tuple[slice, slice], GridSpec]]:
        """Split the grid into tiles of at most ``tile_shape`` cells, row-major.

        Yields ``((row_slice, col_slice), sub_grid)``; the slices index an array on this grid.
        """
        th, tw = int(tile_shape[0]), int(tile_shape[1])
        if th <= 0 or tw <= 0:
            raise InvalidParameterError(f"tile_shape {tile_shape} must be positive")
        for r0 in range(0, self.height, th):
            for c0 in range(0, self.width, tw):
                h, w = min(th, self.height - r0), min(tw, self.width - c0)
                yield (slice(r0, r0 + h), slice(c0, c0 + w)), self.window(r0, c0, h, w)

    def rowcol(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells holding map points ``(x, y)`` (may be outside the grid)."""
        a, _, c, _, e, f = self.transform
        col = np.floor((np.asarray(x, dtype=float) - c) / a).astype(np.int64)
        row = np.floor((np.asarray(y, dtype=float) - f) / e).astype(np.int64)
        return row, col

    def __repr__(self) -> str:
        return (
            f"GridSpec(crs={self.crs if len(self.crs) < 40 else self.crs[:37] + '...'}, "
            f"shape={self.shape}, resolution={self.resolution}, bounds={self.bounds})"
        )


# -- resources -----------------------------------------------------------------------------------
#: Lower bound of the memory a run needs per grid cell: four float64 layers held at once (a cost
#: surface, its distances, a label image and one input); measured runs need more (bench/README.md).
MIN_BYTES_PER_CELL = 32
#: Lower bound of the disk space per cell and raster output (compressed COG of a byte layer).
MIN_DISK_BYTES_PER_CELL = 1
#: Fewest cells along each side of a usable analysis grid.
MIN_CELLS_PER_SIDE = 2


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None


def _binary_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def grid_size_problem(
    shape: tuple[int, int], resolution: float, *, raster_outputs: int = 1, out_dir: str | os.PathLike | None = None,
    key: str = "grid.resolution_m", memory_bytes: int | None = None, disk_free_bytes: int | None = None,
) -> str | None:
    """Why a grid of ``shape`` cells cannot be run on this machine, or None.

    Checked before anything is allocated: too few cells (a cell size near the study area's
    size), more memory than the machine has (``cells x MIN_BYTES_PER_CELL``), or more disk than
    is free below ``out_dir`` (``cells x MIN_DISK_BYTES_PER_CELL x raster_outputs``). The
    message names ``key`` and the cell size that would fit.
    """
    rows, cols = (int(v) for v in shape)
    cells = float(rows) * float(cols)
    if min(rows, cols) < MIN_CELLS_PER_SIDE:
        return (f"{key}: {resolution:g} makes a grid of only {rows} x {cols} cells over the study area; "
                f"use a cell size well below the study area's width and height")
    memory = memory_bytes if memory_bytes is not None else _physical_memory()
    need = cells * MIN_BYTES_PER_CELL
    if memory is not None and need > memory:
        fit = resolution * math.sqrt(need / memory)
        return (f"{key}: {resolution:g} makes a grid of {rows:,} x {cols:,} cells, which needs at least "
                f"{_binary_size(need)} of memory but this machine has {_binary_size(memory)}; "
                f"use a coarser cell size (at least {fit:.3g})")
    if disk_free_bytes is None and out_dir is not None:
        existing = Path(out_dir).resolve()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        with contextlib.suppress(OSError):
            disk_free_bytes = shutil.disk_usage(existing).free
    disk = cells * MIN_DISK_BYTES_PER_CELL * max(1, raster_outputs)
    if disk_free_bytes is not None and disk > disk_free_bytes:
        fit = resolution * math.sqrt(disk / max(disk_free_bytes, 1))
        return (f"{key}: {resolution:g} makes a grid of {rows:,} x {cols:,} cells; its {raster_outputs} raster "
                f"outputs need at least {_binary_size(disk)} of disk but {out_dir} has "
                f"{_binary_size(disk_free_bytes)} free; use a coarser cell size (at least {fit:.3g}) or "
                f"another output folder")
    return None
