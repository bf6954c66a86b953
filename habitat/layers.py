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


#: Relative tolerance on coordinate spacing: regular and square within it.
COORD_RTOL = 1e-6


def cell_size_from_coords(layer, name: str = "layer", *, error: type[Exception] = GridMismatchError) -> float | None:
    """Side of a square cell read from a 2-D layer's coordinates (its spacing along x, else y).

    Returns None when the layer has no coordinates to read (a plain array, or a single cell).
    Raises ``error`` naming ``name`` when the spacing is irregular or the cells are not square
    (relative tolerance :data:`COORD_RTOL`).
    """
    dims = getattr(layer, "dims", None)
    coords = getattr(layer, "coords", None)
    if dims is None or coords is None or len(dims) != 2:
        return None
    spacings = []
    for dim in dims:
        if dim not in coords or coords[dim].size < 2:
            continue
        steps = np.abs(np.diff(np.asarray(coords[dim].values, dtype=np.float64)))
        if not np.allclose(steps, steps[0], rtol=COORD_RTOL, atol=0):
            raise error(f"{name} coordinate {dim!r} is not regularly spaced; put the layer on the analysis grid")
        spacings.append(float(steps[0]))
    if not spacings:
        return None
    if len(spacings) == 2 and not np.isclose(spacings[0], spacings[1], rtol=COORD_RTOL, atol=0):
        raise error(f"{name} cells are {spacings[1]} x {spacings[0]}, not square; resample to square cells "
                    "on the analysis grid")
    return spacings[-1]
