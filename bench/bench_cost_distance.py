"""Benchmark: habitat cost_distance vs scikit-image MCP_Geometric (and GRASS r.cost if installed).

Usage: python bench/bench_cost_distance.py [--size 4000] [--seed 0] [--barrier-fraction 0.1]

One source at the grid centre on a random resistance grid (uniform 1..100, a fraction of cells
impassable). Prints both timings, the speed ratio, cells/s and whether the costs are identical
(max relative difference <= 1e-9).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(func):
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def _max_rel_diff(a, b):
    finite = np.isfinite(a) & np.isfinite(b)
    same_mask = np.array_equal(np.isfinite(a), np.isfinite(b))
    rel = np.abs(a[finite] - b[finite]) / np.maximum(np.abs(b[finite]), 1e-300)
    return same_mask, float(rel.max()) if rel.size else 0.0


def _run_grass(resistance, start, knight):
    """GRASS r.cost in a throwaway XY location; returns costs in cell units or None."""
    grass = shutil.which("grass")
    if grass is None:
        return None, "GRASS not on PATH (apt-get install grass-core): skipped"
    import rasterio
    from rasterio.transform import from_origin

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ny, nx = resistance.shape
        src = tmp / "r.tif"
        grass_in = np.where(np.isfinite(resistance), resistance, -9999.0)
        with rasterio.open(
            src,
            "w",
            driver="GTiff",
            width=nx,
            height=ny,
            count=1,
            dtype="float64",
            transform=from_origin(0, ny, 1, 1),
            nodata=-9999.0,
        ) as dst:
            dst.write(grass_in, 1)
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
        seconds = t1 - t0
        return (cost, seconds), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--barrier-fraction", type=float, default=0.1)
    parser.add_argument("--cell-size", type=float, default=30.0)
    args = parser.parse_args()

    from skimage.graph import MCP_Geometric

    from habitat.connectivity import _dijkstra
    from habitat.connectivity.cost_distance import cost_distance

    n = args.size
    rng = np.random.default_rng(args.seed)
    resistance = rng.uniform(1.0, 100.0, (n, n))
    resistance[rng.random((n, n)) < args.barrier_fraction] = np.inf
    start = (n // 2, n // 2)
    resistance[start] = 1.0
    print(
        f"grid {n} x {n} ({n * n / 1e6:.1f} M cells), one source, "
        f"{args.barrier_fraction:.0%} impassable, kernel: {'numba' if _dijkstra.HAVE_NUMBA else 'scipy'}"
    )

    cost_distance(resistance[:50, :50], [(0, 0)], cell_size_m=1.0)  # compile / load the cached kernel outside the timing
    ours, t_ours = _time(lambda: cost_distance(resistance, [start], cell_size_m=args.cell_size))
    (mcp, _), t_mcp = _time(lambda: MCP_Geometric(resistance, fully_connected=True).find_costs([start]))
    same_mask, rel = _max_rel_diff(ours, mcp * args.cell_size)
    print(f"habitat cost_distance : {t_ours:8.3f} s  {n * n / t_ours / 1e6:6.2f} M cells/s")
    print(f"skimage MCP_Geometric : {t_mcp:8.3f} s  {n * n / t_mcp / 1e6:6.2f} M cells/s")
    print(f"speed-up vs MCP       : {t_mcp / t_ours:8.2f} x")
    print(
        f"identical costs       : {same_mask and rel <= 1e-9} (reachability equal: {same_mask}, "
        f"max relative difference {rel:.2e})"
    )

    for knight in (False, True):
        label = "r.cost -k" if knight else "r.cost"
        result, skip = _run_grass(resistance, start, knight)
        if result is None:
            print(f"GRASS {label:9s}       : {skip}")
            break
        grass_cost, t_grass = result
        if knight:
            ours_k, t_ours = _time(lambda: cost_distance(resistance, [start], neighbours=16, cell_size_m=1.0))
        else:
            ours_k = ours / args.cell_size
            t_ours = t_ours
        same_mask, rel = _max_rel_diff(ours_k, grass_cost)
        print(
            f"GRASS {label:9s}       : {t_grass:8.3f} s (r.cost alone), ratio {t_grass / t_ours:6.2f} x, "
            f"identical: {same_mask and rel <= 1e-6} (max relative difference {rel:.2e})"
        )


if __name__ == "__main__":
    main()
