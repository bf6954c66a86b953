"""Message catalogues: every word the report shows, in English and Russian.

The catalogues are package data (``habitat/report/messages/<language>.json``); code refers to
messages by key only, so a translation never touches code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from habitat.errors import ConfigError

Language = Literal["en", "ru"]
LANGUAGES: tuple[str, ...] = ("en", "ru")


@cache
def _catalogue(language: str) -> dict[str, str]:
    text = resources.files("habitat.report").joinpath("messages", f"{language}.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Messages:
    """The catalogue of one language; ``messages(key, **values)`` formats a message.

    Examples
    --------
    >>> Messages("en")("figure.scale_km", value=5)
    '5 km'
    >>> Messages("ru")("figure.scale_km", value=5)
    '5 км'
    """

    language: str

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigError(
                f"stages.report.language: {self.language!r} is not available; use one of {', '.join(LANGUAGES)}"
            )

    def __call__(self, key: str, **values: object) -> str:
        text = _catalogue(self.language).get(key)
        if text is None:  # a key missing from a translation falls back to English, never to the key
            text = _catalogue("en")[key]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in _catalogue("en")

    def stage(self, stage_id: str) -> str:
        """The display name of a stage, or its id when the catalogue has none."""
        key = f"stage.{stage_id}"
        return self(key) if self.has(key) else stage_id

    def layer(self, layer_id: str) -> str:
        """The display name of a layer, or its id when the catalogue has none."""
        key = f"layer.{layer_id}"
        return self(key) if self.has(key) else self("layer.generic", id=layer_id)
