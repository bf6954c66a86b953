"""Population status: growth from a census series, density against capacity, overstocking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError

_M2_PER_KM2 = 1e6
_HA_PER_KM2 = 100.0

STATUS_COLUMNS = (
    "site_id", "count", "count_year", "patch_id", "patch_area_ha", "capacity_deer",
    "patch_count", "density_per_km2", "sustainable_density_per_km2", "stocking_ratio", "surplus_deer",
    "overstocked", "translocation_source",
)


def growth_rate(years, counts) -> float:
    """Exponential growth rate of a census series (log-linear least squares).

    Parameters
    ----------
    years : array_like of float
        Census years (any order; at least two distinct years with a positive count).
    counts : array_like of float
        Animals counted, >= 0. Zero counts are left out (ln 0 is undefined).

    Returns
    -------
    float
        ``r`` per year (negative = decline); NaN when fewer than two distinct years have a
        positive count. The finite rate of increase is ``lambda = exp(r)``.

    Notes
    -----
    ``r`` is the slope of the ordinary least-squares line ``ln N_t = c + r t``
    (Caughley 1977): with two counts it is ``ln(N2/N1) / (t2 - t1)``, the same form as the
    annual rate of habitat change (METHODS.md 4).

    Examples
    --------
    >>> round(growth_rate([2000, 2010], [100, 200]), 6)
    0.069315
    """
    t = np.asarray(years, dtype=np.float64).ravel()
    n = np.asarray(counts, dtype=np.float64).ravel()
    if t.shape != n.shape:
        raise InvalidParameterError(f"years ({t.size}) and counts ({n.size}) must have the same length")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(n))) or np.any(n < 0):
        raise InvalidParameterError("years must be finite and counts finite numbers >= 0 (no NaN)")
    keep = n > 0
    t, y = t[keep], np.log(n[keep])
    if np.unique(t).size < 2:
        return math.nan
    dt = t - t.mean()
    return float(np.sum(dt * (y - y.mean())) / np.sum(dt * dt))


def census_trend(census: pd.DataFrame) -> pd.DataFrame:
    """Per-site summary of a census table: first and last count and the growth rate.

    Parameters
    ----------
    census : pandas.DataFrame
        Columns ``site_id, year, count`` (the ingest ``census`` table; ``count >= 0``).

    Returns
    -------
    pandas.DataFrame
        One row per site, sorted by ``site_id``: ``site_id, n_counts, first_year,
        first_count, last_year, last_count, growth_rate_per_yr, lambda_per_yr``.

    Notes
    -----
    ``growth_rate_per_yr`` is :func:`growth_rate` over all the site's counts;
    ``lambda_per_yr = exp(growth_rate_per_yr)`` (1 = stable). When a year is counted twice
    both counts enter the regression.

    Examples
    --------
    >>> t = census_trend(pd.DataFrame({"site_id": ["A", "A"], "year": [2000, 2010],
    ...                                "count": [100, 200]}))
    >>> t[["last_count", "lambda_per_yr"]].round(3).values.tolist()
    [[200.0, 1.072]]
    """
    missing = {"site_id", "year", "count"} - set(census.columns)
    if missing:
        raise InvalidParameterError(f"census is missing column(s) {sorted(missing)}; give site_id, year, count")
    rows = []
    table = census.assign(site_id=census["site_id"].astype(str))
    for site, group in table.sort_values(["site_id", "year"], kind="stable").groupby("site_id", sort=True):
        r = growth_rate(group["year"], group["count"])
        rows.append({
            "site_id": site, "n_counts": len(group),
            "first_year": int(group["year"].iloc[0]), "first_count": float(group["count"].iloc[0]),
            "last_year": int(group["year"].iloc[-1]), "last_count": float(group["count"].iloc[-1]),
            "growth_rate_per_yr": r, "lambda_per_yr": math.exp(r) if math.isfinite(r) else math.nan,
        })
    columns = ["site_id", "n_counts", "first_year", "first_count", "last_year", "last_count",
               "growth_rate_per_yr", "lambda_per_yr"]
    return pd.DataFrame(rows, columns=columns)


def population_status(sites: pd.DataFrame, *, overstocked_density_per_km2: float) -> pd.DataFrame:
    """Density of each population against its patch's capacity, and the overstocked flag.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per site: ``site_id``, ``count`` (animals, >= 0), ``count_year``, and the
        patch the site lies in: ``patch_id``, ``patch_area_ha`` (> 0) and ``capacity_deer``
        (>= 0), NaN when the site lies in no habitat patch.
    overstocked_density_per_km2 : float
        Density above which a site is overstocked (> 0), deer per km² of patch.

    Returns
    -------
    pandas.DataFrame
        ``STATUS_COLUMNS``: the inputs plus ``patch_count, density_per_km2, sustainable_density_per_km2,
        stocking_ratio, surplus_deer, overstocked, translocation_source``.

    Notes
    -----
    With ``N`` the animals in the patch, ``A`` the patch area in km² and ``K`` its capacity (deer):
    ``density = N / A``; ``sustainable density = K / A``; ``stocking ratio = N / K``;
    ``surplus = max(N - K, 0)``; ``overstocked = density > overstocked_density_per_km2``.
    ``N`` is ``patch_count``, the sum of the counts of all sites in the same patch: sites
    sharing a patch share its capacity. An overstocked site is listed as a translocation source. Sites outside every patch get
    NaN figures and are not flagged. Reference points (DOMAIN.md 3.2 and 8): 5-10 deer/km²
    sustainable [A]; 24 deer/km² in the Lower Amudarya reserve with visible tugai damage
    (Cornélis et al. 2020).

    Examples
    --------
    >>> s = pd.DataFrame({"site_id": ["A"], "count": [240], "count_year": [2020],
    ...                   "patch_id": [1], "patch_area_ha": [1000.0], "capacity_deer": [50.0]})
    >>> population_status(s, overstocked_density_per_km2=10)[["density_per_km2", "overstocked"]].values.tolist()
    [[24.0, True]]
    """
    threshold = float(overstocked_density_per_km2)
    if not (math.isfinite(threshold) and threshold > 0):
        raise InvalidParameterError(
            f"overstocked_density_per_km2 must be a density > 0 deer/km², got {overstocked_density_per_km2!r}"
        )
    missing = {"site_id", "count", "count_year", "patch_id", "patch_area_ha", "capacity_deer"} - set(sites.columns)
    if missing:
        raise InvalidParameterError(f"sites is missing column(s) {sorted(missing)}")
    own = pd.to_numeric(sites["count"], errors="coerce").to_numpy(np.float64)
    patch = sites["patch_id"].to_numpy(np.float64)
    totals = pd.Series(own).groupby(patch).sum()
    count = np.where(np.isnan(patch), np.nan, totals.reindex(patch).to_numpy(np.float64))
    area_km2 = sites["patch_area_ha"].to_numpy(np.float64) / _HA_PER_KM2
    capacity = sites["capacity_deer"].to_numpy(np.float64)
    if np.any(own < 0) or np.any(area_km2 <= 0) or np.any(capacity < 0):
        raise InvalidParameterError("count and capacity_deer must be >= 0 and patch_area_ha > 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        density = count / area_km2
        ratio = np.where(capacity > 0, count / capacity, np.where(count > 0, np.inf, np.nan))
    ratio = np.where(np.isnan(capacity), np.nan, ratio)
    overstocked = np.nan_to_num(density, nan=-1.0) > threshold
    out = sites[["site_id", "count", "count_year", "patch_id", "patch_area_ha", "capacity_deer"]].copy()
    out["patch_count"] = count
    out["density_per_km2"] = density
    out["sustainable_density_per_km2"] = capacity / area_km2
    out["stocking_ratio"] = ratio
    out["surplus_deer"] = np.where(np.isnan(capacity), np.nan, np.maximum(count - capacity, 0.0))
    out["overstocked"] = overstocked
    out["translocation_source"] = overstocked
    return out.reset_index(drop=True)[list(STATUS_COLUMNS)]
