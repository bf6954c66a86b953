"""Candidate sites block by block: labels, zonal statistics and release cells in bounded memory.

The whole-array functions of :mod:`habitat.sites.candidates` (:func:`extract_candidates`,
:func:`central_cells`, :func:`candidate_criteria`) hold several grids (labels, patch ids, the
criteria layers as float64, the distance to the sites, the cost surface); these give the same
results, cell for cell and bit for bit, holding one strip of rows (with a halo) at a time:

* labels: :func:`habitat.suitability.blockwise.label_blocks` on the mask "in a patch and not
  occupied"; with ``reach_tile_m`` the blocks are the tiles, and a candidate is a (connected
  piece, tile) pair; small candidates dropped and the rest numbered by the raster position of
  their first cell, as :func:`extract_candidates`. Label rows are made again from the blocks
  when a pass needs them (:class:`CandidateLabels`).
* sums per candidate: added cell by cell in raster order across strips (``np.add.at``), which
  is the order ``np.bincount`` adds in on the whole array, so the float sums are bit-identical.
* central cells: the Euclidean distance transform of the candidates on blocks read with a halo
  of ``H`` cells; a depth ``d <= H + 1`` is exact (every cell beyond the halo is farther), and
  candidates with a deeper allowed cell are done again with a 4x halo.

``cluster_gap_m`` (pieces merged within a gap) and polygon population sites are not covered:
the sites stage keeps the whole-array path for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from habitat.suitability.blockwise import BlockLabeling, LabelledBlock, _first_positions, _label_block, label_blocks
from habitat.vocabulary import NEIGHBOURHOODS

__all__ = ["CandidateLabels", "label_candidates", "central_cells_blockwise", "candidate_sums",
           "strips"]

_M2_PER_HA = 1.0e4
#: Rows per strip of the zonal passes (the grid's width wide).
STRIP_ROWS = 256
#: Labelling block side without reach tiles.
BLOCK_SIDE = 1024
#: Largest reach tile (cells) labelled one tile per block.
MAX_TILE_CELLS = 4096
Reader = Callable[[slice, slice], np.ndarray]


def strips(height: int, rows: int | None = None, multiple: int = 1):
    """``(r0, r1)`` row strips of at least ``rows`` rows, a whole ``multiple`` of rows each but the last."""
    step = max(1, -(-int(rows or STRIP_ROWS) // int(multiple))) * int(multiple)
    for r0 in range(0, int(height), step):
        yield r0, min(int(height), r0 + step)


#: Block rows of at most this many cells are read whole (then cut into blocks); the mask reader
#: holds ~40 bytes a cell of temporaries (distances to the sites), so this stays small.
_ROW_CACHE_CELLS = 1 << 20


class _RowCache:
    """A block reader that reads each row of blocks once, the grid's width wide: small blocks
    (reach tiles of a few cells) would otherwise pay a lazy read each."""

    def __init__(self, read: Reader, width: int) -> None:
        self.read, self.width, self.rows, self.strip = read, width, None, None

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        if self.rows != (rows.start, rows.stop):
            self.rows, self.strip = (rows.start, rows.stop), np.asarray(self.read(rows, slice(0, self.width)))
        return self.strip[:, cols]


@dataclass
class CandidateLabels:
    """Block-wise candidate labels: the labelling of the candidate mask and the map from its
    provisional ids to candidate ids 1..n (0 = none)."""

    read: Reader
    labeling: BlockLabeling
    final_map: np.ndarray
    n: int
    tile_cells: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.labeling.shape

    def block(self, r0: int, c0: int) -> np.ndarray:
        """Candidate ids of the labelling block at ``(r0, c0)`` (int32)."""
        lab = self.labeling
        r1, c1 = min(lab.shape[0], r0 + lab.block_shape[0]), min(lab.shape[1], c0 + lab.block_shape[1])
        blk = np.asarray(self.read(slice(r0, r1), slice(c0, c1)))
        prov, *_ = _label_block(blk, None, NEIGHBOURHOODS[lab.neighbours], lab.offsets[(r0, c0)])
        return self.final_map[prov].astype(np.int32)

    def rows(self, a: int, b: int) -> np.ndarray:
        """Candidate ids of rows ``[a, b)`` (clipped to the grid), the grid's width wide."""
        height, width = self.shape
        a, b = max(0, a), min(height, b)
        bh, bw = self.labeling.block_shape
        out = np.zeros((b - a, width), np.int32)
        for r0 in range((a // bh) * bh, b, bh):
            lo, hi = max(a, r0), min(b, r0 + bh)
            for c0 in range(0, width, bw):
                blk = self.block(r0, c0)
                out[lo - a: hi - a, c0: c0 + blk.shape[1]] = blk[lo - r0: hi - r0]
        return out

    def tile_of(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Reach tile index of cells (0 without tiles)."""
        if not self.tile_cells:
            return np.zeros(np.broadcast(rows, cols).shape, np.int64)
        across = -(-self.shape[1] // self.tile_cells)
        return (rows // self.tile_cells) * across + cols // self.tile_cells


def label_candidates(read: Reader, shape: tuple[int, int], *, cell_size_m: float, reach_tile_m: float = 0.0,
                     min_area_ha: float = 0.0, block_side: int | None = None) -> CandidateLabels:
    """Block-wise :func:`habitat.sites.candidates.extract_candidates` (``cluster_gap_m`` 0).

    Parameters
    ----------
    read : callable
        ``read(rows, cols)`` -> bool block of the candidate mask (``patch_id > 0`` and not
        occupied).
    shape : (int, int)
        Grid shape.
    cell_size_m, reach_tile_m, min_area_ha
        As :func:`extract_candidates`.
    block_side : int
        Labelling block side (cells) without reach tiles (default ``BLOCK_SIDE``); with them the
        blocks are the tiles.

    Raises
    ------
    ValueError
        A reach tile wider than ``MAX_TILE_CELLS`` cells (use the whole-array function).
    """
    cs = float(cell_size_m)
    tile_cells = int(round(reach_tile_m / cs)) if reach_tile_m > 0 else 0
    if tile_cells > MAX_TILE_CELLS:
        raise ValueError(f"reach tile of {tile_cells} cells: wider than the {MAX_TILE_CELLS} labelled block-wise")
    side = tile_cells or int(block_side or BLOCK_SIDE)
    firsts: list[np.ndarray] = [np.zeros(1, np.int64)]
    blocks: list[np.ndarray] = [np.zeros(1, np.int64)]
    width = int(shape[1])

    def on_block(block: LabelledBlock) -> None:
        local = np.where(block.provisional > 0, block.provisional - block.offset, 0)
        first = _first_positions(local)
        bw = block.provisional.shape[1]
        firsts.append((block.r0 + first // bw) * width + block.c0 + first % bw)
        blocks.append(np.full(block.n, (block.r0 // side) * (-(-width // side)) + block.c0 // side, np.int64))

    if side * width <= _ROW_CACHE_CELLS:  # small blocks (short reach tiles): one read per block row
        read = _RowCache(read, width)
    labeling = label_blocks(read, shape, neighbours=8, block_shape=(side, side), on_block=on_block)
    comp = labeling.final_of_provisional.astype(np.int64)
    first = np.concatenate(firsts)
    # a candidate is a connected piece, or with reach tiles the part of a piece in one tile (= block)
    key = comp * (int(np.concatenate(blocks).max()) + 1) + np.concatenate(blocks) if tile_cells else comp
    uniq, group = np.unique(key[1:], return_inverse=True)
    group = group.ravel()
    cells = np.bincount(group, weights=labeling.provisional_cells[1:], minlength=uniq.size).astype(np.int64)
    start = np.full(uniq.size, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(start, group, first[1:])
    keep = np.ones(uniq.size, bool)
    if min_area_ha > 0:
        keep = ~(cells * cs * cs / _M2_PER_HA < min_area_ha)
    kept = np.flatnonzero(keep)
    ids = np.zeros(uniq.size, np.int64)
    ids[kept[np.argsort(start[kept], kind="stable")]] = np.arange(1, kept.size + 1)
    final_map = np.zeros(comp.size, np.int64)
    final_map[1:] = ids[group]
    return CandidateLabels(read, labeling, final_map, int(kept.size), tile_cells)


def _values(layer, rows: slice, cols: slice = slice(None)) -> np.ndarray:
    return np.asarray(layer[rows, cols])


def candidate_sums(cands: CandidateLabels, *, patch_id, core_of: Callable[[np.ndarray], np.ndarray], core_halo: int,
                   means: dict[str, object], quality, cost: Callable[[int, int], np.ndarray] | None) -> dict:
    """Zonal statistics of the candidates, strip by strip, as the whole-array sums.

    Parameters
    ----------
    cands : CandidateLabels
    patch_id : 2-D array-like (lazy allowed)
        Patch labels.
    core_of : callable
        Core mask of a patch-id window (``habitat.suitability.patches.core_mask``), exact on
        cells ``core_halo`` rows inside the window.
    means : dict of name -> 2-D array-like or None
        Layers averaged over each candidate's finite cells (NaN where a candidate has none).
    quality : 2-D array-like
        Summed over each candidate (NaN counts 0): ``sum_quality``.
    cost : callable, optional
        ``cost(r0, r1)`` -> float64 cost rows; ``lcd`` is its minimum per candidate (NaN
        counts +inf).

    Returns
    -------
    dict
        ``n_cells``, ``n_core`` (int64), ``mean_<name>``, ``sum_quality``, ``lcd`` (float64, one
        per candidate 1..n), ``pairs`` {(candidate, patch): cells}, ``row0``, ``col0`` (first
        row and column of each candidate's bounding box).
    """
    n = cands.n
    height, width = cands.shape
    n_cells = np.zeros(n + 1, np.int64)
    n_core = np.zeros(n + 1, np.int64)
    totals = {k: np.zeros(n + 1) for k, v in means.items() if v is not None}
    counts = {k: np.zeros(n + 1, np.int64) for k in totals}
    sum_q = np.zeros(n + 1)
    lcd = np.full(n + 1, np.inf)
    row0 = np.full(n + 1, height, np.int64)
    col0 = np.full(n + 1, width, np.int64)
    pairs: dict[tuple[int, int], int] = {}
    for r0, r1 in strips(height):
        lab = cands.rows(r0, r1)
        flat = lab.ravel()
        inside = flat > 0
        if not inside.any():
            continue
        e0, e1 = max(0, r0 - core_halo), min(height, r1 + core_halo)
        pid_ext = _values(patch_id, slice(e0, e1))
        pid = pid_ext[r0 - e0: r1 - e0].astype(np.int64).ravel()
        core = np.asarray(core_of(pid_ext))[r0 - e0: r1 - e0].ravel()
        n_cells += np.bincount(flat, minlength=n + 1)
        n_core += np.bincount(flat[core], minlength=n + 1)
        rr, cc = np.divmod(np.flatnonzero(inside), width)
        np.minimum.at(row0, flat[inside], rr + r0)
        np.minimum.at(col0, flat[inside], cc)
        for name in totals:
            v = _values(means[name], slice(r0, r1)).astype(np.float64).ravel()
            ok = np.isfinite(v) & inside
            np.add.at(totals[name], flat[ok], v[ok])  # in raster order, as np.bincount adds
            counts[name] += np.bincount(flat[ok], minlength=n + 1)
        q = np.nan_to_num(_values(quality, slice(r0, r1)).astype(np.float64).ravel(), nan=0.0)
        np.add.at(sum_q, flat[inside], q[inside])
        if cost is not None:
            s = cost(r0, r1).ravel()
            np.minimum.at(lcd, flat[inside], np.where(np.isnan(s[inside]), np.inf, s[inside]))
        both = inside & (pid > 0)
        if both.any():
            keys, cnt = np.unique(np.column_stack([flat[both], pid[both]]), axis=0, return_counts=True)
            for (a, b), c in zip(keys.tolist(), cnt.tolist()):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
    out = {"n_cells": n_cells[1:], "n_core": n_core[1:], "sum_quality": sum_q[1:],
           "lcd": lcd[1:] if cost is not None else np.full(n, np.nan), "pairs": pairs,
           "row0": row0[1:], "col0": col0[1:]}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in means:
            out[f"mean_{name}"] = (totals[name][1:] / counts[name][1:] if name in totals else np.full(n, np.nan))
    return out


def central_cells_blockwise(cands: CandidateLabels, passable: Callable[[int, int], np.ndarray], row0: np.ndarray,
                            col0: np.ndarray, *, halo: int = 64, block_cols: int = 1024
                            ) -> list[tuple[int, int] | None]:
    """Block-wise :func:`habitat.sites.candidates.central_cells`.

    ``passable(r0, r1)`` gives the allowed cells of rows ``[r0, r1)`` (bool); ``row0``,
    ``col0`` the first row and column of each candidate's bounding box (the ties are broken in
    the window of the whole-array function, whose origin that is).
    """
    n = cands.n
    peak = np.zeros(n + 1)
    ties: dict[int, list[np.ndarray]] = {}
    todo = np.ones(n + 1, bool)
    todo[0] = False
    while todo.any():
        deep = _depth_pass(cands, passable, todo, peak, ties, halo, block_cols)
        peak[deep] = 0.0
        for k in np.flatnonzero(deep):
            ties.pop(int(k), None)
        todo, halo = deep, halo * 4
    width = cands.shape[1]
    out: list[tuple[int, int] | None] = [None] * n
    for k, parts in ties.items():
        flat = np.sort(np.concatenate(parts))
        rows, cols = np.divmod(flat, width)
        rows, cols = rows - row0[k - 1], cols - col0[k - 1]
        best = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))
        out[k - 1] = (int(rows[best] + row0[k - 1]), int(cols[best] + col0[k - 1]))
    return out


def _depth_pass(cands, passable, todo, peak, ties, halo, block_cols) -> np.ndarray:
    """One pass of the distance transform with ``halo``; returns the candidates left unresolved."""
    height, width = cands.shape
    deep = np.zeros_like(todo)
    for r0, r1 in strips(height, max(STRIP_ROWS, halo)):
        e0, e1 = max(0, r0 - halo), min(height, r1 + halo)
        ext_rows = cands.rows(e0, e1)
        inner = ext_rows[r0 - e0: r1 - e0]
        if not todo[inner].any():
            continue
        allowed = np.asarray(passable(r0, r1), bool)
        for c0 in range(0, width, block_cols):
            c1 = min(width, c0 + block_cols)
            lab = inner[:, c0:c1]
            want = todo[lab] & allowed[:, c0:c1]
            if not want.any():
                continue
            f0, f1 = max(0, c0 - halo), min(width, c1 + halo)
            ext = ext_rows[:, f0:f1]
            depth = _depth(ext, (r0 - e0, c0 - f0), lab.shape, cands, (e0, f0), (e0 == 0, e1 == height,
                                                                                    f0 == 0, f1 == width))
            rr, cc = np.nonzero(want)
            labels, d = lab[rr, cc].astype(np.int64), depth[rr, cc]
            unsure = d > halo + 1
            deep[labels[unsure]] = True
            sure = ~unsure & ~deep[labels]
            labels, d = labels[sure], d[sure]
            flat = (rr[sure] + r0) * width + cc[sure] + c0
            if not labels.size:
                continue
            block_peak = np.zeros(peak.size)
            np.maximum.at(block_peak, labels, d)
            at_peak = d == block_peak[labels]
            for k in np.unique(labels[at_peak]).tolist():
                here = flat[at_peak & (labels == k)]
                if block_peak[k] > peak[k]:
                    peak[k], ties[k] = block_peak[k], [here]
                elif block_peak[k] == peak[k]:
                    ties[k].append(here)
    return deep


def _depth(ext: np.ndarray, at: tuple[int, int], shape: tuple[int, int], cands: CandidateLabels,
           origin: tuple[int, int], border: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """Distance (cells) from each cell of the inner block to the nearest cell outside its
    candidate, within ``ext`` (the grid's edge counts as outside; cells beyond ``ext`` do not).

    Two candidates never touch inside one reach tile (they are separate 8-connected pieces),
    so within a tile the nearest cell of another candidate is never nearer than the nearest
    non-candidate cell: the transform of ``labels > 0`` per tile is each candidate's own.
    """
    pads = ((int(border[0]), int(border[1])), (int(border[2]), int(border[3])))
    r, c = at
    out = np.zeros(shape)
    tiles = cands.tile_of(np.arange(ext.shape[0])[:, None] + origin[0], np.arange(ext.shape[1])[None, :] + origin[1])
    labels_p = np.pad(ext, pads)  # the grid's edge: background
    tiles_p = np.pad(tiles, pads, constant_values=-1)
    # inner block in the padded window
    r, c = r + pads[0][0], c + pads[1][0]
    size = cands.tile_cells
    for t in np.unique(tiles[at[0]: at[0] + shape[0], at[1]: at[1] + shape[1]]).tolist():
        # the tile's cells and one ring around them (other tiles: background); nothing beyond is nearer
        a, b, e, f = 0, labels_p.shape[0], 0, labels_p.shape[1]
        if size:
            ti, tj = divmod(t, -(-cands.shape[1] // size))
            off_r, off_c = origin[0] - pads[0][0], origin[1] - pads[1][0]
            a, b = max(a, ti * size - off_r - 1), min(b, (ti + 1) * size - off_r + 1)
            e, f = max(e, tj * size - off_c - 1), min(f, (tj + 1) * size - off_c + 1)
        mask = (labels_p[a:b, e:f] > 0) & (tiles_p[a:b, e:f] == t)
        d = ndimage.distance_transform_edt(mask)
        rows = slice(max(r, a), min(r + shape[0], b))
        cols = slice(max(c, e), min(c + shape[1], f))
        sub = d[rows.start - a: rows.stop - a, cols.start - e: cols.stop - e]
        mine = tiles_p[rows, cols] == t
        view = out[rows.start - r: rows.stop - r, cols.start - c: cols.stop - c]
        view[mine] = sub[mine]
    return out
