"""The report stage on the tiny project, ``habitat report OUT``, and its optional inputs."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from habitat.cli import app
from habitat.stages import report
from habitat.stages.registry import STAGES, dependencies, producers
from habitat.stages.runner import run_pipeline


def test_inputs_are_optional_and_match_their_producers():
    made_by = producers()
    for spec in report.STAGE.inputs:
        assert spec.optional, spec.id
        if spec.id in made_by:  # a kind or dtype mismatch would make the runner misread the file
            declared = made_by[spec.id].output(spec.id)
            assert (spec.kind, spec.dtype) == (declared.kind, declared.dtype), spec.id
    assert "report" not in dependencies(report.STAGE)
    assert {"ingest", "suitability", "patches"} <= dependencies(report.STAGE)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import write_project

    folder = tmp_path_factory.mktemp("report")
    pipeline = write_project(folder / "project")
    data = yaml.safe_load(pipeline.read_text())
    data["stages"].update({"suitability": {}, "patches": {"min_patch_area_ha": 1},
                           "report": {"dpi": 50, "formats": ["png"], "language": "ru"}})
    pipeline.write_text(yaml.safe_dump(data))
    out = folder / "out"
    run_pipeline(pipeline, out)
    return out


def test_stage_lists_the_layers_it_will_show(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["stages"]["report"]["params"]["language"] == "ru"
    table = pd.read_csv(tiny_run / "report" / "report_contents.csv").set_index("layer")
    ran = {layer for stage, record in manifest["stages"].items() if stage != "report" for layer in record["outputs"]}
    assert set(table.index) == {spec.id for spec in report.STAGE.inputs} & ran
    assert table.loc["suitability", "kind"] == "raster"
    assert table.loc["populations", "kind"] == "vector" and table.loc["populations", "count"] == 1


def test_habitat_report_regenerates_the_report(tiny_run):
    result = CliRunner().invoke(app, ["report", str(tiny_run)])
    assert result.exit_code == 0, result.output
    folder = tiny_run / "report"
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ru">' in html and "Demo site" in html
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert "suitability.png" in figures and "change.png" in figures and "suitability_AA.png" in figures
    assert not any(name.endswith(".pdf") for name in figures)  # formats: [png]
    assert (folder / "styles" / "suitability.qml").exists() and (folder / "styles" / "populations.qml").exists()
    first = {p.name: p.read_bytes() for p in (folder / "figures").iterdir()}
    CliRunner().invoke(app, ["report", str(tiny_run)])
    assert first == {p.name: p.read_bytes() for p in (folder / "figures").iterdir()}  # byte-identical
    result = CliRunner().invoke(app, ["report", str(tiny_run), "--language", "en"])
    assert "Habitat and corridor report" in (folder / "report.html").read_text(encoding="utf-8")


def test_report_of_a_folder_without_manifest_is_a_user_error(tmp_path):
    from habitat.errors import InputFileError

    with pytest.raises(InputFileError, match="manifest.json: not found"):
        report.write_report(tmp_path)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_report_of_a_folder_with_a_damaged_output_names_it_and_says_to_run_again(tiny_run, tmp_path, capsys, damage):
    import shutil

    from conftest import cli_errors

    out = tmp_path / "out"
    shutil.copytree(tiny_run, out)
    shutil.rmtree(out / "report")  # else the report is up to date (the manifest is unchanged) and nothing is read
    target = out / "ingest" / "habitat_class_current.tif"
    if damage == "missing":
        target.unlink()
    else:
        target.write_bytes(b"not a raster")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, err = cli_errors(["report", out], capsys)
    lines = err.strip().splitlines()
    what = (f"listed in {out / 'manifest.json'} but missing" if damage == "missing"
            else "output of stage ingest cannot be read (not a readable raster (corrupt or unsupported format))")
    assert code == 2 and "Traceback" not in err
    assert lines == [f"error: {target}: {what}; run the pipeline again with --out {out} to rebuild it"], err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # the report was not rewritten


def test_run_pipeline_writes_the_report_after_the_run(tmp_path):
    import yaml

    from habitat.stages.runner import run_pipeline

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import write_project

    pipeline = write_project(tmp_path / "p")
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["report"] = {"dpi": 50, "formats": ["png"], "per_unit_figures": False}
    pipeline.write_text(yaml.safe_dump(data))
    result = run_pipeline(pipeline, tmp_path / "out")
    html = tmp_path / "out" / "report" / "report.html"
    assert html in result.files and html.exists()
    assert "Pipeline tiny" in html.read_text(encoding="utf-8")
