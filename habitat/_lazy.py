"""Package attributes loaded on first use (PEP 562).

A package ``__init__`` that re-exports its submodules' functions would load every submodule, and
with them xarray, dask or numba, whenever any one submodule is imported. With
``__getattr__, __dir__ = lazy_exports(__name__, {"name": "submodule", ...})`` the names stay
importable from the package (``from habitat.suitability import ahp_weights``) and load their
submodule only when used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, sources: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``sources`` maps each exported name to the
    submodule (relative name) that defines it; other names resolve to submodules."""

    def __getattr__(name: str) -> object:
        if name in sources:
            value = getattr(importlib.import_module(f"{package}.{sources[name]}"), name)
            setattr(sys.modules[package], name, value)
            return value
        try:  # a submodule not imported yet
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(sources))

    return __getattr__, __dir__
