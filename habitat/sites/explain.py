"""Plain-language explanation of why a top site ranks where it does and what holds it back."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import Criterion, parse_criteria

__all__ = ["LANGUAGES", "criterion_label", "explain_site", "explain_top_sites"]

# Unit suffixes of column names (the project's naming rule) and how to print them.
_UNIT_SUFFIXES = {
    "ha": "ha", "m": "m", "km": "km", "km2": "km²", "m2": "m²", "pct": "%", "deer": "deer",
}
# Below this normalized value a criterion counts as a weakness: the site sits in the worse
# half of the candidates' range on it.
_WEAK_BELOW = 0.5
_STRENGTHS = 2

#: Languages of the explanations (those of the report).
LANGUAGES = ("en", "ru")
#: Sentences of an explanation per language; ``{}`` fields are filled in by explain_site.
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "site": "Site {id}", "site_named": "Site {id} ({name})",
        "ranks": "{name} ranks {rank} of {n} with a score of {score:.2f} out of 1.",
        "describe": "{label} ({value}, {position} of {n}; {detail})",
        "points": "{points:.2f} points", "of_possible": "{points:.2f} of a possible {weight:.2f} points",
        "strengths": "Its score comes mainly from {parts}.",
        "weakest": "It is the weakest candidate on every weighted criterion.",
        "other": "site {id} (rank {rank})",
        "tie_first": "It ties with {other} and is listed first by id.",
        "tie": "It ties with {other}, listed first by id.",
        "leads": "It leads {other} by {gap:.3f} points, mostly through {label} (+{diff:.3f}).",
        "trails": "It trails {other} by {gap:.3f} points, mostly on {label} ({diff:.3f} behind).",
        "weak": "What holds it back: {parts}.",
        "no_weak": "No criterion holds it back much: it is in the better half of the candidates' range on "
                   "every weighted criterion.",
        "rank_one": "rank {lo}", "rank_span": "ranks {lo} to {hi}",
        "robust": "With randomly drawn weights it stays in the top {top_n} in {percent:.0f} % of draws "
                  "({spread} in 90 % of them).",
        "robust_few": "With randomly drawn weights it ranks first in {percent:.0f} % of draws ({spread} in 90 % of "
                      "them; with only {n} ranked sites every site is in the top {top_n}).",
        "dominated_one": "site {ids}", "dominated_many": "sites {ids}",
        "dominated": "On the trade-off objectives it is Pareto-dominated by {sites}: at least as good on every "
                     "objective and better on one.",
        "undominated": "No other site beats it on all trade-off objectives at once.",
        "best": "best", "worst": "worst", "nth_best": "{ordinal} best", "joint": "joint {position}",
        "and": " and ",
    },
    "ru": {
        "site": "Участок {id}", "site_named": "Участок {id} ({name})",
        "ranks": "{name} занимает {rank}-е место из {n} с баллом {score:.2f} из 1.",
        "describe": "{label} ({value}, {position} из {n}; {detail})",
        "points": "{points:.2f} балла", "of_possible": "{points:.2f} из возможных {weight:.2f} балла",
        "strengths": "Балл складывается в основном из критериев: {parts}.",
        "weakest": "По каждому взвешенному критерию это самый слабый кандидат.",
        "other": "участок {id} (место {rank})",
        "other_gen": "участка {id} (место {rank})",
        "other_ins": "участком {id} (место {rank})",
        "tie_first": "Делит место с {other_ins} и указан первым по идентификатору.",
        "tie": "Делит место с {other_ins}, который указан первым по идентификатору.",
        "leads": "Опережает {other} на {gap:.3f} балла, больше всего за счёт критерия «{label}» (+{diff:.3f}).",
        "trails": "Отстаёт от {other_gen} на {gap:.3f} балла, больше всего по критерию «{label}» "
                  "(на {diff:.3f} меньше).",
        "weak": "Что снижает балл: {parts}.",
        "no_weak": "Ни один критерий заметно не снижает балл: по каждому взвешенному критерию участок в лучшей "
                   "половине диапазона кандидатов.",
        "rank_one": "место {lo}", "rank_span": "места с {lo} по {hi}",
        "robust": "При случайных весах участок остаётся в первой {top_n} в {percent:.0f} % наборов "
                  "({spread} в 90 % из них).",
        "robust_few": "При случайных весах участок первый в {percent:.0f} % наборов ({spread} в 90 % из них; "
                      "ранжированных участков всего {n}, поэтому каждый из них в первой {top_n}).",
        "dominated_one": "участком {ids}", "dominated_many": "участками {ids}",
        "dominated": "По целям компромисса участок доминируется по Парето {sites}: тот не хуже по каждой цели "
                     "и лучше хотя бы по одной.",
        "undominated": "Ни один другой участок не превосходит его сразу по всем целям компромисса.",
        "best": "лучший", "worst": "худший", "nth_best": "{ordinal}-й по качеству", "joint": "{position} (наравне)",
        "and": " и ",
    },
}
#: Russian labels of the candidate-table columns (used for ``ru`` instead of the criterion's
#: English label) and of units.
_RU_LABELS = {
    "capacity_deer": "ёмкость", "mean_quality": "среднее качество местообитаний", "core_area_ha": "площадь ядра",
    "area_ha": "площадь", "usable_area_ha": "пригодная площадь",
    "lcd_to_source": "стоимостное расстояние до популяции",
    "effective_resistance_to_source_ohm": "эффективное сопротивление до популяции",
    "dpc_parent_patch": "значимость родительского участка (dPC)",
    "distance_to_source_m": "расстояние до ближайшей популяции", "share_protected": "доля на охраняемых территориях",
    "mean_degradation": "средняя деградация от угроз", "mean_water_distance_m": "среднее расстояние до воды",
    "capacity_x_quality": "ёмкость × качество", "share_historical_range": "доля в историческом ареале",
    "distance_to_translocation_source_m": "расстояние до источника переселения",
}
_RU_UNITS = {"deer": "оленей", "ha": "га", "m": "м", "km": "км", "km²": "км²", "m²": "м²",
             "resistance x m": "сопротивление × м", "ohm": "Ом", "InVEST D": "InVEST D"}


def criterion_label(criterion: Criterion, language: str = "en") -> tuple[str, str]:
    """Plain-language label and unit of a criterion.

    Parameters
    ----------
    criterion : Criterion
        Uses ``label``/``units`` when given, else derives them from the column name: a known
        unit suffix (``_ha``, ``_m``, ``_km``, ``_km2``, ``_m2``, ``_pct``, ``_deer``) becomes
        the unit and the rest, with ``_`` as spaces, the label.
    language : {"en", "ru"}
        ``ru``: the Russian name of a known candidate-table column and its unit in Russian
        (other labels and units are kept as given).

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
    if language == "ru":
        return _RU_LABELS.get(criterion.name, label), _RU_UNITS.get(units, units)
    return label, units


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _position(norm: np.ndarray, i: int, text: Mapping[str, str] = _TEXT["en"]) -> str:
    """Standing of site i on one criterion, from its normalized values (1 = best)."""
    better = int(np.sum(norm > norm[i] + 1e-12))
    worse = int(np.sum(norm < norm[i] - 1e-12))
    if better == 0:
        position = text["best"]
    elif worse == 0:
        position = text["worst"]
    else:
        ordinal = _ordinal(better + 1) if text is _TEXT["en"] else str(better + 1)
        position = text["nth_best"].format(ordinal=ordinal)
    if int(np.sum(np.abs(norm - norm[i]) <= 1e-12)) > 1:
        return text["joint"].format(position=position)
    return position


def _join(parts: list[str], text: Mapping[str, str] = _TEXT["en"]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + text["and"] + parts[-1]


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
    language: str = "en",
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
    language : {"en", "ru"}
        Language of the paragraph (the report's languages); criterion labels of known
        candidate-table columns are translated (:func:`criterion_label`).

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
    if language not in _TEXT:
        raise InvalidParameterError(f"language={language!r}; use one of {', '.join(LANGUAGES)}")
    text = _TEXT[language]
    table = ranked.sort_values("rank", kind="stable").reset_index(drop=True)
    hits = np.flatnonzero(table[id_column].to_numpy() == site_id)
    if len(hits) != 1:
        raise InvalidParameterError(f"site_id={site_id!r}: not in the ranked table; pick a ranked site")
    i = int(hits[0])
    n = len(table)
    row = table.iloc[i]
    rank = int(row["rank"])
    name = (text["site"].format(id=site_id) if name_column is None
            else text["site_named"].format(id=site_id, name=row[name_column]))

    labels = [criterion_label(c, language) for c in specs]
    norm = table[[f"norm_{c.name}" for c in specs]].to_numpy(dtype=float)
    contrib = table[[f"contrib_{c.name}" for c in specs]].to_numpy(dtype=float)
    weight = table[[f"weight_{c.name}" for c in specs]].to_numpy(dtype=float)[i]

    def describe(k: int, detail: str) -> str:
        label, units = labels[k]
        value = _fmt(float(row[specs[k].name])) + (f" {units}" if units else "")
        return text["describe"].format(label=label, value=value, position=_position(norm[:, k], i, text), n=n,
                                       detail=detail)

    sentences = [text["ranks"].format(name=name, rank=rank, n=n, score=row["score"])]

    order = sorted(range(len(specs)), key=lambda k: (-contrib[i, k], k))
    strengths = [k for k in order[:_STRENGTHS] if contrib[i, k] > 0]
    if strengths:
        parts = [describe(k, text["points"].format(points=contrib[i, k])) for k in strengths]
        sentences.append(text["strengths"].format(parts=_join(parts, text)))
    else:
        sentences.append(text["weakest"])

    if n > 1:
        j = i + 1 if i == 0 else i - 1
        other = table.iloc[j]
        gap = abs(float(row["score"]) - float(other["score"]))
        diff = contrib[i] - contrib[j] if i == 0 else contrib[j] - contrib[i]
        k = int(np.argmax(diff))
        # the other site in each grammatical case the sentences need (English has one form)
        others = {key: text.get(key, text["other"]).format(id=other[id_column], rank=int(other["rank"]))
                  for key in ("other", "other_gen", "other_ins")}
        if gap <= 1e-12:
            sentence = text["tie_first"] if i == 0 else text["tie"]
        else:
            sentence = text["leads"] if i == 0 else text["trails"]
        sentences.append(sentence.format(other=others["other"], other_gen=others["other_gen"],
                                         other_ins=others["other_ins"], gap=gap, label=labels[k][0], diff=diff[k]))

    lost = weight * (1.0 - norm[i])
    weak = sorted(
        (k for k in range(len(specs)) if norm[i, k] < _WEAK_BELOW and lost[k] > 0),
        key=lambda k: (-lost[k], k),
    )[:2]
    if weak:
        parts = [describe(k, text["of_possible"].format(points=contrib[i, k], weight=weight[k])) for k in weak]
        sentences.append(text["weak"].format(parts=_join(parts, text)))
    else:
        sentences.append(text["no_weak"])

    if monte_carlo is not None:
        mc = monte_carlo.loc[monte_carlo[id_column] == site_id]
        cols = [f"p_rank_{r}" for r in range(1, min(top_n, n) + 1)]
        if len(mc) != 1 or any(c not in mc.columns for c in cols + ["rank_p05", "rank_p95"]):
            raise InvalidParameterError(
                "monte_carlo: pass MonteCarloResult.sites for the same sites and id column"
            )
        p_top = float(mc[cols].to_numpy().sum())
        lo, hi = int(mc["rank_p05"].iloc[0]), int(mc["rank_p95"].iloc[0])
        spread = text["rank_one"].format(lo=lo) if lo == hi else text["rank_span"].format(lo=lo, hi=hi)
        if n > top_n:
            sentences.append(text["robust"].format(top_n=top_n, percent=100 * p_top, spread=spread))
        else:  # with n <= top_n sites every site is always in the top top_n: say what varies
            sentences.append(text["robust_few"].format(percent=100 * float(mc["p_rank_1"].iloc[0]), spread=spread,
                                                       n=n, top_n=top_n))

    if pareto is not None:
        pr = pareto.loc[pareto[id_column] == site_id]
        if len(pr) != 1 or "dominated_by" not in pr.columns:
            raise InvalidParameterError("pareto: pass the output of pareto_dominance for the same sites")
        by = str(pr["dominated_by"].iloc[0])
        if by:
            ids = by.split("; ")
            sites = (text["dominated_one"].format(ids=ids[0]) if len(ids) == 1
                     else text["dominated_many"].format(ids=_join(ids, text)))
            sentences.append(text["dominated"].format(sites=sites))
        else:
            sentences.append(text["undominated"])
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
    language: str = "en",
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
    monte_carlo, pareto, id_column, name_column, language
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
                id_column=id_column, name_column=name_column, language=language,
            ),
        }
        for sid, rank in zip(table[id_column].tolist(), table["rank"].tolist())
    ]
    return pd.DataFrame(rows, columns=[id_column, "rank", "explanation"])
