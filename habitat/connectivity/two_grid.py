"""Two resolutions: connectivity on a coarser grid, results brought back to the fine grid.

Habitat, patches and indicators stay on the fine analysis grid; least-cost and circuit
connectivity may run on a grid ``factor`` times coarser (``grid.connectivity_resolution_m``)
whose cells are exact ``factor x factor`` blocks of fine cells (same origin), so bringing a
result back is a repeat of each coarse value over its block.

Aggregation rule for resistance (per coarse cell, over its fine cells):

* the cell is impassable (NaN) when more than half of its fine cells are impassable (NaN or
  +inf): a majority rule, so a barrier that fills most of the cell stays a barrier and a
  sliver of barrier does not close a whole coarse cell;
* otherwise its resistance is the harmonic mean of the finite fine resistances, i.e. the
  reciprocal of their mean conductance (Circuitscape's default "average conductance" between
  cells). Animals and current cross a block along its cheapest cells: a one-cell-wide strip of
  tugai (resistance 1) in a 2 x 2 block of desert (100) leaves the block about as cheap as two
  strip cells side by side (harmonic 2.0), where the arithmetic mean (75) would close the
  corridor. Measured on the demo (bench/README.md, "Two resolutions"): the six links' least-cost
  distances on a 2x coarser grid differ from the fine run by -1 % to +4 % with the harmonic
  mean and by +4 % to +91 % with the arithmetic mean (+11-13 % against +55-175 % at 4x); the
  minimum underestimates (-2 to -18 %). The cost of a single fine cell of barrier (a road in
  a coarse cell) is diluted the same way; a barrier line survives only where it fills more
  than half of the coarse cells it crosses.

Population cores and patches stay defined on the fine grid: a fine cell's coarse cell is
``(row // factor, col // factor)`` (:func:`coarse_cell`). A population's coarse core is the set of
coarse cells where its fine core cells are the most numerous (:func:`aggregate_labels`); its
focal cell for the circuit is the coarse cell of its fine focal cell; a patch's coarse cells are
the coarse cells of its fine cells (:func:`block_any`).

Where the results go (``grid.connectivity_resolution_m``, README "Two resolutions"): Linkage
Mapper and Circuitscape write their maps on the grid of the resistance raster they were given,
and their users overlay those maps on the habitat maps and cut them by patches and sites. Here
every raster of a run shares the analysis grid (the maps, the report and the sites stage read
corridors, current and pinch points cell by cell beside the patches), so the connectivity and
circuit stages bring their rasters back with :func:`upsample_nearest`: each coarse value is
repeated over its block (blocky at the coarse grain, which shows the resolution the number
has) and fine cells that are impassable stay NoData. Values keep their units: cost-weighted
distances and corridor widths in resistance x m; current in amperes, divided by ``factor``
(the circuit stage), because the current through one coarse cell crosses ``factor`` fine
cells side by side, so a fine cell of a uniformly crossed block carries ``1 / factor`` of it
(the sum of current over a patch then matches a fine run). Tables (links, effective
resistance) are computed on the coarse grid: cost in resistance x m (mean resistance x metres
of the coarse cells' side), distances in metres, effective resistance in ohms (a strip of
``W`` cells by ``L`` cells has ``r L / W`` ohms at either grain).

Results at the coarse grain are an approximation: check them against a fine run on a subset.

Bounded memory (issue 14): at ``factor`` > 1 nothing of the analysis grid's size is held. The
fine inputs are read strip by strip (:func:`iter_strips`: windows of whole block rows, ~1 M
cells each) and reduced into the coarse grid: resistance (:func:`aggregate_resistance`),
core majority (:func:`aggregate_labels`), reach (:func:`block_any`), the patches' coarse cells
(:func:`patch_coarse_cells`), the finite-cell count (:func:`count_finite`) and the median
resistance of habitat cells by an exact radix selection (:func:`masked_quantile`). Every block
lies inside one strip, so each is the whole-array result bit for bit. The rasters brought back
are dask arrays made chunk by chunk as the runner writes them (:func:`upsample_lazy`,
:func:`population_cores_blockwise`), and per-patch current sums continue one running sum in
row-major order (:func:`patch_sums`), as ``np.bincount`` of the whole grid does.

Few reads (grids of billions of cells: each pass over a fine raster is a file read and decode):
the least-cost stage takes what it needs of the fine resistance and patches in one pass
(:func:`summarize_fine`: aggregation, finite count, median of habitat cells, patch cells); the
median keeps the distinct values it meets (up to ``max_candidates``), so a raster of classed
resistances needs no further pass and a float32 one at most one. Population cores read only the
windows and chunks near the sites (:func:`population_cores_blockwise`). The rasters brought back
read the fine resistance once more as they are written together (bench/README.md, "Connectivity
stage: fine-raster reads").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from habitat.errors import ConfigError
from habitat.grid import GridSpec

__all__ = [
    "Grain",
    "aggregate_labels", "aggregate_resistance", "block_any", "coarse_cell", "coarse_cores", "coarse_focal_cells",
    "coarse_grid", "coarsen_factor", "connectivity_factor",
    "upsample_nearest", "upsample_window",
    "count_finite", "iter_strips", "masked_quantile", "patch_coarse_cells", "patch_sums", "upsample_lazy",
    "FineSummary", "summarize_fine",
]


#: Fine cells aggregated per strip: bounds the temporaries of the block arrays (~60 bytes a cell)
_STRIP_CELLS = 1 << 20
#: Fine cells of a lazy input read at once by :func:`iter_strips` (whole strips; ~16 MB of float32)
_READ_CELLS = 1 << 22


def coarsen_factor(fine_resolution_m: float, connectivity_resolution_m: float | None) -> int:
    """Fine cells per coarse cell side: ``connectivity_resolution_m / fine_resolution_m``.

    Raises
    ------
    ConfigError
        The ratio is below 1 or not a whole number (within 1e-6).
    """
    if connectivity_resolution_m is None:
        return 1
    ratio = float(connectivity_resolution_m) / float(fine_resolution_m)
    factor = round(ratio)
    if factor < 1 or not math.isclose(ratio, factor, rel_tol=0, abs_tol=1e-6):
        raise ConfigError(
            f"grid.connectivity_resolution_m: {connectivity_resolution_m:g} is not a whole multiple of "
            f"grid.resolution_m {fine_resolution_m:g}; use a whole multiple such as "
            f"{max(1, factor) * fine_resolution_m:g}, or leave it out to run connectivity on the analysis grid"
        )
    return int(factor)


def connectivity_factor(grid: GridSpec, grid_settings) -> int:
    """:func:`coarsen_factor` of a stage's analysis ``grid`` and its declared ``grid`` setting
    (a :class:`habitat.config.GridConfig` or None; ``connectivity_resolution_m`` unset = 1)."""
    return coarsen_factor(grid.resolution, getattr(grid_settings, "connectivity_resolution_m", None))


def coarse_grid(grid: GridSpec, factor: int) -> GridSpec:
    """The grid of ``factor x factor`` blocks of ``grid`` (same origin; the last row/column of
    blocks may reach past the fine grid's edge)."""
    a, b, c, d, e, f = grid.transform
    shape = (-(-grid.height // factor), -(-grid.width // factor))
    return GridSpec(grid.crs, (a * factor, b, c, d, e * factor, f), shape)


def _blocks(values: np.ndarray, factor: int, fill: float) -> np.ndarray:
    rows, cols = values.shape
    h, w = -(-rows // factor), -(-cols // factor)
    padded = np.full((h * factor, w * factor), fill, dtype=np.float64)
    padded[:rows, :cols] = values
    return padded.reshape(h, factor, w, factor).swapaxes(1, 2).reshape(h, w, factor * factor)


def aggregate_resistance(resistance: np.ndarray, factor: int) -> np.ndarray:
    """Resistance on the coarse grid: harmonic mean of the finite fine cells (the reciprocal of
    their mean conductance); NaN if more than half are impassable.

    Parameters
    ----------
    resistance : ndarray, shape (rows, cols)
        Fine resistance (>= 1 per cell; NaN or +inf = impassable).
    factor : int
        Fine cells per coarse cell side (>= 1).

    Returns
    -------
    ndarray of float64, shape (ceil(rows / factor), ceil(cols / factor))
        Coarse resistance. Edge blocks count only the fine cells inside the grid.

    Examples
    --------
    >>> r = np.array([[1, 3, np.nan, np.nan], [1, 3, np.nan, 2.0]])
    >>> aggregate_resistance(r, 2).tolist()
    [[1.5, nan]]
    """
    factor = int(factor)
    resistance = resistance if _lazy(resistance) is not None else np.asarray(resistance)
    return _by_strips(resistance, factor, np.float64, _aggregate_strip)


def _aggregate_strip(strip: np.ndarray, factor: int) -> np.ndarray:
    strip = np.asarray(strip, dtype=np.float64)
    if factor == 1:
        return np.where(np.isinf(strip), np.nan, strip)
    inside = _blocks(np.zeros(strip.shape), factor, np.nan)  # 0 inside the grid, NaN outside
    n_inside = np.isfinite(inside).sum(axis=2)
    values = _blocks(np.where(np.isinf(strip), np.nan, strip), factor, np.nan)
    passable = np.isfinite(values)
    n_pass = passable.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        conductance = np.where(passable, 1.0 / values, 0.0).sum(axis=2)
        mean = n_pass / conductance
    impassable = (n_inside - n_pass) * 2 > n_inside
    return np.where(impassable | (n_pass == 0), np.nan, mean)


class _Stacked:
    """``fn(strip, factor)`` of strips of whole block rows (:meth:`add`, top to bottom), stacked
    into the coarse grid of a ``shape`` fine grid."""

    def __init__(self, shape: tuple[int, int], factor: int, dtype, fn) -> None:
        self.factor, self.fn = factor, fn
        self.out = np.empty((-(-shape[0] // factor), -(-shape[1] // factor)), dtype=dtype)

    def add(self, row0: int, strip: np.ndarray) -> None:
        top = row0 // self.factor
        part = self.fn(strip, self.factor)
        self.out[top: top + part.shape[0]] = part


def _by_strips(values, factor: int, dtype, fn) -> np.ndarray:
    """``fn(strip, factor)`` over strips of whole block rows (:func:`iter_strips`: bounded
    temporaries, a lazy ``values`` read strip by strip), stacked."""
    stacked = _Stacked(values.shape, factor, dtype, fn)
    for row0, (strip,) in iter_strips([values], factor):
        stacked.add(row0, strip)
    return stacked.out


def _lazy(values):
    """The dask array of a dask-backed DataArray or dask array; None for in-memory values."""
    import dask.array as da
    data = getattr(values, "data", values)
    return data if isinstance(data, da.Array) else None


def iter_strips(arrays, factor: int = 1, max_cells: int | None = None):
    """Row strips of aligned 2-D arrays as numpy, top to bottom: ``(row0, [strip, ...])``.

    Every strip but the last holds a whole number of ``factor``-row blocks and at most
    ``max_cells`` cells (default ``_STRIP_CELLS``; at least ``factor`` rows). Lazy (dask or
    dask-backed xarray) arrays are read a window of whole strips at a time (about
    ``_READ_CELLS`` cells; dask pushes the slice into the file read, so only the window's rows
    are decoded), so memory holds one window of each array whatever the grid's width (a row
    of input chunks, 1024 rows x the width, grew with the square root of the cells:
    bench/README.md, "Circuit stage flat").

    Parameters
    ----------
    arrays : list of array_like
        Same shape ``(rows, cols)``: numpy arrays, dask arrays or DataArrays.
    factor : int
        Block rows (>= 1).
    max_cells : int, optional
        Cells per strip.
    """
    arrays = [getattr(a, "data", a) for a in arrays]
    rows, cols = arrays[0].shape
    factor = int(factor)
    step = max(1, (max_cells or _STRIP_CELLS) // max(1, cols) // factor) * factor
    lazy = any(_lazy(a) is not None for a in arrays)
    # lazy inputs: a few strips per read (each read decodes the file tiles it touches)
    window = step * max(1, _READ_CELLS // max(1, cols * step)) if lazy else step
    for w0 in range(0, rows, window):
        parts = [np.asarray(a[w0: w0 + window]) for a in arrays]
        for top in range(0, parts[0].shape[0], step):
            yield w0 + top, [p[top: top + step] for p in parts]


def count_finite(values) -> int:
    """Number of finite cells of a (lazy) 2-D array, read strip by strip."""
    return int(sum(int(np.isfinite(strip).sum()) for _, (strip,) in iter_strips([values])))


def _sortable(values: np.ndarray) -> np.ndarray:
    """uint64 keys ordered as the float64 ``values`` (no NaN): sign bit flipped for positives,
    every bit for negatives."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    flip = np.where(bits >> np.uint64(63), np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(1 << 63))
    return bits ^ flip


def _unsortable(key: int) -> float:
    """The float64 of a :func:`_sortable` key."""
    bits = np.uint64(key) ^ (np.uint64(1 << 63) if key >> 63 else np.uint64(0xFFFFFFFFFFFFFFFF))
    return float(np.array([bits], np.uint64).view(np.float64)[0])


def _as_mask(mask) -> np.ndarray:
    """``mask`` as bool: True, or an integer > 0 (patch labels)."""
    mask = np.asarray(mask)
    return mask if mask.dtype == bool else mask > 0


def _masked_keys(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sortable keys of the finite ``values`` where ``mask`` is True or an integer > 0."""
    v = np.asarray(values, dtype=np.float64)[_as_mask(mask)]
    return _sortable(v[np.isfinite(v)])


def _merge_counts(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their summed counts of several ``(keys, counts)`` tables."""
    keys = np.concatenate([k for k, _ in parts])
    counts = np.concatenate([c for _, c in parts])
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.zeros(0, np.int64)
    return keys[starts], np.add.reduceat(counts, starts) if keys.size else counts


class _Bucket:
    """The keys ``k`` with ``k >> shift == prefix`` (``shift`` 64: every key) fed to :meth:`add`:
    their number, the histogram of their next 16 bits and, while at most ``cap`` of them are
    distinct, every distinct key with its count (then a rank is read off without another pass)."""

    def __init__(self, prefix: int, shift: int, cap: int) -> None:
        self.prefix, self.shift, self.cap = prefix, shift, cap
        self.n = 0
        self.hist = np.zeros(1 << 16, np.int64)
        self.parts: list[tuple[np.ndarray, np.ndarray]] | None = []
        self._pending = 0

    def _digits(self, keys: np.ndarray) -> np.ndarray:
        return ((keys >> np.uint64(self.shift - 16)) & np.uint64(0xFFFF)).astype(np.int64)

    def add(self, keys: np.ndarray) -> None:
        if self.shift < 64:
            keys = keys[(keys >> np.uint64(self.shift)) == np.uint64(self.prefix)]
        if keys.size == 0:
            return
        self.n += keys.size
        if self.parts is None:
            self.hist += np.bincount(self._digits(keys), minlength=1 << 16)
            return
        distinct, counts = np.unique(keys, return_counts=True)
        # integer counts as float64 weights: exact below 2**53
        self.hist += np.bincount(self._digits(distinct), weights=counts, minlength=1 << 16).astype(np.int64)
        self.parts.append((distinct, counts.astype(np.int64)))
        self._pending += distinct.size
        if self._pending > self.cap:
            self.parts = [_merge_counts(self.parts)]
            self._pending = self.parts[0][0].size
            if self._pending > self.cap:
                self.parts = None  # too many distinct keys: the histogram narrows them down instead

    def key_at(self, rank: int) -> int | None:
        """The key of 0-based ``rank`` among this bucket's keys, None when not kept."""
        if self.parts is None:
            return None
        keys, counts = _merge_counts(self.parts)
        return int(keys[int(np.searchsorted(np.cumsum(counts), rank, side="right"))])


class _QuantileSelection:
    """``np.quantile`` (linear method) of the keys fed strip by strip (:meth:`add`), exactly: the
    first pass keeps the distinct keys (up to ``cap``) and a 16-bit histogram; where that is not
    enough, :meth:`result` narrows both order statistics around the quantile down 16 bits per
    further pass (at most three more)."""

    def __init__(self, q: float, cap: int) -> None:
        self.q, self.cap = q, cap
        self.first = _Bucket(0, 64, cap)

    def add(self, values: np.ndarray, mask: np.ndarray) -> None:
        self.first.add(_masked_keys(values, mask))

    def result(self, rescan) -> float | None:
        """The quantile (None without keys); ``rescan()`` yields the keys again, strip by strip,
        for a further pass."""
        n, q = self.first.n, self.q
        if n == 0:
            return None
        # numpy's linear method (np.quantile, method="linear"): virtual index (n - 1) q, computed
        # as numpy does (n q + (1 - q) - 1 rounds differently for some q; the same at q = 0.5)
        virtual = (n - 1) * q
        lo = int(np.clip(np.floor(virtual), 0, n - 1))
        gamma = virtual - np.floor(virtual)
        hi = min(lo + 1, n - 1)
        keys = self._select([lo, hi], rescan)
        a, b = _unsortable(keys[lo]), _unsortable(keys[hi])
        diff = b - a
        out = a + diff * gamma
        if gamma >= 0.5:
            out = b - diff * (1 - gamma)
        return float(out)

    def _select(self, ranks: list[int], rescan) -> dict[int, int]:
        found: dict[int, int] = {}
        state = {rank: (self.first, 0) for rank in ranks}  # bucket holding the rank, keys below it
        while state:
            buckets: dict[tuple[int, int], _Bucket] = {}
            narrowed = {}
            for rank, (bucket, below) in state.items():
                key = bucket.key_at(rank - below)
                if key is not None:
                    found[rank] = key
                    continue
                cum = np.cumsum(bucket.hist)
                digit = int(np.searchsorted(cum, rank - below, side="right"))
                below += int(cum[digit - 1]) if digit else 0
                prefix, shift = (bucket.prefix << 16) | digit, bucket.shift - 16
                if shift == 0:
                    found[rank] = prefix  # every bit known
                    continue
                narrowed[rank] = (buckets.setdefault((prefix, shift), _Bucket(prefix, shift, self.cap)), below)
            if buckets:
                for keys in rescan():
                    for bucket in buckets.values():
                        bucket.add(keys)
            state = narrowed
        return found


def masked_quantile(values, mask, q: float = 0.5, *, max_candidates: int = 1 << 20) -> float | None:
    """``np.quantile(values[mask & isfinite(values)], q)`` (linear method) of lazy 2-D arrays,
    exactly, without holding the selection: one pass over strips (:func:`iter_strips`) keeps
    the distinct values (up to ``max_candidates``) with their counts and a histogram of the top
    16 bits of the sortable float64 key; with more distinct values, a radix selection of the two
    order statistics around the quantile's position, 16 bits of the key per further pass, until
    at most ``max_candidates`` distinct values share the bits found (at most 4 passes in all;
    2 for float32 rasters with the default ``max_candidates``: a float32's key has 32
    significant bits, so at most 2**19 distinct ones share the first 16). None when no cell is
    selected.

    Parameters
    ----------
    values : 2-D array_like (numpy, dask, DataArray)
        E.g. resistance; NaN and inf are left out.
    mask : 2-D array_like, same shape
        Cells to take: True, or an integer > 0.
    q : float
        In [0, 1].
    max_candidates : int
        Distinct values kept at once (16 bytes each).

    Examples
    --------
    >>> masked_quantile(np.array([[1.0, 3.0, 2.0, 900.0]]), np.array([[1, 1, 1, 0]]))
    2.0
    """
    selection = _QuantileSelection(q, max_candidates)
    for _, (v, m) in iter_strips([values, mask]):
        selection.add(v, m)
    return selection.result(lambda: (_masked_keys(v, m) for _, (v, m) in iter_strips([values, mask])))


def block_any(mask: np.ndarray, factor: int) -> np.ndarray:
    """Coarse cells holding at least one True fine cell.

    Examples
    --------
    >>> block_any(np.array([[0, 0, 0], [0, 0, 1]], bool), 2).tolist()
    [[False, True]]
    """
    def strip_any(strip, f):
        return _blocks(np.asarray(strip, dtype=np.float64), f, 0.0).any(axis=2)
    return _by_strips(mask if _lazy(mask) is not None else np.asarray(mask, dtype=bool), int(factor), bool, strip_any)


def aggregate_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """Per coarse cell, the positive label with the most fine cells in its block (ties: the
    lower label), 0 where the block has none. For few labels (population cores): one pass per
    label.

    Examples
    --------
    >>> aggregate_labels(np.array([[1, 0, 2, 2], [1, 2, 0, 0]]), 2).tolist()
    [[1, 2]]
    """
    factor = int(factor)
    labels = labels if _lazy(labels) is not None else np.asarray(labels)

    def strip_mode(strip, f):
        best = np.zeros((-(-strip.shape[0] // f), -(-strip.shape[1] // f)), np.int32)
        most = np.zeros(best.shape, np.int64)
        # ascending: a tie keeps the lower label; a label absent from the strip never wins
        for label in (int(v) for v in np.unique(strip) if v > 0):
            count = _blocks((strip == label).astype(np.float64), f, 0.0).sum(axis=2).astype(np.int64)
            win = count > most
            best[win], most[win] = label, count[win]
        return best
    return _by_strips(labels, factor, np.int32, strip_mode)


def coarse_cores(cores: np.ndarray, coarse_resistance: np.ndarray, factor: int, *,
                 aggregated: np.ndarray | None = None) -> np.ndarray:
    """Population cores on the coarse grid: per coarse cell the population with the most fine
    core cells in its block (:func:`aggregate_labels`), on passable coarse cells only (0 elsewhere).
    ``aggregated``: :func:`aggregate_labels` of ``cores`` when at hand
    (:func:`population_cores_blockwise` with ``coarse_factor``); then ``cores`` is not read.

    Examples
    --------
    >>> coarse_cores(np.array([[1, 0, 2, 2], [1, 2, 0, 0]]), np.array([[1.0, np.nan]]), 2).tolist()
    [[1, 0]]
    """
    labels = aggregate_labels(cores, factor) if aggregated is None else aggregated
    return np.where(np.isfinite(coarse_resistance), labels, 0).astype(np.int32)


def coarse_cell(cell: tuple[int, int] | None, factor: int) -> tuple[int, int] | None:
    """The coarse cell ``(row // factor, col // factor)`` holding fine cell ``cell`` (None stays None)."""
    return None if cell is None else (int(cell[0]) // int(factor), int(cell[1]) // int(factor))


def coarse_focal_cells(
    cells: list[tuple[int, int] | None], coarse_cores: np.ndarray, coarse_resistance: np.ndarray, factor: int
) -> list[tuple[int, int] | None]:
    """Focal cells on the coarse grid: the coarse cell of each fine focal cell, or where that one
    is impassable, the passable coarse core cell of the same population (index ``i + 1`` in
    ``coarse_cores``) nearest it; None when the population has none.

    Examples
    --------
    >>> res = np.array([[np.nan, 1.0, 1.0]])
    >>> coarse_focal_cells([(1, 5), (0, 1), None], np.array([[0, 2, 1]]), res, 2)
    [(0, 2), (0, 1), None]
    """
    out: list[tuple[int, int] | None] = []
    for index, cell in enumerate(cells, start=1):
        cc = coarse_cell(cell, factor)
        if cc is not None and not np.isfinite(coarse_resistance[cc]):
            rows, cols = np.nonzero((coarse_cores == index) & np.isfinite(coarse_resistance))
            if rows.size == 0:
                cc = None
            else:
                k = int(np.argmin((rows - cc[0]) ** 2 + (cols - cc[1]) ** 2))
                cc = (int(rows[k]), int(cols[k]))
        out.append(cc)
    return out


def upsample_nearest(coarse: np.ndarray, factor: int, fine_shape: tuple[int, int]) -> np.ndarray:
    """Each coarse value repeated over its ``factor x factor`` fine cells, cropped to ``fine_shape``.

    Examples
    --------
    >>> upsample_nearest(np.array([[1, 2]]), 2, (2, 3)).tolist()
    [[1, 1, 2], [1, 1, 2]]
    """
    return upsample_window(np.asarray(coarse), factor, (0, fine_shape[0]), (0, fine_shape[1]))


@dataclass(frozen=True)
class Grain:
    """The grid the cost surfaces run on: the analysis grid (``factor`` 1) or ``factor`` times
    coarser; ``fine_resistance`` is the analysis-grid resistance (numpy, dask or DataArray; None
    at factor 1), whose impassable cells the rasters brought back leave at their fill value."""

    fine: GridSpec
    grid: GridSpec
    factor: int
    fine_resistance: object = None

    @classmethod
    def of(cls, fine: GridSpec, factor: int, fine_resistance) -> Grain:
        """The grain ``factor`` times coarser than ``fine`` (``fine_resistance`` marks the
        impassable fine cells: NaN or inf)."""
        if factor == 1:
            return cls(fine, fine, 1, None)
        return cls(fine, coarse_grid(fine, factor), factor, fine_resistance)

    def back(self, values: np.ndarray, fill, keep=None):
        """A coarse raster on the analysis grid (:func:`upsample_lazy`: lazy when the fine
        resistance is): repeated over each block, ``fill`` on fine impassable cells and where
        ``keep`` is not finite; unchanged at factor 1."""
        if self.factor == 1:
            return values
        return upsample_lazy(values, self.factor, self.fine_resistance, fill, keep=keep)


def upsample_window(coarse: np.ndarray, factor: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Fine cells ``rows`` x ``cols`` (half-open ranges, inside the coarse grid's ``factor``-fold
    extent) of ``coarse`` with each value repeated over its ``factor x factor`` block (a copy)."""
    return coarse[np.arange(*rows) // factor][:, np.arange(*cols) // factor]


def upsample_lazy(coarse: np.ndarray, factor: int, fine_resistance, fill, *, keep=None):
    """:func:`upsample_nearest` of ``coarse`` on the analysis grid, ``fill`` on fine impassable
    cells (``fine_resistance`` NaN or inf) and, with ``keep``, where ``keep`` is not finite.

    With a lazy ``fine_resistance`` (dask or dask-backed DataArray) the result is a dask array
    of its chunks, each made from its window of ``coarse`` when it is written (nothing on the
    analysis grid is held); otherwise a numpy array: the same values either way.
    """
    lazy = _lazy(fine_resistance)
    fill_value = np.asarray(fill).astype(coarse.dtype)

    def block(res, *more, block_info=None):
        (r0, r1), (c0, c1) = block_info[0]["array-location"]
        out = upsample_window(coarse, factor, (r0, r1), (c0, c1))
        out[~np.isfinite(res)] = fill_value
        if more:
            out[~np.isfinite(more[0])] = fill_value
        return out

    if lazy is None:
        res = np.asarray(getattr(fine_resistance, "values", fine_resistance))
        extra = () if keep is None else (np.asarray(getattr(keep, "values", keep)),)
        info = {0: {"array-location": [(0, res.shape[0]), (0, res.shape[1])]}}
        return block(res, *extra, block_info=info)
    args = [lazy] if keep is None else [lazy, getattr(keep, "data", keep)]
    return args[0].map_blocks(block, *args[1:], dtype=coarse.dtype)


def patch_coarse_cells(labels, ids: list[int], factor: int, coarse_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """The coarse cells of the kept patches, read strip by strip: ``(patch index, flat coarse
    cell)`` pairs, each once (``patch index`` = position in ``ids``), sorted.

    A patch starts from and is reached at the coarse cells of its fine cells
    (:func:`habitat.connectivity.patch_distances.patch_distances`); the pairs hold one entry per
    coarse cell, not per fine cell.

    Examples
    --------
    >>> patch_coarse_cells(np.array([[0, 7, 7], [3, 0, 7]]), [7, 3], 2, 2)
    (array([0, 0, 1]), array([0, 1, 0]))
    """
    cells = _PatchCells(ids, factor, coarse_cols)
    for row0, (strip,) in iter_strips([labels], factor):
        cells.add(row0, strip)
    return cells.result()


class _PatchCells:
    """:func:`patch_coarse_cells` fed strip by strip (:meth:`add`: strips of whole block rows)."""

    def __init__(self, ids: list[int], factor: int, coarse_cols: int) -> None:
        ids = [int(v) for v in ids]
        self.factor, self.coarse_cols = int(factor), int(coarse_cols)
        self.index = np.full(max(ids, default=0) + 1, -1, np.int64)
        self.index[ids] = np.arange(len(ids))
        self.found = [np.zeros(0, np.int64)]

    def add(self, row0: int, strip: np.ndarray) -> None:
        rows, cols = np.nonzero(strip > 0)
        lab = strip[rows, cols].astype(np.int64)
        inside = lab < self.index.size
        patch = np.where(inside, self.index[np.where(inside, lab, 0)], -1)
        kept = patch >= 0
        cell = ((rows[kept] + row0) // self.factor) * self.coarse_cols + cols[kept] // self.factor
        # one key per (patch, coarse cell); strips hold whole block rows, so no key is in two
        self.found.append(np.unique(patch[kept] * (1 << 40) + cell))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.concatenate(self.found)
        keys.sort()
        return keys >> 40, keys & ((1 << 40) - 1)


@dataclass(frozen=True)
class FineSummary:
    """What the least-cost stage takes from the fine resistance and patch labels
    (:func:`summarize_fine`)."""

    #: :func:`aggregate_resistance` of the fine resistance (the analysis grid's at ``factor`` 1)
    resistance: np.ndarray
    #: :func:`count_finite` of the fine resistance
    finite_cells: int
    #: :func:`masked_quantile` of the fine resistance on cells with a label > 0 (None: not asked
    #: for, or no such cell)
    quantile: float | None
    #: :func:`patch_coarse_cells` of the asked patches
    patch_cells: tuple[np.ndarray, np.ndarray]


def summarize_fine(resistance, labels, factor: int, *, patch_ids: list[int], q: float | None = None,
                   max_candidates: int = 1 << 20) -> FineSummary:
    """:func:`aggregate_resistance`, :func:`count_finite`, :func:`masked_quantile` (``labels``
    as the mask) and :func:`patch_coarse_cells` of the fine ``resistance`` and ``labels`` in one
    pass over their strips (:func:`iter_strips`), each result bit for bit the function's.

    The quantile takes further passes only when the habitat cells hold more than
    ``max_candidates`` distinct resistances (at most 3 more; at ``factor`` 1 they read ``labels``
    only, the resistance being in memory then).

    Parameters
    ----------
    resistance, labels : 2-D array_like (numpy, dask or DataArray), same shape
        Fine resistance (NaN or inf = impassable) and patch labels (> 0 = habitat patch).
    factor : int
        Fine cells per coarse cell side (>= 1).
    patch_ids : list of int
        Patches whose coarse cells are wanted.
    q : float, optional
        Quantile in [0, 1]; None: not computed.
    max_candidates : int
        As for :func:`masked_quantile`.
    """
    factor = int(factor)
    resistance = resistance if _lazy(resistance) is not None else np.asarray(getattr(resistance, "values", resistance))
    coarse = _Stacked(resistance.shape, factor, np.float64, _aggregate_strip)
    cells = _PatchCells(patch_ids, factor, -(-resistance.shape[1] // factor))
    selection = None if q is None else _QuantileSelection(q, max_candidates)
    finite = 0
    for row0, (res, lab) in iter_strips([resistance, labels], factor):
        coarse.add(row0, res)
        finite += int(np.isfinite(res).sum())
        cells.add(row0, lab)
        if selection is not None:
            selection.add(res, lab)
    quantile = None
    if selection is not None:
        # at factor 1 the coarse grid is the fine one, in memory (inf made NaN: left out alike)
        again = [coarse.out if factor == 1 else resistance, labels]
        quantile = selection.result(lambda: (_masked_keys(v, m) for _, (v, m) in iter_strips(again)))
    return FineSummary(coarse.out, finite, quantile, cells.result())


def patch_sums(labels, coarse: np.ndarray, factor: int, fine_resistance=None) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the sum over its fine cells of ``coarse`` brought back
    (:func:`upsample_nearest`; NaN, and cells where ``fine_resistance`` is not finite, count 0)
    and the number of its cells, read strip by strip.

    The sums are accumulated cell by cell in row-major order, as ``np.bincount`` of the whole
    grid does, so they are bit for bit those of the grid in memory.

    Returns
    -------
    sums : ndarray of float64, counts : ndarray of int64
        Indexed by label (0 .. max label).
    """
    sums = np.zeros(1)
    counts = np.zeros(1, np.int64)
    arrays = [labels] if fine_resistance is None else [labels, fine_resistance]
    for row0, strips in iter_strips(arrays, factor):
        lab = strips[0].ravel().astype(np.int64)
        values = upsample_window(np.asarray(coarse, dtype=np.float64), factor, (row0, row0 + strips[0].shape[0]),
                         (0, strips[0].shape[1]))
        if len(strips) > 1:
            values[~np.isfinite(strips[1])] = np.nan
        m = max(sums.size, int(lab.max(initial=0)) + 1)
        sums = np.concatenate([sums, np.zeros(m - sums.size)])
        counts = np.concatenate([counts, np.zeros(m - counts.size, np.int64)])
        # the running sums go first, so each label continues its sum where the last strip ended
        sums = np.bincount(np.concatenate([np.arange(m), lab]), weights=np.concatenate([sums, np.nan_to_num(values).ravel()]),
                           minlength=m)
        counts += np.bincount(lab, minlength=m)
    return sums, counts


def label_cells(labels, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows and columns of the cells of labels 1..n (row-major order, as ``np.nonzero``), read
    strip by strip; for labels that cover few cells (population cores)."""
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(n)]
    for row0, (strip,) in iter_strips([labels]):
        rows, cols = np.nonzero(strip > 0)
        values = strip[rows, cols]
        for index in range(1, n + 1):
            pick = values == index
            if pick.any():
                found[index - 1].append((rows[pick] + row0, cols[pick]))
    return [(np.concatenate([r for r, _ in parts]), np.concatenate([c for _, c in parts])) if parts
            else (np.zeros(0, np.int64), np.zeros(0, np.int64)) for parts in found]


def population_cores_blockwise(
    points_xy: np.ndarray, resistance, x_coords: np.ndarray, y_coords: np.ndarray, radius_m: float, *,
    habitat=None, areas: tuple[int, int, np.ndarray] | None = None, coarse_factor: int | None = None,
) -> tuple:
    """:func:`habitat.connectivity.populations.population_cores` window by window.

    A first pass over the windows around the sites (``radius_m`` plus a cell of each point, the
    polygon window) finds which sites have any core cell and which have habitat among them (the
    habitat rule is grid-wide); the cores are then made per chunk of a lazy ``resistance`` when
    written (a dask array; numpy for in-memory inputs). Chunks that meet no such window are
    zeros that read neither input: only the windows and chunks near the sites are read.

    Parameters
    ----------
    points_xy, x_coords, y_coords, radius_m
        As for ``population_cores``.
    resistance, habitat : 2-D array_like (numpy, dask or DataArray)
        Resistance and habitat on the analysis grid; habitat as bool, or as patch labels
        (> 0 = habitat; a lazy raster read as it is, so its windows come from the file).
    areas : (row0, col0, ndarray), optional
        :func:`habitat.connectivity.populations.site_areas` of the polygon sites on the window
        of the grid starting at ``(row0, col0)`` that holds all of them.
    coarse_factor : int, optional
        Also return :func:`aggregate_labels` of the cores on the grid ``coarse_factor`` times
        coarser, made from the windows around the sites (widened to whole blocks) strip by
        strip: the cores are not made twice.

    Returns
    -------
    cores : dask or numpy array of int32
    present : set of int
        Sites (1..n) with at least one core cell.
    with_habitat : set of int
        Sites with a habitat cell in their core.
    coarse : ndarray of int32
        Only with ``coarse_factor``: the cores aggregated.
    """
    from habitat.connectivity.populations import population_cores
    x = np.asarray(x_coords, dtype=np.float64)
    y = np.asarray(y_coords, dtype=np.float64)
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    area_sites: set[int] = set()
    boxes = []
    if areas is not None:
        a_r0, a_c0, a_win = areas
        area_sites = {int(v) for v in np.unique(a_win) if v > 0}
        boxes.append((a_r0, a_r0 + a_win.shape[0], a_c0, a_c0 + a_win.shape[1]))
    step = max(np.abs(np.diff(x)).max(initial=0), np.abs(np.diff(y)).max(initial=0))
    for i, (px, py) in enumerate(points):
        if i + 1 in area_sites:
            continue
        rows = np.flatnonzero(np.abs(y - py) <= radius_m + step)
        cols = np.flatnonzero(np.abs(x - px) <= radius_m + step)
        if rows.size and cols.size:
            boxes.append((int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1))

    def window(rows, cols, res, hab, with_habitat):
        (r0, r1), (c0, c1) = rows, cols
        if not any(b[0] < r1 and r0 < b[1] and b[2] < c1 and c0 < b[3] for b in boxes):
            return np.zeros((r1 - r0, c1 - c0), np.int32)
        win = None
        if areas is not None:
            win = np.zeros((r1 - r0, c1 - c0), np.int32)
            rr = slice(max(r0, a_r0), min(r1, a_r0 + a_win.shape[0]))
            cc = slice(max(c0, a_c0), min(c1, a_c0 + a_win.shape[1]))
            if rr.start < rr.stop and cc.start < cc.stop:
                win[rr.start - r0: rr.stop - r0, cc.start - c0: cc.stop - c0] = \
                    a_win[rr.start - a_r0: rr.stop - a_r0, cc.start - a_c0: cc.stop - a_c0]
        return population_cores(points, res, x[c0:c1], y[r0:r1], radius_m, habitat=hab, areas=win,
                                area_sites=area_sites, with_habitat=with_habitat)

    present: set[int] = set()
    with_habitat: set[int] = set()
    arrays = [resistance] if habitat is None else [resistance, habitat]
    # the first pass reads the windows of the sites only (cells elsewhere are no core)
    for b0, b1, c0, c1 in boxes:
        box = [(a if isinstance(a, np.ndarray) else getattr(a, "data", a))[b0:b1, c0:c1] for a in arrays]
        for row0, strips in iter_strips(box):
            prelim = window((b0 + row0, b0 + row0 + strips[0].shape[0]), (c0, c1), strips[0], None, None)
            present.update(int(v) for v in np.unique(prelim) if v > 0)
            if habitat is not None:
                with_habitat.update(int(v) for v in np.unique(prelim[_as_mask(strips[1]) & (prelim > 0)]))
    keep = with_habitat if habitat is not None else None
    coarse = () if coarse_factor is None else (_coarse_near(arrays, boxes, window, keep, int(coarse_factor)),)
    lazy = _lazy(resistance)
    if lazy is None:
        res = np.asarray(getattr(resistance, "values", resistance))
        hab = None if habitat is None else _as_mask(getattr(habitat, "values", habitat))
        return (window((0, res.shape[0]), (0, res.shape[1]), res, hab, keep), present, with_habitat, *coarse)
    from dask.base import tokenize
    token = tokenize(points, x, y, float(radius_m), areas, sorted(area_sites))  # what ``window`` depends on
    return (_chunks_near(lazy, habitat, boxes, window, keep, token), present, with_habitat, *coarse)


def _coarse_near(arrays, boxes, window, keep, factor: int) -> np.ndarray:
    """:func:`aggregate_labels` of the cores ``window(rows, cols, res, hab, keep)``, made on the
    ``boxes`` (the only cells with cores) widened to whole blocks, strip by strip. Overlapping
    boxes give a block the same cores: a window's cores do not depend on the window."""
    rows, cols = np.shape(getattr(arrays[0], "data", arrays[0]))
    out = np.zeros((-(-rows // factor), -(-cols // factor)), np.int32)
    for b0, b1, c0, c1 in boxes:
        r0, c0 = b0 // factor * factor, c0 // factor * factor
        r1, c1 = min(-(-b1 // factor) * factor, rows), min(-(-c1 // factor) * factor, cols)
        box = [(a if isinstance(a, np.ndarray) else getattr(a, "data", a))[r0:r1, c0:c1] for a in arrays]
        for row0, strips in iter_strips(box, factor):
            top = r0 + row0
            cores = window((top, top + strips[0].shape[0]), (c0, c1), strips[0],
                           _as_mask(strips[1]) if len(strips) > 1 else None, keep)
            part = aggregate_labels(cores, factor)
            out[top // factor: top // factor + part.shape[0], c0 // factor: c0 // factor + part.shape[1]] = part
    return out


def _chunks_near(lazy, habitat, boxes, window, keep, token: str):
    """A dask array of int32 on the chunks of ``lazy``: ``window(rows, cols, res, hab, keep)`` of
    each chunk that meets a box of ``boxes``, zeros elsewhere; only the chunks near the boxes
    read ``lazy`` and ``habitat``."""
    import functools

    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    args = [lazy]
    if habitat is not None:
        hab = da.asarray(getattr(habitat, "data", habitat))
        args.append(hab if hab.chunks == lazy.chunks else hab.rechunk(lazy.chunks))

    def block(rows, cols, res, *hab):
        return window(rows, cols, res, _as_mask(hab[0]) if hab else None, keep)

    name = "population-cores-" + tokenize(*args, boxes, sorted(keep) if keep is not None else None, token)
    row_edges = np.cumsum((0, *lazy.chunks[0])).tolist()
    col_edges = np.cumsum((0, *lazy.chunks[1])).tolist()
    dsk = {}
    for i, (r0, r1) in enumerate(zip(row_edges, row_edges[1:])):
        for j, (c0, c1) in enumerate(zip(col_edges, col_edges[1:])):
            if any(b[0] < r1 and r0 < b[1] and b[2] < c1 and c0 < b[3] for b in boxes):
                dsk[(name, i, j)] = (functools.partial(block, (r0, r1), (c0, c1)), *[(a.name, i, j) for a in args])
            else:  # far from every site: no core, nothing read
                dsk[(name, i, j)] = (functools.partial(np.zeros, (r1 - r0, c1 - c0), np.int32),)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=args)
    return da.Array(graph, name, chunks=lazy.chunks, dtype=np.int32)
