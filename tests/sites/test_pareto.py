"""Hand-checked tests for habitat.sites.pareto."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.sites.pareto import pareto_dominance

OBJECTIVES = {"capacity_x_quality": "benefit", "effective_resistance": "cost", "threat": "cost"}


def _sites() -> pd.DataFrame:
    return pd.DataFrame({
        "site_id": ["A", "B", "C", "D", "E", "F", "G"],
        "capacity_x_quality": [100.0, 80.0, 120.0, 100.0, 90.0, 60.0, 70.0],
        "effective_resistance": [10.0, 12.0, 20.0, 10.0, 25.0, 5.0, 13.0],
        "threat": [0.1, 0.2, 0.1, 0.1, 0.3, 0.05, 0.25],
    })


def test_hand_checked_dominance():
    res = pareto_dominance(_sites(), OBJECTIVES)
    # A and D are identical (neither dominates the other); C has the most capacity, F the least
    # resistance and threat. B <- A, D. E <- A, C, D. G <- A, B, D (B is itself dominated).
    assert res["site_id"].tolist() == ["A", "B", "C", "D", "E", "F", "G"]
    assert_array_equal(res["pareto_dominated"].to_numpy(), [False, True, False, False, True, False, True])
    assert_array_equal(res["n_dominated_by"].to_numpy(), [0, 2, 0, 0, 3, 0, 3])
    assert res["dominated_by"].tolist() == ["", "A; D", "", "", "A; C; D", "", "A; B; D"]
    assert_array_equal(res["pareto_front"].to_numpy(), [1, 2, 1, 1, 2, 1, 3])


def test_direction_matters():
    df = pd.DataFrame({"site_id": ["x", "y"], "a": [1.0, 2.0], "b": [1.0, 2.0]})
    both_benefit = pareto_dominance(df, {"a": "benefit", "b": "benefit"})
    assert both_benefit["dominated_by"].tolist() == ["y", ""]
    both_cost = pareto_dominance(df, {"a": "cost", "b": "cost"})
    assert both_cost["dominated_by"].tolist() == ["", "x"]
    mixed = pareto_dominance(df, {"a": "benefit", "b": "cost"})
    assert_array_equal(mixed["pareto_dominated"].to_numpy(), [False, False])
    assert_array_equal(mixed["pareto_front"].to_numpy(), [1, 1])


def test_blocks_give_the_same_answer(monkeypatch):
    import habitat.sites.pareto as pareto

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"site_id": np.arange(40), "capacity_x_quality": rng.integers(0, 6, 40),
                       "effective_resistance": rng.integers(0, 6, 40), "threat": rng.integers(0, 6, 40)})
    whole = pareto_dominance(df, OBJECTIVES)
    monkeypatch.setattr(pareto, "_BLOCK_ROWS", 3)
    pd.testing.assert_frame_equal(whole, pareto_dominance(df, OBJECTIVES))
    # brute force definition
    y = df[list(OBJECTIVES)].to_numpy() * np.array([1, -1, -1])
    dominated = [any(np.all(y[j] >= y[i]) and np.any(y[j] > y[i]) for j in range(40)) for i in range(40)]
    assert_array_equal(whole["pareto_dominated"].to_numpy(), dominated)


def test_bad_input_raises():
    with pytest.raises(InvalidParameterError, match="direction 'max'"):
        pareto_dominance(_sites(), {"threat": "max"})
    with pytest.raises(InvalidParameterError, match="objectives"):
        pareto_dominance(_sites(), {})
    with pytest.raises(InvalidParameterError, match="'capacity'"):
        pareto_dominance(_sites(), {"capacity": "benefit"})
    with pytest.raises(InvalidParameterError, match="missing or infinite"):
        pareto_dominance(_sites().assign(threat=np.nan), OBJECTIVES)
