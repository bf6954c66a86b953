"""Run a Circuitscape INI job: read its inputs, solve, write Circuitscape's output files."""

from __future__ import annotations

import configparser
import gc
import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from habitat.errors import ConfigError, InputFileError
from habitat.io.atomic import unwritable_reason

from habitat.connectivity.circuit.currents import branch_currents, node_currents
from habitat.connectivity.circuit.graph import build_adjacency, build_node_map, conductance_from_raster
from habitat.connectivity.circuit.ordering import node_coordinates
from habitat.connectivity.circuit.solve import (pairwise_resistances, raster_pairwise_resistances,
                                                resolve_sources_grounds, solve_sources_grounds)

from . import grids

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_UNSET = {"", "none", "not entered", "(browse for a current source file)"}
_SCENARIOS = {"pairwise", "one-to-all", "all-to-one", "advanced"}
_POLICIES = ("keepall", "rmvsrc", "rmvgnd", "rmvall")

#: The true/false options of a Circuitscape 4.0.5 job (cfg.py DEFAULTS) and of Circuitscape 5
#: (``use_64bit_indexing``, ``write_as_tif``).
_BOOLEAN_OPTIONS = frozenset({
    "connect_four_neighbors_only", "connect_using_avg_resistances", "use_polygons", "ground_file_is_resistances",
    "use_unit_currents", "use_direct_grounds", "use_mask", "preemptive_memory_release", "low_memory_mode",
    "parallelize", "print_timings", "print_rusages", "use_variable_source_strengths",
    "set_null_currents_to_nodata", "write_cum_cur_map_only", "log_transform_maps", "write_max_cur_maps",
    "compress_grids", "set_null_voltages_to_nodata", "set_focal_node_currents_to_zero", "write_volt_maps",
    "write_cur_maps", "habitat_map_is_resistances", "use_included_pairs", "use_reclass_table", "screenprint_log",
    "use_64bit_indexing", "write_as_tif",
})
#: Every option a Circuitscape 4/5 job may hold (others are ignored, as Circuitscape does).
_OPTIONS = _BOOLEAN_OPTIONS | {
    "version", "polygon_file", "source_file", "ground_file", "remove_src_or_gnd", "mask_file", "max_parallel",
    "solver", "variable_source_file", "output_file", "habitat_file", "scenario", "data_type",
    "included_pairs_file", "point_file", "reclass_file", "profiler_log_file", "log_file", "log_level",
    "precision", "cholmod_batch_size", "suppress_messages",
}


def _flag(cfg, key, default=False):
    val = cfg.get(key)
    return default if val is None else val.strip().lower() in _TRUE


class _Job:
    """Parsed INI options and path resolution (private to run_job)."""

    def __init__(self, ini_path, cwd, output_dir):
        self.ini = Path(ini_path)
        if not self.ini.is_file():
            raise InputFileError(f"{ini_path}: job file not found; check the path")
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(self.ini.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error as exc:
            raise ConfigError(f"{ini_path}: not a valid INI file ({exc}); fix its syntax") from exc
        self.cfg = {k.lower(): v.split("#")[0].strip() if k else v
                    for s in parser.sections() for k, v in parser.items(s)}
        self.cwd = Path.cwd() if cwd is None else Path(cwd)
        self.output_dir = None if output_dir is None else Path(output_dir)
        if self.output_dir is not None and self.output_dir.exists() and not self.output_dir.is_dir():
            raise ConfigError(f"--output-dir {self.output_dir}: is a file, not a folder; choose another folder")
        for key, what in (("use_reclass_table", "reclassification tables"),
                          ("set_focal_node_currents_to_zero", "zeroing focal-node currents")):
            if _flag(self.cfg, key):
                raise ConfigError(f"{ini_path}: {key} = True ({what}) is not supported; set it to False")
        self.data_type = self.cfg.get("data_type", "raster").lower()
        if self.data_type not in ("raster", "network"):
            raise ConfigError(f"{ini_path}: data_type = {self.data_type!r}; use raster or network")
        self.scenario = self.cfg.get("scenario", "").lower()
        if self.scenario not in _SCENARIOS:
            raise ConfigError(
                f"{ini_path}: scenario = {self.scenario!r} is unknown; use one of "
                + ", ".join(sorted(_SCENARIOS)))
        solver = self.cfg.get("solver", "cg+amg").lower()
        self.method = "auto"
        if solver == "cholmod":
            self.method = "direct"
        self.written = []
        self._check_options()
        target = self.prefix().parent
        reason = unwritable_reason(target)
        if reason is not None:
            where = "--output-dir" if self.output_dir is not None else f"{self.ini}: output_file"
            raise ConfigError(f"{where} {target}: {reason}; choose a folder you can write to")

    def _check_options(self):
        """A misspelt option (close to a real one) or a true/false option with another value
        would run another job than the one written, silently: both are errors (Circuitscape
        ignores the first and reads the second as false)."""
        for key, value in self.cfg.items():
            if key not in _OPTIONS:
                import difflib

                close = difflib.get_close_matches(key, _OPTIONS, n=1, cutoff=0.8)
                if close:
                    raise ConfigError(f"{self.ini}: {key} is not a Circuitscape option; did you mean {close[0]}?")
            elif key in _BOOLEAN_OPTIONS and value.strip().lower() not in _TRUE | _FALSE | {""}:
                raise ConfigError(f"{self.ini}: {key} = {value!r}; use True or False")
        policy = self.cfg.get("remove_src_or_gnd", "keepall").strip().lower()
        if self.scenario == "advanced" and policy not in ("not entered", "") + _POLICIES:
            raise ConfigError(f"{self.ini}: remove_src_or_gnd = {policy!r} is unknown; use one of "
                              + ", ".join(_POLICIES))

    def flag(self, key, default=False):
        return _flag(self.cfg, key, default)

    def path(self, key, *, required=True):
        val = self.cfg.get(key, "").strip()
        if val.lower() in _UNSET or val.startswith("(") or not val:
            if required:
                raise ConfigError(f"{self.ini}: option {key} is missing; give the file path")
            return None
        p = Path(val)
        if p.is_absolute():
            cands = [p]
        else:
            cands = [self.cwd / p, self.ini.parent / p]
        for c in cands:
            if c.is_dir():
                raise InputFileError(f"{self.ini}: {key} = {val} is a folder ({c}); give the file")
            if c.exists():
                return c
        raise InputFileError(f"{self.ini}: {key} = {val} not found (looked in {self.cwd} and "
                             f"{self.ini.parent}); fix the path")

    def prefix(self):
        out = self.cfg.get("output_file", "").strip()
        if not out:
            raise ConfigError(f"{self.ini}: output_file is missing; give the output name")
        out = out.removesuffix(".out") if out.endswith(".out") else out.split(".out")[0]
        p = Path(out)
        if self.output_dir is not None:
            return self.output_dir / p.name
        return p if p.is_absolute() else self.cwd / p

    def out(self, suffix):
        return Path(str(self.prefix()) + suffix)

    def write_text(self, suffix, text):
        self.written.append(grids.atomic_write_text(self.out(suffix), text))

    def write_grid(self, suffix, values, meta):
        if self.flag("write_as_tif"):  # Circuitscape 5 option: GeoTIFF instead of ASCII grids
            self.written.append(grids.write_geotiff(self.out(suffix.removesuffix(".asc") + ".tif"), values, meta))
        else:
            self.written.append(grids.write_ascii_grid(self.out(suffix), values, meta,
                                                       compress=self.flag("compress_grids")))


def run_job(ini_path: Path, *, cwd: Path | None = None, output_dir: Path | None = None) -> list[Path]:
    """Run a Circuitscape 5 INI job and write its output files.

    Parameters
    ----------
    ini_path : pathlib.Path
        The job file (Circuitscape 4/5 INI).
    cwd : pathlib.Path, optional
        Folder that relative paths resolve against first (then the INI's folder);
        default the current directory, as Circuitscape does.
    output_dir : pathlib.Path, optional
        Write outputs here (keeping the ``output_file`` base name) instead of the INI's
        ``output_file`` location.

    Returns
    -------
    list of pathlib.Path
        Files written: ``<prefix>_resistances.out``, ``_resistances_3columns.out``,
        ``_curmap_*``, ``_voltmap_*``, ``_cum_curmap.asc``, ``_max_curmap.asc``; network
        jobs ``_voltages_*.txt``, ``_node_currents_*.txt``, ``_branch_currents_*.txt``.

    Raises
    ------
    habitat.errors.HabitatError
        Missing or unreadable files, unsupported options, jobs that cannot fit in memory.
    """
    job = _Job(ini_path, cwd, output_dir)
    with _collector_paused():
        if job.data_type == "network":
            _run_network(job)
        else:
            _run_raster(job)
    return job.written


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for the job, then restore its state.

    A job's arrays are freed by reference counting; what the collector would scan are the
    tens of thousands of objects that numba's first dispatch creates (its typing
    registries), over and over as they are allocated: about 0.15 CPU-s of a 1000 x 1000
    single-pair job (issue 19).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------- raster inputs
def _table_cells(path, meta, what):
    """Values and cells (row, column) of a ``value x y`` table on the habitat grid (Circuitscape's
    rule: a point on a cell edge belongs to the cell left of and below it); a point outside the
    grid is an error naming its line."""
    tab = grids.read_table(path, min_columns=3, columns="value x y")
    with np.errstate(invalid="ignore"):
        ii = np.ceil(meta.nrows - (tab[:, 2] - meta.yllcorner) / meta.cellsize) - 1
        jj = np.ceil((tab[:, 1] - meta.xllcorner) / meta.cellsize) - 1
    outside = ~((ii >= 0) & (ii < meta.nrows) & (jj >= 0) & (jj < meta.ncols))
    if np.any(outside):
        k = int(np.flatnonzero(outside)[0])
        raise InputFileError(
            f"{path}: {what} on data line {k + 1} (x {tab[k, 1]:g}, y {tab[k, 2]:g}) lies outside the habitat grid "
            f"(x {meta.xllcorner:g} to {meta.xllcorner + meta.ncols * meta.cellsize:g}, y {meta.yllcorner:g} to "
            f"{meta.yllcorner + meta.nrows * meta.cellsize:g}); fix or remove it")
    return tab[:, 0], ii.astype(np.int64), jj.astype(np.int64)


def _read_points(job, path, meta):
    if grids.is_grid(path):
        vals = _read_on_grid(path, meta, "point grid")
        vals = np.where(vals == grids.CS_NODATA, 0, vals)
        jj, ii = np.nonzero(vals.T)  # column-major order, as Circuitscape
        ids = vals[ii, jj]
    else:
        ids, ii, jj = _table_cells(path, meta, "the focal point")
    keep = ids >= 0
    ids, ii, jj = ids[keep].astype(np.int64), ii[keep], jj[keep]
    order = np.argsort(ids, kind="stable")
    return ii[order], jj[order], ids[order]


def _read_on_grid(path, meta, what):
    """A grid that must have the habitat grid's shape (a mismatch names both shapes and the file).
    A header whose cell size or lower-left corner differs (by more than a third of a cell) is
    warned about and read cell for cell, as Circuitscape 5 does (``read_polymap``)."""
    vals, own = grids.read_grid(path)
    if vals.shape != (meta.nrows, meta.ncols):
        raise InputFileError(f"{path}: {what} is {vals.shape[0]} x {vals.shape[1]} but the habitat "
                             f"grid is {meta.nrows} x {meta.ncols}; align it")
    if (not np.isclose(own.cellsize, meta.cellsize, rtol=1e-9, atol=0)
            or abs(own.xllcorner - meta.xllcorner) > meta.cellsize / 3
            or abs(own.yllcorner - meta.yllcorner) > meta.cellsize / 3):
        log.warning("%s: %s has cellsize %g and lower-left corner (%g, %g) but the habitat grid has cellsize %g "
                    "and corner (%g, %g); read cell for cell as the habitat grid's (export it on that grid to "
                    "be sure the cells match)", path, what, own.cellsize, own.xllcorner, own.yllcorner,
                    meta.cellsize, meta.xllcorner, meta.yllcorner)
    return vals


def _read_layer(job, key, meta):
    return _read_on_grid(job.path(key), meta, "grid")


def _read_included(path):
    """Circuitscape's included-pairs file: ``mode include`` (or ``exclude``) then one pair of
    focal point ids a line, or a ``min``/``max`` header over a matrix with the ids in its first
    row and column. A file in neither form is an error naming it."""
    try:
        return _parse_included(grids._open_text(path).splitlines())
    except (ValueError, IndexError) as exc:
        raise InputFileError(
            f"{path}: not an included-pairs file ({exc}); give 'mode include' (or exclude) and a pair of focal "
            "point ids a line, or 'min'/'max' lines over a matrix of the ids") from None


def _parse_included(text):
    text = [line for line in text if line.strip()]
    if not text:
        raise ValueError("it is empty")
    first = text[0].split()
    if first and first[0].lower() == "min":
        second = text[1].split() if len(text) > 1 else []
        if len(first) < 2 or len(second) < 2 or second[0].lower() != "max":
            raise ValueError("a 'min' line must have a value and be followed by a 'max' line with a value")
        minval = float(first[1])
        maxval = float(second[1])
        tab = np.loadtxt(text[2:], ndmin=2)
        if tab.shape[0] != tab.shape[1] or tab.shape[0] < 2:
            raise ValueError(f"the matrix is {tab.shape[0]} x {tab.shape[1]}, not square")
        ids = tab[0, 1:].astype(np.int64)
        mat = tab[1:, 1:]
        mat = np.where(mat > maxval, 0, mat)
        return "include", ids, (mat >= minval).astype(int)
    if first[0].lower() != "mode" or len(first) < 2 or first[1].lower() not in ("include", "exclude"):
        raise ValueError(f"first line {text[0].strip()!r}")
    mode = first[1].lower()
    pairs = np.loadtxt(text[1:], ndmin=2).astype(np.int64)
    if pairs.size and pairs.shape[1] != 2:
        raise ValueError(f"{pairs.shape[1]} ids on a line")
    ids = np.unique(pairs)
    ids = ids[ids != 0]
    mat = np.zeros((ids.size, ids.size), dtype=int)
    for a, b in pairs:
        if a in ids and b in ids:
            ia, ib = np.searchsorted(ids, a), np.searchsorted(ids, b)
            mat[ia, ib] = mat[ib, ia] = 1
    return mode, ids, mat


def _pair_excluded(inc, a, b):
    mode, ids, mat = inc
    if a not in ids or b not in ids:
        return True
    ia, ib = np.searchsorted(ids, a), np.searchsorted(ids, b)
    on = mat[ia, ib] == 1 and mat[ib, ia] == 1
    return (not on) if mode == "include" else on


def _check_habitat_values(path, values, is_resistance):
    """Resistances (or conductances) must be finite and > 0 (>= 0 for conductances); cells
    without habitat carry the grid's NODATA value, never NaN, infinity or a negative number."""
    what = "resistance" if is_resistance else "conductance"
    data = values[values != grids.CS_NODATA]
    if data.size == 0:
        raise InputFileError(f"{path}: every cell is NODATA, so there is no {what} to solve on; check the grid "
                             "and its NODATA_value")
    checks = [(np.isnan(data), "NaN"), (np.isinf(data), "infinite"), (data < 0, "negative")]
    if is_resistance:
        checks.append((data == 0, "zero"))
    for bad, label in checks:
        n = int(np.count_nonzero(bad))
        if n:
            fix = ("give them a small positive resistance or put them in a short-circuit region (polygon_file)"
                   if label == "zero" else "set cells without habitat to the NODATA value")
            raise InputFileError(f"{path}: {n} cell{'s' if n != 1 else ''} with {label} {what}; {fix}")


def _run_raster(job):
    hab_path = job.path("habitat_file")
    hab, meta = grids.read_grid(hab_path)
    is_res = job.flag("habitat_map_is_resistances", True)
    _check_habitat_values(hab_path, hab, is_res)
    cell = conductance_from_raster(np.where(hab == grids.CS_NODATA, np.nan, hab), is_resistance=is_res)
    polymap = None
    if job.flag("use_polygons"):
        pm = _read_layer(job, "polygon_file", meta)
        polymap = np.where(pm == grids.CS_NODATA, 0, pm).astype(np.int64)
    if job.flag("use_mask"):
        mk = _read_layer(job, "mask_file", meta)
        cell = cell * (np.where(mk == grids.CS_NODATA, 0, mk) > 0)
        if not np.any(cell > 0):
            raise InputFileError(f"{job.path('mask_file')}: the mask removes every cell; check it")
    opts = {"four_neighbors": job.flag("connect_four_neighbors_only"),
            "avg_resistance": job.flag("connect_using_avg_resistances")}
    out = {"volt": job.flag("write_volt_maps"), "cur": job.flag("write_cur_maps"),
           "cum_only": job.flag("write_cum_cur_map_only"), "max": job.flag("write_max_cur_maps"),
           "null_cur": job.flag("set_null_currents_to_nodata"),
           "null_volt": job.flag("set_null_voltages_to_nodata"),
           "log": job.flag("log_transform_maps")}
    if out["cum_only"]:
        out["cur"] = True
    if job.scenario == "advanced":
        _raster_advanced(job, cell, polymap, meta, opts, out)
    elif job.scenario == "pairwise":
        _raster_pairwise(job, cell, polymap, meta, opts, out)
    else:
        _raster_one_all(job, cell, polymap, meta, opts, out)


def _to_map(values_per_node, nodemap, local_nodes=None):
    full = np.zeros(int(nodemap.max()) + 1)
    if local_nodes is None:
        full[1:] = values_per_node
    else:
        full[np.asarray(local_nodes) + 1] = values_per_node
    return full[nodemap]


def _local_nodemap(nodemap, comp):
    """Map restricted to one component (others 0), Circuitscape's local node map."""
    mask = np.zeros(int(nodemap.max()) + 1, dtype=bool)
    mask[np.asarray(comp) + 1] = True
    return np.where(mask[nodemap], nodemap, 0)


class _Cum:
    def __init__(self, shape, want_max):
        self.cum = np.zeros(shape)
        self.max = np.full(shape, -9999.0) if want_max else None

    def add(self, cmap):
        self.cum += cmap
        if self.max is not None:
            self.max = np.maximum(self.max, cmap)

    def write(self, job, meta, out, cell):
        if out["cum_only"] or out["cur"]:
            job.write_grid("_cum_curmap.asc", _process(self.cum, cell, out, "cur"), meta)
        if self.max is not None:
            job.write_grid("_max_curmap.asc", _process(self.max, cell, out, "cur"), meta)


def _process(cmap, cell, out, kind):
    cmap = cmap.copy()
    if kind == "cur" and out["log"]:
        with np.errstate(divide="ignore"):
            cmap = np.where(cmap > 0, np.log10(np.where(cmap > 0, cmap, 1)), grids.CS_NODATA)
    if out["null_cur" if kind == "cur" else "null_volt"]:
        cmap[cell == 0] = grids.CS_NODATA
    return cmap


def _save_resistances(job, ids, res):
    ids = np.asarray(ids, dtype=np.float64)
    full = np.zeros((ids.size + 1, ids.size + 1))
    full[0, 1:] = ids
    full[1:, 0] = ids
    full[1:, 1:] = res
    job.write_text("_resistances.out", grids.format_table(full))
    iu, ju = np.triu_indices(ids.size, k=1)
    three = np.column_stack([ids[iu], ids[ju], res[ju, iu]]) if iu.size else np.zeros((0, 3))
    job.write_text("_resistances_3columns.out", grids.format_table(three) if iu.size else "")


def _make_pair_writer(job, cell, nodemap, meta, out, cum, ids):
    def on_pair(sol):
        name = f"_{ids[sol.i]}_{ids[sol.j]}"
        lnm = _local_nodemap(nodemap, sol.nodes)
        inv = np.zeros(int(nodemap.max()) + 1, dtype=np.int64)
        inv[np.asarray(sol.nodes) + 1] = np.arange(1, sol.nodes.size + 1)
        local = inv[lnm]
        if out["volt"]:
            vm = np.concatenate([[0.0], sol.voltages])[local]
            job.write_grid(f"_voltmap{name}.asc", _process(vm, cell, out, "volt"), meta)
        if out["cur"]:
            cur = node_currents(sol.adjacency, sol.voltages)
            raw = np.concatenate([[0.0], cur])[local]
            cum.add(raw)
            cm = _process(raw, cell, out, "cur")
            if not out["cum_only"]:
                job.write_grid(f"_curmap{name}.asc", cm, meta)
    return on_pair


def _raster_pairwise(job, cell, polymap, meta, opts, out):
    ii, jj, ids = _read_points(job, job.path("point_file"), meta)
    inc = _read_included(job.path("included_pairs_file")) if job.flag("use_included_pairs") else None
    if inc is not None:
        keep = np.isin(ids, inc[1])
        ii, jj, ids = ii[keep], jj[keep], ids[keep]
    cum = _Cum(cell.shape, out["max"])
    uniq = list(dict.fromkeys(ids.tolist()))
    if len(uniq) < 2:
        raise InputFileError(f"{job.path('point_file')}: fewer than two focal points; add points")
    if len(uniq) == len(ids):
        exclude = set()
        if inc is not None:
            exclude = {(p, q) for p in range(len(ids)) for q in range(p + 1, len(ids))
                       if _pair_excluded(inc, ids[p], ids[q])}
        want = out["volt"] or out["cur"]
        res = None
        if polymap is None and not want:
            # few points on a plain grid: the multigrid straight from the cells, no graph
            res = raster_pairwise_resistances(cell, np.column_stack([ii, jj]), exclude=exclude,
                                              method=job.method, **opts)
        if res is not None:
            _save_resistances(job, ids, res)
            cum.write(job, meta, out, cell)
            return
        nodemap = build_node_map(cell, regions=polymap)
        adj = build_adjacency(cell, nodemap, **opts)
        focal = nodemap[ii, jj] - 1
        res = pairwise_resistances(
            adj, focal, exclude=exclude, method=job.method, node_coords=node_coordinates(nodemap),
            on_pair=_make_pair_writer(job, cell, nodemap, meta, out, cum, ids) if want else None,
            release_adjacency=not want)
    else:
        res = -np.ones((len(uniq), len(uniq)))
        for p in range(len(uniq)):
            for q in range(p + 1, len(uniq)):
                pa, pb = uniq[p], uniq[q]
                if inc is not None and _pair_excluded(inc, pa, pb):
                    continue
                newpoly = _pair_polymap(cell, polymap, ii, jj, ids, pa, pb)
                nodemap = build_node_map(cell, regions=newpoly)
                adj = build_adjacency(cell, nodemap, **opts)
                fa = np.flatnonzero(ids == pa)[0]
                fb = np.flatnonzero(ids == pb)[0]
                focal = [nodemap[ii[fa], jj[fa]] - 1, nodemap[ii[fb], jj[fb]] - 1]
                writer = _make_pair_writer(job, cell, nodemap, meta, out, cum, [pa, pb])
                r = pairwise_resistances(adj, focal, method=job.method,
                                         node_coords=node_coordinates(nodemap),
                                         on_pair=writer if (out["volt"] or out["cur"]) else None)
                res[p, q] = res[q, p] = r[0, 1]
        np.fill_diagonal(res, 0.0)
        ids = np.array(uniq)
    _save_resistances(job, ids, res)
    cum.write(job, meta, out, cell)


def _pair_polymap(cell, polymap, ii, jj, ids, pa, pb):
    if polymap is None:
        newpoly = np.zeros(cell.shape, dtype=np.int64)
        for p in (pa, pb):
            sel = ids == p
            newpoly[ii[sel], jj[sel]] = p
        return newpoly
    newpoly = polymap.copy()
    k = int(polymap.max())
    for p in (pa, pb):
        sel = ids == p
        if sel.sum() == 1:
            continue
        under = polymap[ii[sel], jj[sel]]
        if np.all(under == 0):
            newpoly[ii[sel], jj[sel]] = k + 1
            k += 1
        else:
            nz = under[under != 0]
            if nz.size == 1:
                newpoly[ii[sel], jj[sel]] = nz[0]
            else:
                newpoly[np.isin(polymap, nz)] = k + 1
                k += 1
    return newpoly


def _onetoall_polymap(polymap, point_map, ids_unique_count, n_points):
    if polymap is None:
        return point_map.copy()
    newpoly = polymap.copy()
    if ids_unique_count == n_points:
        k = int(polymap.max())
        sel = (point_map != 0) & (polymap == 0)
        newpoly[sel] = point_map[sel] + k
        return newpoly
    k = int(max(polymap.max(), point_map.max()))
    cols, rows = np.nonzero(point_map.T)
    for r, c in zip(rows, cols):
        v1, v2 = point_map[r, c], newpoly[r, c]
        if v2 == 0:
            newpoly[r, c] = k + v1
            continue
        if v1 != v2:
            newpoly[newpoly == v2] = v1
    return newpoly


def _node_values(nodemap, cell_values, n):
    vals = np.zeros(n + 1)
    np.add.at(vals, nodemap.ravel(), cell_values.ravel())
    return vals[1:]


def _solve_and_maps(adj, sources, grounds, policy, nodemap, only_node, method):
    s, g, fg = resolve_sources_grounds(sources, grounds, policy=policy)
    volts, solved = solve_sources_grounds(adj, s, g, fg, only_node=only_node, method=method,
                                          node_coords=node_coordinates(nodemap))
    vmap = np.zeros(nodemap.shape)
    cmap = np.zeros(nodemap.shape)
    for comp in solved:
        sub = adj[comp][:, comp]
        cur = node_currents(sub, volts[comp], finite_grounds=None if fg is None else fg[comp])
        lnm = _local_nodemap(nodemap, comp)
        vmap += np.where(lnm > 0, _to_map(volts, nodemap), 0.0)
        full = np.zeros(int(nodemap.max()) + 1)
        full[np.asarray(comp) + 1] = cur
        cmap += full[lnm]
    return volts, solved, vmap, cmap


def _raster_advanced(job, cell, polymap, meta, opts, out):
    src_path, gnd_path = job.path("source_file"), job.path("ground_file")
    src = _read_source_ground(job, src_path, meta)
    gnd = _read_source_ground(job, gnd_path, meta)
    src = np.where(src == grids.CS_NODATA, 0.0, src)
    nod = gnd == grids.CS_NODATA
    if job.flag("ground_file_is_resistances"):
        with np.errstate(divide="ignore"):
            gnd = np.where(nod, 0.0, 1.0 / np.where(nod, 1.0, gnd))
    else:
        gnd = np.where(nod, 0.0, gnd)
    if job.flag("use_unit_currents"):
        src = np.where(src != 0, 1.0, 0.0)
    if job.flag("use_direct_grounds"):
        gnd = np.where(gnd != 0, np.inf, 0.0)
    nodemap = build_node_map(cell, regions=polymap)
    adj = build_adjacency(cell, nodemap, **opts)
    n = adj.shape[0]
    sources = _node_values(nodemap, src, n)
    grounds = _node_values(nodemap, gnd, n)
    policy = job.cfg.get("remove_src_or_gnd", "keepall").strip().lower()
    if policy in ("not entered", ""):
        policy = "keepall"
    _, _, vmap, cmap = _solve_and_maps(adj, sources, grounds, policy, nodemap, None, job.method)
    if out["volt"]:
        job.write_grid("_voltmap.asc", vmap, meta)
    if out["cur"]:
        job.write_grid("_curmap.asc", cmap, meta)


def _read_source_ground(job, path, meta):
    if grids.is_grid(path):
        vals = _read_on_grid(path, meta, "grid")
        return vals
    values, ii, jj = _table_cells(path, meta, "the point")
    vals = np.full((meta.nrows, meta.ncols), grids.CS_NODATA)
    vals[ii, jj] = values
    return vals


def _raster_one_all(job, cell, polymap, meta, opts, out):
    one_to_all = job.scenario == "one-to-all"
    ii, jj, ids = _read_points(job, job.path("point_file"), meta)
    inc = _read_included(job.path("included_pairs_file")) if job.flag("use_included_pairs") else None
    if inc is not None:
        keep = np.isin(ids, inc[1])
        ii, jj, ids = ii[keep], jj[keep], ids[keep]
    strengths = {}
    if job.flag("use_variable_source_strengths"):
        tab = grids.read_table(job.path("variable_source_file"), min_columns=2, columns="focal point id, strength")
        strengths = {int(a): float(b) for a, b in tab[:, :2]}
    point_map = np.zeros(cell.shape, dtype=np.int64)
    point_map[ii, jj] = ids
    uniq = list(dict.fromkeys(ids.tolist()))
    newpoly = _onetoall_polymap(polymap, point_map, len(uniq), len(ids))
    nodemap = build_node_map(cell, regions=newpoly)
    adj = build_adjacency(cell, nodemap, **opts)
    n = adj.shape[0]
    cum = _Cum(cell.shape, out["max"])
    results = []
    for pid in uniq:
        first = np.flatnonzero(ids == pid)[0]
        pm = point_map.copy()
        if inc is not None:
            for other in uniq:
                if other != pid and _pair_excluded(inc, pid, other):
                    pm[pm == other] = 0
        strength = strengths.get(int(pid), 1.0) if strengths else 1.0
        if one_to_all:
            src_map = np.zeros(cell.shape)
            src_map[ii[first], jj[first]] = strength
            gnd_map = np.where((pm != 0) & (pm != pid), np.inf, 0.0)
            policy = "rmvgnd"
        else:
            # 1 A per focal point (not per cell of a focal region), as Circuitscape 5
            src_map = np.zeros(cell.shape)
            for other in uniq:
                if other != pid and np.any(pm == other):
                    k = np.flatnonzero(ids == other)[0]
                    src_map[ii[k], jj[k]] += 1.0
            gnd_map = np.where(pm == pid, np.inf, 0.0)
            policy = "rmvsrc"
        sources = _node_values(nodemap, src_map, n)
        grounds = _node_values(nodemap, gnd_map, n)
        check = nodemap[ii[first], jj[first]] - 1
        _, solved, vmap, cmap = _solve_and_maps(adj, sources, grounds, policy, nodemap,
                                                    int(check), job.method)
        if not solved:
            results.append(-1.0)
        elif one_to_all:
            val = vmap[ii[first], jj[first]] / strength
            results.append(-1.0 if np.isclose(val, 0.0) else float(val))
        else:
            results.append(0.0)
        name = f"_{pid}"
        if out["volt"]:
            job.write_grid(f"_voltmap{name}.asc", vmap, meta)
        if out["cur"]:
            cum.add(cmap)
            job.write_grid(f"_curmap{name}.asc", cmap, meta)
    job.write_text("_resistances.out", grids.format_table(np.column_stack([uniq, results])))
    if out["cur"]:
        cum.write(job, meta, out, cell)


# ---------------------------------------------------------------- network
def _node_ids(path, values, n=None, what="node id"):
    """Whole numbers >= 0 (and < n when given: nodes of the graph), as int64; else an error naming the file."""
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if n is not None:
        bad |= values >= n
    if np.any(bad):
        v = values[bad][0]
        where = f"; the graph's nodes are 0 to {n - 1}" if n is not None else ""
        raise InputFileError(f"{path}: {what} {v:g} is not a node of the graph{where}; fix the id")
    return values.astype(np.int64)


def _run_network(job):
    graph = job.path("habitat_file")
    tab = grids.read_table(graph, min_columns=3, columns="node node weight")
    a, b = _node_ids(graph, tab[:, 0]), _node_ids(graph, tab[:, 1])
    w = tab[:, 2]
    is_res = job.flag("habitat_map_is_resistances", True)
    bad = ~np.isfinite(w) | ((w <= 0) if is_res else (w < 0))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        what = "resistance" if is_res else "conductance"
        raise InputFileError(f"{graph}: edge {int(a[k])}-{int(b[k])} (data line {k + 1}) has {what} {w[k]:g}; "
                             f"give every edge a finite {what} {'> 0' if is_res else '>= 0'}")
    if is_res:
        w = 1.0 / w
    n = int(max(a.max(), b.max())) + 1
    adj = sp.coo_matrix((w, (a, b)), shape=(n, n)).tocsr()
    adj = (adj + adj.T).tocsr()
    adj = adj - sp.diags(adj.diagonal())
    adj.eliminate_zeros()
    want_v, want_c = job.flag("write_volt_maps"), job.flag("write_cur_maps")
    if job.scenario == "pairwise":
        points = job.path("point_file")
        focal = _node_ids(points, grids.read_table(points)[:, 0], n, "focal node")
        cum_node = np.zeros(n)
        cum_branch = {}

        def on_pair(sol):
            name = f"_{focal[sol.i]}_{focal[sol.j]}"
            nodes = sol.nodes
            if want_v:
                job.write_text(f"_voltages{name}.txt",
                               grids.format_table(np.column_stack([nodes, sol.voltages])))
            if want_c:
                cur = node_currents(sol.adjacency, sol.voltages)
                r, c, bc = branch_currents(sol.adjacency, sol.voltages)
                cum_node[nodes] += cur
                for x, y, v in zip(nodes[r], nodes[c], bc):
                    cum_branch[(x, y)] = cum_branch.get((x, y), 0.0) + v
                job.write_text(f"_node_currents{name}.txt",
                               grids.format_table(np.column_stack([nodes, cur])))
                job.write_text(f"_branch_currents{name}.txt",
                               grids.format_table(np.column_stack([nodes[r], nodes[c], bc])))

        res = pairwise_resistances(adj, focal, on_pair=on_pair if (want_v or want_c) else None,
                                   method=job.method)
        _save_resistances(job, focal, res)
        if want_c:
            job.write_text("_node_currents_cum.txt",
                           grids.format_table(np.column_stack([np.arange(n), cum_node])))
            keys = sorted(cum_branch, key=lambda t: (t[1], t[0]))
            job.write_text("_branch_currents_cum.txt", grids.format_table(
                [[x, y, cum_branch[(x, y)]] for x, y in keys]))
        return
    if job.scenario != "advanced":
        raise ConfigError(f"{job.ini}: network jobs support pairwise and advanced scenarios; "
                          f"scenario = {job.scenario} is not implemented")
    src_path, gnd_path = job.path("source_file"), job.path("ground_file")
    src = grids.read_table(src_path, min_columns=2, columns="node value")
    gnd = grids.read_table(gnd_path, min_columns=2, columns="node value")
    sources = np.zeros(n)
    grounds = np.zeros(n)
    sources[_node_ids(src_path, src[:, 0], n)] = src[:, 1]
    gv = gnd[:, 1].copy()
    if job.flag("ground_file_is_resistances"):
        with np.errstate(divide="ignore"):
            gv = 1.0 / gv
    grounds[_node_ids(gnd_path, gnd[:, 0], n)] = gv
    if job.flag("use_unit_currents"):
        sources = np.where(sources != 0, 1.0, 0.0)
    if job.flag("use_direct_grounds"):
        grounds = np.where(grounds != 0, np.inf, 0.0)
    policy = job.cfg.get("remove_src_or_gnd", "keepall").strip().lower()
    if policy in ("not entered", ""):
        policy = "keepall"
    s, g, fg = resolve_sources_grounds(sources, grounds, policy=policy)
    volts, _ = solve_sources_grounds(adj, s, g, fg, method=job.method)
    nodes = np.arange(n)
    if want_v:
        job.write_text("_voltages.txt", grids.format_table(np.column_stack([nodes, volts])))
    if want_c:
        cur = node_currents(adj, volts, finite_grounds=fg)
        r, c, bc = branch_currents(adj, volts)
        job.write_text("_node_currents.txt", grids.format_table(np.column_stack([nodes, cur])))
        job.write_text("_branch_currents.txt",
                       grids.format_table(np.column_stack([r, c, bc])))
