"""The report stage and ``habitat report OUT``: figures, QGIS styles and the offline HTML report.

The stage declares every layer the report can show as an optional input (an input no stage
writes yet is skipped by the registry), so it runs after whatever the pipeline has. Its ``run``
records what the report will show (``report_contents``). The report files themselves are
written by :func:`write_report` from the finished output folder, because the methods section is
built from ``OUT/manifest.json``, which the runner writes only after the last stage; the runner
calls it (the stage's ``after_run``) after every run that includes this stage, and
``habitat report OUT`` calls it alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from habitat.errors import HabitatError, InputFileError
from habitat.grid import GridSpec
from habitat.params import ReportParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

REPORT_DIR = "report"


# Every input is optional: the report draws what the pipeline produced.
INPUTS = catalog.layers(
    "habitat_class_baseline", "habitat_class_current", "populations", "reporting_units", "suitability", "quality",
    "patch_id", "patches", "patch_table", "resistance", "corridors", "barrier_improvement", "least_cost_paths",
    "links", "cumulative_current", "pinch_points", "effective_resistance", "habitat_change", "indicators_wide",
    "sites", "site_ranking", "site_sensitivity", "evaluation", "evaluation_summary", optional=True,
)
OUTPUTS = catalog.outputs_of("report")


def _summary(layer_id: str, value: Any) -> dict:
    import numpy as np
    import xarray as xr
    from habitat.report.styles import data_range
    row: dict = {"layer": layer_id, "low": np.nan, "high": np.nan, "count": np.nan}
    if isinstance(value, xr.DataArray):
        low, high = data_range(np.asarray(value.values, dtype=np.float64))
        row.update(kind="raster", low=low, high=high, count=int(np.isfinite(np.asarray(value.values, float)).sum()))
    elif hasattr(value, "geometry"):
        row.update(kind="vector", count=len(value))
    else:
        row.update(kind="table", count=len(value))
    return row


def run_report(ctx: StageContext) -> dict[str, Any]:
    """List the layers the report will show, with their style range or size."""
    import pandas as pd
    rows = [_summary(spec.id, ctx.inputs[spec.id]) for spec in INPUTS if spec.id in ctx.inputs]
    table = pd.DataFrame(rows, columns=["layer", "kind", "low", "high", "count"])
    ctx.log(f"report: {len(table)} layers to show; the files go to OUT/report/ after the run")
    return {"report_contents": table}


STAGE = StageSpec(
    id="report",
    version="1",
    doc="Map figures (PNG/PDF), QGIS styles and an offline HTML report from whatever layers the run has.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=ReportParams,
    run=run_report,
    # the figures and report.html read the finished folder (manifest included): built after the run
    after_run=lambda out_dir: write_report(out_dir),
)


# -- I/O: read an output folder, write OUT/report/ -------------------------------------------
def load_manifest(out_dir: Path) -> dict:
    path = Path(out_dir) / "manifest.json"
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise InputFileError(f"{out_dir}: is a file; give the output folder of a run (the one holding manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: not found; run a pipeline into {out_dir} first (habitat run ... --out {out_dir})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not valid JSON; run the pipeline again to rewrite it") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror}); check the folder and its permissions") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("grid"), dict) \
            or not isinstance(manifest.get("stages", {}), dict):
        raise InputFileError(f"{path}: not a habitat run manifest (no grid or stages); run the pipeline again "
                             f"to rewrite it")
    return manifest


def load_report_data(out_dir: str | Path) -> ReportData:
    """Every raster, vector and table an output folder's manifest lists, keyed by output id."""
    import numpy as np
    from habitat.io.rasters import open_raster, read_band
    from habitat.io.tables import read_table
    from habitat.io.vectors import read_vector
    from habitat.report.build import ReportData
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    grid = GridSpec.from_json(manifest["grid"])
    data = ReportData(grid=grid, manifest=manifest, out_dir=out_dir)
    for stage_id, record in manifest.get("stages", {}).items():
        if stage_id == STAGE.id:
            continue
        for layer_id, info in record.get("outputs", {}).items():
            path = out_dir / info["path"]
            data.files[layer_id] = info["path"]
            # an output the manifest lists but that is gone or damaged is rebuilt by a run, not re-exported
            rebuild = f"run the pipeline again with --out {out_dir} to rebuild it"
            if not path.is_file():
                raise InputFileError(f"{path}: listed in {out_dir / 'manifest.json'} but missing; {rebuild}")
            try:
                if info["kind"] == "raster":
                    with open_raster(path) as ds:
                        values = read_band(ds)
                        if values.shape != grid.shape:
                            continue
                        if ds.nodata is not None and values.dtype.kind == "f":
                            values = np.where(values == ds.nodata, np.nan, values)
                    data.rasters[layer_id] = values
                    data.units[layer_id] = info.get("units", "")
                    if "year" in info.get("attrs", {}):
                        data.years[layer_id] = int(info["attrs"]["year"])
                elif info["kind"] == "vector":
                    data.vectors[layer_id] = read_vector(path)
                elif info["kind"] == "table":
                    data.tables[layer_id] = read_table(path)
            except HabitatError as exc:
                raise InputFileError(f"{path}: output of stage {stage_id} cannot be read ({str(exc).split('; ')[0].removeprefix(f'{path}: ')}); "
                                     f"{rebuild}") from exc
    return data


def report_options(manifest: dict, *, language: str | None = None) -> ReportOptions:
    """Options from the report stage's recorded params (defaults when it did not run)."""
    from habitat.report.build import ReportOptions
    recorded = manifest.get("stages", {}).get(STAGE.id, {}).get("params", {})
    params = ReportParams(**recorded) if recorded else ReportParams()
    return ReportOptions.from_params(params, language=language)


def write_report(out_dir: str | Path, *, language: str | None = None) -> list[Path]:
    """(Re)write ``OUT/report/`` and the QGIS styles beside the layers when its inputs, settings or
    language changed (habitat.report.build.write_report_folder); returns the report's files."""
    from habitat.report.build import write_report_folder
    manifest = load_manifest(Path(out_dir))
    return write_report_folder(out_dir, manifest, language=language,
                               options_for=lambda lang: report_options(manifest, language=lang),
                               load_data=lambda: load_report_data(out_dir))
