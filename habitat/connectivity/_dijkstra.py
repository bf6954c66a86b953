"""Private Dijkstra kernels on a raster grid: numba when installed, scipy.sparse.csgraph otherwise."""

from __future__ import annotations

import math

import numpy as np

try:  # numba is optional: without it the scipy fallback gives the same answer, slower.
    from llvmlite import ir
    from numba import njit, prange, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    HAVE_NUMBA = True

    @intrinsic
    def _prefetch(typingctx, arr, idx):
        """Hint the CPU to load the cache line of ``arr[idx]`` (LLVM ``prefetch``, read,
        high locality); no effect on results."""
        sig = types.void(arr, idx)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

except ImportError:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def wrap(func):
            return func

        return wrap

    prange = range

    def _prefetch(arr, idx):  # type: ignore[no-redef]
        pass


# Indices of the hot loop are cast to unsigned: numba then emits no negative-index wraparound
# (a sign test and an add per array access, and the registers they hold). Every index there is
# >= 0 by construction (padding); 1.09x with 8 and 1.15x with 16 neighbours in kernel CPU time.
_u = np.uint64

# Padding keeps every neighbour index of a valid cell inside the array, so the kernel needs no
# bounds checks; 2 cells because a knight's move reaches two rows or columns away.
PAD = 2


def moves(neighbours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moves of a neighbourhood: offsets (k, 2), step lengths (k,), touched side cells (k, 2, 2).

    Side cells are the two cells a knight's move passes beside (GRASS ``r.cost -k``); for
    orthogonal and diagonal moves they are unused and set to (0, 0).
    """
    rook = [(-1, 0), (0, -1), (0, 1), (1, 0)]
    diagonal = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    knight = [(-2, -1), (-2, 1), (-1, -2), (-1, 2), (1, -2), (1, 2), (2, -1), (2, 1)]
    offs = list(rook)
    if neighbours >= 8:
        offs += diagonal
    if neighbours == 16:
        offs += knight
    offsets = np.array(offs, dtype=np.int64)
    lengths = np.array([math.sqrt(dr * dr + dc * dc) for dr, dc in offs])
    side = np.zeros((len(offs), 2, 2), dtype=np.int64)
    for k, (dr, dc) in enumerate(offs):
        if abs(dr) == 2:
            side[k] = [(dr // 2, 0), (dr // 2, dc)]
        elif abs(dc) == 2:
            side[k] = [(0, dc // 2), (dr, dc // 2)]
    return offsets, lengths, side


def knight_sides() -> tuple[tuple[int, int], ...]:
    """For each knight's move of moves(16), the indices of the two plain moves whose targets it
    passes beside (what _SIDE1 and _SIDE2 spell out for the kernel)."""
    offsets, _, side = moves(16)
    plain = [tuple(o) for o in offsets[:8].tolist()]
    return tuple((plain.index(tuple(s[0])), plain.index(tuple(s[1]))) for s in side[8:].tolist())


# knight_sides() as constants of the kernel (tests check the two agree).
_SIDE1 = (0, 0, 1, 2, 1, 2, 3, 3)
_SIDE2 = (4, 5, 4, 5, 6, 7, 6, 7)

# Entries per block of the bucket queue: 4 KiB of int32 cell indices, appended and read in order.
_BLOCK = 1024


# Prefetch distance of the kernel, in queue entries: far enough ahead to hide a miss to memory,
# near enough that the lines are still cached when the cell is scanned (3-12 measured, 5-8 best).
_AHEAD = 6

# Blocks the pool starts with (1 MiB of int32 entries, one per bucket of a 256-bucket ring);
# it doubles when the kernel asks.
_INITIAL_BLOCKS = 256

# Queue state between calls of the kernel (it returns to let the caller grow the pool).
_CUR, _LAST, _FREE, _NFREE, _NUSED, _LCUR, _LPOS, _LLEN = range(8)


@njit(cache=True, nogil=True)
def _spread_numba(
    node, step, length, limit, delta, pool, blk_prev, tail, fill, live, state, back
):
    """Bucket-queue Dijkstra (Dial / Delta-stepping, one thread) on a padded, interleaved grid.

    ``node[2 i]`` holds half the resistance of padded cell ``i`` (+inf when impassable or
    padding) and ``node[2 i + 1]`` its cost so far (+inf at start), so one cache line serves both
    reads of a neighbour. Half resistances make a step cost ``(h_a + h_b) * L``, bit-identical to
    ``0.5 * (R_a + R_b) * L`` (halving is exact in binary floating point). A cell is stored
    negated once scanned; a cheaper path stores it positive again (that only happens when
    ``delta`` exceeds the lightest step).

    The queue is lazy: an improved cell is pushed onto bucket ``floor(cost / delta)`` of a ring
    of ``tail.size`` buckets, each a stack of blocks of _BLOCK entries in ``pool`` linked by
    ``blk_prev``. When the search reaches a bucket, its entries go to ``live`` (as many items as
    ``pool``) in the order the stack gives them, minus those whose cell was scanned since;
    entries queued into the bucket while it is processed are taken first, as from a stack, and
    tested when taken. Pushes and pops are sequential (no random memory access besides the grid), and last-in first-out takes
    cells whose neighbourhood is still in cache. When ``delta`` is at most the lightest step
    every cell taken from the current bucket is final (Dial's algorithm); a larger ``delta``
    only scans some cells again, never gives a wrong answer: the result is the fixed point
    ``cost[v] = min_u cost[u] + w(u, v)``.

    ``step`` (index offsets) and ``length`` (step lengths) are tuples with one item per move of
    moves(); a knight's move k passes beside the targets of plain moves _SIDE1[k - 8] and
    _SIDE2[k - 8]. ``back`` receives the move index of the last step when it has one element
    per cell (size 0: not wanted). Returns 0 when done, 1 when the pool may run out of blocks:
    the caller grows ``pool``, ``blk_prev`` and ``live`` and calls again (``state`` keeps the
    position).
    Costs are left negated or +inf in ``node``; see :func:`_compact_numba`.
    """
    want_back = back.size > 0
    nmoves = len(step)  # the moves are tuples: a constant here, so the loops over them unroll
    nplain = min(nmoves, 8)  # rook and queen moves come first, knight's moves after (moves())
    near = np.empty(8)  # half resistances of the plain-move targets of the cell
    cand_v = np.empty(nmoves, dtype=np.int64)  # improved neighbours of the cell, in move order
    cand_d = np.empty(nmoves)
    row = step[3]  # move (1, 0): one padded row down
    mask = tail.size - 1
    bs = _BLOCK
    capacity = blk_prev.size
    cur = state[_CUR]
    last = state[_LAST]
    free = state[_FREE]
    nfree = state[_NFREE]
    nused = state[_NUSED]
    inv_delta = 1.0 / delta
    status = 0
    lpos = state[_LPOS]
    llen = state[_LLEN]
    while cur <= last:
        if cur * delta > limit:
            break
        slot = cur & mask
        if state[_LCUR] != cur:
            # First visit of the bucket: its entries, in the order the stack gives them, minus
            # the stale ones (cells scanned since, or beyond the limit) go to ``live``. Without
            # a branch per entry: with 16 neighbours half the entries are stale, and the test
            # at the pop mispredicted on them; the scan order stays the same.
            m = 0
            t = tail[_u(slot)]
            f = fill[_u(slot)]
            while t != -1:
                for j in range(f - 1, -1, -1):
                    x = pool[_u(t * bs + j)]
                    dx = node[_u(2 * x + 1)]
                    live[_u(m)] = x
                    m += not (dx < 0.0 or dx > limit)
                p = blk_prev[_u(t)]
                blk_prev[_u(t)] = free
                free = t
                nfree += 1
                t = p
                f = bs
            tail[_u(slot)] = -1
            fill[_u(slot)] = 0
            lpos = 0
            llen = m
            state[_LCUR] = cur
        while True:
            # A scan pushes at most nmoves entries, each needing at most one new block.
            if nfree + capacity - nused < nmoves:
                status = 1
                break
            w = -1
            t = tail[_u(slot)]
            if t != -1:
                # queued into this bucket while it is processed (delta above the lightest step)
                f = fill[_u(slot)]
                if f == 0:
                    p = blk_prev[_u(t)]
                    blk_prev[_u(t)] = free
                    free = t
                    nfree += 1
                    tail[_u(slot)] = p
                    fill[_u(slot)] = bs if p != -1 else 0
                    continue
                f -= 1
                fill[_u(slot)] = f
                u = pool[_u(t * bs + f)]
                if f >= _AHEAD:
                    w = pool[_u(t * bs + f - _AHEAD)]
            elif lpos < llen:
                u = live[_u(lpos)]
                lpos += 1
                if lpos + _AHEAD <= llen:
                    w = live[_u(lpos + _AHEAD - 1)]
            else:
                break
            if w >= 0:
                # The search is bound by memory latency: ask for the neighbourhood of the cell
                # _AHEAD entries ahead (1.1x with 8, 1.3x with 16 neighbours on 4000 x 4000 for
                # the next cell and its own line per row; 1.2-1.3x more for a distance of 6 and
                # both lines a row's 3 or 5 cells can straddle).
                if nmoves > 8:
                    _prefetch(node, 2 * (w - 2 * row) - 2)
                    _prefetch(node, 2 * (w - 2 * row) + 3)
                    _prefetch(node, 2 * (w + 2 * row) - 2)
                    _prefetch(node, 2 * (w + 2 * row) + 3)
                    _prefetch(node, 2 * (w - row) - 4)
                    _prefetch(node, 2 * (w - row) + 5)
                    _prefetch(node, 2 * w - 4)
                    _prefetch(node, 2 * w + 5)
                    _prefetch(node, 2 * (w + row) - 4)
                    _prefetch(node, 2 * (w + row) + 5)
                else:
                    _prefetch(node, 2 * (w - row) - 2)
                    _prefetch(node, 2 * (w - row) + 3)
                    _prefetch(node, 2 * w - 2)
                    _prefetch(node, 2 * w + 3)
                    _prefetch(node, 2 * (w + row) - 2)
                    _prefetch(node, 2 * (w + row) + 3)
            d = node[_u(2 * u + 1)]
            if d < 0.0 or d > limit:
                continue  # scanned since it was queued, or beyond the limit
            node[_u(2 * u + 1)] = -d
            hu = node[_u(2 * u)]
            # Two passes: relax every move (short loops that unroll), then queue the improved
            # cells in move order. With the queueing inside it, the loop over the moves stayed a
            # loop, with an indirect jump per move to index the move tuples. Plain and knight's
            # moves relax in two loops with the same test: one loop over both does not unroll
            # with 16 moves, and moving the test to a third loop was 1.1x slower.
            n = 0
            for k in range(nplain):
                v = u + step[k]
                hv = node[_u(2 * v)]
                if nmoves > 8:  # for the knight's moves below
                    near[_u(k)] = hv
                nd = d + (hu + hv) * length[k]
                # +inf (impassable) never compares less; negated (scanned) costs compare by
                # magnitude so that label-correcting rescans stay possible.
                if nd < abs(node[_u(2 * v + 1)]):
                    node[_u(2 * v + 1)] = nd
                    if want_back:
                        back[_u(v)] = k
                    cand_v[_u(n)] = v
                    cand_d[_u(n)] = nd
                    n += 1
            for k in range(nplain, nmoves):
                # knight's move: mean of the two end cells and the two passed beside, which are
                # targets of plain moves, read above (summed left to right: the order fixes the
                # rounding)
                v = u + step[k]
                hs = hu + node[_u(2 * v)] + near[_u(_SIDE1[k - 8])] + near[_u(_SIDE2[k - 8])]
                nd = d + 0.5 * hs * length[k]
                if nd < abs(node[_u(2 * v + 1)]):
                    node[_u(2 * v + 1)] = nd
                    if want_back:
                        back[_u(v)] = k
                    cand_v[_u(n)] = v
                    cand_d[_u(n)] = nd
                    n += 1
            for i in range(n):
                v = cand_v[_u(i)]
                bk = np.int64(cand_d[_u(i)] * inv_delta)
                if bk < cur:
                    bk = cur
                if bk > last:
                    last = bk
                sl = bk & mask
                tb = tail[_u(sl)]
                if tb == -1 or fill[_u(sl)] == bs:
                    if free != -1:
                        b = free
                        free = blk_prev[_u(b)]
                        nfree -= 1
                    else:
                        b = nused
                        nused += 1
                    blk_prev[_u(b)] = tb
                    tail[_u(sl)] = b
                    fill[_u(sl)] = 0
                    tb = b
                pool[_u(tb * bs + fill[_u(sl)])] = v
                fill[_u(sl)] += 1
        if status:
            break
        cur += 1
    state[_CUR] = cur
    state[_LAST] = last
    state[_FREE] = free
    state[_NFREE] = nfree
    state[_NUSED] = nused
    state[_LPOS] = lpos
    state[_LLEN] = llen
    return status


@njit(cache=True, nogil=True)
def _prepare_row(grid, pad, node, i, row_lo, row_hi):
    ny, nx = grid.shape
    ncols = nx + 2 * pad
    lo = np.inf
    hi = -np.inf
    base = 2 * i * ncols
    if i < pad or i >= ny + pad:
        for j in range(2 * ncols):
            node[base + j] = np.inf
    else:
        for j in range(2 * pad):
            node[base + j] = np.inf
            node[base + 2 * (nx + pad) + j] = np.inf
        for j in range(nx):
            x = grid[i - pad, j]
            # "not >= 0" also catches NaN
            h = 0.5 * x if x >= 0 else np.inf
            node[base + 2 * (j + pad)] = h
            node[base + 2 * (j + pad) + 1] = np.inf
            if h < lo:
                lo = h
            if h > hi and h != np.inf:
                hi = h
    row_lo[i] = lo
    row_hi[i] = hi


@njit(cache=True, nogil=True, parallel=True)
def _prepare_numba(grid, pad, node, row_lo, row_hi):
    """Fill the interleaved padded ``node`` array of :func:`_spread_numba` and the finite range
    of half resistances per row, rows in parallel (the first touch of a large new array costs as
    much as the arithmetic)."""
    for i in prange(row_lo.size):
        _prepare_row(grid, pad, node, i, row_lo, row_hi)


@njit(cache=True, nogil=True)
def _prepare_serial(grid, pad, node, row_lo, row_hi):
    """:func:`_prepare_numba` on the calling thread (for runs side by side in threads)."""
    for i in range(row_lo.size):
        _prepare_row(grid, pad, node, i, row_lo, row_hi)


@njit(cache=True, nogil=True)
def _compact_numba(node, pad, ny, nx, scale, max_out, back, out_back):
    """Costs of the inner grid (cell units x ``scale``, +inf beyond ``max_out``) written in place
    to ``node[: ny * nx]``, row-major, and backlinks to ``out_back`` when it has cells.

    In place so the result needs no new array: the first touch of fresh memory is the dearest
    part of a pass on this machine. Serial and in increasing order, which is what makes it safe:
    cell k is written to index k, below the index it is read from and every index read later.
    """
    ncols = nx + 2 * pad
    for i in range(ny):
        base = (i + pad) * ncols + pad
        for j in range(nx):
            c = abs(node[2 * (base + j) + 1]) * scale
            if c > max_out:
                c = np.inf
            node[i * nx + j] = c
            if out_back.size > 0:
                out_back[i, j] = back[base + j] if c != np.inf else -1


def _dijkstra_scipy(r, sources, step, length, side1, side2, has_side, limit):
    """Same costs as the numba kernel on a padded flat grid ``r`` (full resistances, +inf
    impassable), on an explicit sparse graph (more memory, slower). Returns (cost in cell units,
    move index of the last step or -1)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = r.size
    passable = np.flatnonzero(np.isfinite(r))
    rows, cols, weights = [], [], []
    for k in range(step.size):
        v = passable + step[k]
        if has_side[k]:
            c = 0.25 * (r[passable] + r[v] + r[passable + side1[k]] + r[passable + side2[k]])
        else:
            c = 0.5 * (r[passable] + r[v])
        c = c * length[k]
        ok = np.isfinite(c)
        rows.append(passable[ok])
        cols.append(v[ok])
        weights.append(c[ok])
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    weights = np.concatenate(weights)
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    # csgraph treats stored zeros of a sparse matrix as edges, so zero-resistance steps stay
    # passable; each ordered pair appears once, so no weights are summed.
    dist, pred, _ = dijkstra(
        graph,
        directed=True,
        indices=np.asarray(sources, dtype=np.int64),
        return_predecessors=True,
        min_only=True,
        limit=limit if np.isfinite(limit) else np.inf,
    )
    back = np.full(n, -1, dtype=np.int8)
    has_pred = pred >= 0
    moved = np.flatnonzero(has_pred) - pred[has_pred]
    order = np.argsort(step)
    back[has_pred] = order[np.searchsorted(step[order], moved)].astype(np.int8)
    return dist, back


def pad_impassable(grid: np.ndarray) -> np.ndarray:
    """Copy of ``grid`` padded by PAD cells of +inf, with NaN and negative values set to +inf."""
    padded = np.full((grid.shape[0] + 2 * PAD, grid.shape[1] + 2 * PAD), np.inf)
    inner = padded[PAD:-PAD, PAD:-PAD]
    inner[...] = grid
    # "not >= 0" also catches NaN; -inf and negative values are impassable by contract.
    inner[~(inner >= 0)] = np.inf
    return padded


# Grids from this many cells fill and read the node array with numba's thread pool.
_PARALLEL_CELLS = 2**20

# Ring size cap: 2**22 buckets (48 MiB of ring arrays); beyond it delta grows instead.
_MAX_SLOTS = 2**22


def _bucket_width(r_min, r_max, max_length):
    """Bucket width and ring size from the finite resistance range: delta = the lightest possible
    step (exact, Dial) unless that would need more than _MAX_SLOTS buckets to cover the heaviest
    step."""
    if r_min == np.inf:
        return 1.0, 2
    w_max = r_max * max_length * (1.0 + 1e-9)
    # A step costs at least the smaller of the cells it joins times its length (>= 1).
    delta = max(r_min * (1.0 - 1e-9), w_max / (_MAX_SLOTS - 2))
    if delta <= 0.0 or not np.isfinite(delta):
        delta = 1.0
    nslots = 2
    while nslots < w_max / delta + 2:
        nslots *= 2
    return delta, nslots


def _spread(node, sources, step, lengths, limit, delta, nslots, back):
    """Seed the sources (cost 0, bucket 0) and run the kernel, growing its pool as it asks."""
    sources = np.unique(sources)
    node[2 * sources + 1] = 0.0
    # int32 queue entries halve the queue's memory traffic when the grid allows it.
    index_dtype = np.int32 if node.size // 2 < 2**31 else np.int64
    nblocks = max(_INITIAL_BLOCKS, 2 * (-(-sources.size // _BLOCK)) + 2 * step.size)
    pool = np.empty(nblocks * _BLOCK, dtype=index_dtype)
    blk_prev = np.empty(nblocks, dtype=np.int32)
    tail = np.full(nslots, -1, dtype=np.int32)
    fill = np.zeros(nslots, dtype=np.int32)
    nseed = -(-sources.size // _BLOCK)
    pool[: sources.size] = sources
    blk_prev[:nseed] = np.arange(-1, nseed - 1, dtype=np.int32)
    if nseed:
        tail[0] = nseed - 1
        fill[0] = sources.size - (nseed - 1) * _BLOCK
    live = np.empty(pool.size, dtype=index_dtype)
    state = np.zeros(8, dtype=np.int64)
    state[_FREE] = -1
    state[_LCUR] = -1
    state[_NUSED] = nseed
    # As tuples the moves' number is a constant of each compiled version (4, 8, 16 neighbours), so
    # the loops over them unroll (1.03-1.05x in kernel CPU time on 1000 x 1000).
    step, lengths = tuple(step.tolist()), tuple(lengths.tolist())
    while _spread_numba(
        node, step, lengths, limit, delta, pool, blk_prev, tail, fill, live, state, back
    ):
        grown = np.empty(2 * pool.size, dtype=pool.dtype)
        grown[: pool.size] = pool
        pool = grown
        grown_prev = np.empty(2 * blk_prev.size, dtype=blk_prev.dtype)
        grown_prev[: blk_prev.size] = blk_prev
        blk_prev = grown_prev
        grown_live = np.empty(pool.size, dtype=live.dtype)
        grown_live[: live.size] = live
        live = grown_live


def flat_index(rows, cols, shape):
    """Flat indices of (row, col) cells in the padded grid the kernels work on."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    return (rows + PAD) * (shape[1] + 2 * PAD) + cols + PAD


def dijkstra_grid(
    grid,
    rows,
    cols,
    neighbours,
    limit,
    *,
    scale=1.0,
    max_out=np.inf,
    want_backlink=True,
    use_numba=None,
    parallel=True,
):
    """Cost distance on an unpadded float64 grid (NaN, negative, inf: impassable).

    ``rows, cols`` are passable source cells; ``limit`` stops the spread (cell units). Returns
    (cost in cell units x ``scale`` with +inf beyond ``max_out``, int8 backlink with -1 where
    the cost is inf, or None when not wanted). ``parallel=False`` keeps the numba path on the
    calling thread (for runs side by side in threads).
    """
    offsets, lengths, side = moves(neighbours)
    ny, nx = grid.shape
    ncols = nx + 2 * PAD
    step = offsets[:, 0] * ncols + offsets[:, 1]
    side1 = side[:, 0, 0] * ncols + side[:, 0, 1]
    side2 = side[:, 1, 0] * ncols + side[:, 1, 1]
    has_side = (np.abs(offsets) == 2).any(axis=1)
    sources = flat_index(rows, cols, grid.shape)
    if use_numba is None:
        use_numba = HAVE_NUMBA
    grid = np.ascontiguousarray(grid, dtype=np.float64)
    if not use_numba:
        flat = pad_impassable(grid).ravel()
        dist, back = _dijkstra_scipy(flat, sources, step, lengths, side1, side2, has_side, float(limit))
        inner = (slice(PAD, -PAD), slice(PAD, -PAD))
        cost = np.multiply(dist.reshape(ny + 2 * PAD, ncols)[inner], scale)
        cost[cost > max_out] = np.inf
        if not want_backlink:
            return cost, None
        backlink = back.reshape(ny + 2 * PAD, ncols)[inner].copy()
        backlink[~np.isfinite(cost)] = -1
        return cost, backlink
    # Threads pay off on big grids only: below _PARALLEL_CELLS waking them costs more than the pass.
    parallel = parallel and grid.size >= _PARALLEL_CELLS
    prepare = _prepare_numba if parallel else _prepare_serial
    # Allocated by numpy, not inside numba: numpy asks the kernel for transparent huge pages on
    # large arrays, and the search jumps between rows (64 KiB apart on a 4000-column grid), so
    # with 4 KiB pages nearly every step of a large grid missed the TLB.
    node = np.empty(2 * (ny + 2 * PAD) * ncols)
    row_lo = np.empty(ny + 2 * PAD)
    row_hi = np.empty(ny + 2 * PAD)
    prepare(grid, PAD, node, row_lo, row_hi)
    # halves back to resistances: exact
    r_min, r_max = 2.0 * row_lo.min(), 2.0 * row_hi.max()
    delta, nslots = _bucket_width(r_min, r_max, lengths.max())
    npad = node.size // 2
    back = np.full(npad if want_backlink else 0, -1, dtype=np.int8)
    _spread(node, sources, step, lengths, float(limit), delta, nslots, back)
    out_back = np.empty((ny, nx) if want_backlink else (0, 0), dtype=np.int8)
    _compact_numba(node, PAD, ny, nx, float(scale), float(max_out), back, out_back)
    # Shrinking an array that owns its memory is a realloc: in place, the tail goes back to the
    # system, no copy. No view of ``node`` exists here.
    node.resize(ny * nx, refcheck=False)
    return node.reshape(ny, nx), (out_back if want_backlink else None)
