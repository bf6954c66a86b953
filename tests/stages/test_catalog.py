"""The layer catalogue: one declaration per layer, stages import it and never each other."""

import ast
from pathlib import Path

import pytest

import habitat.stages
from habitat.config import Pipeline
from habitat.stages import catalog
from habitat.stages.registry import STAGES

STAGE_MODULES = {s.run.__module__.rsplit(".", 1)[1] for s in STAGES}


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, as dotted names (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", sorted(STAGE_MODULES))
def test_a_stage_imports_no_other_stage(module):
    path = Path(habitat.stages.__file__).parent / f"{module}.py"
    others = {f"habitat.stages.{m}" for m in STAGE_MODULES - {module}}
    assert not _imported_modules(path) & others


def test_the_import_check_sees_a_stage_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from habitat.stages import ingest\nimport habitat.stages.circuit\n")
    assert {"habitat.stages.ingest", "habitat.stages.circuit"} <= _imported_modules(bad)


def test_every_output_is_the_catalogue_declaration():
    for stage in STAGES:
        assert stage.outputs == catalog.outputs_of(stage.id), stage.id
        for spec in stage.inputs:
            declared = catalog.layer(spec.id)
            assert spec.model_copy(update={"optional": declared.optional}) == declared, (stage.id, spec.id)
    assert sorted(catalog.PRODUCES) == sorted(s.id for s in STAGES)


def test_conditional_outputs_are_optional_and_only_they():
    for spec in catalog.all_layers().values():
        assert spec.optional == (spec.created_if is not None), spec.id


def test_created_if_reads_the_pipeline(tmp_path):
    base = {"name": "t", "grid": {"resolution_m": 100},
            "inputs": {"landcover": [{"path": "a.tif", "year": 2000}], "rivers": {"path": "r.gpkg"}}}
    one = Pipeline.model_validate(base)
    two = Pipeline.model_validate({**base, "inputs": {**base["inputs"], "canals": {"path": "c.gpkg"},
                                                      "landcover": [{"path": "a.tif", "year": 2000},
                                                                    {"path": "b.tif", "year": 2020}]},
                                   "stages": {"suitability": {}}})
    for layer_id, expected in (("canal_distance_m", (False, True)), ("habitat_class_baseline", (False, True)),
                               ("tugai_cover_current", (False, False)), ("membership_habitat_class", (False, True)),
                               ("membership_road_distance_m", (False, False)), ("habitat_class_current", (True, True))):
        spec = catalog.layer(layer_id)
        assert (catalog.created(spec, one), catalog.created(spec, two)) == expected, layer_id
    assert catalog.created(catalog.layer("pinch_points"), one, written={"corridors"}) is True
    assert catalog.created(catalog.layer("pinch_points"), one) is False
    assert catalog.created(catalog.layer("corridors"), one) is None  # data-dependent: two or more populations


def test_declared_settings_name_registered_stages():
    ids = {s.id for s in STAGES}
    for stage in STAGES:
        # "grid": the pipeline's grid section (grid.connectivity_resolution_m)
        assert set(stage.settings) <= (ids - {stage.id}) | {"grid"}, stage.id
    assert all("grid" in s.settings for s in STAGES if s.id in ("connectivity", "circuit", "sites"))
    sites = next(s for s in STAGES if s.id == "sites")
    assert sites.settings == ("connectivity", "circuit", "patches", "grid")
