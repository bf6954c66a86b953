"""Memory a computation needs for a grid shape, checked before anything is allocated.

Each computation has a model ``bytes = per_cell * cells + fixed`` derived from the arrays it
allocates (named in :data:`MODELS`), checked against measured peaks in bench/README.md. A
stage calls :func:`check_memory` with its grid shape before it reads its inputs; a job that
cannot fit is refused with the memory needed, the memory available and the setting that
fixes it (:class:`MemoryNeedError`, a ``HabitatError``: the CLI prints one line, exit 2).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from habitat.errors import InvalidParameterError, MemoryNeedError

__all__ = [
    "MODELS",
    "MemoryModel",
    "MemoryNeedError",
    "available_bytes",
    "return_freed_blocks",
    "check_memory",
    "estimate_bytes",
]

_GIB = 2**30
#: Share of the available memory a job may plan to use; the rest is headroom for Python,
#: GDAL's cache and the other allocations no model counts.
DEFAULT_SHARE = 0.8

FINE_GRID_SETTING = "grid.resolution_m"
#: Cost distance and circuit run on the connectivity grid (habitat.connectivity.two_grid): a
#: job too big for memory coarsens it without touching the habitat maps.
CONNECTIVITY_GRID_SETTING = "grid.connectivity_resolution_m"

#: Bytes per *analysis-grid* cell that the connectivity and circuit stages hold beside the cost
#: or circuit computation itself, whichever grid that runs on: the fine inputs (float32
#: resistance and its float64 copy, int32 patch ids and population cores, the cores' distance
#: and nearest-site arrays), the rasters written on the analysis grid (corridors, barrier
#: scores, dispersal reach; current and pinch points with their float64 temporaries).
#: Measured on 4056 x 4037 cells (bench/README.md, "Two resolutions"), peak RSS less the 283 MiB
#: of a run that computes nothing: connectivity 1,080 MiB at factor 4 (92 MB of it the coarse
#: cost model) = 64 bytes a cell; circuit 1,176 MiB with nothing to solve = 75 bytes a cell.
#: This is the part at factor 1 (everything on the analysis grid); with a coarser connectivity
#: grid the stages hold :data:`BLOCKWISE_FINE_SIDE` instead.
FINE_SIDE_BYTES = {"cost_distance": 64.0, "circuit": 76.0}
#: With a coarser connectivity grid (factor > 1) the connectivity and circuit stages read their
#: analysis-grid inputs strip by strip into the coarse grid and write the rasters brought back
#: chunk by chunk (habitat.connectivity.two_grid): beside the coarse computation they hold a
#: read window of ~4 M cells per input, strips of 1 M cells with their temporaries and GDAL's
#: block cache. ``(bytes per analysis cell, fixed bytes)``, from peak RSS less the 283 MiB of a
#: run that computes nothing and less the coarse model, scale pipeline at factor 10
#: (bench/README.md, "Connectivity and circuit in bounded memory"): connectivity 323, 341 and
#: 453 MiB at 16.37, 32.75 and 147.4 M cells (2 bytes a cell beyond 32.75 M; measured when it read
#: a row of input chunks at a time, the ~4 M-cell windows measured the same within 8 MiB); circuit, reading ~4 M-cell windows through
#: a 16 MB cache with freed blocks returned (bench/README.md, "Circuit stage flat"), 140 and
#: 158 MiB with nothing to solve at 16.37 and 32.75 M cells (1.1 bytes a cell; the coarse
#: arrays grow with the coarse cells). Both fits lie above every measurement.
BLOCKWISE_FINE_SIDE = {"cost_distance": (2.0, 304 * 2**20), "circuit": (2.0, 128 * 2**20)}
#: The sites stage's own arrays on the analysis grid, beside the cost search and the circuit
#: solve. Block by block (habitat.sites.blockwise, bench/README.md "Sites block by block") it
#: holds strips of rows the grid's width wide and, on the analysis grid (factor 1), the
#: resistance as float64 and the int32 population cores for the cost search: 12 bytes a cell.
#: Measured at factor 10 on 16.37 M and 32.75 M cells: the phases outside the coarse solves
#: peaked at ~675 and ~665 MiB (no growth per cell; ~300 MiB above a run that computes
#: nothing, the strips); 12 bytes a cell covers them up to the 147 M cells of one WorldCover
#: tile. (Before: 211 bytes a cell, whole-grid candidates, criteria rasters and cost surface.)
SITES_FINE_SIDE_BYTES = 12.0


@dataclass(frozen=True)
class MemoryModel:
    """``bytes = per_cell * cells + per_block_cell * block_cells + fixed``; the setting to coarsen."""

    per_cell: float
    setting: str
    per_block_cell: float = 0.0
    fixed: int = 0
    doc: str = ""


#: Models per computation. ``per_cell`` counts arrays that span the grid; block-wise
#: computations hold one block (``per_block_cell``) plus thin per-grid arrays.
MODELS: dict[str, MemoryModel] = {
    "cost_distance": MemoryModel(
        42.0, CONNECTIVITY_GRID_SETTING,
        doc="float64 resistance, padded copy, distances and output (4 x 8), int32 queue links "
            "(2 x 4), int8 back-links and their copy (2 x 1); plus 8 per cell per kept surface",
    ),
    "fragmentation": MemoryModel(
        45.0, FINE_GRID_SETTING,
        doc="whole-array metrics: int32 labels and buffer, class index, per-strip temporaries; "
            "measured 43 bytes/cell over the input on 10000 x 10000 (bench/README.md)",
    ),
    "patches": MemoryModel(
        1.0, FINE_GRID_SETTING, fixed=336 * 2**20,
        doc="block-wise labelling, patch table and outlines (2048-cell blocks); the int32 label "
            "output goes to a temporary file (DiskGrid, 4 bytes a cell of disk) and is read back "
            "window by window, so memory holds one block and per-patch rows (table, outlines): "
            "measured stage peaks 684, 699 and 732 MiB at 16.37, 32.75 and 147.4 M cells "
            "(bench/README.md 'Patches in bounded memory'), less ~350 MiB of interpreter and "
            "libraries: ~334, ~349 and ~382 MiB (0.37 bytes a cell of growth), "
            "below 1 x cells + 336 MiB (352, 367 and 477 MiB)",
    ),
    "fragmentation_blockwise": MemoryModel(
        35.0, FINE_GRID_SETTING, per_block_cell=60.0, fixed=64 * 2**20,
        doc="one block with halo (class index, int64 provisional ids, int32 label buffer, "
            "neighbour counts, erosion) plus the ENN edge cells (row, col, patch id and the k-d "
            "tree: ~100 bytes per edge cell), which grow with the grid: measured peak 2,583 MiB "
            "on 6759 x 6729 cells of speckled 30 m land cover with 4096-cell blocks "
            "(bench/README.md), i.e. ~35 bytes/cell beyond the block",
    ),
    "indicators": MemoryModel(
        2.0, FINE_GRID_SETTING, fixed=512 * 2**20,
        doc="the indicators stage strip by strip (habitat/indicators/units.py): its own uint8 "
            "change map (1 byte a cell, made when written) and its strips; fixed: 2 M-cell strips "
            "of labels and masks, one chunk band per layer read, the PC/EC graph of one unit. "
            "Measured stage peaks 448, 457 and 542 MiB at 16.37, 32.75 and 147.4 M cells "
            "(bench/README.md 'Indicators strip by strip'), ~300 MiB of them interpreter and "
            "libraries; the model gives 543, 574 and 793 MiB. Grows also with the patch edges "
            "and the square of the PC/EC graph's nodes of the largest unit (not modelled)",
    ),
    "labels_blockwise": MemoryModel(
        0.1, FINE_GRID_SETTING, per_block_cell=34.0, fixed=64 * 2**20,
        doc="one block (mask, int64 provisional ids, int32 buffer, final-id gather), seam "
            "rows/columns, a few numbers per provisional label; measured 639 MiB with 4096-cell "
            "blocks on 45 M cells",
    ),
    "mosaic": MemoryModel(
        0.0, FINE_GRID_SETTING, per_block_cell=60.0, fixed=256 * 2**20,
        doc="one output block, its scratch and source windows (x ratio^2) and GDAL's 128 MB "
            "block cache; measured 274 MiB with 1024-cell blocks",
    ),
    "ingest": MemoryModel(
        1.5, FINE_GRID_SETTING, per_block_cell=60.0, fixed=320 * 2**20,
        doc="the ingest stage on tiled land cover, per cell of the padded grid: the classes of "
            "both epochs are in temporary files (DiskGrid), the river cells, floodplain and "
            "settlement/road cells are bit masks (3 x 1/8), one uint8 grid while GDAL rasterizes "
            "a presence or cover mask (1), the distances' per-strip bounds (8 / strip rows); "
            "fixed: the mosaic block and GDAL's 128 MB cache, one distance or cover strip "
            "(STRIP_CELLS x ~20 bytes), the writer's 1024-row strip. Measured (bench/README.md, "
            "'Ingest row strip by row strip'): 571 MiB at 16.37 M grid cells, 608 MiB at 32.75 M, "
            "including ~350 MiB of interpreter and libraries",
    ),
    "landcover_fractions": MemoryModel(
        0.0, FINE_GRID_SETTING, per_block_cell=300.0, fixed=256 * 2**20,
        doc="mosaic plus the 3x finer sample block (codes, classes, crosswalk row index) and 10 "
            "float32 fraction bands; measured 542 MiB with 1024-cell blocks (10 m -> 30 m)",
    ),
}


#: Fixed glibc mmap threshold for block-wise stages (bytes): see :func:`return_freed_blocks`.
MMAP_THRESHOLD_BYTES = 1 << 20


def return_freed_blocks(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Have glibc serve allocations above ``threshold`` bytes by ``mmap``, so freed blocks go
    back to the system at once.

    glibc raises its mmap threshold (up to 32 MiB) each time a large mapped block is freed;
    after that, strip- and band-sized arrays of a block-wise pass come from the heap, where the
    freed ones stay resident between live small objects: a stage that makes and drops
    thousands of strips then holds more and more of them (measured: the indicators stage's
    peak RSS grew ~280 MiB over a run on 16 M cells). A fixed threshold stops the drift; the
    cost is one ``mmap``/``munmap`` per array above it. Returns False (and changes nothing)
    off glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold = -3  # malloc.h: M_MMAP_THRESHOLD
    return bool(mallopt(m_mmap_threshold, int(threshold)))


def available_bytes() -> int:
    """Physical memory available now (bytes): ``MemAvailable`` of /proc/meminfo, else sysconf."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def estimate_bytes(
    computation: str,
    shape: tuple[int, int],
    *,
    block_cells: int = 0,
    n_surfaces: int = 0,
    neighbours: int = 8,
    factor: int = 1,
    n_rhs: int = 1,
    available: int | None = None,
    solver: str = "auto",
    fine_side_bytes: float | None = None,
) -> int:
    """Bytes ``computation`` needs on a grid of ``shape`` cells.

    Parameters
    ----------
    computation : str
        A key of :data:`MODELS`, or ``"circuit"``: the solver path ``solver: auto`` takes for
        ``available`` bytes (:func:`habitat.connectivity.circuit.solvers.planned_memory_bytes`:
        the direct factor's ``n log2 n`` model while it fits in 60 % of them and the grid has at
        most 5 M connectivity cells, else AMG-CG), with every connectivity cell a node and
        ``neighbours + 1`` Laplacian entries per node; fitted to measured peaks in
        bench/README.md ("Circuit solver memory").
    shape : (int, int)
        Grid shape ``(rows, cols)``.
    block_cells : int
        Cells per block for block-wise computations (e.g. ``1024 * 1024``).
    n_surfaces : int
        Extra full-grid float64 surfaces kept (cost distance: one per population).
    neighbours : {4, 8}
        Circuit graph neighbours.
    factor : int
        ``cost_distance`` and ``circuit`` only: they run on a grid ``factor`` times coarser than
        ``shape`` (``grid.connectivity_resolution_m``; 1 = the analysis grid); their model
        applies to the ``ceil(rows / factor) x ceil(cols / factor)`` coarse cells, plus
        :data:`FINE_SIDE_BYTES` per cell of ``shape`` (the stage's arrays on the analysis grid)
        at factor 1, or :data:`BLOCKWISE_FINE_SIDE` (strips and chunks) at factor > 1.
    n_rhs : int
        ``circuit`` only: right-hand sides solved together (focal points - 1); with
        ``solver="multigrid"`` the points whose solutions are kept (the sites stage: the sources).
    available : int, optional
        ``circuit`` only: bytes available, which decide the solver path (default
        :func:`available_bytes`).
    solver : {"auto", "direct", "amg", "multigrid"}
        ``circuit`` only: the stage's ``solver``; a forced method uses its own estimate
        (``multigrid``: linear in the connectivity cells, ``n_rhs`` the points whose solutions
        are kept, :func:`habitat.connectivity.circuit.solvers.estimate_memory_bytes`).
    fine_side_bytes : float, optional
        ``cost_distance`` and ``circuit`` only: bytes per analysis-grid cell the calling stage
        holds beside the computation, instead of :data:`FINE_SIDE_BYTES` (e.g.
        :data:`SITES_FINE_SIDE_BYTES`); >= 0.

    Returns
    -------
    int
        Estimated peak bytes.

    Examples
    --------
    >>> estimate_bytes("cost_distance", (1000, 1000)) / 1e6  # 42 for the search, 64 for the stage
    106.0
    """
    rows, cols = (int(v) for v in shape)
    if rows <= 0 or cols <= 0:
        raise InvalidParameterError(f"grid shape {shape} must be positive")
    factor = int(factor)
    if factor < 1:
        raise InvalidParameterError(f"factor={factor!r} must be an integer >= 1")
    if factor > 1 and computation not in FINE_SIDE_BYTES:
        raise InvalidParameterError(f"{computation!r} runs on the analysis grid only; factor must be 1")
    if fine_side_bytes is not None and (computation not in FINE_SIDE_BYTES or not fine_side_bytes >= 0):
        raise InvalidParameterError(
            f"fine_side_bytes={fine_side_bytes!r}: a number >= 0, for cost_distance or circuit only")
    if fine_side_bytes is not None:
        fine_side = float(fine_side_bytes) * rows * cols
    elif factor > 1 and computation in BLOCKWISE_FINE_SIDE:
        per_fine_cell, fixed = BLOCKWISE_FINE_SIDE[computation]
        fine_side = per_fine_cell * rows * cols + fixed
    else:
        fine_side = FINE_SIDE_BYTES.get(computation, 0.0) * rows * cols
    rows, cols = -(-rows // factor), -(-cols // factor)
    cells = rows * cols
    if computation == "circuit":
        from habitat.connectivity.circuit.solvers import estimate_memory_bytes, planned_memory_bytes

        nnz, n_rhs = (neighbours + 1) * cells, max(1, int(n_rhs))
        if solver == "auto":
            limit = available_bytes() if available is None else int(available)
            solve = planned_memory_bytes(cells, nnz, n_rhs=n_rhs, memory_limit_bytes=limit)
        else:
            solve = estimate_memory_bytes(cells, nnz, method=solver, n_rhs=n_rhs)
        return int(math.ceil(solve + fine_side))
    if computation not in MODELS:
        raise InvalidParameterError(
            f"memory model {computation!r} is unknown; use one of {', '.join(sorted(MODELS))}, circuit"
        )
    m = MODELS[computation]
    return int(math.ceil(m.per_cell * cells + m.per_block_cell * block_cells + m.fixed + 8.0 * n_surfaces * cells
                         + fine_side))


def _setting(computation: str) -> str:
    return CONNECTIVITY_GRID_SETTING if computation == "circuit" else MODELS[computation].setting


def check_memory(
    computation: str,
    shape: tuple[int, int],
    *,
    what: str | None = None,
    available: int | None = None,
    share: float = DEFAULT_SHARE,
    cell_size_m: float | None = None,
    **model_kw,
) -> int:
    """Refuse a computation that cannot fit in memory, before it allocates.

    Parameters
    ----------
    computation, shape, model_kw
        As :func:`estimate_bytes`.
    what : str, optional
        Name used in the message (default: ``computation``), e.g. ``"stage connectivity"``.
    available : int, optional
        Bytes available; default :func:`available_bytes`.
    share : float
        Share of ``available`` the job may use (0, 1].
    cell_size_m : float, optional
        Analysis cell size (m): with it, a refusal of cost distance or circuit suggests a
        ``grid.connectivity_resolution_m`` value (a whole multiple of it) that fits.

    Returns
    -------
    int
        The estimated bytes, when they fit.

    Raises
    ------
    MemoryNeedError
        ``need > share * available``; the message names both amounts in GiB and the setting
        to raise with the cell size that would fit: ``grid.connectivity_resolution_m`` for cost
        distance and circuit (the smallest whole multiple of the analysis cells that fits), or
        ``grid.resolution_m`` when even the fine-grid part (:data:`FINE_SIDE_BYTES`) cannot fit
        or for the other computations.
    """
    if not (0 < share <= 1):
        raise InvalidParameterError(f"share={share!r} must lie in (0, 1]")
    avail = available_bytes() if available is None else int(available)
    if computation == "circuit":  # the solver path depends on the memory available
        model_kw = {**model_kw, "available": avail}
    need = estimate_bytes(computation, shape, **model_kw)
    limit = share * avail
    if need <= limit:
        return need
    fix = _connectivity_fix(computation, shape, limit, cell_size_m, model_kw)
    if fix is not None:
        setting, advice = CONNECTIVITY_GRID_SETTING, fix
    else:
        setting = FINE_GRID_SETTING if computation in FINE_SIDE_BYTES else _setting(computation)
        # cells scale with 1/resolution^2: the factor by which the cell size must grow to fit
        factor = math.sqrt(need / max(limit, 1.0))
        advice = f"raise {setting} about {factor:.1f}x (coarser cells) or shrink the study area"
    raise MemoryNeedError(
        f"{what or computation} on a {shape[0]} x {shape[1]} grid needs about {need / _GIB:.1f} GiB "
        f"but {avail / _GIB:.1f} GiB are available; {advice}",
        needed_bytes=need, available_bytes=avail, setting=setting,
    )


def _connectivity_fix(computation: str, shape: tuple[int, int], limit: float, cell_size_m: float | None,
                      model_kw: dict) -> str | None:
    """Advice naming a connectivity_resolution_m that fits, or None when coarsening the
    connectivity grid cannot make the job fit (the fine-grid part alone is too big)."""
    if computation not in FINE_SIDE_BYTES:
        return None
    rows, cols = (int(v) for v in shape)
    per_fine_cell = model_kw.get("fine_side_bytes")
    per_fine_cell = FINE_SIDE_BYTES[computation] if per_fine_cell is None else float(per_fine_cell)
    if per_fine_cell * rows * cols >= limit:
        return None
    current = int(model_kw.pop("factor", 1))
    for factor in range(current + 1, max(rows, cols) + 1):
        if estimate_bytes(computation, shape, factor=factor, **model_kw) <= limit:
            break
    else:
        return None
    if cell_size_m is None:
        return f"raise {CONNECTIVITY_GRID_SETTING} to {factor}x the analysis cell size (or more)"
    return (f"set {CONNECTIVITY_GRID_SETTING}: {factor * cell_size_m:g} ({factor}x the {cell_size_m:g} m "
            "analysis cells) or coarser")
