import numpy as np
import pytest
from scipy import ndimage

from habitat.errors import InvalidParameterError
from habitat.suitability.blockwise import label_blocks, label_patches_blockwise
from habitat.suitability.patches import label_patches


def _assemble(blocks, shape):
    out = np.full(shape, -1, np.int64)
    for rows, cols, blk in blocks:
        assert blk.dtype == np.int32
        out[rows, cols] = blk
    return out


@pytest.mark.parametrize("neighbours", [8, 4])
@pytest.mark.parametrize("seed", range(6))
def test_blockwise_labels_equal_whole_array(seed, neighbours):
    rng = np.random.default_rng(seed)
    mask = rng.random((40, 37)) < [0.35, 0.5, 0.6][seed % 3]
    expected = label_patches(mask, cell_size_m=10.0, neighbours=neighbours)
    for block_shape in [(7, 5), (1, 1), (40, 37), (3, 11)]:
        blocks, table = label_patches_blockwise(mask, cell_size_m=10.0, neighbours=neighbours,
                                                block_shape=block_shape)
        got = _assemble(blocks, mask.shape)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(table["n_cells"], np.bincount(expected.ravel())[1:])


def test_snake_spanning_many_blocks_is_one_patch():
    # a serpentine path crosses every block seam many times: one patch, id 1
    mask = np.zeros((21, 20), bool)
    mask[::4, :19] = True
    mask[2::4, 1:] = True
    mask[1::4, 18] = True
    mask[3::4, 1] = True
    blocks, table = label_patches_blockwise(mask, cell_size_m=1.0, block_shape=(3, 4))
    got = _assemble(blocks, mask.shape)
    assert set(np.unique(got)) == {0, 1}
    np.testing.assert_array_equal(got, mask.astype(np.int64))
    assert table["n_cells"].tolist() == [int(mask.sum())]


def test_diagonal_contact_across_block_corner():
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = mask[2, 2] = True  # cells in diagonal blocks of a 2x2 blocking
    for conn, n in ((8, 1), (4, 2)):
        blocks, _ = label_patches_blockwise(mask, cell_size_m=1.0, neighbours=conn, block_shape=(2, 2))
        got = _assemble(blocks, mask.shape)
        assert got.max() == n
        np.testing.assert_array_equal(got, label_patches(mask, cell_size_m=1.0, neighbours=conn))
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = mask[2, 1] = True  # anti-diagonal contact across the corner
    blocks, _ = label_patches_blockwise(mask, cell_size_m=1.0, block_shape=(2, 2))
    assert _assemble(blocks, mask.shape).max() == 1


@pytest.mark.parametrize("seed", range(3))
def test_min_area_filter_and_per_patch_sums(seed):
    rng = np.random.default_rng(seed + 10)
    mask = rng.random((40, 37)) < 0.45
    suit = rng.random(mask.shape)
    suit[rng.random(mask.shape) < 0.1] = np.nan
    cs = 100.0  # 1 ha cells
    expected = label_patches(mask, cell_size_m=cs, min_patch_area_ha=3.0)
    blocks, table = label_patches_blockwise(
        lambda r, c: mask[r, c], mask.shape, cell_size_m=cs, min_patch_area_ha=3.0, block_shape=(7, 5),
        sums={"suitability": lambda r, c: suit[r, c]},
    )
    got = _assemble(blocks, mask.shape)
    np.testing.assert_array_equal(got, expected)
    n = expected.max()
    ok = np.isfinite(suit)
    whole_sum = np.bincount(expected[ok], weights=suit[ok], minlength=n + 1)[1:]
    np.testing.assert_allclose(table["sum_suitability"], whole_sum, rtol=1e-12)
    np.testing.assert_array_equal(table["area_ha"], np.bincount(expected.ravel())[1:] * 1.0)


def test_multi_class_labelling_orders_class_then_raster():
    rng = np.random.default_rng(3)
    cidx = rng.integers(0, 4, (40, 37)).astype(np.uint8)  # 3 = nodata
    labeling = label_blocks(lambda r, c: cidx[r, c], cidx.shape, n_classes=3, block_shape=(7, 5))
    # whole-array reference: per class ndimage.label, ids offset class by class
    offset, classes, cells = 0, [], []
    for k in range(3):
        lab, n = ndimage.label(cidx == k, structure=np.ones((3, 3)))
        cells.append(np.bincount(lab.ravel(), minlength=n + 1)[1:])
        classes.append(np.full(n, k))
        offset += n
    assert labeling.n_patches == offset
    np.testing.assert_array_equal(labeling.patch_class, np.concatenate(classes))
    np.testing.assert_array_equal(labeling.patch_cells, np.concatenate(cells))


def test_bad_neighbours():
    with pytest.raises(InvalidParameterError, match="neighbours"):
        label_blocks(lambda r, c: np.ones((1, 1)), (1, 1), neighbours=6)
