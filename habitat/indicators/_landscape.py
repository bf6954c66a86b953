"""Private kernels: patch labelling and per-patch cell counts for the fragmentation metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from habitat.indicators._enn import _nearest_other_patch
from habitat.vocabulary import NEIGHBOURHOODS

# Rows per block so that the per-block temporaries stay around 4 M cells (tens of MB).
_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class _Landscape:
    """Per-class and per-patch counts (all in cells or cell sides) of one landscape."""

    class_values: np.ndarray  # (K,) class values present, sorted
    n_valid: int  # Z: cells that are not nodata
    patch_class: np.ndarray  # (P,) index into class_values
    patch_cells: np.ndarray  # (P,) area in cells
    patch_sides: np.ndarray  # (P,) perimeter in cell sides (all sides, boundary included)
    patch_core: np.ndarray  # (P,) core area in cells
    patch_enn: np.ndarray  # (P,) edge-to-edge nearest-neighbour distance in cells (nan if none)
    adjacency: np.ndarray  # (K+1, K+1) symmetric count of shared sides; index K = nodata
    border_sides: np.ndarray  # (K,) class cell sides lying on the raster boundary
    # (rows, cols, 1-based patch ids) of one class's patch-edge cells in raster order, when asked
    edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _class_index(classes: np.ndarray, nodata) -> tuple[np.ndarray, np.ndarray]:
    """Map class values to 0..K-1 (sorted), nodata to K; smallest unsigned dtype."""
    valid = None if nodata is None else classes != nodata
    vals = classes if valid is None else classes[valid]
    if vals.size == 0:
        return np.empty(0, classes.dtype), np.zeros(classes.shape, np.uint8)
    lo, hi = int(vals.min()), int(vals.max())
    if hi - lo < (1 << 22):
        # A counting pass is far faster than np.unique's sort on large rasters.
        counts = np.bincount((vals.ravel() - lo).astype(np.intp, copy=False), minlength=hi - lo + 1)
        present = np.flatnonzero(counts)
        class_values = (present + lo).astype(classes.dtype)
    else:
        class_values = np.unique(vals)
    n_classes = class_values.size
    dtype = np.uint8 if n_classes < 255 else (np.uint16 if n_classes < 65535 else np.uint32)
    if hi - lo < (1 << 22):
        lut = np.full(hi - lo + 1, n_classes, dtype)
        lut[class_values.astype(np.int64) - lo] = np.arange(n_classes, dtype=dtype)
        # Nodata may lie outside [lo, hi]; clip then overwrite it below.
        idx = lut[np.clip(classes, lo, hi).astype(np.intp, copy=False) - lo]
    else:
        idx = np.searchsorted(class_values, classes).astype(dtype)
        idx[idx >= n_classes] = n_classes
    if valid is not None:
        idx[~valid] = n_classes
    return class_values, idx


def _label_patches(cidx: np.ndarray, n_classes: int, neighbours: int):
    """Label the patches of every class into one int32 array (0 = no patch)."""
    labels = np.zeros(cidx.shape, np.int32)
    buf = np.empty(cidx.shape, np.int32)
    patch_class = []
    offset = 0
    for k in range(n_classes):
        mask = cidx == k
        n = ndimage.label(mask, structure=NEIGHBOURHOODS[neighbours], output=buf)
        np.add(buf, offset, out=buf, where=mask)
        labels += buf
        patch_class.append(np.full(n, k, np.intp))
        offset += n
    patch_class = np.concatenate(patch_class) if patch_class else np.empty(0, np.intp)
    return labels, patch_class


def _same(ext: np.ndarray) -> np.ndarray:
    """Count of the 4 neighbours with the same class index (out of raster = different)."""
    nsame = np.zeros(ext.shape, np.uint8)
    eq = ext[1:] == ext[:-1]
    nsame[1:] += eq
    nsame[:-1] += eq
    eq = ext[:, 1:] == ext[:, :-1]
    nsame[:, 1:] += eq
    nsame[:, :-1] += eq
    return nsame


def _enn_by_class(rows, cols, elab, patch_class: np.ndarray, n_classes: int) -> np.ndarray:
    """ENN of every patch (cells; NaN without a same-class neighbour) from its edge cells.

    ``rows, cols`` are edge-cell positions and ``elab`` their patch ids (1-based); one k-d
    tree per class over that class's edge cells.
    """
    n_patches = patch_class.size
    enn = np.full(n_patches, np.nan)
    edge_class = patch_class[elab - 1] if elab.size else np.empty(0, np.intp)
    order = np.argsort(edge_class, kind="stable")
    bounds = np.searchsorted(edge_class[order], np.arange(n_classes + 1))
    patches_per_class = np.bincount(patch_class, minlength=n_classes)
    for k in range(n_classes):
        if patches_per_class[k] < 2:
            continue
        sel = order[bounds[k] : bounds[k + 1]]
        pts = np.column_stack((rows[sel], cols[sel])).astype(np.float64)
        plabel = elab[sel].astype(np.intp) - 1
        dist = _nearest_other_patch(pts, plabel, n_patches)
        mine = patch_class == k
        enn[mine] = dist[mine]
    return enn


def _analyse(classes: np.ndarray, *, nodata, neighbours: int, edge_depth: int) -> _Landscape:
    """Label patches and gather everything the metrics need, block by block."""
    class_values, cidx = _class_index(classes, nodata)
    n_classes = class_values.size
    n_valid = int(np.count_nonzero(cidx != n_classes))
    labels, patch_class = _label_patches(cidx, n_classes, neighbours)
    n_patches = patch_class.size
    height, width = cidx.shape

    cells = np.zeros(n_patches + 1, np.int64)
    sides = np.zeros(n_patches + 1, np.float64)
    core = np.zeros(n_patches + 1, np.int64)
    nk = n_classes + 1
    adjacency = np.zeros(nk * nk, np.int64)
    edge_rows, edge_cols, edge_labels = [], [], []

    halo = edge_depth
    step = max(1, _BLOCK_CELLS // max(width, 1))
    cross = NEIGHBOURHOODS[4]
    for r0 in range(0, height, step):
        r1 = min(height, r0 + step)
        e0, e1 = max(0, r0 - halo), min(height, r1 + halo)
        ext = cidx[e0:e1]
        nsame = _same(ext)
        inner = slice(r0 - e0, r0 - e0 + (r1 - r0))
        interior = (nsame == 4) & (ext != n_classes)
        if edge_depth > 1:
            # Only interior cells (same class on all 4 sides) can be core, so eroding them
            # with the 4-neighbour cross per class equals FRAGSTATS' per-patch erosion.
            interior = ndimage.binary_erosion(
                interior, structure=cross, iterations=edge_depth - 1, border_value=0
            )
        lab = labels[r0:r1]
        ndiff = 4 - nsame[inner]
        cells += np.bincount(lab.ravel(), minlength=n_patches + 1)
        sides += np.bincount(lab.ravel(), weights=ndiff.ravel(), minlength=n_patches + 1)
        core += np.bincount(lab[interior[inner]], minlength=n_patches + 1)
        # Nearest cells of two patches always lie on patch edges (a step towards the other
        # patch from an interior cell gets closer), so only edge cells go into the tree.
        rr, cc = np.nonzero((ndiff > 0) & (lab > 0))
        edge_rows.append(rr + r0)
        edge_cols.append(cc)
        edge_labels.append(lab[rr, cc])
        blk = cidx[r0:r1]
        a, b = blk[:, :-1], blk[:, 1:]
        diff = a != b
        adjacency += np.bincount(
            a[diff].astype(np.int64) * nk + b[diff], minlength=nk * nk
        )
        rv = min(r1, height - 1)
        if rv > r0:
            a, b = cidx[r0:rv], cidx[r0 + 1 : rv + 1]
            diff = a != b
            adjacency += np.bincount(
                a[diff].astype(np.int64) * nk + b[diff], minlength=nk * nk
            )
    adjacency = adjacency.reshape(nk, nk)
    adjacency = adjacency + adjacency.T

    border = np.zeros(nk, np.int64)
    for line in (cidx[0], cidx[-1], cidx[:, 0], cidx[:, -1]):
        border += np.bincount(line, minlength=nk)

    rows = np.concatenate(edge_rows) if edge_rows else np.empty(0, np.intp)
    cols = np.concatenate(edge_cols) if edge_cols else np.empty(0, np.intp)
    elab = np.concatenate(edge_labels) if edge_labels else np.empty(0, np.int32)
    enn = _enn_by_class(rows, cols, elab, patch_class, n_classes)

    return _Landscape(
        class_values=class_values,
        n_valid=n_valid,
        patch_class=patch_class,
        patch_cells=cells[1:],
        patch_sides=sides[1:],
        patch_core=core[1:],
        patch_enn=enn,
        adjacency=adjacency,
        border_sides=border[:n_classes],
    )
