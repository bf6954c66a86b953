from pathlib import Path

from habitat.params import IngestParams
from habitat.grid import GridSpec
from habitat.stages.cache import file_sha256, input_sha256, stage_key
from habitat.stages.ingest import STAGE

GRID = GridSpec.from_bounds((0, 0, 1000, 1000), "default", 100)


def _key(params=None, grid=GRID, inputs=None):
    return stage_key(STAGE, params or IngestParams(), grid, inputs or {"inputs.rivers.path": "aa"}, code_hash="c")


def test_key_is_stable_for_equal_inputs():
    assert _key() == _key(IngestParams(floodplain_buffer_m=3000.0)) == _key(inputs={"inputs.rivers.path": "aa"})


def test_key_changes_with_params_grid_and_input_bytes():
    base = _key()
    assert _key(IngestParams(floodplain_buffer_m=2999)) != base
    assert _key(grid=GridSpec.from_bounds((0, 0, 1000, 1000), "default", 50)) != base
    assert _key(inputs={"inputs.rivers.path": "ab"}) != base


def test_key_changes_with_the_settings_of_other_stages_a_stage_uses():
    from habitat.params import CircuitParams

    def key(**circuit):
        return stage_key(STAGE, IngestParams(), GRID, {}, code_hash="c", settings={"circuit": CircuitParams(**circuit)})

    assert key() == key(neighbours=8) != key(neighbours=4)
    assert key() != key(solver="amg")
    assert key() != _key(inputs={})  # a stage without settings keys on its own params only


def test_input_hash_depends_on_bytes_not_name_or_place(tmp_path: Path):
    a = tmp_path / "a" / "rivers.gpkg"
    b = tmp_path / "b" / "other_name.gpkg"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"same bytes")
    assert input_sha256(a) == input_sha256(b) == file_sha256(a)
    b.write_bytes(b"same bytez")
    assert input_sha256(a) != input_sha256(b)


def test_shapefile_hash_covers_sidecars(tmp_path: Path):
    for suffix in (".shp", ".dbf", ".prj"):
        (tmp_path / f"x{suffix}").write_bytes(b"v1" + suffix.encode())
    before = input_sha256(tmp_path / "x.shp")
    (tmp_path / "x.dbf").write_bytes(b"changed attributes")
    assert input_sha256(tmp_path / "x.shp") != before
