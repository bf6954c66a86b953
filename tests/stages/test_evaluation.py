"""The evaluation stage on the tiny project: known places ranked on the written map, with the
percentile and the Boyce index recomputed here from the rasters by their definitions."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from habitat.errors import InputFileError
from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_terrain import _project, _read  # noqa: E402


def test_places_are_ranked_among_suitable_floodplain_cells(tmp_path):
    out = tmp_path / "out"
    run_pipeline(_project(tmp_path, suitability={}, evaluation={}), out)
    table = pd.read_csv(out / "evaluation" / "evaluation.csv").set_index("place_id")
    summary = pd.read_csv(out / "evaluation" / "evaluation_summary.csv").iloc[0]
    suit = _read(out, "suitability", "suitability")
    flood = _read(out, "ingest", "floodplain") > 0
    ref = suit[flood & (suit > 0)]
    # K1 at grid (11, 10), K2 at (9, 20), G1 (the 1,800 m block) at (0, 13)
    for pid, (r, c) in {"K1": (11, 10), "K2": (9, 20), "G1": (0, 13)}.items():
        value = suit[r, c]
        np.testing.assert_allclose(table.loc[pid, "suitability"], value, rtol=1e-6)
        pct = 100 * ((ref < value).sum() + 0.5 * (ref == value).sum()) / ref.size
        np.testing.assert_allclose(table.loc[pid, "suitability_percentile"], pct)
    assert table.loc["G1", "suitability"] == 0 and bool(table.loc["G1", "bottom_half"])
    assert not table.loc["G1", "presence"] and table.loc[["K1", "K2"], "presence"].all()
    assert summary["n_presence"] == 2 and summary["n_reference_cells"] == ref.size
    assert summary["reference"] == "floodplain cells with suitability > 0"
    assert table.loc["K1", "source"] == "hand-made test place"


def test_a_known_place_without_a_source_is_refused(tmp_path):
    pipeline = _project(tmp_path, evaluation={})
    csv = pipeline.parent / "data" / "known_places.csv"
    csv.write_text(csv.read_text().replace("hand-made test place", "", 1))
    with pytest.raises(InputFileError, match="needs a source"):
        run_pipeline(pipeline, tmp_path / "out")
    data = yaml.safe_load(pipeline.read_text())
    assert data["inputs"]["known_places"]["x_column"] == "x"
