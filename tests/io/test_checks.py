"""Checks of a pipeline's input files before a run: a folder where a file belongs is named with its key."""

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import write_project  # noqa: E402


def test_scenario_edit_that_is_a_folder_is_one_line_naming_the_key(tmp_path, capsys):
    from habitat import cli

    pipeline = write_project(tmp_path / "p")
    (tmp_path / "p" / "data" / "dam.gpkg").mkdir()
    data = yaml.safe_load(pipeline.read_text())
    data["scenarios"] = {"dam": [{"kind": "landcover", "path": "data/dam.gpkg", "to_class": "water"}]}
    pipeline.write_text(yaml.safe_dump(data))
    for argv in (["validate", pipeline], ["run", pipeline, "--out", tmp_path / "out"]):
        with pytest.raises(SystemExit) as exc:
            cli.main([str(a) for a in argv])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert exc.value.code == 2 and "Traceback" not in err
        assert len(lines) == 1 and lines[0].endswith(
            f"scenarios.dam[0]: {tmp_path / 'p' / 'data' / 'dam.gpkg'} is a folder; point the edit at the file"), err
    assert not (tmp_path / "out").exists()
