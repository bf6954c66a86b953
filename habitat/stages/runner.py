"""Run a pipeline: resolve the grid, order the stages, reuse cached outputs, write atomically."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import habitat
from habitat.compute import dask_scheduler
from habitat.config import Pipeline, load_pipeline
from habitat.errors import ConfigError, HabitatError, StageContractError
from habitat.grid import GridSpec, grid_size_problem, parse_crs
from habitat.io.atomic import write_text_atomic
from habitat.io.checks import input_problems, out_dir_problem
from habitat.stages.cache import code_sha256, file_sha256, input_sha256, params_json, stage_key
from habitat.stages.registry import STAGES, execution_order, get_stage, producers
from habitat.stages.spec import LayerSpec, StageContext, StageSpec

log = logging.getLogger("habitat")

STAGE_RECORD = "_stage.json"
_OUTPUT_SUFFIXES = {".tif", ".gpkg", ".csv", ".xlsx"}
#: Lock file of a running run (holds its PID) and prefixes of a run's private working folders.
LOCK_FILE = ".lock"
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".replaced-"


class OutputFolderBusyError(HabitatError):
    """Another habitat run is writing into the same output folder."""


class OutputFolderError(HabitatError):
    """The output folder is a file or cannot be written."""


def prepare_out_dir(out_dir: Path) -> bool:
    """Create ``out_dir`` if needed (return whether it was created); a file or an unwritable
    folder is a user error named after ``--out``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"--out {out_dir}: is a file, not a folder; choose another output folder")
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(
            f"--out {out_dir}: cannot create the folder ({exc.strerror}); choose a writable output folder") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputFolderError(f"--out {out_dir}: folder is not writable; choose a writable output folder")
    return created


def check_out_dir_writable(out_dir: Path) -> None:
    """Refuse, before the disk-space check reads a pseudo or read-only file system's free space
    as "0 B free", an output folder that cannot be written (a file is left to prepare_out_dir)."""
    from habitat.io.atomic import unwritable_reason

    if out_dir.exists() and not out_dir.is_dir():
        return
    reason = unwritable_reason(out_dir)
    if reason is not None:
        raise OutputFolderError(f"--out {out_dir}: {reason}; choose a writable output folder")


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``OUT/.lock`` (which holds our PID) for the whole run.

    A second run into the same folder fails at once with :class:`OutputFolderBusyError` naming
    the PID of the running one. The file is removed on release; a run that locked a file that
    was just removed (the previous holder finishing) retries on the new file.
    """
    import fcntl

    path = out_dir / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise OutputFolderBusyError(
                f"--out {out_dir}: the folder was removed while this run started (by another habitat run "
                f"that failed?); run again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputFolderBusyError(
                f"--out {out_dir}: another habitat run (PID {holder}) is writing into this folder; "
                f"wait for it to finish or choose another output folder") from None
        try:
            current = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def _link_tree(source: Path, target: Path) -> None:
    """Mirror ``source`` into ``target`` with hard links (copies where linking fails).

    Safe because every writer replaces a file by renaming a new one onto it (habitat.io.atomic),
    so a file in the staging folder is never modified in place.
    """
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir():
            (target / rel).mkdir(parents=True, exist_ok=True)
        elif path.is_file() and ".partial" not in path.name:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target / rel)
            except OSError:
                shutil.copy2(path, target / rel)


def _remove_leftovers(out_dir: Path) -> None:
    """Working folders of runs that were killed (we hold the lock, so none is running)."""
    for path in out_dir.iterdir():
        if path.is_dir() and path.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX)):
            shutil.rmtree(path, ignore_errors=True)


def _commit(work: Path, out_dir: Path, changed: list[str]) -> None:
    """Move the changed stage folders and then the manifest from ``work`` into ``out_dir``."""
    trash = out_dir / f"{_TRASH_PREFIX}{os.getpid()}"
    trash.mkdir()
    for name in changed:
        if (out_dir / name).exists():
            os.replace(out_dir / name, trash / name)
        if (work / name).exists():
            os.replace(work / name, out_dir / name)
    os.replace(work / "manifest.json", out_dir / "manifest.json")
    shutil.rmtree(trash, ignore_errors=True)


def _degrees_as_metres_problem(cfg: Any, probe: GridSpec, bounds: tuple) -> str | None:
    """Bounds (``cfg.bounds``; ``bounds`` in the grid CRS) in a projected CRS that make a grid of
    less than two cells a side and whose numbers all lie within
    +-180 are longitude/latitude given without grid.bounds_crs (the grid-size check would blame
    the cell size for the one-cell grid they make)."""
    from habitat.grid import MIN_CELLS_PER_SIDE

    crs = parse_crs(cfg.bounds_crs, "grid.bounds_crs") if cfg.bounds_crs is not None else probe.pyproj_crs
    xmin, ymin, xmax, ymax = cfg.bounds
    if crs.is_geographic or max(abs(v) for v in cfg.bounds) > 180:
        return None
    try:  # the grid the bounds make (snapped outwards to whole cells), as the size check sees it
        shape = GridSpec.from_bounds(bounds, probe.crs, cfg.resolution_m).shape
    except Exception:  # noqa: BLE001 - a grid that cannot be made is a size problem either way
        shape = (0, 0)
    if min(shape) >= MIN_CELLS_PER_SIDE:
        return None
    where = f"grid.bounds_crs {cfg.bounds_crs}" if cfg.bounds_crs is not None else f"the grid CRS ({cfg.crs})"
    return (f"grid.bounds: {list(cfg.bounds)} span only {xmax - xmin:g} x {ymax - ymin:g} units of {where}; they "
            f"look like longitude/latitude: set grid.bounds_crs: EPSG:4326, or give the bounds in that CRS")


def resolve_grid(pipeline: Pipeline) -> GridSpec:
    """The analysis grid of a pipeline: its bounds, or the extent of the current land cover."""
    from habitat.io.rasters import open_raster
    from rasterio.warp import transform_bounds
    cfg = pipeline.grid
    probe = GridSpec.from_bounds((0, 0, 1, 1), cfg.crs, cfg.resolution_m)  # validates crs, resolution
    if cfg.bounds is not None:
        bounds = cfg.bounds
        if cfg.bounds_crs is not None:
            bounds_crs = parse_crs(cfg.bounds_crs, "grid.bounds_crs").to_wkt()
            bounds = transform_bounds(bounds_crs, probe.pyproj_crs.to_wkt(), *bounds, densify_pts=21)
            if not all(math.isfinite(v) for v in bounds):
                raise ConfigError(f"grid.bounds: {list(cfg.bounds)} are not coordinates in grid.bounds_crs "
                                  f"{cfg.bounds_crs!r} (they do not project); give the bounds in that CRS")
        problem = _degrees_as_metres_problem(cfg, probe, bounds)
        if problem:
            raise ConfigError(problem)
    else:
        current = max(pipeline.inputs.landcover, key=lambda item: item.year)
        boxes = []
        for source in current.sources:  # the union of the tiles of a tiled land cover
            with open_raster(source) as ds:
                boxes.append(transform_bounds(ds.crs, probe.pyproj_crs.to_wkt(), *ds.bounds, densify_pts=21))
        bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    return GridSpec.from_bounds(bounds, probe.crs, cfg.resolution_m)


def check_grid_size(grid: GridSpec, order: list[str], out_dir: Path) -> None:
    """Refuse, before anything is allocated, a grid this machine cannot hold (grid.resolution_m)."""
    rasters = sum(1 for stage_id in order for spec in get_stage(stage_id).outputs if spec.kind == "raster")
    problem = grid_size_problem(grid.shape, grid.resolution, raster_outputs=rasters, out_dir=out_dir)
    if problem:
        raise ConfigError(problem)


def selected_stages(
    pipeline: Pipeline, *, only: str | None = None, from_stage: str | None = None, to_stage: str | None = None
) -> list[str]:
    """The stages to run, in order: those configured in the pipeline (plus dependencies),
    narrowed by ``only`` or by the ``from``/``to`` range of that order."""
    configured = {name for name, value in pipeline.stages if value is not None}
    order = execution_order(configured)
    for option, value in (("--only", only), ("--from", from_stage), ("--to", to_stage)):
        if value is not None and value not in order:
            raise ConfigError(f"{option} {value}: not a stage of this pipeline; choose one of {', '.join(order)}")
    if only is not None:
        return [only]
    start = order.index(from_stage) if from_stage else 0
    stop = order.index(to_stage) + 1 if to_stage else len(order)
    if start >= stop:
        raise ConfigError(f"--from {from_stage}: runs after --to {to_stage}; swap them (stage order: "
                          f"{', '.join(order)})")
    return order[start:stop]


@dataclass
class StageResult:
    id: str
    cached: bool
    seconds: float
    record: dict
    log: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    out_dir: Path
    stages: list[StageResult]
    files: list[Path] = field(default_factory=list)  # written after the run (e.g. the report)
    #: True when every after-run step kept its files as they were (an unchanged report).
    files_unchanged: bool = False

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / "manifest.json"


def _pipeline_inputs_json(pipeline: Pipeline) -> str:
    """The input settings (years, products, layers, columns) without file locations."""
    data = pipeline.inputs.model_dump(mode="json")

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "path"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(data), sort_keys=True, separators=(",", ":"))


def _stage_params(pipeline: Pipeline, stage: StageSpec) -> BaseModel:
    value = getattr(pipeline.stages, stage.id, None)
    return value if value is not None else stage.params()


def _stage_settings(pipeline: Pipeline, stage: StageSpec) -> dict[str, BaseModel]:
    """The parameters of the other stages ``stage`` declares it uses (their defaults when the
    pipeline does not configure them); ``"grid"`` is the pipeline's grid section."""
    return {sid: pipeline.grid if sid == "grid" else _stage_params(pipeline, get_stage(sid)) for sid in stage.settings}


def _read_record(stage_dir: Path) -> dict | None:
    try:
        return json.loads((stage_dir / STAGE_RECORD).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _record_is_intact(out_dir: Path, record: dict) -> bool:
    """Every output a record lists still exists with the recorded hash."""
    for info in record["outputs"].values():
        path = out_dir / info["path"]
        if not path.exists() or file_sha256(path) != info["sha256"]:
            return False
    return True


def _load_output(out_dir: Path, spec: LayerSpec, info: dict) -> Any:
    import pandas as pd
    from habitat.io.rasters import open_layer
    from habitat.io.tables import read_table
    from habitat.io.vectors import read_vector
    path = out_dir / info["path"]
    if spec.kind == "raster":
        layer = open_layer(path, name=spec.id)  # lazy: windows are read when a stage needs them
        layer.attrs.update(info.get("attrs", {}))
        return layer
    if spec.kind == "vector":
        return read_vector(path)
    if spec.kind == "workbook":
        return pd.read_excel(path, sheet_name=spec.id)
    return read_table(path)


def _check_output(stage: StageSpec, spec: LayerSpec, value: Any, grid: GridSpec) -> None:
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import xarray as xr
    from habitat.layers import grid_of
    kinds = {"raster": xr.DataArray, "vector": gpd.GeoDataFrame, "table": pd.DataFrame, "workbook": pd.DataFrame}
    if not isinstance(value, kinds[spec.kind]):
        raise StageContractError(f"stage {stage.id}: output {spec.id} is not a {kinds[spec.kind].__name__}")
    if spec.kind == "raster":
        if grid_of(value) != grid:
            raise StageContractError(f"stage {stage.id}: output {spec.id} is not on the run's grid")
        if spec.dtype and value.dtype != np.dtype(spec.dtype):
            raise StageContractError(
                f"stage {stage.id}: output {spec.id} has dtype {value.dtype}, declared {spec.dtype}"
            )


def _write_outputs(out_dir: Path, stage: StageSpec, produced: dict[str, Any], grid: GridSpec) -> dict[str, dict]:
    """Write a stage's outputs; return their records.

    Rasters given as values are computed together, block by block; then they are dropped from
    ``produced`` and each :class:`~habitat.stages.spec.Deferred` output is made, written and
    dropped in turn, so at most one deferred output is in memory at a time.
    """
    from habitat.io.rasters import RasterOutput, write_rasters
    from habitat.stages.spec import Deferred
    infos: dict[str, dict] = {}
    eager = [spec for spec in stage.outputs if spec.id in produced and not isinstance(produced[spec.id], Deferred)]
    later = [spec for spec in stage.outputs if spec.id in produced and isinstance(produced[spec.id], Deferred)]
    rasters: list[RasterOutput] = []
    for spec in eager:
        raster = _write_output(out_dir, stage, spec, produced[spec.id], grid, infos)
        if raster is not None:
            rasters.append(raster)
    write_rasters(rasters)
    del rasters
    for spec in eager:  # written: free them before the deferred ones are made
        if spec.kind == "raster":
            produced.pop(spec.id)
    for spec in later:
        value = produced.pop(spec.id).make()
        raster = _write_output(out_dir, stage, spec, value, grid, infos)
        del value
        if raster is not None:
            write_rasters([raster])
        del raster
    infos = {spec.id: infos[spec.id] for spec in stage.outputs if spec.id in infos}  # declaration order
    for info in infos.values():
        info["sha256"] = file_sha256(out_dir / info["path"])
    return infos


def _write_output(out_dir: Path, stage: StageSpec, spec: LayerSpec, value: Any, grid: GridSpec,
                  infos: dict[str, dict]) -> Any:
    """Check one output and record it in ``infos``; write it unless it is a raster, which is
    returned as a ``RasterOutput`` for :func:`habitat.io.rasters.write_rasters`."""
    from habitat.io.rasters import RasterOutput
    from habitat.io.tables import write_table, write_workbook
    from habitat.io.vectors import write_vector
    _check_output(stage, spec, value, grid)
    rel = Path(stage.id) / spec.file_name
    path = out_dir / rel
    info: dict = {"path": rel.as_posix(), "kind": spec.kind}
    if spec.units:
        info["units"] = spec.units
    infos[spec.id] = info
    if spec.kind == "raster":
        attrs = {k: v for k, v in value.attrs.items() if k in ("year",)}
        if attrs:
            info["attrs"] = attrs
        return RasterOutput(value.data, path, grid, spec.nodata, spec.units, spec.doc)
    if spec.kind == "vector":
        write_vector(value, path, layer=spec.id)
    elif spec.kind == "workbook":
        write_workbook(value, path, sheet=spec.id)
    else:
        write_table(value, path)
    return None


@contextlib.contextmanager
def _timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def run_pipeline(
    pipeline_path: str | Path,
    out_dir: str | Path,
    *,
    force: bool = False,
    only: str | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    on_stage_start: Callable[[str], None] | None = None,
    on_stage_end: Callable[[StageResult], None] | None = None,
    on_plan: Callable[[list[str]], None] | None = None,
    scenario: str | None = None,
    cache_dirs: Sequence[Path] = (),
    scheduler: str | None = None,
) -> RunResult:
    """Run (or reuse from the cache) the stages of a pipeline and write ``OUT/manifest.json``.

    A stage is reused when its key (stage id, version, code, params, grid, input content
    hashes) equals the one recorded beside its outputs and every output still has its recorded
    hash. Before a stage runs its record is deleted, and it is written again only after all its
    outputs are in place, so an interrupted stage is never taken for a finished one.

    ``on_plan`` receives the step names before the first runs: the stage ids, then one
    ``"<stage> files"`` step per stage that writes files after the run (the report);
    ``on_stage_start``/``on_stage_end`` are called around every step. ``scheduler`` (else
    ``compute.scheduler`` of the pipeline) is the address of a Dask scheduler the block-wise work
    runs on; without one, dask's threaded scheduler of this process.

    ``scenario`` applies that entry of the pipeline's ``scenarios:`` at ingest (the report stage
    is left to the main run); a stage whose key matches a finished record in one of
    ``cache_dirs`` (other output folders) is reused from there (its files linked or copied). A
    full run of a pipeline with scenarios runs each into ``OUT/scenarios/<name>/`` sharing this
    run's cache, and writes ``OUT/scenarios/comparison.csv`` (habitat.stages.scenario_runs).
    """
    pipeline_path = Path(pipeline_path)
    pipeline = load_pipeline(pipeline_path)
    if scenario is not None:
        if scenario not in pipeline.scenarios:
            raise ConfigError(f"scenario {scenario!r} is not declared under scenarios: in {pipeline_path}")
        pipeline = pipeline.model_copy(update={"active_scenario": scenario})
    grid = resolve_grid(pipeline)
    out_dir = Path(out_dir)
    order = selected_stages(pipeline, only=only, from_stage=from_stage, to_stage=to_stage)
    if scenario is not None:
        order = [s for s in order if get_stage(s).after_run is None]  # the main run's report shows scenarios
    with_scenarios = scenario is None and bool(pipeline.scenarios) and only is from_stage is to_stage is None
    check_out_dir_writable(out_dir)
    check_grid_size(grid, order, out_dir)
    problems, warnings = input_problems(pipeline, grid)
    if problems:
        more = f" (and {len(problems) - 1} more: run 'habitat validate {pipeline_path}')" if len(problems) > 1 else ""
        raise type(problems[0])(f"{problems[0]}{more}")
    for line in warnings:
        log.warning(f"warning: {line}")
    problem = out_dir_problem(pipeline, pipeline_path, out_dir)
    if problem:
        raise OutputFolderError(problem)
    created = prepare_out_dir(out_dir)
    try:
        with output_lock(out_dir):
            _remove_leftovers(out_dir)
            work = out_dir / f"{_STAGING_PREFIX}{os.getpid()}"
            try:
                with dask_scheduler(scheduler or pipeline.compute.scheduler):
                    return _run_locked(pipeline, pipeline_path, grid, out_dir, work, order, force,
                                       on_stage_start, on_stage_end, on_plan, tuple(cache_dirs), with_scenarios)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        if created:
            # nothing of a failed first run is left behind; rmdir, not rmtree: a folder another
            # run has started to use meanwhile (it holds a lock file in it) is not empty
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise


def _run_locked(
    pipeline: Pipeline, pipeline_path: Path, grid: GridSpec, out_dir: Path, work: Path, order: list[str],
    force: bool, on_stage_start: Callable[[str], None] | None, on_stage_end: Callable[[StageResult], None] | None,
    on_plan: Callable[[list[str]], None] | None, cache_dirs: tuple[Path, ...] = (), with_scenarios: bool = False,
) -> RunResult:
    """The run proper: every stage writes into ``work`` (a hard-linked mirror of the stage folders
    of ``out_dir``); only when every stage and the report succeeded are the changed folders and
    the manifest moved into ``out_dir``. A failing run leaves an earlier output folder as it was."""
    known = {stage.id for stage in STAGES}
    work.mkdir()
    for path in sorted(out_dir.iterdir()):
        if path.is_dir() and path.name in known:
            _link_tree(path, work / path.name)
    made_by = producers(STAGES)
    # each input file is hashed once per run: for the ingest cache key and for the manifest
    file_hashes = {key: input_sha256(path) for key, path in pipeline.inputs.files().items()}
    if pipeline.active_scenario is not None:
        file_hashes.update({k: input_sha256(p) for k, p in pipeline.scenario_files(pipeline.active_scenario).items()})
    results: list[StageResult] = []
    records: dict[str, dict] = {}
    after_run = [stage_id for stage_id in order if get_stage(stage_id).after_run is not None]
    if on_plan:
        scenario_steps = [f"{n}/{s}" for n in pipeline.scenarios for s in order if s not in after_run] \
            if with_scenarios else []
        on_plan(order + scenario_steps + [f"{stage_id} files" for stage_id in after_run])
    changed: list[str] = []

    for stage_id in order:
        stage = get_stage(stage_id)
        params = _stage_params(pipeline, stage)
        settings = _stage_settings(pipeline, stage)
        if on_stage_start:
            on_stage_start(stage_id)
        with _timer() as elapsed:
            inputs, input_hashes = _gather_inputs(stage, pipeline, work, made_by, records, file_hashes)
            code_hash = code_sha256(stage)
            key = stage_key(stage, params, grid, input_hashes, code_hash=code_hash, settings=settings)
            stage_dir = work / stage.id
            previous = _read_record(stage_dir)
            cached = (not force and previous is not None and previous.get("key") == key
                      and _record_is_intact(work, previous))
            log: list[str] = []
            if not cached and not force and (previous := _reuse(work, stage.id, key, cache_dirs)) is not None:
                cached = True
                changed.append(stage.id)
            if cached:
                record = previous
            else:
                (stage_dir / STAGE_RECORD).unlink(missing_ok=True)
                loaded = {name: loader() for name, loader in inputs.items()}
                ctx = StageContext(grid=grid, params=params, inputs=loaded, pipeline=pipeline, log=log.append,
                                   settings=settings)
                record = _write_stage(work, stage, stage.run(ctx), grid, key, params, input_hashes, log)
                changed.append(stage.id)
        records[stage.id] = record
        result = StageResult(stage.id, cached, elapsed(), record, log)
        results.append(result)
        if on_stage_end:
            on_stage_end(result)

    scenarios = None
    if with_scenarios:
        from habitat.stages.scenario_runs import run_scenarios  # it calls run_pipeline

        scenario_results, scenarios = run_scenarios(pipeline_path, pipeline, out_dir, work, force=force,
                                                    on_stage_start=on_stage_start, on_stage_end=on_stage_end)
        results += scenario_results
    _write_manifest(work, pipeline, pipeline_path, grid, file_hashes, scenarios)
    files: list[Path] = []
    kept = []
    for stage_id in after_run:
        step = f"{stage_id} files"
        if on_stage_start:
            on_stage_start(step)
        with _timer() as elapsed:
            written = get_stage(stage_id).after_run(work)
        for path in written:
            rel = Path(path).relative_to(work)
            files.append(out_dir / rel)
            if rel.parts[0] not in changed:
                changed.append(rel.parts[0])
        kept.append(bool(getattr(written, "unchanged", False)))
        if on_stage_end:
            on_stage_end(StageResult(step, kept[-1], elapsed(), {},
                                     [f"{len(written)} files" + (" unchanged" if kept[-1] else "")]))
    _commit(work, out_dir, changed)
    return RunResult(out_dir, results, files, files_unchanged=bool(kept) and all(kept))


def _gather_inputs(
    stage: StageSpec, pipeline: Pipeline, out_dir: Path, made_by: dict[str, StageSpec], records: dict[str, dict],
    file_hashes: dict[str, str],
) -> tuple[dict[str, Callable[[], Any]], dict[str, str]]:
    """Loaders and content hashes of a stage's inputs (upstream outputs or pipeline files)."""
    loaders: dict[str, Callable[[], Any]] = {}
    hashes: dict[str, str] = {}
    if stage.reads_pipeline_inputs:
        hashes.update(file_hashes)
        hashes["inputs.settings"] = _pipeline_inputs_json(pipeline)
        if pipeline.active_scenario is not None:
            edits = pipeline.scenarios[pipeline.active_scenario]
            hashes["inputs.settings"] += json.dumps([e.model_dump(mode="json", exclude={"path"}) for e in edits],
                                                    sort_keys=True)
    for spec in stage.inputs:
        producer = made_by.get(spec.id)
        record = records.get(producer.id) if producer else None
        if record is None and producer is not None:
            record = _read_record(out_dir / producer.id)
        info = record["outputs"].get(spec.id) if record else None
        if info is None:
            if spec.optional:
                continue
            raise ConfigError(
                f"stage {stage.id} needs {spec.id!r} from stage {producer.id if producer else '?'}, which has "
                f"not been run into {out_dir}; run without --only/--from first"
            )
        hashes[spec.id] = info["sha256"]
        loaders[spec.id] = lambda spec=spec, info=info: _load_output(out_dir, spec, info)
    return loaders, hashes


def _write_stage(
    out_dir: Path, stage: StageSpec, produced: dict[str, Any], grid: GridSpec, key: str,
    params: BaseModel, input_hashes: dict[str, str], log: list[str],
) -> dict:
    declared = {spec.id for spec in stage.outputs}
    unknown = set(produced) - declared
    if unknown:
        raise StageContractError(f"stage {stage.id} returned undeclared outputs {sorted(unknown)}")
    for spec in stage.outputs:
        if spec.id not in produced and not spec.optional:
            raise StageContractError(f"stage {stage.id} did not produce its output {spec.id}")
    outputs = _write_outputs(out_dir, stage, produced, grid)
    _drop_stale(out_dir / stage.id, outputs)
    record = {
        "stage": stage.id,
        "version": stage.version,
        "key": key,
        "params": json.loads(params_json(params)),
        "inputs": {k: v for k, v in sorted(input_hashes.items()) if k != "inputs.settings"},
        "outputs": outputs,
        "log": log,
    }
    write_text_atomic(out_dir / stage.id / STAGE_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def _drop_stale(stage_dir: Path, outputs: dict[str, dict]) -> None:
    """Outputs of an earlier run that this run did not write (optional, renamed) must not linger."""
    current = {Path(info["path"]).name for info in outputs.values()}
    for old in stage_dir.iterdir() if stage_dir.exists() else ():
        if old.is_file() and old.suffix in _OUTPUT_SUFFIXES and old.name not in current:
            old.unlink()


def _reuse(out_dir: Path, stage_id: str, key: str, cache_dirs: Sequence[Path]) -> dict | None:
    """Take a stage's finished outputs with this key from another output folder (hard link, else
    copy; each file renamed into place), with its record; None when no folder has them."""
    for other in map(Path, cache_dirs):
        record = _read_record(other / stage_id)
        if record is None or record.get("key") != key or not _record_is_intact(other, record):
            continue
        (out_dir / stage_id / STAGE_RECORD).unlink(missing_ok=True)
        for info in record["outputs"].values():
            target = out_dir / info["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f".{target.name}.part")
            part.unlink(missing_ok=True)
            try:
                os.link(other / info["path"], part)
            except OSError:
                shutil.copyfile(other / info["path"], part)
            os.replace(part, target)
        _drop_stale(out_dir / stage_id, record["outputs"])
        write_text_atomic(out_dir / stage_id / STAGE_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return record
    return None


def _write_manifest(
    out_dir: Path, pipeline: Pipeline, pipeline_path: Path, grid: GridSpec, file_hashes: dict[str, str],
    scenarios: dict | None = None,
) -> None:
    stages = {}
    for stage_id in execution_order({name for name, value in pipeline.stages if value is not None}):
        record = _read_record(out_dir / stage_id)
        if record is not None:
            stages[stage_id] = {k: record[k] for k in ("version", "key", "params", "inputs", "outputs", "log")}
    files = {key: {"path": path.name, "sha256": file_hashes[key]} for key, path in pipeline.inputs.files().items()}
    manifest = {
        "habitat_version": habitat.__version__,
        "pipeline": {"name": pipeline.name, "description": pipeline.description, "file": pipeline_path.name,
                     "sha256": file_sha256(pipeline_path)},
        "grid": grid.to_dict(),
        "input_files": files,
        **({"scenario": pipeline.active_scenario} if pipeline.active_scenario else {}),
        **({"scenarios": scenarios} if scenarios else {}),
        "stages": stages,
    }
    write_text_atomic(out_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
