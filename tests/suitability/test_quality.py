"""Threat degradation, habitat quality and rarity on hand-computed grids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from numpy.testing import assert_allclose

from habitat.errors import CrosswalkError, GridMismatchError, HabitatError, InvalidParameterError
from habitat.suitability.quality import (
    degradation_halo_cells,
    habitat_quality,
    habitat_rarity,
    threat_decay,
    threat_degradation,
    threat_distance,
)

NODATA = 255


def grid(values, cell_m=10.0, x0=0.0, y0=0.0):
    """DataArray with cell-centre coords, y decreasing (north-up) as on a GeoTIFF grid."""
    values = np.asarray(values)
    ny, nx = values.shape
    x = x0 + cell_m * (np.arange(nx) + 0.5)
    y = y0 - cell_m * (np.arange(ny) + 0.5)
    return xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})


THREAT_TABLE = pd.DataFrame(
    {
        "threat": ["settlements", "roads"],
        "max_dist_m": [20.0, 30.0],
        "weight": [2.0, 1.0],
        "decay": ["linear", "exponential"],
    }
)
SENSITIVITY = pd.DataFrame(
    {
        "lucode": [1, 2, 3],
        "habitat": [1.0, 0.6, 0.0],
        "settlements": [1.0, 0.5, 0.0],
        "roads": [0.5, 1.0, 0.0],
    }
)
LULC = [[1, 2, 1, 2, 3], [1, 1, NODATA, 2, 2]]
SETTLEMENTS = [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]
ROADS = [[0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]


def test_issue_linear_decay_check():
    d = np.array([0.0, 1.0, 2.0, 21.0])
    assert_allclose(threat_decay(d, max_dist_m=20.0, decay="linear"), [1.0, 0.95, 0.9, 0.0], rtol=1e-15)


def test_exponential_decay_cutoff():
    d = np.array([0.0, 10.0, 20.0, 20.0001, np.inf])
    expected = [1.0, math.exp(-2.99 / 2), math.exp(-2.99), 0.0, 0.0]
    assert_allclose(threat_decay(d, max_dist_m=20.0, decay="exponential"), expected, rtol=1e-15)


def test_linear_decay_through_habitat_quality_on_1m_grid():
    # 1 m cells: distances from the threat cell are 0, 1, 2, ..., 21 m
    lulc = grid(np.ones((1, 22), dtype=int), cell_m=1.0)
    threat = lulc.copy(data=np.eye(1, 22, dtype=int))
    ds = habitat_quality(
        lulc,
        {"t": threat},
        threat_table=pd.DataFrame({"threat": ["t"], "max_dist_m": [20.0], "weight": [0.3], "decay": ["linear"]}),
        sensitivity_table=pd.DataFrame({"lucode": [1], "habitat": [1.0], "t": [1.0]}),
        half_saturation=0.5,
    )
    d = ds["degradation"].values[0]
    assert_allclose(d[[0, 1, 2, 21]], [1.0, 0.95, 0.9, 0.0], rtol=1e-12)
    assert_allclose(d, np.clip(1 - np.arange(22) / 20.0, 0, None), rtol=1e-12, atol=1e-15)


def test_threat_distance_euclidean_metres():
    t = np.zeros((3, 3))
    t[0, 0] = 1
    expected = 30.0 * np.sqrt(np.add.outer(np.arange(3) ** 2, np.arange(3) ** 2))
    assert_allclose(threat_distance(t, cell_size_m=30.0), expected)
    assert np.all(np.isinf(threat_distance(np.zeros((2, 2)), cell_size_m=30.0)))


def _expected_degradation():
    e = math.exp
    i_s = np.array([1.0, 0.5, 0.0, 0.0, 0.0])  # linear, d = 0,10,20,30,40 m, dmax 20
    i_r = np.array([0.0, e(-2.99), e(-2.99 * 2 / 3), e(-2.99 / 3), 1.0])  # exp, d = 40..0, dmax 30
    s_set = {1: 1.0, 2: 0.5, 3: 0.0}
    s_road = {1: 0.5, 2: 1.0, 3: 0.0}
    out = np.full((2, 5), np.nan)
    for r, row in enumerate(LULC):
        for c, code in enumerate(row):
            if code != NODATA:
                out[r, c] = i_s[c] * s_set[code] * 2 / 3 + i_r[c] * s_road[code] * 1 / 3
    return out


def test_tiny_quality_case_by_hand():
    lulc = grid(LULC)
    lulc.attrs["_FillValue"] = NODATA
    ds = habitat_quality(
        lulc,
        {"settlements": grid(SETTLEMENTS), "roads": grid(ROADS)},
        threat_table=THREAT_TABLE,
        sensitivity_table=SENSITIVITY,
        half_saturation=0.5,
    )
    e = math.exp
    expected_d = np.array(
        [
            [2 / 3, 1 / 6 + e(-2.99) / 3, e(-2.99 * 2 / 3) * 0.5 / 3, e(-2.99 / 3) / 3, 0.0],
            [2 / 3, 1 / 3 + e(-2.99) * 0.5 / 3, np.nan, e(-2.99 / 3) / 3, 1 / 3],
        ]
    )
    assert_allclose(expected_d, _expected_degradation(), rtol=1e-15)  # two derivations agree
    assert_allclose(ds["degradation"].values, expected_d, rtol=1e-12)
    h = np.array([[1.0, 0.6, 1.0, 0.6, 0.0], [1.0, 1.0, np.nan, 0.6, 0.6]])
    expected_q = h * (1 - expected_d**2.5 / (expected_d**2.5 + 0.5**2.5))
    assert_allclose(ds["quality"].values, expected_q, rtol=1e-12)
    # cell (0,0): D = 2/3, Q = 1 - 0.362887 / (0.362887 + 0.176777) = 0.32757
    assert ds["quality"].values[0, 0] == pytest.approx(0.32757, abs=1e-5)
    assert ds["degradation"].dims == ("y", "x")
    assert_allclose(ds["quality"]["x"].values, lulc["x"].values)


def test_access_scales_degradation():
    lulc = grid(LULC)
    access = grid(np.where(np.arange(5) < 2, 0.5, np.nan)[None, :].repeat(2, axis=0))
    d = threat_degradation(
        lulc,
        {"settlements": grid(SETTLEMENTS), "roads": grid(ROADS)},
        threat_table=THREAT_TABLE,
        sensitivity_table=SENSITIVITY,
        access=access,
        lulc_nodata=NODATA,
    )
    beta = np.array([[0.5, 0.5, 1, 1, 1], [0.5, 0.5, 1, 1, 1]])
    assert_allclose(d.values, _expected_degradation() * beta, rtol=1e-12)


def test_intensity_weighted_option():
    lulc = grid(np.ones((1, 5), dtype=int))
    threat = grid([[0.5, 0, 0, 0, 1.0]])
    kwargs = {
        "threat_table": pd.DataFrame({"threat": ["t"], "max_dist_m": [40.0], "weight": [1.0], "decay": ["linear"]}),
        "sensitivity_table": pd.DataFrame({"lucode": [1], "habitat": [1.0], "t": [1.0]}),
    }
    presence = threat_degradation(lulc, {"t": threat}, **kwargs)
    # nearest threat cell: d = 0, 10, 20, 10, 0 m -> 1 - d/40
    assert_allclose(presence.values, [[1.0, 0.75, 0.5, 0.75, 1.0]])
    weighted = threat_degradation(lulc, {"t": threat}, intensity_weighted=True, **kwargs)
    # max(0.5 (1 - d0/40), 1.0 (1 - d4/40)) with d0 = 0,10,20,30,40 and d4 = 40,30,20,10,0
    assert_allclose(weighted.values, [[0.5, 0.375, 0.5, 0.75, 1.0]])


def test_padded_threat_grid_counts_threats_beyond_edge():
    # study area: 3 x 3 cells; the threat layer is the grid padded by 2 cells, threat in the padding
    lulc = grid(np.ones((3, 3), dtype=int), x0=20.0, y0=-20.0)
    padded = np.zeros((7, 7))
    padded[3, 0] = 1  # 2 cells west of the study area's middle row
    threat = grid(padded)
    table = pd.DataFrame({"threat": ["t"], "max_dist_m": [30.0], "weight": [1.0], "decay": ["linear"]})
    sens = pd.DataFrame({"lucode": [1], "habitat": [1.0], "t": [1.0]})
    assert degradation_halo_cells(table, 10.0) == 3
    d = threat_degradation(lulc, {"t": threat}, threat_table=table, sensitivity_table=sens)
    dist = np.hypot(np.array([-1, 0, 1])[:, None] * 10.0, (np.arange(3)[None, :] + 2) * 10.0)
    assert_allclose(d.values, np.clip(1 - dist / 30.0, 0, None), rtol=1e-12)
    assert d.values[1, 0] == pytest.approx(1 / 3)


def test_degradation_tiles_with_halo_equal_whole_grid():
    rng = np.random.default_rng(5)
    lulc_v = rng.integers(1, 4, (10, 11))
    lulc_v[4, 6] = NODATA
    t1 = (rng.uniform(size=(10, 11)) > 0.9).astype(float)
    t2 = np.round(rng.uniform(size=(10, 11)) * (rng.uniform(size=(10, 11)) > 0.85), 1)
    table = pd.DataFrame(
        {"threat": ["a", "b"], "max_dist_m": [25.0, 40.0], "weight": [1.0, 0.5], "decay": ["linear", "exponential"]}
    )
    sens = pd.DataFrame({"lucode": [1, 2, 3], "habitat": [1.0, 0.5, 0.2], "a": [1.0, 0.3, 0.0], "b": [0.2, 1.0, 0.5]})
    for weighted in (False, True):
        kwargs = {"threat_table": table, "sensitivity_table": sens, "half_saturation": 0.3, "lulc_nodata": NODATA}
        whole = habitat_quality(grid(lulc_v), {"a": grid(t1), "b": grid(t2)}, intensity_weighted=weighted, **kwargs)
        halo = degradation_halo_cells(table, 10.0)
        tiled = {v: np.full(lulc_v.shape, -1.0) for v in ("degradation", "quality")}
        full_a, full_b = grid(t1), grid(t2)
        for i in range(0, 10, 3):
            for j in range(0, 11, 3):
                tile = grid(lulc_v).isel(y=slice(i, i + 3), x=slice(j, j + 3))
                win = {"y": slice(max(i - halo, 0), i + 3 + halo), "x": slice(max(j - halo, 0), j + 3 + halo)}
                res = habitat_quality(
                    tile, {"a": full_a.isel(**win), "b": full_b.isel(**win)}, intensity_weighted=weighted, **kwargs
                )
                for v in tiled:
                    tiled[v][i : i + 3, j : j + 3] = res[v].values
        for v in tiled:
            assert_allclose(tiled[v], whole[v].values, rtol=1e-14, atol=0)
        assert np.isnan(whole["quality"].values[4, 6])


def test_rarity_by_hand():
    base = grid([[1, 1, 2, 2], [1, 3, 3, NODATA]])
    cur = grid([[1, 2, 2, 2], [1, 3, 4, 1]])
    rarity, table = habitat_rarity(cur, base, baseline_nodata=NODATA)
    # base counts 1:3, 2:2, 3:2; current counts where base has data 1:2, 2:3, 3:1, 4:1
    r = {1: 1 - 2 / 5, 2: 1 - 3 / 5, 3: 1 - 1 / 3, 4: 0.0}
    assert table["lucode"].tolist() == [1, 2, 3, 4]
    assert_allclose(table["rarity"], [r[1], r[2], r[3], r[4]])
    expected = np.array([[r[1], r[2], r[2], r[2]], [r[1], r[3], r[4], np.nan]])
    assert_allclose(rarity.values, expected)
    unchanged, _ = habitat_rarity(cur, cur)
    assert_allclose(unchanged.values, np.full((2, 4), 0.5))


def test_habitat_quality_adds_rarity_with_baseline():
    lulc = grid([[1, 2]])
    table = pd.DataFrame({"threat": ["t"], "max_dist_m": [10.0], "weight": [1.0], "decay": ["linear"]})
    sens = pd.DataFrame({"lucode": [1, 2], "habitat": [1.0, 1.0], "t": [1.0, 1.0]})
    ds = habitat_quality(
        lulc, {"t": grid([[0, 0]])}, threat_table=table, sensitivity_table=sens, half_saturation=0.5,
        baseline_lulc=grid([[1, 1]]),
    )
    assert_allclose(ds["rarity"].values, [[1 - 1 / 3, 0.0]])
    assert_allclose(ds["quality"].values, [[1.0, 1.0]])
    assert "rarity" not in habitat_quality(
        lulc, {"t": grid([[0, 0]])}, threat_table=table, sensitivity_table=sens, half_saturation=0.5
    )


def _call(**over):
    args = {
        "lulc": grid(LULC),
        "threats": {"settlements": grid(SETTLEMENTS), "roads": grid(ROADS)},
        "threat_table": THREAT_TABLE,
        "sensitivity_table": SENSITIVITY,
        "half_saturation": 0.5,
        "lulc_nodata": NODATA,
    }
    args.update(over)
    lulc, threats = args.pop("lulc"), args.pop("threats")
    return habitat_quality(lulc, threats, **args)


@pytest.mark.parametrize(
    ("over", "error", "match"),
    [
        ({"half_saturation": 0.0}, InvalidParameterError, "half_saturation"),
        ({"threats": {"settlements": grid(SETTLEMENTS)}}, InvalidParameterError, "roads"),
        ({"sensitivity_table": SENSITIVITY.drop(columns="roads")}, InvalidParameterError, "roads"),
        ({"sensitivity_table": SENSITIVITY.iloc[:2]}, CrosswalkError, r"\[3\]"),
        ({"threat_table": THREAT_TABLE.assign(decay=["linear", "gaussian"])}, InvalidParameterError, "decay"),
        ({"threat_table": THREAT_TABLE.assign(max_dist_m=[0.0, 30.0])}, InvalidParameterError, "max_dist_m"),
        ({"lulc": grid(LULC, cell_m=30.0)}, GridMismatchError, "cell size"),
        ({"threats": {"settlements": grid(SETTLEMENTS, x0=5.0), "roads": grid(ROADS)}}, GridMismatchError, "cover"),
    ],
)
def test_user_errors(over, error, match):
    with pytest.raises(error, match=match):
        _call(**over)


def test_access_out_of_range_and_non_square_cells():
    with pytest.raises(InvalidParameterError, match="access"):
        _call(access=grid(np.full((2, 5), 2.0)))
    lulc = grid(LULC).assign_coords(y=[0.0, -20.0])
    with pytest.raises(HabitatError, match="square"):
        _call(lulc=lulc, threats={"settlements": grid(SETTLEMENTS).assign_coords(y=[0.0, -20.0]), "roads": grid(ROADS).assign_coords(y=[0.0, -20.0])})



def test_threats_given_as_distances_equal_threats_given_as_layers():
    import numpy as np
    import pandas as pd
    import xarray as xr
    from scipy import ndimage

    from habitat.suitability.quality import habitat_quality

    coords = {"y": [3.5, 2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5, 4.5]}
    lulc = xr.DataArray(np.array([[1, 1, 2, 2, 1]] * 4), dims=("y", "x"), coords=coords)
    roads = np.zeros((4, 5))
    roads[0, 0] = roads[3, 4] = 1
    table = pd.DataFrame({"threat": ["roads"], "max_dist_m": [3.0], "weight": [1.0], "decay": ["exponential"]})
    sens = pd.DataFrame({"lucode": [1, 2], "habitat": [1.0, 0.5], "roads": [1.0, 0.4]})
    by_layer = habitat_quality(lulc, {"roads": lulc.copy(data=roads)}, threat_table=table,
                               sensitivity_table=sens, half_saturation=0.3)
    dist = lulc.copy(data=ndimage.distance_transform_edt(roads == 0))
    by_distance = habitat_quality(lulc, {}, threat_distances_m={"roads": dist}, threat_table=table,
                                  sensitivity_table=sens, half_saturation=0.3)
    np.testing.assert_allclose(by_distance["degradation"].values, by_layer["degradation"].values, rtol=1e-12)
    np.testing.assert_allclose(by_distance["quality"].values, by_layer["quality"].values, rtol=1e-12)


# -- numpy input with an explicit cell size, band dims, coords and CRS kept ------------------------
def _quality_inputs():
    lulc = np.array([[1, 1, 1, 1]])
    roads = np.array([[1, 0, 0, 0]])
    kwargs = dict(
        threat_table=pd.DataFrame({"threat": ["roads"], "max_dist_m": [20.0], "weight": [1.0], "decay": ["linear"]}),
        sensitivity_table=pd.DataFrame({"lucode": [1], "habitat": [1.0], "roads": [1.0]}),
        half_saturation=0.5,
    )
    return lulc, roads, kwargs


def test_numpy_input_needs_and_uses_an_explicit_cell_size():
    lulc, roads, kwargs = _quality_inputs()
    with pytest.raises(InvalidParameterError, match="cell_size_m"):
        habitat_quality(lulc, {"roads": roads}, **kwargs)
    ds = habitat_quality(lulc, {"roads": roads}, cell_size_m=10.0, **kwargs)
    # linear decay over 20 m: 1 at the road, 0.5 one 10 m cell away, 0 from 20 m on
    assert_allclose(ds["degradation"].values, [[1.0, 0.5, 0.0, 0.0]], rtol=1e-12)
    expected = habitat_quality(grid(lulc), {"roads": grid(roads)}, **kwargs)
    assert_allclose(ds["quality"].values, expected["quality"].values, rtol=1e-12)
    # a threat padded by one cell on each side lines up with the lulc grid
    padded = np.pad(roads, 1)
    assert_allclose(habitat_quality(lulc, {"roads": padded}, cell_size_m=10.0, **kwargs)["degradation"].values,
                    [[1.0, 0.5, 0.0, 0.0]], rtol=1e-12)
    with pytest.raises(GridMismatchError, match="pad it"):
        habitat_quality(lulc, {"roads": roads[:, :3]}, cell_size_m=10.0, **kwargs)


def test_band_dimension_kept_coords_and_crs():
    lulc, roads, kwargs = _quality_inputs()
    da = grid(lulc).expand_dims(band=[1]).assign_attrs(grid="the-grid-json", crs="EPSG:32642")
    ds = habitat_quality(da, {"roads": grid(roads)}, **kwargs)
    assert ds["quality"].dims == ("y", "x")
    np.testing.assert_array_equal(ds["quality"].x, grid(lulc).x)
    assert ds["quality"].attrs["crs"] == "EPSG:32642" and ds["degradation"].attrs["grid"] == "the-grid-json"
    with pytest.raises(GridMismatchError, match="disagrees"):
        habitat_quality(da, {"roads": grid(roads)}, cell_size_m=30.0, **kwargs)
