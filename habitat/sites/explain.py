"""Plain-language explanation of why a top site ranks where it does and what holds it back."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import Criterion, parse_criteria

__all__ = ["criterion_label", "explain_site", "explain_top_sites"]

# Unit suffixes of column names (the project's naming rule) and how to print them.
_UNIT_SUFFIXES = {
    "ha": "ha", "m": "m", "km": "km", "km2": "km²", "m2": "m²", "pct": "%", "deer": "deer",
}
# Below this normalized value a criterion counts as a weakness: the site sits in the worse
# half of the candidates' range on it.
_WEAK_BELOW = 0.5
_STRENGTHS = 2


def criterion_label(criterion: Criterion) -> tuple[str, str]:
    """Plain-language label and unit of a criterion.

    Parameters
    ----------
    criterion : Criterion
        Uses ``label``/``units`` when given, else derives them from the column name: a known
        unit suffix (``_ha``, ``_m``, ``_km``, ``_km2``, ``_m2``, ``_pct``, ``_deer``) becomes
        the unit and the rest, with ``_`` as spaces, the label.

    Returns
    -------
    tuple of str
        ``(label, units)``; ``units`` is ``""`` when unknown.

    Examples
    --------
    >>> criterion_label(Criterion("lcd_to_source_m", "cost", 1.0))
    ('lcd to source', 'm')
    """
    stem, _, suffix = criterion.name.rpartition("_")
    units = criterion.units
    if units is None:
        units = _UNIT_SUFFIXES.get(suffix, "") if stem else ""
    label = criterion.label
    if label is None:
        base = stem if stem and suffix in _UNIT_SUFFIXES else criterion.name
        label = base.replace("_", " ")
    return label, units


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _position(norm: np.ndarray, i: int) -> str:
    """Standing of site i on one criterion, from its normalized values (1 = best)."""
    better = int(np.sum(norm > norm[i] + 1e-12))
    worse = int(np.sum(norm < norm[i] - 1e-12))
    joint = "joint " if int(np.sum(np.abs(norm - norm[i]) <= 1e-12)) > 1 else ""
    if better == 0:
        return f"{joint}best"
    if worse == 0:
        return f"{joint}worst"
    return f"{joint}{_ordinal(better + 1)} best"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _check_ranked(
    ranked: pd.DataFrame, specs: Sequence[Criterion], id_column: str, name_column: str | None
) -> None:
    needed = [id_column, "rank", "score"] + [
        f"{p}_{c.name}" for c in specs for p in ("norm", "weight", "contrib")
    ] + [c.name for c in specs] + ([name_column] if name_column is not None else [])
    missing = [n for n in needed if n not in ranked.columns]
    if missing:
        raise InvalidParameterError(
            f"ranked: columns {missing} are missing; pass the output of score_sites with the same criteria"
        )


def explain_site(
    ranked: pd.DataFrame,
    site_id: Hashable,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    monte_carlo: pd.DataFrame | None = None,
    top_n: int = 3,
    pareto: pd.DataFrame | None = None,
    id_column: str = "site_id",
    name_column: str | None = None,
) -> str:
    """One paragraph saying why a site ranks where it does and what holds it back.

    Parameters
    ----------
    ranked : pandas.DataFrame
        Output of :func:`habitat.sites.ranking.score_sites` (all sites).
    site_id : hashable
        Site to explain.
    criteria : sequence of Criterion or mapping
        The criteria spec used for ``ranked`` (labels, units).
    monte_carlo : pandas.DataFrame, optional
        ``MonteCarloResult.sites`` from :func:`habitat.sites.sensitivity.monte_carlo_weights`;
        adds how often the site stays in the top ``top_n``.
    top_n : int
        N used in the robustness sentence, >= 1.
    pareto : pandas.DataFrame, optional
        Output of :func:`habitat.sites.pareto.pareto_dominance`; adds the trade-off sentence.
    id_column : str
        Column with unique site ids.
    name_column : str, optional
        Column with a human name shown beside the id.

    Returns
    -------
    str
        One paragraph of plain text.

    Notes
    -----
    Strengths are the (at most two) criteria with the largest contributions ``w_k n_k``.
    The gap to the neighbour (the next site for rank 1, the site above otherwise) is
    ``score_i - score_j`` and is attributed to the criterion with the largest difference in
    contributions. Weaknesses are the criteria with ``n_k < 0.5`` (worse half of the
    candidates' range), largest lost points ``w_k (1 - n_k)`` first, at most two. Robustness is
    ``Σ_{r <= N} p_rank_r`` from the Monte Carlo table.

    Examples
    --------
    >>> from habitat.sites.ranking import score_sites
    >>> df = pd.DataFrame({"site_id": ["a", "b"], "area_ha": [900.0, 300.0]})
    >>> spec = [{"name": "area_ha", "direction": "benefit", "weight": 1}]
    >>> explain_site(score_sites(df, spec), "b", spec)  # doctest: +NORMALIZE_WHITESPACE
    'Site b ranks 2 of 2 with a score of 0.00 out of 1. It is the weakest candidate on every
    weighted criterion. It trails site a (rank 1) by 1.000 points, mostly on area (1.000 behind).
    What holds it back: area (300 ha, worst of 2; 0.00 of a possible 1.00 points).'
    """
    specs = parse_criteria(criteria)
    _check_ranked(ranked, specs, id_column, name_column)
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise InvalidParameterError(f"top_n={top_n!r}: give an integer >= 1")
    table = ranked.sort_values("rank", kind="stable").reset_index(drop=True)
    hits = np.flatnonzero(table[id_column].to_numpy() == site_id)
    if len(hits) != 1:
        raise InvalidParameterError(f"site_id={site_id!r}: not in the ranked table; pick a ranked site")
    i = int(hits[0])
    n = len(table)
    row = table.iloc[i]
    rank = int(row["rank"])
    name = f"Site {site_id}"
    if name_column is not None:
        name += f" ({row[name_column]})"

    labels = [criterion_label(c) for c in specs]
    norm = table[[f"norm_{c.name}" for c in specs]].to_numpy(dtype=float)
    contrib = table[[f"contrib_{c.name}" for c in specs]].to_numpy(dtype=float)
    weight = table[[f"weight_{c.name}" for c in specs]].to_numpy(dtype=float)[i]

    def describe(k: int, detail: str) -> str:
        label, units = labels[k]
        value = _fmt(float(row[specs[k].name])) + (f" {units}" if units else "")
        return f"{label} ({value}, {_position(norm[:, k], i)} of {n}; {detail})"

    sentences = [f"{name} ranks {rank} of {n} with a score of {row['score']:.2f} out of 1."]

    order = sorted(range(len(specs)), key=lambda k: (-contrib[i, k], k))
    strengths = [k for k in order[:_STRENGTHS] if contrib[i, k] > 0]
    if strengths:
        parts = [describe(k, f"{contrib[i, k]:.2f} points") for k in strengths]
        sentences.append(f"Its score comes mainly from {_join(parts)}.")
    else:
        sentences.append("It is the weakest candidate on every weighted criterion.")

    if n > 1:
        j = i + 1 if i == 0 else i - 1
        other = table.iloc[j]
        gap = abs(float(row["score"]) - float(other["score"]))
        diff = contrib[i] - contrib[j] if i == 0 else contrib[j] - contrib[i]
        k = int(np.argmax(diff))
        label = labels[k][0]
        site_j = f"site {other[id_column]} (rank {int(other['rank'])})"
        if gap <= 1e-12:
            sentences.append(
                f"It ties with {site_j} and is listed first by id." if i == 0
                else f"It ties with {site_j}, listed first by id."
            )
        elif i == 0:
            sentences.append(
                f"It leads {site_j} by {gap:.3f} points, mostly through {label} (+{diff[k]:.3f})."
            )
        else:
            sentences.append(
                f"It trails {site_j} by {gap:.3f} points, mostly on {label} ({diff[k]:.3f} behind)."
            )

    lost = weight * (1.0 - norm[i])
    weak = sorted(
        (k for k in range(len(specs)) if norm[i, k] < _WEAK_BELOW and lost[k] > 0),
        key=lambda k: (-lost[k], k),
    )[:2]
    if weak:
        parts = [describe(k, f"{contrib[i, k]:.2f} of a possible {weight[k]:.2f} points") for k in weak]
        sentences.append(f"What holds it back: {_join(parts)}.")
    else:
        sentences.append(
            "No criterion holds it back much: it is in the better half of the candidates' range "
            "on every weighted criterion."
        )

    if monte_carlo is not None:
        mc = monte_carlo.loc[monte_carlo[id_column] == site_id]
        cols = [f"p_rank_{r}" for r in range(1, min(top_n, n) + 1)]
        if len(mc) != 1 or any(c not in mc.columns for c in cols + ["rank_p05", "rank_p95"]):
            raise InvalidParameterError(
                "monte_carlo: pass MonteCarloResult.sites for the same sites and id column"
            )
        p_top = float(mc[cols].to_numpy().sum())
        lo, hi = int(mc["rank_p05"].iloc[0]), int(mc["rank_p95"].iloc[0])
        spread = f"rank {lo}" if lo == hi else f"ranks {lo} to {hi}"
        if n > top_n:
            sentences.append(
                f"With randomly drawn weights it stays in the top {top_n} in {100 * p_top:.0f} % of draws "
                f"({spread} in 90 % of them)."
            )
        else:  # with n <= top_n sites every site is always in the top top_n: say what varies
            sentences.append(
                f"With randomly drawn weights it ranks first in {100 * float(mc['p_rank_1'].iloc[0]):.0f} % "
                f"of draws ({spread} in 90 % of them; with only {n} ranked sites every site is in the top {top_n})."
            )

    if pareto is not None:
        pr = pareto.loc[pareto[id_column] == site_id]
        if len(pr) != 1 or "dominated_by" not in pr.columns:
            raise InvalidParameterError("pareto: pass the output of pareto_dominance for the same sites")
        by = str(pr["dominated_by"].iloc[0])
        if by:
            ids = by.split("; ")
            sites = "site " + ids[0] if len(ids) == 1 else "sites " + _join(ids)
            sentences.append(
                f"On the trade-off objectives it is Pareto-dominated by {sites}: at least as good "
                "on every objective and better on one."
            )
        else:
            sentences.append("No other site beats it on all trade-off objectives at once.")
    return " ".join(sentences)


def explain_top_sites(
    ranked: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    top_n: int = 3,
    monte_carlo: pd.DataFrame | None = None,
    pareto: pd.DataFrame | None = None,
    id_column: str = "site_id",
    name_column: str | None = None,
) -> pd.DataFrame:
    """Explanations for the ``top_n`` best-ranked sites (see :func:`explain_site`).

    Parameters
    ----------
    ranked : pandas.DataFrame
        Output of :func:`habitat.sites.ranking.score_sites`.
    criteria : sequence of Criterion or mapping
        The criteria spec used for ``ranked``.
    top_n : int
        Number of sites to explain (fewer if fewer are ranked), >= 1; also the N of the
        robustness sentence.
    monte_carlo, pareto, id_column, name_column
        As in :func:`explain_site`.

    Returns
    -------
    pandas.DataFrame
        Columns ``id_column``, ``rank``, ``explanation``, sorted by rank.

    Examples
    --------
    >>> from habitat.sites.ranking import score_sites
    >>> df = pd.DataFrame({"site_id": ["a", "b", "c"], "area_ha": [900.0, 300.0, 600.0]})
    >>> spec = [{"name": "area_ha", "direction": "benefit", "weight": 1}]
    >>> explain_top_sites(score_sites(df, spec), spec, top_n=2)["site_id"].tolist()
    ['a', 'c']
    """
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise InvalidParameterError(f"top_n={top_n!r}: give an integer >= 1")
    table = ranked.sort_values("rank", kind="stable").head(top_n)
    rows = [
        {
            id_column: sid,
            "rank": int(rank),
            "explanation": explain_site(
                ranked, sid, criteria, monte_carlo=monte_carlo, top_n=top_n, pareto=pareto,
                id_column=id_column, name_column=name_column,
            ),
        }
        for sid, rank in zip(table[id_column].tolist(), table["rank"].tolist())
    ]
    return pd.DataFrame(rows, columns=[id_column, "rank", "explanation"])
