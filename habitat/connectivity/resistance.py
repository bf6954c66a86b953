"""Resistance surfaces from habitat suitability, with barrier overrides."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from habitat.errors import InvalidParameterError

__all__ = [
    "apply_barrier",
    "linear_resistance",
    "negative_exponential_resistance",
    "resistance_from_suitability",
    "typical_resistance",
]


# Public API


def linear_resistance(suitability: Any, *, min_resistance: float = 1.0, max_resistance: float = 100.0) -> Any:
    """Resistance falling linearly with suitability.

    Parameters
    ----------
    suitability : 2-D array_like or xarray.DataArray
        Habitat suitability in [0, 1]; NaN is nodata.
    min_resistance, max_resistance : float, optional
        Resistance at suitability 1 and 0 (dimensionless cost per map unit), 0 <= min <= max.

    Returns
    -------
    numpy.ndarray or xarray.DataArray of float64
        Resistance in [min_resistance, max_resistance]; inf (impassable) where suitability is NaN.
        A DataArray in gives a DataArray out with the same coords and attrs.

    Notes
    -----
    ``R = R_max - (R_max - R_min) * h``.

    Examples
    --------
    >>> linear_resistance(np.array([0.0, 0.5, 1.0, np.nan])).tolist()
    [100.0, 50.5, 1.0, inf]
    """
    h = _suitability(suitability)
    _check_range(min_resistance, max_resistance)
    out = max_resistance - (max_resistance - min_resistance) * h
    return _nodata_impassable(out, h, suitability)


def negative_exponential_resistance(
    suitability: Any,
    *,
    shape: float = 8.0,
    min_resistance: float = 1.0,
    max_resistance: float = 100.0,
) -> Any:
    """Resistance as a negative exponential of suitability (Keeley et al. 2016).

    Parameters
    ----------
    suitability : 2-D array_like or xarray.DataArray
        Habitat suitability in [0, 1]; NaN is nodata.
    shape : float, optional
        Shape parameter c >= 0 (Keeley et al. test 0.25 ... 16; 8 fitted desert bighorn
        dispersal). Larger c: moderately suitable land is nearly as easy as the best; c -> 0
        is the linear transform.
    min_resistance, max_resistance : float, optional
        Resistance at suitability 1 and 0; Keeley et al. use 1 and 100.

    Returns
    -------
    numpy.ndarray or xarray.DataArray of float64
        Resistance in [min_resistance, max_resistance]; inf where suitability is NaN.

    Notes
    -----
    ``R = R_max - (R_max - R_min) * (1 - exp(-c h)) / (1 - exp(-c))``; with the defaults this is
    Keeley et al. (2016) ``R = 100 - 99 (1 - exp(-c h)) / (1 - exp(-c))``.
    Keeley, Beier & Gagnon (2016) Landscape Ecology 31:2151-2162, doi:10.1007/s10980-016-0387-5.

    With ``c = ln(R_max / R_min)`` the curve is the geometric interpolation
    ``R = R_min^h * R_max^(1 - h)`` (log R linear in h): for ``R_min = 1, R_max = 1000``,
    ``R = 1000^(1 - h)``, the ``1000^-HS`` transform rescaled to 1..1000 of Mateo-Sanchez et
    al. (2015) Landscape Ecology 30:1405-1420 (brown bear gene flow); each 0.1 of
    suitability lost doubles the resistance. Proof: put ``r = R_min / R_max``, then
    ``exp(-c h) = r^h`` and the formula reduces to ``R_max r^h``.

    Examples
    --------
    >>> negative_exponential_resistance(np.array([0.0, 1.0])).tolist()
    [100.0, 1.0]
    """
    h = _suitability(suitability)
    _check_range(min_resistance, max_resistance)
    if not (math.isfinite(shape) and shape >= 0):
        raise InvalidParameterError(f"shape={shape!r} must be a finite number >= 0 (Keeley c)")
    if shape == 0:
        fraction = h
    else:
        # expm1 keeps the ratio accurate when c is small (it tends to h, the linear transform).
        fraction = np.expm1(-shape * h) / math.expm1(-shape)
    out = max_resistance - (max_resistance - min_resistance) * fraction
    return _nodata_impassable(out, h, suitability)


def resistance_from_suitability(
    suitability: Any,
    *,
    transform: Literal["linear", "negative_exponential"] = "linear",
    shape: float = 8.0,
    min_resistance: float = 1.0,
    max_resistance: float = 100.0,
) -> Any:
    """Resistance from suitability with a named transform.

    Parameters
    ----------
    suitability : 2-D array_like or xarray.DataArray
        Habitat suitability in [0, 1]; NaN is nodata (impassable).
    transform : {"linear", "negative_exponential"}, optional
        :func:`linear_resistance` or :func:`negative_exponential_resistance`.
    shape : float, optional
        Keeley shape c, used by "negative_exponential" only.
    min_resistance, max_resistance : float, optional
        Resistance at suitability 1 and 0.

    Returns
    -------
    numpy.ndarray or xarray.DataArray of float64
        Resistance in [min_resistance, max_resistance], inf where suitability is NaN.

    Examples
    --------
    >>> resistance_from_suitability(np.array([1.0]), transform="negative_exponential").tolist()
    [1.0]
    """
    if transform == "linear":
        return linear_resistance(suitability, min_resistance=min_resistance, max_resistance=max_resistance)
    if transform == "negative_exponential":
        return negative_exponential_resistance(
            suitability, shape=shape, min_resistance=min_resistance, max_resistance=max_resistance
        )
    raise InvalidParameterError(f"transform={transform!r} is unknown; use 'linear' or 'negative_exponential'")


def typical_resistance(resistance: Any, habitat: Any, *, quantile: float = 0.5) -> float:
    """Resistance of the habitat the animals live in: a quantile of resistance over habitat cells.

    Parameters
    ----------
    resistance : 2-D array_like or xarray.DataArray
        Resistance (NaN, inf = impassable, left out).
    habitat : 2-D array_like, same shape
        Habitat cells: True, or an integer patch id > 0.
    quantile : float, optional
        In [0, 1]; default the median.

    Returns
    -------
    float
        The quantile of the finite resistance values on habitat cells (dimensionless), as
        ``np.quantile`` (linear method) gives it, computed by
        :func:`habitat.connectivity.two_grid.masked_quantile` (strip by strip). With
        :func:`habitat.connectivity.corridors.dispersal_cost_limit` it turns a dispersal
        distance observed in occupied landscapes into a cost budget:
        ``max_cost = max_dispersal_m * typical_resistance``, which adapts to the grid (on a
        5 km grid habitat cells mix tugai with fields and score below a 10 m tugai cell).

    Examples
    --------
    >>> typical_resistance(np.array([[1.0, 3.0, 2.0, 900.0]]), np.array([[1, 1, 1, 0]]))
    2.0
    """
    from habitat.connectivity.two_grid import masked_quantile  # the one implementation (exact, strip by strip)
    if np.shape(habitat) != np.shape(resistance):
        raise InvalidParameterError(
            f"habitat has shape {np.shape(habitat)}, resistance {np.shape(resistance)}; put both on the analysis grid"
        )
    if not (0 <= quantile <= 1):
        raise InvalidParameterError(f"quantile={quantile!r} must lie in [0, 1]")
    value = masked_quantile(resistance, habitat, quantile)
    if value is None:
        raise InvalidParameterError("no passable habitat cell: cannot set a typical resistance; check the habitat mask")
    return value


def apply_barrier(
    resistance: Any,
    barrier: Any,
    *,
    resistance_value: float = math.inf,
    rule: Literal["max", "set"] = "max",
) -> Any:
    """Override resistance on barrier cells (built-up land, canals, main river channels).

    Parameters
    ----------
    resistance : 2-D array_like or xarray.DataArray
        Resistance (>= 0; inf impassable).
    barrier : 2-D array_like or xarray.DataArray, same shape
        Barrier cells: True or any non-zero finite value; NaN and 0 mean no barrier.
    resistance_value : float, optional
        Resistance of a barrier cell, > 0; inf (default) makes it impassable.
    rule : {"max", "set"}, optional
        "max" keeps the larger of the current and barrier resistance, so a barrier never eases
        movement (an impassable cell stays impassable); "set" replaces the value.

    Returns
    -------
    numpy.ndarray or xarray.DataArray of float64
        New resistance; the input is not modified.

    Notes
    -----
    Compose calls for several barrier layers; with rule "max" their order does not matter.

    Examples
    --------
    >>> apply_barrier(np.array([1.0, 1.0]), np.array([False, True]), resistance_value=500).tolist()
    [1.0, 500.0]
    """
    values = np.array(getattr(resistance, "values", resistance), dtype=np.float64)
    mask_values = np.asarray(getattr(barrier, "values", barrier))
    if mask_values.shape != values.shape:
        raise InvalidParameterError(
            f"barrier has shape {mask_values.shape}, resistance {values.shape}; put both on the analysis grid"
        )
    if not (resistance_value > 0):
        raise InvalidParameterError(
            f"resistance_value={resistance_value!r} must be > 0 (use inf for impassable)"
        )
    if mask_values.dtype == bool:
        mask = mask_values
    else:
        numeric = mask_values.astype(np.float64)
        mask = np.isfinite(numeric) & (numeric != 0)
    if rule == "max":
        values[mask] = np.maximum(values[mask], resistance_value)
    elif rule == "set":
        values[mask] = resistance_value
    else:
        raise InvalidParameterError(f"rule={rule!r} is unknown; use 'max' or 'set'")
    return _like(values, resistance)


# Private helpers


def _suitability(suitability: Any) -> np.ndarray:
    h = np.asarray(getattr(suitability, "values", suitability), dtype=np.float64)
    valid = h[~np.isnan(h)]
    if valid.size and (valid.min() < 0 or valid.max() > 1):
        raise InvalidParameterError(
            f"suitability ranges {valid.min():g}..{valid.max():g}; it must lie in [0, 1] (NaN for nodata)"
        )
    return h


def _check_range(min_resistance: float, max_resistance: float) -> None:
    if not (0 <= min_resistance <= max_resistance and math.isfinite(max_resistance)):
        raise InvalidParameterError(
            f"min_resistance={min_resistance!r}, max_resistance={max_resistance!r}: "
            "need finite 0 <= min_resistance <= max_resistance"
        )


def _nodata_impassable(out: np.ndarray, h: np.ndarray, like: Any) -> Any:
    out = np.where(np.isnan(h), np.inf, out)
    return _like(out, like)


def _like(values: np.ndarray, like: Any) -> Any:
    """Wrap ``values`` like ``like``: a DataArray keeps its coords and attrs."""
    if hasattr(like, "dims") and hasattr(like, "copy") and hasattr(like, "coords"):
        return like.copy(data=values)
    return values
