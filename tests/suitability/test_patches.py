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
