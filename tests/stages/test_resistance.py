"""The resistance stage: per-cell rules computed chunk by chunk equal the whole-grid result."""

import dask.array as da
import numpy as np

from habitat.grid import GridSpec
from habitat.layers import make_layer
from habitat.params import ResistanceParams
from habitat.stages.resistance import _resistance_block, run_resistance
from habitat.stages.spec import StageContext
from habitat.vocabulary import HABITAT_CLASS_CODES


def _ctx(chunks):
    grid = GridSpec.from_bounds((0, 0, 900, 700), "default", 100)  # 7 x 9 cells
    rng = np.random.default_rng(3)
    suit = rng.random(grid.shape).astype(np.float32)
    suit[0, 0] = np.nan
    classes = rng.integers(0, 9, grid.shape).astype(np.uint8)
    canal = np.where(rng.random(grid.shape) < 0.2, 0.0, 250.0).astype(np.float32)
    barriers = np.full(grid.shape, np.nan, np.float32)
    barriers[3, :] = 500.0
    barriers[5, 2:4] = 50.0
    crossings = np.full(grid.shape, np.nan, np.float32)
    crossings[3, 4] = 2.0
    arrays = {"suitability": suit, "habitat_class_current": classes, "canal_distance_m": canal,
              "scenario_barriers": barriers, "scenario_crossings": crossings}
    inputs = {k: make_layer(da.from_array(v, chunks=chunks), grid, name=k) for k, v in arrays.items()}
    params = ResistanceParams(transform="linear", min_resistance=1.0, max_resistance=101.0,
                              barrier_classes={"built": None, "water": 300.0}, canal_resistance=400.0)
    return StageContext(grid=grid, params=params, inputs=inputs, pipeline=None), arrays


def test_chunked_resistance_equals_the_whole_grid():
    ctx, arrays = _ctx(chunks=(2, 4))
    out = np.asarray(run_resistance(ctx)["resistance"].values)
    names = list(arrays)
    whole = _resistance_block(ctx.params, {"scenario_barriers": np.array([50.0, 500.0]),
                                           "scenario_crossings": np.array([2.0])}, names, *arrays.values())
    np.testing.assert_array_equal(out, whole)
    assert out.dtype == np.float32


def test_resistance_rules_cell_by_cell():
    ctx, a = _ctx(chunks=(3, 3))
    out = np.asarray(run_resistance(ctx)["resistance"].values)
    classes, suit = a["habitat_class_current"], a["suitability"].astype(np.float64)
    # linear: R = max - (max - min) * h = 101 - 100 h
    expected = 101.0 - 100.0 * suit
    expected = np.where(classes == HABITAT_CLASS_CODES["water"], 300.0, expected)
    expected = np.where(classes == HABITAT_CLASS_CODES["built"], np.inf, expected)
    expected = np.where(a["canal_distance_m"] == 0, np.maximum(expected, 400.0), expected)
    expected = np.where(a["scenario_barriers"] == 50.0, np.maximum(expected, 50.0), expected)
    expected = np.where(a["scenario_barriers"] == 500.0, np.maximum(expected, 500.0), expected)
    expected = np.where(a["scenario_crossings"] == 2.0, 2.0, expected)
    expected = np.where(np.isfinite(expected) & (classes > 0), expected, np.nan).astype(np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out[3, 4] == 2.0 or classes[3, 4] == 0
