"""A corpus of bad inputs: each gives exit code 2 and one line naming the file or key (issue 18).

Every case derives one bad variant from a good project: the tiny project of conftest (files and
pipeline) for input files and runs, or a copy of pipelines/demo.yaml (its data linked, not
copied) for configuration keys, checked with ``habitat validate`` (fast: headers only). Cases run
through ``habitat run`` start from a copy of a finished good output folder and assert that the
failing run leaves it byte-identical. A few cases are accepted on purpose (``ok``): they must exit
0, and may print a warning naming the key.

Run this file as a script (``PYTHONPATH=. python tests/test_bad_inputs_corpus.py``) to classify
every case as clean / unclear / traceback / silent without asserting.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import COLS, ORIGIN_X, ORIGIN_Y, RES, ROWS, UTM, tiny_codes, write_landcover, write_project  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    id: str
    base: str  # "tiny", "demo" or "central_asia"
    command: str  # "validate", "run" or "cli" (argv from the mutation)
    mutate: Callable
    expect: str  # text the one error line (or, for ok cases, the warning) must contain; "" = any
    ok: bool = False  # accepted legitimately: exit 0


CASES: list[Case] = []


def case(id: str, *, base: str = "tiny", command: str = "validate", expect: str = "", ok: bool = False):
    def register(mutate):
        CASES.append(Case(id, base, command, mutate, expect, ok))
        return mutate
    return register


def config(id: str, change: Callable[[dict], None], expect: str, *, base: str = "demo", command: str = "validate",
           ok: bool = False) -> None:
    """A case that only edits the pipeline's YAML mapping."""
    def mutate(project: Path, pipeline: Path):
        data = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
        change(data)
        pipeline.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    CASES.append(Case(id, base, command, mutate, expect, ok))


def _set(path: str, value):
    """A change setting one dotted key path (``stages.patches.threshold``; ``[i]`` indexes lists)."""
    def change(data: dict) -> None:
        parts = path.replace("[", ".[").split(".")
        node = data
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value
    return change


def _drop(path: str):
    def change(data: dict) -> None:
        parts = path.split(".")
        node = data
        for part in parts[:-1]:
            node = node[part]
        del node[parts[-1]]
    return change


NAN, INF = float("nan"), float("inf")

# -- configuration keys (demo pipeline, validate) ------------------------------------------------
config("resolution-text", _set("grid.resolution_m", "abc"), "grid.resolution_m")
config("resolution-zero", _set("grid.resolution_m", 0), "grid.resolution_m")
config("resolution-negative", _set("grid.resolution_m", -100), "grid.resolution_m")
config("resolution-nan", _set("grid.resolution_m", NAN), "grid.resolution_m")
config("resolution-inf", _set("grid.resolution_m", INF), "grid.resolution_m")
config("bounds-empty", _set("grid.bounds", []), "grid.bounds")
config("bounds-three", _set("grid.bounds", [1, 2, 3]), "grid.bounds")
config("bounds-inverted", _set("grid.bounds", [498000, 4758000, 422000, 4702000]), "grid.bounds")
config("bounds-nan", _set("grid.bounds", [422000, 4702000, NAN, 4758000]), "grid.bounds")
config("grid-missing", _drop("grid"), "grid")
config("name-missing", _drop("name"), "name")
config("name-spaces", _set("name", "my demo"), "name")
config("crs-empty", _set("grid.crs", ""), "grid.crs")
config("crs-number", _set("grid.crs", 123), "grid.crs")
config("crs-geographic", _set("grid.crs", "EPSG:4326"), "grid.crs")
config("landcover-empty", _set("inputs.landcover", []), "inputs.landcover")
config("landcover-three", lambda d: d["inputs"]["landcover"].append(
    {"path": "../data/demo/landcover_2020.tif", "year": 2010}), "inputs.landcover")
config("landcover-year-1800", _set("inputs.landcover[0].year", 1800), "inputs.landcover[0].year")
config("landcover-year-text", _set("inputs.landcover[0].year", "two thousand"), "inputs.landcover[0].year")
config("landcover-same-year", _set("inputs.landcover[1].year", 2000), "inputs.landcover")
config("landcover-product-unknown", _set("inputs.landcover[0].product", "corine"), "inputs.landcover[0].product")
config("landcover-band-zero", _set("inputs.landcover[0].band", 0), "inputs.landcover[0].band")
config("landcover-not-a-list", _set("inputs.landcover", "../data/demo/landcover_2020.tif"), "inputs.landcover")
config("rivers-missing", _drop("inputs.rivers"), "inputs.rivers")
config("inputs-unknown-key", _set("inputs.river", {"path": "../data/demo/rivers.gpkg"}), "inputs.river")
config("top-unknown-key", _set("outputs", "x"), "outputs")
config("stage-unknown", _set("stages.suitabilty", {}), "stages.suitabilty")
config("stages-a-list", _set("stages", ["ingest", "suitability"]), "stages")
config("stage-a-scalar", _set("stages.patches", "yes"), "stages.patches")
config("threshold-above-1", _set("stages.patches.threshold", 1.5), "stages.patches.threshold")
config("threshold-nan", _set("stages.patches.threshold", NAN), "stages.patches.threshold")
config("min-patch-negative", _set("stages.patches.min_patch_area_ha", -1), "stages.patches.min_patch_area_ha")
config("patch-neighbours-6", _set("stages.patches.neighbours", 6), "stages.patches.neighbours")
config("density-inf", _set("stages.patches.density_per_km2", INF), "stages.patches.density_per_km2")
config("min-resistance-zero", _set("stages.resistance.min_resistance", 0), "stages.resistance.min_resistance")
config("max-below-min-resistance", _set("stages.resistance.max_resistance", 0.5), "stages.resistance")
config("barrier-class-unknown", _set("stages.resistance.barrier_classes", {"forest": 5}),
       "stages.resistance.barrier_classes")
config("barrier-negative", _set("stages.resistance.barrier_classes", {"water": -5}), "stages.resistance.barrier_classes")
config("barrier-zero", _set("stages.resistance.barrier_classes", {"water": 0}), "stages.resistance.barrier_classes")
config("barrier-nan", _set("stages.resistance.barrier_classes", {"water": NAN}), "stages.resistance.barrier_classes")
config("canal-resistance-negative", _set("stages.resistance.canal_resistance", -1), "stages.resistance.canal_resistance")
config("barrier-radii-empty", _set("stages.connectivity.barrier_radii_m", []), "stages.connectivity.barrier_radii_m")
config("barrier-radii-negative", _set("stages.connectivity.barrier_radii_m", [-300]),
       "stages.connectivity.barrier_radii_m")
config("corridor-cutoff-inf", _set("stages.connectivity.corridor_cutoff", INF), "stages.connectivity.corridor_cutoff")
config("core-radius-text", _set("stages.connectivity.core_radius_m", "1 km"), "stages.connectivity.core_radius_m")
config("habitat-classes-empty", _set("stages.indicators.habitat_classes", []), "stages.indicators.habitat_classes")
config("habitat-classes-unknown", _set("stages.indicators.habitat_classes", ["forest"]),
       "stages.indicators.habitat_classes")
config("dispersal-nan", _set("stages.indicators.dispersal_distance_m", NAN), "stages.indicators.dispersal_distance_m")
config("report-language-xx", _set("stages.report.language", "xx"), "stages.report.language")
config("report-dpi-10", _set("stages.report.dpi", 10), "stages.report.dpi")
config("report-formats-empty", _set("stages.report.formats", []), "stages.report.formats")
config("report-formats-jpg", _set("stages.report.formats", ["jpg"]), "stages.report.formats")
config("sites-draws-zero", _set("stages.sites.n_draws", 0), "stages.sites.n_draws")
config("sites-criteria-empty", _set("stages.sites.criteria", []), "stages.sites.criteria")
config("sites-top-negative", _set("stages.sites.top_n", -1), "stages.sites.top_n")
config("sites-seed-float", _set("stages.sites.seed", 0.5), "stages.sites.seed")
config("weights-nan", _set("stages.suitability", {"ahp": None, "weights": {
    "habitat_class": NAN, "tugai_cover": 1, "water_distance_m": 1, "quality": 1}}), "stages.suitability.weights")
config("weights-negative", _set("stages.suitability", {"ahp": None, "weights": {
    "habitat_class": -1, "tugai_cover": 1, "water_distance_m": 1, "quality": 1}}), "stages.suitability.weights")
config("weights-inf", _set("stages.suitability", {"ahp": None, "weights": {
    "habitat_class": INF, "tugai_cover": 1, "water_distance_m": 1, "quality": 1}}), "stages.suitability.weights")
config("gamma-missing", _set("stages.suitability", {"combination": "fuzzy_gamma"}), "stages.suitability")
config("ahp-nan", _set("stages.suitability", {"ahp": {"matrix": [[1, NAN, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1],
                                                                   [1, 1, 1, 1]]}}), "stages.suitability.ahp")
config("ahp-negative", _set("stages.suitability", {"ahp": {"matrix": [[1, -2, 1, 1], [-0.5, 1, 1, 1], [1, 1, 1, 1],
                                                                        [1, 1, 1, 1]]}}), "stages.suitability.ahp")
config("threat-distance-zero", _set("stages.suitability", {"threats": {"roads": {
    "max_dist_m": 0, "weight": 1, "decay": "linear"}}}), "stages.suitability.threats.roads.max_dist_m")
config("criterion-param-nan", _set("stages.suitability", {"criteria": {
    "habitat_class": {"function": "class_scores", "class_scores": {"tugai_forest": 1}},
    "tugai_cover": {"function": "linear", "params": {"minimum": NAN, "maximum": 1}},
    "water_distance_m": {"function": "small", "params": {"midpoint": 1000, "spread": 3}},
    "quality": {"function": "linear", "params": {"minimum": 0, "maximum": 1}}}}), "stages.suitability.criteria.tugai_cover")
config("class-score-above-1", _set("stages.suitability", {"criteria": {
    "habitat_class": {"function": "class_scores", "class_scores": {"tugai_forest": 5}},
    "tugai_cover": {"function": "linear", "params": {"minimum": 0, "maximum": 1}},
    "water_distance_m": {"function": "small", "params": {"midpoint": 1000, "spread": 3}},
    "quality": {"function": "linear", "params": {"minimum": 0, "maximum": 1}}}}), "stages.suitability.criteria.habitat_class")
config("floodplain-inf", _set("stages.ingest.floodplain_buffer_m", INF), "stages.ingest.floodplain_buffer_m")
config("valley-height-nan", _set("stages.ingest.valley_height_m", NAN), "stages.ingest.valley_height_m")
config("omniscape-block-zero", _set("stages.omniscape.block_size", 0), "stages.omniscape.block_size")
config("omniscape-radius-nan", _set("stages.omniscape.radius_m", NAN), "stages.omniscape.radius_m")
config("translocation-source-negative", _set("stages.translocation.sources", {"P4": -5}),
       "stages.translocation.sources")
config("translocation-source-unknown", _set("stages.translocation.sources", {"PX": 60}),
       "stages.translocation.sources")
config("founders-reversed", _set("stages.translocation", {"min_founders": 60, "max_founders": 20}),
       "stages.translocation")
config("presence-covariates-empty", _set("stages.presence.covariates", []), "stages.presence.covariates")
config("restoration-budget-negative", _set("stages.restoration.budget_ha", -1), "stages.restoration.budget_ha")
config("scenario-to-class-unknown", _set("scenarios.reservoir[0].to_class", "lake"), "scenarios.reservoir[0].to_class")
config("scenario-from-classes-unknown", _set("scenarios.water_release[0].from_classes", ["fields"]),
       "scenarios.water_release[0].from_classes")
config("scenario-kind-unknown", _set("scenarios.reservoir[0].kind", "dam"), "scenarios.reservoir[0].kind")
config("scenario-name-spaces", lambda d: d["scenarios"].update({"big dam": d["scenarios"]["reservoir"]}), "scenarios")
config("scenario-path-missing", _set("scenarios.reservoir[0].path", "../data/demo/nope.gpkg"),
       "scenarios.reservoir[0].path")
config("scenario-layer-missing", _set("scenarios.reservoir[0].layer", "lake"), "scenarios.reservoir[0]")
config("scenario-not-a-list", _set("scenarios.reservoir", {"kind": "landcover"}), "scenarios.reservoir")
config("scenario-resistance-negative", _set("scenarios.reservoir[0]", {
    "kind": "barrier", "path": "../data/demo/scenario_reservoir.gpkg", "layer": "reservoir", "resistance": -1}),
    "scenarios.reservoir[0].resistance")
config("population-column-missing", _set("inputs.populations.id_column", "id"), "inputs.populations.id_column")
config("layer-missing", _set("inputs.rivers.layer", "streams"), "inputs.rivers")
config("known-places-column-missing", _set("inputs.known_places.x_column", "longitude"), "inputs.known_places.x_column")
config("known-places-crs-bad", _set("inputs.known_places.crs", "EPSG:999999"), "inputs.known_places.crs")
config("ca-resolution-zero", _set("grid.resolution_m", 0), "grid.resolution_m", base="central_asia")
config("ca-landcover-band-9", _set("inputs.landcover[0].band", 9), "inputs.landcover[0]", base="central_asia")


config("resolution-bool", _set("grid.resolution_m", True), "grid.resolution_m")
config("bounds-crs-mismatch", _set("grid.bounds_crs", "EPSG:4326"), "grid.bounds")
config("stages-empty", _set("stages", {}), "stages")
config("tugai-year-not-a-landcover-year", _set("inputs.tugai[0].year", 1990), "inputs.tugai[0].year", ok=True)
config("criterion-params-missing", _set("stages.suitability", {"criteria": {
    "habitat_class": {"function": "class_scores", "class_scores": {"tugai_forest": 1}},
    "tugai_cover": {"function": "linear", "params": {"minimum": 0, "maximum": 1}},
    "water_distance_m": {"function": "small", "params": {}},
    "quality": {"function": "linear", "params": {"minimum": 0, "maximum": 1}}}}),
    "stages.suitability.criteria.water_distance_m")
config("criterion-params-unknown", _set("stages.suitability", {"criteria": {
    "habitat_class": {"function": "class_scores", "class_scores": {"tugai_forest": 1}},
    "tugai_cover": {"function": "linear", "params": {"minimum": 0, "maximum": 1}},
    "water_distance_m": {"function": "small", "params": {"mid": 1000, "spread": 3}},
    "quality": {"function": "linear", "params": {"minimum": 0, "maximum": 1}}}}),
    "stages.suitability.criteria.water_distance_m")
config("basin-column-missing", _set("stages.translocation.basin_column", "basin"),
       "stages.translocation.basin_column")
config("historical-range-required-missing", _drop("inputs.historical_range"), "inputs.historical_range")
config("occurrences-required-missing", _drop("inputs.occurrences"), "inputs.occurrences")
config("known-places-missing-with-evaluation", _drop("inputs.known_places"), "inputs.known_places")
config("populations-missing-with-connectivity", _drop("inputs.populations"), "", ok=True)  # logged: no corridors
config("tiles-one-missing", _set("inputs.landcover[1].path", ["../data/demo/landcover_2020.tif",
                                                             "../data/demo/nope.tif"]), "inputs.landcover[1]")


@case("occurrences-empty-with-presence", base="demo", expect="stages.presence.n_folds")
def _occurrences_empty(project, pipeline):
    _gdf({"id": []}, []).to_file(pipeline.parent / "occ.gpkg", driver="GPKG")
    _edit(pipeline, lambda d: d["inputs"].update(occurrences={"path": "occ.gpkg"}))


@case("one-population-with-circuit", ok=True)  # logged: no corridors
def _one_population(project, pipeline):
    _edit(pipeline, lambda d: d["stages"].update(circuit={}))


@case("known-places-gpkg-missing-kind", expect="inputs.known_places.kind_column")
def _places_gpkg(project, pipeline):
    _layer(project, "places", _gdf({"place_id": ["K1"], "name": ["a"], "source": ["s"]}, [_point()]))
    _edit(pipeline, lambda d: d["inputs"].update(known_places={"path": "data/places.gpkg"}))


@case("crosswalk-csv-bad-columns", expect="crosswalk.csv")
def _crosswalk(project, pipeline):
    _data(project, "crosswalk.csv").write_text("code;klass\n10;tugai_forest\n")
    _edit(pipeline, lambda d: d["inputs"]["landcover"][1].update(product="data/crosswalk.csv"))


@case("crosswalk-csv-unknown-class", expect="crosswalk.csv")
def _crosswalk_class(project, pipeline):
    _data(project, "crosswalk.csv").write_text("code,habitat_class\n10,jungle\n")
    _edit(pipeline, lambda d: d["inputs"]["landcover"][1].update(product="data/crosswalk.csv"))


@case("from-after-to", command="cli", expect="--from")
def _from_after_to(project, pipeline):
    _edit(pipeline, lambda d: d["stages"].update(suitability={}))
    return ["run", pipeline, "--from", "suitability", "--to", "ingest", "--out", project / "out"]


# -- the pipeline file itself (validate) -----------------------------------------------------------
def _write(text: bytes | str):
    def mutate(project: Path, pipeline: Path):
        pipeline.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return mutate


CASES += [
    Case("yaml-list", "tiny", "validate", _write("- name: tiny\n- grid: {}\n"), "pipeline.yaml"),
    Case("yaml-scalar", "tiny", "validate", _write("just some words\n"), "pipeline.yaml"),
    Case("yaml-empty", "tiny", "validate", _write(""), "pipeline.yaml"),
    Case("yaml-binary", "tiny", "validate", _write(b"II*\x00\x08\x00\x00\x00\x00\x00\xff\xfe"), "pipeline.yaml"),
]


@case("yaml-tabs")
def _yaml_tabs(project: Path, pipeline: Path):
    pipeline.write_text(pipeline.read_text().replace("  resolution_m", "\tresolution_m"))


@case("yaml-duplicate-key", expect="resolution_m")
def _yaml_duplicate(project: Path, pipeline: Path):
    pipeline.write_text(pipeline.read_text().replace("grid:", "grid:\n  resolution_m: 30\n", 1))


@case("yaml-bom", ok=True)
def _yaml_bom(project: Path, pipeline: Path):
    pipeline.write_bytes(b"\xef\xbb\xbf" + pipeline.read_bytes())


@case("pipeline-missing", command="cli", expect="nope.yaml")
def _pipeline_missing(project: Path, pipeline: Path):
    return ["validate", project / "nope.yaml"]


@case("pipeline-a-folder", command="cli", expect="data")
def _pipeline_folder(project: Path, pipeline: Path):
    return ["validate", project / "data"]


@case("pipeline-symlink-loop", command="cli", expect="loop.yaml")
def _pipeline_loop(project: Path, pipeline: Path):
    (project / "loop.yaml").symlink_to(project / "loop.yaml")
    return ["run", project / "loop.yaml", "--out", project / "out"]


@case("pipeline-unreadable", command="cli", expect="pipeline.yaml")
def _pipeline_unreadable(project: Path, pipeline: Path):
    pipeline.chmod(0)
    return ["validate", pipeline]


# -- input files (tiny project) --------------------------------------------------------------------
def _data(project: Path, name: str) -> Path:
    return project / "data" / name


def _edit(pipeline: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(pipeline.read_text())
    change(data)
    pipeline.write_text(yaml.safe_dump(data, sort_keys=False))


@case("landcover-empty-file", expect="lc_2020.tif")
def _lc_empty(project, pipeline):
    _data(project, "lc_2020.tif").write_bytes(b"")


@case("landcover-truncated", expect="lc_2020.tif")
def _lc_truncated(project, pipeline):
    f = _data(project, "lc_2020.tif")
    f.write_bytes(f.read_bytes()[:400])


@case("landcover-no-crs", expect="lc_2020.tif")
def _lc_no_crs(project, pipeline):
    write_landcover(_data(project, "lc_2020.tif"), tiny_codes(2), crs=None)


@case("landcover-three-bands", expect="lc_2020.tif")
def _lc_three_bands(project, pipeline):
    import rasterio
    from rasterio.transform import from_origin

    codes = tiny_codes(2)
    with rasterio.open(_data(project, "lc_2020.tif"), "w", driver="GTiff", width=COLS, height=ROWS, count=3,
                       dtype="uint8", crs=UTM, transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)) as dst:
        dst.write(np.stack([codes, codes // 2, codes // 3]))


@case("landcover-all-nodata", command="run", expect="lc_2020.tif")
def _lc_all_nodata(project, pipeline):
    write_landcover(_data(project, "lc_2020.tif"), np.zeros((ROWS, COLS), np.uint8), nodata=0)


@case("landcover-elsewhere", expect="lc_2020.tif")
def _lc_elsewhere(project, pipeline):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(_data(project, "lc_2020.tif"), "w", driver="GTiff", width=COLS, height=ROWS, count=1,
                       dtype="uint8", crs=UTM, transform=from_origin(ORIGIN_X + 500_000, ORIGIN_Y, RES, RES),
                       nodata=0) as dst:
        dst.write(tiny_codes(2), 1)


@case("landcover-a-folder", expect="inputs.landcover[1]")
def _lc_folder(project, pipeline):
    _data(project, "lc_2020.tif").unlink()
    _data(project, "lc_2020.tif").mkdir()


@case("landcover-symlink-loop", expect="inputs.landcover[1]")
def _lc_loop(project, pipeline):
    _data(project, "lc_2020.tif").unlink()
    _data(project, "lc_2020.tif").symlink_to(_data(project, "lc_2020.tif"))


@case("landcover-unreadable", expect="lc_2020.tif")
def _lc_unreadable(project, pipeline):
    _data(project, "lc_2020.tif").chmod(0)


@case("landcover-text-file", expect="lc_2020.tif")
def _lc_text(project, pipeline):
    _data(project, "lc_2020.tif").write_text("this is not a raster\n")


@case("landcover-glob-no-match", expect="inputs.landcover[1]")
def _lc_glob(project, pipeline):
    _edit(pipeline, lambda d: d["inputs"]["landcover"][1].update(path="data/tiles_*.tif"))


def _gdf(columns: dict, geometry: list, crs=UTM):
    import warnings

    import geopandas as gpd

    gdf = gpd.GeoDataFrame(columns, geometry=geometry, crs=crs)
    if crs is None:  # pyogrio warns when it writes a layer without a CRS, which is the point here
        gdf.to_file = _quiet(gdf.to_file)
    return gdf


def _quiet(write):
    import warnings

    def quiet(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return write(*args, **kwargs)
    return quiet


def _point(dx: float = 2050, dy: float = -1250):
    import shapely

    return shapely.Point(ORIGIN_X + dx, ORIGIN_Y + dy)


def _layer(project: Path, name: str, gdf) -> None:
    path = _data(project, f"{name}.gpkg")
    path.unlink(missing_ok=True)
    gdf.to_file(path, driver="GPKG")


@case("rivers-no-features", ok=True, expect="inputs.rivers")
def _rivers_empty(project, pipeline):
    _layer(project, "rivers", _gdf({"name": []}, []))


@case("rivers-no-crs", expect="rivers.gpkg")
def _rivers_no_crs(project, pipeline):
    import shapely

    y = ORIGIN_Y - 12.5 * RES
    _layer(project, "rivers", _gdf({"name": ["R"]}, [shapely.LineString([(ORIGIN_X, y), (ORIGIN_X + 3000, y)])],
                                   crs=None))


@case("rivers-empty-file", expect="rivers.gpkg")
def _rivers_empty_file(project, pipeline):
    _data(project, "rivers.gpkg").write_bytes(b"")


@case("rivers-text-file", expect="rivers.gpkg")
def _rivers_text(project, pipeline):
    _data(project, "rivers.gpkg").write_text("not a geopackage")


@case("rivers-elsewhere", command="run", expect="rivers.gpkg")
def _rivers_elsewhere(project, pipeline):
    import shapely

    y = ORIGIN_Y - 12.5 * RES - 900_000
    _layer(project, "rivers", _gdf({"name": ["R"]}, [shapely.LineString([(ORIGIN_X, y), (ORIGIN_X + 3000, y)])]))


@case("tugai-invalid-geometry", command="run", ok=True)
def _tugai_bowtie(project, pipeline):
    import shapely

    x0, y0 = ORIGIN_X + 500, ORIGIN_Y - 1400
    bowtie = shapely.Polygon([(x0, y0), (x0 + 2000, y0 + 300), (x0 + 2000, y0), (x0, y0 + 300)])
    _layer(project, "tugai_2", _gdf({"type": ["forest"]}, [bowtie]))


@case("tugai-elsewhere", command="run", expect="tugai_2.gpkg")
def _tugai_elsewhere(project, pipeline):
    import shapely

    _layer(project, "tugai_2", _gdf({"type": ["forest"]}, [shapely.box(0, 0, 1000, 1000)]))


@case("populations-duplicate-ids", expect="populations.gpkg")
def _pop_duplicates(project, pipeline):
    _layer(project, "populations", _gdf({"site_id": ["P1", "P1"], "name": ["a", "b"], "count": [10, 20]},
                                        [_point(), _point(400)]))


@case("populations-empty-id", expect="populations.gpkg")
def _pop_empty_id(project, pipeline):
    _layer(project, "populations", _gdf({"site_id": ["P1", None], "name": ["a", "b"], "count": [10, 20]},
                                        [_point(), _point(400)]))


@case("populations-outside-grid", expect="populations.gpkg")
def _pop_outside(project, pipeline):
    _layer(project, "populations", _gdf({"site_id": ["P1"], "name": ["a"], "count": [10]},
                                        [_point(100_000, -100_000)]))


@case("populations-no-crs", expect="populations.gpkg")
def _pop_no_crs(project, pipeline):
    _layer(project, "populations", _gdf({"site_id": ["P1"], "name": ["a"], "count": [10]}, [_point()], crs=None))


@case("populations-count-inf", expect="populations.gpkg")
def _pop_inf(project, pipeline):
    _layer(project, "populations", _gdf({"site_id": ["P1"], "name": ["a"], "count": [INF]}, [_point()]))


@case("populations-layer-missing", expect="inputs.populations")
def _pop_layer(project, pipeline):
    _edit(pipeline, lambda d: d["inputs"]["populations"].update(layer="herds"))


@case("units-duplicate-ids", expect="units.gpkg")
def _units_duplicates(project, pipeline):
    import shapely

    _layer(project, "units", _gdf({"unit_id": ["A", "A"], "name": ["x", "y"]},
                                  [shapely.box(ORIGIN_X, ORIGIN_Y - 2400, ORIGIN_X + 1500, ORIGIN_Y),
                                   shapely.box(ORIGIN_X + 1500, ORIGIN_Y - 2400, ORIGIN_X + 3000, ORIGIN_Y)]))


@case("settlements-no-features", ok=True, expect="inputs.settlements")
def _settlements_empty(project, pipeline):
    _layer(project, "settlements", _gdf({"name": [], "population": []}, []))


CENSUS_OK = "site_id,year,count,method,source\nP1,2000,30,aerial,survey\nP1,2010,40,aerial,survey\n"


def _census(text: bytes | str):
    def mutate(project: Path, pipeline: Path):
        path = _data(project, "census.csv")
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        _edit(pipeline, lambda d: d["inputs"].update(census={"path": "data/census.csv"}))
    return mutate


CASES += [
    Case("census-missing-columns", "tiny", "validate", _census("site_id,year\nP1,2000\n"), "census.csv"),
    Case("census-semicolons", "tiny", "validate", _census(CENSUS_OK.replace(",", ";")), "census.csv"),
    Case("census-bom", "tiny", "validate", _census(b"\xef\xbb\xbf" + CENSUS_OK.encode()), "", ok=True),
    Case("census-latin1", "tiny", "validate",
         _census(CENSUS_OK.replace("survey", "caf\xe9").encode("latin-1")), "census.csv"),
    Case("census-empty", "tiny", "validate", _census(b""), "census.csv"),
    Case("census-count-negative", "tiny", "validate", _census(CENSUS_OK.replace("40", "-40")), "census.csv"),
    Case("census-year-text", "tiny", "validate", _census(CENSUS_OK.replace("2010", "soon")), "census.csv"),
    Case("census-duplicate-rows", "tiny", "validate", _census(CENSUS_OK + "P1,2010,45,aerial,survey\n"),
         "census.csv"),
    Case("census-unknown-site", "tiny", "validate", _census(CENSUS_OK + "P9,2010,45,aerial,survey\n"),
         "inputs.census", ok=True),
]

PLACES_OK = "place_id,name,kind,x,y,source\nK1,Reserve,reserve,501250,4698650,test\n"


def _places(text: bytes | str):
    def mutate(project: Path, pipeline: Path):
        _data(project, "places.csv").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        _edit(pipeline, lambda d: d["inputs"].update(known_places={
            "path": "data/places.csv", "x_column": "x", "y_column": "y", "crs": UTM}))
    return mutate


CASES += [
    Case("places-missing-columns", "tiny", "validate", _places("place_id,x,y\nK1,1,2\n"), "places.csv"),
    Case("places-semicolons", "tiny", "validate", _places(PLACES_OK.replace(",", ";")), "places.csv"),
    Case("places-bom", "tiny", "validate", _places(b"\xef\xbb\xbf" + PLACES_OK.encode()), "", ok=True),
    Case("places-latin1", "tiny", "validate", _places(PLACES_OK.replace("Reserve", "R\xe9serve").encode("latin-1")),
         "places.csv"),
    Case("places-empty", "tiny", "validate", _places(b""), "places.csv"),
    Case("places-coordinate-text", "tiny", "validate", _places(PLACES_OK.replace("501250", "east")), "places.csv"),
    Case("places-coordinate-empty", "tiny", "validate", _places(PLACES_OK.replace("501250", "")), "places.csv"),
]


@case("elevation-no-crs", expect="dem.tif")
def _dem_no_crs(project, pipeline):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(_data(project, "dem.tif"), "w", driver="GTiff", width=COLS, height=ROWS, count=1,
                       dtype="float32", transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)) as dst:
        dst.write(np.full((ROWS, COLS), 300, np.float32), 1)
    _edit(pipeline, lambda d: d["inputs"].update(elevation={"path": "data/dem.tif"}))


@case("elevation-truncated", expect="dem.tif")
def _dem_truncated(project, pipeline):
    _data(project, "dem.tif").write_bytes(_data(project, "lc_2000.tif").read_bytes()[:300])
    _edit(pipeline, lambda d: d["inputs"].update(elevation={"path": "data/dem.tif"}))


# -- run-time cases: a scenario, --out --------------------------------------------------------------
@case("scenario-layer-unknown-class", command="run", expect="scenarios.dam[0].to_class")
def _scenario_class(project, pipeline):
    import shapely

    _layer(project, "dam", _gdf({"name": ["d"]}, [shapely.box(ORIGIN_X, ORIGIN_Y - 1400, ORIGIN_X + 900, ORIGIN_Y - 1000)]))
    _edit(pipeline, lambda d: d.update(scenarios={"dam": [{"kind": "landcover", "path": "data/dam.gpkg",
                                                           "to_class": "lake"}]}))


@case("out-is-the-input-folder", command="cli", expect="--out")
def _out_input_folder(project, pipeline):
    return ["run", pipeline, "--out", project / "data"]


@case("out-inside-an-input-folder", command="cli", ok=True)
def _out_inside_input(project, pipeline):
    return ["run", pipeline, "--out", project / "data" / "results"]


@case("out-holds-the-inputs", command="cli", expect="--out")
def _out_parent(project, pipeline):
    return ["run", pipeline, "--out", project]


@case("out-is-an-input-file", command="cli", expect="--out")
def _out_input_file(project, pipeline):
    return ["run", pipeline, "--out", _data(project, "lc_2000.tif")]


# -- command line ------------------------------------------------------------------------------------
def _argv(*args):
    def mutate(project: Path, pipeline: Path):
        return [str(a).format(project=project, pipeline=pipeline) for a in args]
    return mutate


CASES += [
    Case("cli-unknown-command", "tiny", "cli", _argv("frobnicate"), "frobnicate"),
    Case("cli-unknown-option", "tiny", "cli", _argv("run", "{pipeline}", "--fast"), "--fast"),
    Case("cli-run-no-pipeline", "tiny", "cli", _argv("run"), "pipeline"),
    Case("cli-report-language-xx", "tiny", "cli", _argv("report", "{project}", "--language", "xx"), "--language"),
    Case("cli-report-no-manifest", "tiny", "cli", _argv("report", "{project}"), "manifest"),
    Case("cli-report-missing-folder", "tiny", "cli", _argv("report", "{project}/nope"), "nope"),
    Case("cli-only-unknown-stage", "tiny", "cli", _argv("run", "{pipeline}", "--only", "magic", "--out",
                                                        "{project}/out"), "--only"),
    Case("cli-log-file-in-a-file", "tiny", "cli", _argv("--log-file", "{pipeline}/log.txt", "validate", "{pipeline}"),
         "--log-file"),
    Case("cli-circuit-missing-ini", "tiny", "cli", _argv("circuit", "{project}/job.ini"), "job.ini"),
    Case("cli-omniscape-missing-ini", "tiny", "cli", _argv("omniscape", "{project}/job.ini"), "job.ini"),
]


def _ini(text: str, command: str = "omniscape"):
    def mutate(project: Path, pipeline: Path):
        import rasterio
        from rasterio.transform import from_origin

        for name in ("r.asc", "s.asc"):
            with rasterio.open(project / name, "w", driver="AAIGrid", width=6, height=6, count=1, dtype="float32",
                               transform=from_origin(0, 6, 1, 1), nodata=-9999) as dst:
                dst.write(np.ones((6, 6), np.float32), 1)
        (project / "job.ini").write_text(text)
        return [command, project / "job.ini", "--output-dir", project / "res"]
    return mutate


OMNI = "[Required]\nresistance_file = r.asc\nradius = 2\nproject_name = res\nsource_from_resistance = true\n"
CS = ("[Options for pairwise and one-to-all and all-to-one modes]\n[Circuitscape mode]\nscenario = pairwise\n"
      "data_type = raster\n[Habitat raster or graph]\nhabitat_file = r.asc\n[Options for pairwise and "
      "one-to-all and all-to-one modes]\npoint_file = s.asc\n[Output options]\noutput_file = res/out.out\n")
CASES += [
    Case("omniscape-unknown-key", "tiny", "cli", _ini(OMNI + "radious = 3\n"), "radious"),
    Case("omniscape-foreign-key", "tiny", "cli", _ini(OMNI + "foo = something\n"), "unsupported options ignored: foo",
         ok=True),
    Case("omniscape-radius-text", "tiny", "cli", _ini(OMNI.replace("radius = 2", "radius = far")), "radius"),
    Case("omniscape-radius-zero", "tiny", "cli", _ini(OMNI.replace("radius = 2", "radius = 0")), "radius"),
    Case("omniscape-no-resistance", "tiny", "cli", _ini(OMNI.replace("resistance_file = r.asc\n", "")),
         "resistance_file"),
    Case("omniscape-resistance-missing", "tiny", "cli", _ini(OMNI.replace("r.asc", "none.asc")), "none.asc"),
    Case("omniscape-block-even-text", "tiny", "cli", _ini(OMNI + "block_size = big\n"), "block_size"),
    Case("omniscape-bool-bad", "tiny", "cli", _ini(OMNI + "calc_flow_potential = maybe\n"), "calc_flow_potential"),
    Case("omniscape-not-ini", "tiny", "cli", _ini("radius 2\n"), "job.ini"),
    Case("circuit-unknown-mode", "tiny", "cli", _ini(CS.replace("= pairwise", "= twowise"), "circuit"), "scenario"),
    Case("circuit-habitat-missing", "tiny", "cli", _ini(CS.replace("habitat_file = r.asc", "habitat_file = x.asc"),
                                                        "circuit"), "x.asc"),
    Case("circuit-not-ini", "tiny", "cli", _ini("just text\n", "circuit"), "job.ini"),
]


def _grid_ini(grid_text: str, command: str = "circuit", expect_name: str = "r.asc"):
    """A job whose resistance grid is ``grid_text`` (an ASCII grid, possibly broken)."""
    base = _ini(OMNI if command == "omniscape" else CS, command)

    def mutate(project: Path, pipeline: Path):
        argv = base(project, pipeline)
        (project / "r.asc").write_text(grid_text)
        if command == "circuit":  # two focal points on a good 6 x 6 grid
            (project / "s.asc").write_text(_ASC_HEADER + "\n".join(
                " ".join("1" if (r, c) == (0, 0) else "2" if (r, c) == (5, 5) else "-9999" for c in range(6))
                for r in range(6)) + "\n")
        return argv
    return mutate


_ASC_HEADER = "ncols 6\nnrows 6\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n"
_ONES = "\n".join(" ".join(["1"] * 6) for _ in range(6)) + "\n"
CASES += [
    Case("asc-short-rows", "tiny", "cli", _grid_ini(_ASC_HEADER + "\n".join(" ".join(["1"] * 6) for _ in range(4))),
         "r.asc"),
    Case("asc-text-cell", "tiny", "cli", _grid_ini(_ASC_HEADER + _ONES.replace("1", "x", 1)), "r.asc"),
    Case("asc-cellsize-zero", "tiny", "cli", _grid_ini(_ASC_HEADER.replace("cellsize 1", "cellsize 0") + _ONES),
         "r.asc"),
    Case("asc-ncols-text", "tiny", "cli", _grid_ini(_ASC_HEADER.replace("ncols 6", "ncols six") + _ONES), "r.asc"),
    Case("asc-no-header", "tiny", "cli", _grid_ini(_ONES), "r.asc"),
    Case("asc-all-nodata", "tiny", "cli", _grid_ini(_ASC_HEADER + _ONES.replace("1", "-9999")), "r.asc"),
    Case("asc-negative", "tiny", "cli", _grid_ini(_ASC_HEADER + _ONES.replace("1", "-3", 1)), "r.asc"),
    Case("omniscape-asc-short-rows", "tiny", "cli",
         _grid_ini(_ASC_HEADER + "\n".join(" ".join(["1"] * 6) for _ in range(4)), "omniscape"), "r.asc"),
    Case("omniscape-asc-negative", "tiny", "cli", _grid_ini(_ASC_HEADER + _ONES.replace("1", "-3", 1), "omniscape"),
         "r.asc"),
    Case("omniscape-asc-all-nodata", "tiny", "cli",
         _grid_ini(_ASC_HEADER + _ONES.replace("1", "-9999"), "omniscape"), "r.asc"),
    Case("omniscape-radius-inf", "tiny", "cli", _ini(OMNI.replace("radius = 2", "radius = inf")), "radius"),
    Case("omniscape-radius-huge", "tiny", "cli", _ini(OMNI.replace("radius = 2", "radius = 1e12")), "radius"),
]


def _report_of(manifest: str | None):
    def mutate(project: Path, pipeline: Path):
        out = project / "out"
        out.mkdir()
        if manifest is not None:
            (out / "manifest.json").write_text(manifest)
        return ["report", out]
    return mutate


CASES += [
    Case("report-manifest-not-json", "tiny", "cli", _report_of("{not json"), "manifest.json"),
    Case("report-manifest-a-list", "tiny", "cli", _report_of("[]"), "manifest.json"),
    Case("report-manifest-no-stages", "tiny", "cli", _report_of('{"pipeline": "x"}'), "manifest.json"),
    Case("report-out-a-file", "tiny", "cli", _argv("report", "{pipeline}"), "pipeline.yaml"),
]


@case("tugai-null-geometries", command="run", expect="tugai_2.gpkg", ok=True)
def _tugai_null(project, pipeline):
    _layer(project, "tugai_2", _gdf({"type": ["forest", "forest"]}, [None, None]))


@case("landcover-rotated", command="run", ok=True)  # GDAL warps rotated grids
def _lc_rotated(project, pipeline):
    import rasterio
    from affine import Affine

    with rasterio.open(_data(project, "lc_2020.tif"), "w", driver="GTiff", width=COLS, height=ROWS, count=1,
                       dtype="uint8", crs=UTM, nodata=0,
                       transform=Affine(RES, 20.0, ORIGIN_X, 20.0, -RES, ORIGIN_Y)) as dst:
        dst.write(tiny_codes(2), 1)


@case("landcover-is-a-vector", expect="inputs.landcover[1]")
def _lc_vector(project, pipeline):
    _edit(pipeline, lambda d: d["inputs"]["landcover"][1].update(path="data/rivers.gpkg"))


@case("rivers-is-a-raster", expect="inputs.rivers")
def _rivers_raster(project, pipeline):
    _edit(pipeline, lambda d: d["inputs"]["rivers"].update(path="data/lc_2000.tif"))


@case("out-below-a-file", command="cli", expect="--out")
def _out_below_file(project, pipeline):
    return ["run", pipeline, "--out", project / "pipeline.yaml" / "out"]


@case("places-duplicate-ids", expect="places.csv")
def _places_duplicates(project, pipeline):
    _places(PLACES_OK + "K1,Other,reserve,501350,4698650,test\n")(project, pipeline)


@case("scenario-edit-outside", command="run", expect="scenarios.dam[0]")
def _scenario_outside(project, pipeline):
    import shapely

    _layer(project, "dam", _gdf({"name": ["d"]}, [shapely.box(0, 0, 1000, 1000)]))
    _edit(pipeline, lambda d: d.update(scenarios={"dam": [{"kind": "landcover", "path": "data/dam.gpkg",
                                                           "to_class": "water"}]}))


@case("elevation-all-nodata", command="run", expect="dem.tif")
def _dem_nodata(project, pipeline):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(_data(project, "dem.tif"), "w", driver="GTiff", width=COLS, height=ROWS, count=1,
                       dtype="float32", crs=UTM, nodata=-9999.0,
                       transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES)) as dst:
        dst.write(np.full((ROWS, COLS), -9999.0, np.float32), 1)
    _edit(pipeline, lambda d: d["inputs"].update(elevation={"path": "data/dem.tif"}))


@case("populations-a-csv", expect="inputs.populations")
def _pop_csv(project, pipeline):
    _data(project, "sites.csv").write_text("site_id,name,count\nP1,a,10\n")
    _edit(pipeline, lambda d: d["inputs"]["populations"].update(path="data/sites.csv"))


@case("rivers-shapefile-no-prj", expect="rivers.shp")
def _rivers_shp(project, pipeline):
    import shapely

    y = ORIGIN_Y - 12.5 * RES
    _gdf({"name": ["R"]}, [shapely.LineString([(ORIGIN_X, y), (ORIGIN_X + 3000, y)])]).to_file(
        _data(project, "rivers.shp"))
    _data(project, "rivers.prj").unlink()
    _edit(pipeline, lambda d: d["inputs"].update(rivers={"path": "data/rivers.shp"}))


@case("rivers-geojson-broken", expect="rivers.geojson")
def _rivers_geojson(project, pipeline):
    _data(project, "rivers.geojson").write_text('{"type": "FeatureCollection", "features": [')
    _edit(pipeline, lambda d: d["inputs"].update(rivers={"path": "data/rivers.geojson"}))


# -- the harness -------------------------------------------------------------------------------------
def _make_base(base: str, root: Path) -> tuple[Path, Path]:
    """A project folder and its pipeline file for ``base`` (demo data linked, not copied)."""
    project = root / "project"
    if base == "tiny":
        return project, write_project(project)
    (project / "pipelines").mkdir(parents=True)
    (project / "data").symlink_to(REPO / "data", target_is_directory=True)
    pipeline = project / "pipelines" / f"{base}.yaml"
    shutil.copy(REPO / "pipelines" / f"{base}.yaml", pipeline)
    return project, pipeline


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and os.access(p, os.R_OK)}


def _listing(folder: Path) -> list[str]:
    """Every path under ``folder`` (not following links), to see that a failing run wrote nothing."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_case(c: Case, root: Path, good_out: Path | None) -> dict:
    """Run one case in this process; returns code, stderr, the exception (if any escaped) and
    whether an earlier good output folder was left unchanged."""
    from habitat import cli

    project, pipeline = _make_base(c.base, root)
    argv = c.mutate(project, pipeline)
    out = root / "out"
    if c.command == "validate":
        argv = ["validate", pipeline]
    elif c.command == "run":
        shutil.copytree(good_out, out)
        argv = ["run", pipeline, "--out", out]
    before = _bytes(out) if out.exists() else None
    project_before = _listing(project) if c.base == "tiny" else None
    err, std = io.StringIO(), io.StringIO()
    escaped = None
    code = None
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with redirect_stderr(err), redirect_stdout(std):
            cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001 - a traceback is what the corpus looks for
        escaped = exc
    finally:
        os.chdir(cwd)
    unchanged = before is None or (out.exists() and _bytes(out) == before)
    if not c.ok and project_before is not None:
        unchanged = unchanged and _listing(project) == project_before  # nothing written beside the inputs
    return {"code": code, "err": err.getvalue(), "out": std.getvalue(), "escaped": escaped, "unchanged": unchanged}


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def error_lines(err: str) -> list[str]:
    """stderr without warnings and progress lines (timestamped when piped): what is left must be
    the one error line."""
    return [line for line in err.strip().splitlines()
            if line.strip() and not line.startswith("warning:") and not _LOG_LINE.match(line)]


def classify(c: Case, r: dict) -> str:
    err = r["err"]
    if r["escaped"] is not None or "Traceback" in err:
        return "traceback"
    errors = [line for line in err.splitlines() if line.startswith(("error:", "Error:", "Usage:", "Try "))
              or "Error" in line[:12]]
    if c.ok:
        if r["code"] in (0, None) and (not c.expect or c.expect in err):
            return "ok"
        return "rejected-ok"
    if r["code"] in (0, None):
        return "silent"
    if r["code"] != 2 or not r["unchanged"]:
        return "unclear"
    lines = error_lines(err)
    if len(lines) != 1 or (c.expect and c.expect not in lines[0]):
        return "unclear"
    return "clean"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


_SKIP_AS_ROOT = {"pipeline-unreadable", "landcover-unreadable"}


@pytest.fixture(scope="module")
def good_output(tmp_path_factory):
    from habitat.stages.runner import run_pipeline

    root = tmp_path_factory.mktemp("corpus-good")
    pipeline = write_project(root / "project")
    run_pipeline(pipeline, root / "out")
    return root / "out"


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clean_line(c: Case, tmp_path, good_output):
    if c.id in _SKIP_AS_ROOT and _is_root():
        pytest.skip("running as root: chmod 000 does not stop root from reading")
    r = run_case(c, tmp_path, good_output if c.command == "run" else None)
    assert r["escaped"] is None, f"{type(r['escaped']).__name__}: {r['escaped']}"
    assert "Traceback" not in r["err"], r["err"]
    if c.ok:
        assert r["code"] in (0, None), r["err"]
        assert c.expect in r["err"]
        return
    lines = error_lines(r["err"])
    assert r["code"] == 2, r["err"] + r["out"]
    assert len(lines) == 1, r["err"]
    assert c.expect in lines[0], lines[0]
    assert r["unchanged"], "the failing run wrote files or changed the earlier good output folder"


if __name__ == "__main__":
    import tempfile
    from collections import Counter

    from habitat.stages.runner import run_pipeline

    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        good = tmp / "good"
        run_pipeline(write_project(good / "project"), good / "out")
        counts: Counter = Counter()
        for i, c in enumerate(CASES):
            if only and c.id not in only:
                continue
            if c.id in _SKIP_AS_ROOT and _is_root():
                counts["skipped"] += 1
                print(f"{'skipped':10} {c.id}")
                continue
            root = tmp / f"case{i}"
            root.mkdir()
            r = run_case(c, root, good / "out")
            kind = classify(c, r)
            counts[kind] += 1
            detail = (f"{type(r['escaped']).__name__}: {str(r['escaped'])[:150]}" if r["escaped"] is not None
                      else " | ".join(r["err"].strip().splitlines()[-3:])[:220])
            print(f"{kind:10} {c.id:34} code={r['code']} {detail}", flush=True)
        print(f"{len(CASES)} cases: {dict(counts)}")
