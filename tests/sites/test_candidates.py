"""Candidate extraction and per-candidate criteria on tiny hand-built arrays."""

import numpy as np
import pytest

from habitat.errors import InvalidParameterError
from habitat.sites.candidates import (
    candidate_criteria,
    candidate_ids,
    central_cells,
    distance_to_points,
    extract_candidates,
    nearest_point,
)


def _strip_with_disc():
    """5 x 11 cells of 100 m: a 3-row habitat strip (patch 1), a 2-cell patch 2 below it,
    and a population site at the strip's middle cell, occupied radius 150 m."""
    patch_id = np.zeros((5, 11), int)
    patch_id[0:3, :] = 1
    patch_id[4, 9:11] = 2
    x = 50.0 + 100.0 * np.arange(11)
    y = 450.0 - 100.0 * np.arange(5)
    site = np.array([[550.0, 350.0]])  # centre of cell (1, 5)
    return patch_id, distance_to_points(x, y, site)


def test_distance_to_points_is_the_nearest_euclidean_distance():
    d = distance_to_points(np.array([0.0, 30.0]), np.array([40.0, 0.0]), np.array([[0.0, 0.0], [30.0, 40.0]]))
    np.testing.assert_allclose(d, [[30.0, 0.0], [0.0, 30.0]])
    assert np.isinf(distance_to_points(np.array([0.0]), np.array([0.0]), np.zeros((0, 2)))).all()


def test_nearest_point_gives_the_distance_and_the_lower_index_on_ties():
    # cells x = 0, 10, 20 on one row y = 0; points at x = 0 and x = 20: the middle cell is a tie
    d, i = nearest_point(np.array([0.0, 10.0, 20.0]), np.array([0.0]), np.array([[0.0, 0.0], [20.0, 0.0]]))
    np.testing.assert_array_equal(d, [[0.0, 10.0, 0.0]])
    np.testing.assert_array_equal(i, [[0, 0, 1]])
    d, i = nearest_point(np.array([0.0]), np.array([0.0, 1.0]), np.zeros((0, 2)))
    assert np.isinf(d).all() and (i == -1).all() and i.shape == (2, 1)


def test_occupied_disc_splits_the_strip_into_two_candidates():
    patch_id, dist = _strip_with_disc()
    # cells within 150 m of (550, 350): columns 4-6 of rows 0-2 (corners at 141 m), nothing in row 4
    occupied = dist <= 150.0
    labels = extract_candidates(patch_id, occupied, cell_size_m=100.0)
    expected = np.array([
        [1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2],
        [1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2],
        [1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3],
    ])
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int32
    # slivers below min_area_ha (the 2-cell piece is 2 ha) are not candidates
    np.testing.assert_array_equal(
        extract_candidates(patch_id, occupied, cell_size_m=100.0, min_area_ha=3.0), np.where(expected == 3, 0, expected)
    )


def test_cluster_gap_merges_pieces_within_the_gap_edge_to_edge():
    patch_id = np.array([[1, 1, 0, 0, 0, 2, 2]])
    none = np.zeros_like(patch_id, bool)
    # three empty cells (300 m) between the pieces
    np.testing.assert_array_equal(extract_candidates(patch_id, none, cell_size_m=100.0, cluster_gap_m=299.0),
                                  [[1, 1, 0, 0, 0, 2, 2]])
    np.testing.assert_array_equal(extract_candidates(patch_id, none, cell_size_m=100.0, cluster_gap_m=300.0),
                                  [[1, 1, 0, 0, 0, 1, 1]])
    # merging is transitive and the merged candidate counts as one for min_area_ha
    three = np.array([[1, 0, 1, 0, 1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(
        extract_candidates(three, np.zeros_like(three, bool), cell_size_m=100.0, cluster_gap_m=100.0,
                           min_area_ha=2.0),
        [[1, 0, 1, 0, 1, 0, 0, 0, 0]],
    )


def test_reach_tiles_cut_candidates_into_reaches():
    patch_id, dist = _strip_with_disc()
    occupied = dist <= 150.0
    # 400 m tiles from the first cell: columns 0-3, 4-7, 8-10 and rows 0-3, 4: candidate 2 (columns
    # 7-10) is cut at column 8; patch 2 (row 4, columns 9-10) stays whole; with min_area_ha = 3.5
    # the 3-cell cut piece (column 7) goes, as does the 2-cell patch
    labels = extract_candidates(patch_id, occupied, cell_size_m=100.0, reach_tile_m=400.0)
    expected = np.array([
        [1, 1, 1, 1, 0, 0, 0, 2, 3, 3, 3],
        [1, 1, 1, 1, 0, 0, 0, 2, 3, 3, 3],
        [1, 1, 1, 1, 0, 0, 0, 2, 3, 3, 3],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4],
    ])
    np.testing.assert_array_equal(labels, expected)
    trimmed = extract_candidates(patch_id, occupied, cell_size_m=100.0, reach_tile_m=400.0, min_area_ha=3.5)
    np.testing.assert_array_equal(trimmed, np.select([expected == 1, expected == 3], [1, 2], 0))
    # a clustered candidate stays one inside a tile although its pieces do not touch
    three = np.array([[1, 0, 1, 0, 1, 1]])
    np.testing.assert_array_equal(
        extract_candidates(three, np.zeros_like(three, bool), cell_size_m=100.0, cluster_gap_m=100.0,
                           reach_tile_m=400.0),
        [[1, 0, 1, 0, 2, 2]],
    )
    with pytest.raises(InvalidParameterError, match="reach_tile_m"):
        extract_candidates(patch_id, occupied, cell_size_m=100.0, reach_tile_m=50.0)


def test_extract_candidates_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="occupied"):
        extract_candidates(np.ones((2, 2), int), np.zeros(4, bool), cell_size_m=100.0)
    with pytest.raises(InvalidParameterError, match="cluster_gap_m"):
        extract_candidates(np.ones((2, 2), int), np.zeros((2, 2), bool), cell_size_m=100.0, cluster_gap_m=-1)


def test_central_cells_are_farthest_from_the_edge():
    block = np.ones((3, 5), int)
    assert central_cells(block) == [(1, 2)]
    # without the centre the two tied depth-2 cells are equally near their mean: raster order
    passable = np.ones((3, 5), bool)
    passable[1, 2] = False
    assert central_cells(block, passable=passable) == [(1, 1)]
    assert central_cells(block, passable=np.zeros((3, 5), bool)) == [None]
    two = np.array([[1, 1, 1, 0, 2]])
    assert central_cells(two) == [(0, 1), (0, 4)]
    assert candidate_ids(3) == ["C1", "C2", "C3"] and candidate_ids(12)[0] == "C01"


def test_candidate_criteria_full_table():
    # 5 x 5 cells of 100 m (1 ha each), one patch; candidate 1 = columns 0-2, candidate 2 = columns 3-4
    labels = np.zeros((5, 5), int)
    labels[:, 0:3] = 1
    labels[:, 3:5] = 2
    patch_id = np.ones((5, 5), int)
    cols = np.tile(np.arange(5.0), (5, 1))
    rows = cols.T
    quality = 0.2 * cols                      # candidate means 0.2 and 0.7
    quality[0, 0] = np.nan                    # left out of the mean
    degradation = 0.1 * rows                  # mean 0.2 in both
    water = np.where(labels == 1, 300.0, 900.0)
    protected = np.zeros((5, 5))
    protected[:, 4] = 1.0                     # half of candidate 2
    cost = 10.0 * cols + rows                 # min 0 (candidate 1) and 30 (candidate 2)
    distance = 100.0 * cols                   # read at the release points (2, 1) and (2, 3)
    table = candidate_criteria(
        labels, patch_id, cell_size_m=100.0, quality=quality, degradation=degradation, water_distance_m=water,
        protected_fraction=protected, cost_to_source=cost, distance_to_source_m=distance, dpc_by_patch={1: 12.5},
        edge_depth_m=100.0, density_per_km2=5.0, usable_area="quality_weighted",
    )
    assert table["site_id"].tolist() == ["C1", "C2"]
    assert table["parent_patch_id"].tolist() == [1, 1] and table["parent_patch_ids"].tolist() == ["1", "1"]
    np.testing.assert_array_equal(table["n_cells"], [15, 10])
    np.testing.assert_allclose(table["area_ha"], [15.0, 10.0])
    # core of the patch = rows 1-3 x columns 1-3: 6 cells in candidate 1, 3 in candidate 2
    np.testing.assert_allclose(table["core_area_ha"], [6.0, 3.0])
    # quality: candidate 1 has 14 finite cells: 4 x 0 + 5 x 0.2 + 5 x 0.4 = 3.0
    np.testing.assert_allclose(table["mean_quality"], [3.0 / 14, 0.7])
    # quality-weighted usable area: sum of Q over finite cells x 1 ha
    np.testing.assert_allclose(table["usable_area_ha"], [3.0, 7.0])
    np.testing.assert_allclose(table["capacity_deer"], [3.0 / 100 * 5, 7.0 / 100 * 5])
    np.testing.assert_allclose(table["mean_degradation"], [0.2, 0.2])
    np.testing.assert_allclose(table["mean_water_distance_m"], [300.0, 900.0])
    np.testing.assert_allclose(table["share_protected"], [0.0, 0.5])
    np.testing.assert_allclose(table["lcd_to_source"], [0.0, 30.0])
    np.testing.assert_allclose(table["distance_to_source_m"], [100.0, 300.0])
    np.testing.assert_allclose(table["dpc_parent_patch"], [12.5, 12.5])


def test_candidate_criteria_parents_and_missing_layers():
    labels = np.array([[1, 1, 1, 0]])
    patch_id = np.array([[3, 0, 4, 4]])  # a clustered candidate over patches 3 and 4
    one = np.ones((1, 4))
    table = candidate_criteria(labels, patch_id, cell_size_m=100.0, quality=one, degradation=0 * one,
                               water_distance_m=one, dpc_by_patch={3: 1.0, 4: 7.0}, edge_depth_m=0.0)
    assert table["parent_patch_ids"].tolist() == ["3;4"]
    assert table["parent_patch_id"].tolist() == [3]  # ties: the smaller id
    np.testing.assert_allclose(table["dpc_parent_patch"], [7.0])  # the best-connected parent
    np.testing.assert_allclose(table["share_protected"], [0.0])
    assert table[["lcd_to_source", "distance_to_source_m"]].isna().all().all()


def test_the_built_tables_have_the_declared_columns():
    from habitat.errors import StageContractError
    from habitat.sites.candidates import CANDIDATE_COLUMNS, CRITERIA_COLUMNS, NUMERIC_COLUMNS, candidate_table

    one = np.ones((1, 2))
    table = candidate_criteria(np.array([[1, 0]]), np.array([[1, 0]]), cell_size_m=100.0, quality=one,
                               degradation=0 * one, water_distance_m=one, edge_depth_m=0.0)
    assert tuple(table.columns) == CRITERIA_COLUMNS
    assert set(NUMERIC_COLUMNS) < set(CANDIDATE_COLUMNS) and "site_id" not in NUMERIC_COLUMNS
    with pytest.raises(StageContractError, match=r"\['centre_x'.*\['extra'\]"):
        candidate_table({c: [0] for c in CANDIDATE_COLUMNS if c != "centre_x"} | {"extra": [1]})
    shuffled = {c: [i] for i, c in enumerate(reversed(CANDIDATE_COLUMNS))}
    assert tuple(candidate_table(shuffled).columns) == CANDIDATE_COLUMNS
