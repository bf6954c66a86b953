"""Fine-raster reads of the connectivity stage: cells read from each input file, in full reads.

Usage: python bench/count_reads.py PIPELINE OUT

Runs ``habitat run PIPELINE --out OUT --only connectivity --force`` in this process (the upstream
outputs must be in OUT) with every window read from a layer file counted
(``habitat.io.rasters._LayerWindows._read``), and prints per input raster the cells read divided
by the grid's cells, split by the function that was running (a read in a dask thread counts for
the function the stage had called). bench/README.md, "Connectivity stage: fine-raster reads".
"""

from __future__ import annotations

import collections
import functools
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: functions whose reads are counted apart (module, names); the innermost running one is named
WATCHED = (
    ("habitat.connectivity.two_grid", ("aggregate_resistance", "masked_quantile", "population_cores_blockwise",
                                       "count_finite", "patch_coarse_cells", "aggregate_labels", "summarize_fine")),
    ("habitat.connectivity.patch_distances", ("patch_distances",)),
    ("habitat.stages.connectivity", ("_max_cost", "_cores", "_corridors", "_patch_graph", "_coarse_cores")),
    ("habitat.stages.runner", ("_write_outputs",)),
)


def main(argv: list[str]) -> int:
    import importlib

    import habitat.io.rasters as rasters

    cells = collections.Counter()
    running: list[str] = []

    def watch(module, name):
        fn = getattr(module, name)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            running.append(f"{module.__name__.rsplit('.', 1)[-1]}.{name}")
            try:
                return fn(*args, **kwargs)
            finally:
                running.pop()
        setattr(module, name, wrapper)

    for module_name, names in WATCHED:
        module = importlib.import_module(module_name)
        for name in names:
            if hasattr(module, name):
                watch(module, name)
    read = rasters._LayerWindows._read

    def counted(self, r0, r1, c0, c1):
        cells[(Path(self.path).stem, running[-1] if running else "run_connectivity")] += (r1 - r0) * (c1 - c0)
        return read(self, r0, r1, c0, c1)

    rasters._LayerWindows._read = counted
    from habitat.cli import app
    pipeline, out = argv
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        app(["run", pipeline, "--out", out, "--only", "connectivity", "--force"], standalone_mode=False)
    except SystemExit:
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    grid = rasters.grid_of_raster(next(Path(out).rglob("resistance.tif")))
    n = grid.height * grid.width
    print(f"grid {grid.height} x {grid.width}; wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (with the counting), "
          f"load {os.getloadavg()[0]:.1f}")
    for layer in sorted({k for k, _ in cells}):
        print(f"{layer}: {sum(v for (k, _), v in cells.items() if k == layer) / n:.2f} full reads")
        for (k, fn), v in sorted(cells.items()):
            if k == layer:
                print(f"    {fn:40s} {v / n:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
