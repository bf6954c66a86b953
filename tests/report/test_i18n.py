import json
import string
from importlib import resources

import pytest

from habitat.errors import ConfigError
from habitat.report.i18n import Messages


def _catalogue(lang):
    return json.loads(resources.files("habitat.report").joinpath("messages", f"{lang}.json").read_text("utf-8"))


def test_catalogues_have_the_same_keys_and_placeholders():
    en, ru = _catalogue("en"), _catalogue("ru")
    assert set(en) == set(ru)
    fields = lambda text: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)
    for key in en:
        assert fields(en[key]) == fields(ru[key]), key


def test_format_layer_names_and_unknown_language():
    assert Messages("en")("figure.change", year1=2000, year2=2020) == "Habitat loss and gain, 2000 to 2020"
    assert Messages("ru").layer("suitability") == "Пригодность местообитаний (0–1)"
    assert Messages("en").layer("no_such_layer") == "no_such_layer"
    with pytest.raises(ConfigError, match="language"):
        Messages("fr")
