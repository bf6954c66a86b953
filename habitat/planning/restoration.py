"""Restoration priorities: which restorable floodplain units add most connected habitat.

For each restoration unit (a reach tile or hexagon, given as a label raster) the restorable
cells it holds (floodplain cells that are not habitat now: lost since the baseline, cropland,
bare) are turned into habitat and the equivalent connected area ECA (METHODS.md 11) is
recomputed; the gain per hectare restored ranks the units.

Selection under an area budget (:func:`select_restoration`). ECA never falls when habitat is
added (areas only grow, edge-to-edge distances only shrink), but it is **not submodular**: two
units that together close a gap can gain more than the sum of their gains alone (each alone
leaves the gap open), so the greedy algorithm has no (1 - 1/e) guarantee here. What is done:

- when there are few candidate units (``<= exact_max_units``, default 12), every subset that fits
  the budget is evaluated and the best is returned (exact);
- otherwise greedy with re-evaluation: after each pick, the gain of every remaining unit is
  recomputed on the landscape that includes the units already picked, so a unit that completes
  a bridge begun by an earlier pick is seen at its true value; the unit with the largest gain
  per hectare that still fits is taken, until none fits or none gains. A bridge that needs two
  units neither of which gains alone can still be missed; the exact mode is there for that.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.indicators.patch_graph import habitat_eca
from habitat.indicators.protconn import delta_eca_pct

_M2_PER_HA = 10_000.0

#: Columns of :func:`restoration_priorities`.
PRIORITY_COLUMNS = ("rank", "unit", "area_ha", "eca_ha", "eca_gain_ha", "gain_per_ha", "dECA_pct",
                    "patches_joined", "populations_joined")
#: Columns of :func:`select_restoration`.
SELECTION_COLUMNS = ("order", "unit", "area_ha", "cumulative_area_ha", "eca_ha", "method")


def _masks(habitat, restorable, units):
    h = np.asarray(habitat).astype(bool)
    r = np.asarray(restorable).astype(bool)
    u = np.asarray(units)
    if h.ndim != 2 or r.shape != h.shape or u.shape != h.shape:
        raise InvalidParameterError(
            f"habitat, restorable and units must be 2-D rasters of one shape, got {h.shape}, {r.shape}, {u.shape}"
        )
    if not np.issubdtype(u.dtype, np.integer):
        raise InvalidParameterError(f"units must be an integer label raster (0 = no unit), got {u.dtype}")
    return h, r & ~h & (u > 0), u


def _joined(labels0: np.ndarray, labels1: np.ndarray, cells: np.ndarray) -> list[tuple[int, ...]]:
    """Baseline patches that the restored ``cells`` merge into one patch."""
    n0 = int(labels0.max())
    if n0 == 0:
        return []
    first = np.zeros(n0 + 1, np.int64)
    flat0 = labels0.ravel()
    idx = np.nonzero(flat0)[0]
    first[flat0[idx]] = idx  # any one cell per patch will do: patches only grow
    new_of_old = labels1.ravel()[first[1:]]
    touched = set(np.unique(labels1[cells])) - {0}
    groups = []
    for new in sorted(touched):
        olds = tuple(int(i) + 1 for i in np.nonzero(new_of_old == new)[0])
        if len(olds) >= 2:
            groups.append(olds)
    return groups


def _populations_joined(populations, labels0, labels1) -> list[tuple[int, int]]:
    pop = np.asarray(populations)
    ids = [int(v) for v in np.unique(pop) if v != 0]
    before = {p: set(np.unique(labels0[pop == p])) - {0} for p in ids}
    after = {p: set(np.unique(labels1[pop == p])) - {0} for p in ids}
    return [(p, q) for p, q in itertools.combinations(ids, 2)
            if after[p] & after[q] and not before[p] & before[q]]


# Public API


def restoration_priorities(
    habitat,
    restorable,
    units,
    *,
    cell_size_m: float,
    ref_distance_m: float,
    ref_probability: float = 0.5,
    neighbours: int = 8,
    min_patch_area_ha: float = 0.0,
    populations=None,
) -> pd.DataFrame:
    """Rank restoration units by the gain in equivalent connected area per hectare restored.

    Parameters
    ----------
    habitat : array_like of bool, shape (rows, cols)
        Habitat now.
    restorable : array_like of bool, shape (rows, cols)
        Cells that could become habitat (floodplain, not habitat now); habitat cells are
        ignored.
    units : array_like of int, shape (rows, cols)
        Restoration unit id per cell (reach tile or hexagon), 0 = no unit.
    cell_size_m : float
        Cell side in m.
    ref_distance_m, ref_probability : float
        Dispersal kernel, ``p = ref_probability`` (default 0.5) at the median dispersal
        distance ``ref_distance_m``.
    neighbours : {8, 4}, optional
        Patch rule.
    min_patch_area_ha : float, optional
        Patches smaller than this are not graph nodes.
    populations : array_like of int, optional
        Population id per cell (0 = none), to report which populations a unit joins.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PRIORITY_COLUMNS`, one row per unit with restorable cells, sorted by
        ``gain_per_ha`` (then larger gain, then unit id). ``area_ha``: restorable area of the
        unit; ``eca_ha``: ECA with the unit restored; ``eca_gain_ha = eca_ha - ECA now``;
        ``gain_per_ha = eca_gain_ha / area_ha``; ``dECA_pct`` the change in % of ECA now;
        ``patches_joined``: groups of current patches (ids of :func:`habitat_patches`, ``+``
        within a group, ``;`` between groups) that the unit merges into one patch;
        ``populations_joined``: pairs of populations that end up in one patch.

    Notes
    -----
    One ECA evaluation (patch labelling, edge-to-edge distances, all-pairs shortest paths)
    per unit.
    """
    h, r, u = _masks(habitat, restorable, units)
    kw = {"cell_size_m": cell_size_m, "ref_distance_m": ref_distance_m, "ref_probability": ref_probability,
          "neighbours": neighbours, "min_area_ha": min_patch_area_ha}
    eca0, labels0 = habitat_eca(h, **kw)
    cell_ha = cell_size_m ** 2 / _M2_PER_HA
    rows = []
    for unit in np.unique(u[r]):
        cells = r & (u == unit)
        eca, labels1 = habitat_eca(h | cells, **kw)
        area = float(cells.sum()) * cell_ha
        joined = _joined(labels0, labels1, cells)
        pops = _populations_joined(populations, labels0, labels1) if populations is not None else []
        rows.append({
            "unit": int(unit), "area_ha": area, "eca_ha": eca, "eca_gain_ha": eca - eca0,
            "gain_per_ha": (eca - eca0) / area, "dECA_pct": delta_eca_pct(eca0, eca),
            "patches_joined": ";".join("+".join(map(str, g)) for g in joined),
            "populations_joined": ";".join(f"{p}+{q}" for p, q in pops),
        })
    table = pd.DataFrame(rows, columns=list(PRIORITY_COLUMNS[1:]))
    table = table.sort_values(["gain_per_ha", "eca_gain_ha", "unit"], ascending=[False, False, True],
                              kind="mergesort").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def select_restoration(
    habitat,
    restorable,
    units,
    *,
    budget_ha: float,
    cell_size_m: float,
    ref_distance_m: float,
    ref_probability: float = 0.5,
    neighbours: int = 8,
    min_patch_area_ha: float = 0.0,
    exact_max_units: int = 12,
) -> pd.DataFrame:
    """Choose restoration units under an area budget to maximise ECA.

    Parameters
    ----------
    habitat, restorable, units, cell_size_m, ref_distance_m, ref_probability, neighbours, min_patch_area_ha
        As :func:`restoration_priorities`.
    budget_ha : float
        Restorable area that may be restored in all (ha, >= 0).
    exact_max_units : int, optional
        Up to this many candidate units (units that fit the budget alone), every subset is
        evaluated (``2^n`` ECA evaluations); above it, greedy with re-evaluation (module
        docstring).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SELECTION_COLUMNS`: the chosen units in the order picked (exact: by unit
        id), the running area and the ECA with the units so far restored; ``method`` is
        ``"exact"`` or ``"greedy"``.

    Notes
    -----
    Exact ties (equal ECA) go to the smaller area, then to the lexicographically smaller set
    of unit ids; greedy ties to the smaller unit id.
    """
    if not (math.isfinite(budget_ha) and budget_ha >= 0):
        raise InvalidParameterError(f"budget_ha must be a finite area >= 0 ha, got {budget_ha!r}")
    if isinstance(exact_max_units, bool) or int(exact_max_units) != exact_max_units or exact_max_units < 0:
        raise InvalidParameterError(f"exact_max_units must be a whole number >= 0, got {exact_max_units!r}")
    h, r, u = _masks(habitat, restorable, units)
    kw = {"cell_size_m": cell_size_m, "ref_distance_m": ref_distance_m, "ref_probability": ref_probability,
          "neighbours": neighbours, "min_area_ha": min_patch_area_ha}
    cell_ha = cell_size_m ** 2 / _M2_PER_HA
    ids = np.unique(u[r])
    area = {int(i): float((r & (u == i)).sum()) * cell_ha for i in ids}
    cand = [i for i in map(int, ids) if area[i] <= budget_ha + 1e-9]

    def eca_of(chosen) -> float:
        return habitat_eca(h | (r & np.isin(u, list(chosen))), **kw)[0]

    if len(cand) <= exact_max_units:
        best, best_key = (), None
        for k in range(len(cand) + 1):
            for subset in itertools.combinations(cand, k):
                total = sum(area[i] for i in subset)
                if total > budget_ha + 1e-9:
                    continue
                key = (-eca_of(subset), total, subset)
                if best_key is None or key < best_key:
                    best, best_key = subset, key
        picked, method = list(best), "exact"
    else:
        picked, method, left = [], "greedy", budget_ha
        current = eca_of(())
        while True:
            best_unit, best_rate, best_eca = None, 0.0, current
            for i in cand:
                if i in picked or area[i] > left + 1e-9:
                    continue
                eca = eca_of(picked + [i])
                rate = (eca - current) / area[i]
                if rate > best_rate + 1e-12:
                    best_unit, best_rate, best_eca = i, rate, eca
            if best_unit is None:
                break
            picked.append(best_unit)
            left -= area[best_unit]
            current = best_eca
    rows, cum = [], 0.0
    for order, i in enumerate(picked, start=1):
        cum += area[i]
        rows.append({"order": order, "unit": i, "area_ha": area[i], "cumulative_area_ha": cum,
                     "eca_ha": eca_of(picked[:order]), "method": method})
    return pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))


def unit_labels(x, y, *, size_m: float, shape: str = "hexagon") -> np.ndarray:
    """Restoration unit of each cell centre: hexagons or square tiles of a given size.

    Parameters
    ----------
    x, y : array_like, shape (cols,) and (rows,)
        Cell-centre coordinates of the grid columns and rows (projected, m).
    size_m : float
        Hexagon width between opposite sides, or tile side (m, > 0).
    shape : {"hexagon", "square"}
        Pointy-top hexagons (axial coordinates, cube rounding) or square tiles aligned with the
        CRS origin.

    Returns
    -------
    ndarray of int32, shape (rows, cols)
        Unit ids 1..n, numbered in the order of their (column, row) index pair; every cell has
        a unit.

    Examples
    --------
    >>> unit_labels([50, 150, 250], [50], size_m=200, shape="square").tolist()
    [[1, 1, 2]]
    """
    if not (math.isfinite(size_m) and size_m > 0):
        raise InvalidParameterError(f"size_m must be a positive length in m, got {size_m!r}")
    xx, yy = np.meshgrid(np.asarray(x, np.float64), np.asarray(y, np.float64))
    if shape == "square":
        a, b = np.floor(xx / size_m), np.floor(yy / size_m)
    elif shape == "hexagon":
        radius = size_m / math.sqrt(3.0)  # circumradius of a hexagon of this width
        q = (math.sqrt(3.0) / 3.0 * xx - yy / 3.0) / radius
        r = (2.0 / 3.0 * yy) / radius
        s = -q - r
        rq, rr, rs = np.round(q), np.round(r), np.round(s)
        dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        rq = np.where(fix_q, -rr - rs, rq)
        rr = np.where(fix_r, -rq - rs, rr)
        a, b = rq, rr
    else:
        raise InvalidParameterError(f"shape must be 'hexagon' or 'square', got {shape!r}")
    pairs = np.stack([a.ravel(), b.ravel()], axis=1)
    _, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return (inverse.reshape(xx.shape) + 1).astype(np.int32)
