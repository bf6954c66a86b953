"""Translocation plan: how many deer go from which source population to which site.

A small integer programme solved with :func:`scipy.optimize.milp` (HiGHS). Sources are
populations with animals to spare (overstocked, or named by the user); sites are ranked
candidate reintroduction sites.

Founder group size per site, defaults (IUCN/SSC 2013, *Guidelines for Reintroductions and Other
Conservation Translocations* v1.0, ask that founder numbers be set for demographic and genetic
viability; they give no number for deer):

- :data:`MIN_FOUNDERS` = 20: Komers & Curman (2000, Biological Conservation 93: 187-193), 33
  ungulate reintroductions: the growth rate rose with the number of animals released up to about
  20, then levelled off; all 10 releases of >= 20 grew, 6 of 23 smaller ones declined.
- :data:`MAX_FOUNDERS` = 60 **[A]**: the largest Bukhara deer releases on record were 61 animals
  (Ile-Balkhash reserve, 2021 and 2022, from Karachingil; DOMAIN.md 6.1: caravan.kz, ekois.net),
  a size set by capture and adaptation-enclosure capacity, not by biology. Earlier releases were
  9 (Altyn-Emel 2007) and 10 (Syr Darya 2009) animals (WWF 2007, 2009), below the Komers &
  Curman threshold.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError

#: Smallest founder group released at a site (animals). Komers & Curman 2000 (see module doc).
MIN_FOUNDERS = 20
#: Largest founder group released at a site in one programme (animals). [A] from the 61-animal
#: Ile-Balkhash releases (see module doc).
MAX_FOUNDERS = 60

#: Columns of the plan returned by :func:`translocation_plan`.
PLAN_COLUMNS = ("status", "site", "source", "animals", "site_total", "distance_km", "site_score",
                "net_value_per_animal", "site_basin", "source_basin", "reason")

_HIGHS = {"mip_rel_gap": 0.0, "presolve": True}


def _table(df: pd.DataFrame, name: str, columns: dict[str, str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidParameterError(f"{name} is missing column(s) {missing}; it needs {list(columns)}")
    for col, kind in columns.items():
        if kind == "count":
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
            if np.any(~np.isfinite(v)) or np.any(v < 0) or np.any(v != np.round(v)):
                raise InvalidParameterError(f"{name}.{col} must hold whole numbers of animals >= 0")
        elif kind == "number":
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
            if np.any(~np.isfinite(v)) or np.any(v < 0):
                raise InvalidParameterError(f"{name}.{col} must hold finite numbers >= 0")
    ids = df[next(iter(columns))]
    if ids.duplicated().any():
        raise InvalidParameterError(f"{name}.{ids.name} holds duplicate ids {sorted(ids[ids.duplicated()].astype(str))}")
    return df.reset_index(drop=True)


def _solve(c, integrality, bounds, constraints) -> np.ndarray:
    from scipy.optimize import milp  # here, so importing the founder limits stays light

    res = milp(c=c, integrality=integrality, bounds=bounds, constraints=constraints, options=_HIGHS)
    if res.status != 0 or res.x is None:
        # The all-zero plan is always feasible, so this is a solver failure, not bad input.
        raise RuntimeError(f"scipy.optimize.milp failed: {res.message}")
    return np.round(res.x)


# Public API


def translocation_plan(
    sources: pd.DataFrame,
    sites: pd.DataFrame,
    distance_m,
    *,
    min_founders: int = MIN_FOUNDERS,
    max_founders: int = MAX_FOUNDERS,
    distance_cost_per_km: float = 0.0,
    max_distance_m: float = math.inf,
    allow_cross_basin: bool = False,
) -> pd.DataFrame:
    """Plan moves of animals from source populations to candidate sites.

    Parameters
    ----------
    sources : pandas.DataFrame
        One row per source population: ``source`` (id), ``surplus`` (animals that may be
        removed, whole number >= 0), ``basin`` (river basin name).
    sites : pandas.DataFrame
        One row per candidate site: ``site`` (id), ``capacity`` (animals the site can take now,
        >= 0), ``basin``, ``score`` (site ranking score, >= 0; higher is better).
    distance_m : array_like, shape (n_sources, n_sites)
        Travel or least-cost distance source -> site in m, ``inf`` where no route.
    min_founders, max_founders : int, optional
        Founder group range per used site (animals, summed over sources); defaults
        :data:`MIN_FOUNDERS`, :data:`MAX_FOUNDERS` (provenance in the module docstring).
    distance_cost_per_km : float, optional
        Score units lost per animal and km moved (>= 0; default 0: distance only breaks ties).
    max_distance_m : float, optional
        Moves longer than this are not allowed (default: any finite distance).
    allow_cross_basin : bool, optional
        Allow moves between river basins (default False: a source supplies only sites in its
        own basin).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PLAN_COLUMNS`. Rows with ``status == "move"``: one per (source, site)
        move with ``animals > 0``, ``site_total`` the site's whole founder group, and a
        ``reason``; then one row per unused site (``status == "unused"``, ``animals == 0``) whose
        ``reason`` says what it lacks.

    Notes
    -----
    Variables: ``x_st`` animals from source s to site t (integer >= 0) for allowed pairs
    (same basin unless ``allow_cross_basin``, finite distance ``<= max_distance_m``, positive net
    value); ``y_t`` = 1 if site t receives a founder group. Constraints:
    ``sum_t x_st <= surplus_s``; ``min_founders y_t <= sum_s x_st <= min(max_founders,
    capacity_t) y_t``.

    Objective, lexicographic (each stage keeps the optimum of the one before):

    1. maximise ``sum x_st v_st`` with ``v_st = score_t - distance_cost_per_km d_st / 1000``
       (score-weighted animals placed, minus the transport cost);
    2. minimise the animal-kilometres ``sum x_st d_st / 1000``;
    3. minimise ``sum x_st r_st`` with ``r_st`` the pair's position (sources in input order,
       then sites): ties go to earlier rows. HiGHS is deterministic, so equal inputs give
       equal plans.

    Examples
    --------
    >>> src = pd.DataFrame({"source": ["A"], "surplus": [30], "basin": ["Amu"]})
    >>> st = pd.DataFrame({"site": ["s1"], "capacity": [100], "basin": ["Amu"], "score": [0.8]})
    >>> translocation_plan(src, st, [[50_000]])[["source", "site", "animals"]].values.tolist()
    [['A', 's1', 30]]
    """
    sources = _table(sources, "sources", {"source": "id", "surplus": "count", "basin": "text"})
    sites = _table(sites, "sites", {"site": "id", "capacity": "count", "basin": "text", "score": "number"})
    ns, nt = len(sources), len(sites)
    d = np.asarray(distance_m, dtype=np.float64)
    if d.shape != (ns, nt):
        raise InvalidParameterError(f"distance_m must be ({ns} sources, {nt} sites), got shape {d.shape}")
    if np.any(np.isnan(d)) or np.any(d < 0):
        raise InvalidParameterError("distance_m must hold distances >= 0 m, inf where there is no route")
    for name, v in (("min_founders", min_founders), ("max_founders", max_founders)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise InvalidParameterError(f"{name} must be a whole number of animals >= 1, got {v!r}")
    if max_founders < min_founders:
        raise InvalidParameterError(f"max_founders ({max_founders}) must be >= min_founders ({min_founders})")
    if not (math.isfinite(distance_cost_per_km) and distance_cost_per_km >= 0):
        raise InvalidParameterError(f"distance_cost_per_km must be a number >= 0, got {distance_cost_per_km!r}")
    if not (max_distance_m >= 0):
        raise InvalidParameterError(f"max_distance_m must be >= 0 m, got {max_distance_m!r}")

    surplus = sources["surplus"].to_numpy(np.int64)
    capacity = sites["capacity"].to_numpy(np.int64)
    score = sites["score"].to_numpy(np.float64)
    upper = np.minimum(capacity, max_founders)
    same_basin = sources["basin"].to_numpy()[:, None] == sites["basin"].to_numpy()[None, :]
    basin_ok = np.ones((ns, nt), bool) if allow_cross_basin else same_basin
    reach = np.isfinite(d) & (d <= max_distance_m)
    value = score[None, :] - distance_cost_per_km * np.where(np.isfinite(d), d, 0.0) / 1000.0
    allowed = basin_ok & reach & (value > 0) & (surplus[:, None] > 0) & (upper[None, :] >= min_founders)
    ps, pt = np.nonzero(allowed)  # row-major: sources in order, then sites
    x = np.zeros((ns, nt), np.int64)
    if ps.size:
        x[ps, pt] = _optimise(ps, pt, ns, nt, surplus, upper, min_founders, value[ps, pt], d[ps, pt] / 1000.0)
    return _plan_table(x, sources, sites, d, value, surplus, capacity, upper, basin_ok, reach, allowed,
                       min_founders, max_founders, allow_cross_basin, max_distance_m)


def _optimise(ps, pt, ns, nt, surplus, upper, min_founders, v, dkm) -> np.ndarray:
    from scipy.optimize import Bounds, LinearConstraint

    npair = ps.size
    used = np.unique(pt)
    col = {t: npair + k for k, t in enumerate(used)}
    nvar = npair + used.size
    rows, lo, hi = [], [], []
    for s in np.unique(ps):
        r = np.zeros(nvar)
        r[np.nonzero(ps == s)[0]] = 1.0
        rows.append(r), lo.append(-np.inf), hi.append(float(surplus[s]))
    for t in used:
        r = np.zeros(nvar)
        r[np.nonzero(pt == t)[0]] = 1.0
        r_hi, r_lo = r.copy(), r.copy()
        r_hi[col[t]] = -float(upper[t])
        r_lo[col[t]] = -float(min_founders)
        rows += [r_hi, r_lo]
        lo += [-np.inf, 0.0]
        hi += [0.0, np.inf]
    ub = np.concatenate([np.minimum(surplus[ps], upper[pt]).astype(float), np.ones(used.size)])
    bounds = Bounds(np.zeros(nvar), ub)
    integrality = np.ones(nvar)
    cons = [LinearConstraint(np.array(rows), lo, hi)]
    pad = np.zeros(used.size)
    stages = (np.concatenate([-v, pad]), np.concatenate([dkm, pad]),
              np.concatenate([np.arange(1, npair + 1, dtype=float), pad]))
    for k, c in enumerate(stages):
        z = _solve(c, integrality, bounds, cons)
        if k < len(stages) - 1:
            best = float(c @ z)
            cons.append(LinearConstraint(c[None, :], -np.inf, best + 1e-6 * max(1.0, abs(best))))
    return z[:npair].astype(np.int64)


def _plan_table(x, sources, sites, d, value, surplus, capacity, upper, basin_ok, reach, allowed,
                min_founders, max_founders, allow_cross_basin, max_distance_m) -> pd.DataFrame:
    total = x.sum(axis=0)
    left = surplus - x.sum(axis=1)
    rank = pd.Series(sites["score"].to_numpy()).rank(ascending=False, method="min").astype(int).to_numpy()
    rows = []
    for s, t in zip(*np.nonzero(x)):
        cap_note = (f"capped by the site's capacity {capacity[t]}" if upper[t] < max_founders and total[t] == upper[t]
                    else f"founder range {min_founders}-{max_founders}")
        basin = (f"same basin ({sites.at[t, 'basin']})" if sources.at[s, "basin"] == sites.at[t, "basin"]
                 else f"cross-basin ({sources.at[s, 'basin']} -> {sites.at[t, 'basin']}, allowed)")
        rows.append({
            "status": "move", "site": sites.at[t, "site"], "source": sources.at[s, "source"], "animals": int(x[s, t]),
            "site_total": int(total[t]), "distance_km": d[s, t] / 1000.0, "site_score": float(sites.at[t, "score"]),
            "net_value_per_animal": float(value[s, t]), "site_basin": sites.at[t, "basin"],
            "source_basin": sources.at[s, "basin"],
            "reason": (f"site ranked {rank[t]} of {len(sites)} by score ({sites.at[t, 'score']:.3g}); "
                       f"{basin}, {d[s, t] / 1000.0:.1f} km; group of {total[t]} ({cap_note}); "
                       f"source keeps {left[s]} surplus"),
        })
    for t in np.nonzero(total == 0)[0]:
        rows.append({
            "status": "unused", "site": sites.at[t, "site"], "source": None, "animals": 0, "site_total": 0,
            "distance_km": math.nan, "site_score": float(sites.at[t, "score"]), "net_value_per_animal": math.nan,
            "site_basin": sites.at[t, "basin"], "source_basin": None,
            "reason": _lack(t, x, sources, sites, d, value, surplus, capacity, basin_ok, reach, allowed,
                            min_founders, allow_cross_basin, max_distance_m),
        })
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def _lack(t, x, sources, sites, d, value, surplus, capacity, basin_ok, reach, allowed, min_founders,
          allow_cross_basin, max_distance_m) -> str:
    """What an unused site lacks, checking the constraints from the site outwards."""
    if capacity[t] < min_founders:
        return f"capacity {capacity[t]} is below the minimum founder group of {min_founders}"
    has = surplus > 0
    if not np.any(has & basin_ok[:, t]):
        where = "any basin" if allow_cross_basin else f"basin {sites.at[t, 'basin']}"
        return f"no source with surplus in {where}"
    cand = has & basin_ok[:, t]
    if not np.any(cand & reach[:, t]):
        limit = "" if math.isinf(max_distance_m) else f" within {max_distance_m / 1000.0:.1f} km"
        return f"no route from a source with surplus{limit}"
    cand &= reach[:, t]
    if not np.any(cand & allowed[:, t]):
        return (f"too far for its score: every source in reach leaves a net value <= 0 per animal "
                f"(best {value[cand, t].max():.3g})")
    cand &= allowed[:, t]
    pool = int(surplus[cand].sum())
    if pool < min_founders:
        return f"its sources hold {pool} surplus animals in all, fewer than the minimum founder group of {min_founders}"
    winners = sorted({str(sites.at[u, "site"]) for u in np.nonzero(x[cand].sum(axis=0))[0]})
    names = ", ".join(str(v) for v in sources.loc[cand, "source"])
    return (f"the surplus of its sources ({names}) goes to sites of higher net value"
            + (f" ({', '.join(winners)})" if winners else ""))
