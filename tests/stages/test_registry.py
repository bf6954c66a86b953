"""The registry lists the stages without loading the scientific stack (fast `habitat stages`)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from habitat.vocabulary import NEIGHBOURHOODS

REPO = Path(__file__).resolve().parents[2]
#: Libraries only a stage's run (or the report) needs; the stage list and `validate` must not load them.
HEAVY = {"xarray", "dask", "rioxarray", "matplotlib", "numba", "sklearn", "networkx", "pyamg"}


def _loaded_after(code: str) -> set[str]:
    """Top-level modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": ""})
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_stage_list_loads_no_scientific_library():
    loaded = _loaded_after("from habitat.stages.registry import STAGES, execution_order\nexecution_order()")
    assert not loaded & (HEAVY | {"pandas", "geopandas", "rasterio", "scipy", "shapely", "pyogrio"})


def test_validate_loads_only_what_reading_the_inputs_needs():
    loaded = _loaded_after("import habitat.cli, habitat.config, habitat.io.checks, habitat.stages.runner\n"
                           "import habitat.suitability.ahp, habitat.io.align, habitat.io.vectors, habitat.io.census")
    assert not loaded & HEAVY


def test_the_probe_sees_a_heavy_import():
    assert "xarray" in _loaded_after("import habitat.layers")


def test_neighbourhoods_are_scipy_structuring_elements():
    np.testing.assert_array_equal(NEIGHBOURHOODS[4], ndimage.generate_binary_structure(2, 1))
    np.testing.assert_array_equal(NEIGHBOURHOODS[8], ndimage.generate_binary_structure(2, 2))
