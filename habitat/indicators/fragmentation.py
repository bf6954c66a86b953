"""Fragmentation metrics with FRAGSTATS names and conventions (class and landscape level)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError
from habitat.indicators._landscape import _analyse, _Landscape

METRIC_COLUMNS = (
    "NP",
    "PD",
    "LPI",
    "TE",
    "ED",
    "AREA_MN",
    "TCA",
    "MESH",
    "DIVISION",
    "SPLIT",
    "COHESION",
    "ENN_MN",
)
_M2_PER_HA = 10_000.0

#: pylandstats method name of each column that pylandstats computes the same way (FRAGSTATS
#: definitions); for side-by-side checks and benchmarks.
PYLANDSTATS_NAMES = {
    "number_of_patches": "NP",
    "patch_density": "PD",
    "largest_patch_index": "LPI",
    "total_edge": "TE",
    "edge_density": "ED",
    "area_mn": "AREA_MN",
    "total_core_area": "TCA",
    "effective_mesh_size": "MESH",
    "euclidean_nearest_neighbor_mn": "ENN_MN",
}



def _validate(classes, cell_size, nodata, neighbours, edge_depth) -> np.ndarray:
    arr = np.asarray(classes)
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidParameterError(
            f"classes must be a non-empty 2-D array, got shape {arr.shape}; pass one raster band"
        )
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(
            f"classes must hold integer class codes, got dtype {arr.dtype}; "
            "reclassify or cast it (e.g. classes.astype('int32')) and pass nodata"
        )
    if isinstance(cell_size, bool) or not isinstance(cell_size, (int, float, np.number)):
        raise InvalidParameterError(
            f"cell_size must be one number in metres (square cells), got {cell_size!r}"
        )
    if not (math.isfinite(float(cell_size)) and float(cell_size) > 0):
        raise InvalidParameterError(f"cell_size must be a positive finite number of metres, got {cell_size!r}")
    if neighbours not in (4, 8):
        raise InvalidParameterError(f"neighbours must be 4 or 8, got {neighbours!r}")
    if isinstance(edge_depth, bool) or not isinstance(edge_depth, (int, np.integer)) or edge_depth < 1:
        raise InvalidParameterError(
            f"edge_depth must be a whole number of cells >= 1, got {edge_depth!r}"
        )
    if nodata is not None and (
        isinstance(nodata, (bool, str)) or not isinstance(nodata, (int, float, np.number))
        or not float(nodata).is_integer()
    ):
        raise InvalidParameterError(f"nodata must be an integer class code or None, got {nodata!r}")
    return arr


def _landscape(classes, cell_size, nodata, neighbours, edge_depth) -> _Landscape:
    arr = _validate(classes, cell_size, nodata, neighbours, edge_depth)
    land = _analyse(
        arr,
        nodata=None if nodata is None else int(nodata),
        neighbours=int(neighbours),
        edge_depth=int(edge_depth),
    )
    if land.n_valid == 0:
        raise InvalidParameterError(
            f"classes holds only nodata ({nodata!r}); check the nodata value or the study-area crop"
        )
    return land


def _metrics(land: _Landscape, sel: np.ndarray, te_sides: float, cell_size: float) -> dict:
    """Metrics over the patches selected by ``sel`` given the edge length in cell sides."""
    cell_area = cell_size * cell_size
    area_total = land.n_valid * cell_area
    a = land.patch_cells[sel].astype(np.float64) * cell_area
    sum_a2 = float(np.sum(a * a))
    n = int(a.size)
    te = te_sides * cell_size
    p = land.patch_sides[sel]
    c = land.patch_cells[sel].astype(np.float64)
    z = land.n_valid
    denom = float(np.sum(p * np.sqrt(c)))
    if z > 1 and denom > 0:
        cohesion = (1.0 - float(np.sum(p)) / denom) / (1.0 - 1.0 / math.sqrt(z)) * 100.0
    else:
        cohesion = math.nan
    enn = land.patch_enn[sel]
    enn = enn[np.isfinite(enn)]
    return {
        "NP": n,
        "PD": n / area_total * _M2_PER_HA * 100.0,
        "LPI": float(a.max()) / area_total * 100.0 if n else math.nan,
        "TE": te,
        "ED": te / area_total * _M2_PER_HA,
        "AREA_MN": float(a.mean()) / _M2_PER_HA if n else math.nan,
        "TCA": float(np.sum(land.patch_core[sel])) * cell_area / _M2_PER_HA,
        "MESH": sum_a2 / area_total / _M2_PER_HA,
        "DIVISION": 1.0 - sum_a2 / (area_total * area_total),
        "SPLIT": area_total * area_total / sum_a2 if sum_a2 > 0 else math.nan,
        "COHESION": cohesion,
        "ENN_MN": float(enn.mean()) * cell_size if enn.size else math.nan,
    }


# Public API


def class_metrics(
    classes,
    *,
    cell_size: float,
    nodata: int | None = None,
    neighbours: int = 8,
    edge_depth: int = 1,
    count_boundary: bool = False,
) -> pd.DataFrame:
    """FRAGSTATS class-level metrics for every class present in a categorical raster.

    Parameters
    ----------
    classes : array_like of int, shape (rows, cols)
        Class code per cell (e.g. habitat classes on the analysis grid).
    cell_size : float
        Side of the square cells in metres (> 0).
    nodata : int, optional
        Code of cells outside the landscape; they count neither as area nor as a class.
    neighbours : {8, 4}, optional
        Patch connectivity rule: 8 (FRAGSTATS default) or 4.
    edge_depth : int, optional
        Edge depth for core area, in cells (>= 1).
    count_boundary : bool, optional
        Count the raster boundary and nodata sides as edge in TE/ED (default False, as
        FRAGSTATS without a landscape border and pylandstats).

    Returns
    -------
    pandas.DataFrame
        Indexed by class value (sorted, name ``"class"``), columns ``NP, PD, LPI, TE, ED,
        AREA_MN, TCA, MESH, DIVISION, SPLIT, COHESION, ENN_MN``.

    Raises
    ------
    InvalidParameterError
        Non-integer or non-2-D ``classes``, a bad ``cell_size``, ``neighbours`` or
        ``edge_depth``, or a raster that is all nodata.

    Notes
    -----
    With ``a`` a patch area (m²), ``A`` the landscape area (m², nodata excluded), ``n`` the
    number of patches, ``e`` edge length (m), ``p`` patch perimeter in cell sides, ``c`` patch
    area in cells and ``Z`` the number of non-nodata cells; sums run over the patches of the
    class (class level) or of all classes (landscape level):

    ======== ====================================================== ============ ===============
    column   formula                                                unit         range
    ======== ====================================================== ============ ===============
    NP       ``n``                                                  count        >= 1
    PD       ``n / A * 10^4 * 100``                                 per 100 ha   > 0
    LPI      ``max(a) / A * 100``                                   %            (0, 100]
    TE       ``sum(e)``                                             m            >= 0
    ED       ``TE / A * 10^4``                                      m/ha         >= 0
    AREA_MN  ``mean(a) / 10^4``                                     ha           > 0
    TCA      ``sum(core area) / 10^4``                              ha           >= 0
    MESH     ``sum(a^2) / A / 10^4``                                ha           (0, A]
    DIVISION ``1 - sum((a/A)^2)``                                   1            [0, 1)
    SPLIT    ``A^2 / sum(a^2)``                                     1            >= 1
    COHESION ``(1 - sum(p)/sum(p*sqrt(c))) / (1 - 1/sqrt(Z)) * 100`` %           [0, 100)
    ENN_MN   mean over patches of the edge-to-edge distance         m            > 0, NaN if
             between centres of the nearest cells of the nearest                 < 2 patches
             patch of the same class
    ======== ====================================================== ============ ===============

    - Patches: connected cells of one class, ``neighbours`` rule (8 = queen, 4 = rook).
    - Edges lie along cell sides. With ``count_boundary=False`` (FRAGSTATS and pylandstats
      default) TE counts only sides between two different classes; sides on the raster
      boundary or against nodata are not edge. A class TE counts its sides against every other
      class, so the class TEs sum to twice the landscape TE. With ``count_boundary=True`` the
      boundary and nodata sides count as edge (class TE = sum of patch perimeters).
    - Core area: cells that remain after ``edge_depth`` erosions of each patch with the
      4-neighbour cross; raster boundary and nodata count as edge (pylandstats
      ``count_boundary=False``).
    - ENN distances are between cell centres (a 1-cell gap in a row gives ``2 * cell_size``);
      patches without a same-class neighbour are left out of the mean.
    - Patch perimeters ``p`` for COHESION include boundary and nodata sides (FRAGSTATS).

    Cost: one labelling per class, a few passes over the raster in blocks of about 4 M
    cells, and one k-d tree per class over its edge cells for ENN. Memory about 10 bytes per
    cell plus 30 bytes per edge cell.

    Examples
    --------
    >>> import numpy as np
    >>> df = class_metrics(np.array([[1, 1, 2], [2, 2, 2]]), cell_size=100.0)
    >>> int(df.loc[1, "NP"]), float(df.loc[2, "TE"])
    (1, 300.0)
    """
    land = _landscape(classes, cell_size, nodata, neighbours, edge_depth)
    return _class_frame(land, float(cell_size), count_boundary)


def _class_frame(land: _Landscape, cell_size: float, count_boundary: bool) -> pd.DataFrame:
    """Class-level metrics of an analysed landscape (also built block by block)."""
    n_classes = land.class_values.size
    rows = []
    for k in range(n_classes):
        if count_boundary:
            te_sides = float(np.sum(land.patch_sides[land.patch_class == k]))
        else:
            te_sides = float(land.adjacency[k, :n_classes].sum() - land.adjacency[k, k])
        rows.append(_metrics(land, land.patch_class == k, te_sides, float(cell_size)))
    index = pd.Index(land.class_values, name="class")
    return pd.DataFrame(rows, index=index, columns=list(METRIC_COLUMNS))


def landscape_metrics(
    classes,
    *,
    cell_size: float,
    nodata: int | None = None,
    neighbours: int = 8,
    edge_depth: int = 1,
    count_boundary: bool = False,
) -> pd.Series:
    """FRAGSTATS landscape-level metrics of a categorical raster (all patches of all classes).

    Parameters
    ----------
    classes : array_like of int, shape (rows, cols)
        Class code per cell.
    cell_size : float
        Side of the square cells in metres (> 0).
    nodata : int, optional
        Code of cells outside the landscape.
    neighbours : {8, 4}, optional
        Patch connectivity rule.
    edge_depth : int, optional
        Edge depth for core area, in cells (>= 1).
    count_boundary : bool, optional
        Count the raster boundary and nodata sides as edge in TE/ED (default False).

    Returns
    -------
    pandas.Series
        Indexed by ``NP, PD, LPI, TE, ED, AREA_MN, TCA, MESH, DIVISION, SPLIT, COHESION,
        ENN_MN``.

    Raises
    ------
    InvalidParameterError
        As :func:`class_metrics`.

    Notes
    -----
    Landscape TE counts each side between two different classes once; with
    ``count_boundary=True`` it adds class sides on the raster boundary and against nodata.
    All other formulas, units and ranges are those of :func:`class_metrics` with the sums
    taken over every patch of every class.

    Examples
    --------
    >>> import numpy as np
    >>> s = landscape_metrics(np.array([[1, 1, 2], [2, 2, 2]]), cell_size=100.0)
    >>> int(s["NP"]), float(s["TE"])
    (2, 300.0)
    """
    land = _landscape(classes, cell_size, nodata, neighbours, edge_depth)
    return _landscape_series(land, float(cell_size), count_boundary)


def _landscape_series(land: _Landscape, cell_size: float, count_boundary: bool) -> pd.Series:
    """Landscape-level metrics of an analysed landscape (also built block by block)."""
    n_classes = land.class_values.size
    adj = land.adjacency
    te_sides = float(np.triu(adj[:n_classes, :n_classes], 1).sum())
    if count_boundary:
        te_sides += float(adj[:n_classes, n_classes].sum() + land.border_sides.sum())
    sel = np.ones(land.patch_class.size, bool)
    return pd.Series(_metrics(land, sel, te_sides, float(cell_size)), index=list(METRIC_COLUMNS), dtype=float)
