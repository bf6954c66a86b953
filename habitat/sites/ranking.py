"""Weighted-sum scoring and ranking of candidate sites, with per-criterion contributions."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError

__all__ = ["Criterion", "parse_criteria", "normalize_criteria", "score_sites", "rank_order"]

_DIRECTIONS = ("benefit", "cost")
_NORMALIZATIONS = ("minmax", "max", "target")
# Scores that agree to this many decimals count as tied, so float noise in the weighted sum
# can never reorder sites that are equal by construction; ties then fall to the site id.
_TIE_DECIMALS = 12


@dataclass(frozen=True)
class Criterion:
    """One scoring criterion: a numeric column of the candidate table and how it counts.

    Parameters
    ----------
    name : str
        Column of the candidate table, with its unit in the name (``usable_area_ha``).
    direction : {'benefit', 'cost'}
        ``benefit``: more is better; ``cost``: less is better.
    weight : float
        Relative importance, >= 0. Weights are rescaled to sum to 1 before scoring, so
        (2, 1, 1) and (0.5, 0.25, 0.25) are the same.
    normalization : {'minmax', 'max', 'target'}
        How raw values become scores in [0, 1] (see :func:`normalize_criteria`).
    target : float or None
        The ideal value; required for, and only used by, ``normalization='target'``.
    label : str or None
        Plain-language name used in explanations; default derived from ``name``.
    units : str or None
        Unit used in explanations; default derived from the suffix of ``name``.
    """

    name: str
    direction: str
    weight: float
    normalization: str = "minmax"
    target: float | None = None
    label: str | None = None
    units: str | None = None

    def __post_init__(self) -> None:
        where = f"criterion {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameterError(f"criterion name {self.name!r}: give a non-empty column name")
        if self.direction not in _DIRECTIONS:
            raise InvalidParameterError(
                f"{where}: direction {self.direction!r} is unknown; use 'benefit' or 'cost'"
            )
        if self.normalization not in _NORMALIZATIONS:
            raise InvalidParameterError(
                f"{where}: normalization {self.normalization!r} is unknown; "
                f"use one of {', '.join(_NORMALIZATIONS)}"
            )
        weight = _as_float(self.weight, f"{where} weight")
        if not math.isfinite(weight) or weight < 0:
            raise InvalidParameterError(f"{where}: weight {self.weight!r} must be a finite number >= 0")
        object.__setattr__(self, "weight", weight)
        if self.normalization == "target":
            if self.target is None:
                raise InvalidParameterError(
                    f"{where}: normalization 'target' needs a 'target' value (the ideal value)"
                )
            target = _as_float(self.target, f"{where} target")
            if not math.isfinite(target):
                raise InvalidParameterError(f"{where}: target {self.target!r} must be finite")
            object.__setattr__(self, "target", target)


def _as_float(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidParameterError(f"{what}: {value!r} is not a number; give a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what}: {value!r} is not a number; give a number") from None


def parse_criteria(criteria: Sequence[Criterion | Mapping[str, object]]) -> tuple[Criterion, ...]:
    """Validate a criteria spec (records from config) into :class:`Criterion` values.

    Parameters
    ----------
    criteria : sequence of Criterion or mapping
        Records with keys ``name``, ``direction``, ``weight`` and optionally
        ``normalization``, ``target``, ``label``, ``units``.

    Returns
    -------
    tuple of Criterion
        In the given order.

    Raises
    ------
    InvalidParameterError
        Empty spec, unknown key, duplicate name, bad direction/normalization/weight, or all
        weights zero.

    Examples
    --------
    >>> parse_criteria([{"name": "usable_area_ha", "direction": "benefit", "weight": 2}])[0].weight
    2.0
    """
    if isinstance(criteria, (str, bytes, Mapping)) or len(criteria) == 0:
        raise InvalidParameterError(
            "criteria: give a non-empty list of records (name, direction, weight, ...)"
        )
    allowed = {f.name for f in fields(Criterion)}
    parsed: list[Criterion] = []
    for record in criteria:
        if isinstance(record, Criterion):
            parsed.append(record)
            continue
        if not isinstance(record, Mapping):
            raise InvalidParameterError(f"criteria: entry {record!r} is not a record; give a mapping")
        unknown = sorted(set(record) - allowed)
        if unknown:
            raise InvalidParameterError(
                f"criterion {record.get('name')!r}: unknown key(s) {unknown}; "
                f"allowed keys are {sorted(allowed)}"
            )
        missing = [k for k in ("name", "direction", "weight") if k not in record]
        if missing:
            raise InvalidParameterError(
                f"criterion {record.get('name')!r}: missing key(s) {missing}; add them"
            )
        parsed.append(Criterion(**record))  # type: ignore[arg-type]
    names = [c.name for c in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidParameterError(f"criteria: duplicate name(s) {duplicates}; list each once")
    if sum(c.weight for c in parsed) <= 0:
        raise InvalidParameterError("criteria: all weights are 0; give at least one positive weight")
    return tuple(parsed)


def _check_site_table(table: pd.DataFrame, id_column: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise InvalidParameterError("candidates: give a pandas DataFrame, one row per site")
    if id_column not in table.columns:
        raise InvalidParameterError(
            f"candidates: id column {id_column!r} is missing; add it or pass id_column=..."
        )
    ids = table[id_column]
    if ids.isna().any():
        raise InvalidParameterError(f"candidates: column {id_column!r} has empty ids; give every site an id")
    if ids.duplicated().any():
        dup = sorted(ids[ids.duplicated()].unique().tolist())
        raise InvalidParameterError(
            f"candidates: duplicate site id(s) {dup} in {id_column!r}; make ids unique"
        )


def _numeric_column(table: pd.DataFrame, column: str, id_column: str, what: str) -> np.ndarray:
    if column not in table.columns:
        raise InvalidParameterError(
            f"{what} {column!r}: no such column in candidates; "
            f"available columns are {list(map(str, table.columns))}"
        )
    try:
        values = pd.to_numeric(table[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} {column!r}: values are not numeric; fix the column") from None
    bad = ~np.isfinite(values)
    if bad.any():
        sites = table[id_column].to_numpy()[bad].tolist()
        raise InvalidParameterError(
            f"{what} {column!r}: missing or infinite values for site(s) {sites}; "
            "fill them or drop the criterion"
        )
    return values


def _normalize_column(values: np.ndarray, criterion: Criterion) -> np.ndarray:
    """Map one column to [0, 1], 1 = best; see :func:`normalize_criteria` for the formulas."""
    if criterion.normalization == "minmax":
        lo, hi = values.min(), values.max()
        if hi == lo:
            # No site differs on this criterion: every site gets full marks, which adds the
            # same constant to every score and leaves the ranking untouched.
            return np.ones_like(values)
        scaled = (values - lo) / (hi - lo)
        return scaled if criterion.direction == "benefit" else 1.0 - scaled
    if criterion.normalization == "max":
        if values.min() < 0:
            raise InvalidParameterError(
                f"criterion {criterion.name!r}: normalization 'max' needs values >= 0; "
                "use normalization 'minmax'"
            )
        hi = values.max()
        if hi == 0:
            return np.zeros_like(values) if criterion.direction == "benefit" else np.ones_like(values)
        scaled = values / hi
        return scaled if criterion.direction == "benefit" else 1.0 - scaled
    distance = np.abs(values - criterion.target)
    worst = distance.max()
    if worst == 0:
        return np.ones_like(values)
    return 1.0 - distance / worst


def normalize_criteria(
    candidates: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    id_column: str = "site_id",
) -> pd.DataFrame:
    """Normalize each criterion column to a score in [0, 1] where 1 is best.

    Parameters
    ----------
    candidates : pandas.DataFrame
        One row per site; must hold ``id_column`` and every criterion column (finite numbers).
    criteria : sequence of Criterion or mapping
        Criteria spec, see :func:`parse_criteria`.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    pandas.DataFrame
        Index = site ids (input row order), one column per criterion, values in [0, 1]
        (dimensionless).

    Notes
    -----
    With ``lo``/``hi`` the smallest/largest value of the column over the candidate set:

    - ``minmax`` (default): benefit ``(x - lo)/(hi - lo)``, cost ``(hi - x)/(hi - lo)``;
      1 for every site when ``hi == lo``.
    - ``max`` (values must be >= 0): benefit ``x/hi``, cost ``1 - x/hi``; when ``hi == 0``
      benefit gives 0 and cost gives 1. Keeps ratios between sites (a site with half the area
      scores half).
    - ``target``: ``1 - |x - t| / max_i |x_i - t|`` (closeness to the ideal value ``t``; 1 for
      every site when all sit on ``t``); ``direction`` is not used.

    Normalization is relative to the candidate set, so adding or removing a candidate can move
    the scores of the others (but, for benefit/cost criteria, never reverse their order).

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b", "c"], "area_ha": [10.0, 20.0, 30.0]})
    >>> normalize_criteria(df, [{"name": "area_ha", "direction": "benefit", "weight": 1}])["area_ha"].tolist()
    [0.0, 0.5, 1.0]
    """
    specs = parse_criteria(criteria)
    _check_site_table(candidates, id_column)
    if len(candidates) == 0:
        raise InvalidParameterError("candidates: the table is empty; there is nothing to rank")
    out = {
        c.name: _normalize_column(_numeric_column(candidates, c.name, id_column, "criterion"), c)
        for c in specs
    }
    return pd.DataFrame(out, index=pd.Index(candidates[id_column].to_numpy(), name=id_column))


def _weight_vector(specs: Sequence[Criterion], weights: Mapping[str, float] | None) -> np.ndarray:
    names = [c.name for c in specs]
    if weights is None:
        raw = np.array([c.weight for c in specs], dtype=float)
    else:
        unknown = sorted(set(weights) - set(names))
        missing = [n for n in names if n not in weights]
        if unknown or missing:
            raise InvalidParameterError(
                f"weights: keys must match the criteria {names}; unknown {unknown}, missing {missing}"
            )
        raw = np.array([_as_float(weights[n], f"weights[{n!r}]") for n in names], dtype=float)
    if not np.all(np.isfinite(raw)) or np.any(raw < 0) or raw.sum() <= 0:
        raise InvalidParameterError(
            f"weights {dict(zip(names, raw.tolist()))}: give finite weights >= 0 with a positive sum"
        )
    return raw / raw.sum()


def rank_order(scores: np.ndarray, site_ids: Sequence[Hashable]) -> np.ndarray:
    """Ranks (1 = best) for one or many score vectors; ties go to the smaller site id.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n_sites,)`` or ``(n_sites, n_draws)``; higher is better.
    site_ids : sequence
        ``n_sites`` unique, mutually comparable ids.

    Returns
    -------
    numpy.ndarray of int
        Same shape as ``scores``; each column is a permutation of 1..n_sites.

    Notes
    -----
    Scores are compared after rounding to 12 decimals, so sites whose scores differ only by
    floating-point noise are ordered by id (deterministic, no shared ranks).

    Examples
    --------
    >>> rank_order(np.array([0.2, 0.9, 0.2]), ["c", "a", "b"]).tolist()
    [3, 1, 2]
    """
    scores = np.asarray(scores, dtype=float)
    one_d = scores.ndim == 1
    matrix = scores[:, None] if one_d else scores
    if len(site_ids) != matrix.shape[0]:
        raise InvalidParameterError(
            f"site_ids: {len(site_ids)} ids for {matrix.shape[0]} scores; give one id per site"
        )
    # Put rows in id order first; a stable sort on the score then breaks ties by id.
    by_id = np.asarray(pd.Index(list(site_ids)).argsort())
    keyed = -np.round(matrix[by_id], _TIE_DECIMALS)
    order = by_id[np.argsort(keyed, axis=0, kind="stable")]
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, len(order) + 1)[:, None], axis=0)
    return ranks[:, 0] if one_d else ranks


def score_sites(
    candidates: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    weights: Mapping[str, float] | None = None,
    id_column: str = "site_id",
) -> pd.DataFrame:
    """Weighted-sum score of each site, split into per-criterion contributions, and its rank.

    Parameters
    ----------
    candidates : pandas.DataFrame
        One row per site that passed the hard criteria; ``id_column`` plus every criterion
        column (finite numbers, units in the names). A GeoDataFrame stays one.
    criteria : sequence of Criterion or mapping
        Criteria spec (see :func:`parse_criteria`); weights may come from AHP.
    weights : mapping of str to float, optional
        Overrides the spec weights (one entry per criterion, >= 0); used by sensitivity runs.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``norm_<name>`` (normalized value, [0, 1]), ``weight_<name>``
        (normalized weight, sums to 1), ``contrib_<name>`` (points the criterion adds to the
        score), ``score`` ([0, 1], dimensionless) and ``rank`` (1 = best), sorted by rank.

    Notes
    -----
    ``w_k = weight_k / Σ weight``; ``contrib_ik = w_k · n_ik`` with ``n_ik`` from
    :func:`normalize_criteria`; ``score_i = Σ_k contrib_ik`` (so contributions sum to the score
    exactly and a score of 1 means best on every criterion). Ranks are ordinal: sites are
    sorted by score (descending), ties by site id (ascending), see :func:`rank_order`.

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b"], "area_ha": [10.0, 30.0], "threat": [0.1, 0.5]})
    >>> spec = [{"name": "area_ha", "direction": "benefit", "weight": 3},
    ...         {"name": "threat", "direction": "cost", "weight": 1}]
    >>> score_sites(df, spec)[["site_id", "score", "rank"]].values.tolist()
    [['b', 0.75, 1], ['a', 0.25, 2]]
    """
    specs = parse_criteria(criteria)
    w = _weight_vector(specs, weights)
    normalized = normalize_criteria(candidates, specs, id_column=id_column).to_numpy()
    contributions = normalized * w
    out = candidates.copy()
    for k, c in enumerate(specs):
        out[f"norm_{c.name}"] = normalized[:, k]
        out[f"weight_{c.name}"] = w[k]
        out[f"contrib_{c.name}"] = contributions[:, k]
    out["score"] = contributions.sum(axis=1)
    out["rank"] = rank_order(out["score"].to_numpy(), out[id_column].tolist())
    return out.sort_values("rank", kind="stable").reset_index(drop=True)
