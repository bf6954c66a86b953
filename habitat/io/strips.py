"""Grids made row strip by row strip: lazy rasters and bit-packed masks.

A :class:`RowArray` stands for a 2-D raster whose rows are computed on demand; the runner's
writer (:func:`habitat.io.rasters.write_rasters`) asks for it strip by strip, so a stage can hand
back a full-grid output that is never held whole. A :class:`BitMask` keeps a boolean grid in one
bit per cell (1/8 of a numpy bool array) for the masks a stage must keep whole.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Cells a strip worker handles at a time: strips of ``max(1, STRIP_CELLS // width)`` rows, so
#: the memory of one strip does not grow with the grid.
STRIP_CELLS = 1 << 21


def strip_rows(width: int, cells: int | None = None) -> int:
    """Rows of a strip of about ``cells`` (default :data:`STRIP_CELLS`) cells on a grid ``width``
    cells wide (at least 1)."""
    return max(1, int(STRIP_CELLS if cells is None else cells) // max(1, int(width)))


def _row_slice(key, height: int) -> tuple[slice, object]:
    if isinstance(key, tuple):
        while key and key[-1] is Ellipsis and len(key) > 2:  # xarray may append one
            key = key[:-1]
        rows, cols = (key + (slice(None),))[:2] if len(key) < 2 else key
    else:
        rows, cols = key, slice(None)
    if isinstance(rows, (int, np.integer)):
        r = int(rows) + (height if rows < 0 else 0)
        return slice(r, r + 1), (0, cols)
    if not isinstance(rows, slice) or rows.step not in (None, 1):
        raise TypeError(f"RowArray rows must be a contiguous slice or an int, got {rows!r}")
    start, stop, _ = rows.indices(height)
    return slice(start, max(start, stop)), (slice(None), cols)


class _Rows:
    """Indexing shared by the row containers: ``x[rows]`` or ``x[rows, cols]`` reads only those
    rows through ``self.rows(r0, r1)`` (a contiguous part of the columns through
    ``self.window(r0, r1, c0, c1)`` where the container has one, so a block of a wide grid costs
    the block, not full-width rows); ``np.asarray(x)`` reads them all."""

    ndim = 2

    def __getitem__(self, key) -> np.ndarray:
        rows, rest = _row_slice(key, self.shape[0])
        cols = rest[1]
        window = getattr(self, "window", None)
        if (window is not None and rest[0] == slice(None) and isinstance(cols, slice)
                and cols.step in (None, 1)):
            c0, c1, _ = cols.indices(self.shape[1])
            if (c0, c1) != (0, self.shape[1]):
                return window(rows.start, rows.stop, c0, c1)
        return self.rows(rows.start, rows.stop)[rest]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.rows(0, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)


class _LazyGrid(_Rows):
    """A row container that is a duck array for xarray (``shape``, ``dtype``, ``ndim``, ``size``,
    ``__array_function__``): :func:`habitat.layers.make_layer` wraps it without reading it, and
    :func:`habitat.io.rasters.write_rasters` reads it strip by strip."""

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return NotImplemented


class RowArray(_LazyGrid):
    """A 2-D array whose rows ``[r0, r1)`` are made by ``rows(r0, r1)`` when they are read.

    Indexing with a row slice (and optionally columns) computes only those rows; ``np.asarray``
    computes the whole array, strip by strip (:func:`strip_rows`). ``rows`` must return the same
    values whatever the strips asked for (a pure function of the row range). With ``max_rows``,
    a read of more rows is made ``max_rows`` rows at a time (``rows`` never sees more), so the
    memory of ``rows``'s own work stays that of one strip whatever a reader asks for.
    """

    def __init__(self, shape: tuple[int, int], dtype, rows: Callable[[int, int], np.ndarray], *,
                 max_rows: int | None = None) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._rows = rows
        self.max_rows = None if max_rows is None else max(1, int(max_rows))

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` as a numpy array of ``(r1 - r0, width)``."""
        r0, r1 = int(r0), int(r1)
        if self.max_rows is not None and r1 - r0 > self.max_rows:
            return self._in_strips(r0, r1, self.max_rows)
        out = np.asarray(self._rows(r0, r1), dtype=self.dtype)
        if out.shape != (r1 - r0, self.shape[1]):
            raise ValueError(f"row function gave shape {out.shape} for rows {r0}:{r1} of a {self.shape} array")
        return out

    def _in_strips(self, r0: int, r1: int, step: int) -> np.ndarray:
        """Rows ``r0:r1`` filled ``step`` rows at a time."""
        out = np.empty((r1 - r0, self.shape[1]), self.dtype)
        for s0 in range(r0, r1, step):
            s1 = min(r1, s0 + step)
            out[s0 - r0:s1 - r0] = self.rows(s0, s1)
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._in_strips(0, self.shape[0], strip_rows(self.shape[1]))
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"RowArray(shape={self.shape}, dtype={self.dtype})"


class BitMask(_Rows):
    """A boolean grid stored as one bit per cell (``np.packbits`` along rows).

    ``mask[rows, cols]`` and :meth:`rows` unpack only the rows asked for; ``np.asarray(mask)``
    gives the whole boolean array.
    """

    def __init__(self, bits: np.ndarray, shape: tuple[int, int]) -> None:
        self.bits = bits
        self.shape = (int(shape[0]), int(shape[1]))

    dtype = np.dtype(bool)

    @classmethod
    def pack(cls, mask: np.ndarray) -> BitMask:
        """Pack a 2-D boolean (or 0/1) array or :class:`RowArray`, strip by strip (no full-size
        temporary: a RowArray's rows are made one strip at a time)."""
        if not hasattr(mask, "shape"):
            mask = np.asarray(mask)
        height, width = mask.shape
        bits = np.empty((height, (width + 7) // 8), np.uint8)
        step = strip_rows(width)
        for r0 in range(0, height, step):
            bits[r0:r0 + step] = np.packbits(mask[r0:r0 + step].astype(bool, copy=False), axis=1)
        return cls(bits, (height, width))

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` (clipped to the grid) as a boolean array."""
        return np.unpackbits(self.bits[r0:r1], axis=1, count=self.shape[1]).view(bool)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Cells ``[r0:r1, c0:c1]`` (``0 <= c0 <= c1 <= width``): only the bytes of those columns
        are unpacked."""
        b0 = c0 // 8
        part = np.unpackbits(self.bits[r0:r1, b0:(c1 + 7) // 8], axis=1).view(bool)
        return part[:, c0 - 8 * b0:c1 - 8 * b0]

    def any(self) -> bool:
        return bool(self.bits.any())



class DiskGrid(_LazyGrid):
    """A 2-D grid kept in an anonymous temporary file (row-major, native byte order), not in memory.

    Blocks are written with ``grid[rows, cols] = block`` and rows read back with :meth:`rows`
    or ``grid[rows, cols]``; reads and writes go through ``pread``/``pwrite``, so the grid's
    pages sit in the operating system's file cache, never in the process's resident memory.
    The file is deleted when the object is closed or collected. Starts as zeros.
    """

    def __init__(self, shape: tuple[int, int], dtype, *, dir: str | None = None) -> None:
        import tempfile
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._file = tempfile.TemporaryFile(prefix="habitat-grid-", dir=dir)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        self._file.truncate(self.shape[0] * self._row_bytes)

    def close(self) -> None:
        self._file.close()

    def __setitem__(self, key: tuple[slice, slice], block: np.ndarray) -> None:
        import os
        rows, cols = key
        r0, r1, _ = rows.indices(self.shape[0])
        c0, c1, _ = cols.indices(self.shape[1])
        block = np.ascontiguousarray(block, dtype=self.dtype).reshape(r1 - r0, c1 - c0)
        fd = self._file.fileno()
        if c0 == 0 and c1 == self.shape[1]:
            os.pwrite(fd, block.data, r0 * self._row_bytes)
            return
        for i in range(r1 - r0):
            os.pwrite(fd, block[i].data, (r0 + i) * self._row_bytes + c0 * self.dtype.itemsize)

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` (clipped to the grid), read from the file."""
        r0, r1 = max(0, r0), min(self.shape[0], r1)
        out = np.empty((max(0, r1 - r0), self.shape[1]), self.dtype)
        self._read_into(out, r0 * self._row_bytes)
        return out

    def _read_into(self, out: np.ndarray, offset: int) -> None:
        """Fill the contiguous array ``out`` with the file's bytes from ``offset``."""
        import os
        view = memoryview(out).cast("B")
        while len(view):
            n = os.preadv(self._file.fileno(), [view], offset)
            if n <= 0:
                raise OSError(f"short read from the temporary grid at byte {offset}")
            view, offset = view[n:], offset + n

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Cells ``[r0:r1, c0:c1]`` (clipped to the grid), read row by row from the file."""
        r0, r1 = max(0, r0), min(self.shape[0], r1)
        c0, c1 = max(0, c0), min(self.shape[1], c1)
        out = np.empty((max(0, r1 - r0), max(0, c1 - c0)), self.dtype)
        for i in range(out.shape[0]):
            self._read_into(out[i], (r0 + i) * self._row_bytes + c0 * self.dtype.itemsize)
        return out

    def count_nonzero(self, rows: slice | None = None, cols: slice | None = None) -> int:
        """Non-zero cells in ``[rows, cols]``, read strip by strip."""
        r0, r1, _ = (rows or slice(None)).indices(self.shape[0])
        step = strip_rows(self.shape[1])
        return sum(int(np.count_nonzero(self.rows(s, min(r1, s + step))[:, cols or slice(None)]))
                   for s in range(r0, r1, step))
