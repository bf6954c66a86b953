import numpy as np
import pandas as pd
import pytest

from habitat.errors import InvalidParameterError
from habitat.indicators._landscape import _analyse
from habitat.indicators.fragmentation import class_metrics, landscape_metrics
from habitat.indicators.fragmentation_blockwise import (
    analyse_blockwise,
    class_metrics_blockwise,
    landscape_metrics_blockwise,
)


def _landscape(seed, shape=(40, 37), n_classes=4, nodata=None):
    rng = np.random.default_rng(seed)
    # blobby classes: a coarse random field upsampled, plus noise, so patches cross blocks
    coarse = rng.integers(1, n_classes + 1, (shape[0] // 4 + 1, shape[1] // 4 + 1))
    arr = np.repeat(np.repeat(coarse, 4, 0), 4, 1)[: shape[0], : shape[1]]
    noise = rng.random(shape) < 0.15
    arr[noise] = rng.integers(1, n_classes + 1, noise.sum())
    if nodata is not None:
        arr[rng.random(shape) < 0.05] = nodata
    return arr.astype(np.int16)


def _equal_landscapes(a, b):
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


@pytest.mark.parametrize("neighbours", [8, 4])
@pytest.mark.parametrize("edge_depth", [1, 3])
@pytest.mark.parametrize("seed", range(3))
def test_blockwise_analysis_equals_whole_array(seed, edge_depth, neighbours):
    nodata = -1 if seed % 2 else None
    arr = _landscape(seed, nodata=nodata)
    whole = _analyse(arr, nodata=nodata, neighbours=neighbours, edge_depth=edge_depth)
    for block_shape in [(7, 5), (2, 3), (40, 37)]:
        blk = analyse_blockwise(lambda r, c: arr[r, c], arr.shape, nodata=nodata, neighbours=neighbours,
                                edge_depth=edge_depth, block_shape=block_shape)
        _equal_landscapes(blk, whole)


@pytest.mark.parametrize("count_boundary", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_blockwise_metrics_equal_whole_array(seed, count_boundary):
    nodata = 0 if seed % 2 else None
    arr = _landscape(seed + 100, shape=(43, 38), nodata=nodata)
    kw = dict(cell_size=30.0, nodata=nodata, edge_depth=2, count_boundary=count_boundary)
    whole_c = class_metrics(arr, **kw)
    whole_l = landscape_metrics(arr, **kw)
    got_c = class_metrics_blockwise(arr, block_shape=(7, 5), **kw)
    got_l = landscape_metrics_blockwise(lambda r, c: arr[r, c], arr.shape, block_shape=(9, 4), **kw)
    pd.testing.assert_frame_equal(got_c, whole_c, check_exact=True)
    pd.testing.assert_series_equal(got_l, whole_l, check_exact=True)
    assert np.isfinite(whole_l["ENN_MN"]) and whole_l["TCA"] > 0  # the test exercises ENN and core


def test_blockwise_rejects_all_nodata_and_bad_params():
    arr = np.zeros((5, 5), np.int8)
    with pytest.raises(InvalidParameterError, match="only nodata"):
        class_metrics_blockwise(arr, cell_size=10.0, nodata=0, block_shape=(2, 2))
    with pytest.raises(InvalidParameterError, match="edge_depth"):
        class_metrics_blockwise(arr, cell_size=10.0, edge_depth=0)


def test_without_enn_every_other_column_is_unchanged():
    classes = _landscape(11, shape=(50, 41), n_classes=3, nodata=0)
    kw = dict(cell_size=30.0, nodata=0, neighbours=8, edge_depth=2, block_shape=(9, 13))
    with_enn = class_metrics_blockwise(classes, **kw)
    without = class_metrics_blockwise(classes, enn=False, **kw)
    assert with_enn["ENN_MN"].notna().all() and without["ENN_MN"].isna().all()
    pd.testing.assert_frame_equal(without.drop(columns="ENN_MN"), with_enn.drop(columns="ENN_MN"), check_exact=True)


def test_known_class_values_give_the_same_table_without_their_pass():
    classes = _landscape(12, shape=(31, 29), n_classes=3, nodata=0)
    kw = dict(cell_size=30.0, nodata=0, neighbours=8, edge_depth=2, block_shape=(6, 29), enn=False)
    reads = []

    def read(rows, cols):
        reads.append(rows)
        return classes[rows, cols]

    found = class_metrics_blockwise(read, classes.shape, **kw)
    n_found = len(reads)
    reads.clear()
    given = class_metrics_blockwise(read, classes.shape, class_values=np.array([1, 2, 3], np.int16), **kw)
    pd.testing.assert_frame_equal(given, found, check_exact=True)
    pd.testing.assert_frame_equal(found, class_metrics(classes, cell_size=30.0, nodata=0, edge_depth=2).assign(
        ENN_MN=np.nan), check_exact=True)
    assert len(reads) == n_found - 6  # the six blocks of the pass that finds the classes are not read
