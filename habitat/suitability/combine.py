"""Combine criterion memberships into one suitability score, then apply hard constraints."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from habitat.errors import GridMismatchError, InvalidParameterError
from habitat.suitability._kernels import add_weighted, multiply_mask

__all__ = [
    "COMBINATION_METHODS",
    "apply_constraints",
    "combine_memberships",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "weighted_geometric_mean",
    "weighted_linear",
]

CombinationMethod = Literal[
    "weighted_linear", "weighted_geometric_mean", "fuzzy_and", "fuzzy_or", "fuzzy_product", "fuzzy_sum", "fuzzy_gamma"
]
COMBINATION_METHODS: tuple[str, ...] = (
    "weighted_linear",
    "weighted_geometric_mean",
    "fuzzy_and",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "fuzzy_gamma",
)
"""Method names accepted in the pipeline YAML (``combine_memberships(method=...)``)."""

_WEIGHT_SUM_TOL = 1e-6
_RANGE_TOL = 1e-9


# --------------------------------------------------------------------------- helpers


def _map_stack(kernel: Callable[[list[np.ndarray]], np.ndarray], layers: list[Any]) -> Any:
    """Apply a cell-wise kernel over several layers; DataArrays stay lazy if dask-backed."""
    if any(isinstance(layer, xr.DataArray) for layer in layers):
        if not all(isinstance(layer, xr.DataArray) for layer in layers):
            raise GridMismatchError("mix of DataArrays and plain arrays; pass all criteria as DataArrays on one grid")
        try:
            xr.align(*layers, join="exact")
        except ValueError:
            raise GridMismatchError(
                "criteria are on different grids (coordinates differ); put every layer on the analysis grid"
            ) from None
        return xr.apply_ufunc(
            lambda *arrays: kernel(list(arrays)),
            *layers,
            dask="parallelized",
            output_dtypes=[np.float64],
            join="exact",
            keep_attrs="drop",
        )
    arrays = [np.asarray(layer) for layer in layers]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise GridMismatchError(f"criteria have different shapes {sorted(shapes)}; put every layer on the analysis grid")
    return kernel(arrays)


def _as_memberships(arrays: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
    out = []
    for name, a in zip(names, arrays, strict=True):
        a = a.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            bad = (a < -_RANGE_TOL) | (a > 1 + _RANGE_TOL)
        if bad.any():
            raise InvalidParameterError(
                f"membership {name!r} has values outside [0, 1] (e.g. {a[bad][0]!r}); apply a membership function first"
            )
        out.append(a)
    return out


def _check_layers(memberships: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    if not memberships:
        raise InvalidParameterError("no criteria given; list at least one criterion to combine")
    names = list(memberships)
    return names, [memberships[n] for n in names]


def _check_weights(names: list[str], weights: Mapping[str, float] | None) -> np.ndarray:
    if weights is None:
        raise InvalidParameterError("this combination method needs weights (one per criterion, summing to 1)")
    missing = [n for n in names if n not in weights]
    extra = [n for n in weights if n not in names]
    if missing or extra:
        raise InvalidParameterError(
            f"weights do not match criteria: missing {missing}, unknown {extra}; give one weight per criterion"
        )
    w = np.array([float(weights[n]) for n in names])
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidParameterError(f"weights {dict(zip(names, w.tolist()))} must be finite and >= 0")
    if abs(w.sum() - 1.0) > _WEIGHT_SUM_TOL:
        raise InvalidParameterError(f"weights sum to {w.sum():.6g}, not 1; rescale them (or derive them with AHP)")
    return w


# --------------------------------------------------------------------------- Public API


def weighted_linear(memberships: Mapping[str, Any], weights: Mapping[str, float]) -> Any:
    """Weighted linear combination (weighted sum) of memberships.

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Criterion name -> membership in [0, 1] on one grid; NaN = nodata.
    weights : mapping of str to float
        Criterion name -> weight >= 0; weights sum to 1.

    Returns
    -------
    ndarray or DataArray
        ``S`` in [0, 1], float64; NaN where any membership is NaN.

    Notes
    -----
    ``S = sum_k w_k mu_k`` with ``sum_k w_k = 1``. Compensatory: a high score on one
    criterion offsets a low score on another.

    Examples
    --------
    >>> weighted_linear({"a": np.array([1.0]), "b": np.array([0.0])}, {"a": 0.7, "b": 0.3}).tolist()
    [0.7]
    """
    names, layers = _check_layers(memberships)
    w = _check_weights(names, weights)

    def _kernel(arrays: list[np.ndarray]) -> np.ndarray:
        # range check and accumulation in one compiled pass per criterion (same sums, same order)
        out = np.zeros(np.shape(arrays[0]), dtype=np.float64)
        for name, wk, a in zip(names, w, arrays, strict=True):
            a = np.asarray(a)
            if a.dtype.kind not in "fiu":
                a = a.astype(np.float64)
            bad = add_weighted(out, a, float(wk), _RANGE_TOL)
            if not np.isnan(bad):
                raise InvalidParameterError(
                    f"membership {name!r} has values outside [0, 1] (e.g. {bad!r}); apply a membership function first"
                )
        return out

    return _map_stack(_kernel, layers)


def weighted_geometric_mean(memberships: Mapping[str, Any], weights: Mapping[str, float]) -> Any:
    """Weighted geometric mean of memberships (partly compensatory).

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Criterion name -> membership in [0, 1]; NaN = nodata.
    weights : mapping of str to float
        Criterion name -> weight >= 0; weights sum to 1.

    Returns
    -------
    ndarray or DataArray
        ``S`` in [0, 1], float64; 0 wherever a criterion with positive weight is 0.

    Notes
    -----
    ``S = prod_k mu_k ** w_k`` with ``sum_k w_k = 1``.

    Examples
    --------
    >>> weighted_geometric_mean({"a": np.array([0.25]), "b": np.array([1.0])}, {"a": 0.5, "b": 0.5}).tolist()
    [0.5]
    """
    names, layers = _check_layers(memberships)
    w = _check_weights(names, weights)

    def _kernel(arrays: list[np.ndarray]) -> np.ndarray:
        mus = _as_memberships(arrays, names)
        out = np.ones(mus[0].shape, dtype=np.float64)
        for wk, mu in zip(w, mus, strict=True):
            out *= np.clip(mu, 0.0, 1.0) ** wk
        return out

    return _map_stack(_kernel, layers)


def _reduce(memberships: Mapping[str, Any], reducer: Callable[[list[np.ndarray]], np.ndarray]) -> Any:
    names, layers = _check_layers(memberships)
    return _map_stack(lambda arrays: reducer(_as_memberships(arrays, names)), layers)


def fuzzy_and(memberships: Mapping[str, Any]) -> Any:
    """Fuzzy AND: cell-wise minimum (the most limiting criterion decides).

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Memberships in [0, 1]; NaN = nodata.

    Returns
    -------
    ndarray or DataArray
        ``min_k mu_k`` in [0, 1]; NaN where any input is NaN.

    Examples
    --------
    >>> fuzzy_and({"a": np.array([0.2, 0.9]), "b": np.array([0.5, 0.4])}).tolist()
    [0.2, 0.4]
    """
    return _reduce(memberships, lambda mus: np.minimum.reduce(mus))


def fuzzy_or(memberships: Mapping[str, Any]) -> Any:
    """Fuzzy OR: cell-wise maximum (the most favourable criterion decides).

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Memberships in [0, 1]; NaN = nodata.

    Returns
    -------
    ndarray or DataArray
        ``max_k mu_k`` in [0, 1]; NaN where any input is NaN.

    Examples
    --------
    >>> fuzzy_or({"a": np.array([0.2, 0.9]), "b": np.array([0.5, 0.4])}).tolist()
    [0.5, 0.9]
    """
    return _reduce(memberships, lambda mus: np.maximum.reduce(mus))


def _product(mus: list[np.ndarray]) -> np.ndarray:
    out = np.ones(mus[0].shape, dtype=np.float64)
    for mu in mus:
        out *= mu
    return out


def _sum(mus: list[np.ndarray]) -> np.ndarray:
    out = np.ones(mus[0].shape, dtype=np.float64)
    for mu in mus:
        out *= 1.0 - mu
    return 1.0 - out


def fuzzy_product(memberships: Mapping[str, Any]) -> Any:
    """Fuzzy PRODUCT: cell-wise product (decreasive: never above the smallest input).

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Memberships in [0, 1]; NaN = nodata.

    Returns
    -------
    ndarray or DataArray
        ``prod_k mu_k`` in [0, 1].

    Examples
    --------
    >>> fuzzy_product({"a": np.array([0.5]), "b": np.array([0.4])}).tolist()
    [0.2]
    """
    return _reduce(memberships, _product)


def fuzzy_sum(memberships: Mapping[str, Any]) -> Any:
    """Fuzzy algebraic SUM (increasive: never below the largest input).

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Memberships in [0, 1]; NaN = nodata.

    Returns
    -------
    ndarray or DataArray
        ``1 - prod_k (1 - mu_k)`` in [0, 1].

    Examples
    --------
    >>> fuzzy_sum({"a": np.array([0.5]), "b": np.array([0.4])}).tolist()
    [0.7]
    """
    return _reduce(memberships, _sum)


def fuzzy_gamma(memberships: Mapping[str, Any], *, gamma: float) -> Any:
    """Fuzzy GAMMA: a compromise between fuzzy SUM and fuzzy PRODUCT.

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Memberships in [0, 1]; NaN = nodata.
    gamma : float
        gamma in [0, 1]; 0 gives PRODUCT, 1 gives SUM.

    Returns
    -------
    ndarray or DataArray
        ``SUM ** gamma * PRODUCT ** (1 - gamma)`` in [0, 1].

    Examples
    --------
    >>> fuzzy_gamma({"a": np.array([0.5]), "b": np.array([0.5])}, gamma=0.5).tolist()
    [0.4330127018922193]
    """
    g = float(gamma)
    if not (0.0 <= g <= 1.0) or math.isnan(g):
        raise InvalidParameterError(f"gamma={gamma!r} must lie in [0, 1]; fix the combination parameters")
    return _reduce(memberships, lambda mus: _sum(mus) ** g * _product(mus) ** (1.0 - g))


def combine_memberships(
    memberships: Mapping[str, Any],
    *,
    method: CombinationMethod = "weighted_linear",
    weights: Mapping[str, float] | None = None,
    gamma: float | None = None,
) -> Any:
    """Combine memberships with the method named in the pipeline file.

    Parameters
    ----------
    memberships : mapping of str to ndarray or DataArray
        Criterion name -> membership in [0, 1] on one grid.
    method : str, default "weighted_linear"
        One of ``COMBINATION_METHODS``.
    weights : mapping of str to float, optional
        Required for the weighted methods (sum 1). Passing weights to an unweighted method
        is an error, so a config never drops them silently.
    gamma : float, optional
        Required for ``fuzzy_gamma``, in [0, 1].

    Returns
    -------
    ndarray or DataArray
        Suitability in [0, 1], float64.

    Examples
    --------
    >>> combine_memberships({"a": np.array([0.5])}, method="fuzzy_and").tolist()
    [0.5]
    """
    if method not in COMBINATION_METHODS:
        raise InvalidParameterError(f"unknown combination method {method!r}; use one of {list(COMBINATION_METHODS)}")
    weighted = method in ("weighted_linear", "weighted_geometric_mean")
    if weights is not None and not weighted:
        raise InvalidParameterError(f"method {method!r} takes no weights; remove them or use a weighted method")
    if gamma is not None and method != "fuzzy_gamma":
        raise InvalidParameterError(f"gamma applies to fuzzy_gamma only, not {method!r}; remove it")
    if method == "weighted_linear":
        return weighted_linear(memberships, weights)  # type: ignore[arg-type]
    if method == "weighted_geometric_mean":
        return weighted_geometric_mean(memberships, weights)  # type: ignore[arg-type]
    if method == "fuzzy_gamma":
        if gamma is None:
            raise InvalidParameterError("fuzzy_gamma needs gamma in [0, 1]; add it to the combination parameters")
        return fuzzy_gamma(memberships, gamma=gamma)
    return {"fuzzy_and": fuzzy_and, "fuzzy_or": fuzzy_or, "fuzzy_product": fuzzy_product, "fuzzy_sum": fuzzy_sum}[
        method
    ](memberships)


def apply_constraints(score: Any, constraints: Mapping[str, Any]) -> Any:
    """Multiply a score by hard-constraint masks (1 = allowed, 0 = excluded).

    Parameters
    ----------
    score : ndarray or DataArray
        Suitability in [0, 1]; NaN = nodata.
    constraints : mapping of str to ndarray or DataArray
        Constraint name -> mask of 0/1 (bool or numbers) on the same grid; NaN = nodata.
        An empty mapping returns the score unchanged (as float64).

    Returns
    -------
    ndarray or DataArray
        ``S * prod_c m_c``: 0 where any constraint excludes the cell, NaN where the score or
        a mask is NaN.

    Examples
    --------
    >>> apply_constraints(np.array([0.8, 0.8]), {"not_built": np.array([1, 0])}).tolist()
    [0.8, 0.0]
    """
    names = ["score", *constraints]
    layers = [score, *(constraints[n] for n in constraints)]

    def _kernel(arrays: list[np.ndarray]) -> np.ndarray:
        out = np.array(arrays[0], dtype=np.float64, order="C")
        for name, m in zip(names[1:], arrays[1:], strict=True):
            m = np.asarray(m)
            # check and multiply in one compiled pass (same products as out *= m)
            bad = multiply_mask(out, m if m.dtype.kind in "fiu" else m.astype(np.uint8))
            if not np.isnan(bad):
                raise InvalidParameterError(
                    f"constraint {name!r} holds values other than 0/1 (e.g. {bad!r}); give a 0/1 mask"
                )
        return out

    return _map_stack(_kernel, layers)
