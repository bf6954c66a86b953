import numpy as np
import pytest
from scipy import ndimage

from habitat.blocks import iter_blocks, map_blocks
from habitat.errors import InvalidParameterError


def test_iter_blocks_cover_shape():
    seen = np.zeros((7, 5), int)
    for rows, cols in iter_blocks((7, 5), (3, 2)):
        seen[rows, cols] += 1
    np.testing.assert_array_equal(seen, np.ones((7, 5), int))


def test_per_cell_op_blockwise_equals_whole():
    rng = np.random.default_rng(1)
    a, b = rng.random((11, 9)), rng.random((11, 9))
    op = lambda x, y: np.sqrt(x) * 0.7 + y**2  # noqa: E731
    np.testing.assert_array_equal(map_blocks(op, a, b, block_shape=(3, 3)), op(a, b))


def test_neighbourhood_op_with_halo_equals_whole():
    a = np.random.default_rng(2).random((13, 10))

    def mean3(x):
        return ndimage.uniform_filter(x, size=5, mode="constant", cval=np.nan)

    np.testing.assert_allclose(map_blocks(mean3, a, halo=2, block_shape=(3, 3)), mean3(a), equal_nan=True)


def test_shape_mismatch_is_an_error():
    with pytest.raises(InvalidParameterError):
        map_blocks(np.add, np.zeros((2, 2)), np.zeros((2, 3)))
