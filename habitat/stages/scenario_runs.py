"""Scenario runs: each scenario of a pipeline into OUT/scenarios/<name>/, sharing the cache, and
the comparison table OUT/scenarios/comparison.csv."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from habitat.config import Pipeline
from habitat.stages.cache import file_sha256

SCENARIO_DIR = "scenarios"
COMPARISON_FILE = "comparison.csv"


def _output(out_dir: Path, stage_id: str, layer_id: str) -> Path | None:
    try:
        record = json.loads((out_dir / stage_id / "_stage.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    info = record["outputs"].get(layer_id)
    return None if info is None else out_dir / info["path"]


def _raster(path: Path | None) -> np.ndarray | None:
    from habitat.io.rasters import open_raster, read_band
    if path is None:
        return None
    with open_raster(path) as ds:
        return read_band(ds)


def _unit_of(points_xy, units) -> list[str | None]:
    """unit_id of the reporting unit holding each point (None outside every unit)."""
    import numpy as np
    import shapely
    if units is None or not len(units):
        return [None] * len(points_xy)
    tree = shapely.STRtree(units.geometry.to_numpy())
    ids = units["unit_id"].astype(str).to_numpy()
    out = []
    for x, y in points_xy:
        if not (np.isfinite(x) and np.isfinite(y)):
            out.append(None)
            continue
        hit = tree.query(shapely.Point(x, y), predicate="within")
        out.append(ids[hit[0]] if len(hit) else None)
    return out


def run_tables(out_dir: Path) -> RunTables:
    """The comparison inputs of one output folder (missing outputs stay None)."""
    from habitat.io.tables import read_table
    from habitat.io.vectors import read_vector
    from habitat.planning.comparison import RunTables
    indicators = _output(out_dir, "indicators", "indicators")
    if indicators is None:
        raise FileNotFoundError(f"{out_dir}: no indicators table; scenarios are compared on the indicators stage")
    units_path = _output(out_dir, "ingest", "reporting_units")
    units = read_vector(units_path) if units_path else None
    tables = RunTables(indicators=read_table(indicators))
    links = _output(out_dir, "connectivity", "links")
    tables.links = read_table(links) if links else None
    pops_path = _output(out_dir, "ingest", "populations")
    if pops_path is not None:
        pops = read_vector(pops_path)
        tables.population_unit = dict(zip(pops["site_id"].astype(str),
                                          _unit_of(zip(pops.geometry.x, pops.geometry.y), units)))
    sites = _output(out_dir, "sites", "site_ranking")
    if sites is not None:
        tables.sites = read_table(sites)
        tables.candidates = _raster(_output(out_dir, "sites", "candidates"))
        tables.site_unit = dict(zip(tables.sites["site_id"].astype(str),
                                    _unit_of(zip(tables.sites["centre_x"], tables.sites["centre_y"]), units)))
    tables.classes = _raster(_output(out_dir, "ingest", "habitat_class_current"))
    unit_raster = _raster(_output(out_dir, "ingest", "reporting_unit"))
    if unit_raster is not None and units is not None:
        tables.unit_masks = {str(u): unit_raster == int(i) for u, i in zip(units["unit_id"], units["unit_index"])}
    return tables


def write_comparison(base_dir: Path, scenario_root: Path, names: list[str]) -> Path:
    """``scenario_root``/comparison.csv from the baseline folder and each scenario folder."""
    from habitat.io.tables import write_table
    from habitat.planning.comparison import scenario_comparison
    runs = {"baseline": run_tables(base_dir)}
    runs.update({name: run_tables(scenario_root / name) for name in names})
    path = scenario_root / COMPARISON_FILE
    write_table(scenario_comparison(runs), path)
    return path


def run_scenarios(pipeline_path: Path, pipeline: Pipeline, out_dir: Path, work: Path, *, force: bool = False,
                  on_stage_start: Callable | None = None, on_stage_end: Callable | None = None
                  ) -> tuple[list, dict[str, str]]:
    """Run every scenario into OUT/scenarios/<name>/ and write the comparison.

    ``work`` holds the baseline run just finished (the runner's staging folder): stages with
    unchanged inputs are reused from it or from a scenario run before. ``work/scenarios`` is
    linked to OUT/scenarios so the report, drawn in ``work``, finds them. Returns the stage
    results (ids prefixed ``<scenario>/``) and, for the manifest, the sha256 of each scenario's
    manifest and of the comparison.
    """
    from habitat.stages.runner import run_pipeline

    root = out_dir / SCENARIO_DIR
    results, done, summary = [], [work], {}
    for name in pipeline.scenarios:
        start = (lambda sid, n=name: on_stage_start(f"{n}/{sid}")) if on_stage_start else None

        def end(result, n=name):
            result.id = f"{n}/{result.id}"
            if on_stage_end:
                on_stage_end(result)

        run = run_pipeline(pipeline_path, root / name, force=force, scenario=name, cache_dirs=tuple(done),
                           on_stage_start=start, on_stage_end=end)
        results += run.stages
        done.append(root / name)
        summary[name] = file_sha256(root / name / "manifest.json")
    if (work / "indicators" / "_stage.json").exists():
        summary[COMPARISON_FILE] = file_sha256(write_comparison(work, root, list(pipeline.scenarios)))
    with contextlib.suppress(OSError):
        (work / SCENARIO_DIR).symlink_to(root.resolve(), target_is_directory=True)
    return results, summary
