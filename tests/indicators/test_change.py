"""Known-answer tests for habitat.indicators.change (METHODS.md sections 3 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.indicators.change import (
    CHANGE_CODES,
    CHANGE_NODATA,
    annual_rate,
    change_map,
    effective_mesh_size,
    habitat_change,
)

H1 = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
H2 = np.array([[1, 0, 1, 1], [0, 1, 0, 0]], bool)
# Unit 1: left two columns; unit 2: right two columns.
UNITS = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])


def test_annual_rate_fao_example():
    # METHODS.md section 4: 100 -> 90 over 10 years.
    assert annual_rate(100.0, 90.0, year_t1=2005, year_t2=2015) == pytest.approx(-0.010536, abs=5e-7)
    got = annual_rate([100.0, 50.0, 0.0, 10.0], [90.0, 100.0, 5.0, 0.0], year_t1=2000, year_t2=2010)
    assert_allclose(got, [np.log(0.9) / 10, np.log(2) / 10, np.nan, -np.inf], equal_nan=True)


def test_change_map_codes():
    valid = np.ones(H1.shape, bool)
    valid[1, 3] = False
    got = change_map(H1, H2, valid=valid)
    s, lost, gained, never = (CHANGE_CODES[k] for k in ("stable", "lost", "gained", "never"))
    expected = np.array([[s, lost, s, gained], [lost, s, never, CHANGE_NODATA]], np.uint8)
    assert_array_equal(got, expected)
    assert got.dtype == np.uint8


def test_habitat_change_per_unit():
    # 1 ha cells. Unit 1: t1 4 cells, t2 2, lost 2, gained 0. Unit 2: t1 1, t2 2, gained 1.
    got = habitat_change(H1, H2, cell_area_m2=1e4, units=UNITS)
    assert_array_equal(got.index.to_numpy(), [1, 2])
    assert list(got.columns) == [
        "unit_area_ha", "area_t1_ha", "area_t2_ha", "loss_ha", "gain_ha", "net_ha", "loss_pct"
    ]
    expected = np.array([[4, 4, 2, 2, 0, -2, 50.0], [4, 1, 2, 0, 1, 1, 0.0]])
    assert_allclose(got.to_numpy(), expected)
    whole = habitat_change(H1, H2, cell_area_m2=1e4)
    assert_allclose(whole.to_numpy(), [[8, 5, 4, 2, 1, -1, 40.0]])


def test_habitat_change_with_cell_area_grid():
    # Geodesic-style areas: each column its own cell area.
    area = np.array([[1e4, 2e4, 3e4, 4e4]] * 2)
    got = habitat_change(H1, H2, cell_area_m2=area, units=UNITS)
    # Unit 1 t1 = 1+2+1+2 = 6 ha, lost (0,1) 2 ha + (1,0) 1 ha = 3; unit 2 t1 = 3, gained (0,3) 4.
    expected = np.array([[6, 6, 3, 3, 0, -3, 50.0], [14, 3, 7, 0, 4, 4, 0.0]])
    assert_allclose(got.to_numpy(), expected)


def test_mesh_cut_13_ha_and_cbc_22_ha():
    # METHODS.md section 3: a 100 ha unit (10 x 10 cells of 1 ha) with patches of 30 and 20 ha
    # -> 13 ha; the 30 ha patch really is 60 ha with half outside -> CBC 22 ha.
    habitat = np.zeros((10, 16), bool)
    habitat[0:3, 0:10] = True  # 30 ha inside
    habitat[0:3, 10:16] = True  # 18 ha outside, same patch
    habitat[3:5, 10:16] = True  # 12 ha outside: complete patch 60 ha
    habitat[8:10, 0:10] = True  # 20 ha inside, not crossing the boundary
    units = np.zeros(habitat.shape, int)
    units[:, :10] = 1
    got = effective_mesh_size(habitat, cell_area_m2=1e4, units=units)
    assert_allclose(got.to_numpy(), [[100.0, 13.0, 22.0]])


def test_mesh_cut_splits_pieces_joined_only_outside():
    # A U-shaped patch whose two arms lie in the unit and whose base lies outside:
    # CUT sees two 2 ha pieces, CBC weights both by the 5 ha complete patch.
    habitat = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 1]], bool)
    units = np.array([[3, 3, 3], [3, 3, 3], [0, 0, 0]])
    got = effective_mesh_size(habitat, cell_area_m2=1e4, units=units, neighbours=4)
    assert_allclose(got.to_numpy(), [[6.0, (4 + 4) / 6, (2 * 7 + 2 * 7) / 6]])


def test_mesh_several_units_and_bool_units():
    habitat = np.array([[1, 1, 0, 1], [0, 0, 0, 1]], bool)
    got = effective_mesh_size(habitat, cell_area_m2=1e4, units=UNITS)
    # Unit 1: one 2 ha patch in 4 ha -> 1; unit 2: the 2 ha column patch -> 1.
    assert_allclose(got.to_numpy(), [[4, 1.0, 1.0], [4, 1.0, 1.0]])
    as_mask = effective_mesh_size(habitat, cell_area_m2=1e4, units=UNITS == 2)
    assert_allclose(as_mask.to_numpy(), [[4, 1.0, 1.0]])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: habitat_change(H1, H2[:, :2], cell_area_m2=1.0), "habitat_t2"),
        (lambda: habitat_change(H1, H2, cell_area_m2=0.0), "cell_area_m2"),
        (lambda: habitat_change(H1, H2, cell_area_m2=np.ones((3, 3))), "cell_area_m2"),
        (lambda: habitat_change(H1, H2, cell_area_m2=1.0, units=UNITS[:, :2]), "units"),
        (lambda: habitat_change(H1, H2, cell_area_m2=1.0, units=UNITS * 1.5), "units"),
        (lambda: change_map(H1, np.full(H1.shape, np.nan)), "habitat_t2"),
        (lambda: annual_rate(1.0, 2.0, year_t1=2020, year_t2=2020), "year_t2"),
        (lambda: annual_rate(-1.0, 2.0, year_t1=2000, year_t2=2020), "area_t1"),
        (lambda: effective_mesh_size(H1, cell_area_m2=1.0, neighbours=6), "neighbours"),
    ],
)
def test_bad_input_raises_habitat_error(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_mesh_cbc_equals_the_whole_grid_formula():
    from scipy import ndimage

    from habitat.indicators.change import effective_mesh_size

    rng = np.random.default_rng(8)
    h = rng.random((300, 50)) < 0.55
    zone = rng.integers(0, 4, h.shape)
    labels, n = ndimage.label(h, structure=np.ones((3, 3), int))
    complete = np.bincount(labels.ravel(), weights=np.full(h.size, 900.0), minlength=n + 1)
    complete[0] = 0.0
    values = (900.0 * complete[labels])[(zone != 0) & h]
    z = zone[(zone != 0) & h]
    cbc = np.bincount(z - 1, weights=values, minlength=3)
    unit_area = np.bincount(zone[zone != 0] - 1, weights=np.full(int((zone != 0).sum()), 900.0), minlength=3)
    got = effective_mesh_size(h, cell_area_m2=900.0, units=zone)
    assert_array_equal(got["MESH_CBC"].to_numpy(), cbc / unit_area / 1e4)


def test_unit_boxes_equal_find_objects():
    from scipy import ndimage

    from habitat.indicators.change import _unit_boxes

    rng = np.random.default_rng(9)
    zone = np.zeros((700, 60), np.int64)
    zone[10:20, 5:9] = 7
    zone[250:600, 30:31] = 3          # crosses strips
    zone[699, 0] = 12
    zone[rng.random(zone.shape) < 0.001] = 40
    ids = np.unique(zone[zone != 0])
    dense = np.searchsorted(ids, zone) + 1
    dense[zone == 0] = 0
    assert _unit_boxes(zone, ids) == ndimage.find_objects(dense)
    assert _unit_boxes(zone, np.array([3, 7, 12, 40, 99])) [-1] is None
    big = zone * (1 << 25)  # ids too large for a lookup table: the searchsorted path
    assert _unit_boxes(big, ids * (1 << 25)) == ndimage.find_objects(dense)


def test_sum_by_unit_counts_equal_the_weighted_bincount():
    from habitat.indicators.change import _sum_by_unit

    rng = np.random.default_rng(10)
    zone = rng.integers(0, 5, (700, 30))
    select = rng.random(zone.shape) < 0.6
    ids = np.array([1, 2, 4])  # unit 3 is left out: its cells count for no unit
    for area in (900.0, 0.09, 10000.0 / 3.0):
        z = zone[select]
        pos = np.searchsorted(ids, z)
        known = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == z)
        expected = np.bincount(pos[known], weights=np.full(z.shape, area)[known], minlength=ids.size)
        assert_array_equal(_sum_by_unit(zone, ids, select, area), expected)


def test_change_map_blocks_equals_change_map():
    from habitat.indicators.change import change_map_blocks

    rng = np.random.default_rng(2)
    h1, h2, valid = (rng.random((23, 17)) < p for p in (0.5, 0.5, 0.9))
    expected = change_map(h1, h2, valid=valid)
    for rows in (1, 5, 100):
        got = change_map_blocks(lambda r, c: (h1[r, c], h2[r, c], valid[r, c]), h1.shape, strip_rows=rows)
        np.testing.assert_array_equal(got, expected)
