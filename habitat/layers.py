"""Georegistered layers: DataArrays on a GridSpec with dims ``("y", "x")``."""

from __future__ import annotations

import numpy as np
import xarray as xr

from habitat.errors import GridMismatchError
from habitat.grid import GridSpec


def make_layer(
    array: np.ndarray,
    grid: GridSpec,
    *,
    name: str,
    units: str | None = None,
    nodata: float | int | None = None,
) -> xr.DataArray:
    """Wrap a ``grid.shape`` array as a DataArray with cell-centre coordinates and the grid.

    Examples
    --------
    >>> g = GridSpec.from_bounds((0, 0, 200, 100), "EPSG:32642", 100)
    >>> make_layer(np.zeros((1, 2)), g, name="zero").x.values
    array([ 50., 150.])
    """
    if array.shape != grid.shape:
        raise GridMismatchError(f"layer {name!r}: shape {array.shape} is not the grid shape {grid.shape}")
    attrs = {"grid": grid.to_json()}
    if units is not None:
        attrs["units"] = units
    if nodata is not None:
        attrs["nodata"] = nodata
    return xr.DataArray(
        array, dims=("y", "x"), coords={"y": grid.y_coords, "x": grid.x_coords}, name=name, attrs=attrs
    )


def grid_of(layer: xr.DataArray) -> GridSpec:
    """The GridSpec a layer made by :func:`make_layer` lives on."""
    try:
        return GridSpec.from_json(layer.attrs["grid"])
    except KeyError as exc:
        raise GridMismatchError(f"layer {layer.name!r} carries no grid; build it with make_layer") from exc


def assert_same_grid(grid: GridSpec, *layers: xr.DataArray) -> None:
    """Raise :class:`GridMismatchError` unless every layer is on ``grid``."""
    for layer in layers:
        if grid_of(layer) != grid:
            raise GridMismatchError(f"layer {layer.name!r} is not on the analysis grid {grid!r}")
