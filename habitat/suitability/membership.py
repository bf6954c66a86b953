"""Fuzzy membership functions that turn one criterion layer into a score in [0, 1]."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from habitat.errors import CrosswalkError, InvalidParameterError

__all__ = [
    "MEMBERSHIP_FUNCTIONS",
    "apply_membership",
    "class_scores",
    "cover_within_radius",
    "exponential_decay",
    "fuzzy_gaussian",
    "fuzzy_large",
    "fuzzy_linear",
    "fuzzy_near",
    "fuzzy_small",
]


# --------------------------------------------------------------------------- helpers


def _map_cells(kernel: Callable[[np.ndarray], np.ndarray], values: Any) -> Any:
    """Apply a cell-wise numpy kernel to an ndarray or a (possibly dask-backed) DataArray.

    DataArrays keep dims, coords and attrs; dask chunks stay lazy, so a per-cell
    criterion runs block by block in bounded memory.
    """
    if isinstance(values, xr.DataArray):
        return xr.apply_ufunc(
            kernel, values, dask="parallelized", output_dtypes=[np.float64], keep_attrs=True
        )
    return kernel(np.asarray(values))


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"{name}={value!r} must be a finite number > 0; fix the criterion parameters")
    return value


def _check_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name}={value!r} must be a finite number; fix the criterion parameters")
    return value


# --------------------------------------------------------------------------- Public API


def _sigmoid(x: Any, *, spread: float, midpoint: float, rising: bool) -> Any:
    """``1 / (1 + (x / f2) ** (-f1))`` when rising, ``1 / (1 + (x / f2) ** f1)`` when falling."""
    f1 = _check_positive("spread", spread)
    f2 = _check_positive("midpoint", midpoint)
    exponent = -f1 if rising else f1
    # the power of a non-positive base is undefined for fractional f1; use the limit at 0
    at_zero = 0.0 if rising else 1.0

    def _kernel(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64, copy=False)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            mu = 1.0 / (1.0 + (a / f2) ** exponent)
        return np.where(a <= 0, at_zero, mu)

    return _map_cells(_kernel, x)


def fuzzy_large(x: Any, *, spread: float, midpoint: float) -> Any:
    """Sigmoid membership that rises with ``x`` (large values are favourable).

    Parameters
    ----------
    x : ndarray or DataArray
        Criterion values, valid range x >= 0 (any unit; ``midpoint`` in the same unit).
        NaN (nodata) stays NaN.
    spread : float
        f1 > 0, steepness; larger values give a sharper transition.
    midpoint : float
        f2 > 0, the value where membership is 0.5.

    Returns
    -------
    ndarray or DataArray
        Membership in [0, 1], float64, same shape (and coords) as ``x``.

    Notes
    -----
    ``mu = 1 / (1 + (x / f2) ** (-f1))`` (ArcGIS FuzzyLarge). ``mu(0) = 0`` and
    ``mu(f2) = 0.5``; cells with x <= 0 take the limit value 0.

    Examples
    --------
    >>> fuzzy_large(np.array([0.0, 10.0, 20.0]), spread=1.0, midpoint=10.0).tolist()
    [0.0, 0.5, 0.6666666666666666]
    """
    return _sigmoid(x, spread=spread, midpoint=midpoint, rising=True)


def fuzzy_small(x: Any, *, spread: float, midpoint: float) -> Any:
    """Sigmoid membership that falls with ``x`` (small values are favourable).

    Parameters
    ----------
    x : ndarray or DataArray
        Criterion values, valid range x >= 0. NaN (nodata) stays NaN.
    spread : float
        f1 > 0, steepness.
    midpoint : float
        f2 > 0, the value where membership is 0.5.

    Returns
    -------
    ndarray or DataArray
        Membership in [0, 1], float64.

    Notes
    -----
    ``mu = 1 / (1 + (x / f2) ** f1)`` (ArcGIS FuzzySmall). ``mu(0) = 1``,
    ``mu(f2) = 0.5``; cells with x <= 0 take the limit value 1.

    Examples
    --------
    >>> fuzzy_small(np.array([0.0, 10.0, 20.0]), spread=1.0, midpoint=10.0).tolist()
    [1.0, 0.5, 0.3333333333333333]
    """
    return _sigmoid(x, spread=spread, midpoint=midpoint, rising=False)


def fuzzy_gaussian(x: Any, *, spread: float, midpoint: float) -> Any:
    """Bell-shaped membership centred on an ideal value.

    Parameters
    ----------
    x : ndarray or DataArray
        Criterion values (any real). NaN stays NaN.
    spread : float
        f1 > 0, in 1/unit(x)^2; larger values give a narrower bell.
    midpoint : float
        f2, the ideal value where membership is 1.

    Returns
    -------
    ndarray or DataArray
        Membership in (0, 1], float64.

    Notes
    -----
    ``mu = exp(-f1 (x - f2)^2)`` (ArcGIS FuzzyGaussian).

    Examples
    --------
    >>> fuzzy_gaussian(np.array([2.0, 3.0]), spread=1.0, midpoint=2.0).tolist()
    [1.0, 0.36787944117144233]
    """
    f1 = _check_positive("spread", spread)
    f2 = _check_finite("midpoint", midpoint)

    def _kernel(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64, copy=False)
        return np.exp(-f1 * (a - f2) ** 2)

    return _map_cells(_kernel, x)


def fuzzy_near(x: Any, *, spread: float, midpoint: float) -> Any:
    """Membership that peaks at a value and falls off with a long (Cauchy) tail.

    Parameters
    ----------
    x : ndarray or DataArray
        Criterion values (any real). NaN stays NaN.
    spread : float
        f1 > 0, in 1/unit(x)^2.
    midpoint : float
        f2, the ideal value where membership is 1.

    Returns
    -------
    ndarray or DataArray
        Membership in (0, 1], float64.

    Notes
    -----
    ``mu = 1 / (1 + f1 (x - f2)^2)`` (ArcGIS FuzzyNear); ``mu(f2 ± 1/sqrt(f1)) = 0.5``.

    Examples
    --------
    >>> fuzzy_near(np.array([5.0, 6.0]), spread=1.0, midpoint=5.0).tolist()
    [1.0, 0.5]
    """
    f1 = _check_positive("spread", spread)
    f2 = _check_finite("midpoint", midpoint)

    def _kernel(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64, copy=False)
        return 1.0 / (1.0 + f1 * (a - f2) ** 2)

    return _map_cells(_kernel, x)


def fuzzy_linear(x: Any, *, minimum: float, maximum: float) -> Any:
    """Linear ramp from 0 at ``minimum`` to 1 at ``maximum``, clipped outside.

    Parameters
    ----------
    x : ndarray or DataArray
        Criterion values (any real). NaN stays NaN.
    minimum, maximum : float
        Values where membership is 0 and 1. ``minimum > maximum`` gives a decreasing ramp
        (as ArcGIS FuzzyLinear); they must differ.

    Returns
    -------
    ndarray or DataArray
        Membership in [0, 1], float64.

    Notes
    -----
    ``mu = clip((x - min) / (max - min), 0, 1)``.

    Examples
    --------
    >>> fuzzy_linear(np.array([0.0, 5.0, 10.0, 20.0]), minimum=0.0, maximum=10.0).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    lo = _check_finite("minimum", minimum)
    hi = _check_finite("maximum", maximum)
    if lo == hi:
        raise InvalidParameterError(f"minimum and maximum are both {lo}; give two different values for the linear ramp")

    def _kernel(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a) if a.dtype.kind in "fiu" else a.astype(np.float64)
        # the kernel takes 2-D arrays: other shapes as one row of cells (a view if possible)
        cells = a if a.ndim == 2 else a.reshape(1, -1)
        from habitat.suitability._kernels import ramp

        return ramp(cells, lo, hi).reshape(a.shape)

    return _map_cells(_kernel, x)


def exponential_decay(distance_m: Any, *, scale_m: float) -> Any:
    """Membership that decays exponentially with distance (to water, to tugai edge).

    Parameters
    ----------
    distance_m : ndarray or DataArray
        Distance in metres, valid range >= 0 (negative values are clipped to 0).
        NaN stays NaN.
    scale_m : float
        Decay distance d > 0 in metres: membership is 1/e (0.368) at d and 0.05 at ~3 d.

    Returns
    -------
    ndarray or DataArray
        Membership in (0, 1], float64.

    Notes
    -----
    ``mu = exp(-x / d)``.

    Examples
    --------
    >>> exponential_decay(np.array([0.0, 500.0]), scale_m=500.0).tolist()
    [1.0, 0.36787944117144233]
    """
    d = _check_positive("scale_m", scale_m)

    def _kernel(a: np.ndarray) -> np.ndarray:
        if a.dtype.kind not in "fiu" or a.ndim == 0:
            a = a.astype(np.float64, copy=False)
            return np.exp(-np.maximum(a, 0.0) / d)
        # exp(-maximum(a, 0) / d): the argument in one compiled pass, numpy's exp in place
        from habitat.suitability._kernels import decay_exponent

        x = decay_exponent(a, d)
        return np.exp(x, out=x)

    return _map_cells(_kernel, distance_m)


def _score_lookup(scores: Mapping[int, float] | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(scores, pd.DataFrame):
        missing = {"code", "score"} - set(scores.columns)
        if missing:
            raise InvalidParameterError(
                f"class score table lacks column(s) {sorted(missing)}; it needs columns 'code' and 'score'"
            )
        pairs = dict(zip(scores["code"].tolist(), scores["score"].tolist(), strict=True))
        if len(pairs) != len(scores):
            raise InvalidParameterError("class score table lists a code twice; keep one row per code")
    else:
        pairs = dict(scores)
    if not pairs:
        raise InvalidParameterError("class score table is empty; give one score per class code")
    codes = np.array(sorted(pairs), dtype=np.int64)
    values = np.array([float(pairs[c]) for c in codes.tolist()], dtype=np.float64)
    bad = codes[~((values >= 0) & (values <= 1))]
    if bad.size:
        raise InvalidParameterError(
            f"class score for code(s) {bad.tolist()} is outside [0, 1]; fix the class score table"
        )
    return codes, values


def class_scores(classes: Any, scores: Mapping[int, float] | pd.DataFrame, *, nodata: int | None = None) -> Any:
    """Score each cell from its class code through a table (class score criterion).

    Parameters
    ----------
    classes : ndarray or DataArray of int
        Class codes per cell (for instance habitat classes from the land-cover crosswalk).
    scores : mapping or DataFrame
        ``{code: score}`` or a DataFrame with columns ``code`` and ``score``; scores in [0, 1].
    nodata : int, optional
        Code that marks missing cells; they get NaN.

    Returns
    -------
    ndarray or DataArray
        Score in [0, 1] per cell, NaN at ``nodata``, float64.

    Raises
    ------
    CrosswalkError
        A code in ``classes`` has no row in the table.

    Notes
    -----
    ``mu(x) = score[class(x)]``.

    Examples
    --------
    >>> class_scores(np.array([[1, 2], [3, 1]]), {1: 1.0, 2: 0.5, 3: 0.0}).tolist()
    [[1.0, 0.5], [0.0, 1.0]]
    """
    codes, values = _score_lookup(scores)

    # a table indexed by code for small non-negative integer codes (one compiled pass per block)
    size = int(max(codes.max(initial=0), 0 if nodata is None else nodata)) + 1
    use_table = codes.min(initial=0) >= 0 and size <= 1 << 16 and (nodata is None or nodata >= 0)
    table = np.zeros(size)
    known = np.zeros(size, dtype=np.bool_)
    if use_table:
        table[codes] = values
        known[codes] = True

    def _kernel(a: np.ndarray) -> np.ndarray:
        if use_table and a.dtype.kind in "iu" and a.ndim == 2:
            from habitat.suitability._kernels import lookup

            out, first = lookup(a, table, known, -1 if nodata is None else int(nodata))
            if first < 0:
                return out
        valid = np.ones(a.shape, dtype=bool) if nodata is None else a != nodata
        cells = a[valid].astype(np.int64)
        idx = np.searchsorted(codes, cells)
        idx = np.clip(idx, 0, codes.size - 1)
        found = codes[idx] == cells
        if not found.all():
            unknown = np.unique(cells[~found]).tolist()
            raise CrosswalkError(
                f"class code(s) {unknown} have no score; add them to the class score table (config/suitability)"
            )
        out = np.full(a.shape, np.nan, dtype=np.float64)
        out[valid] = values[idx]
        return out

    return _map_cells(_kernel, classes)


def radius_halo_cells(radius_m: float, cell_size_m: float) -> int:
    """Cells on each side that a disk of ``radius_m`` reaches beyond its centre cell:
    ``ceil(radius_m / cell_size_m)`` (less a 1e-9 tolerance, so a radius of k cells reaches k)."""
    return math.ceil(radius_m / cell_size_m - 1e-9)


def cover_within_radius(cover_fraction: Any, *, radius_m: float, cell_size_m: float) -> Any:
    """Mean cover fraction inside a disk around each cell (e.g. tugai cover within a radius).

    Parameters
    ----------
    cover_fraction : ndarray or DataArray
        Fractional cover per cell in [0, 1]; NaN = nodata (ignored in the mean, and NaN
        where the centre cell is NaN).
    radius_m : float
        Disk radius in metres (> 0); cells whose centre lies within ``radius_m`` of the
        centre cell's centre are in the window.
    cell_size_m : float
        Side of a square cell in metres (> 0).

    Returns
    -------
    ndarray or DataArray
        Mean cover in [0, 1] (float64), over the valid cells of the window that fall inside
        the grid (cells beyond the grid edge are not counted).

    Notes
    -----
    ``c_r(x) = sum_{y: |y-x| <= r} c(y) / #{y: |y-x| <= r, c(y) valid}``.
    Neighbourhood operation: block-wise evaluation needs a halo of
    ``ceil(radius_m / cell_size_m)`` cells. DataArrays backed by dask are processed with
    ``map_overlap`` using that halo.

    Examples
    --------
    >>> cover_within_radius(np.array([[1.0, 0.0, 0.0]]), radius_m=1.0, cell_size_m=1.0).tolist()
    [[0.5, 0.3333333333333333, 0.0]]
    """
    r = _check_positive("radius_m", radius_m)
    cs = _check_positive("cell_size_m", cell_size_m)
    halo = radius_halo_cells(r, cs)
    offs = np.arange(-halo, halo + 1)
    # disk membership by cell-centre distance; small tolerance so r = k cells includes ring k
    footprint = (offs[:, None] ** 2 + offs[None, :] ** 2) * cs * cs <= r * r * (1 + 1e-12)
    # the disk is convex: each footprint row is one run of cells, -w..w
    widths = footprint.sum(axis=1).astype(np.int64)
    halfwidths = np.where(widths > 0, widths // 2, -1)

    def _kernel(a: np.ndarray) -> np.ndarray:
        # same sums, same order as ndimage.correlate(where(valid, a, 0), footprint), one pass;
        # float32 is widened exactly inside the kernel (no float64 copy of the block)
        a = np.asarray(a)
        dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
        from habitat.suitability._kernels import disk_mean

        return disk_mean(np.ascontiguousarray(a, dtype=dtype), halfwidths)

    if isinstance(cover_fraction, xr.DataArray):
        data = cover_fraction.data
        if hasattr(data, "map_overlap"):
            # meta given: dask need not call the kernel on an empty block (and load numba) here
            out = data.astype(np.float64).map_overlap(
                _kernel, depth=halo, boundary=np.nan, dtype=np.float64, meta=np.empty((0, 0))
            )
        else:
            out = _kernel(np.asarray(data))
        return cover_fraction.copy(data=out)
    return _kernel(np.asarray(cover_fraction))


MEMBERSHIP_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "large": fuzzy_large,
    "small": fuzzy_small,
    "gaussian": fuzzy_gaussian,
    "near": fuzzy_near,
    "linear": fuzzy_linear,
    "exponential_decay": exponential_decay,
    "class_scores": class_scores,
}
"""Membership function names as used in the pipeline YAML, mapped to their functions."""


def apply_membership(values: Any, function: str, params: Mapping[str, Any]) -> Any:
    """Apply the membership function named in a pipeline file.

    Parameters
    ----------
    values : ndarray or DataArray
        Criterion layer.
    function : str
        One of ``MEMBERSHIP_FUNCTIONS`` (large, small, gaussian, near, linear,
        exponential_decay, class_scores).
    params : mapping
        Keyword parameters of that function (e.g. ``{"spread": 2, "midpoint": 500}``).

    Returns
    -------
    ndarray or DataArray
        Membership in [0, 1].

    Examples
    --------
    >>> apply_membership(np.array([0.0, 10.0]), "linear", {"minimum": 0, "maximum": 10}).tolist()
    [0.0, 1.0]
    """
    try:
        func = MEMBERSHIP_FUNCTIONS[function]
    except KeyError:
        raise InvalidParameterError(
            f"unknown membership function {function!r}; use one of {sorted(MEMBERSHIP_FUNCTIONS)}"
        ) from None
    params = dict(params)
    args: tuple[Any, ...] = (values,)
    if function == "class_scores":
        if "scores" not in params:
            raise InvalidParameterError("class_scores needs a 'scores' table ({code: score}); add it to the criterion")
        args = (values, params.pop("scores"))
    try:
        inspect.signature(func).bind(*args, **params)
    except TypeError as exc:
        raise InvalidParameterError(f"bad parameters for membership {function!r}: {exc}; fix the criterion") from None
    return func(*args, **params)
