"""Continuous Boyce index (Hirzel et al. 2006) with the conventions of ``ecospat.boyce``.

Hirzel, A.H., Le Lay, G., Helfer, V., Randin, C. & Guisan, A. (2006) Evaluating the ability of
habitat suitability models to predict species presences. Ecological Modelling 199:142-152.
The moving-window form follows ``ecospat.boyce`` (R package ecospat, versions 3.x-4.x,
Petitpierre & Breiner; METHODS.md section 10), including its small conventions, so that an
index computed here equals the one a reviewer gets from ecospat on the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from habitat.errors import InvalidParameterError

__all__ = ["BoyceResult", "continuous_boyce", "spearman"]


@dataclass(frozen=True)
class BoyceResult:
    """Outcome of :func:`continuous_boyce`.

    Attributes
    ----------
    index : float
        The continuous Boyce index in [-1, 1]; NaN when undefined (fewer than two windows with
        cells, or P/E constant).
    window_start, window_centre : ndarray
        Lower bound and centre of each window that holds at least one study-area cell or place
        (ecospat ``HS`` is the centre).
    pe_ratio : ndarray
        Predicted-to-expected ratio of those windows (ecospat ``F.ratio``).
    used : ndarray of bool
        Windows that enter the correlation after consecutive duplicates are removed.
    window_width : float
        Width of the moving window, suitability units.
    """

    index: float
    window_start: np.ndarray
    window_centre: np.ndarray
    pe_ratio: np.ndarray
    used: np.ndarray
    window_width: float


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson's r of average ranks, as R ``cor(method="spearman")``).

    NaN when fewer than two values or when either variable is constant.

    Examples
    --------
    >>> spearman(np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0]))
    0.5
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidParameterError("spearman: x and y must be 1-D arrays of the same length")
    if x.size < 2:
        return math.nan
    rx = rankdata(x) - (x.size + 1) / 2.0
    ry = rankdata(y) - (y.size + 1) / 2.0
    sxx, syy = float(rx @ rx), float(ry @ ry)
    if sxx == 0.0 or syy == 0.0:
        return math.nan
    return float(rx @ ry) / math.sqrt(sxx * syy)


def continuous_boyce(
    background: np.ndarray,
    places: np.ndarray,
    *,
    window_width: float | None = None,
    n_steps: int = 100,
    remove_duplicates: bool = True,
) -> BoyceResult:
    """Continuous Boyce index of a suitability map against known presence places.

    Parameters
    ----------
    background : array_like of float
        Suitability of every study-area cell (ecospat ``fit``); NaN cells are dropped.
    places : array_like of float
        Suitability at each known place (ecospat ``obs``); NaN values are dropped.
    window_width : float, optional
        Moving-window width in suitability units; default a tenth of the background's range.
    n_steps : int
        Number of steps of the window across the range (ecospat ``res``, default 100).
    remove_duplicates : bool
        Drop consecutive windows with equal P/E before the correlation (ecospat ``rm.duplicate``).

    Returns
    -------
    BoyceResult

    Notes
    -----
    With ``lo = min(background ∪ places)``, ``hi = max(background ∪ places)`` and width ``w``,
    window ``k`` (k = 0..n_steps) is ``[s_k, s_k + w]``, ``s_k = lo + k (hi - lo - w) / n_steps``,
    closed on both sides. In each window ``P/E = (share of places in it) / (share of
    background cells in it)``, rounded to 10 decimals; windows with neither (0/0) are skipped
    (a window with places but no cells gives +inf and is kept, as in ecospat). The index is the
    Spearman correlation between ``s_k`` and P/E over the kept windows (ranks equal those of the
    window centres). ecospat conventions reproduced on purpose:

    - the last window start is shifted up by 1 (``vec.mov[res + 1] + 1``, ecospat's "trick" for
      the closed interval): on a map whose range is below 1 the last window is empty, so values
      within one step of the maximum fall in no window;
    - duplicate removal keeps the last window of each run of equal P/E, and drops the last
      window when its P/E equals 1 (ecospat compares it with ``TRUE``);
    - fewer than two kept windows give NaN.

    Examples
    --------
    >>> fit = np.arange(10.0)                      # ten cells, suitability 0..9
    >>> obs = np.repeat(np.arange(10.0), np.arange(10))   # value k found k times
    >>> continuous_boyce(fit, obs).index
    1.0
    """
    fit = np.asarray(background, dtype=np.float64).ravel()
    obs = np.asarray(places, dtype=np.float64).ravel()
    fit = fit[np.isfinite(fit)]
    obs = obs[np.isfinite(obs)]
    if fit.size == 0 or obs.size == 0:
        raise InvalidParameterError(
            "continuous Boyce index: needs at least one study-area cell and one place with a suitability value"
        )
    n_steps = int(n_steps)
    if n_steps < 1:
        raise InvalidParameterError(f"continuous Boyce index: n_steps={n_steps} must be >= 1")
    width = (fit.max() - fit.min()) / 10.0 if window_width is None else float(window_width)
    lo = float(min(fit.min(), obs.min()))
    hi = float(max(fit.max(), obs.max()))
    step = (hi - lo - width) / n_steps
    if not math.isfinite(width) or width <= 0 or step <= 0:
        raise InvalidParameterError(
            f"continuous Boyce index: window width {width!r} must be > 0 and below the suitability range "
            f"{hi - lo!r} (a map with a single value cannot be evaluated)"
        )
    start = lo + np.arange(n_steps + 1) * step
    start[-1] += 1.0  # ecospat's closed-interval "trick", reproduced (see Notes)
    end = start + width

    fit_sorted = np.sort(fit)
    obs_sorted = np.sort(obs)

    def _count(sorted_values: np.ndarray) -> np.ndarray:
        return np.searchsorted(sorted_values, end, side="right") - np.searchsorted(sorted_values, start, side="left")

    p_share = _count(obs_sorted) / obs.size
    e_share = _count(fit_sorted) / fit.size
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = np.round(p_share / e_share, 10)
    keep = ~np.isnan(pe)
    pe, kept_start = pe[keep], start[keep]
    centre = (start + end) / 2.0
    centre[-1] -= 1.0
    centre = centre[keep]

    used = np.ones(pe.size, dtype=bool)
    if remove_duplicates and pe.size:
        nxt = np.append(pe[1:], 1.0)  # R: c(f[-1], TRUE), TRUE coerced to 1
        used = pe != nxt
    index = spearman(pe[used], kept_start[used]) if pe.size >= 2 else math.nan
    return BoyceResult(index=index, window_start=kept_start, window_centre=centre, pe_ratio=pe, used=used,
                       window_width=width)
