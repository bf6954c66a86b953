"""Fragmentation metrics from per-block partial results, for rasters larger than memory.

The same metrics as :mod:`habitat.indicators.fragmentation` (FRAGSTATS names and conventions),
gathered block by block: patches are labelled per block and merged at block seams
(:func:`habitat.suitability.blockwise.label_blocks`), and every per-patch quantity the metrics
need is a sum of per-block partials:

- area (cells) and perimeter (cell sides against another class, nodata or the raster edge):
  counts per block; the 1-cell halo supplies the neighbours across seams;
- core area: cells that survive ``edge_depth`` erosions, computed in a block read with a halo
  of ``edge_depth`` cells (the erosion of a cell depends only on cells within that distance);
- class adjacency (TE/ED): each cell with its right and lower neighbour, across seams too;
- ENN: only patch-edge cells can be the nearest cells of two patches, so their coordinates and
  patch ids are kept (a few bytes per edge cell, not per cell) and one k-d tree per class is
  queried in chunks, as in the whole-array code.

The per-patch arrays come out in the whole-array patch order, and the metric formulas are the
whole-array ones (``_class_frame``, ``_landscape_series``), so the results are equal.
Memory: one block with its halo, the seam rows and columns, a few numbers per patch and per
edge cell; not proportional to the grid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import ndimage

from habitat.errors import InvalidParameterError
from habitat.indicators._landscape import _enn_by_class, _Landscape, _same
from habitat.indicators.fragmentation import _class_frame, _landscape_series, _validate
from habitat.suitability.blockwise import DEFAULT_BLOCK_SHAPE, LabelledBlock, label_blocks

__all__ = ["analyse_blockwise", "class_metrics_blockwise", "landscape_metrics_blockwise"]

Reader = Callable[[slice, slice], np.ndarray]
_CROSS = ndimage.generate_binary_structure(2, 1)


def _as_reader(classes) -> tuple[Reader, tuple[int, int]]:
    if callable(classes):
        raise InvalidParameterError("pass (reader, shape) as classes=reader, shape=(rows, cols)")
    arr = classes
    return (lambda rows, cols: np.asarray(arr[rows, cols])), tuple(arr.shape)


def _blocks(shape, block_shape):
    for r0 in range(0, shape[0], block_shape[0]):
        for c0 in range(0, shape[1], block_shape[1]):
            yield slice(r0, min(shape[0], r0 + block_shape[0])), slice(c0, min(shape[1], c0 + block_shape[1]))


def _class_values(read: Reader, shape, block_shape, nodata) -> np.ndarray:
    """Sorted class values present (nodata excluded), from a pass over the blocks."""
    present: set = set()
    dtype = None
    for rows, cols in _blocks(shape, block_shape):
        blk = read(rows, cols)
        dtype = blk.dtype
        vals = blk if nodata is None else blk[blk != nodata]
        present.update(np.unique(vals).tolist())
    return np.array(sorted(present), dtype=dtype)


def _index(blk: np.ndarray, class_values: np.ndarray, nodata) -> np.ndarray:
    """Class index 0..K-1 of each cell, K for nodata (as ``_landscape._class_index``)."""
    k = class_values.size
    dtype = np.uint8 if k < 255 else (np.uint16 if k < 65535 else np.uint32)
    idx = np.searchsorted(class_values, blk).astype(dtype)
    idx[idx >= k] = k
    if nodata is not None:
        idx[blk == nodata] = k
    return idx


def analyse_blockwise(
    read: Reader,
    shape: tuple[int, int],
    *,
    nodata=None,
    neighbours: int = 8,
    edge_depth: int = 1,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
    enn: bool = True,
    class_values: np.ndarray | None = None,
    edges_of: int | None = None,
) -> _Landscape:
    """Per-class and per-patch counts of a landscape, gathered block by block.

    Parameters
    ----------
    read : callable
        ``read(rows, cols)`` returns the integer class codes of a window.
    shape : (int, int)
        Raster shape.
    nodata, neighbours, edge_depth
        As :func:`habitat.indicators.fragmentation.class_metrics`.
    block_shape : (int, int)
        Cells per block.
    enn : bool
        Keep the patch-edge cells and measure ENN (12 bytes per edge cell of every class until
        the k-d trees are built); False leaves ``patch_enn`` NaN and keeps no edge cells.
    class_values : ndarray, optional
        The sorted class codes present (nodata left out), when the caller knows them: saves
        the pass over the raster that finds them. Must be exactly the codes present.
    edges_of : int, optional
        A class index (into ``class_values``) whose patch-edge cells (a 4-neighbour of another
        class, nodata or outside the raster) are kept in ``edges``, so that a caller needing
        them does not label the raster again.

    Returns
    -------
    _Landscape
        Equal to the whole-array analysis (same patch order).
    """
    height, width = int(shape[0]), int(shape[1])
    bh, bw = int(block_shape[0]), int(block_shape[1])
    if class_values is None:
        class_values = _class_values(read, (height, width), (bh, bw), nodata)
    n_classes = class_values.size
    nk = n_classes + 1
    halo = int(edge_depth)

    adjacency = np.zeros(nk * nk, np.int64)
    border = np.zeros(nk, np.int64)
    n_valid = 0
    sides_parts, core_parts = [], []
    edge_rows, edge_cols, edge_prov = [], [], []

    def read_index(rows: slice, cols: slice) -> np.ndarray:
        return _index(np.asarray(read(rows, cols)), class_values, nodata)

    def gather(block: LabelledBlock) -> None:
        nonlocal adjacency, border, n_valid
        ext, (ri, ci), prov = block.ext, block.inner, block.provisional
        nsame = _same(ext)
        interior = (nsame == 4) & (ext != n_classes)
        if edge_depth > 1:
            # Only interior cells can be core; eroding them per class with the 4-neighbour
            # cross equals FRAGSTATS' per-patch erosion (as in the whole-array code).
            interior = ndimage.binary_erosion(interior, structure=_CROSS, iterations=edge_depth - 1, border_value=0)
        ndiff = 4 - nsame[ri, ci]
        sides_parts.append(block.local_sums(ndiff))
        core_parts.append(block.local_sums(interior[ri, ci]))
        if enn or edges_of is not None:
            sel = (ndiff > 0) & (prov > 0)
            if not enn:
                sel &= ext[ri, ci] == edges_of
            rr, cc = np.nonzero(sel)
            edge_rows.append((rr + block.r0).astype(np.int32))
            edge_cols.append((cc + block.c0).astype(np.int32))
            ids = prov[rr, cc]
            edge_prov.append(ids.astype(np.int32) if block.offset + block.n < 2**31 else ids)
        blk = ext[ri, ci]
        n_valid += int(np.count_nonzero(blk != n_classes))
        h, w = blk.shape
        r0, c0 = block.r0, block.c0
        # each cell with its right and lower neighbour, when that neighbour is in the raster
        wr = w if c0 + w < width else w - 1
        if wr > 0:
            a = blk[:, :wr]
            b = ext[ri.start : ri.stop, ci.start + 1 : ci.start + 1 + wr]
            diff = a != b
            adjacency += np.bincount(a[diff].astype(np.int64) * nk + b[diff], minlength=nk * nk)
        hr = h if r0 + h < height else h - 1
        if hr > 0:
            a = blk[:hr]
            b = ext[ri.start + 1 : ri.start + 1 + hr, ci.start : ci.stop]
            diff = a != b
            adjacency += np.bincount(a[diff].astype(np.int64) * nk + b[diff], minlength=nk * nk)
        # raster-boundary lines (corners counted on both lines, as the whole-array code)
        if r0 == 0:
            border += np.bincount(blk[0], minlength=nk)
        if r0 + h == height:
            border += np.bincount(blk[-1], minlength=nk)
        if c0 == 0:
            border += np.bincount(blk[:, 0], minlength=nk)
        if c0 + w == width:
            border += np.bincount(blk[:, -1], minlength=nk)

    labeling = label_blocks(
        read_index, (height, width), neighbours=neighbours, block_shape=(bh, bw),
        n_classes=n_classes, halo=halo, on_block=gather,
    )
    patch_class = labeling.patch_class
    sides = labeling.reduce(np.concatenate(sides_parts).astype(np.float64))
    core = labeling.reduce(np.concatenate(core_parts).astype(np.float64)).astype(np.int64)
    adjacency = adjacency.reshape(nk, nk)
    adjacency = adjacency + adjacency.T

    patch_enn, edges = np.full(patch_class.size, np.nan), None
    if enn or edges_of is not None:
        rows = np.concatenate(edge_rows) if edge_rows else np.empty(0, np.int32)
        cols = np.concatenate(edge_cols) if edge_cols else np.empty(0, np.int32)
        elab = labeling.final_of_provisional[np.concatenate(edge_prov)] if edge_prov else np.empty(0, np.int64)
        del edge_rows, edge_cols, edge_prov
        if enn:
            patch_enn = _enn_by_class(rows, cols, elab, patch_class, n_classes)
        if edges_of is not None:
            mine = patch_class[elab - 1] == edges_of
            edges = (rows[mine], cols[mine], elab[mine])
    return _Landscape(
        class_values=class_values,
        n_valid=n_valid,
        patch_class=patch_class,
        patch_cells=labeling.patch_cells,
        patch_sides=sides,
        patch_core=core,
        patch_enn=patch_enn,
        adjacency=adjacency,
        border_sides=border[:n_classes],
        edges=edges,
    )


def _checked(classes, shape, cell_size, nodata, neighbours, edge_depth, block_shape, enn=True, class_values=None,
             edges_of=None):
    if callable(classes):
        if shape is None:
            raise InvalidParameterError("shape is required when classes is a reader function")
        read = classes
    else:
        read, shape = _as_reader(classes)
    sample = np.asarray(read(slice(0, min(shape[0], 2)), slice(0, min(shape[1], 2))))
    _validate(sample, cell_size, nodata, neighbours, edge_depth)
    land = analyse_blockwise(
        read, shape, nodata=None if nodata is None else int(nodata), neighbours=int(neighbours),
        edge_depth=int(edge_depth), block_shape=block_shape, enn=enn, class_values=class_values,
        edges_of=edges_of,
    )
    if land.n_valid == 0:
        raise InvalidParameterError(
            f"classes holds only nodata ({nodata!r}); check the nodata value or the study-area crop"
        )
    return land


def class_metrics_blockwise(
    classes,
    shape: tuple[int, int] | None = None,
    *,
    cell_size: float,
    nodata: int | None = None,
    neighbours: int = 8,
    edge_depth: int = 1,
    count_boundary: bool = False,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
    enn: bool = True,
    class_values: np.ndarray | None = None,
) -> pd.DataFrame:
    """Block-wise :func:`habitat.indicators.fragmentation.class_metrics`.

    ``classes`` is an array-like read by slicing (numpy, memmap, dask, a rasterio-backed
    object) or a function ``read(rows, cols)`` with ``shape``. Same columns, formulas, units
    and result; see the whole-array function. ``enn=False`` skips ENN (``ENN_MN`` NaN, every
    other column unchanged) and with it the only part whose memory grows with the patch edges.
    ``class_values`` (the sorted codes present, when known) saves the pass that finds them.
    """
    land = _checked(classes, shape, cell_size, nodata, neighbours, edge_depth, block_shape, enn, class_values)
    return _class_frame(land, float(cell_size), count_boundary)


def landscape_metrics_blockwise(
    classes,
    shape: tuple[int, int] | None = None,
    *,
    cell_size: float,
    nodata: int | None = None,
    neighbours: int = 8,
    edge_depth: int = 1,
    count_boundary: bool = False,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
) -> pd.Series:
    """Block-wise :func:`habitat.indicators.fragmentation.landscape_metrics` (same result)."""
    land = _checked(classes, shape, cell_size, nodata, neighbours, edge_depth, block_shape)
    return _landscape_series(land, float(cell_size), count_boundary)
