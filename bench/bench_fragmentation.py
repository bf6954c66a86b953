"""Benchmark: habitat class_metrics vs pylandstats (same run), then ours alone on a large raster.

Usage: python bench/bench_fragmentation.py [--size 600] [--big 10000] [--classes 6]

The landscape is smoothed random noise cut into equal-share classes (clustered, like land
cover). The large run happens in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
from scipy import ndimage

from habitat.indicators.fragmentation import PYLANDSTATS_NAMES, class_metrics

SHARED = PYLANDSTATS_NAMES
CELL_SIZE = 30.0


def make_landscape(size: int, n_classes: int, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((size, size), dtype=np.float32)
    smooth = ndimage.gaussian_filter(noise, 3.0)
    del noise
    edges = np.quantile(smooth[:: max(1, size // 1000), :: max(1, size // 1000)], np.linspace(0, 1, n_classes + 1)[1:-1])
    return (np.digitize(smooth, edges) + 1).astype(np.uint8)


def side_by_side(size: int, n_classes: int) -> None:
    land = make_landscape(size, n_classes)
    t0 = time.perf_counter()
    ours = class_metrics(land, cell_size=CELL_SIZE)
    t_ours = time.perf_counter() - t0
    print(f"landscape {size}x{size}, {n_classes} classes, {int(ours['NP'].sum())} patches")
    print(f"habitat class_metrics (all 12 columns incl. ENN_MN): {t_ours:.3f} s")
    try:
        import pylandstats as pls
    except ImportError:
        print("SKIP pylandstats: not installed (pip install pylandstats)")
        return
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ls = pls.Landscape(land, res=(CELL_SIZE, CELL_SIZE), nodata=0, neighborhood_rule="8")
        ref = ls.compute_class_metrics_df(metrics=list(SHARED)).rename(columns=SHARED)
    t_ref = time.perf_counter() - t0
    print(f"pylandstats {pls.__version__} compute_class_metrics_df (9 shared metrics): {t_ref:.3f} s")
    cols = list(SHARED.values())
    rel = np.abs(ours[cols].to_numpy(float) - ref[cols].to_numpy(float)) / np.maximum(
        1e-300, np.abs(ref[cols].to_numpy(float))
    )
    print(f"max relative difference over {cols}: {np.nanmax(rel):.2e}")
    print(f"speed-up ours vs pylandstats: {t_ref / t_ours:.1f}x")


def ours_alone(size: int, n_classes: int) -> None:
    t0 = time.perf_counter()
    land = make_landscape(size, n_classes)
    t_make = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    ours = class_metrics(land, cell_size=CELL_SIZE)
    t_ours = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"landscape {size}x{size} ({land.nbytes / 2**20:.0f} MiB uint8), generated in {t_make:.1f} s")
    print(f"habitat class_metrics: {t_ours:.1f} s, {int(ours['NP'].sum())} patches")
    print(f"peak RSS {rss:.0f} MiB (after generating the landscape: {rss_before:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--big", type=int, default=10000, help="0 to skip the large run")
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--only-ours", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_ours:
        ours_alone(args.only_ours, args.classes)
        return
    side_by_side(args.size, args.classes)
    if args.big:
        print()
        subprocess.run(
            [sys.executable, __file__, "--only-ours", str(args.big), "--classes", str(args.classes)],
            check=True,
        )


if __name__ == "__main__":
    main()
