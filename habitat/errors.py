"""User-facing errors: one place for every problem a user can fix."""

from __future__ import annotations


class HabitatError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits 2.

    The message names the file or config key and says what to do about it.
    """


class ConfigError(HabitatError):
    """A pipeline file is invalid (unknown key, value out of range, bad reference)."""


class InputFileError(HabitatError):
    """An input file is missing, unreadable or corrupt."""


class MissingCRSError(HabitatError):
    """An input layer has no coordinate reference system."""


class NoOverlapError(HabitatError):
    """An input layer does not overlap the study area."""


class GeometryError(HabitatError):
    """A vector layer holds geometry that cannot be repaired."""


class CrosswalkError(HabitatError):
    """A land-cover code is missing from the crosswalk table."""


class GridMismatchError(HabitatError):
    """Two layers that must share the analysis grid do not."""


class InvalidParameterError(HabitatError):
    """A parameter passed to a computation is outside its valid range."""


class StageContractError(HabitatError):
    """A stage produced outputs that do not match its declaration (a bug in habitat)."""


class ResourceError(HabitatError):
    """A job needs more memory or time than the machine has; coarsen or restrict it."""


class MemoryNeedError(ResourceError):
    """A computation needs more memory than is available (habitat.memory.check_memory).

    Carries ``needed_bytes``, ``available_bytes`` and the ``setting`` that fixes it.
    """

    def __init__(self, message: str, *, needed_bytes: int, available_bytes: int, setting: str) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.setting = setting
