"""Shared vocabulary at the bottom of the package: the habitat classes, the neighbourhoods of a
cell and the strict base of every settings model. Imported by params, config, io, report and the
computations; imports nothing from habitat."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

#: Habitat classes in raster-code order: class ``HABITAT_CLASSES[i]`` is written as ``i + 1``
#: in the uint8 habitat-class raster; 0 is nodata. The order is part of the output contract.
HABITAT_CLASSES: tuple[str, ...] = (
    "tugai_forest",
    "tugai_shrub",
    "reed_wetland",
    "water",
    "grassland",
    "cropland",
    "built",
    "bare",
    "snow",
    "other",
)

#: Raster code of each habitat class (1..10).
HABITAT_CLASS_CODES = MappingProxyType({name: i + 1 for i, name in enumerate(HABITAT_CLASSES)})

#: A habitat class name, for settings models (the same list as HABITAT_CLASSES).
HabitatClass = Literal[HABITAT_CLASSES]  # type: ignore[valid-type]

#: Classes that are deer habitat (DOMAIN.md 8): the default of the indicators' habitat mask.
DEER_HABITAT_CLASSES: tuple[str, ...] = ("tugai_forest", "tugai_shrub", "reed_wetland")

#: Cells that touch a cell, as a 3 x 3 structuring element per neighbourhood: 4 (rook: shared
#: side) or 8 (queen: side or corner, the FRAGSTATS default); the same arrays as
#: ``scipy.ndimage.generate_binary_structure(2, 1)`` and ``(2, 2)``, written out so that this
#: module (imported by every settings model) does not load scipy.
NEIGHBOURHOODS: MappingProxyType = MappingProxyType({
    4: np.array([[False, True, False], [True, True, True], [False, True, False]]),
    8: np.ones((3, 3), dtype=bool),
})

#: Codes of the habitat-change raster (habitat.indicators.change.change_map) and its nodata.
CHANGE_CODES = MappingProxyType({"never": 0, "stable": 1, "lost": 2, "gained": 3})
CHANGE_NODATA = 255


def neighbourhood(neighbours: int) -> np.ndarray:
    """The 3 x 3 structuring element of a neighbourhood (``neighbours`` 4 or 8), for
    ``scipy.ndimage.label`` and morphology. Raises ValueError for any other value."""
    if neighbours not in NEIGHBOURHOODS:
        raise ValueError(f"neighbours={neighbours!r}; use 8 (FRAGSTATS default) or 4")
    return NEIGHBOURHOODS[neighbours]


class Strict(BaseModel):
    """Frozen settings model that rejects unknown keys, NaN and infinity, and validates its defaults.

    A field that means "no limit" takes null, never ``.inf`` (a YAML ``.nan`` or ``.inf`` is a
    typo or a spreadsheet artefact, and NaN passes no range check).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        """``true``/``false`` where a number belongs (pydantic would read ``resolution_m: true`` as 1)."""
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                if isinstance(value, bool) and _numeric(field.annotation):
                    raise ValueError(f"{name}: {str(value).lower()} is not a number; give a number")
        return data


def _numeric(annotation: Any) -> bool:
    """Whether a field annotation takes numbers but not booleans (``float``, ``int | None`` ...)."""
    args = get_args(annotation)
    if annotation in (int, float):
        return True
    return bool(args) and bool not in args and any(_numeric(a) for a in args if a is not type(None))
