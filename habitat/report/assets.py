"""The bundled front-end assets (Leaflet 1.9.4, BSD-2-Clause), read from package data.

Leaflet's stylesheet refers to its images by relative URL; :func:`leaflet_css` replaces them by
data URIs so the report never asks for a file beside itself.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources

LEAFLET_VERSION = "1.9.4"


def _static():
    return resources.files("habitat.report").joinpath("static")


@cache
def leaflet_js() -> str:
    """The minified Leaflet script."""
    return _static().joinpath("leaflet.js").read_text("utf-8")


@cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with every ``url(images/...)`` inlined as a data URI."""
    css = _static().joinpath("leaflet.css").read_text("utf-8")

    def inline(match: re.Match) -> str:
        data = _static().joinpath("images", match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\(images/([A-Za-z0-9_.-]+\.png)\)", inline, css)
    # The old-IE VML behaviour URL is ignored by browsers but is still a URL; drop it.
    return css.replace("behavior: url(#default#VML);", "")


@cache
def leaflet_license() -> str:
    return _static().joinpath("LEAFLET_LICENSE").read_text("utf-8")
