"""Omniscape moving-window connectivity on arrays: cumulative current, flow potential, normalized current.

The algorithm of McRae et al. (2016) as implemented by Omniscape.jl 0.6 (Landau et al.
2021), reproduced to its conformance suite: every target block of the source raster
grounds a Circuitscape advanced-mode solve on the circle of radius ``radius + buffer``
around it, with the sources within ``radius`` injecting the block's strength; node currents
of all windows are summed.

Windows are independent. They run in chunks of target rows on a thread pool; each chunk
returns its band of currents and the bands are added in chunk order, so the result does
not depend on the number of workers. Memory is the rasters plus, per worker, one band and
one batch of window factors. Interior and edge windows share one factor pattern (the
circle); see :mod:`habitat.connectivity.omniscape._kernels`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from habitat.connectivity.circuit.solvers import GroundedSolver
from habitat.errors import InvalidParameterError

from . import _kernels as K
from .window import (
    block_values,
    circle_pattern,
    correction_array,
    correction_shift,
    rect_graph,
    targets,
)

COMPARISONS = ("within", "equal")


@dataclass(frozen=True)
class Condition:
    """One condition of conditional connectivity (Omniscape ``condition1/2``).

    ``present`` is compared at the sources, ``future`` (defaults to ``present``) gives the
    target's value: the median over the target block for ``"within"`` (a source connects
    when ``lower <= present - target <= upper``), the mode for ``"equal"`` (a source connects
    when ``present == target``). NaN marks nodata (never excludes a source).
    """

    present: np.ndarray
    comparison: str = "within"
    lower: float = 0.0
    upper: float = 0.0
    future: np.ndarray | None = None


@dataclass
class OmniscapeResult:
    """Outputs of :func:`omniscape` (NaN = nodata where ``mask_nodata``)."""

    cum_currmap: np.ndarray
    flow_potential: np.ndarray | None = None
    normalized_cum_currmap: np.ndarray | None = None
    classified_resistance: np.ndarray | None = None
    n_targets: int = 0
    n_solved: int = 0
    stats: dict = field(default_factory=dict)


def reclassify(resistance, table):
    """Replace values through a two-column table (Omniscape's ``reclassify_resistance!``).

    ``table[:, 0]`` old values, ``table[:, 1]`` new ones (NaN: becomes nodata). Matching is
    on the original values, so chains (1 -> 2, 2 -> 3) do not cascade.
    """
    r = np.asarray(resistance)
    out = r.copy()
    for old, new in np.asarray(table, dtype=np.float64):
        out[r == old] = new
    return out


def source_from_resistance(resistance, *, r_cutoff=np.inf, resistance_is_conductance=False):
    """Source strength ``1 / R`` (or the conductance), 0 where ``R > r_cutoff`` or nodata.

    Omniscape's rule: sources below ``1 / r_cutoff`` are zeroed, so ``r_cutoff`` is in
    resistance units even for a conductance input.
    """
    r = np.asarray(resistance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = r.copy() if resistance_is_conductance else 1.0 / r
        keep = s >= 1.0 / r_cutoff
    return np.where(keep & np.isfinite(s), s, 0.0).astype(np.asarray(resistance).dtype)


def omniscape(resistance, sources=None, *, radius, block_size=1, buffer=0,
              source_threshold=0.0, source_from_resistance_=False, r_cutoff=np.inf,
              resistance_is_conductance=False, calc_flow_potential=False,
              calc_normalized_current=False, correct_artifacts=True, conditions=(),
              mask_nodata=True, precision="double", four_neighbors=False,
              reclass_table=None, workers=None, chunk_targets=None, batch_size=16):
    """Omniscape cumulative current (and flow potential, normalized current) of a raster.

    Parameters
    ----------
    resistance : numpy.ndarray
        Resistance per cell (ohm; conductance in siemens if ``resistance_is_conductance``),
        NaN = nodata (infinite resistance). Values must be > 0.
    sources : numpy.ndarray, optional
        Source strength per cell (relative amperes, >= 0, NaN -> 0). Required unless
        ``source_from_resistance_``.
    radius : int
        Moving-window radius (cells, >= 1).
    block_size : int, optional
        Side of the target blocks (cells, odd; an even value is raised by one as Omniscape
        does).
    buffer : int, optional
        Cells of resistance kept beyond ``radius`` (no sources there).
    source_threshold : float, optional
        Given sources below this are set to 0.
    source_from_resistance_ : bool, optional
        Derive sources as ``1 / resistance``, 0 above ``r_cutoff`` (ohm).
    calc_flow_potential, calc_normalized_current : bool, optional
        Also compute flow potential (the same windows on conductance 1 everywhere in the
        window's square) and ``cum_currmap / flow_potential`` (0/0 -> 0).
    correct_artifacts : bool, optional
        Multiply window currents by :func:`~.window.correction_array` (block_size > 1).
    conditions : sequence of Condition, optional
        Up to two conditions for conditional connectivity.
    mask_nodata : bool, optional
        Set outputs to NaN where the resistance is nodata.
    precision : {"double", "single"}, optional
        ``"single"`` rounds inputs to float32 and returns float32 maps (solves stay in
        float64).
    four_neighbors : bool, optional
        Connect cardinal neighbours only.
    reclass_table : numpy.ndarray, optional
        ``(k, 2)`` table applied to ``resistance`` first (see :func:`reclassify`).
    workers : int, optional
        Threads (default: CPU count).
    chunk_targets : int, optional
        Targets per chunk (memory: one band of ``chunk rows + 2 R`` raster rows per worker).
    batch_size : int, optional
        Windows factorized together (SIMD width of the kernels).

    Returns
    -------
    OmniscapeResult
        Maps in amperes (current summed over windows); flow potential in the same units,
        normalized current dimensionless.

    Notes
    -----
    Each window solves ``L v = s`` on the window's graph (average-conductance 8- or
    4-neighbour Laplacian, target at 0 V) and its node currents ``max(inflow, outflow)``
    are added to ``cum_currmap``. Sources inside ``radius`` of the target, outside its
    block, receive the block's total strength in proportion to their own.
    """
    if precision not in ("double", "single"):
        raise InvalidParameterError(f"precision = {precision!r}; use 'double' or 'single'")
    dtype = np.float32 if precision == "single" else np.float64
    radius = int(radius)
    buffer = int(buffer)
    block_size = int(block_size)
    if radius < 1:
        raise InvalidParameterError(f"radius = {radius}; give a positive number of cells")
    if buffer < 0:
        raise InvalidParameterError(f"buffer = {buffer}; give 0 or a positive number of cells")
    if block_size < 1:
        raise InvalidParameterError(f"block_size = {block_size}; give a positive odd number")
    if block_size % 2 == 0:
        block_size += 1  # Omniscape: "block_size is even, but must be odd. Using block_size + 1"
    if len(conditions) > 2:
        raise InvalidParameterError(f"{len(conditions)} conditions given; Omniscape allows 1 or 2")
    for c in conditions:
        if c.comparison not in COMPARISONS:
            raise InvalidParameterError(
                f"comparison = {c.comparison!r}; use one of {', '.join(COMPARISONS)}")

    res = np.array(resistance, dtype=dtype)
    res[~np.isfinite(res)] = np.nan
    valid = ~np.isnan(res)
    if np.any(res[valid] <= 0):
        raise InvalidParameterError(
            "resistance (or conductance) surface contains 0 or negative values; "
            "give them positive values or nodata")
    classified = None
    if reclass_table is not None:
        res = reclassify(res, reclass_table).astype(dtype)
        classified = res.copy()
    nodata = np.isnan(res)
    nrows, ncols = res.shape

    if source_from_resistance_:
        src = source_from_resistance(res, r_cutoff=r_cutoff,
                                     resistance_is_conductance=resistance_is_conductance)
    else:
        if sources is None:
            raise InvalidParameterError(
                "no source raster given; pass sources or set source_from_resistance")
        src = np.array(sources, dtype=dtype)
        if src.shape != res.shape:
            raise InvalidParameterError(
                f"sources are {src.shape} cells but resistance {res.shape}; align them")
        src[~np.isfinite(src)] = 0
        src[src < source_threshold] = 0
    src = src.astype(np.float64)
    with np.errstate(divide="ignore"):
        cond = res if resistance_is_conductance else (1 / res).astype(dtype)
    cond = np.where(nodata, 0.0, cond.astype(np.float64))

    big_r = radius + buffer
    ty, tx, amps = targets(src, block_size)
    cond_kind = np.array([0 if c.comparison == "within" else 1 for c in conditions],
                         dtype=np.int64)
    cond_lower = np.array([c.lower for c in conditions], dtype=np.float64)
    cond_upper = np.array([c.upper for c in conditions], dtype=np.float64)
    cvals = np.zeros((ty.size, len(conditions)))
    cond_p = np.zeros((len(conditions), nrows + 2 * big_r, ncols + 2 * big_r))
    for k, c in enumerate(conditions):
        pres = np.asarray(c.present, dtype=dtype).astype(np.float64)
        fut = pres if c.future is None else np.asarray(c.future, dtype=dtype).astype(np.float64)
        if pres.shape != res.shape or fut.shape != res.shape:
            raise InvalidParameterError(
                f"condition {k + 1} is {pres.shape} cells but resistance {res.shape}; align them")
        cvals[:, k] = block_values(fut, ty, tx, block_size,
                                   how="median" if c.comparison == "within" else "mode")
        cond_p[k] = np.pad(pres, big_r, constant_values=np.nan)

    if correct_artifacts and block_size > 1:
        corr = correction_array(radius, buffer, block_size, nrows, ncols,
                                four_neighbors=four_neighbors)
        dy = np.array([correction_shift(int(v), nrows, big_r) for v in np.unique(ty)])
        dx = np.array([correction_shift(int(v), ncols, big_r) for v in np.unique(tx)])
        cdy = dy[np.searchsorted(np.unique(ty), ty)].astype(np.int64)
        cdx = dx[np.searchsorted(np.unique(tx), tx)].astype(np.int64)
    else:
        corr = np.ones((2 * big_r + 1, 2 * big_r + 1))
        cdy = np.zeros(ty.size, dtype=np.int64)
        cdx = np.zeros(ty.size, dtype=np.int64)

    want_fp = calc_flow_potential or calc_normalized_current
    ctx = _Context(
        cond_p=np.pad(cond, big_r), src_p=np.pad(src, big_r), nrows=nrows, ncols=ncols,
        radius=radius, buffer=buffer, block_radius=(block_size - 1) // 2,
        cond_kind=cond_kind, cond_p_all=cond_p, cond_lower=cond_lower, cond_upper=cond_upper,
        pattern=circle_pattern(big_r, bool(four_neighbors)), corr=corr,
        four_neighbors=bool(four_neighbors), want_fp=want_fp, batch_size=int(batch_size))
    del cond, res, src, valid  # the padded copies in ctx are all the windows read

    cum = np.zeros((nrows, ncols))
    fp = np.zeros((nrows, ncols)) if want_fp else None
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    chunks = _chunks(ty, chunk_targets)
    n_solved = 0

    def task(sl):
        return _solve_chunk(ctx, ty[sl], tx[sl], amps[sl], cvals[sl], cdy[sl], cdx[sl])

    # The windows run on our own threads; multithreaded BLAS inside SuperLU's many-column solves
    # (flow potential) then oversubscribes the cores: 2.6 ms a column instead of 0.11 ms measured
    # on a 51 x 51 window under load. One BLAS thread per worker.
    with threadpool_limits(limits=1, user_api="blas"):
        for y0, band_c, band_f, solved in _ordered_map(task, chunks, workers):
            cum[y0:y0 + band_c.shape[0]] += band_c
            if want_fp:
                fp[y0:y0 + band_f.shape[0]] += band_f
            n_solved += solved

    norm = None
    if calc_normalized_current:
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = cum / fp
        norm[np.isnan(norm)] = 0.0
    if mask_nodata:
        cum[nodata] = np.nan
        if calc_flow_potential:
            fp[nodata] = np.nan
        if norm is not None:
            norm[nodata] = np.nan
    return OmniscapeResult(
        cum_currmap=cum.astype(dtype, copy=False),
        flow_potential=fp.astype(dtype, copy=False) if calc_flow_potential else None,
        normalized_cum_currmap=None if norm is None else norm.astype(dtype, copy=False),
        classified_resistance=classified,
        n_targets=int(ty.size), n_solved=n_solved,
        stats={"block_size": block_size, "window_cells": ctx.pattern.n_cells,
               "factor_entries": ctx.pattern.factor_entries, "chunks": len(chunks)})


def estimate_memory_bytes(shape, *, radius, buffer=0, block_size=1, sources=None, workers=None,
                          flow_potential=False, n_conditions=0, batch_size=16, chunk_targets=None,
                          four_neighbors=False):
    """Peak memory (bytes) :func:`omniscape` needs on a raster of ``shape``, before it allocates.

    With ``H x W`` cells, ``R = radius + buffer``, ``P = (H + 2R)(W + 2R)`` padded cells,
    ``w`` workers, ``k = 2`` with flow potential (else 1):

    ``8 [(2 + n_conditions) P + 6 H W]``  (padded conductance, sources and conditions; six
    float64 rasters: the copies and temporaries of resistance, sources and conductance while
    preparing, or cumulative current, flow potential, normalized current and their output
    copies afterwards), plus ``3 w`` bands (one running and two queued per worker) of
    ``8 k B W`` bytes, ``B`` the rows of the tallest chunk's band (from the targets of
    ``sources`` when given, else its bound ``min(H, chunk_targets * block_size + 2R + 1)``),
    plus per worker one batch of window factors ``8 batch_size (F + 4 C)`` (``F`` entries of the
    circle factor, ``C`` cells of the circle) and, with flow potential, the right-hand sides
    solved together, ``8 x 6 (2R + 1)^2 x 16`` (the solve copies them about five times). That
    sum is multiplied by 1.5 for what the allocator keeps (per-thread arenas).

    With flow potential each worker also caches up to 24 SuperLU factors of square windows
    (one per shape the raster edges clip): counted at ``12 x 12 F`` bytes each, the resident
    memory measured per cached factor when edge windows of many shapes churn the cache
    (SuperLU sizes its workspace from its fill guess and the heap fragments; the factor
    itself holds about ``12 x 2.8 F`` bytes).

    Measured growth of the process against this estimate: demo grid (571 x 766, two workers,
    flow potential, R = 25) 106 MiB, estimate 385 MiB; 200 x 200 random grid (R = 50, one
    worker, flow potential) 845 MiB, estimate 883 MiB. The input arrays the caller holds
    and the interpreter are not counted.
    """
    h, w = (int(v) for v in shape)
    big_r = int(radius) + int(buffer)
    block_size = int(block_size) + (1 - int(block_size) % 2)
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    k = 2 if flow_potential else 1
    padded = (h + 2 * big_r) * (w + 2 * big_r)
    rasters = 8 * ((2 + int(n_conditions)) * padded + 6 * h * w)
    per_chunk = _CHUNK_TARGETS if chunk_targets is None else int(chunk_targets)
    if sources is not None:
        src = np.nan_to_num(np.asarray(sources, dtype=np.float64))
        ty = targets(src, block_size)[0]
        spans = [int(ty[sl].max()) - int(ty[sl].min()) for sl in _chunks(ty, per_chunk)] or [0]
        band_rows = min(h, max(spans) + 2 * big_r + 1)
    else:
        band_rows = min(h, per_chunk * block_size + 2 * big_r + 1)
    bands = 3 * workers * 8 * k * band_rows * w
    pattern = circle_pattern(big_r, bool(four_neighbors))
    factors = workers * 8 * int(batch_size) * (pattern.factor_entries + 4 * pattern.n_cells)
    cached = 0
    if flow_potential:
        factors += workers * 8 * 6 * (2 * big_r + 1) ** 2 * _FP_COLUMNS
        cached = workers * _FP_CACHE * 12 * 12 * pattern.factor_entries
    return int(1.5 * (rasters + bands + factors) + cached)


@dataclass
class _Context:
    cond_p: np.ndarray
    src_p: np.ndarray
    nrows: int
    ncols: int
    radius: int
    buffer: int
    block_radius: int
    cond_kind: np.ndarray
    cond_p_all: np.ndarray
    cond_lower: np.ndarray
    cond_upper: np.ndarray
    pattern: object
    corr: np.ndarray
    four_neighbors: bool
    want_fp: bool
    batch_size: int
    local: threading.local = field(default_factory=threading.local)


_CHUNK_TARGETS = 256  # windows per chunk: ~0.5-1 s of work, a band of 2R + rows per worker


def _chunks(ty, chunk_targets):
    """Slices of consecutive targets: whole target rows, about ``chunk_targets`` each."""
    n = ty.size
    if n == 0:
        return []
    if chunk_targets is None:
        # independent of the worker count, so that the summation order (hence every bit of
        # the result) is too
        chunk_targets = _CHUNK_TARGETS
    starts = np.flatnonzero(np.r_[True, ty[1:] != ty[:-1]])
    out = []
    first = 0
    for s in list(starts[1:]) + [n]:
        if s - first >= chunk_targets or s == n:
            out.append(slice(first, int(s)))
            first = int(s)
    return out


def _ordered_map(fn, items, workers):
    """``map`` on a thread pool with at most ``2 * workers`` results pending, in order."""
    if workers <= 1 or len(items) <= 1:
        for it in items:
            yield fn(it)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = []
        it = iter(items)
        for item in it:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()


def _solve_chunk(ctx, ty, tx, amps, cvals, cdy, cdx):
    big_r = ctx.radius + ctx.buffer
    y0 = max(int(ty.min()) - big_r, 0)
    y1 = min(int(ty.max()) + big_r, ctx.nrows - 1)
    band = np.zeros((y1 - y0 + 1, ctx.ncols))
    p = ctx.pattern
    solved = np.zeros(1, dtype=np.int64)
    bs = ctx.batch_size
    for k in range(0, ty.size, bs):
        sl = slice(k, k + bs)
        K.solve_window_batch(
            ctx.cond_p, ctx.src_p, ty[sl], tx[sl], amps[sl], ctx.nrows, ctx.ncols,
            ctx.radius, ctx.buffer, ctx.block_radius, ctx.cond_kind, ctx.cond_p_all,
            cvals[sl], ctx.cond_lower, ctx.cond_upper, p.cell_i, p.cell_j, p.center, p.pos,
            p.nbr_ptr, p.nbr_cell, p.ea, p.eb, p.ediag, p.e_ax, p.cell_dx, p.ap, p.ai,
            p.lp, p.li, p.rowptr, p.rl_i, p.rl_q, ctx.corr, cdy[sl], cdx[sl], band, y0, solved)
    band_fp = _flow_potential_chunk(ctx, ty, tx, amps, cvals, cdy, cdx, y0, band.shape[0]) \
        if ctx.want_fp else None
    return y0, band, band_fp, int(solved[0])


_FP_CACHE = 24  # uniform-window factors kept per worker (one per clipped window shape)
_FP_COLUMNS = 16  # flow-potential windows solved together


def _fp_solver(ctx, key):
    cache = getattr(ctx.local, "fp", None)
    if cache is None:
        cache = ctx.local.fp = OrderedDict()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    off_y, off_x, h, w = key
    ea, eb, wts, adj = rect_graph(h, w, ctx.four_neighbors)
    from habitat.connectivity.circuit.graph import laplacian

    big_r = ctx.radius + ctx.buffer
    ground = (big_r - off_x) * h + (big_r - off_y)
    coords = np.column_stack([np.arange(h * w) % h, np.arange(h * w) // h])
    solver = GroundedSolver(laplacian(adj), ground, method="direct", coords=coords)
    cache[key] = (solver, ea, eb, wts, ground)
    if len(cache) > _FP_CACHE:
        cache.popitem(last=False)
    return cache[key]


def _flow_potential_chunk(ctx, ty, tx, amps, cvals, cdy, cdx, y0, band_rows):
    """Flow potential of a chunk: the same sources on a conductance-1 square window.

    Omniscape solves flow potential on the whole clipped square (not the circle), so the
    matrix depends only on where the raster edges clip the window: one factor per shape,
    all the chunk's windows of that shape solved together.
    """
    big_r = ctx.radius + ctx.buffer
    s = 2 * big_r + 1
    nrows, ncols = ctx.nrows, ctx.ncols
    band = np.zeros((band_rows, ncols))
    off_y = np.maximum(0, big_r - ty)
    off_x = np.maximum(0, big_r - tx)
    hh = np.minimum(ty + big_r, nrows - 1) - np.maximum(ty - big_r, 0) + 1
    ww = np.minimum(tx + big_r, ncols - 1) - np.maximum(tx - big_r, 0) + 1
    keys = np.column_stack([off_y, off_x, hh, ww])
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    frame = np.empty((s, s))
    for gid in np.unique(group):
        same = np.flatnonzero(group == gid)
        key = tuple(int(v) for v in keys[same[0]])
        oy, ox, h, w = key
        solver, ea, eb, wts, ground = _fp_solver(ctx, key)
        cur = np.zeros(h * w)
        # a few columns at a time: one block of all of them (MBs, beside the cached factors)
        # fragmented the heap (RSS +930 MiB on 200 x 200, radius 50; +136 MiB in batches of 16)
        for start in range(0, same.size, _FP_COLUMNS):
            members = same[start:start + _FP_COLUMNS]
            rhs = np.zeros((h * w, members.size))
            for col, t in enumerate(members):
                K.window_sources(ctx.src_p, int(ty[t]), int(tx[t]), float(amps[t]), nrows, ncols,
                                 ctx.radius, ctx.buffer, ctx.block_radius, ctx.cond_kind,
                                 ctx.cond_p_all, cvals[t], ctx.cond_lower, ctx.cond_upper, frame)
                rhs[:, col] = frame[oy:oy + h, ox:ox + w].ravel(order="F")
            rhs[ground] = 0.0  # a source on the ground is dropped (Circuitscape rmvsrc)
            live = np.flatnonzero(np.any(rhs != 0, axis=0))
            if live.size == 0:
                continue
            volts = solver.solve(rhs[:, live])
            for col, t in zip(range(live.size), members[live]):
                cur[:] = 0.0
                K.edge_node_currents(ea, eb, wts, np.ascontiguousarray(volts[:, col]), cur)
                c2 = cur.reshape((h, w), order="F")
                cy0, cx0 = int(cdy[t]) + oy, int(cdx[t]) + ox
                gy0 = int(ty[t]) - big_r + oy
                gx0 = int(tx[t]) - big_r + ox
                band[gy0 - y0:gy0 - y0 + h, gx0:gx0 + w] += c2 * ctx.corr[cy0:cy0 + h, cx0:cx0 + w]
    return band


def omniscape_dataset(resistance, sources=None, *, conditions=(), **kwargs):
    """:func:`omniscape` on ``xarray.DataArray`` rasters; the maps as a ``Dataset``.

    Parameters
    ----------
    resistance : xarray.DataArray
        2-D resistance (ohm per cell; NaN nodata) on the analysis grid.
    sources : xarray.DataArray, optional
        Source strengths on the same grid.
    conditions : sequence of Condition, optional
        Their ``present``/``future`` may be DataArrays on the same grid.
    **kwargs
        The options of :func:`omniscape`.

    Returns
    -------
    xarray.Dataset
        ``cum_currmap`` and, when asked, ``flow_potential`` and ``normalized_cum_currmap``,
        with the coordinates, dims and attributes (CRS, transform) of ``resistance``.
    """
    import xarray as xr

    def vals(a):
        return None if a is None else np.asarray(getattr(a, "values", a))

    if sources is not None and tuple(sources.shape) != tuple(resistance.shape):
        raise InvalidParameterError(
            f"sources are {tuple(sources.shape)} cells but resistance "
            f"{tuple(resistance.shape)}; put them on the same grid")
    conds = [Condition(present=vals(c.present), comparison=c.comparison, lower=c.lower,
                       upper=c.upper, future=vals(c.future)) for c in conditions]
    out = omniscape(vals(resistance), vals(sources), conditions=conds, **kwargs)
    maps = {"cum_currmap": (out.cum_currmap, "A"),
            "flow_potential": (out.flow_potential, "A"),
            "normalized_cum_currmap": (out.normalized_cum_currmap, "1")}
    data = {}
    for name, (arr, units) in maps.items():
        if arr is not None:
            data[name] = xr.DataArray(arr, coords=resistance.coords, dims=resistance.dims,
                                      attrs={**resistance.attrs, "units": units})
    return xr.Dataset(data, attrs={"n_targets": out.n_targets, "n_solved": out.n_solved})
