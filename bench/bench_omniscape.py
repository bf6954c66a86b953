"""Benchmark the Omniscape moving window: whole runs, and cost per window against pyamg.

Usage: python bench/bench_omniscape.py [--size 1000] [--radius 50] [--block 5] [--big 4000]
                                       [--sample 40] [--workers 2] [--flow-potential]

Random resistance (uniform 1..100, 5 % nodata), sources ``1 / R`` (Omniscape's
``source_from_resistance``), block artifacts corrected (Omniscape's default), cumulative
current only. Each whole run is a child process (time from start to the maps in memory,
peak RSS its own). Then, in this process and on the same grid, a sample of windows is solved
the plain way Omniscape.jl does by default (cg+amg): build the window's graph, a pyamg
smoothed-aggregation hierarchy, preconditioned CG (relative residual 1e-8) and node currents,
one window after the other on one core; its cost per window is set against ours (CPU
seconds of the whole child run / windows, everything included; on a shared machine the CPU
time moves less than the wall time). ``--big 0`` skips the large run; ``--big-block`` gives it
its own block size (fewer windows, same memory: rasters plus one band per worker).
``--flow-potential`` adds flow potential and normalized current; every run also reports the
growth of its RSS against :func:`habitat.connectivity.omniscape.estimate_memory_bytes`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout, not an installed habitat


def _grid(size, seed=0):
    rng = np.random.default_rng(seed)
    res = rng.uniform(1, 100, (size, size))
    res[rng.random((size, size)) < 0.05] = np.nan
    return res


def _child(size, radius, block, workers, flow_potential=False):
    from habitat.connectivity.omniscape import estimate_memory_bytes, omniscape, source_from_resistance

    res = _grid(size)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    estimate = estimate_memory_bytes(res.shape, radius=radius, block_size=block, workers=workers,
                                     sources=source_from_resistance(res), flow_potential=flow_potential)
    t0 = time.perf_counter()
    out = omniscape(res, None, radius=radius, block_size=block, source_from_resistance_=True,
                    workers=workers, calc_flow_potential=flow_potential,
                    calc_normalized_current=flow_potential)
    dt = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    rss = use.ru_maxrss * 1024
    print(json.dumps({"seconds": dt, "cpu_seconds": use.ru_utime + use.ru_stime,
                      "peak_rss": rss, "base_rss": base_rss, "estimate": estimate,
                      "targets": out.n_targets,
                      "solved": out.n_solved, "window_cells": out.stats["window_cells"],
                      "checksum": float(np.nansum(out.cum_currmap))}))


def _run_child(size, radius, block, workers, flow_potential=False):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(size), "--radius", str(radius),
                           "--block", str(block), "--workers", str(workers)]
                          + (["--flow-potential"] if flow_potential else []),
                          capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_with_startup"] = wall
    out["load"] = (load0 + os.getloadavg()[0]) / 2
    return out


def _pyamg_windows(size, radius, block, sample, seed=1):
    """Plain per-window cg+amg: CPU seconds per window on the sampled interior targets."""
    import pyamg
    import scipy.sparse.linalg as spla

    from habitat.connectivity.circuit.currents import node_currents
    from habitat.connectivity.circuit.graph import (
        build_adjacency,
        build_node_map,
        components,
        laplacian,
        principal_submatrix,
    )
    from habitat.connectivity.omniscape import source_from_resistance, targets

    res = _grid(size)
    src = source_from_resistance(res)
    ty, tx, amps = targets(src, block)
    inner = np.flatnonzero((ty >= radius) & (ty < size - radius) & (tx >= radius)
                           & (tx < size - radius))
    pick = np.random.default_rng(seed).choice(inner, size=min(sample, inner.size), replace=False)
    ii, jj = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    circle = ii ** 2 + jj ** 2 <= radius ** 2
    br = (block - 1) // 2
    c0 = time.process_time()
    for t in pick:
        y, x = ty[t], tx[t]
        r = res[y - radius:y + radius + 1, x - radius:x + radius + 1]
        g = np.where(circle & ~np.isnan(r), 1.0 / np.nan_to_num(r, nan=1.0), 0.0)
        s = np.where(circle, src[y - radius:y + radius + 1, x - radius:x + radius + 1], 0.0)
        s[radius - br:radius + br + 1, radius - br:radius + br + 1] = 0.0
        s *= amps[t] / s.sum()
        nm = build_node_map(g)
        adj = build_adjacency(g, nm)
        gnode = nm[radius, radius] - 1
        if gnode < 0:
            continue
        comp = next(c for c in components(adj) if np.any(c == gnode))
        sub = principal_submatrix(adj, comp).tocsr()
        lap = laplacian(sub)
        keep = comp != gnode
        a = lap[keep][:, keep].tocsr()
        node_src = np.zeros(nm.max())
        ci, cj = np.nonzero(nm)
        node_src[nm[ci, cj] - 1] = s[ci, cj]
        b = node_src[comp][keep]
        ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
        v_kept, _ = spla.cg(a, b, rtol=1e-8, atol=0.0, M=ml.aspreconditioner(cycle="V"),
                            maxiter=2000)
        v = np.zeros(comp.size)
        v[keep] = v_kept
        node_currents(sub, v)
    return (time.process_time() - c0) / pick.size, pick.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--radius", type=int, default=50)
    ap.add_argument("--block", type=int, default=5)
    ap.add_argument("--big", type=int, default=4000, help="size of the large run (0: skip)")
    ap.add_argument("--big-block", type=int, default=None,
                    help="block size of the large run (default --block)")
    ap.add_argument("--sample", type=int, default=40, help="windows solved with pyamg")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--flow-potential", action="store_true",
                    help="also flow potential and normalized current (as the omniscape stage)")
    args = ap.parse_args()
    if args.child is not None:
        _child(args.child, args.radius, args.block, args.workers, args.flow_potential)
        return
    print(f"load average {os.getloadavg()[0]:.1f}; {args.workers} workers")
    runs = [(args.size, args.block)]
    if args.big:
        runs.append((args.big, args.big_block or args.block))
    ours = {}
    for size, block in runs:
        r = _run_child(size, args.radius, block, args.workers, args.flow_potential)
        ours[size] = r
        per = r["seconds"] / r["targets"]
        print(f"{size} x {size}, radius {args.radius}, block {block}: {r['targets']} windows "
              f"({r['window_cells']} cells each) in {r['seconds']:.1f} s "
              f"({r['wall_with_startup']:.1f} s with start-up, load {r['load']:.1f}), CPU "
              f"{r['cpu_seconds']:.0f} s, peak RSS {r['peak_rss'] / 2**20:,.0f} MiB (grew "
              f"{(r['peak_rss'] - r['base_rss']) / 2**20:,.0f} MiB; estimate_memory_bytes "
              f"{r['estimate'] / 2**20:,.0f} MiB); "
              f"{per * 1e3:.2f} ms wall, {r['cpu_seconds'] / r['targets'] * 1e3:.2f} CPU-ms "
              f"per window", flush=True)
    amg, n = _pyamg_windows(args.size, args.radius, args.block, args.sample)
    core = ours[args.size]["cpu_seconds"] / ours[args.size]["targets"]
    print(f"pyamg cg+amg per window (plain, {n} interior windows, one thread): {amg * 1e3:.1f} "
          f"CPU-ms; "
          f"habitat {core * 1e3:.2f} CPU-ms -> {amg / core:.1f}x less compute per window; "
          f"{ours[args.size]['targets']} windows with pyamg would need about "
          f"{amg * ours[args.size]['targets']:.0f} CPU-s against habitat's "
          f"{ours[args.size]['cpu_seconds']:.0f}")


if __name__ == "__main__":
    main()
