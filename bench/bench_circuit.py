"""Benchmark the circuit engine against Circuitscape 4.0.5 (Python 2.7) in the same run.

Usage: python bench/bench_circuit.py [--size 1000] [--points 20] [--big 4000] [--no-peer] [--repeat 9] [--api]
       [--baseline /path/to/other/checkout] [--big-rows 6000 --big-cols 4000] [--work DIR]
       [--single-only | --many-only]

Random resistance grid (uniform 1..100, 5 % nodata), focal points at random valid cells,
pairwise mode without maps. Both tools run as child processes on the same INI job, so each
time covers start-up, reading the grids, solving and writing ``_resistances.out``; peak RSS
is the child's. Circuitscape 4.0.5 (Python 2.7 via pyenv, recipe in PEERS.md) is installed
into bench/_work/cs4 on first use; without pyenv or Python 2.7.18 the peer is skipped with a
message. Job files (cached between runs) live under bench/_work/ (git-ignored).

habitat is timed as the command users run, ``python -m habitat.cli -q circuit job.ini`` (``--api``:
``run_job`` from ``python -c``, as before 2026-11-27 19:00 UTC); ``--repeat N`` alternates the
tools N times and prints the medians; CPU-s are user + system time of each child.

``--baseline`` runs the same jobs with another checkout of habitat (e.g. the main branch
before a change) and prints the largest relative difference of the resistances: "same
answers" is checked, not assumed. A tiny job runs first, untimed, so numba's on-disk
cache of compiled kernels is warm as after the first use of an installed package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "_work"
CS4 = WORK / "cs4"
CPU_S = [0.0]  # user + system CPU seconds of the last child
API = False


def _grid(size, seed):
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, (size, size))
    res[rng.random((size, size)) < 0.05] = -9999  # some nodata
    return res


def _grid_rect(rows, cols, seed):
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, (rows, cols))
    res[rng.random((rows, cols)) < 0.05] = -9999
    return res


def _write_asc(path, arr, nodata=-9999):
    with open(path, "w") as fh:
        fh.write(f"ncols {arr.shape[1]}\nnrows {arr.shape[0]}\nxllcorner 0\nyllcorner 0\n"
                 f"cellsize 1\nNODATA_value {nodata}\n")
        np.savetxt(fh, arr, fmt="%.6g")


def _points(res, n_points, seed):
    """Point grid: 1..n_points at random valid cells of ``res``, 0 elsewhere."""
    rng = np.random.default_rng(seed + 1)
    pts = np.zeros(res.shape)
    placed = 0
    while placed < n_points:
        i, j = rng.integers(0, res.shape[0]), rng.integers(0, res.shape[1])
        if res[i, j] > 0 and pts[i, j] == 0:
            pts[i, j] = placed + 1
            placed += 1
    return pts


def _job(folder, name, size, n_points, seed, cols=None):
    folder.mkdir(parents=True, exist_ok=True)
    cols = size if cols is None else cols
    res = _grid(size, seed) if cols == size else _grid_rect(size, cols, seed)
    pts = _points(res, n_points, seed)
    stamp = folder / "grids.stamp"
    key = f"size={size} cols={cols} points={n_points} seed={seed}"
    # writing a 4000 x 4000 grid as text takes about a minute: reuse the files of an earlier run
    if not (stamp.is_file() and stamp.read_text() == key and (folder / "pts.asc").is_file()):
        _write_asc(folder / "res.asc", res)
        _write_asc(folder / "pts.asc", np.where(pts > 0, pts, -9999))
        stamp.write_text(key)
    ini = folder / f"{name}.ini"
    ini.write_text(f"""[Circuitscape mode]
data_type = raster
scenario = pairwise
[Habitat raster or graph]
habitat_file = {folder / 'res.asc'}
habitat_map_is_resistances = True
[Options for pairwise and one-to-all and all-to-one modes]
point_file = {folder / 'pts.asc'}
use_included_pairs = False
included_pairs_file = None
[Connection scheme for raster habitat data]
connect_four_neighbors_only = False
connect_using_avg_resistances = False
[Calculation options]
solver = cg+amg
low_memory_mode = False
[Output options]
output_file = {folder / name}.out
write_cur_maps = False
write_volt_maps = False
write_cum_cur_map_only = False
write_max_cur_maps = False
[Short circuit regions (aka polygons)]
use_polygons = False
polygon_file = None
[Mask file]
use_mask = False
mask_file = None
[Options for advanced mode]
source_file = None
ground_file = None
ground_file_is_resistances = False
remove_src_or_gnd = keepall
use_unit_currents = False
use_direct_grounds = False
[Options for one-to-all and all-to-one modes]
use_variable_source_strengths = False
variable_source_file = None
""")
    return ini


def _run_child(cmd, env=None, cwd=None):
    """Run ``cmd``; return (seconds, peak RSS in GiB, returncode, stderr); CPU-s in CPU_S."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU_S[0] = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - t0, usage.ru_maxrss / 2**20, proc.returncode, err


def _ours(ini, root=ROOT):
    code = ("from pathlib import Path; from habitat.io.circuitscape import run_job; "
            f"run_job(Path({str(ini)!r}), cwd=Path({str(ini.parent)!r}))")
    env = dict(os.environ, PYTHONPATH=str(root))
    # the command users run (`habitat circuit job.ini`); --api: run_job from `python -c`.
    # Run in the job folder: relative paths resolve there, as for Circuitscape
    cmd = ([sys.executable, "-c", code] if API else
           [sys.executable, "-m", "habitat.cli", "-q", "circuit", str(ini)])
    dt, rss, rc, err = _run_child(cmd, env=env, cwd=ini.parent)
    if rc:
        raise SystemExit("habitat run failed: " + err.strip()[-2000:])
    out = ini.with_suffix("").as_posix() + "_resistances.out"
    r = np.loadtxt(out)
    os.replace(out, out + f".{Path(root).name}")  # keep each side's answer for comparison
    return dt, rss, r


def _rel(a, b):
    """Largest relative difference of two resistance tables (ids in row/column 0)."""
    a, b = np.atleast_2d(a)[1:, 1:], np.atleast_2d(b)[1:, 1:]
    scale = np.maximum(np.abs(b), 1e-300)
    return float(np.max(np.abs(a - b) / scale))


def _peer(ini):
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, "pyenv not found"
    py = Path(root) / "versions" / "2.7.18" / "bin" / "python2.7"
    if not py.exists():
        return None, f"{py} missing"
    env = dict(os.environ, PYTHONPATH=str(CS4))
    if not (CS4 / "circuitscape").is_dir():
        steps = [[str(py), "-m", "pip", "install", "-q", "--target", str(CS4), "numpy==1.11.3", "scipy==0.19.1"],
                 [str(py), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--target", str(CS4), "pyamg==3.3.2"],
                 [str(py), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--target", str(CS4), "circuitscape==4.0.5"]]
        for cmd in steps:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if r.returncode:
                return None, "Circuitscape 4 install failed: " + r.stderr.strip().splitlines()[-1:][0]
    ini4 = ini.with_name(ini.stem + "_cs4.ini")
    ini4.write_text(ini.read_text().replace(f"{ini.with_suffix('')}.out", f"{ini.with_suffix('')}_cs4.out"))
    dt, rss, rc, err = _run_child(
        [str(py), "-c", f"from circuitscape.compute import Compute; Compute({str(ini4)!r}, None).compute()"],
        env=env, cwd=ini.parent)
    if rc:
        return None, "Circuitscape 4 run failed: " + (err.strip().splitlines() or ["?"])[-1]
    return (dt, rss), np.loadtxt(f"{ini.with_suffix('')}_cs4_resistances.out")


def _solves(size, n_points, seed=42):
    """In one process: the solves of the ``n_points`` job (one component, ground at point 1)
    by the grid multigrid, batched and one right-hand side at a time, and by the direct factor
    (CHOLMOD when scikit-sparse installs, else SuperLU) on the graph; CPU-s by
    ``time.process_time`` (both threads), wall, and the largest relative difference of the
    resistances from the factor's."""
    sys.path.insert(0, str(ROOT))
    from habitat.connectivity.circuit import (build_adjacency, build_node_map, gridamg,
                                              node_coordinates, pairwise_resistances, solve)
    from habitat.connectivity.circuit.solvers import cholmod_module

    res = _grid(size, seed)
    pts = _points(res, n_points, seed)
    cells = np.array([np.argwhere(pts == p)[0] for p in range(1, n_points + 1)])
    g = np.where(res > 0, 1.0 / np.where(res > 0, res, 1.0), 0.0)
    solve.GRID_AMG_MAX_RHS = max(solve.GRID_AMG_MAX_RHS, n_points - 1)
    batch_min = gridamg.BATCH_MIN

    def timed(label, f):
        t, w = time.process_time(), time.perf_counter()
        out = f()
        print(f"  {label}: {time.perf_counter() - w:.2f} s wall, {time.process_time() - t:.2f} CPU-s "
              f"[load {os.getloadavg()[0]:.1f}]", flush=True)
        return out

    def factor():
        nm = build_node_map(g)
        focal = nm[cells[:, 0], cells[:, 1]] - 1
        adj = build_adjacency(g, nm)
        return pairwise_resistances(adj, focal, method="direct", node_coords=node_coordinates(nm))

    def multigrid(lanes):
        gridamg.BATCH_MIN = batch_min if lanes else 10 ** 9
        try:
            return solve.raster_pairwise_resistances(g, cells)
        finally:
            gridamg.BATCH_MIN = batch_min

    print(f"{size}x{size}, {n_points} points, {n_points - 1} right-hand sides (in-process):", flush=True)
    multigrid(True)  # numba's cache and first dispatch, untimed
    ref = timed(f"direct factor on the graph ({'CHOLMOD' if cholmod_module() else 'SuperLU'})", factor)
    for lanes in (True, False):
        r = timed("grid multigrid, " + ("batched" if lanes else "one right-hand side at a time"),
                  lambda: multigrid(lanes))
        off = ~np.eye(n_points, dtype=bool)
        print(f"    max rel dR vs factor {np.max(np.abs(r - ref)[off] / ref[off]):.1e} "
              f"(all {n_points * (n_points - 1) // 2} pairs)", flush=True)


def main():
    global WORK, CS4, API
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--big", type=int, default=0, help="also run a single pair on big x big")
    ap.add_argument("--big-rows", type=int, default=0, help="big grid rows (with --big-cols)")
    ap.add_argument("--big-cols", type=int, default=0)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--only-big", action="store_true", help="skip the --size runs")
    ap.add_argument("--single-only", action="store_true", help="skip the many-point run")
    ap.add_argument("--many-only", action="store_true", help="skip the single-pair run")
    ap.add_argument("--baseline", type=Path, help="checkout of habitat to compare answers with")
    ap.add_argument("--work", type=Path, help="job and Circuitscape 4 folder (default bench/_work)")
    ap.add_argument("--api", action="store_true",
                    help="time run_job from `python -c` instead of the `habitat circuit` command")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the --size jobs this many times, alternating the tools; print medians")
    ap.add_argument("--solves", action="store_true",
                    help="only time the solves of the --points job in-process: grid multigrid "
                    "batched and one right-hand side at a time, and the direct factor")
    a = ap.parse_args()
    API = a.api
    if a.solves:
        return _solves(a.size, a.points)
    if a.work:
        WORK, CS4 = a.work, a.work / "cs4"
    # numba's cache, untimed; 250 x 250 (over 50,000 nodes) so the grid multigrid's kernels
    # are compiled too: one pair, and 10 points (two batches of right-hand sides, one a thread)
    for npts in (2, 10):
        warm = _job(WORK / f"warm{npts}", "warm", 250, npts, seed=1)
        _ours(warm)
        if a.baseline:
            _ours(warm, a.baseline)
    runs = [] if a.only_big else [(f"{a.points} points", a.points), ("single pair", 2)]
    if a.single_only:
        runs = runs[1:]
    if a.many_only:
        runs = runs[:1]
    stats = {}
    for rep in range(a.repeat):
        for label, npts in runs:
            ini = _job(WORK / f"grid{a.size}_{npts}", f"bench{npts}", a.size, npts, seed=42)
            ours, rss, r_ours = _ours(ini)
            cpu = CPU_S[0]
            st = stats.setdefault(label, {"ours": [], "cpu": [], "cs4": [], "cpu4": [], "ratio": []})
            st["ours"].append(ours)
            st["cpu"].append(cpu)
            line = f"{a.size}x{a.size} {label}: habitat {ours:.2f} s ({cpu:.2f} CPU-s, peak {rss:.2f} GiB)"
            if a.baseline:
                tb, rssb, r_base = _ours(ini, a.baseline)
                line += (f"; baseline {tb:.2f} s ({CPU_S[0]:.2f} CPU-s, peak {rssb:.2f} GiB), max rel dR vs "
                         f"baseline {_rel(r_ours, r_base):.1e}")
            line = f"[{time.strftime('%H:%M:%S', time.gmtime())} load {os.getloadavg()[0]:.1f}] " + line
            if a.no_peer:
                print(line + "; Circuitscape 4 skipped (--no-peer)", flush=True)
                continue
            theirs, r_cs4 = _peer(ini)
            if theirs is None:
                print(line + f"; Circuitscape 4 skipped: {r_cs4}", flush=True)
                continue
            t4, rss4 = theirs
            st["cs4"].append(t4)
            st["cpu4"].append(CPU_S[0])
            st["ratio"].append(t4 / ours)
            if r_ours.shape != r_cs4.shape:
                print(line + f"; Circuitscape 4 {t4:.1f} s; result shapes differ "
                      f"{r_ours.shape} vs {r_cs4.shape}", flush=True)
                continue
            diff = np.max(np.abs(r_ours[1:, 1:] - r_cs4[1:, 1:]))
            print(line + f"; Circuitscape 4 {t4:.2f} s ({CPU_S[0]:.2f} CPU-s, peak {rss4:.2f} GiB); "
                  f"speed-up {t4 / ours:.2f}x (CPU {CPU_S[0] / cpu:.2f}x); "
                  f"max |dR| {diff:.2e} ({'OK' if diff < 1e-3 else 'DIFFERENT'})", flush=True)
    if a.repeat > 1:
        for label, st in stats.items():
            med = {k: float(np.median(v)) if v else float("nan") for k, v in st.items()}
            print(f"{label}, median of {a.repeat}: habitat {med['ours']:.2f} s ({med['cpu']:.2f} CPU-s), "
                  f"Circuitscape 4 {med['cs4']:.2f} s ({med['cpu4']:.2f} CPU-s), speed-up median "
                  f"{med['ratio']:.2f}x (range {min(st['ratio'], default=float('nan')):.2f}-"
                  f"{max(st['ratio'], default=float('nan')):.2f}x), CPU ratio of medians "
                  f"{med['cpu4'] / med['cpu']:.2f}x", flush=True)
    if a.big or a.big_rows:
        rows, cols = (a.big_rows, a.big_cols) if a.big_rows else (a.big, a.big)
        ini = _job(WORK / f"grid{rows}x{cols}_2", "bench_big", rows, 2, seed=7, cols=cols)
        ours, rss, r = _ours(ini)
        print(f"{rows}x{cols} single pair: habitat {ours:.1f} s, R = {r[1, 2]:.10g}, "
              f"peak RSS {rss:.2f} GiB ({rss * 2**30 / (rows * cols):.0f} bytes per cell)",
              flush=True)
        if a.baseline:
            tb, rssb, r_base = _ours(ini, a.baseline)
            print(f"  baseline {tb:.1f} s, R = {r_base[1, 2]:.10g}, peak {rssb:.2f} GiB, "
                  f"max rel dR {_rel(r, r_base):.1e}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
