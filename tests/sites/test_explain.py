"""Tests for habitat.sites.explain: the paragraph states the hand-derived numbers."""

import pandas as pd
import pytest

from habitat.errors import InvalidParameterError
from habitat.sites.explain import criterion_label, explain_site, explain_top_sites
from habitat.sites.ranking import Criterion, score_sites

SPEC = [
    {"name": "usable_area_ha", "direction": "benefit", "weight": 3},
    {"name": "threat_degradation_mean", "direction": "cost", "weight": 1, "label": "threat exposure"},
]


def _ranked() -> pd.DataFrame:
    # norm area (0, .5, .25, 1), threat (1, .75, 0, .5); w (.75, .25); scores .25, .5625, .1875, .875
    df = pd.DataFrame({
        "site_id": ["A", "B", "C", "D"],
        "name": ["Amu", "Bukhara", "Chardara", "Dargan"],
        "usable_area_ha": [2000.0, 4000.0, 3000.0, 6000.0],
        "threat_degradation_mean": [0.1, 0.2, 0.5, 0.3],
    })
    return score_sites(df, SPEC)


MC = pd.DataFrame({
    "site_id": ["D", "B", "A", "C"],
    "p_rank_1": [0.9, 0.1, 0.0, 0.0], "p_rank_2": [0.1, 0.6, 0.3, 0.0],
    "p_rank_3": [0.0, 0.3, 0.5, 0.2], "p_rank_4": [0.0, 0.0, 0.2, 0.8],
    "rank_p05": [1, 1, 2, 3], "rank_p95": [2, 3, 4, 4],
})
PARETO = pd.DataFrame({"site_id": ["A", "B", "C", "D"], "dominated_by": ["", "D", "A; D", ""]})


def test_criterion_label():
    assert criterion_label(Criterion("usable_area_ha", "benefit", 1)) == ("usable area", "ha")
    assert criterion_label(Criterion("mean_quality", "benefit", 1)) == ("mean quality", "")
    assert criterion_label(Criterion("x_m", "cost", 1, label="distance", units="km")) == ("distance", "km")


def test_top_sites_paragraphs():
    out = explain_top_sites(_ranked(), SPEC, top_n=3, monte_carlo=MC, pareto=PARETO, name_column="name")
    assert out["site_id"].tolist() == ["D", "B", "A"]
    assert out["rank"].tolist() == [1, 2, 3]
    d, b, a = out["explanation"].tolist()
    assert d == (
        "Site D (Dargan) ranks 1 of 4 with a score of 0.88 out of 1. "
        "Its score comes mainly from usable area (6,000 ha, best of 4; 0.75 points) and "
        "threat exposure (0.3, 3rd best of 4; 0.12 points). "
        "It leads site B (rank 2) by 0.312 points, mostly through usable area (+0.375). "
        "No criterion holds it back much: it is in the better half of the candidates' range on every "
        "weighted criterion. "
        "With randomly drawn weights it stays in the top 3 in 100 % of draws (ranks 1 to 2 in 90 % of them). "
        "No other site beats it on all trade-off objectives at once."
    )
    assert b == (
        "Site B (Bukhara) ranks 2 of 4 with a score of 0.56 out of 1. "
        "Its score comes mainly from usable area (4,000 ha, 2nd best of 4; 0.38 points) and "
        "threat exposure (0.2, 2nd best of 4; 0.19 points). "
        "It trails site D (rank 1) by 0.312 points, mostly on usable area (0.375 behind). "
        "No criterion holds it back much: it is in the better half of the candidates' range on every "
        "weighted criterion. "
        "With randomly drawn weights it stays in the top 3 in 100 % of draws (ranks 1 to 3 in 90 % of them). "
        "On the trade-off objectives it is Pareto-dominated by site D: at least as good on every objective "
        "and better on one."
    )
    assert a == (
        "Site A (Amu) ranks 3 of 4 with a score of 0.25 out of 1. "
        "Its score comes mainly from threat exposure (0.1, best of 4; 0.25 points). "
        "It trails site B (rank 2) by 0.312 points, mostly on usable area (0.375 behind). "
        "What holds it back: usable area (2,000 ha, worst of 4; 0.00 of a possible 0.75 points). "
        "With randomly drawn weights it stays in the top 3 in 80 % of draws (ranks 2 to 4 in 90 % of them). "
        "No other site beats it on all trade-off objectives at once."
    )


def test_robustness_sentence_with_fewer_sites_than_top_n():
    # two sites, top_n = 3: "top 3 in 100 % of draws" would be true of any site, so the sentence
    # gives the share of draws at rank 1 instead
    two = _ranked().sort_values("rank").head(2).copy()
    mc = pd.DataFrame({"site_id": two["site_id"].tolist(), "p_rank_1": [0.7, 0.3], "p_rank_2": [0.3, 0.7],
                       "rank_p05": [1, 1], "rank_p95": [2, 2]})
    out = explain_top_sites(two, SPEC, top_n=3, monte_carlo=mc)
    first, second = out["explanation"].tolist()
    assert "in the top 3 in" not in first + second
    assert first.endswith("With randomly drawn weights it ranks first in 70 % of draws (ranks 1 to 2 in 90 % of "
                          "them; with only 2 ranked sites every site is in the top 3).")
    assert "ranks first in 30 % of draws" in second


def test_ties_and_joint_positions():
    df = pd.DataFrame({"site_id": ["b", "a"], "area_ha": [1.0, 2.0], "threat": [0.0, 1.0]})
    spec = [{"name": "area_ha", "direction": "benefit", "weight": 1},
            {"name": "threat", "direction": "cost", "weight": 1}]
    text = explain_site(score_sites(df, spec), "a", spec)
    assert text == (
        "Site a ranks 1 of 2 with a score of 0.50 out of 1. "
        "Its score comes mainly from area (2 ha, best of 2; 0.50 points). "
        "It ties with site b (rank 2) and is listed first by id. "
        "What holds it back: threat (1, worst of 2; 0.00 of a possible 0.50 points)."
    )
    same = pd.DataFrame({"site_id": ["x", "y"], "q": [1.0, 1.0]})
    one = [{"name": "q", "direction": "benefit", "weight": 1}]
    assert "(1, joint best of 2; 1.00 points)" in explain_site(score_sites(same, one), "y", one)


def test_bad_input_raises():
    with pytest.raises(InvalidParameterError, match="site_id='Z'"):
        explain_site(_ranked(), "Z", SPEC)
    with pytest.raises(InvalidParameterError, match="score_sites"):
        explain_site(_ranked().drop(columns="contrib_usable_area_ha"), "A", SPEC)
    with pytest.raises(InvalidParameterError, match="monte_carlo"):
        explain_site(_ranked(), "A", SPEC, monte_carlo=MC.drop(columns="rank_p05"))
    with pytest.raises(InvalidParameterError, match="top_n"):
        explain_top_sites(_ranked(), SPEC, top_n=0)


def test_russian_paragraph_says_the_same_as_the_english_one():
    from habitat.sites.ranking import score_sites

    df = pd.DataFrame({"site_id": ["a", "b", "c"], "capacity_deer": [900.0, 300.0, 600.0],
                       "mean_water_distance_m": [500.0, 100.0, 900.0]})
    spec = [{"name": "capacity_deer", "direction": "benefit", "weight": 2, "label": "capacity", "units": "deer"},
            {"name": "mean_water_distance_m", "direction": "cost", "weight": 1}]
    ranked = score_sites(df, spec)
    # b: capacity 300 is the worst (norm 0), water 100 m the best (norm 1, 1/3 of the weight)
    assert explain_site(ranked, "b", spec, language="ru") == (
        "Участок b занимает 2-е место из 3 с баллом 0.33 из 1. Балл складывается в основном из критериев: "
        "среднее расстояние до воды (100 м, лучший из 3; 0.33 балла). Отстаёт от участка a (место 1) на 0.500 "
        "балла, больше всего по критерию «ёмкость» (на 0.667 меньше). Что снижает балл: ёмкость (300 оленей, "
        "худший из 3; 0.00 из возможных 0.67 балла).")
    assert explain_site(ranked, "b", spec) == (
        "Site b ranks 2 of 3 with a score of 0.33 out of 1. Its score comes mainly from mean water distance "
        "(100 m, best of 3; 0.33 points). It trails site a (rank 1) by 0.500 points, mostly on capacity "
        "(0.667 behind). What holds it back: capacity (300 deer, worst of 3; 0.00 of a possible 0.67 points).")
    top = explain_top_sites(ranked, spec, top_n=3, language="ru")
    assert top["explanation"].str.startswith("Участок").all()
    assert "Делит место с участком b (место 2)" in top["explanation"].iloc[2]
    with pytest.raises(InvalidParameterError, match="language"):
        explain_site(ranked, "b", spec, language="fr")
