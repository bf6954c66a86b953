"""Wall-to-wall Omniscape for the pipeline: sources from suitability, flow classes, unit summaries.

Pure functions around :func:`habitat.connectivity.omniscape.omniscape`; the ``omniscape`` stage
reads the rasters, calls these and writes the results.

Flow classes follow the reading of normalized current (cumulative current / flow potential)
in the Omniscape.jl documentation (examples, "Forest connectivity in central Maryland": values
greater than 1 are channelized / bottlenecked flow, values around 1 diffuse current, values
less than 1 impeded flow) and the categories of McRae et al. (2016, Conserving Nature's Stage,
Pacific Northwest). How wide "around 1" is, is a choice: the two cut-offs are parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from habitat.errors import InvalidParameterError

from .window import targets

#: Codes of the flow-class raster (0 = nodata or not assessed: no flow potential there).
FLOW_CLASSES: dict[int, str] = {1: "impeded", 2: "diffuse", 3: "channelized"}
FLOW_CLASS_NODATA = 0


def suitability_sources(suitability, resistance, threshold):
    """Source strength per cell: the suitability where it is ``>= threshold``, else 0.

    Parameters
    ----------
    suitability : numpy.ndarray
        Habitat suitability, score 0-1 (NaN: no data).
    resistance : numpy.ndarray
        Resistance on the same grid; impassable (NaN) cells inject nothing.
    threshold : float
        Suitability at or above which a cell is a source (0-1).

    Returns
    -------
    numpy.ndarray of float64
        ``s = suitability if suitability >= threshold and resistance is finite, else 0``
        (relative amperes: a window's target injects its block's summed strength).
    """
    suit = np.asarray(suitability, dtype=np.float64)
    res = np.asarray(resistance, dtype=np.float64)
    if suit.shape != res.shape:
        raise InvalidParameterError(f"suitability is {suit.shape} cells but resistance {res.shape}; align them")
    if not 0.0 <= float(threshold) <= 1.0:
        raise InvalidParameterError(f"source_threshold = {threshold}; give a suitability between 0 and 1")
    keep = np.isfinite(suit) & (suit >= threshold) & np.isfinite(res)
    return np.where(keep, suit, 0.0)


def window_reach(sources, *, radius, block_size=1, buffer=0):
    """Cells inside at least one moving window: within ``radius + buffer`` cells (Euclidean,
    Omniscape's circular clip) of a target block centre.

    Flow potential is solved on the window's whole square (as Omniscape.jl does), so cells in
    the square's corners get flow potential but never current; outside this mask normalized
    current is 0 by construction, not because movement is impeded.

    Returns
    -------
    numpy.ndarray of bool
    """
    from scipy.ndimage import distance_transform_edt

    src = np.nan_to_num(np.asarray(sources, dtype=np.float64))
    block_size = int(block_size) + (1 - int(block_size) % 2)
    ty, tx, _ = targets(src, block_size)
    if ty.size == 0:
        return np.zeros(src.shape, dtype=bool)
    centre = np.zeros(src.shape, dtype=bool)
    centre[ty, tx] = True
    return distance_transform_edt(~centre) <= int(radius) + int(buffer)


def classify_flow(normalized, flow_potential, *, impeded_below, channelized_above, reach=None):
    """Flow classes of normalized current.

    ``1`` impeded (``n < impeded_below``), ``2`` diffuse (``impeded_below <= n <=
    channelized_above``), ``3`` channelized (``n > channelized_above``), ``0`` where ``n`` is
    NaN (nodata), the flow potential is not positive, or the cell is outside ``reach``
    (:func:`window_reach`): no window carries current there, so Omniscape's 0 says nothing
    about it.

    Returns
    -------
    numpy.ndarray of uint8
    """
    if not 0 < impeded_below <= 1 <= channelized_above:
        raise InvalidParameterError(
            f"impeded_below = {impeded_below}, channelized_above = {channelized_above}; "
            "give 0 < impeded_below <= 1 <= channelized_above")
    n = np.asarray(normalized, dtype=np.float64)
    fp = np.asarray(flow_potential, dtype=np.float64)
    out = np.full(n.shape, 2, dtype=np.uint8)
    out[n < impeded_below] = 1
    out[n > channelized_above] = 3
    out[~(np.isfinite(n) & np.isfinite(fp) & (fp > 0))] = FLOW_CLASS_NODATA
    if reach is not None:
        out[~np.asarray(reach, dtype=bool)] = FLOW_CLASS_NODATA
    return out


def flow_summary(classes, normalized, cell_area_ha, units=()):
    """Area and share of each flow class and mean normalized current per unit.

    Parameters
    ----------
    classes : numpy.ndarray of uint8
        :func:`classify_flow` codes.
    normalized : numpy.ndarray
        Normalized current (same grid).
    cell_area_ha : float or numpy.ndarray
        Area of a cell (ha), scalar or per cell.
    units : sequence of (unit_id, unit_name, mask)
        Reporting units (Range States); the study area is always the first row (``ALL``).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``unit_id, unit_name, area_ha`` (cells with a flow class),
        ``<class>_ha`` and ``<class>_share`` (of ``area_ha``) for impeded, diffuse and
        channelized, ``not_assessed_ha`` (unit cells with no class) and
        ``mean_normalized_current`` (area-weighted over classified cells; NaN when none).
    """
    classes = np.asarray(classes)
    norm = np.asarray(normalized, dtype=np.float64)
    area = np.broadcast_to(np.asarray(cell_area_ha, dtype=np.float64), classes.shape)
    rows = []
    for unit_id, unit_name, mask in [("ALL", "study area", np.ones(classes.shape, bool)), *units]:
        mask = np.asarray(mask, dtype=bool)
        assessed = mask & (classes != FLOW_CLASS_NODATA)
        total = float(area[assessed].sum())
        row = {"unit_id": str(unit_id), "unit_name": str(unit_name), "area_ha": total}
        for code, name in FLOW_CLASSES.items():
            ha = float(area[mask & (classes == code)].sum())
            row[f"{name}_ha"] = ha
            row[f"{name}_share"] = ha / total if total > 0 else np.nan
        row["not_assessed_ha"] = float(area[mask & ~assessed].sum())
        row["mean_normalized_current"] = (float((norm[assessed] * area[assessed]).sum() / total)
                                          if total > 0 else np.nan)
        rows.append(row)
    columns = ["unit_id", "unit_name", "area_ha",
               *(f"{n}_{k}" for n in ("channelized", "diffuse", "impeded") for k in ("ha", "share")),
               "not_assessed_ha", "mean_normalized_current"]
    return pd.DataFrame(rows)[columns]
