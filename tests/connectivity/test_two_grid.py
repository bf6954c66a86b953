"""Resistance aggregated to the connectivity grid and results brought back (hand-derived)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from habitat.connectivity.two_grid import aggregate_resistance, coarse_grid, coarsen_factor, upsample_nearest
from habitat.errors import ConfigError
from habitat.grid import GridSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def test_harmonic_mean_of_passable_cells_and_majority_impassable_rule():
    nan, inf = np.nan, np.inf
    res = np.array([
        [1, 3, nan, nan, 10],
        [5, 7, inf, 2, 20],
        [nan, 4, 1, 1, nan],
    ])
    # blocks of 2 x 2; the last column and row are partial (edge blocks count only inside cells)
    expected = np.array([
        [4 / (1 + 1 / 3 + 1 / 5 + 1 / 7), nan, 2 / (1 / 10 + 1 / 20)],  # 3 of 4 impassable: NaN
        [4.0, 1.0, nan],     # 1 of 2 impassable: not more than half -> 4 alone; 2 / (1 + 1); 1 of 1 impassable
    ])
    np.testing.assert_allclose(aggregate_resistance(res, 2), expected, rtol=1e-15)


def test_a_one_cell_strip_keeps_a_block_cheap():
    # a strip of resistance 1 through desert (100): mean conductance (1 + 0.01) / 2 per block
    res = np.array([[1.0, 1.0, 1.0, 1.0], [100.0, 100.0, 100.0, 100.0]])
    np.testing.assert_allclose(aggregate_resistance(res, 2), [[4 / 2.02, 4 / 2.02]])


def test_half_impassable_stays_passable_and_factor_one_is_identity():
    res = np.array([[np.nan, 2.0], [np.inf, 4.0]])
    np.testing.assert_allclose(aggregate_resistance(res, 2), [[2 / (1 / 2 + 1 / 4)]])
    np.testing.assert_array_equal(aggregate_resistance(res, 1), [[np.nan, 2.0], [np.nan, 4.0]])


def test_upsample_repeats_and_crops():
    np.testing.assert_array_equal(upsample_nearest(np.array([[1, 2], [3, 4]]), 2, (3, 3)),
                                  [[1, 1, 2], [1, 1, 2], [3, 3, 4]])


def test_coarse_grid_cells_are_blocks_of_fine_cells():
    fine = GridSpec.create("EPSG:32642", (30.0, 0, 1000.0, 0, -30.0, 5000.0), (7, 10))
    coarse = coarse_grid(fine, 3)
    assert coarse.shape == (3, 4) and coarse.transform == (90.0, 0, 1000.0, 0, -90.0, 5000.0)
    assert coarsen_factor(30, 300) == 10 and coarsen_factor(30, None) == 1
    with pytest.raises(ConfigError, match="grid.connectivity_resolution_m: 100 is not a whole multiple"):
        coarsen_factor(30, 100)


# --- block-wise (strip by strip, lazy) reductions equal the whole-array ones exactly ----------

def _lazy(a, chunk):
    import dask.array as da
    return da.from_array(a, chunks=chunk)


def _landscape(shape=(23, 31), seed=3):
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, shape)
    res[rng.random(shape) < 0.2] = np.nan
    res[rng.random(shape) < 0.05] = np.inf
    labels = np.where(rng.random(shape) < 0.5, rng.integers(1, 6, shape), 0).astype(np.int32)
    return res, labels


def _whole_aggregate(res, factor):
    # the rule on the whole array at once (blocks of the padded grid), as before block-wise reading
    from habitat.connectivity.two_grid import _aggregate_strip
    return _aggregate_strip(res, factor)


class _Recording:
    """An array that records the rows of every read (a stand-in for a file-backed layer)."""

    def __init__(self, values):
        self.values, self.shape, self.dtype, self.ndim = values, values.shape, values.dtype, values.ndim
        self.rows_read: list[int] = []

    def __getitem__(self, key):
        out = self.values[key]
        self.rows_read.append(out.shape[0])
        return out


@pytest.mark.parametrize("factor", [1, 3])
def test_lazy_strips_read_bounded_windows_of_a_single_chunk(monkeypatch, factor):
    # one dask chunk holding the whole grid: each read still asks the source for one window of
    # whole strips (a row of chunks as wide as the grid grew with the grid's width)
    import dask.array as da
    import habitat.connectivity.two_grid as tg
    res, _ = _landscape()
    source = _Recording(res)
    monkeypatch.setattr(tg, "_STRIP_CELLS", 40)
    monkeypatch.setattr(tg, "_READ_CELLS", 200)
    strips = list(tg.iter_strips([da.from_array(source, chunks=res.shape)], factor))
    step = max(1, 40 // res.shape[1] // factor) * factor
    window = step * max(1, 200 // (res.shape[1] * step))
    assert window < res.shape[0]
    assert source.rows_read and max(source.rows_read) <= window
    assert [r0 for r0, _ in strips] == list(range(0, res.shape[0], step))
    np.testing.assert_array_equal(np.concatenate([s[0] for _, s in strips]), res)
    np.testing.assert_array_equal(tg.aggregate_resistance(da.from_array(source, chunks=res.shape), max(factor, 2)),
                                  _whole_aggregate(res, max(factor, 2)))


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("chunk", [2, 5, 7, 64])
def test_lazy_strips_give_the_whole_array_aggregates(monkeypatch, factor, chunk):
    import habitat.connectivity.two_grid as tg
    from habitat.connectivity.two_grid import aggregate_labels, block_any, iter_strips
    res, labels = _landscape()
    monkeypatch.setattr(tg, "_STRIP_CELLS", 40)  # strips of a few rows: blocks that do not divide the grid
    monkeypatch.setattr(tg, "_READ_CELLS", 150)  # windows of a few strips, across chunk edges
    strips = list(iter_strips([_lazy(res, chunk)], factor))
    assert all(s[0].shape[0] % factor == 0 for _, s in strips[:-1])
    np.testing.assert_array_equal(np.concatenate([s[0] for _, s in strips]), res)
    if factor > 1:
        np.testing.assert_array_equal(tg.aggregate_resistance(_lazy(res, chunk), factor), _whole_aggregate(res, factor))
    else:
        np.testing.assert_array_equal(tg.aggregate_resistance(_lazy(res, chunk), 1), np.where(np.isinf(res), np.nan, res))
    # majority label by counting every label over whole padded blocks
    h, w = -(-res.shape[0] // factor), -(-res.shape[1] // factor)
    expected = np.zeros((h, w), np.int32)
    for i in range(h):
        for j in range(w):
            block = labels[i * factor:(i + 1) * factor, j * factor:(j + 1) * factor]
            counts = np.bincount(block.ravel(), minlength=6)[1:]
            expected[i, j] = 0 if counts.max() == 0 else int(np.argmax(counts)) + 1  # argmax: lowest label on ties
            assert block_any(_lazy(labels == 2, chunk), factor)[i, j] == (block == 2).any()
    np.testing.assert_array_equal(aggregate_labels(_lazy(labels, chunk), factor), expected)
    np.testing.assert_array_equal(aggregate_labels(labels, factor), expected)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.7, 1.0])
def test_masked_quantile_equals_numpy_quantile(monkeypatch, q):
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape((41, 37))
    res[:5] = 7.0  # many ties
    res[5, :3] = [-2.5, -0.0, 0.0]  # negatives and signed zeros keep their order
    expected = np.quantile(res[(labels > 0) & np.isfinite(res)], q)
    monkeypatch.setattr(tg, "_STRIP_CELLS", 50)
    assert tg.masked_quantile(_lazy(res, 9), _lazy(labels, 9), q) == expected
    # radix passes: at most 3 candidates kept, so every 16-bit pass of the key is needed
    assert tg.masked_quantile(res, labels, q, max_candidates=3) == expected
    assert tg.masked_quantile(res, labels > 0, q, max_candidates=0) == expected
    assert tg.masked_quantile(res, np.zeros_like(labels), q) is None


def test_count_finite_and_patch_cells_equal_the_whole_array(monkeypatch):
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape()
    monkeypatch.setattr(tg, "_STRIP_CELLS", 33)
    assert tg.count_finite(_lazy(res, 6)) == int(np.isfinite(res).sum())
    ids = [4, 1, 5]
    for factor in (1, 2, 3):
        patch, cell = tg.patch_coarse_cells(_lazy(labels, 7), ids, factor, -(-labels.shape[1] // factor))
        expected = set()
        for r, c in zip(*np.nonzero(np.isin(labels, ids))):
            expected.add((ids.index(int(labels[r, c])), (r // factor) * -(-labels.shape[1] // factor) + c // factor))
        assert sorted(zip(patch.tolist(), cell.tolist())) == sorted(expected)
        assert len(patch) == len(expected)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_patch_sums_are_bit_for_bit_the_whole_grid_bincount(monkeypatch, factor):
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape()
    rng = np.random.default_rng(1)
    coarse = rng.uniform(0, 1, (-(-res.shape[0] // factor), -(-res.shape[1] // factor))) / 3.0
    coarse[0, 0] = np.nan
    fine = upsample_nearest(coarse, factor, res.shape)
    fine[~np.isfinite(res)] = np.nan
    expected = np.bincount(labels.ravel(), weights=np.nan_to_num(fine).ravel(), minlength=labels.max() + 1)
    monkeypatch.setattr(tg, "_STRIP_CELLS", 37)
    sums, counts = tg.patch_sums(_lazy(labels, 5), coarse, factor, _lazy(res, 5))
    np.testing.assert_array_equal(sums, expected)  # exact: same order of additions
    np.testing.assert_array_equal(counts, np.bincount(labels.ravel()))


@pytest.mark.parametrize("chunk", [4, 9])
def test_upsample_lazy_is_grain_back(chunk):
    from habitat.connectivity.two_grid import Grain, upsample_lazy, upsample_nearest
    res, _ = _landscape()
    grid = GridSpec.create("EPSG:32642", (30.0, 0, 0.0, 0, -30.0, 0.0), res.shape)
    grain = Grain.of(grid, 3, res)
    coarse = np.arange(8 * 11, dtype=np.float32).reshape(8, 11)
    want = upsample_nearest(coarse, 3, res.shape)
    want[~np.isfinite(res)] = np.nan  # each coarse value over its block, NaN on fine impassable cells
    np.testing.assert_array_equal(grain.back(coarse, np.nan), want)
    lazy = upsample_lazy(coarse, 3, _lazy(res, chunk), np.nan)
    np.testing.assert_array_equal(lazy.compute(), grain.back(coarse, np.nan))
    np.testing.assert_array_equal(upsample_lazy(coarse, 3, res, np.nan), grain.back(coarse, np.nan))
    keep = np.where(np.arange(res.shape[1]) % 2 == 0, 1.0, np.nan) * np.ones(res.shape)
    expected = np.where(np.isfinite(keep), grain.back(coarse, np.nan), np.nan)
    np.testing.assert_array_equal(upsample_lazy(coarse, 3, _lazy(res, chunk), np.nan, keep=_lazy(keep, chunk)).compute(),
                                  expected)
    reach = upsample_lazy(np.ones((8, 11), np.uint8), 3, _lazy(res, chunk), 0).compute()
    assert reach.dtype == np.uint8 and (reach == np.isfinite(res)).all()


def test_population_cores_blockwise_equal_population_cores(monkeypatch):
    import geopandas as gpd
    import shapely
    from affine import Affine
    import habitat.connectivity.two_grid as tg
    from habitat.connectivity.populations import population_cores, site_areas, site_areas_window, focal_cells
    res, labels = _landscape((40, 50))
    transform = Affine(10.0, 0, 0.0, 0, -10.0, 400.0)
    x = 5.0 + 10.0 * np.arange(50)
    y = 395.0 - 10.0 * np.arange(40)
    pops = gpd.GeoDataFrame(geometry=[shapely.Point(100, 300), shapely.box(300, 100, 380, 170), shapely.Point(130, 280),
                                      shapely.Point(450, 30), shapely.box(241, 201, 243, 203)])
    points = np.array([[100, 300], [340, 135], [130, 280], [450, 30], [242, 202]], float)
    habitat = labels > 2
    habitat[:, 36:] = False  # the site at (450, 30) has no habitat: it keeps every passable cell
    areas = site_areas(pops, res.shape, transform)
    expected = population_cores(points, res, x, y, 60.0, habitat=habitat, areas=areas)
    window = site_areas_window(pops, res.shape, transform)
    np.testing.assert_array_equal(window[2], areas[window[0]:window[0] + window[2].shape[0],
                                                   window[1]:window[1] + window[2].shape[1]])
    monkeypatch.setattr(tg, "_STRIP_CELLS", 120)
    for chunk in (7, 16):
        cores, present, with_habitat = tg.population_cores_blockwise(
            points, _lazy(res, chunk), x, y, 60.0, habitat=_lazy(habitat, chunk), areas=window)
        np.testing.assert_array_equal(cores.compute(), expected)
        assert present == {int(v) for v in np.unique(expected) if v > 0}
        assert 4 in present and 4 not in with_habitat and {1, 2, 3} <= with_habitat
    cores, _, _ = tg.population_cores_blockwise(points, res, x, y, 60.0, habitat=habitat, areas=window)
    np.testing.assert_array_equal(cores, expected)
    for factor in (2, 3, 7):  # overlapping windows, widened to blocks, blocks across the grid's edge
        *_, coarse = tg.population_cores_blockwise(points, _lazy(res, 16), x, y, 60.0, habitat=_lazy(habitat, 16),
                                                   areas=window, coarse_factor=factor)
        np.testing.assert_array_equal(coarse, tg.aggregate_labels(expected, factor))
    # focal cells from the cells read strip by strip
    found = tg.label_cells(_lazy(expected, 6), 5)
    assert focal_cells(points, None, x, y, cells=found) == focal_cells(points, expected, x, y)


# --- how often the fine rasters are read (grids of billions of cells: each pass is a file read) ---

def _counted(values, chunk):
    import dask.array as da
    from conftest import CellReads
    source = CellReads(values)
    return source, da.from_array(source, chunks=chunk)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_summarize_fine_reads_each_cell_once_and_equals_the_functions(monkeypatch, factor):
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape((41, 37))
    monkeypatch.setattr(tg, "_STRIP_CELLS", 50)
    monkeypatch.setattr(tg, "_READ_CELLS", 200)
    res_src, res_lazy = _counted(res, 9)
    lab_src, lab_lazy = _counted(labels, 9)
    ids = [4, 1, 5]
    fine = tg.summarize_fine(res_lazy, lab_lazy, factor, patch_ids=ids, q=0.5)
    # one pass: every cell of both rasters read once (before: 1 + 3 + 1 + 1 passes of the
    # resistance for aggregate, median, count and patch cells)
    np.testing.assert_array_equal(res_src.reads, 1)
    np.testing.assert_array_equal(lab_src.reads, 1)
    np.testing.assert_array_equal(fine.resistance, tg.aggregate_resistance(res, factor))
    assert fine.finite_cells == tg.count_finite(res) == int(np.isfinite(res).sum())
    assert fine.quantile == np.quantile(res[(labels > 0) & np.isfinite(res)], 0.5)
    cols = -(-res.shape[1] // factor)
    for got, want in zip(fine.patch_cells, tg.patch_coarse_cells(labels, ids, factor, cols)):
        np.testing.assert_array_equal(got, want)
    assert tg.summarize_fine(res, labels, factor, patch_ids=ids).quantile is None  # not asked for


@pytest.mark.parametrize("factor", [1, 2])
def test_summarize_fine_quantile_passes_when_distinct_values_overflow(monkeypatch, factor):
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape((41, 37))
    monkeypatch.setattr(tg, "_STRIP_CELLS", 50)
    res_src, res_lazy = _counted(res, 9)
    lab_src, lab_lazy = _counted(labels, 9)
    fine = tg.summarize_fine(res_lazy, lab_lazy, factor, patch_ids=[1], q=0.3, max_candidates=0)
    assert fine.quantile == np.quantile(res[(labels > 0) & np.isfinite(res)], 0.3)
    # float64 keys, nothing kept: the radix passes of 16 bits, the two ranks in the same passes
    # (at most 4 in all); at factor 1 the resistance is in memory after the first
    assert 1 < lab_src.reads.max() <= 4 and (lab_src.reads == lab_src.reads.flat[0]).all()
    assert res_src.reads.max() == (1 if factor == 1 else lab_src.reads.max())


def test_masked_quantile_reads_once_with_few_distinct_values_and_twice_for_float32():
    import habitat.connectivity.two_grid as tg
    res, labels = _landscape((41, 37))
    classes = np.where(np.isfinite(res), np.round(res / 10.0) * 10.0 + 1.0, res)  # 11 resistances
    # float32 values: more distinct ones than kept, but those sharing the top 16 bits of the key
    # fit (as at most 2**19 do with the default max_candidates): one more pass
    values32 = res.astype(np.float32)
    assert np.unique(values32[(labels > 0) & np.isfinite(values32)]).size > 64
    for values, cap, passes in ((classes, 1 << 20, 1), (values32, 64, 2)):
        res_src, res_lazy = _counted(values, 9)
        lab_src, lab_lazy = _counted(labels, 9)
        for q in (0.0, 0.5, 0.77, 1.0):
            res_src.reads[:] = lab_src.reads[:] = 0
            expected = np.quantile(values[(labels > 0) & np.isfinite(values)].astype(np.float64), q)
            assert tg.masked_quantile(res_lazy, lab_lazy, q, max_candidates=cap) == expected
            # before: a counting pass, then at least one more per order statistic (3 to 11)
            np.testing.assert_array_equal(res_src.reads, passes)
            np.testing.assert_array_equal(lab_src.reads, passes)


def test_masked_quantile_random_values_and_caps():
    import habitat.connectivity.two_grid as tg
    rng = np.random.default_rng(7)
    for _ in range(20):
        shape = tuple(rng.integers(1, 30, 2))
        values = rng.choice([rng.normal(0, 1e3, shape), rng.integers(-3, 4, shape).astype(float),
                             rng.uniform(1, 2, shape).astype(np.float32).astype(float)])
        mask = rng.random(shape) < 0.6
        q = float(rng.choice([0.0, 1.0, rng.random()]))
        want = np.quantile(values[mask], q) if mask.any() else None
        for cap in (0, 1, 5, 1 << 20):
            assert tg.masked_quantile(values, mask, q, max_candidates=cap) == want


def test_population_cores_blockwise_reads_only_the_chunks_near_sites():
    import habitat.connectivity.two_grid as tg
    from habitat.connectivity.populations import population_cores
    res, labels = _landscape((40, 50))
    x = 5.0 + 10.0 * np.arange(50)
    y = 395.0 - 10.0 * np.arange(40)
    points = np.array([[25.0, 375.0], [65.0, 385.0]])  # near cells (2, 2) and (1, 6)
    res_src, res_lazy = _counted(res, 10)
    lab_src, lab_lazy = _counted(labels, 10)
    cores, present, _, coarse = tg.population_cores_blockwise(points, res_lazy, x, y, 25.0, habitat=lab_lazy,
                                                              coarse_factor=3)
    expected = population_cores(points, res, x, y, 25.0, habitat=labels > 0)
    np.testing.assert_array_equal(cores.compute(), expected)
    np.testing.assert_array_equal(coarse, tg.aggregate_labels(expected, 3))  # from the sites' windows
    # the first pass reads the windows around the sites; the cores read the chunks that meet them
    # (before: every cell, twice)
    assert present == {1, 2}
    far = np.ones(res.shape, bool)
    far[:12, :12] = False  # chunk (0, 0), and the windows widened to blocks of 3 for the coarse cores
    assert res_src.reads[far].max() == 0 and lab_src.reads[far].max() == 0
    # another set of sites on the same rasters is another dask array (computed together, as written)
    import dask
    moved, *_ = tg.population_cores_blockwise(points + 10.0, res_lazy, x, y, 25.0, habitat=lab_lazy)
    both = dask.compute(cores, moved)
    np.testing.assert_array_equal(both[0], expected)
    np.testing.assert_array_equal(both[1], population_cores(points + 10.0, res, x, y, 25.0, habitat=labels > 0))
