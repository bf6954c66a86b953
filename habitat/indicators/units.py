"""Two-epoch habitat indicators per reporting unit, in long form, with their definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from habitat.errors import InvalidParameterError
from habitat.indicators.change import annual_rate, effective_mesh_size, habitat_change
from habitat.indicators.fragmentation_blockwise import class_metrics_blockwise
from habitat.indicators.patch_graph import habitat_eca
from habitat.indicators.protconn import delta_eca_pct

LONG_COLUMNS = ("unit_type", "unit_id", "unit_name", "indicator", "epoch", "value", "unit_of_measure")
_M2_PER_HA = 10_000.0
#: Block of the block-wise fragmentation metrics (any block gives the same table): 4 M cells
#: keep its per-block temporaries (~60 bytes a cell) near 250 MiB.
FRAGMENTATION_BLOCK_SHAPE = (2048, 2048)

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


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    boxes = ndimage.find_objects(mask.astype(np.int8))
    return boxes[0] if boxes else None


@dataclass(frozen=True)
class BoxMask:
    """A unit's cells kept as the mask of its bounding box: ``mask`` covers ``box`` of a grid
    of ``shape`` (``box`` None: no cell). A small unit on a big grid costs its box, not the grid.
    """

    shape: tuple[int, int]
    box: tuple[slice, slice] | None
    mask: np.ndarray

    @classmethod
    def from_mask(cls, mask) -> BoxMask:
        """From a grid-sized bool mask, cropped to its tight bounding box."""
        full = np.asarray(mask, dtype=bool)
        box = _bbox(full) if full.ndim == 2 else None
        return cls(full.shape, box, full[box].copy() if box is not None else np.zeros((0, 0), bool))

    def any(self) -> bool:
        return self.box is not None

    def count_in(self, other: np.ndarray | BoxMask) -> int:
        """Cells of this unit that are also in ``other`` (a grid-sized mask or a BoxMask)."""
        if self.box is None:
            return 0
        if not isinstance(other, BoxMask):
            return int(np.count_nonzero(self.mask & other[self.box]))
        if other.box is None:
            return 0
        (a, b), (c, d) = self.box, other.box
        r0, r1, c0, c1 = max(a.start, c.start), min(a.stop, c.stop), max(b.start, d.start), min(b.stop, d.stop)
        if r0 >= r1 or c0 >= c1:
            return 0
        mine = self.mask[r0 - a.start:r1 - a.start, c0 - b.start:c1 - b.start]
        theirs = other.mask[r0 - c.start:r1 - c.start, c0 - d.start:c1 - d.start]
        return int(np.count_nonzero(mine & theirs))


def _pack(masks: Sequence[BoxMask]) -> list[tuple[np.ndarray, list[int]]]:
    """Greedily pack unit masks into zone rasters of non-overlapping units (id = position + 1)."""
    layers: list[tuple[np.ndarray, list[int]]] = []
    # the smallest integer type that holds the ids: 1 byte a cell per zone raster, not 4
    dtype = np.uint8 if len(masks) < 255 else np.uint16 if len(masks) < 65535 else np.int32
    for pos, unit in enumerate(masks):
        for zone, members in layers:
            if unit.box is None or not np.any(zone[unit.box][unit.mask]):
                if unit.box is not None:
                    zone[unit.box][unit.mask] = pos + 1
                members.append(pos)
                break
        else:
            zone = np.zeros(unit.shape, dtype)
            if unit.box is not None:
                zone[unit.box][unit.mask] = pos + 1
            layers.append((zone, [pos]))
    return layers


def _fragmentation(habitat: np.ndarray, mask: np.ndarray, *, cell_size_m: float, neighbours: int,
                   edge_depth: int) -> dict[str, float]:
    # 1 = habitat, 2 = other cells of the unit, 0 = outside (built in uint8: no int64 temporaries)
    classes = np.zeros(mask.shape, np.uint8)
    classes[mask] = 2
    classes[mask & habitat] = 1
    # block by block (per-block partial results merged; the same table as class_metrics)
    table = class_metrics_blockwise(classes, cell_size=cell_size_m, nodata=0, neighbours=neighbours, edge_depth=edge_depth,
                                    block_shape=FRAGMENTATION_BLOCK_SHAPE)
    if 1 not in table.index:
        return {"NP": 0.0, "LPI": 0.0, "ED": 0.0, "AREA_MN": math.nan, "TCA": 0.0}
    row = table.loc[1]
    return {name: float(row[name]) for name in ("NP", "LPI", "ED", "AREA_MN", "TCA")}


def _graph(habitat: np.ndarray, mask: np.ndarray, unit_area_ha: float, *, cell_size_m: float,
           neighbours: int, min_area_ha: float, ref_distance_m: float, ref_probability: float) -> dict[str, float]:
    eca, labels = habitat_eca(habitat & mask, cell_size_m=cell_size_m, ref_distance_m=ref_distance_m,
                              ref_probability=ref_probability, neighbours=neighbours, min_area_ha=min_area_ha)
    # PC = ECA^2 / A_L^2 (METHODS.md 11)
    return {"graph_patches": float(labels.max()), "PC": (eca / unit_area_ha) ** 2, "EC_ha": eca}


# Public API


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
) -> pd.DataFrame:
    """Habitat area, change, protection, quality, fragmentation and connectivity per unit.

    Parameters
    ----------
    habitat_t1, habitat_t2 : array_like of bool, shape (rows, cols)
        Habitat masks at the two dates on one projected equal-area grid of square cells.
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
        Habitat quality in [0, 1] at t2 (NaN = 0); read like ``protected_fraction``.
    neighbours : {8, 4}
        Patch rule for fragmentation, MESH and the patch graph.
    edge_depth_m : float, optional
        Edge depth for TCA in metres (> 0), taken as ``max(1, ceil(edge_depth_m / cell_size_m))``
        cells, as the patches stage's core area counts them (never less than asked); default one cell.
    dispersal_distance_m, dispersal_probability : float
        Dispersal kernel: probability ``dispersal_probability`` at ``dispersal_distance_m``.
    graph_min_patch_ha : float
        Smaller patches are not nodes of the PC/EC graph.

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
    """
    # ceil, so the depth is never less than asked (1e-9: a depth of exactly k cells stays k)
    edge_cells = 1 if edge_depth_m is None else max(1, math.ceil(edge_depth_m / cell_size_m - 1e-9))
    single = habitat_t1 is None
    h2 = np.asarray(habitat_t2, dtype=bool)
    h1 = h2 if single else np.asarray(habitat_t1, dtype=bool)
    if h1.shape != h2.shape or h1.ndim != 2:
        raise InvalidParameterError(f"habitat_t1 {h1.shape} and habitat_t2 {h2.shape} must be one 2-D grid")
    if not single and not year_t2 > year_t1:
        raise InvalidParameterError(f"year_t2 ({year_t2}) must be later than year_t1 ({year_t1})")
    cell_area = float(cell_size_m) ** 2
    masks = [u[3] if isinstance(u[3], BoxMask) else BoxMask.from_mask(u[3]) for u in units]
    for (kind, uid, _, _), m in zip(units, masks):
        if tuple(m.shape) != h1.shape:
            raise InvalidParameterError(f"unit {kind} {uid}: mask shape {m.shape} is not the grid shape {h1.shape}")
    # read per unit box (a lazy layer one window at a time) and converted (float64, NaN = 0)
    # when summed: no grid-sized copies are held
    pf, q = protected_fraction, quality
    e1, e2 = str(year_t1), str(year_t2)
    period = e2 if single else f"{year_t1}-{year_t2}"
    dates = ((e2, h2),) if single else ((e1, h1), (e2, h2))

    values: list[dict[tuple[str, str], float]] = [{} for _ in units]
    for zone, members in _pack(masks):
        change = habitat_change(h1, h2, cell_area_m2=cell_area, units=zone)
        mesh = {e: effective_mesh_size(h, cell_area_m2=cell_area, units=zone, neighbours=neighbours) for e, h in dates}
        for pos in members:
            out, uid = values[pos], pos + 1
            if uid not in change.index:
                continue
            c = change.loc[uid]
            out[("unit_area_ha", period)] = c["unit_area_ha"]
            out[("habitat_area_ha", e2)] = c["area_t2_ha"]
            if not single:
                out[("habitat_area_ha", e1)] = c["area_t1_ha"]
                for name, col in (("habitat_loss_ha", "loss_ha"), ("habitat_gain_ha", "gain_ha"),
                                  ("habitat_net_ha", "net_ha"), ("habitat_loss_pct", "loss_pct")):
                    out[(name, period)] = c[col]
                out[("annual_rate_per_yr", period)] = annual_rate(c["area_t1_ha"], c["area_t2_ha"],
                                                                  year_t1=year_t1, year_t2=year_t2)
            for epoch, m in mesh.items():
                out[("MESH_CUT", epoch)] = m.loc[uid, "MESH_CUT"]
                out[("MESH_CBC", epoch)] = m.loc[uid, "MESH_CBC"]

    for pos, unit in enumerate(masks):
        out = values[pos]
        box = unit.box
        if box is None:
            continue
        m = unit.mask
        unit_ha = out[("unit_area_ha", period)]
        pf_box = None if pf is None else _box_values(pf, box)
        for epoch, h in ((e, h[box]) for e, h in dates):
            area_ha = out[("habitat_area_ha", epoch)]
            out[("habitat_share_pct", epoch)] = 100.0 * area_ha / unit_ha
            if pf is not None:
                inside = float(_as_float64(pf_box[m & h]).sum()) * cell_area / _M2_PER_HA
                out[("habitat_protected_pct", epoch)] = 100.0 * inside / area_ha if area_ha > 0 else math.nan
            frag = _fragmentation(h, m, cell_size_m=cell_size_m, neighbours=neighbours, edge_depth=edge_cells)
            graph = _graph(h, m, unit_ha, cell_size_m=cell_size_m, neighbours=neighbours,
                           min_area_ha=graph_min_patch_ha, ref_distance_m=dispersal_distance_m,
                           ref_probability=dispersal_probability)
            for name, value in {**frag, **graph}.items():
                out[(name, epoch)] = value
        if q is not None:
            q_box = _box_values(q, box)
            out[("quality_weighted_area_ha", e2)] = float(_as_float64(q_box[m & h2[box]]).sum()) * cell_area / _M2_PER_HA
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
