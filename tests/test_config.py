from pathlib import Path

import pytest
import yaml

from habitat.config import config_problems, load_pipeline
from habitat.errors import ConfigError


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "sub" / "p.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {
    "name": "t",
    "grid": {"resolution_m": 100},
    "inputs": {"landcover": [{"path": "lc.tif", "year": 2020}], "rivers": {"path": "../rivers.gpkg"}},
}


def test_paths_resolve_against_the_pipeline_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "lc.tif").write_bytes(b"x")
    (tmp_path / "rivers.gpkg").write_bytes(b"x")
    pipeline = load_pipeline(_write(tmp_path, BASE))
    assert pipeline.inputs.landcover[0].path == (tmp_path / "sub" / "lc.tif").resolve()
    assert pipeline.inputs.rivers.path == (tmp_path / "rivers.gpkg").resolve()
    assert pipeline.grid.crs == "default" and pipeline.stages.ingest is not None


def test_missing_files_are_listed_with_keys(tmp_path):
    _, problems = config_problems(_write(tmp_path, BASE))
    assert [p.split(": ", 2)[1] for p in problems] == ["inputs.landcover[0].path", "inputs.rivers.path"]
    with pytest.raises(ConfigError, match=r"inputs.landcover\[0\].path: file not found.*and 1 more"):
        load_pipeline(tmp_path / "sub" / "p.yaml")


def test_schema_errors_name_key_paths(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["inputs"]["lakes"] = {"path": "x"}
    data["grid"]["resolution_m"] = 0
    _, problems = config_problems(_write(tmp_path, data))
    assert any("inputs.lakes: unknown key" in p for p in problems)
    assert any("grid.resolution_m: Input should be greater than 0" in p for p in problems)


def test_key_with_nothing_after_its_colon_says_so(tmp_path):
    # "stages:" left empty in the YAML is null, not an empty mapping
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["stages"] = None
    data["grid"] = None
    _, problems = config_problems(_write(tmp_path, data))
    path = tmp_path / "sub" / "p.yaml"
    assert problems == [f"{path}: {key}: has no value (nothing after the colon); give its value or settings, or "
                        "remove the key if it is optional" for key in ("grid", "stages")]


def test_cross_field_checks_name_their_key(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["inputs"]["landcover"].append({"path": "lc.tif", "year": 2020})
    _, problems = config_problems(_write(tmp_path, data))
    assert any("inputs.landcover: two entries share the year 2020" in p for p in problems)


def test_yaml_syntax_error_is_one_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    _, problems = config_problems(path)
    assert len(problems) == 1 and "not valid YAML" in problems[0]


def test_riparian_strip_share_cap_out_of_range_names_the_class(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["stages"] = {"suitability": {"riparian_strip": {
        "half_width_m": 2500, "tugai_score": 0.9, "max_share_by_class": {"water": 0.0, "cropland": 1.4}}}}
    _, problems = config_problems(_write(tmp_path, data))
    assert any("stages.suitability.riparian_strip.max_share_by_class.cropland: Input should be less than or equal "
               "to 1" in p for p in problems), problems


def test_circuit_solver_choices():
    from pydantic import ValidationError

    from habitat.params import CircuitParams

    assert CircuitParams(solver="multigrid").solver == "multigrid"
    assert CircuitParams().solver == "auto"
    with pytest.raises(ValidationError, match="multigrid"):
        CircuitParams(solver="mg")
