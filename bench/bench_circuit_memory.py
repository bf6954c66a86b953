"""Peak memory of each circuit solve path, to fit ``habitat.memory``'s circuit model.

``python bench/bench_circuit_memory.py --sizes 500 1000 2000 [--paths ...]`` runs one child
process per (path, size): a random resistance raster (1-100 ohm, 5 % nodata, seed 0) of
``size x size`` cells, then :func:`habitat.connectivity.circuit.pairwise.effective_resistance_matrix`
on it. The growth is the child's peak RSS during the call (``VmHWM`` after resetting it through
``/proc/self/clear_refs``) less its RSS before (the raster, the imports and numba's kernels,
compiled on a 300 x 300 warm-up grid, are already there): the solve path's own peak.

Paths: ``stage-direct`` / ``stage-amg`` = what the circuit stage runs (6 focal points, with
current; direct = CHOLMOD from 20,000 nodes when scikit-sparse imports), ``superlu`` = the
same with CHOLMOD disabled, ``gridamg`` = single pair without current under ``auto`` (grid
multigrid from 50,000 nodes), ``leanamg`` = single pair without current, ``solver="amg"``
(float32 LeanAMG-CG).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
from habitat.connectivity.circuit import solvers
from habitat.connectivity.circuit.pairwise import effective_resistance_matrix
path, size = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
res = rng.uniform(1, 100, (size, size))
res[rng.random((size, size)) < 0.05] = np.nan
k = 2 if path in ("gridamg", "leanamg") else 6
cells = [(int(size * f), int(size * g)) for f, g in [(0.1, 0.1), (0.9, 0.85), (0.5, 0.2), (0.2, 0.8), (0.8, 0.3), (0.5, 0.6)][:k]]
for c in cells:
    res[c] = 1.0
if path == "superlu":
    solvers.USE_CHOLMOD = False
solver = {"stage-amg": "amg", "leanamg": "amg", "superlu": "direct", "stage-direct": "direct"}.get(path, "auto")
current = path.startswith("stage") or path == "superlu"
# warm the numba kernels on a tiny grid so compilation is not counted
small = rng.uniform(1, 100, (300, 300))
effective_resistance_matrix(small, [(10, 10), (250, 250)], solver=solver, with_current=current)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
    fh.write("5")
before = status("VmRSS:")
t = time.perf_counter()
m, _ = effective_resistance_matrix(res, cells, solver=solver, with_current=current)
wall = time.perf_counter() - t
after = status("VmHWM:")
print(json.dumps({"path": path, "size": size, "nodes": int(np.isfinite(res).sum()), "before_kib": before,
                  "growth_kib": after - before, "wall_s": round(wall, 1), "r01": float(m[0, 1])}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    ap.add_argument("--paths", nargs="+", default=["stage-direct", "stage-amg", "superlu", "gridamg", "leanamg"])
    args = ap.parse_args()
    for size in args.sizes:
        for path in args.paths:
            load = open("/proc/loadavg").read().split()[0]
            out = subprocess.run([sys.executable, "-c", CHILD, path, str(size)], capture_output=True, text=True)
            if out.returncode:
                print(json.dumps({"path": path, "size": size, "error": out.stderr.strip().splitlines()[-1:]}), flush=True)
                continue
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            rec["load"] = load
            rec["bytes_per_node"] = round(rec["growth_kib"] * 1024 / rec["nodes"], 1)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
