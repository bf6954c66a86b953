"""Robustness of a site ranking to its weights: one-at-a-time changes and Dirichlet Monte Carlo."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import (
    Criterion,
    _weight_vector,
    normalize_criteria,
    parse_criteria,
    rank_order,
)

__all__ = ["spearman_rho", "one_at_a_time", "MonteCarloResult", "monte_carlo_weights"]

# Draws are scored in batches so memory stays at n_sites x batch, whatever n_draws is.
_BATCH_DRAWS = 2048


def spearman_rho(ranks_a: np.ndarray, ranks_b: np.ndarray) -> np.ndarray | float:
    """Spearman rank correlation between rankings without ties.

    Parameters
    ----------
    ranks_a : numpy.ndarray
        Shape ``(n,)``: a permutation of 1..n.
    ranks_b : numpy.ndarray
        Shape ``(n,)`` or ``(n, m)``: one or ``m`` permutations of 1..n.

    Returns
    -------
    float or numpy.ndarray
        rho in [-1, 1] (one per column of ``ranks_b``); NaN when n < 2.

    Notes
    -----
    ``rho = 1 - 6 Σ d_i^2 / (n (n^2 - 1))`` with ``d_i`` the rank difference of site i; exact
    for rankings without ties (as :func:`habitat.sites.ranking.rank_order` produces), where it
    equals the Pearson correlation of the ranks.

    Examples
    --------
    >>> spearman_rho(np.array([1, 2, 3]), np.array([3, 2, 1]))
    -1.0
    """
    a = np.asarray(ranks_a, dtype=float)
    b = np.asarray(ranks_b, dtype=float)
    n = a.shape[0]
    if b.shape[0] != n:
        raise InvalidParameterError(
            f"spearman_rho: rankings have {n} and {b.shape[0]} sites; give equal lengths"
        )
    if n < 2:
        return math.nan if b.ndim == 1 else np.full(b.shape[1], np.nan)
    d = b - a if b.ndim == 1 else b - a[:, None]
    rho = 1.0 - 6.0 * np.sum(d * d, axis=0) / (n * (n * n - 1.0))
    return float(rho) if b.ndim == 1 else rho


def _prepare(
    candidates: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    id_column: str,
    weights: Mapping[str, float] | None,
) -> tuple[tuple[Criterion, ...], np.ndarray, list, np.ndarray, np.ndarray]:
    specs = parse_criteria(criteria)
    normalized = normalize_criteria(candidates, specs, id_column=id_column)
    ids = normalized.index.tolist()
    base_w = _weight_vector(specs, weights)
    matrix = normalized.to_numpy()
    base_rank = rank_order(matrix @ base_w, ids)
    return specs, matrix, ids, base_w, base_rank


def one_at_a_time(
    candidates: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    change_fraction: float = 0.2,
    weights: Mapping[str, float] | None = None,
    id_column: str = "site_id",
) -> pd.DataFrame:
    """Re-rank after raising and lowering each weight in turn by ``change_fraction``.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Sites that passed the hard criteria (see :func:`habitat.sites.ranking.score_sites`).
    criteria : sequence of Criterion or mapping
        Criteria spec with the base weights.
    change_fraction : float
        Relative weight change, in (0, 1); default 0.2 (±20 %).
    weights : mapping of str to float, optional
        Base weights overriding the spec (e.g. ``ahp_weights(...).weights``).
    id_column : str
        Column with unique site ids.

    Returns
    -------
    pandas.DataFrame
        Long table, one row per (criterion, change, site): ``criterion``, ``weight_change``
        (+f or -f), ``weight`` (the changed criterion's normalized weight), ``id_column``,
        ``base_rank``, ``rank``, ``rank_shift`` (rank - base_rank; negative = moved up),
        ``score`` and ``spearman_rho`` (of that whole perturbed ranking to the base ranking).
        Ordered by criterion (spec order), -f before +f, then base rank.

    Notes
    -----
    For criterion k: ``w'_k = w_k (1 ± f)``, other weights unchanged, then all rescaled to sum
    to 1 (the others so shrink or grow in proportion). Scores as in ``score_sites``. A criterion
    with weight 0 stays at 0, so its rows repeat the base ranking.

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b"], "area_ha": [1.0, 2.0], "threat": [0.0, 1.0]})
    >>> spec = [{"name": "area_ha", "direction": "benefit", "weight": 1},
    ...         {"name": "threat", "direction": "cost", "weight": 1}]
    >>> oat = one_at_a_time(df, spec)
    >>> oat.loc[oat["criterion"] == "threat", ["weight_change", "site_id", "rank"]].values.tolist()
    [[-0.2, 'b', 1], [-0.2, 'a', 2], [0.2, 'a', 1], [0.2, 'b', 2]]
    """
    if not isinstance(change_fraction, (int, float)) or not 0 < change_fraction < 1:
        raise InvalidParameterError(f"change_fraction={change_fraction!r}: give a number in (0, 1), e.g. 0.2")
    specs, matrix, ids, base_w, base_rank = _prepare(candidates, criteria, id_column, weights)
    base_order = np.argsort(base_rank, kind="stable")
    frames = []
    for k, c in enumerate(specs):
        for delta in (-float(change_fraction), float(change_fraction)):
            w = base_w.copy()
            w[k] *= 1.0 + delta
            w /= w.sum()
            scores = matrix @ w
            ranks = rank_order(scores, ids)
            frames.append(
                pd.DataFrame(
                    {
                        "criterion": c.name,
                        "weight_change": delta,
                        "weight": w[k],
                        id_column: [ids[i] for i in base_order],
                        "base_rank": base_rank[base_order],
                        "rank": ranks[base_order],
                        "rank_shift": (ranks - base_rank)[base_order],
                        "score": scores[base_order],
                        "spearman_rho": spearman_rho(base_rank, ranks),
                    }
                )
            )
    # Within one perturbation rows follow the base ranking; sort by the new rank for reading.
    out = pd.concat(frames, ignore_index=True)
    out["_c"] = out["criterion"].map({c.name: i for i, c in enumerate(specs)})
    out = out.sort_values(["_c", "weight_change", "rank"], kind="stable").drop(columns="_c")
    return out.reset_index(drop=True)


class MonteCarloResult(NamedTuple):
    """Outcome of :func:`monte_carlo_weights`."""

    sites: pd.DataFrame
    """Per site: base rank, rank summary, P(top N), share of draws at each rank."""
    draws: pd.DataFrame
    """Per draw: the sampled weights (``weight_<name>``) and ``spearman_rho`` to the base ranking."""


def _rank_quantile(cum_share: np.ndarray, q: float) -> np.ndarray:
    """Smallest rank r with P(rank <= r) >= q, per site (rows of a cumulative share matrix)."""
    # A small tolerance keeps a share of exactly q (e.g. 0.5 from 500/1000) from being missed.
    return np.argmax(cum_share >= q - 1e-12, axis=1) + 1


def monte_carlo_weights(
    candidates: pd.DataFrame,
    criteria: Sequence[Criterion | Mapping[str, object]],
    *,
    n_draws: int = 1000,
    seed: int = 0,
    top_n: int = 3,
    concentration: float | None = None,
    weights: Mapping[str, float] | None = None,
    id_column: str = "site_id",
) -> MonteCarloResult:
    """Rank distribution of every site when the weights are drawn from a Dirichlet distribution.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Sites that passed the hard criteria.
    criteria : sequence of Criterion or mapping
        Criteria spec with the base weights.
    n_draws : int
        Number of weight vectors, >= 1 (default 1000).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same output.
    top_n : int
        N for the probability of being in the top N, >= 1 (default 3).
    concentration : float or None
        ``None`` (default): flat Dirichlet(1, ..., 1), every weight vector equally likely (SMAA,
        no preference information). A number ``κ > 0``: Dirichlet(κ·w), centred on the base
        weights ``w``; larger κ keeps draws closer to them. Criteria with base weight 0 keep
        weight 0 in the centred mode.
    weights : mapping of str to float, optional
        Base weights overriding the spec (e.g. ``ahp_weights(...).weights``); they set the
        base ranking and the centre of the centred mode.
    id_column : str
        Column with unique site ids.

    Returns
    -------
    MonteCarloResult
        ``sites``, sorted by base rank: ``id_column``, ``base_rank``, ``rank_mean``,
        ``rank_median``, ``rank_p05``, ``rank_p95``, ``rank_min``, ``rank_max``,
        ``p_top_n`` (share of draws in ranks 1..N, [0, 1]) and ``p_rank_1`` ... ``p_rank_<n>``
        (share of draws at each rank; each row and each such column sums to 1).
        ``draws``: ``draw`` (0-based), ``weight_<name>`` and ``spearman_rho``.

    Notes
    -----
    For each draw ``w ~ Dirichlet(α)`` (so ``Σ w = 1``), ``score = N w`` with ``N`` the
    normalized criteria (:func:`habitat.sites.ranking.normalize_criteria`, computed once; it
    does not depend on weights), ranks by :func:`habitat.sites.ranking.rank_order` (ties to the
    smaller id), and Spearman rho to the base ranking. Quantiles are of the discrete rank
    distribution: the smallest rank r with P(rank <= r) >= q. Memory is O(n_sites² + n_sites ·
    2048) whatever ``n_draws``.

    Examples
    --------
    >>> df = pd.DataFrame({"site_id": ["a", "b", "c"], "area_ha": [3.0, 2.0, 1.0],
    ...                    "threat": [0.0, 0.0, 1.0]})
    >>> spec = [{"name": "area_ha", "direction": "benefit", "weight": 1},
    ...         {"name": "threat", "direction": "cost", "weight": 1}]
    >>> res = monte_carlo_weights(df, spec, n_draws=200, seed=1, top_n=1)
    >>> res.sites[["site_id", "p_top_n", "rank_max"]].values.tolist()
    [['a', 1.0, 1], ['b', 0.0, 2], ['c', 0.0, 3]]
    """
    for name, value, low in (("n_draws", n_draws, 1), ("top_n", top_n, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InvalidParameterError(f"{name}={value!r}: give an integer >= {low}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidParameterError(f"seed={seed!r}: give an integer >= 0")
    specs, matrix, ids, base_w, base_rank = _prepare(candidates, criteria, id_column, weights)
    n_sites, n_crit = matrix.shape
    if concentration is None:
        alpha = np.ones(n_crit)
    else:
        if isinstance(concentration, bool) or not isinstance(concentration, (int, float)) \
                or not math.isfinite(concentration) or concentration <= 0:
            raise InvalidParameterError(
                f"concentration={concentration!r}: give a number > 0 (e.g. 50), or None for a flat Dirichlet"
            )
        alpha = float(concentration) * base_w
    active = alpha > 0
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_sites, n_sites), dtype=np.int64)
    rank_sum = np.zeros(n_sites)
    drawn = np.zeros((n_draws, n_crit))
    rho = np.empty(n_draws)
    site_index = np.arange(n_sites)[:, None]
    for start in range(0, n_draws, _BATCH_DRAWS):
        stop = min(start + _BATCH_DRAWS, n_draws)
        w = np.zeros((stop - start, n_crit))
        w[:, active] = rng.dirichlet(alpha[active], size=stop - start)
        drawn[start:stop] = w
        ranks = rank_order(matrix @ w.T, ids)
        np.add.at(counts, (np.broadcast_to(site_index, ranks.shape), ranks - 1), 1)
        rank_sum += ranks.sum(axis=1)
        rho[start:stop] = spearman_rho(base_rank, ranks)
    share = counts / n_draws
    cum_share = np.cumsum(share, axis=1)
    present = counts > 0
    top = min(top_n, n_sites)
    sites = pd.DataFrame(
        {
            id_column: ids,
            "base_rank": base_rank,
            "rank_mean": rank_sum / n_draws,
            "rank_median": _rank_quantile(cum_share, 0.5),
            "rank_p05": _rank_quantile(cum_share, 0.05),
            "rank_p95": _rank_quantile(cum_share, 0.95),
            "rank_min": np.argmax(present, axis=1) + 1,
            "rank_max": n_sites - np.argmax(present[:, ::-1], axis=1),
            "p_top_n": share[:, :top].sum(axis=1),
        }
    )
    by_rank = pd.DataFrame(share, columns=[f"p_rank_{r + 1}" for r in range(n_sites)])
    sites = pd.concat([sites, by_rank], axis=1)
    sites = sites.sort_values("base_rank", kind="stable").reset_index(drop=True)
    draws = pd.DataFrame(drawn, columns=[f"weight_{c.name}" for c in specs])
    draws.insert(0, "draw", np.arange(n_draws))
    draws["spearman_rho"] = rho
    return MonteCarloResult(sites=sites, draws=draws)
