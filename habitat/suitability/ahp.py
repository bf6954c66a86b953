"""Criterion weights from an AHP pairwise comparison matrix (Saaty), with consistency check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from habitat.errors import InvalidParameterError

__all__ = ["AHPResult", "RANDOM_INDEX_SAATY_1980", "ahp_weights"]

RANDOM_INDEX_SAATY_1980: Mapping[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}
"""Random consistency index RI(n), Saaty (1980) *The Analytic Hierarchy Process*, table 1.7."""

CR_LIMIT = 0.10
_RECIPROCAL_RTOL = 1e-3


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency figures of one pairwise comparison matrix.

    Attributes
    ----------
    weights : dict[str, float]
        Criterion name -> weight; weights are > 0 and sum to 1.
    lambda_max : float
        Principal eigenvalue (>= n for a positive reciprocal matrix).
    ci : float
        Consistency index ``(lambda_max - n) / (n - 1)`` (0 for n <= 2).
    cr : float
        Consistency ratio ``CI / RI(n)`` (0 for n <= 2).
    ri : float
        Random index used.
    ri_table : str
        Name of the RI table.
    consistent : bool
        ``cr < 0.10``.
    """

    weights: dict[str, float]
    lambda_max: float
    ci: float
    cr: float
    ri: float
    ri_table: str
    consistent: bool


def ahp_weights(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    *,
    names: Sequence[str] | None = None,
    accept_inconsistent: bool = False,
) -> AHPResult:
    """Derive criterion weights from a pairwise comparison matrix (AHP).

    Parameters
    ----------
    matrix : (n, n) array_like
        Positive reciprocal matrix: ``a_ij`` = importance of criterion i over j on Saaty's
        1-9 scale, ``a_ji = 1 / a_ij`` and ``a_ii = 1``. 1 <= n <= 15.
    names : sequence of str, optional
        Criterion names in row order; default ``c1 ... cn``.
    accept_inconsistent : bool, default False
        Return the result even when CR >= 0.10 (``consistent`` is then False).

    Returns
    -------
    AHPResult
        Weights (sum 1), lambda_max, CI, CR, RI and the RI table name.

    Raises
    ------
    InvalidParameterError
        The matrix is not square, positive and reciprocal, n > 15, or CR >= 0.10 and
        ``accept_inconsistent`` is False.

    Notes
    -----
    Weights are the principal right eigenvector ``A w = lambda_max w`` normalised to sum 1;
    ``CI = (lambda_max - n) / (n - 1)``, ``CR = CI / RI(n)`` with RI from Saaty (1980)
    (RI(3) = 0.58, RI(4) = 0.90, RI(5) = 1.12, ...). Judgements are accepted when CR < 0.10.

    Examples
    --------
    >>> r = ahp_weights([[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]], names=["a", "b", "c"])
    >>> [round(w, 4) for w in r.weights.values()], round(r.cr, 4)
    ([0.637, 0.2583, 0.1047], 0.0332)
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise InvalidParameterError(f"AHP matrix has shape {a.shape}; give a square n x n matrix (one row per criterion)")
    n = a.shape[0]
    if n not in RANDOM_INDEX_SAATY_1980:
        raise InvalidParameterError(f"AHP matrix has {n} criteria; Saaty's RI table covers at most 15, group criteria")
    if names is None:
        names = [f"c{i + 1}" for i in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n:
        raise InvalidParameterError(f"AHP names {names} must be {n} distinct names, one per matrix row")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise InvalidParameterError("AHP matrix entries must be finite and > 0 (Saaty scale 1/9 ... 9)")
    if not np.allclose(np.diag(a), 1.0):
        raise InvalidParameterError("AHP matrix diagonal must be 1 (a criterion compared with itself)")
    if not np.allclose(a * a.T, 1.0, rtol=_RECIPROCAL_RTOL, atol=0):
        i, j = np.argwhere(~np.isclose(a * a.T, 1.0, rtol=_RECIPROCAL_RTOL, atol=0))[0]
        raise InvalidParameterError(
            f"AHP matrix is not reciprocal at ({names[i]}, {names[j]}): {a[i, j]} x {a[j, i]} != 1; set a_ji = 1/a_ij"
        )

    eigvals, eigvecs = np.linalg.eig(a)
    k = int(np.argmax(eigvals.real))
    lambda_max = float(eigvals[k].real)
    vec = np.abs(eigvecs[:, k].real)  # Perron vector: one sign, so abs only fixes the arbitrary sign
    w = vec / vec.sum()

    ri = RANDOM_INDEX_SAATY_1980[n]
    ci = (lambda_max - n) / (n - 1) if n > 2 else 0.0
    ci = max(ci, 0.0)  # rounding can make lambda_max a hair below n for consistent matrices
    cr = ci / ri if ri > 0 else 0.0
    consistent = cr < CR_LIMIT
    if not consistent and not accept_inconsistent:
        raise InvalidParameterError(
            f"AHP consistency ratio CR = {cr:.4f} >= {CR_LIMIT} (RI Saaty 1980, n = {n}); revise the pairwise "
            "judgements or set accept_inconsistent: true"
        )
    return AHPResult(
        weights={name: float(x) for name, x in zip(names, w, strict=True)},
        lambda_max=lambda_max,
        ci=float(ci),
        cr=float(cr),
        ri=ri,
        ri_table="Saaty 1980",
        consistent=bool(consistent),
    )
