"""Patch labelling, core area and per-patch table on hand-drawn grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal

from habitat.errors import InvalidParameterError
from habitat.suitability.patches import (
    DEFAULT_DENSITY_PER_KM2,
    core_mask,
    habitat_mask,
    label_patches,
    patch_polygons,
    patch_table,
)

HAND = np.array(
    [
        [1, 1, 0, 0, 1],
        [1, 0, 0, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [1, 0, 0, 0, 1],
    ],
    dtype=bool,
)
EXPECTED_8 = np.array(
    [
        [1, 1, 0, 0, 2],
        [1, 0, 0, 2, 0],
        [0, 0, 2, 0, 0],
        [0, 0, 0, 0, 3],
        [4, 0, 0, 0, 3],
    ]
)
EXPECTED_4 = np.array(
    [
        [1, 1, 0, 0, 2],
        [1, 0, 0, 3, 0],
        [0, 0, 4, 0, 0],
        [0, 0, 0, 0, 5],
        [6, 0, 0, 0, 5],
    ]
)


def as_grid(values, cell_m):
    ny, nx = values.shape
    return xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": -cell_m * (np.arange(ny) + 0.5), "x": cell_m * (np.arange(nx) + 0.5)},
    )


def test_habitat_mask_threshold_and_nodata():
    s = np.array([[0.1, 0.5], [0.49, np.nan]])
    assert_array_equal(habitat_mask(s, threshold=0.5), [[False, True], [False, False]])
    with pytest.raises(InvalidParameterError, match="threshold"):
        habitat_mask(s, threshold=1.5)


def test_8_versus_4_neighbour_on_hand_grid():
    assert_array_equal(label_patches(HAND, cell_size_m=100.0), EXPECTED_8)
    assert_array_equal(label_patches(HAND, cell_size_m=100.0, neighbours=4), EXPECTED_4)


def test_min_patch_area_drops_and_renumbers():
    # 100 m cells = 1 ha; keep patches >= 2 ha
    kept_8 = np.where(EXPECTED_8 == 4, 0, EXPECTED_8)
    assert_array_equal(label_patches(HAND, cell_size_m=100.0, min_patch_area_ha=2.0), kept_8)
    kept_4 = np.select([EXPECTED_4 == 1, EXPECTED_4 == 5], [1, 2], 0)
    assert_array_equal(label_patches(HAND, cell_size_m=100.0, neighbours=4, min_patch_area_ha=2.0), kept_4)


def test_label_patches_keeps_coords_and_rejects_bad_rule():
    out = label_patches(as_grid(HAND, 100.0), cell_size_m=100.0)
    assert isinstance(out, xr.DataArray)
    assert out.dtype == np.int32
    assert_array_equal(out.values, EXPECTED_8)
    with pytest.raises(InvalidParameterError, match="neighbours"):
        label_patches(HAND, cell_size_m=100.0, neighbours=6)


CORE_PATCH = np.array(
    [
        [0, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 0, 0],
    ]
)
CORE_1 = np.array(
    [
        [0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ],
    dtype=bool,
)
CORE_2 = np.zeros_like(CORE_1)
CORE_2[2, 2:4] = True


def test_core_area_on_hand_drawn_patch():
    assert_array_equal(core_mask(CORE_PATCH, edge_depth_m=0.0, cell_size_m=10.0), CORE_PATCH.astype(bool))
    assert_array_equal(core_mask(CORE_PATCH, edge_depth_m=10.0, cell_size_m=10.0), CORE_1)
    assert_array_equal(core_mask(CORE_PATCH, edge_depth_m=20.0, cell_size_m=10.0), CORE_2)
    # 15 m is 1.5 cells: rounded up to 2 cells
    assert_array_equal(core_mask(CORE_PATCH, edge_depth_m=15.0, cell_size_m=10.0), CORE_2)
    t = patch_table(CORE_PATCH, cell_size_m=10.0, edge_depth_m=10.0)
    assert_allclose(t[["area_ha", "core_area_ha"]].values, [[23 * 0.01, 10 * 0.01]])


def test_core_area_boundary_counts_as_edge():
    full = np.ones((4, 4), dtype=int)
    expected = np.zeros((4, 4), dtype=bool)
    expected[1:3, 1:3] = True
    assert_array_equal(core_mask(full, edge_depth_m=1.0, cell_size_m=1.0), expected)


def test_core_area_of_two_patches_diagonal_under_4_rule():
    # two 4-neighbour patches touching at a corner erode independently
    grid = np.zeros((6, 6), dtype=int)
    grid[0:3, 0:3] = 1
    grid[3:6, 3:6] = 2
    expected = np.zeros((6, 6), dtype=bool)
    expected[1, 1] = True
    expected[4, 4] = True
    assert_array_equal(core_mask(grid, edge_depth_m=1.0, cell_size_m=1.0), expected)


def test_patch_table_hand_values():
    labels = as_grid(EXPECTED_8, 1000.0)  # 1 km cells: 1 cell = 100 ha = 1 km2
    suit = np.full((5, 5), 0.2)
    suit[0, 0], suit[0, 1], suit[1, 0] = 1.0, 0.8, np.nan
    qual = np.full((5, 5), 0.5)
    qual[0, 4] = 1.0
    sites = pd.DataFrame(
        {
            "site_id": ["LABR", "TB", "gap", "far", "Kyzylkum"],
            "x": [1500.0, 2500.0, 500.0, 99_000.0, 700.0],
            "y": [-500.0, -2500.0, -2500.0, -500.0, -900.0],
        }
    )
    t = patch_table(labels, cell_size_m=1000.0, suitability=suit, quality=qual, sites=sites)
    assert t["patch_id"].tolist() == [1, 2, 3, 4]
    assert t["n_cells"].tolist() == [3, 3, 2, 1]
    assert_allclose(t["area_ha"], [300.0, 300.0, 200.0, 100.0])
    assert_allclose(t["core_area_ha"], t["area_ha"])  # edge depth 0
    assert_allclose(t["mean_suitability"], [0.9, 0.2, 0.2, 0.2])  # NaN cell ignored
    assert_allclose(t["mean_quality"], [0.5, 2 / 3, 0.5, 0.5])
    assert_allclose(t["capacity_deer"], np.array([3, 3, 2, 1]) * DEFAULT_DENSITY_PER_KM2)
    assert t["sites"].tolist() == ["LABR;Kyzylkum", "TB", "", ""]
    assert t["n_sites"].tolist() == [2, 1, 0, 0]


def test_capacity_usable_area_options():
    labels = np.array([[1, 1, 1]])
    qual = np.array([[1.0, 0.5, 0.25]])
    base = {"cell_size_m": 1000.0, "quality": qual, "density_per_km2": 10.0}
    assert_allclose(patch_table(labels, **base)["capacity_deer"], [30.0])
    assert_allclose(patch_table(labels, usable_area="quality_weighted", **base)["capacity_deer"], [17.5])
    assert_allclose(patch_table(labels, usable_area="core_area", edge_depth_m=1.0, **base)["capacity_deer"], [0.0])
    with pytest.raises(InvalidParameterError, match="density"):
        patch_table(labels, cell_size_m=1000.0, density_per_km2=0.0)
    with pytest.raises(InvalidParameterError, match="quality"):
        patch_table(labels, cell_size_m=1000.0, usable_area="quality_weighted")


def test_patch_table_empty_landscape():
    t = patch_table(np.zeros((3, 3), dtype=int), cell_size_m=30.0)
    assert len(t) == 0
    assert "capacity_deer" in t.columns


def test_patch_polygons_areas_and_validity():
    gdf = patch_polygons(as_grid(EXPECTED_8, 100.0), crs="EPSG:32641")
    assert gdf["patch_id"].tolist() == [1, 2, 3, 4]
    assert_allclose(gdf.geometry.area, [3e4, 3e4, 2e4, 1e4])
    assert gdf.geometry.is_valid.all()
    # patch 4 is the single cell at row 4, col 0: x 0..100, y -500..-400
    assert_allclose(gdf.geometry.iloc[3].bounds, (0.0, -500.0, 100.0, -400.0))


def _speckled(seed=0, shape=(40, 50)):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    h = ndimage.binary_dilation(rng.random(shape) < 0.006, iterations=3) | (rng.random(shape) < 0.1)
    lab = label_patches(h, cell_size_m=10.0)
    coords = {"y": 1000.0 - 10 * np.arange(shape[0]) - 5, "x": 10.0 * np.arange(shape[1]) + 5}
    suit = rng.random(shape).astype(np.float32)
    suit[rng.random(shape) < 0.1] = np.nan
    qual = rng.random(shape).astype(np.float32)
    return (xr.DataArray(lab, dims=("y", "x"), coords=coords), xr.DataArray(suit, dims=("y", "x"), coords=coords),
            xr.DataArray(qual, dims=("y", "x"), coords=coords))


@pytest.mark.parametrize("block_shape", [(7, 9), (1, 50), (40, 1), (3, 3)])
def test_patch_table_blockwise_equals_one_block(block_shape):
    lab, suit, qual = _speckled()
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "row": [0, 12, 39], "col": [0, 20, 49]})
    kw = dict(cell_size_m=10.0, suitability=suit, quality=qual, edge_depth_m=20.0, sites=sites,
              usable_area="core_area")
    whole = patch_table(lab, **kw, block_shape=(40, 50))
    blocks = patch_table(lab, **kw, block_shape=block_shape)
    assert len(whole) == int(lab.max()) > 50 and whole["core_area_ha"].sum() > 0.5
    exact = ["patch_id", "n_cells", "area_ha", "core_area_ha", "usable_area_ha", "capacity_deer", "n_sites", "sites"]
    pd.testing.assert_frame_equal(blocks[exact], whole[exact], check_exact=True)
    # float sums of patches across blocks are added block by block (last bits)
    assert_allclose(blocks["mean_suitability"], whole["mean_suitability"], rtol=1e-12)
    assert_allclose(blocks["mean_quality"], whole["mean_quality"], rtol=1e-12)
    # the one-block table is the whole-array formula: bincounts over the grid, core by erosion
    flat = lab.values.ravel()
    ok = np.isfinite(suit.values.ravel())
    with np.errstate(invalid="ignore"):  # a patch without a finite suitability cell: NaN
        mean_s = np.bincount(flat[ok], weights=suit.values.ravel()[ok].astype(np.float64),
                             minlength=len(whole) + 1)[1:] / np.bincount(flat[ok], minlength=len(whole) + 1)[1:]
    assert_array_equal(whole["mean_suitability"].to_numpy(), mean_s)
    core = core_mask(lab.values, edge_depth_m=20.0, cell_size_m=10.0).ravel()
    assert_array_equal(whole["core_area_ha"].to_numpy(), np.bincount(flat[core], minlength=len(whole) + 1)[1:] * 0.01)


@pytest.mark.parametrize("block_shape", [(7, 9), (1, 50), (40, 1), (2, 2)])
def test_patch_polygons_blockwise_equal_one_block(block_shape):
    import shapely

    lab, _, _ = _speckled(seed=1)
    whole = patch_polygons(lab, block_shape=(40, 50))
    blocks = patch_polygons(lab, block_shape=block_shape)
    assert whole["patch_id"].tolist() == blocks["patch_id"].tolist() == list(range(1, int(lab.max()) + 1))
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(whole.geometry, blocks.geometry))
    # each outline covers exactly its cells (100 m2 each)
    assert_allclose(whole.area.to_numpy(), np.bincount(lab.values.ravel())[1:] * 100.0)


def test_label_areas_counts_equal_the_weighted_bincount():
    from scipy import ndimage

    from habitat.suitability.patches import label_areas_m2

    rng = np.random.default_rng(5)
    labels, n = ndimage.label(rng.random((600, 40)) < 0.5)  # more rows than one 256-row strip
    for area in (900.0, 1.0, 0.09, 10000.0 / 3.0):  # integer-valued: counts x area; else the bincount
        expected = np.bincount(labels.ravel(), weights=np.full(labels.size, area), minlength=n + 1)
        np.testing.assert_array_equal(label_areas_m2(labels, n, area), expected)
    per_cell = rng.random(labels.shape) + 1.0
    np.testing.assert_array_equal(label_areas_m2(labels, n, per_cell),
                                  np.bincount(labels.ravel(), weights=per_cell.ravel(), minlength=n + 1))

