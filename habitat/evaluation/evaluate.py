"""One call from a finished map and known places to the evaluation table and its summary.

METHODS.md section 10: each place's value and percentile among the reference cells, and the
continuous Boyce index of the presence places (reference kinds such as a mountain-gorge reserve
are ranked but left out of the index).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from affine import Affine

from habitat.errors import GridMismatchError, InvalidParameterError
from habitat.evaluation.boyce import continuous_boyce
from habitat.evaluation.places import REFERENCE_KINDS, place_table, place_values

__all__ = ["TOP_QUARTILE_PERCENTILE", "Evaluation", "evaluate_places"]

#: A place at or above this percentile of the reference cells is "in the top quartile".
TOP_QUARTILE_PERCENTILE = 75.0


@dataclass(frozen=True)
class Evaluation:
    """Outcome of :func:`evaluate_places`.

    Attributes
    ----------
    places : DataFrame
        The input columns plus, per layer, ``<layer>`` and ``<layer>_percentile``, then
        ``presence`` (counted in the Boyce index), ``top_quartile`` and ``bottom_half`` (by the
        first layer's percentile).
    summary : DataFrame
        One row: ``boyce_index``, ``n_places``, ``n_presence``, ``n_presence_top_quartile``,
        ``n_presence_bottom_half``, ``n_reference_cells``, ``reference``.
    """

    places: pd.DataFrame
    summary: pd.DataFrame


def evaluate_places(
    places: pd.DataFrame,
    geometries: Sequence[shapely.Geometry],
    transform: Affine | Sequence[float],
    layers: Mapping[str, np.ndarray],
    reference: np.ndarray,
    *,
    kind_column: str = "kind",
    reference_kinds: Sequence[str] = REFERENCE_KINDS,
    reference_name: str = "reference cells",
    polygon_stat: str = "mean",
) -> Evaluation:
    """Rank known places on the map and compute the continuous Boyce index of the presences.

    Parameters
    ----------
    places : DataFrame
        One row per place, in the order of ``geometries`` (e.g. place_id, name, kind, source).
    geometries : sequence of shapely geometries
        Points or polygons in the grid's CRS.
    transform : Affine or 6 floats
        The grid's transform.
    layers : mapping of name -> 2-D ndarray
        The maps to evaluate, the first one deciding the flags (e.g. ``{"suitability": ...,
        "quality": ...}``); NaN is nodata.
    reference : 2-D bool ndarray
        The reference cells: percentiles are taken among them and they are the Boyce
        background (e.g. floodplain cells with suitability > 0, issue 13).
    kind_column : str
        Column of ``places`` naming the kind of place; rows whose kind is in
        ``reference_kinds`` are ranked but are not presences. Without the column every place is
        a presence.
    reference_name : str
        How the summary names the reference cells.
    polygon_stat : {"mean", "max"}
        How a polygon summarises its cells (:func:`place_values`).

    Returns
    -------
    Evaluation

    Notes
    -----
    ``boyce_index`` is :func:`continuous_boyce` of the first layer with the reference cells as
    background and the presence places' values as observations; NaN with fewer than two
    presences with a value, or when the map is constant on the reference cells.
    """
    if not layers:
        raise InvalidParameterError("evaluation: give at least one layer")
    if len(geometries) != len(places):
        raise InvalidParameterError(f"evaluation: {len(geometries)} geometries for {len(places)} places")
    ref = np.asarray(reference, dtype=bool)
    first = next(iter(layers))
    grids = {name: np.asarray(values, dtype=np.float64) for name, values in layers.items()}
    for name, grid in grids.items():
        if grid.shape != ref.shape:
            raise GridMismatchError(f"evaluation: layer {name} has shape {grid.shape}, the reference {ref.shape}")
    values = {name: place_values(grid, transform, geometries, polygon_stat=polygon_stat)  # type: ignore[arg-type]
              for name, grid in grids.items()}
    table = place_table(places, values, {name: grid[ref] for name, grid in grids.items()})
    if kind_column in table.columns:
        presence = ~table[kind_column].astype(str).isin(list(reference_kinds))
    else:
        presence = pd.Series(True, index=table.index)
    table["presence"] = presence.to_numpy()
    pct = table[f"{first}_percentile"]
    table["top_quartile"] = (pct >= TOP_QUARTILE_PERCENTILE).to_numpy()
    # bottom_half stays last, as place_table writes it
    table = table[[c for c in table.columns if c != "bottom_half"] + ["bottom_half"]]

    background = grids[first][ref]
    observed = values[first][presence.to_numpy()]
    observed = observed[np.isfinite(observed)]
    index = np.nan
    if observed.size >= 2 and np.isfinite(background).any():
        try:
            index = continuous_boyce(background, observed).index
        except InvalidParameterError:  # a constant map: the index is undefined
            index = np.nan
    summary = pd.DataFrame([{
        "boyce_index": index,
        "layer": first,
        "n_places": len(table),
        "n_presence": int(presence.sum()),
        "n_presence_top_quartile": int((table["top_quartile"] & table["presence"]).sum()),
        "n_presence_bottom_half": int((table["bottom_half"] & table["presence"]).sum()),
        "n_reference_cells": int(np.isfinite(background).sum()),
        "reference": reference_name,
    }])
    return Evaluation(places=table, summary=summary)
