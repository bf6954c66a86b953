"""Land-cover products mapped to habitat classes through crosswalk tables."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from habitat.defaults import default_file
from habitat.errors import (
    ConfigError,
    CrosswalkError,
    GridMismatchError,
    InputFileError,
    InvalidParameterError,
)
from habitat.vocabulary import HABITAT_CLASS_CODES, HABITAT_CLASSES

__all__ = [
    "CROSSWALK_COLUMNS",
    "FLOODPLAIN_CLASSES",
    "HABITAT_CLASSES",
    "HABITAT_CLASS_CODES",
    "NODATA_CLASS",
    "NODATA_CLASS_CODE",
    "PRODUCTS",
    "Crosswalk",
    "floodplain_mask",
    "map_landcover",
    "read_crosswalk",
]

#: Crosswalk class name for product codes that carry no observation.
NODATA_CLASS = "nodata"

#: Value of nodata cells in the habitat-class raster.
NODATA_CLASS_CODE = 0

#: Classes that count as tugai only inside the floodplain (DOMAIN.md 7.7); a crosswalk row
#: without an ``outside_floodplain`` value maps them to ``other`` outside it.
FLOODPLAIN_CLASSES: tuple[str, ...] = ("tugai_forest", "tugai_shrub", "reed_wetland")

#: Products with a shipped crosswalk in ``config/landcover/<name>.csv``.
PRODUCTS: tuple[str, ...] = (
    "esa_worldcover",
    "copernicus_lc100",
    "esa_cci",
    "modis_mcd12q1",
    "modis_mcd12c1",
    "dynamic_world",
)

#: Columns a crosswalk CSV may have; ``code`` and ``habitat_class`` are required.
CROSSWALK_COLUMNS: tuple[str, ...] = ("code", "name", "habitat_class", "outside_floodplain", "note")
_REQUIRED_COLUMNS = ("code", "habitat_class")
_VALID_CLASSES = (*HABITAT_CLASSES, NODATA_CLASS)
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Enough codes to recognise the problem; a raster of noise would otherwise give a huge line.
_MAX_LISTED_CODES = 20
_INT64_SAFE = 2**62
_MAX_TABLE_SIZE = 2**20
# The pipeline key that switches unknown codes to nodata (habitat.config.IngestParams).
_UNKNOWN_CODES_KEY = "stages.ingest.unknown_landcover_codes"


@dataclass(frozen=True)
class Crosswalk:
    """Validated crosswalk from one product's land-cover codes to habitat classes.

    Frozen and hashable, so it can go into a cache key.

    Parameters
    ----------
    source : str
        Product name (one of `PRODUCTS`) or the path the table was read from; used in messages.
    codes : tuple of int
        Product codes, unique.
    habitat_class : tuple of str
        Class of each code inside the floodplain (or everywhere when no floodplain mask is
        used); one of `HABITAT_CLASSES` or ``"nodata"``.
    outside_floodplain : tuple of str
        Class of each code outside the floodplain.
    names : tuple of str, optional
        Product class names (documentation only). Empty strings when not given.
    notes : tuple of str, optional
        Free-text notes (documentation only).
    path : str, optional
        File the table came from, named in error messages; defaults to `source`.
    """

    source: str
    codes: tuple[int, ...]
    habitat_class: tuple[str, ...]
    outside_floodplain: tuple[str, ...]
    names: tuple[str, ...] | None = None
    notes: tuple[str, ...] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        n = len(self.codes)
        where = self.path or self.source
        if n == 0:
            raise ConfigError(f"crosswalk {where} has no rows; add one row per land-cover code")
        for field in ("habitat_class", "outside_floodplain", "names", "notes"):
            value = getattr(self, field)
            if value is not None and len(value) != n:
                raise ConfigError(
                    f"crosswalk {where}: {field} has {len(value)} entries for {n} codes; "
                    "give one per code"
                )
        for code in self.codes:
            if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
                raise ConfigError(f"crosswalk {where}: code {code!r} is not an integer; use whole numbers")
        seen: set[int] = set()
        for code in self.codes:
            if code in seen:
                raise ConfigError(f"crosswalk {where}: code {code} appears twice; keep one row per code")
            seen.add(code)
        for code, inside, outside in zip(self.codes, self.habitat_class, self.outside_floodplain):
            _check_class_pair(inside, outside, f"crosswalk {where}, code {code}")

    def to_frame(self) -> pd.DataFrame:
        """Return the table as a DataFrame with the `CROSSWALK_COLUMNS` columns."""
        n = len(self.codes)
        return pd.DataFrame(
            {
                "code": np.asarray(self.codes, dtype=np.int64),
                "name": list(self.names or ("",) * n),
                "habitat_class": list(self.habitat_class),
                "outside_floodplain": list(self.outside_floodplain),
                "note": list(self.notes or ("",) * n),
            }
        )


def _check_class_pair(inside: str, outside: str, where: str) -> None:
    valid = ", ".join(_VALID_CLASSES)
    for column, value in (("habitat_class", inside), ("outside_floodplain", outside)):
        if value not in _VALID_CLASSES:
            raise ConfigError(f"{where}: {column} {value!r} is not a habitat class; use one of {valid}")
    # Nodata means "no observation"; a floodplain mask cannot turn it into land cover.
    if (inside == NODATA_CLASS) != (outside == NODATA_CLASS):
        raise ConfigError(
            f"{where}: habitat_class {inside!r} and outside_floodplain {outside!r} disagree on "
            "nodata; a nodata code must be nodata in both columns"
        )


def _default_outside(habitat_class: str) -> str:
    return "other" if habitat_class in FLOODPLAIN_CLASSES else habitat_class


def _shipped_crosswalk_dir() -> Path:
    return default_file("landcover")


def read_crosswalk(path_or_product_name: str | os.PathLike[str]) -> Crosswalk:
    """Read and validate a land-cover crosswalk table.

    Parameters
    ----------
    path_or_product_name : str or path-like
        One of `PRODUCTS` (``'esa_worldcover'``, ``'copernicus_lc100'``, ``'esa_cci'``,
        ``'modis_mcd12q1'``, ``'modis_mcd12c1'``, ``'dynamic_world'``) for a shipped table in
        ``config/landcover/``, or the path of a user CSV.

    Returns
    -------
    Crosswalk
        Rows in file order.

    Raises
    ------
    InputFileError
        The name is not a product and no such file exists, or the file cannot be read.
    ConfigError
        The table is malformed; the message names the file and line.

    Notes
    -----
    The CSV is UTF-8 with a header row. Columns (`CROSSWALK_COLUMNS`):

    - ``code`` (required): integer product code, unique.
    - ``habitat_class`` (required): one of `HABITAT_CLASSES` or ``nodata``.
    - ``outside_floodplain``: class used outside the floodplain mask. Blank or absent means
      ``other`` for ``tugai_forest``, ``tugai_shrub`` and ``reed_wetland`` and the
      ``habitat_class`` otherwise. ``nodata`` codes must be ``nodata`` in both columns.
    - ``name``, ``note``: free text.

    Any other column is rejected so that a misspelt ``outside_floodplain`` cannot be ignored.
    Blank lines are skipped; surrounding whitespace is stripped.

    Examples
    --------
    >>> cw = read_crosswalk("modis_mcd12c1")
    >>> cw.habitat_class[cw.codes.index(0)]
    'water'
    """
    if isinstance(path_or_product_name, str) and path_or_product_name in PRODUCTS:
        source = path_or_product_name
        path = _shipped_crosswalk_dir() / f"{path_or_product_name}.csv"
        if not path.is_file():
            raise InputFileError(
                f"shipped crosswalk {path} is missing; reinstall habitat (pip install -e .) "
                "or pass the path of a crosswalk CSV"
            )
    else:
        path = Path(path_or_product_name)
        source = str(path)
        if not path.is_file():
            raise InputFileError(
                f"crosswalk {str(path_or_product_name)!r} is neither a product name "
                f"({', '.join(PRODUCTS)}) nor an existing CSV file; fix the name or the path"
            )
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [(line, row) for line, row in _numbered_rows(csv.reader(fh))]
    except UnicodeDecodeError:
        raise ConfigError(f"crosswalk {path} is not UTF-8 text; save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise ConfigError(f"crosswalk {path} is not valid CSV ({exc}); fix the quoting") from None
    except OSError as exc:
        raise InputFileError(f"crosswalk {path} cannot be read ({exc.strerror}); check the file") from None
    return _parse_rows(rows, source=source, path=str(path))


def _numbered_rows(reader):
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, [cell.strip() for cell in row]


def _parse_rows(rows: list[tuple[int, list[str]]], *, source: str, path: str) -> Crosswalk:
    if not rows:
        raise ConfigError(f"crosswalk {path} is empty; write a header row 'code,name,habitat_class'")
    header_line, header = rows[0]
    unknown = [c for c in header if c not in CROSSWALK_COLUMNS]
    if unknown:
        raise ConfigError(
            f"crosswalk {path} line {header_line}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"allowed columns are {', '.join(CROSSWALK_COLUMNS)}"
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ConfigError(
            f"crosswalk {path} line {header_line}: column(s) {', '.join(duplicated)} appear twice; "
            "keep one of each"
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ConfigError(
            f"crosswalk {path} line {header_line}: missing column(s) {', '.join(missing)}; "
            "the header needs at least 'code,habitat_class'"
        )
    if len(rows) == 1:
        raise ConfigError(f"crosswalk {path} has a header but no rows; add one row per land-cover code")

    codes: list[int] = []
    inside: list[str] = []
    outside: list[str] = []
    names: list[str] = []
    notes: list[str] = []
    first_line: dict[int, int] = {}
    for line, row in rows[1:]:
        where = f"crosswalk {path} line {line}"
        if len(row) != len(header):
            raise ConfigError(
                f"{where}: {len(row)} fields but the header has {len(header)}; "
                "quote text that contains commas"
            )
        record = dict(zip(header, row))
        text = record["code"]
        if not _INTEGER.fullmatch(text):
            raise ConfigError(f"{where}: code {text!r} is not an integer; write a whole number such as 10")
        code = int(text)
        if code in first_line:
            raise ConfigError(
                f"{where}: code {code} already given on line {first_line[code]}; keep one row per code"
            )
        first_line[code] = line
        cls = record["habitat_class"]
        out = record.get("outside_floodplain", "") or _default_outside(cls)
        _check_class_pair(cls, out, where)
        codes.append(code)
        inside.append(cls)
        outside.append(out)
        names.append(record.get("name", ""))
        notes.append(record.get("note", ""))
    return Crosswalk(
        source=source,
        codes=tuple(codes),
        habitat_class=tuple(inside),
        outside_floodplain=tuple(outside),
        names=tuple(names),
        notes=tuple(notes),
        path=path,
    )


def floodplain_mask(river_distance_m: np.ndarray, *, buffer_m: float) -> np.ndarray:
    """Cells within a buffer distance of a river: the floodplain mask.

    Parameters
    ----------
    river_distance_m : numpy.ndarray of float
        Distance from each cell to the nearest river cell, metres, >= 0. NaN (unknown) and
        +inf (no river) give False.
    buffer_m : float
        Floodplain half-width, metres, finite and >= 0.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as `river_distance_m`; True inside the floodplain.

    Notes
    -----
    ``floodplain = river_distance_m <= buffer_m`` (the boundary counts as inside).
    A buffer is the simplest floodplain proxy named in DOMAIN.md 7.7; a HAND-based mask can be
    passed to `map_landcover` instead.

    Examples
    --------
    >>> floodplain_mask(np.array([[0.0, 100.0, 250.0, np.nan]]), buffer_m=100.0)
    array([[ True,  True, False, False]])
    """
    if isinstance(buffer_m, bool) or not isinstance(buffer_m, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(
            f"buffer_m={buffer_m!r} is not a number; give the floodplain half-width in metres"
        )
    if not np.isfinite(buffer_m) or buffer_m < 0:
        raise InvalidParameterError(
            f"buffer_m={buffer_m!r} must be finite and >= 0 metres; give the floodplain half-width"
        )
    distance = np.asarray(river_distance_m)
    if distance.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"river_distance_m has dtype {distance.dtype}; pass distances in metres as a numeric array"
        )
    if np.any(distance < 0):
        raise InvalidParameterError(
            f"river_distance_m has negative values (min {np.nanmin(distance)}); distances must be >= 0 metres"
        )
    # NaN compares False, so unknown distance is outside the floodplain.
    return distance <= buffer_m


def map_landcover(
    codes: np.ndarray,
    crosswalk: Crosswalk,
    *,
    floodplain: np.ndarray | None = None,
    nodata: float | None = None,
    unknown: Literal["error", "nodata"] = "error",
) -> np.ndarray:
    """Map product land-cover codes to the habitat-class raster.

    Parameters
    ----------
    codes : numpy.ndarray of int (or float holding whole numbers)
        Land-cover product codes on the analysis grid. Float arrays may hold NaN (nodata).
    crosswalk : Crosswalk
        From `read_crosswalk`.
    floodplain : numpy.ndarray of bool, optional
        Same shape as `codes`; True inside the floodplain (see `floodplain_mask`). 0/1
        integers are accepted. None treats every cell as inside the floodplain, i.e. the
        study area is already restricted to valleys.
    nodata : number, optional
        The raster's nodata value; those cells become nodata (0) without a crosswalk row.
    unknown : {'error', 'nodata'}, default 'error'
        What to do with codes that are neither in the crosswalk nor `nodata`.

    Returns
    -------
    numpy.ndarray of uint8
        Same shape as `codes`; values 0 (nodata) and 1..10, the 1-based position in
        `HABITAT_CLASSES`.

    Raises
    ------
    CrosswalkError
        `unknown` is ``'error'`` and codes are missing from the crosswalk; the message lists
        them.
    GridMismatchError
        `floodplain` has another shape than `codes`.
    InvalidParameterError
        `codes` is not numeric or holds fractions, `floodplain` is not boolean, or `unknown`
        is not one of the choices.

    Notes
    -----
    For a cell with code ``c`` and crosswalk row ``r(c)``::

        class = 0                               if c == nodata or c is NaN
              = code(habitat_class[r(c)])       if floodplain is True (or None)
              = code(outside_floodplain[r(c)])  otherwise
              = 0                               if c has no row and unknown == 'nodata'

    where ``code(name) = HABITAT_CLASSES.index(name) + 1`` and ``code('nodata') = 0``.
    The input arrays are not modified.

    Examples
    --------
    >>> cw = read_crosswalk("esa_worldcover")
    >>> map_landcover(np.array([[10, 80, 10]]), cw, floodplain=np.array([[True, False, False]]))
    array([[ 1,  4, 10]], dtype=uint8)
    """
    if unknown not in ("error", "nodata"):
        raise InvalidParameterError(f"unknown={unknown!r} is not a choice; use 'error' or 'nodata'")
    if not isinstance(crosswalk, Crosswalk):
        raise InvalidParameterError(
            f"crosswalk is a {type(crosswalk).__name__}; pass the result of read_crosswalk(...)"
        )
    values = np.asarray(codes)
    if values.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"codes has dtype {values.dtype}; pass the land-cover raster as an integer array"
        )
    inside_fp = _as_floodplain(floodplain, values.shape)

    valid = np.ones(values.shape, dtype=bool)
    if values.dtype.kind == "f":
        valid &= np.isfinite(values)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        valid &= values != nodata

    row = _row_index(values, valid, crosswalk)
    missing = valid & (row < 0)
    if unknown == "error" and missing.any():
        raise CrosswalkError(_unknown_message(values[missing], crosswalk))

    # Index -1 (no row, or invalid cell) picks the appended nodata entry.
    inside_lut = np.array([*(_class_code(c) for c in crosswalk.habitat_class), 0], dtype=np.uint8)
    outside_lut = np.array([*(_class_code(c) for c in crosswalk.outside_floodplain), 0], dtype=np.uint8)
    row[~valid] = -1
    if inside_fp is None:
        return inside_lut[row]
    return np.where(inside_fp, inside_lut[row], outside_lut[row])


def _class_code(name: str) -> int:
    return NODATA_CLASS_CODE if name == NODATA_CLASS else HABITAT_CLASS_CODES[name]


def _as_floodplain(floodplain: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if floodplain is None:
        return None
    mask = np.asarray(floodplain)
    if mask.shape != shape:
        raise GridMismatchError(
            f"floodplain has shape {mask.shape} but the land-cover codes have {shape}; "
            "put both on the analysis grid"
        )
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind not in "iuf" or not np.all((mask == 0) | (mask == 1)):
        raise InvalidParameterError(
            "floodplain must be a boolean mask (or 0/1 values); build it with floodplain_mask(...)"
        )
    return mask.astype(bool)


def _row_index(values: np.ndarray, valid: np.ndarray, crosswalk: Crosswalk) -> np.ndarray:
    """Crosswalk row of each cell, -1 where the code has no row (invalid cells undefined)."""
    rows_in_order = np.arange(len(crosswalk.codes), dtype=np.int32)
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        # Small integer rasters (the usual uint8/uint16 land cover): a table over every
        # possible value is one gather, much faster than a search.
        unsigned = np.dtype(f"u{values.dtype.itemsize}")
        lut = np.full(2 ** (8 * values.dtype.itemsize), -1, dtype=np.int32)
        info = np.iinfo(values.dtype)
        for code, r in zip(crosswalk.codes, rows_in_order):
            if info.min <= code <= info.max:
                lut[np.array(code, dtype=values.dtype).view(unsigned)] = r
        return lut[values.view(unsigned)]

    all_valid = bool(valid.all())
    # Boolean indexing copies; integer rasters without nodata skip it.
    picked = values.ravel() if all_valid else values[valid]
    if values.dtype.kind == "f" and np.any(picked != np.round(picked)):
        fractions = np.unique(picked[picked != np.round(picked)])[:_MAX_LISTED_CODES]
        raise InvalidParameterError(
            f"land-cover codes must be whole numbers, found {', '.join(map(str, fractions))}; "
            "resample land cover with nearest or mode, not bilinear"
        )
    if values.dtype.kind == "f" or values.dtype == np.uint64:
        # Values beyond int64 cannot match a crosswalk code; keep them unknown instead of
        # letting the cast wrap them onto a real code.
        too_big = (picked > _INT64_SAFE) | (picked < -_INT64_SAFE)
        picked = np.where(too_big, 0, picked).astype(np.int64)
    else:
        too_big = None
        picked = picked.astype(np.int64, copy=False)

    found_rows = _lookup_rows(picked, crosswalk)
    if too_big is not None:
        found_rows[too_big] = -1
    if all_valid:
        return found_rows.reshape(values.shape)
    row = np.full(values.shape, -1, dtype=np.int32)
    row[valid] = found_rows
    return row


def _lookup_rows(picked: np.ndarray, crosswalk: Crosswalk) -> np.ndarray:
    """Crosswalk row of each int64 code in the 1-D `picked`, -1 where absent."""
    keys = np.asarray(crosswalk.codes, dtype=np.int64)
    rows_in_order = np.arange(keys.size, dtype=np.int32)
    if picked.size == 0:
        return np.empty(0, dtype=np.int32)
    lo, hi = int(picked.min()), int(picked.max())
    if hi - lo < _MAX_TABLE_SIZE:
        # A gather through a table spanning the raster's code range is ~8x faster than a
        # binary search; only a huge sparse code range needs the search.
        lut = np.full(hi - lo + 1, -1, dtype=np.int32)
        inside = (keys >= lo) & (keys <= hi)
        lut[keys[inside] - lo] = rows_in_order[inside]
        return lut[picked - lo]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, picked), len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == picked, rows_in_order[order][pos], -1).astype(np.int32)


def _unknown_message(missing_values: np.ndarray, crosswalk: Crosswalk) -> str:
    found = np.unique(missing_values)
    listed = ", ".join(str(int(v)) for v in found[:_MAX_LISTED_CODES])
    if found.size > _MAX_LISTED_CODES:
        listed += f" and {found.size - _MAX_LISTED_CODES} more"
    where = crosswalk.path or crosswalk.source
    return (
        f"land-cover code(s) {listed} occur in the raster but are missing from crosswalk {where}; "
        f"add them to {where} or set {_UNKNOWN_CODES_KEY}: nodata"
    )
