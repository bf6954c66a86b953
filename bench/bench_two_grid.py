"""Two resolutions (issue 14): the connectivity and circuit stages on the analysis grid against a
coarser connectivity grid (``grid.connectivity_resolution_m``), on the scale data.

Usage: python bench/bench_two_grid.py [--data data/scale] [--resolution 30] [--factors 1 4]
       [--max-graph-patches 20] [--no-dispersal-limit]

Runs pipelines/scale.yaml (its stages up to resistance, once, on ``--data``: the folder of
``scripts/make_scale_data.py --size N``; N = 12000 gives a ~4000 x 4000 grid at 30 m) into
bench/_work/two_grid/, then per factor the connectivity stage and the circuit stage each in its
own process (``habitat run --only STAGE``), so each peak RSS (``wait4``) is that stage's own,
beside the load average. ``max_graph_patches`` is lowered for both factors alike (one cost run
per patch; 300 runs on 16 M cells take tens of minutes). Prints one JSON line per run and the
links' least-cost distances of each factor against factor 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "two_grid"


def _pipeline(data: Path, resolution: float, factor: int, max_graph_patches: int, unlimited: bool = False,
              tag: str = "") -> Path:
    spec = yaml.safe_load((ROOT / "pipelines" / "scale.yaml").read_text())
    spec["grid"]["resolution_m"] = resolution
    spec["grid"].pop("connectivity_resolution_m", None)
    if factor > 1:
        spec["grid"]["connectivity_resolution_m"] = resolution * factor
    for value in spec["inputs"].values():
        for item in value if isinstance(value, list) else [value]:
            item["path"] = str(data.resolve() / Path(item["path"]).relative_to("../data/scale"))
    for stage in ("indicators", "sites"):  # not measured here
        spec["stages"].pop(stage, None)
    spec["stages"]["connectivity"]["max_graph_patches"] = max_graph_patches
    if unlimited:  # every pair connected: the circuit solves the whole grid, not the dispersal reach
        spec["stages"]["connectivity"]["max_dispersal_m"] = None
    path = WORK / f"scale{tag}_x{factor}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _timed(args: list[str]) -> dict:
    """One child; wall seconds and peak RSS (MiB) from wait4's rusage."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with open(WORK / "child.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "habitat.cli", *args], stdout=log, stderr=log, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{(WORK / 'child.log').read_text()[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024), "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "scale")
    parser.add_argument("--resolution", type=float, default=30.0)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--max-graph-patches", type=int, default=20)
    parser.add_argument("--stages", nargs="+", default=["connectivity", "circuit"])
    parser.add_argument("--no-dispersal-limit", action="store_true",
                        help="max_dispersal_m: null (the scale populations are beyond the default 50 km limit, "
                             "which leaves the circuit nothing to solve)")
    opts = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    tag = "_unlimited" if opts.no_dispersal_limit else ""
    base = WORK / "out_x1"
    first = _pipeline(opts.data, opts.resolution, 1, opts.max_graph_patches)
    upstream = _timed(["run", str(first), "--out", str(base), "--to", "resistance"])
    print(json.dumps({"step": "upstream (ingest .. resistance)", **upstream}), flush=True)
    for factor in opts.factors:
        pipeline = _pipeline(opts.data, opts.resolution, factor, opts.max_graph_patches, opts.no_dispersal_limit, tag)
        out = WORK / f"out{tag}_x{factor}"
        if out != base:
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(base, out, copy_function=os.link, ignore=shutil.ignore_patterns("connectivity", "circuit"))
        for stage in opts.stages:
            result = _timed(["run", str(pipeline), "--out", str(out), "--only", stage, "--force"])
            print(json.dumps({"factor": factor, "stage": stage, **result}), flush=True)
    import pandas as pd
    keys = ["from_site", "to_site"]
    fine = pd.read_csv(WORK / f"out{tag}_x1" / "connectivity" / "links.csv").set_index(keys)["lcd"]
    for factor in [f for f in opts.factors if f != 1]:
        coarse = pd.read_csv(WORK / f"out{tag}_x{factor}" / "connectivity" / "links.csv").set_index(keys)["lcd"]
        rel = (coarse / fine - 1).dropna()
        print(json.dumps({"factor": factor, "links": len(rel), "lcd_vs_x1_min": round(float(rel.min()), 3),
                          "lcd_vs_x1_max": round(float(rel.max()), 3)}))


if __name__ == "__main__":
    main()
