"""Hard criteria for candidate sites: pass/fail, with every failed criterion and by how much."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import _check_site_table

__all__ = [
    "HardCriterion",
    "ScreeningResult",
    "parse_hard_criteria",
    "min_usable_area_ha",
    "evaluate_hard_criteria",
    "screen_candidates",
]

_OPS: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}

# DOMAIN.md section 8 / 3.4 [A]: target viable group 100-250 animals at a sustainable
# 5-10 deer/km2 (well below the damaging 24/km2 of Cornelis et al. 2020). The low ends are the
# defaults: the smallest herd worth founding, at the density least likely to cause overbrowsing.
DEFAULT_TARGET_HERD = 100
DEFAULT_SUSTAINABLE_DENSITY_PER_KM2 = 5.0


@dataclass(frozen=True)
class HardCriterion:
    """One hard (pass/fail) criterion on a column of the candidate table.

    Parameters
    ----------
    column : str
        Column tested, with its unit in the name (``usable_area_ha``).
    op : {'>=', '>', '<=', '<', '==', '!='}
        A site passes when ``value <op> threshold``.
    threshold : float, bool or str
        The limit, in ``units``.
    units : str
        Unit of ``threshold`` (for reports), e.g. ``"ha"``; ``""`` for flags.
    provenance : str
        Where the threshold comes from (document, assumption tag).
    name : str or None
        Short name for reports; default ``"<column> <op> <threshold>"``.
    """

    column: str
    op: str
    threshold: float | bool | str
    units: str = ""
    provenance: str = ""
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise InvalidParameterError(f"hard criterion column {self.column!r}: give a column name")
        if self.op not in _OPS:
            raise InvalidParameterError(
                f"hard criterion {self.column!r}: op {self.op!r} is unknown; use one of {', '.join(_OPS)}"
            )
        if _is_number(self.threshold):
            if not math.isfinite(float(self.threshold)):
                raise InvalidParameterError(
                    f"hard criterion {self.column!r}: threshold {self.threshold!r} must be finite"
                )
        elif self.op not in ("==", "!="):
            raise InvalidParameterError(
                f"hard criterion {self.column!r}: op {self.op!r} needs a numeric threshold, "
                f"got {self.threshold!r}"
            )
        if self.name is None:
            object.__setattr__(self, "name", f"{self.column} {self.op} {self.threshold}")


def _is_number(value: object) -> bool:
    numeric = isinstance(value, (int, float, np.integer, np.floating))
    return numeric and not isinstance(value, (bool, np.bool_))


def parse_hard_criteria(
    criteria: Sequence[HardCriterion | Mapping[str, object]],
) -> tuple[HardCriterion, ...]:
    """Validate a hard-criteria spec (records from config) into :class:`HardCriterion` values.

    Parameters
    ----------
    criteria : sequence of HardCriterion or mapping
        Records with keys ``column``, ``op``, ``threshold`` and optionally ``units``,
        ``provenance``, ``name``. An empty sequence means no hard criteria.

    Returns
    -------
    tuple of HardCriterion

    Raises
    ------
    InvalidParameterError
        Unknown key, missing key, unknown op, non-numeric threshold for an ordering op,
        duplicate name.

    Examples
    --------
    >>> parse_hard_criteria([{"column": "usable_area_ha", "op": ">=", "threshold": 2000}])[0].name
    'usable_area_ha >= 2000'
    """
    if isinstance(criteria, (str, bytes, Mapping)):
        raise InvalidParameterError("hard criteria: give a list of records (column, op, threshold, ...)")
    allowed = {f.name for f in fields(HardCriterion)}
    parsed: list[HardCriterion] = []
    for record in criteria:
        if isinstance(record, HardCriterion):
            parsed.append(record)
            continue
        if not isinstance(record, Mapping):
            raise InvalidParameterError(f"hard criteria: entry {record!r} is not a record; give a mapping")
        unknown = sorted(set(record) - allowed)
        missing = [k for k in ("column", "op", "threshold") if k not in record]
        if unknown or missing:
            raise InvalidParameterError(
                f"hard criterion {record.get('column')!r}: unknown key(s) {unknown}, "
                f"missing key(s) {missing}; allowed keys are {sorted(allowed)}"
            )
        parsed.append(HardCriterion(**record))  # type: ignore[arg-type]
    names = [c.name for c in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidParameterError(f"hard criteria: duplicate name(s) {duplicates}; list each once")
    return tuple(parsed)


def min_usable_area_ha(
    *,
    target_herd: float = DEFAULT_TARGET_HERD,
    density_per_km2: float = DEFAULT_SUSTAINABLE_DENSITY_PER_KM2,
) -> float:
    """Usable habitat needed to hold a target herd at a sustainable density.

    Parameters
    ----------
    target_herd : float
        Animals the site must hold, > 0 (default 100; DOMAIN.md section 8: 100-250 [A]).
    density_per_km2 : float
        Sustainable density in deer/km2, > 0 (default 5; DOMAIN.md section 8: 5-10 [A]; the
        observed damaging maximum is 24, Cornelis et al. 2020).

    Returns
    -------
    float
        Minimum usable area in hectares, > 0.

    Notes
    -----
    ``A_ha = 100 · N / D`` (1 km2 = 100 ha).

    Examples
    --------
    >>> min_usable_area_ha()
    2000.0
    >>> min_usable_area_ha(target_herd=250, density_per_km2=10)
    2500.0
    """
    for name, value in (("target_herd", target_herd), ("density_per_km2", density_per_km2)):
        if not _is_number(value) or not math.isfinite(float(value)) or float(value) <= 0:
            raise InvalidParameterError(f"{name}={value!r}: give a finite number > 0")
    return 100.0 * float(target_herd) / float(density_per_km2)


def _check_one(value: object, criterion: HardCriterion) -> tuple[bool, float]:
    """(passed, shortfall) for one value; shortfall is NaN where no distance is defined."""
    if _is_missing(value):
        return False, math.nan
    threshold = criterion.threshold
    if criterion.op not in ("==", "!=") and not _is_number(value):
        raise InvalidParameterError(
            f"hard criterion {criterion.name!r}: column {criterion.column!r} holds non-numeric "
            f"value {value!r}; op {criterion.op!r} needs numbers"
        )
    numeric = _is_number(value) and _is_number(threshold)
    if isinstance(threshold, (bool, np.bool_)) and not isinstance(value, (bool, np.bool_)):
        # Flags often arrive as 0/1 integers from a raster or CSV.
        if _is_number(value) and float(value) in (0.0, 1.0):
            value = bool(value)
    passed = bool(_OPS[criterion.op](value, threshold))
    if passed:
        return True, 0.0
    if not numeric:
        return False, math.nan
    x, t = float(value), float(threshold)
    if criterion.op in (">=", ">"):
        return False, max(t - x, 0.0)
    if criterion.op in ("<=", "<"):
        return False, max(x - t, 0.0)
    if criterion.op == "==":
        return False, abs(x - t)
    return False, 0.0


def evaluate_hard_criteria(
    candidates: pd.DataFrame,
    criteria: Sequence[HardCriterion | Mapping[str, object]],
    *,
    id_column: str = "site_id",
) -> pd.DataFrame:
    """Test every site against every hard criterion (long table, one row per site and criterion).

    Parameters
    ----------
    candidates : pandas.DataFrame
        One row per candidate; ``id_column`` plus every tested column.
    criteria : sequence of HardCriterion or mapping
        Hard-criteria spec, see :func:`parse_hard_criteria`.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    pandas.DataFrame
        Columns ``id_column``, ``criterion`` (name), ``column``, ``op``, ``threshold``,
        ``units``, ``provenance``, ``value``, ``passed`` (bool), ``shortfall`` (>= 0, in
        ``units``) and ``shortfall_pct`` (shortfall as % of ``|threshold|``). Rows follow the
        candidate order, then the criteria order.

    Notes
    -----
    ``shortfall`` is how far the value must move to pass: ``max(t - x, 0)`` for ``>=``/``>``,
    ``max(x - t, 0)`` for ``<=``/``<``, ``|x - t|`` for ``==``; 0 when the site passes (and for
    a value sitting exactly on a strict bound). It is NaN where no distance exists: a missing
    value (which fails, since the criterion cannot be verified), a flag or text comparison, or
    ``!=``. ``shortfall_pct = 100 · shortfall / |t|`` (NaN when ``t == 0``).

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b"], "usable_area_ha": [2500.0, 1500.0]})
    >>> ev = evaluate_hard_criteria(df, [{"column": "usable_area_ha", "op": ">=", "threshold": 2000}])
    >>> ev[["site_id", "passed", "shortfall"]].values.tolist()
    [['a', True, 0.0], ['b', False, 500.0]]
    """
    specs = parse_hard_criteria(criteria)
    _check_site_table(candidates, id_column)
    for c in specs:
        if c.column not in candidates.columns:
            raise InvalidParameterError(
                f"hard criterion {c.name!r}: column {c.column!r} is not in candidates; "
                f"available columns are {list(map(str, candidates.columns))}"
            )
    rows = []
    for site_id, record in zip(candidates[id_column].tolist(), candidates.to_dict("records")):
        for c in specs:
            value = record[c.column]
            passed, shortfall = _check_one(value, c)
            t = c.threshold
            pct = 100.0 * shortfall / abs(float(t)) if _is_number(t) and float(t) != 0 else math.nan
            rows.append(
                {
                    id_column: site_id,
                    "criterion": c.name,
                    "column": c.column,
                    "op": c.op,
                    "threshold": t,
                    "units": c.units,
                    "provenance": c.provenance,
                    "value": value,
                    "passed": passed,
                    "shortfall": shortfall,
                    "shortfall_pct": pct,
                }
            )
    columns = [id_column, "criterion", "column", "op", "threshold", "units", "provenance",
               "value", "passed", "shortfall", "shortfall_pct"]
    table = pd.DataFrame(rows, columns=columns)
    table["passed"] = table["passed"].astype(bool)
    table["shortfall"] = table["shortfall"].astype(float)
    table["shortfall_pct"] = table["shortfall_pct"].astype(float)
    return table


def _describe_failure(row: Mapping[str, object]) -> str:
    units = f" {row['units']}" if row["units"] else ""
    value = row["value"]
    # numbers to 6 significant digits, as the shortfall; flags and text as they are
    shown = str(float(f"{value:.6g}")) if isinstance(value, (float, np.floating)) else f"{value}"
    head = f"{row['column']} {row['op']} {row['threshold']}{units}: value {shown}"
    shortfall = row["shortfall"]
    if isinstance(shortfall, float) and math.isnan(shortfall):
        return f"{head} (missing)" if _is_missing(row["value"]) else head
    verb = "over by" if row["op"] in ("<=", "<") else "off by" if row["op"] == "==" else "short by"
    return f"{head} ({verb} {shortfall:g}{units})"


def _is_missing(value: object) -> bool:
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


class ScreeningResult(NamedTuple):
    """Outcome of :func:`screen_candidates`."""

    passed: pd.DataFrame
    """Candidates meeting every hard criterion (input columns, input order)."""
    excluded: pd.DataFrame
    """One row per excluded candidate: id, ``n_failed``, ``failed_criteria``, ``reason``."""
    evaluations: pd.DataFrame
    """The full long table of :func:`evaluate_hard_criteria`."""


def screen_candidates(
    candidates: pd.DataFrame,
    criteria: Sequence[HardCriterion | Mapping[str, object]],
    *,
    id_column: str = "site_id",
) -> ScreeningResult:
    """Split candidates into those meeting every hard criterion and those excluded.

    Parameters
    ----------
    candidates : pandas.DataFrame
        One row per candidate (a GeoDataFrame stays one in ``passed``).
    criteria : sequence of HardCriterion or mapping
        Hard-criteria spec, see :func:`parse_hard_criteria`; empty keeps every candidate.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    ScreeningResult
        ``passed`` (rows of ``candidates``, input order), ``excluded`` (columns ``id_column``,
        ``n_failed``, ``failed_criteria`` = names joined by ``"; "``, ``reason`` = one
        human-readable clause per failure with value and shortfall, joined by ``"; "``; sorted
        by site id) and ``evaluations`` (see :func:`evaluate_hard_criteria`).

    Notes
    -----
    A site is excluded when any criterion fails (logical AND of all criteria); a missing value
    fails. Shortfalls are defined in :func:`evaluate_hard_criteria`.

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b"], "usable_area_ha": [2500.0, 1500.0]})
    >>> res = screen_candidates(df, [{"column": "usable_area_ha", "op": ">=", "threshold": 2000,
    ...                               "units": "ha"}])
    >>> res.passed["site_id"].tolist(), res.excluded["reason"].tolist()
    (['a'], ['usable_area_ha >= 2000 ha: value 1500.0 (short by 500 ha)'])
    """
    evaluations = evaluate_hard_criteria(candidates, criteria, id_column=id_column)
    failed = evaluations[~evaluations["passed"]]
    failed_ids = set(failed[id_column].tolist())
    keep = ~candidates[id_column].isin(failed_ids).to_numpy()
    passed = candidates.loc[keep].copy()
    records = []
    for site_id, group in failed.groupby(id_column, sort=True):
        rows = group.to_dict("records")
        records.append(
            {
                id_column: site_id,
                "n_failed": len(rows),
                "failed_criteria": "; ".join(str(r["criterion"]) for r in rows),
                "reason": "; ".join(_describe_failure(r) for r in rows),
            }
        )
    excluded = pd.DataFrame(records, columns=[id_column, "n_failed", "failed_criteria", "reason"])
    excluded["n_failed"] = excluded["n_failed"].astype(int)
    return ScreeningResult(passed=passed, excluded=excluded, evaluations=evaluations)
