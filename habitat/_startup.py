"""Start-up of one-command processes (the ``circuit`` command): two costs that do no work.

numba's one-off set-up, without the two imports that kernels loaded from its cache never use.
The first call of any jitted function (even one loaded from numba's on-disk cache) loads
numba's typing and lowering registries. Two of their imports cost about 0.13 CPU-s on the
main thread of a one-command process (issue 19, the 1000 x 1000 single-pair circuit job):

- ``numba.np.arraymath`` checks at import that BLAS is there by importing
  ``scipy.linalg.cython_blas``, i.e. all of ``scipy.linalg`` (its docstring parsing included)
  and scipy's own OpenBLAS, whose worker thread then spins for about 0.1 CPU-s on the other
  core;
- ``numba.core.typing.cffi_utils`` builds a ``cffi.FFI()``, which compiles pycparser's lexer.

:func:`start_numba_lean` runs that set-up once with the check answered from
``importlib.util.find_spec`` (the same answer while scipy is installed; the real check runs
again whenever a kernel that calls BLAS is compiled) and with cffi hidden, so numba's cffi
support is off for the rest of the process: for commands whose kernels call no cffi
functions (the ``circuit`` command; also when ``habitat.cli.circuit`` is called in-process,
e.g. by the tests: nothing in habitat jits cffi calls).

numpy's OpenBLAS starts its worker threads when numpy is imported, and each spins (busy-waits
with ``sched_yield``) for 2**28 cycles, about 0.1 CPU-s of the other core, before it sleeps;
it does so again after every threaded BLAS call. :func:`import_numpy_idle_blas` imports numpy
with ``OPENBLAS_THREAD_TIMEOUT=4`` (2**4 cycles: the workers sleep at once and are woken by
the next threaded call), for numpy's OpenBLAS only: the variable is removed again, so BLAS
libraries loaded later (CHOLMOD's) keep their defaults.
"""

from __future__ import annotations

import importlib.util
import os
import sys

#: OpenBLAS's idle spin of its worker threads, as a power of two of cycles (its minimum, 4).
_BLAS_IDLE_SPIN_LOG2 = "4"


def import_numpy_idle_blas() -> bool:
    """Import numpy with its OpenBLAS workers asleep when idle (see module notes).

    Returns
    -------
    bool
        True when this call imported numpy; False when numpy was already imported or the
        user set ``OPENBLAS_THREAD_TIMEOUT`` (both left as they are).
    """
    if "numpy" in sys.modules or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = _BLAS_IDLE_SPIN_LOG2
    try:
        import numpy  # noqa: F401  (OpenBLAS reads the variable when it loads)
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    return True


def _blas_available() -> None:
    # numba.np.linalg.ensure_blas without importing scipy.linalg: same ImportError when absent
    if importlib.util.find_spec("scipy") is None:
        raise ImportError("scipy 0.16+ is required for linear algebra")


def start_numba_lean() -> bool:
    """Load numba's registries now, without scipy.linalg and cffi (see module notes).

    Returns
    -------
    bool
        True when this call loaded them; False when numba is missing, already set up, or
        its internals differ from what this expects (numba then sets up as usual, on first
        dispatch).
    """
    if "numba.np.arraymath" in sys.modules or "numba.core.typing.cffi_utils" in sys.modules:
        return False  # already set up (or partly): nothing to save
    try:
        import numba.np.linalg as nplinalg
        from numba.core.registry import cpu_target
    except ImportError:
        return False
    real_check = getattr(nplinalg, "ensure_blas", None)
    if real_check is None:
        return False
    hide_cffi = "cffi" not in sys.modules
    nplinalg.ensure_blas = _blas_available
    if hide_cffi:
        sys.modules["cffi"] = None  # `import cffi` raises ImportError: numba leaves cffi out
    try:
        cpu_target.target_context.refresh()  # typing registries too
    except Exception:  # numba's internals differ: it sets up as usual on first dispatch
        return False
    finally:
        nplinalg.ensure_blas = real_check
        if hide_cffi and sys.modules.get("cffi", False) is None:
            del sys.modules["cffi"]
    return True

