"""Threat degradation, habitat quality and rarity with InVEST Habitat Quality 3.20 semantics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from habitat.errors import CrosswalkError, GridMismatchError, InvalidParameterError
from habitat.layers import cell_size_from_coords

__all__ = [
    "EXPONENTIAL_DECAY_CONSTANT",
    "QUALITY_SCALING_Z",
    "degradation_halo_cells",
    "degradation_quality_block",
    "habitat_quality",
    "habitat_rarity",
    "threat_decay",
    "threat_degradation",
    "threat_distance",
]

QUALITY_SCALING_Z = 2.5
"""Scaling parameter z of the quality equation (InVEST ``_SCALING_PARAM``)."""

EXPONENTIAL_DECAY_CONSTANT = 2.99
"""InVEST exponential decay constant: the impact falls to ~5 % at ``max_dist``."""

_THREAT_COLUMNS = ("threat", "max_dist_m", "weight", "decay")
_DECAYS = ("linear", "exponential")
_MAX_INTENSITY_LEVELS = 256
_COORD_RTOL = 1e-6


# --------------------------------------------------------------------------- grid helpers


def _cell_size_m(da: xr.DataArray, name: str) -> float:
    """Square cell side in metres from the x/y coordinates (regular spacing required)."""
    if da.dims != ("y", "x"):
        raise GridMismatchError(f"{name} has dims {da.dims}; layers must have dims ('y', 'x')")
    for dim in ("y", "x"):
        if dim not in da.coords:
            raise GridMismatchError(f"{name} has no {dim!r} coordinate; cell size comes from x/y coordinates")
    size = cell_size_from_coords(da, name)
    if size is None:
        raise GridMismatchError(f"{name} is a single cell; cell size cannot be read from its coordinates")
    return size


def _window_in(big: xr.DataArray, small: xr.DataArray, name: str, cell_m: float) -> tuple[slice, slice]:
    """Index window of ``big`` that holds exactly the cells of ``small`` (same cell size and phase)."""
    out = []
    for dim in ("y", "x"):
        cb = np.asarray(big.coords[dim].values, dtype=np.float64)
        cs = np.asarray(small.coords[dim].values, dtype=np.float64)
        if cb.size >= 2 and cs.size >= 2 and np.sign(cb[1] - cb[0]) != np.sign(cs[1] - cs[0]):
            raise GridMismatchError(f"{name} {dim} axis runs the other way from lulc; put both on the analysis grid")
        step = (cb[1] - cb[0]) if cb.size >= 2 else (cs[1] - cs[0] if cs.size >= 2 else cell_m)
        start = int(round((cs[0] - cb[0]) / step))
        stop = start + cs.size
        if start < 0 or stop > cb.size or not np.allclose(cb[start:stop], cs, rtol=0, atol=cell_m * 1e-6):
            raise GridMismatchError(
                f"{name} does not cover the lulc grid cell for cell; put it on the analysis grid (optionally padded)"
            )
        out.append(slice(start, stop))
    return out[0], out[1]


def _lulc_valid(lulc: xr.DataArray, nodata: float | None) -> np.ndarray:
    values = np.asarray(lulc.values)
    valid = np.ones(values.shape, dtype=bool)
    if np.issubdtype(values.dtype, np.floating):
        valid &= np.isfinite(values)
    if nodata is None:
        for key in ("_FillValue", "nodata"):
            nodata = lulc.attrs.get(key, lulc.encoding.get(key))
            if nodata is not None:
                break
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= values != nodata
    return valid


# --------------------------------------------------------------------------- table checks


def _check_threat_table(threat_table: pd.DataFrame, threat_names: list[str]) -> pd.DataFrame:
    missing = [c for c in _THREAT_COLUMNS if c not in threat_table.columns]
    if missing:
        raise InvalidParameterError(f"threat_table lacks column(s) {missing}; it needs {list(_THREAT_COLUMNS)}")
    table = threat_table.set_index("threat", drop=False)
    if table.index.has_duplicates:
        raise InvalidParameterError("threat_table lists a threat twice; keep one row per threat")
    no_raster = sorted(set(table.index) - set(threat_names))
    no_row = sorted(set(threat_names) - set(table.index))
    if no_raster or no_row:
        raise InvalidParameterError(
            f"threats and threat_table disagree: no layer for {no_raster}, no table row for {no_row}; "
            "give one layer per threat row"
        )
    for name, row in table.iterrows():
        if not (float(row["max_dist_m"]) > 0 and math.isfinite(float(row["max_dist_m"]))):
            raise InvalidParameterError(f"threat_table max_dist_m for {name!r} is {row['max_dist_m']}; it must be > 0 metres")
        if not (float(row["weight"]) >= 0 and math.isfinite(float(row["weight"]))):
            raise InvalidParameterError(f"threat_table weight for {name!r} is {row['weight']}; it must be >= 0")
        if row["decay"] not in _DECAYS:
            raise InvalidParameterError(f"threat_table decay for {name!r} is {row['decay']!r}; use 'linear' or 'exponential'")
    if float(table["weight"].sum()) <= 0:
        raise InvalidParameterError("threat_table weights sum to 0; give at least one threat a positive weight")
    return table


def _check_sensitivity_table(sensitivity_table: pd.DataFrame, threat_names: list[str]) -> pd.DataFrame:
    needed = ["lucode", "habitat", *threat_names]
    missing = [c for c in needed if c not in sensitivity_table.columns]
    if missing:
        raise InvalidParameterError(
            f"sensitivity_table lacks column(s) {missing}; it needs lucode, habitat and one column per threat"
        )
    table = sensitivity_table.set_index("lucode")
    if table.index.has_duplicates:
        raise InvalidParameterError("sensitivity_table lists a lucode twice; keep one row per land-cover code")
    for col in ["habitat", *threat_names]:
        v = table[col].astype(float).to_numpy()
        if not np.all((v >= 0) & (v <= 1)):
            raise InvalidParameterError(f"sensitivity_table column {col!r} has values outside [0, 1]; fix the table")
    return table


def _class_index(codes: np.ndarray, valid: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Row position in ``table`` of each valid cell's code (computed once, reused per column)."""
    keys = table.index.to_numpy(dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cells = codes[valid].astype(np.int64)
    pos = np.clip(np.searchsorted(sorted_keys, cells), 0, sorted_keys.size - 1)
    found = sorted_keys[pos] == cells
    if not found.all():
        unknown = np.unique(cells[~found]).tolist()
        raise CrosswalkError(f"land-cover code(s) {unknown} are missing from sensitivity_table; add a row for each")
    return order[pos]


def _reclass(index: np.ndarray, valid: np.ndarray, table: pd.DataFrame, column: str) -> np.ndarray:
    out = np.full(valid.shape, np.nan)
    out[valid] = table[column].to_numpy(dtype=np.float64)[index]
    return out


# --------------------------------------------------------------------------- Public API


def threat_decay(
    distance_m: np.ndarray, *, max_dist_m: float, decay: Literal["linear", "exponential"]
) -> np.ndarray:
    """Distance decay of a threat's impact (InVEST Habitat Quality ``_decay_distance``).

    Parameters
    ----------
    distance_m : ndarray
        Euclidean distance in metres from the nearest threat cell (>= 0; ``inf`` = no threat).
    max_dist_m : float
        Maximum distance of the threat's effect in metres (> 0).
    decay : {"linear", "exponential"}
        Decay type.

    Returns
    -------
    ndarray
        Impact ``i`` in [0, 1], float64.

    Notes
    -----
    Linear ``i = 1 - d / d_max``; exponential ``i = exp(-2.99 d / d_max)``; both are 0 when
    ``d > d_max`` (so the exponential impact is ``exp(-2.99) ~= 0.05`` exactly at ``d_max``).

    Examples
    --------
    >>> threat_decay(np.array([0.0, 1.0, 2.0, 21.0]), max_dist_m=20.0, decay="linear").tolist()
    [1.0, 0.95, 0.9, 0.0]
    """
    dmax = float(max_dist_m)
    if not (dmax > 0 and math.isfinite(dmax)):
        raise InvalidParameterError(f"max_dist_m={max_dist_m!r} must be a finite distance > 0 metres")
    d = np.asarray(distance_m, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if decay == "linear":
            impact = 1.0 - d / dmax
        elif decay == "exponential":
            impact = np.exp(-EXPONENTIAL_DECAY_CONSTANT * d / dmax)
        else:
            raise InvalidParameterError(f"decay={decay!r}; use 'linear' or 'exponential'")
    return np.where(d > dmax, 0.0, impact)


def threat_distance(threat: np.ndarray, *, cell_size_m: float | tuple[float, float]) -> np.ndarray:
    """Euclidean distance in metres from each cell centre to the nearest threat cell.

    Parameters
    ----------
    threat : ndarray
        Threat layer: > 0 = threat present, 0 or NaN = absent.
    cell_size_m : float or (float, float)
        Side of a square cell in metres (> 0), or the cell's height and width in metres.

    Returns
    -------
    ndarray
        Distance in metres (0 on threat cells), ``inf`` everywhere when no cell holds the threat.

    Notes
    -----
    Exact Euclidean distance transform between cell centres (``scipy.ndimage.distance_transform_edt``),
    the same quantity as pygeoprocessing's ``distance_transform_edt`` times the cell size.

    Examples
    --------
    >>> threat_distance(np.array([[1, 0, 0]]), cell_size_m=30.0).tolist()
    [[0.0, 30.0, 60.0]]
    """
    present = _present(np.asarray(threat))
    if not present.any():
        return np.full(present.shape, np.inf)
    sampling = tuple(map(float, cell_size_m)) if np.ndim(cell_size_m) else float(cell_size_m)
    from scipy import ndimage  # here: the per-cell stage path never needs it (import ~0.2 s)

    return ndimage.distance_transform_edt(~present, sampling=sampling)


def _present(threat: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray(threat > 0) & ~np.isnan(threat.astype(np.float64, copy=False))


def _impact(threat: np.ndarray, *, cell_size_m: float, max_dist_m: float, decay: str, intensity_weighted: bool) -> np.ndarray:
    if not intensity_weighted:
        return threat_decay(threat_distance(threat, cell_size_m=cell_size_m), max_dist_m=max_dist_m, decay=decay)
    values = np.where(_present(threat), threat.astype(np.float64), 0.0)
    levels = np.unique(values[values > 0])
    if levels.size > _MAX_INTENSITY_LEVELS:
        raise InvalidParameterError(
            f"intensity-weighted decay supports at most {_MAX_INTENSITY_LEVELS} distinct threat intensities, got "
            f"{levels.size}; round the threat layer (e.g. to 0.01)"
        )
    impact = np.zeros(values.shape)
    # max_y r_y i(d_xy) equals the max over levels L of L * i(distance to {r >= L}),
    # which is exact and free of nearest-cell tie-breaking (so tiles agree with the whole grid)
    for level in levels:
        dist = threat_distance(values >= level, cell_size_m=cell_size_m)
        np.maximum(impact, level * threat_decay(dist, max_dist_m=max_dist_m, decay=decay), out=impact)
    return impact


def degradation_halo_cells(threat_table: pd.DataFrame, cell_size_m: float) -> int:
    """Cells of padding needed around a tile so its degradation equals the whole-grid result.

    Parameters
    ----------
    threat_table : DataFrame
        Threat table with column ``max_dist_m`` (metres).
    cell_size_m : float
        Cell side in metres (> 0).

    Returns
    -------
    int
        ``ceil(max(max_dist_m) / cell_size_m)``.

    Examples
    --------
    >>> degradation_halo_cells(pd.DataFrame({"max_dist_m": [500.0, 2000.0]}), 30.0)
    67
    """
    cs = float(cell_size_m)
    if not (cs > 0 and math.isfinite(cs)):
        raise InvalidParameterError(f"cell_size_m={cell_size_m!r} must be > 0 metres")
    return int(math.ceil(float(threat_table["max_dist_m"].max()) / cs - 1e-9))


def threat_degradation(
    lulc: xr.DataArray,
    threats: Mapping[str, xr.DataArray],
    *,
    threat_table: pd.DataFrame,
    sensitivity_table: pd.DataFrame,
    access: xr.DataArray | None = None,
    lulc_nodata: int | None = None,
    intensity_weighted: bool = False,
    threat_distances_m: Mapping[str, xr.DataArray] | None = None,
) -> xr.DataArray:
    """Total threat degradation ``D_x`` per cell (InVEST Habitat Quality ``deg_sum``).

    Parameters
    ----------
    lulc : DataArray of int, dims ("y", "x")
        Land-cover codes with x/y coordinates in metres (square cells; cell size from them).
    threats : mapping of str to DataArray
        Threat name -> layer (> 0 = present, 0/NaN = absent). Each layer is on the lulc grid
        or on a larger grid with the same cell size and alignment (the lulc grid padded by
        ``degradation_halo_cells``), so threats just outside the study area count.
    threat_table : DataFrame
        Columns ``threat, max_dist_m, weight, decay`` (decay ``linear`` | ``exponential``).
    sensitivity_table : DataFrame
        Columns ``lucode, habitat`` and one column per threat, values in [0, 1].
    access : DataArray, optional
        Accessibility beta in [0, 1] on the lulc grid; NaN and None mean 1.
    lulc_nodata : int, optional
        Nodata code of ``lulc``; default from ``attrs``/``encoding`` ``_FillValue`` or ``nodata``.
    intensity_weighted : bool, default False
        Off (InVEST >= 3.13): any value > 0 is presence. On: ``i_rx = max_y r_y i(d_xy)``, the
        strongest intensity-scaled impact of any threat cell y (r_y in [0, 1]).
    threat_distances_m : mapping of str to DataArray, optional
        Threats given instead as the distance (metres) from each lulc cell to the nearest
        threat cell, on the lulc grid; e.g. distances computed on a padded grid upstream, so
        threats outside the study area count. Presence semantics (no intensity).

    Returns
    -------
    DataArray
        ``degradation`` (float64, >= 0; NaN where lulc is nodata) with lulc's coords.

    Notes
    -----
    ``D_x = sum_r i_rx S_jr (w_r / sum_w) beta_x`` with ``i_rx`` from :func:`threat_decay`
    applied to the Euclidean distance (metres) from x to the nearest threat-r cell.
    ``D_x`` ranges from 0 to ``max_j max_r S_jr`` (<= 1).
    """
    distances = dict(threat_distances_m or {})
    both = set(threats) & set(distances)
    if both:
        raise InvalidParameterError(f"threats {sorted(both)} are given both as layers and as distances; give each once")
    threat_names = list(threats) + list(distances)
    table = _check_threat_table(threat_table, threat_names)
    sens = _check_sensitivity_table(sensitivity_table, threat_names)
    cell_m = _cell_size_m(lulc, "lulc")
    valid = _lulc_valid(lulc, lulc_nodata)
    codes = np.asarray(lulc.values)

    beta = np.ones(lulc.shape)
    if access is not None:
        if access.shape != lulc.shape:
            raise GridMismatchError(f"access has shape {access.shape}, lulc {lulc.shape}; put access on the lulc grid")
        a = np.asarray(access.values, dtype=np.float64)
        finite = np.isfinite(a)
        if np.any((a[finite] < 0) | (a[finite] > 1)):
            raise InvalidParameterError("access has values outside [0, 1]; 0 = inaccessible, 1 = fully accessible")
        beta = np.where(finite, a, 1.0)

    weight_sum = float(table["weight"].sum())
    index = _class_index(codes, valid, sens)
    total = np.zeros(lulc.shape)
    for name, layer in distances.items():
        if layer.shape != lulc.shape:
            raise GridMismatchError(f"threat distance {name!r} has shape {layer.shape}, lulc {lulc.shape}")
        row = table.loc[name]
        dist = np.asarray(layer.values, dtype=np.float64)
        impact = threat_decay(np.where(np.isnan(dist), np.inf, dist), max_dist_m=float(row["max_dist_m"]),
                              decay=str(row["decay"]))
        total += impact * _reclass(index, valid, sens, name) * (float(row["weight"]) / weight_sum) * beta
    for name in threats:
        layer = threats[name]
        if not isinstance(layer, xr.DataArray):
            raise GridMismatchError(f"threat {name!r} is not a DataArray with x/y coordinates; load it on the grid")
        if not math.isclose(_cell_size_m(layer, f"threat {name!r}"), cell_m, rel_tol=_COORD_RTOL):
            raise GridMismatchError(f"threat {name!r} cell size differs from lulc; put it on the analysis grid")
        values = np.asarray(layer.values)
        if np.any(values[np.isfinite(values)] < 0):
            raise InvalidParameterError(f"threat {name!r} has negative values; use 0 for absent, > 0 for present")
        if intensity_weighted and np.any(values[np.isfinite(values)] > 1):
            raise InvalidParameterError(f"threat {name!r} intensities exceed 1; scale them to [0, 1]")
        row = table.loc[name]
        impact = _impact(
            values,
            cell_size_m=cell_m,
            max_dist_m=float(row["max_dist_m"]),
            decay=str(row["decay"]),
            intensity_weighted=intensity_weighted,
        )
        if layer.shape != lulc.shape or not _same_coords(layer, lulc):
            ys, xs = _window_in(layer, lulc, f"threat {name!r}", cell_m)
            impact = impact[ys, xs]
        total += impact * _reclass(index, valid, sens, name) * (float(row["weight"]) / weight_sum) * beta
    total[~valid] = np.nan
    return xr.DataArray(total, coords=lulc.coords, dims=lulc.dims, name="degradation")


def _same_coords(a: xr.DataArray, b: xr.DataArray) -> bool:
    return all(
        a.sizes[d] == b.sizes[d] and np.array_equal(np.asarray(a[d].values), np.asarray(b[d].values)) for d in ("y", "x")
    )


def habitat_rarity(
    lulc: xr.DataArray,
    baseline_lulc: xr.DataArray,
    *,
    lulc_nodata: int | None = None,
    baseline_nodata: int | None = None,
) -> tuple[xr.DataArray, pd.DataFrame]:
    """Habitat rarity of each land-cover class relative to a baseline map (InVEST ``rarity``).

    Parameters
    ----------
    lulc : DataArray of int
        Current land cover on the analysis grid.
    baseline_lulc : DataArray of int
        Baseline land cover (little intensive management) on the same grid.
    lulc_nodata, baseline_nodata : int, optional
        Nodata codes; default from ``attrs``/``encoding`` ``_FillValue`` or ``nodata``.

    Returns
    -------
    rarity : DataArray
        ``R_j`` of each cell's class (float64 in [0, 1]); NaN where either map is nodata.
    table : DataFrame
        Columns ``lucode, rarity`` sorted by code.

    Notes
    -----
    ``R_j = 1 - (N_j a) / (N_j,base a_base + N_j a)`` with N counts of cells (current cells
    counted only where the baseline has data), a cell areas (equal on one grid).
    0.5 = no change, > 0.5 = rarer than in the baseline; classes absent from the baseline
    get 0 (as InVEST).
    """
    if lulc.shape != baseline_lulc.shape:
        raise GridMismatchError(
            f"baseline_lulc has shape {baseline_lulc.shape}, lulc {lulc.shape}; put both on the analysis grid"
        )
    cur_valid = _lulc_valid(lulc, lulc_nodata)
    base_valid = _lulc_valid(baseline_lulc, baseline_nodata)
    cur = np.asarray(lulc.values)
    base = np.asarray(baseline_lulc.values)
    trimmed = cur_valid & base_valid
    base_codes, base_counts = np.unique(base[base_valid], return_counts=True)
    base_count = dict(zip(base_codes.tolist(), base_counts.tolist(), strict=True))
    codes, counts = np.unique(cur[trimmed], return_counts=True)
    rarity = {}
    for code, n in zip(codes.tolist(), counts.tolist(), strict=True):
        nb = base_count.get(code)
        rarity[code] = 0.0 if nb is None else 1.0 - n / (nb + n)
    out = np.full(cur.shape, np.nan)
    if codes.size:
        idx = np.searchsorted(codes, cur[trimmed])
        out[trimmed] = np.array([rarity[c] for c in codes.tolist()])[idx]
    table = pd.DataFrame({"lucode": codes.astype(np.int64), "rarity": [rarity[c] for c in codes.tolist()]})
    return xr.DataArray(out, coords=lulc.coords, dims=lulc.dims, name="rarity"), table


def habitat_quality(
    lulc: xr.DataArray | np.ndarray,
    threats: Mapping[str, xr.DataArray | np.ndarray],
    *,
    threat_table: pd.DataFrame,
    sensitivity_table: pd.DataFrame,
    half_saturation: float,
    access: xr.DataArray | np.ndarray | None = None,
    baseline_lulc: xr.DataArray | np.ndarray | None = None,
    lulc_nodata: int | None = None,
    intensity_weighted: bool = False,
    threat_distances_m: Mapping[str, xr.DataArray | np.ndarray] | None = None,
    cell_size_m: float | None = None,
) -> xr.Dataset:
    """Threat degradation and habitat quality (InVEST Habitat Quality 3.20 semantics).

    Parameters
    ----------
    lulc : DataArray of int, dims ("y", "x")
        Land-cover codes with x/y coordinates in metres; square cells, size from the coords.
    threats : mapping of str to DataArray
        Threat name -> layer (0 = no threat, > 0 = present). On the lulc grid, or on the lulc
        grid padded by :func:`degradation_halo_cells` so threats beyond the edge count
        (without padding, edge cells see only threats inside the grid).
    threat_table : DataFrame
        Columns ``threat, max_dist_m, weight, decay`` (``linear`` | ``exponential``).
    sensitivity_table : DataFrame
        Columns ``lucode, habitat`` and one column per threat (all in [0, 1]).
    half_saturation : float
        Half-saturation constant k > 0 (InVEST's default guidance: half the largest D).
    access : DataArray, optional
        Accessibility beta in [0, 1] on the lulc grid; None or NaN = 1.
    baseline_lulc : DataArray, optional
        Baseline land cover; when given, ``rarity`` is added (see :func:`habitat_rarity`).
    lulc_nodata : int, optional
        Nodata code; default from ``attrs``/``encoding`` ``_FillValue`` or ``nodata``.
    intensity_weighted : bool, default False
        Scale impacts by threat intensity (see :func:`threat_degradation`); off = InVEST.
    threat_distances_m : mapping of str to DataArray, optional
        Threats given as distances in metres on the lulc grid (see :func:`threat_degradation`).
    cell_size_m : float, optional
        Cell side in metres. Required when ``lulc`` is a numpy array (every layer is then a
        numpy array on the lulc grid, threats optionally padded by the same number of cells
        on each side); for DataArrays it is read from the coordinates and, if given, must agree.

    Any layer may carry a leading band dimension of size 1.

    Returns
    -------
    Dataset
        ``degradation`` (>= 0) and ``quality`` (in [0, H_j]) as float64, NaN where lulc is
        nodata, plus ``rarity`` with a baseline; coords and CRS attributes of ``lulc`` (for
        numpy input: cell-centre coordinates in metres from a top-left corner at 0, 0).

    Notes
    -----
    ``D_x = sum_r i_rx S_jr (w_r / sum_w) beta_x``;
    ``Q_x = H_j (1 - D_x^z / (D_x^z + k^z))`` with z = 2.5 (METHODS.md section 2).
    Distances are Euclidean between cell centres in metres; decay is 0 beyond ``max_dist_m``.

    Examples
    --------
    >>> lulc = xr.DataArray(np.array([[1, 1, 1]]), dims=("y", "x"), coords={"y": [0.5], "x": [0.5, 1.5, 2.5]})
    >>> roads = lulc.copy(data=np.array([[1, 0, 0]]))
    >>> ds = habitat_quality(
    ...     lulc, {"roads": roads},
    ...     threat_table=pd.DataFrame({"threat": ["roads"], "max_dist_m": [2.0], "weight": [1.0], "decay": ["linear"]}),
    ...     sensitivity_table=pd.DataFrame({"lucode": [1], "habitat": [1.0], "roads": [1.0]}),
    ...     half_saturation=0.5)
    >>> ds["degradation"].values.tolist()
    [[1.0, 0.5, 0.0]]
    """
    k = float(half_saturation)
    if not (k > 0 and math.isfinite(k)):
        raise InvalidParameterError(f"half_saturation={half_saturation!r} must be > 0")
    lulc, threats, access, baseline_lulc, threat_distances_m = _as_layers(
        lulc, threats, access, baseline_lulc, threat_distances_m, cell_size_m)
    degradation = threat_degradation(
        lulc,
        threats,
        threat_table=threat_table,
        sensitivity_table=sensitivity_table,
        access=access,
        lulc_nodata=lulc_nodata,
        intensity_weighted=intensity_weighted,
        threat_distances_m=threat_distances_m,
    )
    valid = _lulc_valid(lulc, lulc_nodata)
    sens = sensitivity_table.set_index("lucode")
    habitat = _reclass(_class_index(np.asarray(lulc.values), valid, sens), valid, sens, "habitat")
    d = degradation.values
    z = QUALITY_SCALING_Z
    with np.errstate(invalid="ignore"):
        quality = habitat * (1.0 - d**z / (d**z + k**z))
    data_vars: dict[str, Any] = {
        "degradation": degradation,
        "quality": xr.DataArray(quality, coords=lulc.coords, dims=lulc.dims, name="quality"),
    }
    if baseline_lulc is not None:
        data_vars["rarity"], _ = habitat_rarity(lulc, baseline_lulc, lulc_nodata=lulc_nodata)
    ds = xr.Dataset(data_vars)
    geo = {k: v for k, v in lulc.attrs.items() if k in ("grid", "crs", "transform", "spatial_ref", "grid_mapping")}
    for var in ds.data_vars:
        ds[var].attrs.update(geo)
    ds["degradation"].attrs.update(units="1", long_name="threat degradation D (InVEST Habitat Quality)")
    ds["quality"].attrs.update(units="1", long_name="habitat quality Q (InVEST Habitat Quality)")
    return ds


def degradation_quality_block(
    codes: np.ndarray,
    threat_distances_m: Mapping[str, np.ndarray],
    *,
    threat_table: pd.DataFrame,
    sensitivity_table: pd.DataFrame,
    half_saturation: float,
    lulc_nodata: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Degradation and quality of one block from precomputed threat distances (compiled path).

    The per-cell formula of :func:`habitat_quality` with ``threat_distances_m`` and no access
    layer, in one compiled pass per threat instead of xarray and table look-ups; the values are
    bit-identical (tests/suitability/test_kernels.py).

    Parameters
    ----------
    codes : 2-D int array
        Land-cover codes of the block; ``lulc_nodata`` = nodata.
    threat_distances_m : mapping of str to 2-D array
        Threat name -> distance in metres to the nearest threat cell (NaN = no threat), on the
        block; one entry per ``threat_table`` row.
    threat_table, sensitivity_table, half_saturation
        As in :func:`habitat_quality`.
    lulc_nodata : int
        Nodata code of ``codes``.

    Returns
    -------
    degradation, quality : 2-D float64 arrays
        ``D_x = sum_r i_r(d_xr) S_jr w_r / sum_w`` and ``Q_x = H_j (1 - D_x^z / (D_x^z + k^z))``;
        NaN where ``codes`` is nodata.

    Raises
    ------
    CrosswalkError
        A code of the block has no row in ``sensitivity_table``.
    """
    plan = degradation_plan(list(threat_distances_m), threat_table=threat_table, sensitivity_table=sensitivity_table,
                            half_saturation=half_saturation, lulc_nodata=lulc_nodata)
    return degradation_quality_rows(codes, list(threat_distances_m.values()), plan)


class DegradationPlan(NamedTuple):
    """The tables of :func:`degradation_quality_block`, checked and indexed by class code once
    (a block processed in row strips reuses them): ``habitat`` and ``known`` by code, one
    ``(max_dist_m, linear, sensitivity by code, weight share)`` per threat, ``kz = k ** z``."""

    habitat: np.ndarray
    known: np.ndarray
    threats: tuple[tuple[float, bool, np.ndarray, float], ...]
    kz: float
    lulc_nodata: int


def degradation_plan(names: list[str], *, threat_table: pd.DataFrame, sensitivity_table: pd.DataFrame,
                     half_saturation: float, lulc_nodata: int) -> DegradationPlan:
    """Check the tables of :func:`degradation_quality_block` and index them by class code
    (threats in the order of ``names``)."""
    k = float(half_saturation)
    if not (k > 0 and math.isfinite(k)):
        raise InvalidParameterError(f"half_saturation={half_saturation!r} must be > 0")
    table = _check_threat_table(threat_table, names)
    sens = _check_sensitivity_table(sensitivity_table, names)
    keys = sens.index.to_numpy(dtype=np.int64)
    size = int(max(keys.max(initial=0), lulc_nodata, 0)) + 1
    if keys.min(initial=0) < 0 or size > 1 << 16:
        raise InvalidParameterError("degradation_quality_block needs integer codes in 0..65535; use habitat_quality")

    def column(name: str) -> np.ndarray:
        values = np.zeros(size)
        values[keys] = sens[name].to_numpy(dtype=np.float64)
        return values

    known = np.zeros(size, dtype=np.bool_)
    known[keys] = True
    weight_sum = float(table["weight"].sum())
    threats = tuple((float(table.loc[n, "max_dist_m"]), str(table.loc[n, "decay"]) == "linear", column(n),
                     float(table.loc[n, "weight"]) / weight_sum) for n in names)
    return DegradationPlan(column("habitat"), known, threats, k**QUALITY_SCALING_Z, int(lulc_nodata))


def degradation_quality_rows(codes: np.ndarray, distances_m: list[np.ndarray],
                             plan: DegradationPlan) -> tuple[np.ndarray, np.ndarray]:
    """:func:`degradation_quality_block` with its tables prepared (:func:`degradation_plan`;
    distances in the plan's threat order): compose_suitability calls it on each row strip."""
    from habitat.suitability._kernels import add_threat, lookup, power_base, saturate, scaled

    if not np.issubdtype(codes.dtype, np.integer):
        raise InvalidParameterError("degradation_quality_block needs integer codes in 0..65535; use habitat_quality")
    habitat, unknown = lookup(codes, plan.habitat, plan.known, plan.lulc_nodata)
    if unknown >= 0:
        raise CrosswalkError(f"land-cover code(s) [{unknown}] are missing from sensitivity_table; add a row for each")
    total = np.zeros(codes.shape)
    spare = None  # an exponential impact's buffer, free once added
    for dist, (dmax, linear, sensitivity, share) in zip(distances_m, plan.threats, strict=True):
        impact = total  # unused by the kernel for linear decay
        if not linear:  # numpy's exp (the kernel's libm exp differs in the last bit); NaN d gives 0 below
            impact = scaled(dist, -EXPONENTIAL_DECAY_CONSTANT, dmax)
            with np.errstate(invalid="ignore", over="ignore"):
                np.exp(impact, out=impact)
            spare = impact
        add_threat(total, codes, dist, impact, linear, dmax, sensitivity, share)
    # D^z into the exponential impact's buffer when there is one (no longer needed), and Q
    # over D^z in place: fewer fresh arrays (each costs its page faults)
    dz = spare if spare is not None else np.empty(codes.shape)
    power_base(total, habitat, dz)  # D NaN at nodata; zeros stand in (see power_base)
    with np.errstate(invalid="ignore"):
        np.power(dz, QUALITY_SCALING_Z, out=dz)
    return total, saturate(habitat, total, dz, plan.kz)


def _as_layers(lulc, threats, access, baseline, distances, cell_size_m):
    """DataArrays on the lulc grid from DataArrays or numpy arrays (band dims of size 1 dropped)."""
    from habitat.layers import as_yx, yx_coords

    lulc = as_yx(lulc, name="lulc")
    if isinstance(lulc, xr.DataArray):
        if cell_size_m is not None and not math.isclose(_cell_size_m(lulc, "lulc"), cell_size_m, rel_tol=_COORD_RTOL):
            raise GridMismatchError(f"cell_size_m={cell_size_m!r} disagrees with the lulc coordinates "
                                    f"({_cell_size_m(lulc, 'lulc')} m); omit cell_size_m for DataArrays")

        def wrap(value, name):
            return None if value is None else as_yx(value, name=name)
    else:
        if cell_size_m is None or not (math.isfinite(cell_size_m) and cell_size_m > 0):
            raise InvalidParameterError(
                f"cell_size_m={cell_size_m!r}: a numpy lulc carries no cell size; pass cell_size_m (metres, > 0) "
                "or DataArrays with x/y coordinates")
        cs = float(cell_size_m)
        rows, cols = lulc.shape
        lulc = xr.DataArray(lulc, dims=("y", "x"), coords=yx_coords(lulc.shape, cs), name="lulc")

        def wrap(value, name):
            if value is None or isinstance(value, xr.DataArray):
                return None if value is None else as_yx(value, name=name)
            arr = as_yx(value, name=name)
            pad_y, pad_x = (arr.shape[0] - rows) / 2, (arr.shape[1] - cols) / 2
            if arr.ndim != 2 or pad_y != pad_x or pad_y < 0 or pad_y % 1:
                raise GridMismatchError(f"{name} has shape {arr.shape}; give the lulc shape {lulc.shape}, "
                                        "or pad it by the same number of cells on every side")
            coords = yx_coords(arr.shape, cs)
            return xr.DataArray(arr, dims=("y", "x"),
                                coords={"y": coords["y"] + pad_y * cs, "x": coords["x"] - pad_x * cs}, name=name)
    threats = {k: wrap(v, f"threat {k!r}") for k, v in threats.items()}
    distances = None if distances is None else {k: wrap(v, f"threat distance {k!r}") for k, v in distances.items()}
    return lulc, threats, wrap(access, "access"), wrap(baseline, "baseline_lulc"), distances
