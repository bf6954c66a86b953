"""Block-wise candidates equal the whole-array functions exactly (labels, criteria, centres)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from habitat.sites import blockwise
from habitat.sites.blockwise import candidate_sums, central_cells_blockwise, label_candidates
from habitat.sites.candidates import candidate_criteria, central_cells, extract_candidates
from habitat.suitability.patches import core_mask


def _landscape(seed: int, shape=(67, 53)):
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.random(shape), 2.0) > 0.5
    pid, _ = ndimage.label(blobs, structure=np.ones((3, 3)))
    occupied = np.zeros(shape, bool)
    occupied[10:20, 5:30] = True
    res = np.where(rng.random(shape) < 0.05, np.nan, 1 + 99 * rng.random(shape))
    quality = rng.random(shape).astype(np.float32)
    quality[rng.random(shape) < 0.03] = np.nan
    water = (rng.random(shape) * 1000).astype(np.float32)
    return pid.astype(np.int32), occupied, res, quality, water


def _read(pid, occupied):
    return lambda rows, cols: (pid[rows, cols] > 0) & ~occupied[rows, cols]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block_side", [7, 16, 100])
@pytest.mark.parametrize("tile_m", [0.0, 900.0])
def test_labels_equal_whole_array(seed, block_side, tile_m):
    pid, occupied, *_ = _landscape(seed)
    whole = extract_candidates(pid, occupied, cell_size_m=100.0, reach_tile_m=tile_m, min_area_ha=3.0)
    cands = label_candidates(_read(pid, occupied), pid.shape, cell_size_m=100.0, reach_tile_m=tile_m,
                             min_area_ha=3.0, block_side=block_side)
    assert cands.n == whole.max() > 3
    np.testing.assert_array_equal(cands.rows(0, pid.shape[0]), whole)
    np.testing.assert_array_equal(cands.rows(5, 23), whole[5:23])


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("tile_m", [0.0, 1100.0])
def test_criteria_and_centres_equal_whole_array(monkeypatch, seed, tile_m):
    monkeypatch.setattr(blockwise, "STRIP_ROWS", 9)  # strips and blocks that do not divide 67 x 53
    pid, occupied, res, quality, water = _landscape(seed)
    cs = 100.0
    whole = extract_candidates(pid, occupied, cell_size_m=cs, reach_tile_m=tile_m, min_area_ha=2.0)
    cands = label_candidates(_read(pid, occupied), pid.shape, cell_size_m=cs, reach_tile_m=tile_m,
                             min_area_ha=2.0, block_side=13)
    cost = np.where(np.isfinite(res), np.arange(res.size).reshape(res.shape) % 17 * 1.5, np.nan)
    centres = central_cells(whole, passable=np.isfinite(res))
    table = candidate_criteria(whole, pid, cell_size_m=cs, quality=quality, degradation=quality * 0.3,
                               water_distance_m=water, cost_to_source=cost, centres=centres, edge_depth_m=200.0)
    sums = candidate_sums(
        cands, patch_id=pid, core_of=lambda w: core_mask(w, edge_depth_m=200.0, cell_size_m=cs), core_halo=2,
        means={"quality": quality, "degradation": quality * 0.3, "water_distance_m": water, "none": None},
        quality=quality, cost=lambda r0, r1: cost[r0:r1])
    np.testing.assert_array_equal(sums["n_cells"], table["n_cells"])
    np.testing.assert_array_equal(sums["n_core"] * cs * cs / 1e4, table["core_area_ha"])
    np.testing.assert_array_equal(sums["mean_quality"], table["mean_quality"])  # bit for bit
    np.testing.assert_array_equal(sums["mean_degradation"], table["mean_degradation"])
    np.testing.assert_array_equal(sums["mean_water_distance_m"], table["mean_water_distance_m"])
    np.testing.assert_array_equal(sums["lcd"], table["lcd_to_source"])
    assert np.isnan(sums["mean_none"]).all()
    got = central_cells_blockwise(cands, lambda r0, r1: np.isfinite(res[r0:r1]), sums["row0"], sums["col0"],
                                  halo=1, block_cols=11)  # halo 1: deeper cells go round again
    assert got == centres


def test_wide_candidate_needs_a_second_halo():
    pid = np.ones((40, 41), np.int32)
    read = _read(pid, np.zeros(pid.shape, bool))
    cands = label_candidates(read, pid.shape, cell_size_m=10.0, block_side=8)
    sums = candidate_sums(cands, patch_id=pid, core_of=lambda w: w > 0, core_halo=0, means={}, quality=pid * 1.0,
                          cost=None)
    got = central_cells_blockwise(cands, lambda r0, r1: np.ones((r1 - r0, 41), bool), sums["row0"], sums["col0"],
                                  halo=2, block_cols=8)
    assert got == central_cells(extract_candidates(pid, 0 * pid, cell_size_m=10.0)) == [(19, 20)]


def test_strip_wise_source_cells_equal_focal_cells():
    """The sites stage's source cells: focal cells from core cells read strip by strip."""
    from habitat.connectivity.populations import focal_cells
    from habitat.connectivity.two_grid import label_cells
    rng = np.random.default_rng(5)
    cores = rng.integers(0, 4, (30, 31))
    xs, ys = np.arange(31) * 10.0 + 5, 300 - np.arange(30) * 10.0 - 5
    points = np.array([[100.0, 100.0], [5.0, 295.0], [150.0, 150.0], [1e6, 0.0]])
    want = focal_cells(points, cores, xs, ys)
    assert focal_cells(points, None, xs, ys, cells=label_cells(cores, len(points))) == want
    assert want[3] is None
