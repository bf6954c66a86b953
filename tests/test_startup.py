"""habitat._startup: numba's set-up without scipy.linalg and cffi, numpy with idle BLAS threads (fresh processes)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys
import numpy as np
from habitat._startup import start_numba_lean
first = start_numba_lean()
again = start_numba_lean()
from numba import njit

@njit
def total(a):
    s = 0.0
    for v in a:
        s += v
    return s

@njit
def dot(a, b):
    return np.dot(a, b)  # BLAS: the real check runs when this compiles

out = {"first": first, "again": again, "linalg_after_start": "scipy.linalg" in sys.modules,
       "cffi_hidden": sys.modules.get("cffi", 0) is None, "total": total(np.arange(5.0))}
out["dot"] = dot(np.arange(3.0), np.arange(3.0))
import numba.np.arraymath as am
out["have_blas"] = bool(am._HAVE_BLAS)
print(json.dumps(out))
"""


def _child(code, **extra_env):
    """The JSON line a fresh interpreter running ``code`` prints last."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **extra_env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_lean_start_skips_scipy_linalg_and_keeps_blas_kernels_working():
    out = _child(_CHILD)
    assert out["first"] is True and out["again"] is False
    assert out["linalg_after_start"] is False  # the set-up did not import scipy.linalg
    assert out["cffi_hidden"] is False  # cffi importable again after the set-up
    assert out["total"] == 10.0
    assert out["dot"] == 5.0  # 0*0 + 1*1 + 2*2 through BLAS, compiled after the set-up
    assert out["have_blas"] is True


_CHILD_NUMPY = r"""
import json, os, sys
from habitat._startup import import_numpy_idle_blas
first = import_numpy_idle_blas()
print(json.dumps({"first": first, "numpy": "numpy" in sys.modules, "again": import_numpy_idle_blas(),
                  "env_left": "OPENBLAS_THREAD_TIMEOUT" in os.environ}))
"""


def test_numpy_import_with_idle_blas_leaves_the_environment_as_it_was():
    out = _child(_CHILD_NUMPY)
    assert out == {"first": True, "numpy": True, "again": False, "env_left": False}
    # a value the user set is theirs: numpy left to be imported as usual, the variable kept
    out = _child(_CHILD_NUMPY, OPENBLAS_THREAD_TIMEOUT="20")
    assert out == {"first": False, "numpy": False, "again": False, "env_left": True}

