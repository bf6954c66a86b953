"""Known-answer tests for habitat.sites.sensitivity."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from habitat.errors import InvalidParameterError
from habitat.sites.ranking import score_sites
from habitat.sites.sensitivity import monte_carlo_weights, one_at_a_time, spearman_rho

# Two sites that trade off exactly: a is best on threat, b on area.
TRADE = pd.DataFrame({"site_id": ["a", "b"], "area_ha": [1.0, 2.0], "threat": [0.0, 1.0]})
EQUAL = [{"name": "area_ha", "direction": "benefit", "weight": 1},
         {"name": "threat", "direction": "cost", "weight": 1}]


def _sites() -> pd.DataFrame:
    return pd.DataFrame({
        "site_id": ["A", "B", "C", "D", "E"],
        "usable_area_ha": [2000.0, 4000.0, 3000.0, 6000.0, 2500.0],
        "mean_quality": [0.9, 0.6, 0.7, 0.5, 0.8],
        "lcd_to_source_m": [30e3, 10e3, 20e3, 60e3, 15e3],
    })


SPEC = [{"name": "usable_area_ha", "direction": "benefit", "weight": 0.4},
        {"name": "mean_quality", "direction": "benefit", "weight": 0.35},
        {"name": "lcd_to_source_m", "direction": "cost", "weight": 0.25}]


def test_spearman_matches_scipy():
    rng = np.random.default_rng(0)
    base = rng.permutation(7) + 1
    others = np.column_stack([rng.permutation(7) + 1 for _ in range(5)])
    expected = [stats.spearmanr(base, others[:, j]).statistic for j in range(5)]
    assert_allclose(spearman_rho(base, others), expected, rtol=1e-12)
    assert spearman_rho(np.array([1, 2, 3]), np.array([1, 2, 3])) == 1.0
    assert np.isnan(spearman_rho(np.array([1]), np.array([1])))


def test_one_at_a_time_by_hand():
    oat = one_at_a_time(TRADE, EQUAL)
    # base: a (0 + 0.5) ties b (0.5 + 0) -> a first by id. Weight of k times 1.2 or 0.8, renormalized:
    # area -0.2: w = (4/9, 5/9): a 5/9, b 4/9 | area +0.2: w = (6/11, 5/11): b 6/11, a 5/11
    # threat -0.2: w = (5/9, 4/9): b 5/9, a 4/9 | threat +0.2: w = (5/11, 6/11): a 6/11, b 5/11
    expected = pd.DataFrame({
        "criterion": ["area_ha"] * 4 + ["threat"] * 4,
        "weight_change": [-0.2, -0.2, 0.2, 0.2] * 2,
        "weight": [4 / 9, 4 / 9, 6 / 11, 6 / 11, 4 / 9, 4 / 9, 6 / 11, 6 / 11],
        "site_id": ["a", "b", "b", "a", "b", "a", "a", "b"],
        "base_rank": [1, 2, 2, 1, 2, 1, 1, 2],
        "rank": [1, 2, 1, 2, 1, 2, 1, 2],
        "rank_shift": [0, 0, -1, 1, -1, 1, 0, 0],
        "score": [5 / 9, 4 / 9, 6 / 11, 5 / 11, 5 / 9, 4 / 9, 6 / 11, 5 / 11],
        "spearman_rho": [1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0],
    })
    pd.testing.assert_frame_equal(oat, expected, check_dtype=False, atol=1e-12)


def test_one_at_a_time_matches_score_sites():
    oat = one_at_a_time(_sites(), SPEC, change_fraction=0.5)
    w = {"usable_area_ha": 0.4 * 1.5, "mean_quality": 0.35, "lcd_to_source_m": 0.25}
    ref = score_sites(_sites(), SPEC, weights=w)
    got = oat[(oat["criterion"] == "usable_area_ha") & (oat["weight_change"] == 0.5)]
    assert got["site_id"].tolist() == ref["site_id"].tolist()
    assert_allclose(got["score"].to_numpy(), ref["score"].to_numpy(), rtol=1e-12)
    assert_allclose(got["weight"].to_numpy(), np.full(5, 0.6 / 1.2))
    assert len(oat) == 3 * 2 * 5


def test_monte_carlo_same_seed_same_output():
    one = monte_carlo_weights(_sites(), SPEC, n_draws=300, seed=7, top_n=2)
    two = monte_carlo_weights(_sites(), SPEC, n_draws=300, seed=7, top_n=2)
    pd.testing.assert_frame_equal(one.sites, two.sites)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    other = monte_carlo_weights(_sites(), SPEC, n_draws=300, seed=8, top_n=2)
    assert not np.array_equal(one.draws["weight_mean_quality"], other.draws["weight_mean_quality"])


def test_monte_carlo_batches_do_not_change_results(monkeypatch):
    import habitat.sites.sensitivity as sens

    whole = monte_carlo_weights(_sites(), SPEC, n_draws=50, seed=3)
    monkeypatch.setattr(sens, "_BATCH_DRAWS", 7)
    batched = monte_carlo_weights(_sites(), SPEC, n_draws=50, seed=3)
    pd.testing.assert_frame_equal(whole.sites, batched.sites)
    pd.testing.assert_frame_equal(whole.draws, batched.draws)


def test_monte_carlo_two_site_trade_off():
    # a wins exactly when w_area < 1/2; rho is +1 then, -1 otherwise (base ranking a, b).
    res = monte_carlo_weights(TRADE, EQUAL, n_draws=4000, seed=11, top_n=1)
    w_area = res.draws["weight_area_ha"].to_numpy()
    assert_allclose(w_area + res.draws["weight_threat"].to_numpy(), np.ones(4000), rtol=1e-12)
    a_wins = w_area < 0.5
    assert_array_equal(res.draws["spearman_rho"].to_numpy(), np.where(a_wins, 1.0, -1.0))
    sites = res.sites.set_index("site_id")
    assert_allclose(sites.loc["a", "p_top_n"], a_wins.mean(), rtol=1e-12)
    assert_allclose(sites[["p_rank_1", "p_rank_2"]].to_numpy(),
                    [[a_wins.mean(), 1 - a_wins.mean()], [1 - a_wins.mean(), a_wins.mean()]])
    # flat Dirichlet(1, 1): w_area ~ U(0, 1), so P(a wins) = 1/2 (4 sd = 0.032)
    assert abs(a_wins.mean() - 0.5) < 0.032
    assert_allclose(sites["rank_mean"].to_numpy(), [2 - a_wins.mean(), 1 + a_wins.mean()])


def test_monte_carlo_centred_dirichlet_matches_beta():
    spec = [dict(EQUAL[0], weight=3), dict(EQUAL[1], weight=1)]
    res = monte_carlo_weights(TRADE, spec, n_draws=4000, seed=5, top_n=1, concentration=20)
    # w_area ~ Beta(15, 5); a wins when w_area < 1/2
    expected = stats.beta.cdf(0.5, 15, 5)
    p_a = res.sites.set_index("site_id").loc["a", "p_top_n"]
    assert abs(p_a - expected) < 4 * np.sqrt(expected * (1 - expected) / 4000) + 1e-3
    assert_allclose(res.draws["weight_area_ha"].mean(), 0.75, atol=0.01)


def test_monte_carlo_rank_distribution_consistency():
    res = monte_carlo_weights(_sites(), SPEC, n_draws=500, seed=2, top_n=2)
    s = res.sites
    share = s[[f"p_rank_{r}" for r in range(1, 6)]].to_numpy()
    assert_allclose(share.sum(axis=1), np.ones(5))
    assert_allclose(share.sum(axis=0), np.ones(5))
    assert_allclose(s["p_top_n"].to_numpy(), share[:, :2].sum(axis=1))
    assert_allclose(s["rank_mean"].to_numpy(), share @ np.arange(1, 6))
    assert np.all(s["rank_min"] <= s["rank_p05"]) and np.all(s["rank_p05"] <= s["rank_median"])
    assert np.all(s["rank_median"] <= s["rank_p95"]) and np.all(s["rank_p95"] <= s["rank_max"])
    assert_array_equal(s["base_rank"].to_numpy(), np.arange(1, 6))
    assert s["site_id"].tolist() == score_sites(_sites(), SPEC)["site_id"].tolist()


def test_dominant_site_always_first():
    df = _sites().assign(usable_area_ha=[9000.0, 4000.0, 3000.0, 6000.0, 2500.0],
                         lcd_to_source_m=[5e3, 10e3, 20e3, 60e3, 15e3])
    res = monte_carlo_weights(df, SPEC, n_draws=200, seed=0, top_n=1)
    a = res.sites.iloc[0]
    assert a["site_id"] == "A" and a["p_top_n"] == 1.0 and a["rank_max"] == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_draws": 0}, "n_draws"), ({"top_n": 0}, "top_n"), ({"seed": -1}, "seed"),
     ({"concentration": 0}, "concentration"), ({"n_draws": 10.5}, "n_draws")],
)
def test_monte_carlo_bad_arguments(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        monte_carlo_weights(_sites(), SPEC, **kwargs)


def test_one_at_a_time_bad_fraction():
    with pytest.raises(InvalidParameterError, match="change_fraction"):
        one_at_a_time(_sites(), SPEC, change_fraction=1.5)


def test_weights_override_equals_spec_weights():
    w = {"usable_area_ha": 0.1, "mean_quality": 0.2, "lcd_to_source_m": 0.7}
    spec = [dict(c, weight=w[c["name"]]) for c in SPEC]
    pd.testing.assert_frame_equal(one_at_a_time(_sites(), SPEC, weights=w), one_at_a_time(_sites(), spec))
    got = monte_carlo_weights(_sites(), SPEC, weights=w, n_draws=100, seed=4, concentration=30)
    ref = monte_carlo_weights(_sites(), spec, n_draws=100, seed=4, concentration=30)
    pd.testing.assert_frame_equal(got.sites, ref.sites)
    pd.testing.assert_frame_equal(got.draws, ref.draws)
