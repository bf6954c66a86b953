"""Benchmark: habitat cost_distance vs scikit-image MCP_Geometric and the peers that install.

Usage: python bench/bench_cost_distance.py [--size 4000] [--repeats 3] [--seed 0]
       [--barrier-fraction 0.1] [--jaxscape-size 200] [--many 8] [--grass] [--baseline DIR]

One source at the grid centre on a random resistance grid (uniform 1..100, a fraction of cells
impassable), 8 neighbours. Every tool runs once per repeat, in turn, in the same process, so
ratios are measured under the same load; the table gives median wall times, median CPU seconds of
the process (all threads; the load moves them less) and the median of the per-repeat ratios.
Peers (benchmark only, never dependencies of habitat), each skipped with a message when not
installed:

- scikit-image ``MCP_Geometric(fully_connected=True)`` (the reference of issue 4);
- WhiteboxTools through ``whitebox-workflows`` (``cost_distance``, Rust), 8 neighbours;
- ``xarray-spatial`` ``cost_distance`` (numba, float32 output), 8 neighbours;
- ``jaxscape`` ``LCPDistance`` (JAX Bellman-Ford) on a small grid only (``--jaxscape-size``),
  4 neighbours: its grid graph has no step lengths, so only rook moves give the same costs;
- GRASS ``r.cost`` / ``r.cost -k`` once with ``--grass`` when ``grass`` is on PATH.

Also: 16 neighbours (knight's moves) against 8, and ``--many`` independent single-source runs
through ``cost_distance_many`` (threads) against a loop of ``cost_distance`` calls.
``--baseline DIR`` also times the kernel of another checkout (e.g. main) in the same loop, 8 and
16 neighbours, and checks that its costs are bit-identical.
Costs are compared as max relative difference over cells both reach, plus whether the sets of
reached cells agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(func):
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def _time_cpu(func):
    """Wall and CPU seconds of the process (all its threads) for one call."""
    cpu = time.process_time()
    out, wall = _time(func)
    return out, wall, time.process_time() - cpu


def _max_rel_diff(a, b):
    finite = np.isfinite(a) & np.isfinite(b)
    same_mask = np.array_equal(np.isfinite(a), np.isfinite(b))
    rel = np.abs(a[finite] - b[finite]) / np.maximum(np.abs(b[finite]), 1e-300)
    return same_mask, float(rel.max()) if rel.size else 0.0


def _write_tif(path, array, cell_size, nodata):
    import rasterio
    from rasterio.transform import from_origin

    ny, nx = array.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=nx,
        height=ny,
        count=1,
        dtype="float64",
        transform=from_origin(0, ny * cell_size, cell_size, cell_size),
        nodata=nodata,
    ) as dst:
        dst.write(array, 1)


class Whitebox:
    """WhiteboxTools cost distance; inputs read once, only the tool call is timed."""

    name = "whitebox-workflows cost_distance"

    def __init__(self, resistance, start, cell_size, tmp):
        import whitebox_workflows as wbw

        self.env = wbw.WbEnvironment()
        self.tmp = Path(tmp)
        source = np.zeros(resistance.shape)
        source[start] = 1.0
        cost = np.where(np.isfinite(resistance), resistance, -9999.0)
        _write_tif(self.tmp / "cost.tif", cost, cell_size, -9999.0)
        _write_tif(self.tmp / "source.tif", source, cell_size, -9999.0)
        self.cost = self.env.read_raster(str(self.tmp / "cost.tif"))
        self.source = self.env.read_raster(str(self.tmp / "source.tif"))

    def run(self):
        accum, _backlink = self.env.cost_distance(self.source, self.cost)
        return accum

    def to_numpy(self, accum):
        import rasterio

        path = self.tmp / "accum.tif"
        self.env.write_raster(accum, str(path))
        with rasterio.open(path) as ds:
            return ds.read(1, masked=True).astype(np.float64).filled(np.inf)


class XarraySpatial:
    """xarray-spatial cost_distance on NumPy-backed DataArrays (float32 output, NaN unreachable)."""

    name = "xarray-spatial cost_distance"

    def __init__(self, resistance, start, cell_size, tmp):
        import xarray as xr
        from xrspatial import cost_distance

        ny, nx = resistance.shape
        coords = {"y": (np.arange(ny)[::-1] + 0.5) * cell_size, "x": (np.arange(nx) + 0.5) * cell_size}
        source = np.zeros(resistance.shape)
        source[start] = 1.0
        self.raster = xr.DataArray(source, dims=("y", "x"), coords=coords)
        friction = np.where(np.isfinite(resistance), resistance, np.nan)
        self.friction = xr.DataArray(friction, dims=("y", "x"), coords=coords)
        self.func = cost_distance
        small = (slice(0, 20), slice(0, 20))
        cost_distance(self.raster[small], self.friction[small], connectivity=8)  # numba compile, untimed

    def run(self):
        return self.func(self.raster, self.friction, connectivity=8)

    def to_numpy(self, out):
        return np.nan_to_num(np.asarray(out.values, dtype=np.float64), nan=np.inf)


PEERS = (("whitebox_workflows", Whitebox), ("xrspatial", XarraySpatial))


def _run_jaxscape(resistance, start, repeats):
    """jaxscape LCPDistance (Bellman-Ford), 4 neighbours; returns (costs, median s) or skip text."""
    if importlib.util.find_spec("jaxscape") is None:
        return None, "jaxscape not installed (pip install jaxscape): skipped"
    import jax
    import jax.numpy as jnp
    from jaxscape import ROOK_CONTIGUITY, GridGraph, LCPDistance

    jax.config.update("jax_enable_x64", True)
    ny, nx = resistance.shape
    # Conductance 0 = no edge (impassable); the edge cost 1/a is then the mean of two resistances.
    def conductance_of(x, y):
        return jnp.where(jnp.isfinite(x) & jnp.isfinite(y), 2.0 / (x + y), 0.0)

    graph = GridGraph(jnp.asarray(resistance), fun=conductance_of, neighbors=ROOK_CONTIGUITY)
    source = jnp.array([start[0] * nx + start[1]])
    targets = jnp.arange(ny * nx)
    distance = LCPDistance()
    distance(graph, sources=source, targets=targets).block_until_ready()  # compile outside the timing
    times = []
    for _ in range(repeats):
        out, seconds = _time(lambda: distance(graph, sources=source, targets=targets).block_until_ready())
        times.append(seconds)
    return (np.asarray(out, dtype=np.float64).reshape(ny, nx), float(np.median(times))), None


def _run_grass(resistance, start, knight):
    """GRASS r.cost in a throwaway XY location; returns costs in cell units or None."""
    grass = shutil.which("grass")
    if grass is None:
        return None, "GRASS not on PATH (apt-get install grass-core): skipped"
    import rasterio

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ny = resistance.shape[0]
        src = tmp / "r.tif"
        _write_tif(src, np.where(np.isfinite(resistance), resistance, -9999.0), 1.0, -9999.0)
        subprocess.run([grass, "-c", "XY", str(tmp / "xy"), "-e"], check=True, capture_output=True)
        x, y = start[1] + 0.5, ny - start[0] - 0.5
        flag = "-k" if knight else ""
        job = tmp / "job.sh"
        job.write_text(
            f"r.in.gdal input={src} output=r -o --quiet\n"
            "g.region raster=r\n"
            "t0=$(date +%s.%N)\n"
            f"r.cost {flag} input=r start_coordinates={x},{y} output=c --quiet\n"
            f"echo $t0 $(date +%s.%N) > {tmp}/t\n"
            f"r.out.gdal input=c output={tmp}/c.tif format=GTiff type=Float64 --quiet\n"
        )
        subprocess.run(
            [grass, str(tmp / "xy" / "PERMANENT"), "--exec", "bash", str(job)],
            check=True,
            capture_output=True,
        )
        with rasterio.open(tmp / "c.tif") as ds:
            cost = ds.read(1, masked=True).filled(np.inf)
        t0, t1 = (float(v) for v in (tmp / "t").read_text().split())
        return (cost, t1 - t0), None


def _load_baseline(root):
    """The kernel module of another checkout under its own name, compiled without numba's cache
    (a cache entry written under another module name would break that checkout's own imports)."""
    import types

    path = Path(root) / "habitat" / "connectivity" / "_dijkstra.py"
    module = types.ModuleType("baseline_dijkstra")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    exec(compile(path.read_text().replace("cache=True", "cache=False"), str(path), "exec"), module.__dict__)
    return module


def _grid(n, seed, barrier_fraction):
    rng = np.random.default_rng(seed)
    resistance = rng.uniform(1.0, 100.0, (n, n))
    resistance[rng.random((n, n)) < barrier_fraction] = np.inf
    start = (n // 2, n // 2)
    resistance[start] = 1.0
    return resistance, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--barrier-fraction", type=float, default=0.1)
    parser.add_argument("--cell-size", type=float, default=30.0)
    parser.add_argument("--jaxscape-size", type=int, default=200, help="0 skips jaxscape")
    parser.add_argument("--many", type=int, default=8, help="runs for cost_distance_many; 0 skips")
    parser.add_argument("--many-size", type=int, default=1000)
    parser.add_argument("--grass", action="store_true", help="also run GRASS r.cost once (slow)")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="root of another checkout whose kernel also runs in the loop (8 and 16 neighbours)",
    )
    args = parser.parse_args()

    from skimage.graph import MCP_Geometric

    from habitat.connectivity import _dijkstra
    from habitat.connectivity.cost_distance import cost_distance, cost_distance_many

    n = args.size
    cs = args.cell_size
    resistance, start = _grid(n, args.seed, args.barrier_fraction)
    print(
        f"grid {n} x {n} ({n * n / 1e6:.1f} M cells), one source, {args.barrier_fraction:.0%} impassable, "
        f"{args.repeats} repeats, kernel: {'numba' if _dijkstra.HAVE_NUMBA else 'scipy'}"
    )
    warm = np.ones((1100, 1100))  # above _PARALLEL_CELLS: loads the threaded passes too
    cost_distance(warm, [(0, 0)], cell_size_m=1.0)  # compile / load the cached kernels outside the timing
    cost_distance(warm, [(0, 0)], neighbours=16, cell_size_m=1.0)

    tmp = tempfile.TemporaryDirectory()
    def mcp():
        return MCP_Geometric(resistance, fully_connected=True).find_costs([start])[0] * cs

    tools = {
        "habitat (8)": lambda: cost_distance(resistance, [start], cell_size_m=cs),
        "habitat (16)": lambda: cost_distance(resistance, [start], cell_size_m=cs, neighbours=16),
        "skimage MCP_Geometric": mcp,
    }
    if args.baseline is not None:
        base = _load_baseline(args.baseline)
        for nb in (8, 16):
            tools[f"baseline ({nb})"] = lambda nb=nb: base.dijkstra_grid(
                resistance, [start[0]], [start[1]], nb, np.inf, scale=cs, want_backlink=False
            )[0]
            tools[f"baseline ({nb})"]()  # compile outside the timing

    convert = {}
    for module, peer_class in PEERS:
        if importlib.util.find_spec(module) is None:
            print(f"{peer_class.name}: {module} not installed, skipped")
            continue
        peer = peer_class(resistance, start, cs, tmp.name)
        tools[peer.name] = peer.run
        convert[peer.name] = peer.to_numpy

    times = {name: [] for name in tools}
    cpu_times = {name: [] for name in tools}
    outputs = {}
    for repeat in range(args.repeats):
        order = list(tools)
        if args.baseline is not None:
            # each kernel right after the other, which one first alternating: the call before
            # decides how fresh the memory is (the first touch of fresh memory is dear here)
            pairs = [["habitat (8)", "baseline (8)"], ["habitat (16)", "baseline (16)"]]
            first = [name for pair in pairs for name in (pair if repeat % 2 == 0 else pair[::-1])]
            order = first + [name for name in order if name not in first]
        for name in order:
            out, seconds, cpu_seconds = _time_cpu(tools[name])
            times[name].append(seconds)
            cpu_times[name].append(cpu_seconds)
            outputs[name] = out
    for name, to_numpy in convert.items():
        outputs[name] = to_numpy(outputs[name])
    tmp.cleanup()

    ours = np.array(times["habitat (8)"])
    print()
    print("| tool | median s | CPU s | M cells/s | tool / habitat (8) | max rel. diff vs habitat | same reach |")
    print("|---|---|---|---|---|---|---|")
    for name, t in times.items():
        t = np.array(t)
        if name in ("habitat (16)", "baseline (16)"):
            eight = name.replace("16", "8")
            cpu_ratio = np.median(np.array(cpu_times[name]) / np.array(cpu_times[eight]))
            ratio = f"{np.median(t / np.array(times[eight])):.2f} (16 vs 8; CPU {cpu_ratio:.2f})"
            if name == "habitat (16)":
                rel, same = "-", "-"
            else:
                same = np.array_equal(outputs[name], outputs["habitat (16)"])
                rel = "bit-identical" if same else "differs"
        else:
            ratio = f"{np.median(t / ours):.2f}x"
            same, rel = _max_rel_diff(outputs[name], outputs["habitat (8)"])
            rel = f"{rel:.1e}"
        rate = n * n / np.median(t) / 1e6
        cpu = np.median(cpu_times[name])
        print(f"| {name} | {np.median(t):.3f} | {cpu:.3f} | {rate:.2f} | {ratio} | {rel} | {same} |")

    if args.jaxscape_size:
        small, small_start = _grid(args.jaxscape_size, args.seed, args.barrier_fraction)
        result, skip = _run_jaxscape(small, small_start, args.repeats)
        if result is None:
            print(f"\njaxscape: {skip}")
        else:
            jax_cost, t_jax = result
            ours_small = []
            for _ in range(args.repeats):
                cost4, seconds = _time(lambda: cost_distance(small, [small_start], neighbours=4, cell_size_m=1.0))
                ours_small.append(seconds)
            same, rel = _max_rel_diff(jax_cost, cost4)
            t_small = float(np.median(ours_small))
            print(
                f"\njaxscape LCPDistance, {args.jaxscape_size} x {args.jaxscape_size}, 4 neighbours: "
                f"{t_jax:.3f} s vs habitat {t_small:.4f} s ({t_jax / t_small:.0f}x), "
                f"max rel. diff {rel:.1e}, reached cells equal {same}"
            )

    if args.many:
        m = args.many_size
        grid, _ = _grid(m, args.seed + 1, args.barrier_fraction)
        rng = np.random.default_rng(args.seed + 2)
        starts = [[tuple(int(v) for v in cell)] for cell in rng.integers(0, m, (args.many, 2))]
        for (cell,) in starts:
            grid[cell] = 1.0
        list(cost_distance_many(np.ones((50, 50)), [[(0, 0)], [(1, 1)]]))
        loop_t, many_t = [], []
        for _ in range(args.repeats):
            loop, seconds = _time(lambda: [cost_distance(grid, s, cell_size_m=cs) for s in starts])
            loop_t.append(seconds)
            many, seconds = _time(lambda: list(cost_distance_many(grid, starts, cell_size_m=cs)))
            many_t.append(seconds)
        identical = all(np.array_equal(a, b) for a, b in zip(loop, many, strict=True))
        print(
            f"\n{args.many} independent sources on {m} x {m}: loop {np.median(loop_t):.2f} s, "
            f"cost_distance_many {np.median(many_t):.2f} s "
            f"({np.median(np.array(loop_t) / np.array(many_t)):.2f}x), identical {identical}"
        )

    if args.grass:
        for knight in (False, True):
            label = "r.cost -k" if knight else "r.cost"
            result, skip = _run_grass(resistance, start, knight)
            if result is None:
                print(f"GRASS {label}: {skip}")
                break
            grass_cost, t_grass = result
            key = "habitat (16)" if knight else "habitat (8)"
            same, rel = _max_rel_diff(outputs[key] / cs, grass_cost)
            print(
                f"GRASS {label}: {t_grass:.3f} s (r.cost alone), "
                f"{t_grass / np.median(times[key]):.2f}x ours, "
                f"max rel. diff {rel:.1e}, reached cells equal {same}"
            )


if __name__ == "__main__":
    main()
