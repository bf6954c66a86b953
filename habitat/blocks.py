"""Block-wise processing of per-cell and neighbourhood computations in bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from habitat.errors import InvalidParameterError

#: Default block size: about 2**20 cells (8 MiB per float64 layer), as pygeoprocessing.
DEFAULT_BLOCK_SHAPE = (1024, 1024)


def iter_blocks(
    shape: tuple[int, int], block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE
) -> Iterator[tuple[slice, slice]]:
    """Row-major ``(row_slice, col_slice)`` blocks of at most ``block_shape`` covering ``shape``.

    Examples
    --------
    >>> list(iter_blocks((3, 2), (2, 2)))
    [(slice(0, 2, None), slice(0, 2, None)), (slice(2, 3, None), slice(0, 2, None))]
    """
    bh, bw = int(block_shape[0]), int(block_shape[1])
    if bh <= 0 or bw <= 0:
        raise InvalidParameterError(f"block_shape {block_shape} must be positive")
    for r0 in range(0, shape[0], bh):
        for c0 in range(0, shape[1], bw):
            yield slice(r0, min(r0 + bh, shape[0])), slice(c0, min(c0 + bw, shape[1]))


def map_blocks(
    op: Callable[..., np.ndarray],
    *layers: np.ndarray,
    halo: int = 0,
    block_shape: tuple[int, int] = DEFAULT_BLOCK_SHAPE,
    dtype: np.dtype | type | None = None,
    fill_value: float = np.nan,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply ``op`` block by block to co-registered 2-D layers and assemble the result.

    Parameters
    ----------
    op : callable
        ``op(*blocks) -> ndarray`` of the same 2-D shape as the (halo-padded) blocks.
        Must be local: a cell's result may depend only on cells within ``halo`` of it.
    *layers : ndarray
        2-D arrays (or anything sliceable like one, e.g. a memory-mapped array) of one shape.
    halo : int
        Neighbourhood radius in cells. Each block is read with ``halo`` extra cells on every
        side (padded with ``fill_value`` outside the array), and the halo is cut from the result,
        so block seams are invisible for any ``op`` whose footprint fits in the halo.
    block_shape : (int, int)
        Core block size in cells.
    dtype : numpy dtype, optional
        Output dtype (default: that of the first block's result).
    fill_value : float
        Value outside the array seen by blocks at the edge (NaN: "no data").
    out : ndarray, optional
        Array to write into (e.g. a ``numpy.memmap``), to keep memory bounded.

    Returns
    -------
    ndarray
        The assembled result; equal to ``op(*layers)`` on the whole array whenever ``op`` is
        local within ``halo`` and treats ``fill_value`` like the whole-array edge.
    """
    if not layers:
        raise InvalidParameterError("map_blocks needs at least one layer")
    shape = layers[0].shape
    if any(layer.shape != shape for layer in layers):
        raise InvalidParameterError(
            f"map_blocks: layers differ in shape {[layer.shape for layer in layers]}"
        )
    if halo < 0:
        raise InvalidParameterError(f"halo {halo} must be >= 0")
    for rows, cols in iter_blocks(shape, block_shape):
        blocks = [_read_padded(layer, rows, cols, halo, fill_value) for layer in layers]
        result = np.asarray(op(*blocks))
        core = result[halo : result.shape[0] - halo, halo : result.shape[1] - halo]
        if out is None:
            out = np.empty(shape, dtype=dtype or result.dtype)
        out[rows, cols] = core
    return out


def _read_padded(
    layer: np.ndarray, rows: slice, cols: slice, halo: int, fill_value: float
) -> np.ndarray:
    if halo == 0:
        return np.asarray(layer[rows, cols])
    h, w = layer.shape
    r0, r1 = rows.start - halo, rows.stop + halo
    c0, c1 = cols.start - halo, cols.stop + halo
    inner = np.asarray(layer[max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)])
    if np.isnan(fill_value):
        dtype = np.result_type(inner.dtype, np.float32)
    else:
        dtype = np.result_type(inner.dtype, np.min_scalar_type(fill_value))
    block = np.full((r1 - r0, c1 - c0), fill_value, dtype=dtype)
    block[max(r0, 0) - r0 : min(r1, h) - r0, max(c0, 0) - c0 : min(c1, w) - c0] = inner
    return block
