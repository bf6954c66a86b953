"""Population status: census growth rate, density against capacity, overstocking."""

import math

import numpy as np
import pandas as pd
import pytest

from habitat.errors import InvalidParameterError
from habitat.indicators.population import census_trend, growth_rate, population_status


def test_growth_rate_two_counts_is_the_annual_rate():
    # same form as the annual-rate example of METHODS.md 4: 100 -> 90 over 10 years
    assert growth_rate([2010, 2020], [100, 90]) == pytest.approx(-0.010536051565782628, rel=1e-12)


def test_growth_rate_least_squares_by_hand():
    # ln N = 0, ln 2 (approx), 2 ln 2 at t = 0, 1, 2 with the middle count off the line:
    # slope = sum dt (y - ybar) / sum dt^2 = (2 ln 2 - 0) / 2 = ln 2 whatever the middle value
    assert growth_rate([0, 1, 2], [1, 3, 4]) == pytest.approx(math.log(2), rel=1e-12)
    # order does not matter; zero counts are left out; a single usable year gives NaN
    assert growth_rate([2, 0, 1, 3], [4, 1, 3, 0]) == pytest.approx(math.log(2), rel=1e-12)
    assert math.isnan(growth_rate([2000, 2000], [5, 7]))
    assert math.isnan(growth_rate([2000, 2001], [0, 7]))


def test_growth_rate_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="same length"):
        growth_rate([2000, 2001], [1])
    with pytest.raises(InvalidParameterError, match="counts"):
        growth_rate([2000, 2001], [1, -1])


def test_census_trend_per_site():
    census = pd.DataFrame({"site_id": ["B", "A", "A", "B", "A"], "year": [2010, 2020, 2000, 2000, 2010],
                           "count": [30, 40, 10, 60, 20]})
    trend = census_trend(census)
    assert trend["site_id"].tolist() == ["A", "B"]
    assert trend[["n_counts", "first_year", "last_year"]].values.tolist() == [[3, 2000, 2020], [2, 2000, 2010]]
    np.testing.assert_allclose(trend["first_count"], [10, 60])
    np.testing.assert_allclose(trend["last_count"], [40, 30])
    np.testing.assert_allclose(trend["growth_rate_per_yr"], [math.log(4) / 20, math.log(0.5) / 10], rtol=1e-12)
    np.testing.assert_allclose(trend["lambda_per_yr"], [4 ** (1 / 20), 0.5 ** (1 / 10)], rtol=1e-12)
    with pytest.raises(InvalidParameterError, match="count"):
        census_trend(census.drop(columns="count"))


def test_population_status_by_hand():
    # LABR-like: 1,392 deer on 5,800 ha of tugai = 24 deer/km2 (DOMAIN.md 3.2); two sites share
    # patch 2; site D lies in no patch.
    sites = pd.DataFrame({
        "site_id": ["A", "B", "C", "D"], "count": [1392, 30, 20, 7], "count_year": [2019, 2020, 2020, 2020],
        "patch_id": [1, 2, 2, np.nan], "patch_area_ha": [5800.0, 1000.0, 1000.0, np.nan],
        "capacity_deer": [290.0, 50.0, 50.0, np.nan],
    })
    status = population_status(sites, overstocked_density_per_km2=10)
    np.testing.assert_allclose(status["patch_count"], [1392, 50, 50, np.nan])
    np.testing.assert_allclose(status["density_per_km2"], [24.0, 5.0, 5.0, np.nan])
    np.testing.assert_allclose(status["sustainable_density_per_km2"], [5.0, 5.0, 5.0, np.nan])
    np.testing.assert_allclose(status["stocking_ratio"], [1392 / 290, 1.0, 1.0, np.nan])
    np.testing.assert_allclose(status["surplus_deer"], [1102, 0, 0, np.nan])
    assert status["overstocked"].tolist() == [True, False, False, False]
    assert status["translocation_source"].tolist() == [True, False, False, False]
    # the threshold is strict: exactly at it is not overstocked
    assert population_status(sites, overstocked_density_per_km2=24)["overstocked"].tolist() == [False] * 4
    assert population_status(sites, overstocked_density_per_km2=4.9)["overstocked"].tolist() == [True, True, True, False]


def test_population_status_rejects_bad_threshold():
    sites = pd.DataFrame({"site_id": ["A"], "count": [1], "count_year": [2020], "patch_id": [1],
                          "patch_area_ha": [1.0], "capacity_deer": [1.0]})
    for bad in (0, -1, float("nan")):
        with pytest.raises(InvalidParameterError, match="overstocked_density_per_km2"):
            population_status(sites, overstocked_density_per_km2=bad)
