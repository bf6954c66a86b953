"""Run the direct-solver tests with each factorization: SuperLU and, when installed, CHOLMOD."""

import pytest

from habitat.connectivity.circuit import solvers


@pytest.fixture(params=["superlu", "cholmod"])
def direct_backend(request, monkeypatch):
    """Select the direct factorization for one test; CHOLMOD skips without scikit-sparse."""
    if request.param == "cholmod":
        monkeypatch.setattr(solvers, "USE_CHOLMOD", True)
        monkeypatch.setattr(solvers, "CHOLMOD_MIN_NODES", 0)  # tiny test grids too
        if solvers.cholmod_module() is None:
            pytest.skip("scikit-sparse not installed (optional extra 'fast'): CHOLMOD path skipped")
    else:
        monkeypatch.setattr(solvers, "USE_CHOLMOD", False)
    return request.param
