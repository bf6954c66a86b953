"""Patch labelling block by block: labels merged at block seams, per-patch sums from partials.

The grid is read one block at a time (plus a halo when a caller needs one). Each block is
labelled on its own with ``scipy.ndimage.label``; its labels get provisional global ids. Cells
that touch across a block seam (4- or 8-neighbour rule) join their provisional labels
(union-find as connected components of the seam-pair graph). Final ids are given in the order
``scipy.ndimage.label`` gives on the whole array: by raster-scan position of each patch's first
cell (and, for several classes, class by class), so block-wise and whole-array labels are equal.

Memory: one block (with halo), the block-seam rows and columns (``(H / bh) * W + (W / bw) * H``
ids) and a few numbers per provisional label; never the whole grid. A label raster, when one
is wanted, is written block by block in a second pass (:func:`iter_label_blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from habitat.errors import InvalidParameterError
from habitat.vocabulary import NEIGHBOURHOODS

__all__ = [
    "DEFAULT_BLOCK_SHAPE",
    "BlockLabeling",
    "LabelledBlock",
    "iter_label_blocks",
    "label_blocks",
    "label_patches_blockwise",
]

#: Default block of a block-wise pass (cells): 16 M cells, ~130 MB of int64 temporaries.
DEFAULT_BLOCK_SHAPE = (4096, 4096)

_M2_PER_HA = 1.0e4

#: ``read(rows, cols) -> ndarray``: the cells of a window of the grid.
BlockReader = Callable[[slice, slice], np.ndarray]


@dataclass(frozen=True)
class LabelledBlock:
    """One block of the first pass, handed to ``on_block``.

    ``ext`` is the block read with its halo, ``inner`` the block's slices within ``ext``,
    ``provisional`` its provisional ids (int64, 0 = none; ids ``offset + 1 .. offset + n``),
    ``r0, c0`` its origin in the grid.
    """

    ext: np.ndarray
    inner: tuple[slice, slice]
    provisional: np.ndarray
    r0: int
    c0: int
    offset: int
    n: int

    def local_sums(self, values: np.ndarray | None = None) -> np.ndarray:
        """Per-provisional-label sums of ``values`` (block-shaped; None counts cells), length n."""
        flat = self.provisional.ravel()
        local = np.where(flat > 0, flat - self.offset, 0)
        if values is None:
            return np.bincount(local, minlength=self.n + 1)[1:]
        v = np.asarray(values, np.float64).ravel()
        ok = np.isfinite(v)
        return np.bincount(local[ok], weights=v[ok], minlength=self.n + 1)[1:]


#: ``on_block(block: LabelledBlock)``: see :func:`label_blocks`.
BlockCallback = Callable[[LabelledBlock], None]


def _blocks(shape: tuple[int, int], block_shape: tuple[int, int]) -> Iterator[tuple[int, int, int, int]]:
    bh, bw = int(block_shape[0]), int(block_shape[1])
    if bh <= 0 or bw <= 0:
        raise InvalidParameterError(f"block_shape {block_shape} must be positive")
    for r0 in range(0, shape[0], bh):
        for c0 in range(0, shape[1], bw):
            yield r0, min(shape[0], r0 + bh), c0, min(shape[1], c0 + bw)


def _first_positions(local: np.ndarray) -> np.ndarray:
    """Flat block positions of the first cell of labels 1..n of one ``ndimage.label`` result.

    ``ndimage.label`` numbers labels in raster order of their first cell, so a label's first
    cell is where the running maximum of the labels met so far rises.
    """
    flat = local.ravel()
    pos = np.flatnonzero(flat)
    if pos.size == 0:
        return pos
    vals = flat[pos]
    runmax = np.maximum.accumulate(vals)
    rises = np.empty(vals.size, bool)
    rises[0] = True
    rises[1:] = runmax[1:] > runmax[:-1]
    return pos[rises]


@dataclass
class BlockLabeling:
    """Result of the first block-wise pass: the map from provisional to final patch ids.

    Attributes
    ----------
    shape, block_shape : (int, int)
        Grid and block shape.
    neighbours : {4, 8}
    n_classes : int or None
        None: one class (nonzero cells). Else cells hold class indices 0..n_classes-1 and
        ``n_classes`` is nodata; patches are per class.
    offsets : dict
        ``(r0, c0) -> offset`` of each block's provisional ids (local label + offset).
    final_of_provisional : ndarray of int64, shape (n_provisional + 1,)
        Final id (1..n_patches) of each provisional id; index 0 (background) -> 0.
    n_patches : int
    patch_class : ndarray of intp, shape (n_patches,)
        Class index of each patch (zeros with one class).
    patch_cells : ndarray of int64, shape (n_patches,)
        Cells per patch, from per-block counts.
    """

    shape: tuple[int, int]
    block_shape: tuple[int, int]
    neighbours: int
    n_classes: int | None
    offsets: dict[tuple[int, int], int]
    final_of_provisional: np.ndarray
    n_patches: int
    patch_class: np.ndarray
    patch_cells: np.ndarray
    provisional_cells: np.ndarray = field(repr=False)

    def reduce(self, provisional_sums: np.ndarray, final_map: np.ndarray | None = None) -> np.ndarray:
        """Per-patch totals of partial sums over provisional ids 1..n (length n_provisional).

        ``final_map`` (default ``final_of_provisional``) maps provisional to patch ids.
        """
        mapping = self.final_of_provisional if final_map is None else final_map
        n_out = int(mapping.max()) if mapping.size else 0
        out = np.bincount(mapping[1:], weights=provisional_sums, minlength=n_out + 1)
        return out[1:]


def _label_block(blk: np.ndarray, n_classes: int | None, structure: np.ndarray, offset: int):
    """Provisional labels (int64, offset applied), their classes and first positions."""
    out = np.zeros(blk.shape, np.int64)
    buf = np.empty(blk.shape, np.int32)
    classes, firsts = [], []
    n_total = 0
    for k in range(1 if n_classes is None else n_classes):
        mask = blk.astype(bool, copy=False) if n_classes is None else blk == k
        n = ndimage.label(mask, structure=structure, output=buf)
        if n == 0:
            continue
        firsts.append(_first_positions(buf))
        np.add(buf, offset + n_total, out=out, where=mask, casting="unsafe")
        classes.append(np.full(n, k, np.intp))
        n_total += n
    if not classes:
        return out, np.empty(0, np.intp), np.empty(0, np.int64), 0
    return out, np.concatenate(classes), np.concatenate(firsts), n_total


def label_blocks(
    read: BlockReader,
    shape: tuple[int, int],
    *,
    neighbours: int = 8,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
    n_classes: int | None = None,
    halo: int = 0,
    on_block: BlockCallback | None = None,
) -> BlockLabeling:
    """First pass: label every block, merge labels across seams, order as the whole array.

    Parameters
    ----------
    read : callable
        ``read(rows, cols)`` returns the cells of that window (bool mask, or class indices
        with ``n_classes`` = nodata). Called once per block (with the halo).
    shape : (int, int)
        Grid shape ``(H, W)``.
    neighbours : {8, 4}
        Neighbour rule.
    block_shape : (int, int)
        Block size in cells.
    n_classes : int, optional
        Label each class 0..n_classes-1 separately (patches of one class); default: one mask.
    halo : int
        Cells read around each block for ``on_block`` (clipped at the grid edge).
    on_block : callable, optional
        ``on_block(block)`` with a :class:`LabelledBlock`, in block order; used to gather
        per-provisional-label partial results in the same pass (concatenated over blocks they
        index provisional ids 1..n, see :meth:`BlockLabeling.reduce`).

    Returns
    -------
    BlockLabeling

    Notes
    -----
    Final ids follow ``scipy.ndimage.label`` on the whole grid: patches sorted by class, then
    by the raster position ``row * W + col`` of their first cell. A patch's first cell is the
    earliest of the first cells of its provisional pieces, and a piece's first cell in block
    raster order is also its first in grid raster order (rows are scanned the same way).
    """
    if neighbours not in NEIGHBOURHOODS:
        raise InvalidParameterError(f"neighbours={neighbours!r}; use 8 (FRAGSTATS default) or 4")
    height, width = int(shape[0]), int(shape[1])
    structure = NEIGHBOURHOODS[neighbours]
    halo = int(halo)
    bh, bw = int(block_shape[0]), int(block_shape[1])
    n_brow = math.ceil(height / bh)
    n_bcol = math.ceil(width / bw)
    # provisional ids along the seams: last/first row of each block row, last/first column
    # of each block column, over the whole width/height
    bottom = np.zeros((n_brow, width), np.int64)
    top = np.zeros((n_brow, width), np.int64)
    right = np.zeros((n_bcol, height), np.int64)
    left = np.zeros((n_bcol, height), np.int64)
    classes, firsts, cells, offsets = [np.zeros(1, np.intp)], [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], {}
    offset = 0
    for r0, r1, c0, c1 in _blocks((height, width), (bh, bw)):
        e0, e1 = max(0, r0 - halo), min(height, r1 + halo)
        f0, f1 = max(0, c0 - halo), min(width, c1 + halo)
        ext = np.asarray(read(slice(e0, e1), slice(f0, f1)))
        if ext.shape != (e1 - e0, f1 - f0):
            raise InvalidParameterError(f"read returned shape {ext.shape} for a {(e1 - e0, f1 - f0)} window")
        inner = (slice(r0 - e0, r1 - e0), slice(c0 - f0, c1 - f0))
        blk = ext[inner]
        prov, cls, first, n = _label_block(blk, n_classes, structure, offset)
        offsets[(r0, c0)] = offset
        bwid = c1 - c0
        firsts.append((r0 + first // bwid) * width + c0 + first % bwid)
        classes.append(cls)
        block = LabelledBlock(ext, inner, prov, r0, c0, offset, n)
        cells.append(block.local_sums())
        i, j = r0 // bh, c0 // bw
        top[i, c0:c1], bottom[i, c0:c1] = prov[0], prov[-1]
        left[j, r0:r1], right[j, r0:r1] = prov[:, 0], prov[:, -1]
        if on_block is not None:
            on_block(block)
        offset += n
    prov_class = np.concatenate(classes)
    prov_first = np.concatenate(firsts)
    prov_cells = np.concatenate(cells)
    n_prov = offset

    pairs_a, pairs_b = [], []

    def join(a: np.ndarray, b: np.ndarray) -> None:
        keep = (a > 0) & (b > 0)
        a, b = a[keep], b[keep]
        if n_classes is not None:
            same = prov_class[a] == prov_class[b]
            a, b = a[same], b[same]
        pairs_a.append(a)
        pairs_b.append(b)

    for i in range(n_brow - 1):
        up, dn = bottom[i], top[i + 1]
        join(up, dn)
        if neighbours == 8:
            join(up[:-1], dn[1:])
            join(up[1:], dn[:-1])
    for j in range(n_bcol - 1):
        lf, rt = right[j], left[j + 1]
        join(lf, rt)
        if neighbours == 8:
            join(lf[:-1], rt[1:])
            join(lf[1:], rt[:-1])
    a = np.concatenate(pairs_a) if pairs_a else np.empty(0, np.int64)
    b = np.concatenate(pairs_b) if pairs_b else np.empty(0, np.int64)
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n_prov + 1, n_prov + 1)).tocsr()
    n_comp, comp = connected_components(graph, directed=False)
    comp_first = np.full(n_comp, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(comp_first, comp[1:], prov_first[1:])
    comp_class = np.zeros(n_comp, np.intp)
    comp_class[comp[1:]] = prov_class[1:]
    # component of id 0 (background) goes first and is mapped to 0
    comp_class[comp[0]] = -1
    comp_first[comp[0]] = -1
    order = np.lexsort((comp_first, comp_class))
    rank = np.empty(n_comp, np.int64)
    rank[order] = np.arange(n_comp)
    final = rank[comp]
    n_patches = n_comp - 1
    patch_class = np.zeros(n_patches, np.intp)
    patch_class[final[1:] - 1] = prov_class[1:]
    patch_cells = np.bincount(final, weights=prov_cells, minlength=n_patches + 1)[1:].astype(np.int64)
    return BlockLabeling(
        shape=(height, width), block_shape=(bh, bw), neighbours=neighbours, n_classes=n_classes,
        offsets=offsets, final_of_provisional=final, n_patches=n_patches, patch_class=patch_class,
        patch_cells=patch_cells, provisional_cells=prov_cells,
    )


def iter_label_blocks(
    read: BlockReader, labeling: BlockLabeling, *, final_map: np.ndarray | None = None
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Second pass: final patch ids block by block (int32), relabelling each block again.

    ``final_map`` (default ``labeling.final_of_provisional``) maps provisional ids to the
    written ids, e.g. after dropping small patches.
    """
    structure = NEIGHBOURHOODS[labeling.neighbours]
    mapping = labeling.final_of_provisional if final_map is None else final_map
    for r0, r1, c0, c1 in _blocks(labeling.shape, labeling.block_shape):
        blk = np.asarray(read(slice(r0, r1), slice(c0, c1)))
        prov, *_ = _label_block(blk, labeling.n_classes, structure, labeling.offsets[(r0, c0)])
        yield slice(r0, r1), slice(c0, c1), mapping[prov].astype(np.int32)


def _keep_map(labeling: BlockLabeling, cell_size_m: float, min_patch_area_ha: float) -> tuple[np.ndarray, np.ndarray]:
    """Provisional -> kept id map and the kept patches' cell counts (as label_patches)."""
    area_ha = labeling.patch_cells * (cell_size_m * cell_size_m / _M2_PER_HA)
    keep = area_ha >= min_patch_area_ha * (1 - 1e-12) if min_patch_area_ha > 0 else np.ones(labeling.n_patches, bool)
    new_ids = np.zeros(labeling.n_patches + 1, np.int64)
    new_ids[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    return new_ids[labeling.final_of_provisional], labeling.patch_cells[keep]


def label_patches_blockwise(
    read: BlockReader | np.ndarray,
    shape: tuple[int, int] | None = None,
    *,
    cell_size_m: float,
    neighbours: int = 8,
    min_patch_area_ha: float = 0.0,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
    sums: Mapping[str, BlockReader] | None = None,
) -> tuple[Iterator[tuple[slice, slice, np.ndarray]], dict[str, np.ndarray]]:
    """Block-wise :func:`habitat.suitability.patches.label_patches`, plus per-patch sums.

    Parameters
    ----------
    read : callable or ndarray
        Habitat mask reader ``read(rows, cols) -> bool block`` (or an array, read by slicing).
    shape : (int, int)
        Grid shape (taken from the array when one is given).
    cell_size_m, neighbours, min_patch_area_ha
        As ``label_patches``: patches below ``min_patch_area_ha`` (area ``n_cells * cs^2 /
        10^4`` ha) are dropped and the rest renumbered 1..M in raster order.
    block_shape : (int, int)
        Block size in cells.
    sums : mapping of name -> reader, optional
        Layers summed per patch (NaN cells skipped) from per-block partial sums.

    Returns
    -------
    blocks : iterator of (rows, cols, int32 block)
        The final label raster, block by block (lazy: the second pass runs as it is consumed).
    table : dict of ndarray
        ``n_cells`` (int64), ``area_ha`` and one ``sum_<name>`` per entry of ``sums``, per kept
        patch in id order.

    Notes
    -----
    Labels equal ``label_patches`` on the whole array cell for cell. Per-patch float sums are
    added block by block, so they may differ from a whole-array sum in the last bits.
    """
    if isinstance(read, np.ndarray) or hasattr(read, "shape") and not callable(read):
        array = read
        shape = array.shape
        read = lambda rows, cols: np.asarray(array[rows, cols])  # noqa: E731
    if shape is None:
        raise InvalidParameterError("shape is required when read is a function")
    cs = float(cell_size_m)
    if not (cs > 0 and math.isfinite(cs)):
        raise InvalidParameterError(f"cell_size_m={cell_size_m!r} must be a cell side > 0 metres")
    min_ha = float(min_patch_area_ha)
    if not (min_ha >= 0 and math.isfinite(min_ha)):
        raise InvalidParameterError(f"min_patch_area_ha={min_patch_area_ha!r} must be >= 0 hectares")
    readers = dict(sums or {})
    partials: dict[str, list[np.ndarray]] = {name: [] for name in readers}

    def gather(block: LabelledBlock) -> None:
        rows = slice(block.r0, block.r0 + block.provisional.shape[0])
        cols = slice(block.c0, block.c0 + block.provisional.shape[1])
        for name, layer in readers.items():
            partials[name].append(block.local_sums(layer(rows, cols)))

    labeling = label_blocks(read, shape, neighbours=neighbours, block_shape=block_shape, on_block=gather)
    keep_map, cells = _keep_map(labeling, cs, min_ha)
    n_kept = cells.size
    table = {"n_cells": cells, "area_ha": cells * (cs * cs / _M2_PER_HA)}
    for name, parts in partials.items():
        per_prov = np.concatenate(parts) if parts else np.zeros(0)
        table[f"sum_{name}"] = np.bincount(keep_map[1:], weights=per_prov, minlength=n_kept + 1)[1:]
    return iter_label_blocks(read, labeling, final_map=keep_map), table
