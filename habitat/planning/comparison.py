"""Scenario comparison: habitat, connectivity, links and site ranking per scenario and Range State.

Pure tables in, one table out; the runner (habitat.stages.scenario_runs) reads each run's outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from habitat.connectivity.corridors import connected_links
from habitat.indicators.protconn import delta_eca_pct

#: Columns of :func:`scenario_comparison`, in order.
COMPARISON_COLUMNS = (
    "scenario", "unit_type", "unit_id", "unit_name", "habitat_area_ha", "habitat_area_change_ha",
    "quality_weighted_area_ha", "quality_weighted_area_change_ha", "ECA_ha", "ECA_change_ha", "dECA_pct", "PC",
    "PC_change", "links_connected", "links_lost", "links_gained", "sites_ranked", "sites_lost", "top_site",
    "top_site_rank", "mean_rank_shift", "cells_changed",
)
_INDICATORS = {"habitat_area_ha": "habitat_area_ha", "quality_weighted_area_ha": "quality_weighted_area_ha",
               "ECA_ha": "EC_ha", "PC": "PC"}


@dataclass
class RunTables:
    """What the comparison needs from one run (baseline or scenario).

    ``indicators``: the long indicators table; ``links``: population links with ``from_site``,
    ``to_site``, ``connected``; ``sites``: ranked sites with ``site_id``, ``candidate_id``,
    ``rank``; ``candidates``: the candidate label raster; ``site_unit``: site_id -> unit_id of
    the Range State holding it; ``population_unit``: population site_id -> unit_id;
    ``classes``: the current habitat-class raster (for the cells changed).
    """

    indicators: pd.DataFrame
    links: pd.DataFrame | None = None
    sites: pd.DataFrame | None = None
    candidates: np.ndarray | None = None
    site_unit: dict[str, str] = field(default_factory=dict)
    population_unit: dict[str, str] = field(default_factory=dict)
    classes: np.ndarray | None = None
    unit_masks: dict[str, np.ndarray] = field(default_factory=dict)


def _current(long: pd.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """Per (unit_type, unit_id): the compared indicators at the latest date."""
    dated = long[~long["epoch"].astype(str).str.contains("-")]
    latest = str(max(dated["epoch"].astype(int))) if len(dated) else ""
    rows = dated[dated["epoch"].astype(str) == latest]
    out: dict[tuple[str, str], dict[str, float]] = {}
    for r in rows.itertuples():
        out.setdefault((r.unit_type, str(r.unit_id)), {"unit_name": r.unit_name})[r.indicator] = float(r.value)
    return out


def _links(links: pd.DataFrame | None) -> set[tuple[str, str]]:
    if links is None or not len(links):
        return set()
    kept = connected_links(links)
    return {tuple(sorted((str(a), str(b)))) for a, b in zip(kept["from_site"], kept["to_site"])}


def _matched_ranks(base: RunTables, run: RunTables) -> dict[str, float]:
    """Baseline site_id -> rank of the scenario site covering most of its cells (NaN when none)."""
    if base.sites is None or run.sites is None or base.candidates is None or run.candidates is None:
        return {}
    rank_of = dict(zip(run.sites["candidate_id"].astype(int), run.sites["rank"].astype(float)))
    out = {}
    for sid, cid in zip(base.sites["site_id"].astype(str), base.sites["candidate_id"].astype(int)):
        under = run.candidates[base.candidates == cid]
        under = under[np.isin(under, list(rank_of))] if under.size else under
        out[sid] = rank_of[int(np.bincount(under).argmax())] if under.size else math.nan
    return out


def scenario_comparison(runs: dict[str, RunTables], *, baseline: str = "baseline") -> pd.DataFrame:
    """Per scenario and per unit (study area, Range States): values and changes against the baseline.

    Parameters
    ----------
    runs : dict of str -> RunTables
        The baseline run under ``baseline`` and every scenario run.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`, one row per run and unit (baseline first):
        habitat area, quality-weighted area, ECA (``EC_ha``) and PC at the latest date and their
        change; ``dECA_pct = 100 (ECA - ECA_baseline) / ECA_baseline``; ``links_connected``,
        ``links_lost`` and ``links_gained``: population links within the dispersal limit
        (connectivity ``connected``), for the study area all, for a Range State those with a
        population in it; ``sites_ranked``; ``sites_lost``: baseline sites no scenario site
        covers; ``top_site``, ``top_site_rank``: the baseline's best site in the unit and the
        rank of the scenario site covering it; ``mean_rank_shift``: mean (scenario rank -
        baseline rank) over the baseline's sites in the unit that are still covered;
        ``cells_changed``: cells whose habitat class differs from the baseline.
    """
    base = runs[baseline]
    base_values, base_links = _current(base.indicators), _links(base.links)
    rows = []
    for name, run in runs.items():
        values, links = _current(run.indicators), _links(run.links)
        matched = _matched_ranks(base, run)
        changed = (None if run.classes is None or base.classes is None
                   else run.classes != base.classes)
        for key, b in base_values.items():
            kind, uid = key
            if kind not in ("study_area", "range_state"):
                continue
            v = values.get(key, {})
            row = {"scenario": name, "unit_type": kind, "unit_id": uid, "unit_name": b["unit_name"]}
            for column, indicator in _INDICATORS.items():
                row[column] = v.get(indicator, math.nan)
            for column in ("habitat_area_ha", "quality_weighted_area_ha", "ECA_ha", "PC"):
                suffix = "_change" if column == "PC" else "_change_ha"
                row[column.removesuffix("_ha") + suffix] = row[column] - b.get(_INDICATORS[column], math.nan)
            e0 = b.get("EC_ha", math.nan)
            row["dECA_pct"] = delta_eca_pct(e0, row["ECA_ha"]) if np.isfinite([e0, row["ECA_ha"]]).all() else math.nan

            def here(pair, table=run):
                return kind == "study_area" or uid in {table.population_unit.get(p) for p in pair}

            row["links_connected"] = sum(1 for p in links if here(p))
            row["links_lost"] = sum(1 for p in base_links - links if here(p, base))
            row["links_gained"] = sum(1 for p in links - base_links if here(p))
            mine = ([] if base.sites is None else
                    [s for s in base.sites.sort_values("rank")["site_id"].astype(str)
                     if kind == "study_area" or base.site_unit.get(s) == uid])
            own = (0 if run.sites is None else
                   sum(1 for s in run.sites["site_id"].astype(str) if kind == "study_area" or run.site_unit.get(s) == uid))
            row["sites_ranked"] = own
            row["sites_lost"] = sum(1 for s in mine if s in matched and math.isnan(matched[s]))
            row["top_site"] = mine[0] if mine else ""
            row["top_site_rank"] = matched.get(mine[0], math.nan) if mine else math.nan
            if mine and base.sites is not None:
                base_rank = dict(zip(base.sites["site_id"].astype(str), base.sites["rank"].astype(float)))
                shifts = [matched[s] - base_rank[s] for s in mine if s in matched and not math.isnan(matched[s])]
                row["mean_rank_shift"] = float(np.mean(shifts)) if shifts else math.nan
            else:
                row["mean_rank_shift"] = math.nan
            mask = base.unit_masks.get(uid) if kind == "range_state" else None
            row["cells_changed"] = (math.nan if changed is None
                                    else int(changed.sum() if mask is None else (changed & mask).sum()))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
