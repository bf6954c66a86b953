"""Private kernels: per-unit indicator sums gathered strip by strip, equal to the whole-array ones.

Every quantity the unit indicators need is built from windows of the grid read one strip at a
time: a strip spans the full width of the box it scans, so visiting the strips top to bottom
visits the cells in raster order, and a float sum taken cell by cell in that order is the same
sequence of additions as ``np.bincount`` over the whole array (bit for bit). Patches are labelled
with :func:`habitat.suitability.blockwise.label_blocks` (labels merged across strip seams, ids in
``scipy.ndimage.label`` order), so per-patch arrays come out in the whole-array order too.

Memory: one strip (``strip_cells`` cells, a few tens of bytes each), the strip seams (two int64
rows per strip, ``16 / strip_rows`` bytes a cell), a few numbers per patch, and for the PC/EC
graph the patch-edge cells of one unit (12 bytes each) and its n x n distance matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from habitat.io.strips import STRIP_CELLS
from habitat.io.strips import strip_rows as _strip_rows
from habitat.suitability.blockwise import label_blocks

#: ``read(rows, cols) -> ndarray``: a window of the grid (slices in grid coordinates).
Reader = Callable[[slice, slice], np.ndarray]
Box = tuple[slice, slice]

_EXACT = 2.0**53


def strips(box: Box, strip_cells: int = STRIP_CELLS) -> Iterator[Box]:
    """Full-width strips of ``box`` top to bottom (grid slices)."""
    rows, cols = box
    step = strip_rows(box, strip_cells)
    for r0 in range(rows.start, rows.stop, step):
        yield slice(r0, min(rows.stop, r0 + step)), cols


def strip_rows(box: Box, strip_cells: int = STRIP_CELLS) -> int:
    """Rows of a full-width strip of ``box`` (:func:`habitat.io.strips.strip_rows`)."""
    return _strip_rows(box[1].stop - box[1].start, strip_cells)


def sequential_sum(start: float, values: np.ndarray) -> float:
    """``start + v0 + v1 + ...`` added one at a time (``np.bincount``'s order for one bin)."""
    if values.size == 0:
        return start
    run = np.add.accumulate(np.concatenate((np.array([start], np.float64), np.asarray(values, np.float64))))
    return float(run[-1])


def repeated_sums(area: float, counts: np.ndarray) -> np.ndarray:
    """Sequential float sums of ``counts[i]`` copies of ``area`` (``bincount`` with a constant
    weight), without an array of the largest count."""
    counts = np.asarray(counts, np.int64)
    out = np.zeros(counts.size)
    if counts.size == 0:
        return out
    order = np.argsort(counts, kind="stable")
    chunk = 1 << 20
    run, done = 0.0, 0
    for i in order:
        target = int(counts[i])
        while done < target:
            n = min(chunk, target - done)
            run = float(np.add.accumulate(np.concatenate(([run], np.full(n, area))))[-1])
            done += n
        out[i] = run if target > 0 else 0.0
    return out


def cell_sums(counts: np.ndarray, area: float) -> np.ndarray:
    """Area (m2) of ``counts`` cells of ``area`` m2 each, as the whole-array sums give it.

    ``habitat.suitability.patches.label_areas_m2`` and ``change._sum_by_unit`` multiply the
    count when the cell area is a whole number and the product stays below 2^53 (then the
    sequential float sum is exactly the product); otherwise they add the area cell by cell.
    """
    counts = np.asarray(counts, np.int64)
    area = float(area)
    if area.is_integer():
        out = counts * area
        big = out >= _EXACT
        if big.any():
            out[big] = repeated_sums(area, counts[big])
        return out
    return repeated_sums(area, counts)


#: numpy's pairwise summation: blocks of at most this many values are summed with 8 lanes.
_PW_BLOCK = 128


def _pairwise_leaves(n: int) -> list[tuple[int, int]]:
    """(offset, length) of the blocks numpy's pairwise sum of ``n`` values adds directly, in order."""
    out, stack = [], [(0, int(n))]
    while stack:
        off, m = stack.pop()
        if m <= _PW_BLOCK:
            out.append((off, m))
        else:
            half = m // 2
            half -= half % 8
            stack.append((off + half, m - half))
            stack.append((off, half))
    return out


def _leaf_sums(block: np.ndarray) -> np.ndarray:
    """numpy's direct sum of each row of ``block`` (rows of one length): 8 running lanes, joined
    as ((0+1)+(2+3))+((4+5)+(6+7)), then the rest one by one; under 8 values one by one."""
    m, n = block.shape
    if n < 8:
        res = np.zeros(m)
        for j in range(n):
            res = res + block[:, j]
        return res
    lanes = block[:, :8].copy()
    i = 8
    while i < n - n % 8:
        lanes += block[:, i:i + 8]
        i += 8
    res = ((lanes[:, 0] + lanes[:, 1]) + (lanes[:, 2] + lanes[:, 3])) + \
        ((lanes[:, 4] + lanes[:, 5]) + (lanes[:, 6] + lanes[:, 7]))
    for j in range(i, n):
        res = res + block[:, j]
    return res


class PairwiseSum:
    """``np.sum`` of ``n`` float64 values handed in chunks, in order, bit for bit, without
    holding them: numpy adds a 1-D array by pairwise summation (blocks of <= 128 values summed
    directly, then joined as a binary tree fixed by ``n``), so with ``n`` known up front each
    block is summed as soon as its values have arrived and only the block sums are kept
    (8 bytes per ~100 values)."""

    def __init__(self, n: int) -> None:
        self.n = int(n)
        self.leaves = _pairwise_leaves(self.n) if self.n else []
        self.sums: list[np.ndarray] = []
        self.k = 0
        self.pending = np.zeros(0)

    def add(self, values: np.ndarray) -> None:
        values = np.concatenate((self.pending, np.asarray(values, np.float64)))
        start = self.leaves[self.k][0] if self.k < len(self.leaves) else self.n
        pos, k = 0, self.k
        while k < len(self.leaves) and self.leaves[k][0] + self.leaves[k][1] - start <= values.size:
            length = self.leaves[k][1]
            run = k
            while run < len(self.leaves) and self.leaves[run][1] == length and \
                    self.leaves[run][0] + length - start <= values.size:
                run += 1
            m = run - k
            self.sums.append(_leaf_sums(values[pos:pos + m * length].reshape(m, length)))
            pos += m * length
            k = run
        self.k = k
        self.pending = values[pos:].copy()

    def total(self) -> float:
        if self.n == 0:
            return 0.0
        if self.k != len(self.leaves) or self.pending.size:
            raise ValueError(f"PairwiseSum: {self.n} values announced, a different number handed in")
        sums = iter(np.concatenate(self.sums).tolist())

        def join(m: int) -> float:
            if m <= _PW_BLOCK:
                return next(sums)
            half = m // 2
            half -= half % 8
            left = join(half)
            return left + join(m - half)

        return float(join(self.n))


class UnitPatches:
    """Patches of one boolean window reader inside a box: cells per patch (whole-array order)."""

    def __init__(self, read: Reader, box: Box, *, neighbours: int, strip_cells: int = STRIP_CELLS) -> None:
        (rs, cs) = box
        r_off, c_off = rs.start, cs.start
        shape = (rs.stop - rs.start, cs.stop - cs.start)

        def local(rows: slice, cols: slice) -> np.ndarray:
            return np.asarray(read(slice(rows.start + r_off, rows.stop + r_off),
                                   slice(cols.start + c_off, cols.stop + c_off)), dtype=bool)

        self.labeling = label_blocks(local, shape, neighbours=neighbours,
                                     block_shape=(strip_rows(box, strip_cells), shape[1]))
        self.patch_cells = self.labeling.patch_cells


def patch_edge_points(edges, keep: np.ndarray):
    """Edge cells (rows, cols, 1-based kept ids) of the kept patches, in raster order, from
    ``edges = (rows, cols, 1-based ids)`` of all the patches."""
    rows, cols, edge_ids = edges
    remap = np.zeros(keep.size + 1, np.int64)
    remap[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    ids = remap[edge_ids]
    sel = ids > 0
    return rows[sel], cols[sel], ids[sel]
