import numpy as np
import pytest

from habitat.errors import GridMismatchError
from habitat.grid import GridSpec
from habitat.layers import assert_same_grid, grid_of, make_layer


def test_make_layer_carries_grid_and_coords():
    grid = GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 100)
    layer = make_layer(np.arange(6.0).reshape(2, 3), grid, name="v", units="m")
    assert layer.dims == ("y", "x") and layer.attrs["units"] == "m"
    np.testing.assert_array_equal(layer.x.values, [50, 150, 250])
    assert grid_of(layer) == grid
    assert_same_grid(grid, layer)
    with pytest.raises(GridMismatchError):
        assert_same_grid(GridSpec.from_bounds((0, 0, 300, 200), "EPSG:32642", 50), layer)
    with pytest.raises(GridMismatchError):
        make_layer(np.zeros((3, 3)), grid, name="bad")
