"""Omniscape.jl job files (INI): read the options and rasters, run, write Omniscape's outputs.

The INI dialect is Omniscape.jl 0.6's: every ``key = value`` line counts whatever section it
is in (section headers are ignored), the last occurrence of a key wins, booleans are
``true``/``True``/``TRUE`` (anything else is false), relative paths are taken from the
working directory (then from the INI's folder). Outputs go to the folder ``project_name``
(``project_name_1``, ``_2``... when it exists, as Omniscape does) or to ``--output-dir``,
named ``cum_currmap``, ``flow_potential``, ``normalized_cum_currmap`` and
``classified_resistance`` with ``.tif`` or ``.asc`` as ``write_as_tif`` says.

Jobs Omniscape refuses (missing required options, no source file, resistance <= 0,
misaligned rasters, bad ``n_conditions``/``comparison``/``compare_to_future``) raise
:class:`OmniscapeJobError` with one line naming the file and key; so do two jobs Omniscape
would run as another job than the one written: a misspelt option (``radious``, close to a real
one; other unknown keys are warned about, as Omniscape does) and a boolean that is neither
true nor false.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from habitat.io.circuitscape import grids
from habitat.errors import ConfigError
from habitat.io.atomic import unwritable_reason

log = logging.getLogger(__name__)

TRUE = ("true", "True", "TRUE")
FALSE = ("false", "False", "FALSE")
SINGLE = ("single", "Single", "SINGLE")
COMPARE_TO_FUTURE = ("none", "1", "2", "both")
N_CONDITIONS = ("1", "2")
COMPARISONS = ("equal", "within")
SOLVERS = ("cg+amg", "cholmod")
REQUIRED = ("resistance_file", "radius", "project_name")

#: Omniscape.jl 0.6 defaults (src/config.jl ``init_cfg``).
DEFAULTS = {
    "resistance_file": "", "resistance_is_conductance": "false", "source_file": "",
    "project_name": "", "parallelize": "true", "parallel_batch_size": "10",
    "block_size": "1", "radius": "", "buffer": "0", "source_threshold": "0",
    "source_from_resistance": "false", "r_cutoff": "Inf", "precision": "double",
    "connect_four_neighbors_only": "false", "solver": "cg+amg",
    "calc_flow_potential": "false", "calc_normalized_current": "false",
    "correct_artifacts": "true", "write_raw_currmap": "true", "write_as_tif": "true",
    "mask_nodata": "true", "suppress_cs_messages": "true", "conditional": "false",
    "n_conditions": "1", "compare_to_future": "none", "condition1_file": "",
    "condition2_file": "", "condition1_future_file": "", "condition2_future_file": "",
    "comparison1": "within", "comparison2": "within", "condition1_lower": "0",
    "condition2_lower": "0", "condition1_upper": "0", "condition2_upper": "0",
    "reclassify_resistance": "false", "reclass_table": "",
    "write_reclassified_resistance": "false", "allow_different_projections": "false",
}


class OmniscapeJobError(ConfigError):
    """An Omniscape job file that Omniscape.jl itself refuses."""


def parse_ini(path):
    """Options of an Omniscape INI file as Omniscape reads them (``parse_cfg``)."""
    path = Path(path)
    if not path.is_file():
        raise OmniscapeJobError(f"{path}: job file not found; check the path")
    cfg = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("["):
            continue
        key, sep, val = line.partition("=")
        if sep:
            cfg[key.strip()] = val.strip()
    return cfg


def _num(cfg, key, ini):
    try:
        return float(cfg[key])
    except ValueError:
        raise OmniscapeJobError(f"{ini}: {key} = {cfg[key]!r} is not a number; fix it") from None


def _int(cfg, key, ini):
    value = _num(cfg, key, ini)
    if not np.isfinite(value):
        raise OmniscapeJobError(f"{ini}: {key} = {cfg[key]!r}; give a whole number")
    return int(round(value))


@dataclass
class OmniscapeJob:
    """A parsed, validated Omniscape job: inputs as arrays and the engine's keyword arguments."""

    ini: Path
    cfg: dict
    user_cfg: dict
    resistance: np.ndarray
    meta: object
    kwargs: dict
    project_dir: Path
    write_as_tif: bool
    write_raw_currmap: bool
    write_reclassified: bool


def load_job(ini_path, *, cwd=None):
    """Parse, check and read an Omniscape job.

    Parameters
    ----------
    ini_path : path
        The INI file.
    cwd : path, optional
        Folder relative paths (and ``project_name``) are taken from; default the current one.

    Returns
    -------
    OmniscapeJob

    Raises
    ------
    OmniscapeJobError
        For every job Omniscape.jl refuses (see module docstring).
    """
    ini = Path(ini_path)
    user = parse_ini(ini)
    missing = [k for k in REQUIRED if k not in user]
    if missing:
        raise OmniscapeJobError(
            f"{ini}: missing required option(s) {', '.join(missing)}; add them to the job file")
    # Omniscape.jl warns about keys it does not know and reads any boolean but "true" as false.
    # A misspelt option (close to a real one) or a boolean that is neither would then silently
    # run another job than the one written: both are errors here; other foreign keys warn.
    import difflib

    unsupported = []
    for key in user:
        if key and key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=1, cutoff=0.8)
            if close:
                raise OmniscapeJobError(f"{ini}: {key} is not an Omniscape option; did you mean {close[0]}?")
            unsupported.append(key)
        if DEFAULTS.get(key) in ("true", "false") and user[key] not in TRUE + FALSE:
            raise OmniscapeJobError(f"{ini}: {key} = {user[key]!r}; use true or false")
    if unsupported:
        log.warning("%s: unsupported options ignored: %s", ini, " ".join(sorted(unsupported)))
    cfg = dict(DEFAULTS)
    cfg.update(user)
    base = Path.cwd() if cwd is None else Path(cwd)

    def flag(key):
        return cfg[key] in TRUE

    def path(key):
        val = cfg[key]
        if not val.strip():
            raise OmniscapeJobError(f"{ini}: {key} is not given; add '{key} = <file>' to the job file")
        p = Path(val)
        for cand in ([p] if p.is_absolute() else [base / p, ini.parent / p]):
            if cand.is_file():
                return cand
        raise OmniscapeJobError(f"{ini}: {key} = {val}: file not found (looked in {base} "
                                f"and {ini.parent}); fix the path")

    # option values Omniscape checks (check_arg_values), before reading any raster
    ctf = cfg["compare_to_future"].lower()
    if cfg["compare_to_future"] not in COMPARE_TO_FUTURE:
        raise OmniscapeJobError(f"{ini}: compare_to_future = {cfg['compare_to_future']!r}; "
                                f"use one of {', '.join(COMPARE_TO_FUTURE)}")
    for key in ("comparison1", "comparison2"):
        if cfg[key] not in COMPARISONS:
            raise OmniscapeJobError(f"{ini}: {key} = {cfg[key]!r}; use one of "
                                    f"{', '.join(COMPARISONS)}")
    if cfg["n_conditions"] not in N_CONDITIONS:
        raise OmniscapeJobError(f"{ini}: n_conditions = {cfg['n_conditions']!r}; use 1 or 2")
    if cfg["solver"] not in SOLVERS:
        log.warning("%s: solver = %s is unsupported; Omniscape falls back to cg+amg (habitat "
                    "always solves each window exactly)", ini, cfg["solver"])
    radius = _int(cfg, "radius", ini)
    block_size = _int(cfg, "block_size", ini)
    buffer = _int(cfg, "buffer", ini)
    if radius < 1:
        raise OmniscapeJobError(f"{ini}: radius = {cfg['radius']}; give a positive number of cells")
    if block_size < 1 or buffer < 0:
        raise OmniscapeJobError(f"{ini}: block_size must be >= 1 and buffer >= 0; fix them")
    dtype = np.float32 if cfg["precision"] in SINGLE else np.float64
    allow_proj = flag("allow_different_projections")

    def read(key):
        vals, meta = grids.read_grid(path(key))
        vals = vals.astype(dtype)
        vals[vals == grids.CS_NODATA] = np.nan
        return vals, meta

    res, meta = read("resistance_file")
    if np.isnan(res).all():
        raise OmniscapeJobError(f"{ini}: resistance_file {cfg['resistance_file']}: every cell is nodata; "
                                "check the grid and its NODATA_value")
    # the moving window is a (2 radius + 1)^2 array per solve: refuse one this machine cannot hold
    from habitat.memory import available_bytes

    window_bytes = 16 * (2 * radius + 1) ** 2 * np.dtype(dtype).itemsize
    if window_bytes > available_bytes():
        raise OmniscapeJobError(
            f"{ini}: radius = {cfg['radius']} cells makes windows of {2 * radius + 1:,} x {2 * radius + 1:,} cells, "
            f"more than this machine's memory; use a smaller radius (the grid is {res.shape[0]} x {res.shape[1]})")
    if np.any(res[~np.isnan(res)] <= 0):
        raise OmniscapeJobError(f"{ini}: resistance_file {cfg['resistance_file']} contains 0 or "
                                "negative values; make them positive or nodata")

    def aligned(key, vals, m):
        if vals.shape != res.shape:
            raise OmniscapeJobError(
                f"{ini}: {key} is {vals.shape[0]} x {vals.shape[1]} cells but resistance_file is "
                f"{res.shape[0]} x {res.shape[1]}; give rasters of the same grid")
        if (m.xllcorner, m.yllcorner, m.cellsize) != (meta.xllcorner, meta.yllcorner,
                                                        meta.cellsize) and not allow_proj:
            log.warning("%s: %s and resistance_file have different extents or cell sizes; "
                        "they may not be aligned (set allow_different_projections = true to "
                        "silence this)", ini, key)
        return vals

    kwargs = dict(radius=radius, block_size=block_size, buffer=buffer,
                  resistance_is_conductance=flag("resistance_is_conductance"),
                  calc_flow_potential=flag("calc_flow_potential"),
                  calc_normalized_current=flag("calc_normalized_current"),
                  correct_artifacts=flag("correct_artifacts"), mask_nodata=flag("mask_nodata"),
                  precision="single" if dtype == np.float32 else "double",
                  four_neighbors=flag("connect_four_neighbors_only"))
    if flag("reclassify_resistance"):
        kwargs["reclass_table"] = read_reclass_table(path("reclass_table"))
    elif cfg["reclass_table"]:
        log.warning("%s: reclass_table given but reclassify_resistance is not true; resistance "
                    "is not reclassified", ini)
    if flag("source_from_resistance"):
        kwargs["source_from_resistance_"] = True
        kwargs["r_cutoff"] = _num(cfg, "r_cutoff", ini)
    else:
        if not cfg["source_file"]:
            raise OmniscapeJobError(
                f"{ini}: no source_file given; add one or set source_from_resistance = true")
        src, m = read("source_file")
        kwargs["sources"] = aligned("source_file", src, m)
        kwargs["source_threshold"] = _num(cfg, "source_threshold", ini)
    if flag("conditional"):
        n_cond = int(cfg["n_conditions"])
        conds = []
        from habitat.connectivity.omniscape import Condition

        for k in range(1, n_cond + 1):
            pres = aligned(f"condition{k}_file", *read(f"condition{k}_file"))
            fut = None
            if ctf in (str(k), "both"):
                fut = aligned(f"condition{k}_future_file", *read(f"condition{k}_future_file"))
            conds.append(Condition(present=pres, future=fut, comparison=cfg[f"comparison{k}"],
                                   lower=_num(cfg, f"condition{k}_lower", ini),
                                   upper=_num(cfg, f"condition{k}_upper", ini)))
        kwargs["conditions"] = conds
    return OmniscapeJob(ini=ini, cfg=cfg, user_cfg=user, resistance=res, meta=meta,
                        kwargs=kwargs, project_dir=base / cfg["project_name"],
                        write_as_tif=flag("write_as_tif"),
                        write_raw_currmap=flag("write_raw_currmap"),
                        write_reclassified=flag("reclassify_resistance")
                        and flag("write_reclassified_resistance"))


def read_reclass_table(path):
    """Two-column reclass table (whitespace separated; ``missing`` -> NaN = nodata)."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = [p.strip('"') for p in line.split()]
        if not parts:
            continue
        if len(parts) != 2:
            raise OmniscapeJobError(f"{path}: line {n} has {len(parts)} columns; give two "
                                    "(old value, new value)")
        try:
            rows.append([float(p) if p != "missing" else np.nan for p in parts])
        except ValueError:
            raise OmniscapeJobError(f"{path}: line {n} is not numeric ({line.strip()}); use "
                                    "numbers or missing") from None
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def _free_dir(project_dir):
    """Omniscape's rule: an existing project folder is kept and ``_1``, ``_2``... is used."""
    if not project_dir.exists():
        return project_dir
    k = 1
    while Path(f"{project_dir}_{k}").exists():
        k += 1
    log.warning("project folder %s exists; writing to %s_%d", project_dir, project_dir, k)
    return Path(f"{project_dir}_{k}")


def run_job(ini_path, *, output_dir=None, cwd=None, workers=None):
    """Run an Omniscape INI job and write its outputs.

    Parameters
    ----------
    ini_path : path
        The job file.
    output_dir : path, optional
        Write here instead of the ``project_name`` folder.
    cwd : path, optional
        Folder relative paths are taken from (default the current one).
    workers : int, optional
        Threads for the windows.

    Returns
    -------
    list of Path
        Files written (all computed before the first is written).
    """
    job = load_job(ini_path, cwd=cwd)
    # a folder that cannot be written fails now, not after the windows are solved
    # (project_name's parent: an existing project_name is kept and project_name_1 is written)
    target = Path(output_dir) if output_dir is not None else job.project_dir.parent
    reason = unwritable_reason(target)
    if reason is not None:
        where = f"--output-dir {target}" if output_dir is not None else f"{job.ini}: project_name {job.project_dir}"
        raise OmniscapeJobError(f"{where}: {reason}; choose a folder you can write to")
    return write_outputs(job, compute(job, workers=workers), output_dir=output_dir)


def compute(job, *, workers=None):
    """Run the engine on a loaded job (:class:`habitat.connectivity.omniscape.OmniscapeResult`)."""
    from habitat.connectivity.omniscape import omniscape

    return omniscape(job.resistance, workers=workers, **job.kwargs)


def write_outputs(job, result, *, output_dir=None):
    """Write the maps the job asks for (Omniscape's names; nodata -9999); return the paths."""
    out_dir = Path(output_dir) if output_dir is not None else _free_dir(job.project_dir)
    ext = ".tif" if job.write_as_tif else ".asc"
    meta = grids.GridMeta(job.meta.ncols, job.meta.nrows, job.meta.xllcorner,
                          job.meta.yllcorner, job.meta.cellsize, grids.CS_NODATA)
    if job.write_as_tif:
        # the input's CRS, and float32 for a single-precision job, as Omniscape.jl writes them
        single = job.kwargs.get("precision") == "single"

        def writer(path, values, meta):
            return grids.write_geotiff(path, values, meta, crs=job.meta.crs,
                                       dtype="float32" if single else "float64")
    else:
        writer = grids.write_ascii_grid
    outputs = []
    if job.write_reclassified:
        outputs.append(("classified_resistance", result.classified_resistance))
    if job.write_raw_currmap:
        outputs.append(("cum_currmap", result.cum_currmap))
    if result.flow_potential is not None:
        outputs.append(("flow_potential", result.flow_potential))
    if result.normalized_cum_currmap is not None:
        outputs.append(("normalized_cum_currmap", result.normalized_cum_currmap))
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_text = "".join(f"{k} = {v}\n" for k, v in job.user_cfg.items() if k)
    grids.atomic_write_text(out_dir / "config.ini", cfg_text)
    written.append(out_dir / "config.ini")
    for name, arr in outputs:
        vals = np.where(np.isnan(arr), grids.CS_NODATA, np.asarray(arr, dtype=np.float64))
        written.append(writer(out_dir / f"{name}{ext}", vals, meta))
    return written
