"""The national-report table: indicators arranged per Range State (reporting unit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from habitat.indicators.units import DEFINITIONS, BoxMask

_REPORT_ITEMS = ("habitat_area_ha", "habitat_share_pct", "habitat_protected_pct", "habitat_loss_ha",
                 "habitat_gain_ha", "habitat_net_ha", "habitat_loss_pct", "annual_rate_per_yr",
                 "quality_weighted_area_ha", "NP", "MESH_CBC", "EC_ha", "dECA_pct", "Prot", "ProtConn")
_SUBJECT_ITEMS = ("habitat_area_ha", "habitat_protected_pct", "habitat_loss_pct", "annual_rate_per_yr")


def _home_state(mask, states: list[tuple[str, str, np.ndarray]]) -> tuple[str, str] | None:
    """The Range State holding most of a unit's cells (masks: arrays or BoxMasks)."""
    counts = [mask.count_in(m) if isinstance(mask, BoxMask) else int(np.count_nonzero(mask & m)) for _, _, m in states]
    if not counts or max(counts) == 0:
        return None
    best = int(np.argmax(counts))
    return states[best][0], states[best][1]


def national_report(
    long: pd.DataFrame, units: list[tuple[str, str, str, np.ndarray]], status: pd.DataFrame | None, y1: int, y2: int
) -> pd.DataFrame | None:
    """The national-report table: per Range State, habitat, protected-area and population items.

    Parameters
    ----------
    long : pandas.DataFrame
        Long-form indicators (habitat.indicators.units.unit_indicators): unit_type, unit_id,
        indicator, epoch, value.
    units : list of (unit_type, unit_id, unit_name, mask)
        The reporting units with their cell masks; ``range_state`` units are the Range States.
        A protected area or population area is reported under the state holding most of its cells.
    status : pandas.DataFrame or None
        Population status per site (habitat.indicators.population.population_status, with
        site_name, count_year, growth_rate_per_yr), or None.
    y1, y2 : int
        Baseline and current years.

    Returns
    -------
    pandas.DataFrame or None
        One row per state, section, subject and item with baseline/current year and value, the
        change over the period and the unit of measure; None without Range States.
    """
    states = [(uid, name, mask) for kind, uid, name, mask in units if kind == "range_state"]
    if not states:
        return None
    e1, e2, period = str(y1), str(y2), f"{y1}-{y2}"
    value = long.set_index(["unit_type", "unit_id", "indicator", "epoch"])["value"]
    value = value[~value.index.duplicated()]
    notes = long.set_index(["unit_type", "unit_id", "indicator", "epoch"])["note"] if "note" in long else None
    notes = None if notes is None else notes[~notes.index.duplicated()].fillna("").astype(str)

    def note(kind, uid, item):
        if notes is None:
            return ""
        return next((notes[k] for e in (e2, period, e1) if (k := (kind, uid, item, e)) in notes.index), "")

    def get(kind, uid, indicator, epoch):
        return float(value.get((kind, uid, indicator, epoch), math.nan))

    rows = []

    def add(state, section, kind, uid, name, items):
        for item in items:
            uom = DEFINITIONS[item][0]
            if (kind, uid, item, e1) in value.index or (kind, uid, item, e2) in value.index:
                base, cur = get(kind, uid, item, e1), get(kind, uid, item, e2)
                rows.append((*state, section, uid, name, item, y1, base, y2, cur, get(kind, uid, item, period), uom,
                             note(kind, uid, item)))
            elif (kind, uid, item, period) in value.index:
                rows.append((*state, section, uid, name, item, y1, math.nan, y2, math.nan,
                             get(kind, uid, item, period), uom, note(kind, uid, item)))

    for uid, name, _ in states:
        add((uid, name), "1 habitat", "range_state", uid, name, _REPORT_ITEMS)
    for kind, section in (("protected_area", "2 protected areas"), ("population_area", "3 populations")):
        for k, uid, name, mask in units:
            if k != kind:
                continue
            home = _home_state(mask, states)
            if home is not None:
                add(home, section, kind, uid, name, _SUBJECT_ITEMS)
    if status is not None:
        for _, site in status.iterrows():
            # the population itself belongs to the state its buffer mostly falls in
            mask = next((m for k, u, _, m in units if k == "population_area" and u == site["site_id"]), None)
            home = None if mask is None else _home_state(mask, states)
            if home is None:
                continue
            for item, uom, cur in (("census_count", "animals", site["count"]),
                                   ("growth_rate_per_yr", "1/yr", site["growth_rate_per_yr"]),
                                   ("density_per_km2", "animals/km2", site["density_per_km2"]),
                                   ("overstocked", "flag", float(bool(site["overstocked"])))):
                year = site["count_year"] if item in ("census_count", "density_per_km2") else math.nan
                rows.append((*home, "3 populations", site["site_id"], site["site_name"], item,
                             math.nan, math.nan, year, float(cur), math.nan, uom, ""))
    columns = ["range_state_id", "range_state_name", "section", "subject_id", "subject_name", "item",
               "baseline_year", "baseline_value", "current_year", "current_value", "change", "unit_of_measure",
               "note"]
    table = pd.DataFrame(rows, columns=columns)
    table = table.astype({"baseline_year": "Int64", "current_year": "Int64"})
    return table.sort_values(["range_state_id", "section", "subject_id"], kind="stable").reset_index(drop=True)
