"""Two-epoch habitat indicators per reporting unit, in long form, with their definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.indicators.change import _unit_boxes, annual_rate
from habitat.indicators._unit_scan import (STRIP_CELLS, PairwiseSum, Reader, UnitPatches, cell_sums,
                                           patch_edge_points, sequential_sum, strip_rows, strips)
from habitat.indicators.fragmentation import _class_frame
from habitat.indicators.fragmentation_blockwise import _checked
from habitat.indicators.patch_graph import eca_of_patches
from habitat.suitability.blockwise import iter_label_blocks
from habitat.indicators.protconn import delta_eca_pct

LONG_COLUMNS = ("unit_type", "unit_id", "unit_name", "indicator", "epoch", "value", "unit_of_measure")
_M2_PER_HA = 10_000.0

#: indicator -> (unit of measure, definition). A value whose epoch is a period "t1-t2" is the
#: change t2 - t1 for the per-date indicators.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "unit_area_ha": ("ha", "area of the reporting unit on the analysis grid (cells whose centre lies inside)"),
    "habitat_area_ha": ("ha", "habitat area in the unit: sum of cell areas of habitat cells (METHODS.md 4)"),
    "habitat_share_pct": ("%", "habitat area / unit area x 100"),
    "habitat_protected_pct": ("%", ("share of the unit's habitat inside protected areas: "
                              "sum(a x protected fraction) over habitat cells / habitat area x 100")),
    "habitat_loss_ha": ("ha", "area habitat at t1 and not at t2 (METHODS.md 4)"),
    "habitat_gain_ha": ("ha", "area habitat at t2 and not at t1 (METHODS.md 4)"),
    "habitat_net_ha": ("ha", "gain - loss = area t2 - area t1"),
    "habitat_loss_pct": ("%", "loss / habitat area at t1 x 100 (NaN without habitat at t1)"),
    "annual_rate_per_yr": ("1/yr", "annual rate of change r = ln(A2/A1) / (t2 - t1) (Puyravaud 2003; FAO)"),
    "quality_weighted_area_ha": ("ha", ("sum over habitat cells of quality Q_x x cell area (InVEST quality of the "
                                 "current land cover, so only at the current date)")),
    "NP": ("count", "number of habitat patches inside the unit, cut at its boundary (FRAGSTATS NP)"),
    "LPI": ("%", "largest habitat patch / unit area x 100 (FRAGSTATS LPI)"),
    "ED": ("m/ha", ("habitat edge length against non-habitat inside the unit / unit area (FRAGSTATS ED; "
           "unit boundary not counted)")),
    "AREA_MN": ("ha", "mean habitat patch area (FRAGSTATS AREA_MN)"),
    "TCA": ("ha", "total core area: habitat left after eroding patches by the edge depth (FRAGSTATS TCA)"),
    "MESH_CUT": ("ha", "effective mesh size, patches cut at the unit boundary: sum a_i^2 / A (Jaeger 2000)"),
    "MESH_CBC": ("ha", ("effective mesh size, cross-boundary connections: sum a_i^in a_i^complete / A "
                 "(Moser et al. 2007)")),
    "graph_patches": ("count", ("habitat patches inside the unit at least graph_min_patch_ha large: the nodes "
                      "of the PC/EC graph")),
    "PC": ("1", ("probability of connectivity sum a_i a_j p*_ij / A^2, A = unit area, p = exp(-k d) from "
           "edge-to-edge distances d (Saura & Pascual-Hortal 2007; METHODS.md 7)")),
    "EC_ha": ("ha", "equivalent connectivity sqrt(sum a_i a_j p*_ij) (Saura et al. 2011)"),
    "dECA_pct": ("%", ("change in equivalent connected area between the dates: 100 (EC_ha t2 - EC_ha t1) / "
                 "EC_ha t1 (METHODS.md 11); NaN when EC_ha t1 = 0")),
    "Prot": ("%", "protected share of the region: 100 x protected area inside it / region area (Saura et al. 2017)"),
    "ProtConn": ("%", ("protected and connected share: 100 x ECA of the protected-area nodes / region area; nodes = "
                 "protected land inside the region, transboundary protected land within reach as stepping stones "
                 "of area 0 (Saura et al. 2017, 2018; METHODS.md 11)")),
    "ProtUnconn": ("%", "Prot - ProtConn: protected but unconnected share"),
    "RelConn": ("%", "100 x ProtConn / Prot (NaN without protected land)"),
    "ProtConn_Prot": ("% of ProtConn", "movement that never leaves protected land (touching protected areas)"),
    "ProtConn_Within": ("% of ProtConn", "movement inside single protected areas"),
    "ProtConn_Contig": ("% of ProtConn", "ProtConn_Prot - ProtConn_Within: between contiguous protected areas"),
    "ProtConn_Trans": ("% of ProtConn", "part that needs protected land in neighbouring regions (transboundary)"),
    "ProtConn_Unprot": ("% of ProtConn", "movement through unprotected land: 100 - ProtConn_Prot - ProtConn_Trans"),
    "protected_ECA_ha": ("ha", "ECA of the protected-area nodes (ProtConn numerator)"),
}
#: Per-date indicators whose change t2 - t1 is also reported under the period epoch.
_DELTA = ("habitat_area_ha", "habitat_share_pct", "habitat_protected_pct", "NP", "LPI", "ED", "AREA_MN",
          "TCA", "MESH_CUT", "MESH_CBC", "graph_patches", "PC", "EC_ha")


def _as_float64(values: np.ndarray) -> np.ndarray:
    """float64 with NaN = 0 (the sums of protected fraction and quality)."""
    return np.nan_to_num(np.asarray(values, np.float64))


def _box_values(layer, box: tuple[slice, slice]) -> np.ndarray:
    """The cells of ``box`` of an array or (lazy) DataArray."""
    part = layer[box]
    return np.asarray(getattr(part, "values", part))


@dataclass(frozen=True)
class BoxMask:
    """A unit's cells kept as the bit-packed mask of its bounding box: ``bits`` covers ``box``
    of a grid of ``shape`` (``box`` None: no cell; ``bits`` None: every cell of the box). A unit
    costs 1/8 byte per cell of its box, and a grid-wide study area nothing.
    """

    shape: tuple[int, int]
    box: tuple[slice, slice] | None
    bits: np.ndarray | None

    @classmethod
    def from_mask(cls, mask) -> BoxMask:
        """From a grid-sized bool mask, cropped to its tight bounding box."""
        full = np.asarray(mask, dtype=bool)
        box = None
        if full.ndim == 2:  # the tight box from the rows and columns holding a cell (no copies)
            rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
            if rows.size:
                box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        bits = np.packbits(full[box], axis=1) if box is not None else np.zeros((0, 0), np.uint8)
        return cls(tuple(full.shape), box, bits)

    @classmethod
    def full(cls, shape: tuple[int, int]) -> BoxMask:
        """Every cell of a grid of ``shape`` (nothing stored)."""
        shape = (int(shape[0]), int(shape[1]))
        box = (slice(0, shape[0]), slice(0, shape[1])) if shape[0] > 0 and shape[1] > 0 else None
        return cls(shape, box, None)

    @classmethod
    def from_reader(cls, read, shape: tuple[int, int], strip_rows: int = 256) -> BoxMask:
        """From ``read(rows, cols) -> bool window`` of a grid of ``shape``, strip by strip (two
        passes: the box, then its bits), never holding the grid-sized mask."""
        height, width = int(shape[0]), int(shape[1])
        r_lo, r_hi, c_lo, c_hi = height, -1, width, -1
        for r0 in range(0, height, strip_rows):
            m = np.asarray(read(slice(r0, min(height, r0 + strip_rows)), slice(0, width)), dtype=bool)
            rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            if rows.size:
                r_lo, r_hi = min(r_lo, r0 + int(rows[0])), max(r_hi, r0 + int(rows[-1]))
                c_lo, c_hi = min(c_lo, int(cols[0])), max(c_hi, int(cols[-1]))
        box = None if r_hi < 0 else (slice(r_lo, r_hi + 1), slice(c_lo, c_hi + 1))
        return cls.from_box_reader(read, (height, width), box, strip_rows)

    @classmethod
    def from_box_reader(cls, read, shape: tuple[int, int], box: tuple[slice, slice] | None,
                        strip_rows: int = 256) -> BoxMask:
        """From ``read(rows, cols) -> bool window`` and the unit's known tight bounding ``box``
        (None: no cell), reading the box only, strip by strip."""
        shape = (int(shape[0]), int(shape[1]))
        if box is None:
            return cls(shape, None, np.zeros((0, 0), np.uint8))
        rows, cols = box
        bits = np.zeros((rows.stop - rows.start, (cols.stop - cols.start + 7) // 8), np.uint8)
        for r0 in range(rows.start, rows.stop, strip_rows):
            r1 = min(rows.stop, r0 + strip_rows)
            bits[r0 - rows.start:r1 - rows.start] = np.packbits(np.asarray(read(slice(r0, r1), cols), dtype=bool), axis=1)
        return cls(shape, box, bits)

    @classmethod
    def of_zones(cls, zone, ids, strip_rows: int = 256) -> list[BoxMask]:
        """The unit ``zone == id`` for each of ``ids`` (positive integers; 0 is no unit), from a
        zone raster given as an array or anything read as ``zone[rows, cols]`` with a ``shape``.
        Every unit's box is found in one strip-wise pass over the raster
        (:func:`habitat.indicators.change._unit_boxes`), then only each box is read."""
        ids = [int(i) for i in ids]
        unique = np.unique(np.asarray([i for i in ids if i > 0], dtype=np.int64))
        boxes = dict(zip(unique.tolist(), _unit_boxes(zone, unique, strip_rows))) if unique.size else {}
        shape = tuple(zone.shape)
        return [cls.from_box_reader(lambda r, c, i=i: zone[r, c] == i, shape, boxes.get(i), strip_rows)
                if i > 0 else cls.from_reader(lambda r, c, i=i: zone[r, c] == i, shape, strip_rows)
                for i in ids]

    @property
    def mask(self) -> np.ndarray:
        """The bool mask of the box (unpacked: 1 byte per box cell)."""
        if self.box is None:
            return np.zeros((0, 0), bool)
        return self.window(*self.box)

    def window(self, rows: slice, cols: slice) -> np.ndarray:
        """The unit's cells in a window of the grid (bool, False outside the box)."""
        out = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
        if self.box is None:
            return out
        a, b = self.box
        r0, r1 = max(rows.start, a.start), min(rows.stop, a.stop)
        c0, c1 = max(cols.start, b.start), min(cols.stop, b.stop)
        if r0 >= r1 or c0 >= c1:
            return out
        if self.bits is None:
            out[r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = True
            return out
        part = np.unpackbits(self.bits[r0 - a.start:r1 - a.start], axis=1, count=b.stop - b.start).view(bool)
        out[r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = part[:, c0 - b.start:c1 - b.start]
        return out

    def any(self) -> bool:
        return self.box is not None

    def count_in(self, other: np.ndarray | BoxMask) -> int:
        """Cells of this unit that are also in ``other`` (a grid-sized mask or a BoxMask)."""
        if self.box is None:
            return 0
        if not isinstance(other, BoxMask):
            return int(np.count_nonzero(self.mask & np.asarray(other[self.box], dtype=bool)))
        if other.box is None:
            return 0
        (a, b), (c, d) = self.box, other.box
        r0, r1, c0, c1 = max(a.start, c.start), min(a.stop, c.stop), max(b.start, d.start), min(b.stop, d.stop)
        if r0 >= r1 or c0 >= c1:
            return 0
        total = 0
        for rows, cols in strips((slice(r0, r1), slice(c0, c1))):
            total += int(np.count_nonzero(self.window(rows, cols) & other.window(rows, cols)))
        return total


def _reader(layer) -> Reader:
    """A window reader of a habitat mask given as an array (nonzero = habitat) or a reader."""
    if callable(layer):
        return lambda rows, cols: np.asarray(layer(rows, cols), dtype=bool)
    return lambda rows, cols: np.asarray(layer[rows, cols], dtype=bool)


def _fragmentation(read: Reader, unit: BoxMask, *, cell_size_m: float, neighbours: int, edge_depth: int,
                   strip_cells: int, n_cells: int, n_habitat: int, **graph) -> tuple[dict[str, float], tuple]:
    """NP, LPI, ED, AREA_MN and TCA of the unit's habitat (``n_habitat`` of its ``n_cells``
    cells), patches cut at its boundary, and :func:`_patch_figures` of the same patches (one
    labelling of the unit's box serves both)."""
    r_off, c_off = unit.box[0].start, unit.box[1].start

    def classes(rows: slice, cols: slice) -> np.ndarray:
        # 1 = habitat, 2 = other cells of the unit, 0 = outside (uint8)
        g = (slice(rows.start + r_off, rows.stop + r_off), slice(cols.start + c_off, cols.stop + c_off))
        m = unit.window(*g)
        out = np.zeros(m.shape, np.uint8)
        out[m] = 2
        out[m & read(*g)] = 1
        return out

    box_shape = (unit.box[0].stop - r_off, unit.box[1].stop - c_off)
    # block by block (per-block partial results merged; the same table as class_metrics); no
    # ENN: none of these five columns needs it, and its edge cells are what grows with the grid
    # the classes present are known from the counts: no pass to find them
    present = np.array([c for c, n in ((1, n_habitat), (2, n_cells - n_habitat)) if n > 0], np.uint8)
    # habitat is class index 0 when present: its patches come first, with their edge cells
    land = _checked(classes, box_shape, cell_size_m, 0, neighbours, edge_depth,
                    (strip_rows(unit.box, strip_cells), box_shape[1]), enn=False, class_values=present,
                    edges_of=0 if n_habitat else None)
    cells = land.patch_cells[land.patch_class == 0] if n_habitat else np.empty(0, np.int64)
    figures = _patch_figures(cells, land.edges, cell_size_m=cell_size_m, **graph)
    if not n_habitat:
        return {"NP": 0.0, "LPI": 0.0, "ED": 0.0, "AREA_MN": math.nan, "TCA": 0.0}, figures
    row = _class_frame(land, float(cell_size_m), False).loc[1]
    return {name: float(row[name]) for name in ("NP", "LPI", "ED", "AREA_MN", "TCA")}, figures


def _patch_figures(patch_cells: np.ndarray, edges, *, cell_area: float, cell_size_m: float, min_area_ha: float,
                   ref_distance_m: float, ref_probability: float) -> tuple[float, int, float]:
    """The MESH_CUT numerator sum a_i^2 (m4), and the PC/EC graph's node count and ECA (ha), of
    patches given by their cell counts and edge cells ``(rows, cols, 1-based ids)``.

    Equal to ``effective_mesh_size``'s per-box labelling and to ``habitat_eca(habitat & mask)``:
    same patch order, same areas, same edge cells in the same order.
    """
    pieces = cell_sums(patch_cells, cell_area)
    cut = float(np.sum(pieces * pieces)) if pieces.size else 0.0
    # habitat_patches' rule: area = label_areas_m2 / 10^4 ha (the same sums: cell_area is
    # cell_size_m ** 2), kept when >= min_area_ha
    sizes = pieces / _M2_PER_HA
    keep = sizes >= min_area_ha
    points = patch_edge_points(edges, keep) if keep.sum() >= 2 else None
    eca = eca_of_patches(sizes[keep], points, cell_size_m=cell_size_m, ref_distance_m=ref_distance_m,
                         ref_probability=ref_probability)
    return cut, int(keep.sum()), eca


def _cross_boundary(read: Reader, patches: UnitPatches, masks: Sequence[BoxMask], *, cell_area: float) -> list[float]:
    """MESH_CBC numerators per unit: sum over the unit's habitat cells of a_x times the area of
    the complete patch (``patches``: labelled over the whole grid) holding the cell, added in
    raster order as ``effective_mesh_size``'s ``bincount`` does (the second pass: weigh)."""
    complete = np.concatenate(([0.0], cell_sums(patches.patch_cells, cell_area)))
    acc = [0.0] * len(masks)
    for rows, cols, lab in iter_label_blocks(read, patches.labeling):
        for pos, unit in enumerate(masks):
            if unit.box is None:
                continue
            r0, r1 = max(rows.start, unit.box[0].start), min(rows.stop, unit.box[0].stop)
            if r0 >= r1:
                continue
            ucols = unit.box[1]
            part = lab[r0 - rows.start:r1 - rows.start, ucols]
            sel = unit.window(slice(r0, r1), ucols) & (part > 0)
            acc[pos] = sequential_sum(acc[pos], cell_area * complete[part[sel]])
    return acc


def _window_sums(layer, read: Reader, unit: BoxMask, n: int, strip_cells: int) -> float:
    """Sum of a float layer (NaN = 0) over the unit's ``n`` habitat cells: ``np.sum`` of the
    selected values of the whole box in raster order, added strip by strip (PairwiseSum)."""
    total = PairwiseSum(n)
    for rows, cols in strips(unit.box, strip_cells):
        sel = unit.window(rows, cols) & read(rows, cols)
        total.add(_as_float64(_box_values(layer, (rows, cols))[sel]))
    release = getattr(layer, "release", None)
    if release is not None:  # a layer read through a cache is told that this pass is over
        release()
    return total.total()


def unit_indicators(
    habitat_t1,
    habitat_t2,
    units: Sequence[tuple[str, str, str, np.ndarray]],
    *,
    year_t1: int,
    year_t2: int,
    cell_size_m: float,
    protected_fraction=None,
    quality=None,
    neighbours: int = 8,
    edge_depth_m: float | None = None,
    dispersal_distance_m: float,
    dispersal_probability: float,
    graph_min_patch_ha: float = 0.0,
    shape: tuple[int, int] | None = None,
    strip_cells: int = STRIP_CELLS,
) -> pd.DataFrame:
    """Habitat area, change, protection, quality, fragmentation and connectivity per unit.

    Parameters
    ----------
    habitat_t1, habitat_t2 : array_like of bool, shape (rows, cols), or callable
        Habitat masks at the two dates on one projected equal-area grid of square cells, or
        window readers ``read(rows, cols) -> bool array`` (then ``shape`` is required).
        ``habitat_t1=None`` (one date): current-state indicators only, no change figures.
    units : sequence of (unit_type, unit_id, unit_name, mask)
        Reporting units; ``mask`` is a bool array of the grid shape (cells inside the unit) or
        a :class:`BoxMask` (the same cells as the mask of their bounding box). Units may
        overlap (e.g. population buffers).
    year_t1, year_t2 : int
        The two dates, ``year_t2 > year_t1`` (``year_t1`` is ignored with one date).
    cell_size_m : float
        Cell side in metres (> 0); cell area ``cell_size_m ** 2``.
    protected_fraction : array or DataArray of float, optional
        Fraction of each cell inside protected areas, [0, 1] (NaN = 0); a lazy layer is read
        one unit's bounding box at a time.
    quality : array or DataArray of float, optional
        Habitat quality in [0, 1] at t2 (NaN = 0); read like ``protected_fraction``. A layer
        object with a ``release()`` method has it called after each pass over a unit's box.
    neighbours : {8, 4}
        Patch rule for fragmentation, MESH and the patch graph.
    edge_depth_m : float, optional
        Edge depth for TCA in metres (> 0), taken as ``max(1, ceil(edge_depth_m / cell_size_m))``
        cells, as the patches stage's core area counts them (never less than asked); default one cell.
    dispersal_distance_m, dispersal_probability : float
        Dispersal kernel: probability ``dispersal_probability`` at ``dispersal_distance_m``.
    graph_min_patch_ha : float
        Smaller patches are not nodes of the PC/EC graph.
    shape : (int, int), optional
        Grid shape, when the habitat masks are readers.
    strip_cells : int
        Cells per strip of the block-wise passes (any value gives the same table).

    Returns
    -------
    pandas.DataFrame
        Long form, columns ``LONG_COLUMNS``; ``epoch`` is ``"t1"``/``"t2"`` as the year, or the
        period ``"t1-t2"`` for change figures (and for ``unit_area_ha``). Indicators and units
        of measure as :data:`DEFINITIONS`.

    Notes
    -----
    Formulas in :data:`DEFINITIONS` (METHODS.md 3, 4 and 7). Fragmentation (NP, LPI, ED,
    AREA_MN, TCA) and the patch graph look only inside the unit (patches cut at its boundary);
    MESH_CBC sees patches whole across the boundary. Patch graph distances are edge-to-edge
    (:func:`habitat.indicators.patch_graph.edge_to_edge_distances`); direct links with
    ``p < 1e-6`` are dropped.

    Every figure is gathered strip by strip (full-width strips of each unit's box, patches
    labelled per strip and merged at the seams) and equals the whole-array functions
    (``habitat_change``, ``effective_mesh_size``, ``class_metrics``, ``habitat_eca`` on the
    unit's box) bit for bit: float sums are added in the same raster order. Memory: a strip,
    a few numbers per patch, 1/8 byte per cell of each unit's box, and the edge cells and
    distance matrix of one unit's PC/EC graph; never a grid-sized array.
    """
    # ceil, so the depth is never less than asked (1e-9: a depth of exactly k cells stays k)
    edge_cells = 1 if edge_depth_m is None else max(1, math.ceil(edge_depth_m / cell_size_m - 1e-9))
    single = habitat_t1 is None
    if callable(habitat_t2):
        if shape is None:
            raise InvalidParameterError("shape is required when habitat_t2 is a reader function")
        grid_shape = (int(shape[0]), int(shape[1]))
        if not single and not callable(habitat_t1):
            raise InvalidParameterError("habitat_t1 and habitat_t2 must both be arrays or both reader functions")
    else:
        s1 = np.shape(habitat_t2) if single else np.shape(habitat_t1)
        if s1 != np.shape(habitat_t2) or len(s1) != 2:
            raise InvalidParameterError(
                f"habitat_t1 {s1} and habitat_t2 {np.shape(habitat_t2)} must be one 2-D grid")
        grid_shape = tuple(int(v) for v in s1)
    read2 = _reader(habitat_t2)
    read1 = read2 if single else _reader(habitat_t1)
    if not single and not year_t2 > year_t1:
        raise InvalidParameterError(f"year_t2 ({year_t2}) must be later than year_t1 ({year_t1})")
    cell_area = float(cell_size_m) ** 2
    masks = [u[3] if isinstance(u[3], BoxMask) else BoxMask.from_mask(u[3]) for u in units]
    for (kind, uid, _, _), m in zip(units, masks):
        if tuple(m.shape) != grid_shape:
            raise InvalidParameterError(f"unit {kind} {uid}: mask shape {m.shape} is not the grid shape {grid_shape}")
    # lazy layers are read one strip of a unit's box at a time (float64, NaN = 0 when summed)
    pf, q = protected_fraction, quality
    e1, e2 = str(year_t1), str(year_t2)
    period = e2 if single else f"{year_t1}-{year_t2}"
    dates = ((e2, read2),) if single else ((e1, read1), (e2, read2))
    graph_kernel = dict(cell_area=cell_area, cell_size_m=cell_size_m, min_area_ha=graph_min_patch_ha,
                        ref_distance_m=dispersal_distance_m, ref_probability=dispersal_probability)
    # MESH_CBC needs each cell's complete patch: one whole-grid labelling per date
    grid = (slice(0, grid_shape[0]), slice(0, grid_shape[1]))
    cbc = {}
    for e, read in dates:
        patches = UnitPatches(read, grid, neighbours=neighbours, strip_cells=strip_cells)
        cbc[e] = _cross_boundary(read, patches, masks, cell_area=cell_area)
        del patches

    values: list[dict[tuple[str, str], float]] = [{} for _ in units]
    for pos, unit in enumerate(masks):
        if unit.box is None:
            continue
        out = values[pos]
        # cells of the unit, habitat at t1, at t2, lost, gained (habitat_change's five sums)
        counts = np.zeros(5, np.int64)
        for rows, cols in strips(unit.box, strip_cells):
            m = unit.window(rows, cols)
            a = read1(rows, cols) & m
            b = a if single else read2(rows, cols) & m
            counts += (np.count_nonzero(m), np.count_nonzero(a), np.count_nonzero(b),
                       np.count_nonzero(a & ~b), np.count_nonzero(~a & b))
        n_habitat = {e1: int(counts[1]), e2: int(counts[2])}
        unit_m2, a1, a2, loss, gain = cell_sums(counts, cell_area)
        unit_ha = unit_m2 / _M2_PER_HA
        a1, a2, loss, gain = a1 / _M2_PER_HA, a2 / _M2_PER_HA, loss / _M2_PER_HA, gain / _M2_PER_HA
        out[("unit_area_ha", period)] = unit_ha
        out[("habitat_area_ha", e2)] = a2
        if not single:
            out[("habitat_area_ha", e1)] = a1
            out[("habitat_loss_ha", period)] = loss
            out[("habitat_gain_ha", period)] = gain
            out[("habitat_net_ha", period)] = gain - loss
            out[("habitat_loss_pct", period)] = 100.0 * loss / a1 if a1 > 0 else math.nan
            out[("annual_rate_per_yr", period)] = annual_rate(a1, a2, year_t1=year_t1, year_t2=year_t2)
        for epoch, read in dates:
            frag, (cut, nodes, eca) = _fragmentation(
                read, unit, neighbours=neighbours, edge_depth=edge_cells, strip_cells=strip_cells,
                n_cells=int(counts[0]), n_habitat=n_habitat[epoch], **graph_kernel)
            out[("MESH_CUT", epoch)] = cut / unit_m2 / _M2_PER_HA
            out[("MESH_CBC", epoch)] = cbc[epoch][pos] / unit_m2 / _M2_PER_HA
            area_ha = out[("habitat_area_ha", epoch)]
            out[("habitat_share_pct", epoch)] = 100.0 * area_ha / unit_ha
            if pf is not None:
                inside = _window_sums(pf, read, unit, n_habitat[epoch], strip_cells) * cell_area / _M2_PER_HA
                out[("habitat_protected_pct", epoch)] = 100.0 * inside / area_ha if area_ha > 0 else math.nan
            # PC = ECA^2 / A_L^2 (METHODS.md 11)
            graph = {"graph_patches": float(nodes), "PC": (eca / unit_ha) ** 2, "EC_ha": eca}
            for name, value in {**frag, **graph}.items():
                out[(name, epoch)] = value
        if q is not None:
            out[("quality_weighted_area_ha", e2)] = (_window_sums(q, read2, unit, n_habitat[e2], strip_cells)
                                                     * cell_area / _M2_PER_HA)
        for name in _DELTA if not single else ():
            if (name, e1) in out:
                out[(name, period)] = out[(name, e2)] - out[(name, e1)]
        if not single and np.isfinite([out.get(("EC_ha", e), math.nan) for e in (e1, e2)]).all():
            out[("dECA_pct", period)] = delta_eca_pct(out[("EC_ha", e1)], out[("EC_ha", e2)])

    order = {name: i for i, name in enumerate(DEFINITIONS)}
    epoch_order = {e1: 0, e2: 1, period: 2}
    rows = []
    for (kind, uid, name, _), out in zip(units, values):
        for (indicator, epoch), value in sorted(out.items(), key=lambda kv: (order[kv[0][0]], epoch_order[kv[0][1]])):
            rows.append((kind, uid, name, indicator, epoch, float(value), DEFINITIONS[indicator][0]))
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per unit, one column per ``indicator_epoch`` (in the long table's order).

    Examples
    --------
    >>> long = pd.DataFrame({"unit_type": ["u"], "unit_id": ["A"], "unit_name": ["a"],
    ...     "indicator": ["NP"], "epoch": ["2000"], "value": [3.0], "unit_of_measure": ["count"]})
    >>> wide_table(long).columns.tolist()
    ['unit_type', 'unit_id', 'unit_name', 'NP_2000']
    """
    keys = ["unit_type", "unit_id", "unit_name"]
    column = long["indicator"] + "_" + long["epoch"].astype(str)
    columns = list(dict.fromkeys(column))
    units = list(dict.fromkeys(map(tuple, long[keys].to_numpy().tolist())))
    table = long.assign(column=column).pivot_table(index=keys, columns="column", values="value",
                                                   aggfunc="first", dropna=False)
    table = table.reindex(index=pd.MultiIndex.from_tuples(units, names=keys), columns=columns)
    return table.reset_index().rename_axis(columns=None)
