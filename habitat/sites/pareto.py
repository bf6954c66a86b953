"""Pareto dominance among candidate sites on a few objectives (trade-off flags)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import _check_site_table, _numeric_column

__all__ = ["pareto_dominance"]

# Rows compared per block, so the pairwise comparison needs O(block x n x k) memory, not O(n^2 k).
_BLOCK_ROWS = 512


def _parse_objectives(objectives: Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    if not isinstance(objectives, Mapping) or len(objectives) == 0:
        raise InvalidParameterError(
            "objectives: give a mapping column -> 'benefit' | 'cost', e.g. "
            "{'capacity_quality': 'benefit', 'lcd_to_source_m': 'cost'}"
        )
    names, signs = [], []
    for name, direction in objectives.items():
        if direction not in ("benefit", "cost"):
            raise InvalidParameterError(
                f"objective {name!r}: direction {direction!r} is unknown; use 'benefit' or 'cost'"
            )
        names.append(name)
        signs.append(1.0 if direction == "benefit" else -1.0)
    return names, np.array(signs)


def pareto_dominance(
    candidates: pd.DataFrame,
    objectives: Mapping[str, str],
    *,
    id_column: str = "site_id",
) -> pd.DataFrame:
    """Flag sites that another site beats or equals on every objective and beats on one.

    Parameters
    ----------
    candidates : pandas.DataFrame
        One row per site; ``id_column`` plus every objective column (finite numbers).
    objectives : mapping of str to {'benefit', 'cost'}
        Objective columns and whether more (benefit) or less (cost) is better, e.g.
        ``{"capacity_x_quality": "benefit", "effective_resistance_to_source": "cost",
        "threat_degradation_mean": "cost"}``.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    pandas.DataFrame
        In input row order: ``id_column``, ``pareto_dominated`` (bool), ``n_dominated_by``
        (int >= 0), ``dominated_by`` (ids of the dominating sites sorted, joined by ``"; "``;
        ``""`` when none) and ``pareto_front`` (non-dominated sorting layer: 1 = not dominated,
        2 = dominated only by layer-1 sites, ...).

    Notes
    -----
    With ``y = sign · x`` (sign +1 for benefit, -1 for cost), site j dominates site i when
    ``y_jk >= y_ik`` for every objective k and ``y_jk > y_ik`` for at least one. Sites with
    identical values do not dominate each other. Raw values are compared, so no normalization
    or weights enter (a dominated site is worse than another whatever the weights).

    Cost: O(n² k) comparisons in blocks of 512 rows, and an n x n boolean matrix
    (4 MB for 2,000 sites; about 0.3 s for 2,000 sites and 3 objectives on one core).

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b", "c"], "capacity": [100, 50, 80],
    ...                    "threat": [0.2, 0.3, 0.1]})
    >>> res = pareto_dominance(df, {"capacity": "benefit", "threat": "cost"})
    >>> res[["site_id", "pareto_dominated", "dominated_by"]].values.tolist()
    [['a', False, ''], ['b', True, 'a; c'], ['c', False, '']]
    """
    names, signs = _parse_objectives(objectives)
    _check_site_table(candidates, id_column)
    y = np.column_stack(
        [_numeric_column(candidates, n, id_column, "objective") for n in names]
    ).reshape(len(candidates), len(names)) * signs
    n = len(candidates)
    # dominates[j, i]: site j dominates site i
    dominates = np.zeros((n, n), dtype=bool)
    for start in range(0, n, _BLOCK_ROWS):
        yj = y[start:start + _BLOCK_ROWS, None, :]
        ge = np.all(yj >= y[None, :, :], axis=2)
        gt = np.any(yj > y[None, :, :], axis=2)
        dominates[start:start + _BLOCK_ROWS] = ge & gt
    ids = candidates[id_column].tolist()
    order = np.asarray(pd.Index(ids).argsort())
    dominated_sorted = dominates[order]
    dominated_by = [
        "; ".join(str(ids[j]) for j in order[np.flatnonzero(dominated_sorted[:, i])]) for i in range(n)
    ]
    front = np.zeros(n, dtype=int)
    remaining = np.ones(n, dtype=bool)
    layer = 0
    while remaining.any():
        layer += 1
        # A remaining site is on this layer when no remaining site dominates it.
        current = remaining & ~np.any(dominates[remaining], axis=0)
        front[current] = layer
        remaining &= ~current
    n_by = dominates.sum(axis=0)
    return pd.DataFrame(
        {
            id_column: ids,
            "pareto_dominated": n_by > 0,
            "n_dominated_by": n_by.astype(int),
            "dominated_by": dominated_by,
            "pareto_front": front,
        }
    )
