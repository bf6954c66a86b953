"""habitat.suitability.compose: the per-cell suitability formula on tiny blocks, answers by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from habitat.suitability.compose import compose_suitability, degradation_quality, output_names, terrain_membership

NAN = np.nan
# 2 x 3 block: code 0 = nodata, 1 = tugai forest, 2 = shrub, 7 = built (excluded)
CLASSES = np.array([[1, 2, 0], [7, 1, 2]], dtype=np.uint8)
SENSITIVITY = pd.DataFrame({"lucode": [1, 2, 7], "habitat": [1.0, 0.5, 0.0], "roads": [1.0, 0.4, 0.0]})
THREATS = pd.DataFrame({"threat": ["roads"], "max_dist_m": [1000.0], "weight": [1.0], "decay": ["linear"]})
CRITERIA = {"habitat_class": ("class_scores", {1: 1.0, 2: 0.6, 7: 0.0}),
            "water_distance_m": ("linear", {"minimum": 1000.0, "maximum": 0.0})}
WATER = np.array([[0.0, 500.0, 0.0], [250.0, 2000.0, 750.0]], dtype=np.float32)


def _compose(**kwargs):
    args = dict(criteria=CRITERIA, values={"water_distance_m": WATER}, threat_distances_m={},
                threat_table=THREATS.iloc[:0], sensitivity=SENSITIVITY, half_saturation=0.5,
                weights={"habitat_class": 0.75, "water_distance_m": 0.25}, excluded_codes=(7,))
    args.update(kwargs)
    return compose_suitability(CLASSES, **args)


def test_weighted_linear_without_threats_by_hand():
    out = _compose()
    assert list(out) == ["suitability", "degradation", "quality", "membership_habitat_class",
                         "membership_water_distance_m"]
    water_mu = [[1.0, 0.5, NAN], [0.75, 0.0, 0.25]]
    class_mu = [[1.0, 0.6, NAN], [0.0, 1.0, 0.6]]
    np.testing.assert_array_equal(out["membership_water_distance_m"], np.float32(water_mu))
    np.testing.assert_array_equal(out["membership_habitat_class"], np.float32(class_mu))
    # S = 0.75 class + 0.25 water; built (7) excluded -> 0
    expected = [[1.0, 0.75 * 0.6 + 0.125, NAN], [0.0, 0.75, 0.75 * 0.6 + 0.0625]]
    np.testing.assert_allclose(out["suitability"], np.float32(expected), rtol=1e-7)
    # no threats: D = 0, Q = H of the class
    np.testing.assert_array_equal(out["degradation"], np.float32([[0, 0, NAN], [0, 0, 0]]))
    np.testing.assert_array_equal(out["quality"], np.float32([[1.0, 0.5, NAN], [0.0, 1.0, 0.5]]))
    assert all(a.dtype == np.float32 and a.shape == CLASSES.shape for a in out.values())


def test_threat_degradation_and_quality_criterion_by_hand():
    roads = np.array([[0.0, 500.0, 0.0], [0.0, 1500.0, 750.0]], dtype=np.float32)
    criteria = {**CRITERIA, "quality": ("linear", {"minimum": 0.0, "maximum": 1.0})}
    out = _compose(criteria=criteria, threat_distances_m={"roads": roads}, threat_table=THREATS,
                   weights={"habitat_class": 0.5, "water_distance_m": 0.25, "quality": 0.25})
    # linear decay 1 - d / 1000 (0 beyond), times the class sensitivity; one threat of weight 1
    d = np.array([[1.0 * 1.0, 0.5 * 0.4, NAN], [0.0, 0.0, 0.25 * 0.4]])
    np.testing.assert_allclose(out["degradation"], d.astype(np.float32), rtol=1e-7)
    h = np.array([[1.0, 0.5, NAN], [0.0, 1.0, 0.5]])
    q = h * (1 - d**2.5 / (d**2.5 + 0.5**2.5))
    np.testing.assert_allclose(out["quality"], q.astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(out["membership_quality"], out["quality"])
    s = 0.5 * np.array([[1.0, 0.6, NAN], [0.0, 1.0, 0.6]]) + 0.25 * np.array([[1.0, 0.5, NAN], [0.75, 0.0, 0.25]]) \
        + 0.25 * q
    s[1, 0] = 0.0  # built
    np.testing.assert_allclose(out["suitability"], s.astype(np.float32), rtol=1e-6)


def test_riparian_floodplain_terrain_by_hand():
    share = np.array([[0.0, 1.0, 0.0], [1.0, 0.5, 0.9]])
    cap = np.ones(256)
    cap[2] = 0.5  # shrub cells use at most half of their strip
    floodplain = np.array([[1, 1, 1], [1, 1, 0]], dtype=np.uint8)
    slope = np.array([[0.0, 6.0, 0.0], [0.0, NAN, 2.0]], dtype=np.float32)
    out = _compose(riparian_share=share, riparian_tugai_score=0.9, riparian_cap_by_code=cap, floodplain=floodplain,
                   terrain=[("slope_deg", slope, 2.0, 10.0)])
    assert list(out)[-1] == "membership_terrain"
    # slope membership 1 up to 2 deg, 0 at 10 deg; NaN (outside the DEM) -> 1
    np.testing.assert_array_equal(out["membership_terrain"], np.float32([[1.0, 0.5, NAN], [1.0, 1.0, 1.0]]))
    base = np.array([[1.0, 0.575, NAN], [0.0, 0.75, 0.5125]])
    strip = np.array([[0.0, 0.5 * 0.9, 0.0], [0.9, 0.5 * 0.9, 0.5 * 0.9]])
    s = np.maximum(base, strip)  # max(S, min(share, cap) * 0.9)
    s[1, 0] = 0.0  # built: excluded after the strip
    s[1, 2] = 0.0  # outside the floodplain
    s[0, 1] *= 0.5  # terrain
    np.testing.assert_allclose(out["suitability"], s.astype(np.float32), rtol=1e-7)


def test_writes_into_out_and_checks_its_shape():
    names = output_names(list(CRITERIA), terrain=False)
    out = np.full((len(names), *CLASSES.shape), 7.0, dtype=np.float32)
    result = _compose(out=out)
    assert all(np.shares_memory(result[n], out) for n in names)
    np.testing.assert_array_equal(out[0], result["suitability"])
    with pytest.raises(ValueError, match="out: needs float32"):
        _compose(out=np.empty((2, 2, 3), np.float32))


def test_missing_values_named():
    with pytest.raises(KeyError, match="water_distance_m"):
        _compose(values={})


def test_degradation_quality_without_threats_is_habitat_score():
    d, q = degradation_quality(CLASSES, {}, THREATS.iloc[:0], SENSITIVITY, 0.5)
    np.testing.assert_array_equal(d, [[0, 0, NAN], [0, 0, 0]])
    np.testing.assert_array_equal(q, [[1.0, 0.5, NAN], [0.0, 1.0, 0.5]])


def test_terrain_membership_by_hand():
    np.testing.assert_array_equal(terrain_membership("altitude_m", np.array([500.0, 1250.0, 2000.0, NAN]),
                                                     full=1000.0, zero=1500.0), [1.0, 0.5, 0.0, 1.0])


def test_float32_criteria_give_the_same_bits_as_widened_ones():
    """linear and exponential_decay take float32 values as they are (widened cell by cell):
    every output equals the one from the float64 copies."""
    import pandas as pd

    from habitat.suitability.compose import compose_suitability

    rng = np.random.default_rng(5)
    classes = rng.integers(0, 4, (9, 11)).astype(np.uint8)
    cover = rng.random((9, 11)).astype(np.float32)
    water = (rng.random((9, 11)) * 3000).astype(np.float32)
    water[0, 0] = np.nan
    criteria = {"habitat_class": ("class_scores", {1: 1.0, 2: 0.5, 3: 0.2}),
                "tugai_cover": ("linear", {"minimum": 0.1, "maximum": 0.6}),
                "water_distance_m": ("exponential_decay", {"scale_m": 700.0})}
    common = dict(criteria=criteria, threat_distances_m={}, threat_table=pd.DataFrame(),
                  sensitivity=pd.DataFrame({"lucode": [1, 2, 3], "habitat": [1.0, 0.8, 0.1]}), half_saturation=0.5,
                  weights={"habitat_class": 0.5, "tugai_cover": 0.3, "water_distance_m": 0.2})
    narrow = compose_suitability(classes, values={"tugai_cover": cover, "water_distance_m": water}, **common)
    wide = compose_suitability(classes, values={"tugai_cover": cover.astype(np.float64),
                                                "water_distance_m": water.astype(np.float64)}, **common)
    assert list(narrow) == list(wide)
    for name in narrow:
        np.testing.assert_array_equal(narrow[name], wide[name])


def test_row_strips_give_the_same_bits_as_one_pass(monkeypatch):
    """compose_suitability works through row strips of STRIP_CELLS cells: strips of one row
    give every output bit for bit as one strip over the whole block."""
    from habitat.suitability import compose

    rng = np.random.default_rng(11)
    classes = rng.choice(np.array([0, 1, 2, 7], dtype=np.uint8), size=(13, 10))
    roads = (rng.random(classes.shape) * 1500).astype(np.float32)
    settlements = (rng.random(classes.shape) * 2500).astype(np.float32)
    cover = rng.random((13, 10))[::-1]  # a strided view, as a neighbourhood mean without its halo
    threats = pd.DataFrame({"threat": ["settlements", "roads"], "max_dist_m": [2000.0, 1000.0],
                            "weight": [1.0, 0.6], "decay": ["exponential", "linear"]})
    sensitivity = SENSITIVITY.assign(settlements=[1.0, 0.7, 0.0])
    criteria = {**CRITERIA, "tugai_cover": ("linear", {"minimum": 0.0, "maximum": 0.5}),
                "quality": ("linear", {"minimum": 0.0, "maximum": 1.0})}
    args = dict(criteria=criteria, values={"water_distance_m": np.tile(WATER, (7, 4))[:13, :10], "tugai_cover": cover},
                threat_distances_m={"settlements": settlements, "roads": roads}, threat_table=threats,
                sensitivity=sensitivity, half_saturation=0.5, floodplain=rng.integers(0, 2, classes.shape),
                weights={"habitat_class": 0.4, "water_distance_m": 0.2, "tugai_cover": 0.2, "quality": 0.2},
                excluded_codes=(7,))
    whole = compose_suitability(classes, **args)
    monkeypatch.setattr(compose, "STRIP_CELLS", 1)
    strips = compose_suitability(classes, **args)
    assert np.isnan(whole["suitability"]).any() and (whole["degradation"] == 0).any()
    for name in whole:
        np.testing.assert_array_equal(strips[name], whole[name])
