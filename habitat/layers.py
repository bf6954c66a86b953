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


#: Attributes that carry a layer's georeferencing (habitat's GridSpec, rioxarray/CF CRS).
_GEO_ATTRS = ("grid", "crs", "transform", "spatial_ref", "grid_mapping")


def as_yx(values, *, name: str = "layer"):
    """A 2-D ``(y, x)`` layer: a DataArray's (or array's) leading band dimension of size 1 is
    dropped; more than one band is an error naming ``name``. Other inputs pass through."""
    from habitat.errors import InvalidParameterError

    if isinstance(values, xr.DataArray):
        if values.ndim == 3:
            band = values.dims[0]
            if values.sizes[band] != 1:
                raise InvalidParameterError(
                    f"{name}: has {values.sizes[band]} values along '{band}'; pass one band, "
                    f"e.g. {name}.isel({band}=0)")
            values = values.isel({band: 0}, drop=True)
        return values
    arr = np.asarray(values)
    if arr.ndim == 3:
        if arr.shape[0] != 1:
            raise InvalidParameterError(f"{name}: has shape {arr.shape}; pass one 2-D (y, x) band")
        arr = arr[0]
    return arr


def like(template: xr.DataArray, values: np.ndarray, *, name: str, units: str | None = None) -> xr.DataArray:
    """``values`` as a DataArray with the coordinates, dims and CRS of ``template``."""
    attrs = {k: template.attrs[k] for k in _GEO_ATTRS if k in template.attrs}
    if units is not None:
        attrs["units"] = units
    out = xr.DataArray(values, coords=template.coords, dims=template.dims, name=name, attrs=attrs)
    if "grid_mapping" in template.encoding:
        out.encoding["grid_mapping"] = template.encoding["grid_mapping"]
    return out


def yx_coords(shape: tuple[int, int], cell_size_m: float) -> dict[str, np.ndarray]:
    """Cell-centre coordinates of a north-up grid with its top-left corner at (0, 0)."""
    rows, cols = shape
    return {"y": -(np.arange(rows) + 0.5) * cell_size_m, "x": (np.arange(cols) + 0.5) * cell_size_m}
