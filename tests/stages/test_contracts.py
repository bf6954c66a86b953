"""One contract test over every registered stage (no exclusion list)."""

import json

import pytest
import rasterio
import yaml
from pydantic import ValidationError

from habitat.config import load_pipeline
from habitat.stages import catalog
from habitat.stages.registry import STAGES, execution_order, producers
from habitat.stages.runner import run_pipeline


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_spec_is_complete(stage):
    assert stage.id and stage.version and stage.doc
    ids = [o.id for o in stage.outputs]
    assert len(ids) == len(set(ids)), "duplicate output ids"
    for spec in (*stage.inputs, *stage.outputs):
        assert spec.doc, f"{spec.id} has no doc"
        if spec.kind == "raster":
            assert spec.dtype, f"raster {spec.id} declares no dtype"
    stage.params()  # every parameter has a default
    with pytest.raises(ValidationError):
        stage.params(no_such_key=1)  # unknown keys are errors


def test_registry_is_a_dag_with_unique_outputs():
    producers()
    assert sorted(execution_order()) == sorted(s.id for s in STAGES)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import write_project, write_terrain_and_places

    folder = tmp_path_factory.mktemp("contracts")
    pipeline = write_project(folder / "project")
    data = yaml.safe_load(pipeline.read_text())
    data["inputs"].update(write_terrain_and_places(folder / "project" / "data"))  # elevation and evaluation layers
    for stage in STAGES:
        data["stages"].setdefault(stage.id, {})
    pipeline.write_text(yaml.safe_dump(data))
    out = folder / "out"
    run_pipeline(pipeline, out)
    return out, json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_outputs_appear_as_declared(stage, full_run):
    out, manifest = full_run
    written = manifest["stages"][stage.id]["outputs"]
    everything = {i for record in manifest["stages"].values() for i in record["outputs"]}
    pipeline = load_pipeline(out.parent / "project" / "pipeline.yaml")
    for spec in stage.outputs:
        # a conditional output is written exactly when its condition holds (None: only the data can tell)
        expected = catalog.created(spec, pipeline, written=everything)
        if expected is not None:
            assert (spec.id in written) == expected, f"{stage.id}: {spec.id} (created_if {spec.created_if!r})"
        if spec.id not in written:
            assert spec.optional, f"{stage.id} did not write required output {spec.id}"
            continue
        info = written[spec.id]
        path = out / info["path"]
        assert path.suffix == spec.suffix and path.exists()
        if spec.kind == "raster":
            with rasterio.open(path) as ds:
                assert ds.dtypes[0] == spec.dtype
                assert (ds.nodata is None) == (spec.nodata is None)
                if spec.units:
                    assert ds.tags(1).get("units") == spec.units


def test_optional_inputs_do_not_pull_in_their_producers():
    from habitat.stages.spec import LayerSpec, StageSpec
    from habitat.params import IngestParams

    def stage(sid, inputs, outputs):
        return StageSpec(id=sid, version="1", doc="d", params=IngestParams, run=lambda ctx: {},
                         inputs=tuple(LayerSpec(id=i, kind="table", optional=opt, doc="d") for i, opt in inputs),
                         outputs=tuple(LayerSpec(id=o, kind="table", doc="d") for o in outputs))

    toy = (stage("a", [], ["x"]), stage("b", [("x", False)], ["y"]), stage("c", [("y", False), ("z", True)], ["w"]),
           stage("d", [("x", False)], ["z"]))
    assert execution_order({"c"}, toy) == ["a", "b", "c"]            # d is optional for c: not pulled in
    assert execution_order({"c", "d"}, toy) == ["a", "b", "d", "c"]  # but ordered before c when wanted
