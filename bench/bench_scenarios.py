"""Benchmark: scenario runs against the baseline run and against themselves (cache reuse).

Usage: python bench/bench_scenarios.py [--resolution 400] [--out DIR]

Runs the demo pipeline (pipelines/demo.yaml on a coarser grid) with its two scenarios plus a
third, ``canal``: a barrier line (resistance 1000) across the valley at x = 480 km, which changes
only the resistance, so suitability, patches, indicators, restoration and presence are reused.
Steps: (1) the baseline alone (scenarios removed); (2) the full run: baseline cached, each
scenario cold but reusing what its edits leave unchanged; (3) the same run again: everything
reused. Prints per run and scenario the stages run or reused and the seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import shapely
import yaml

from habitat.stages.runner import run_pipeline

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"


def write_pipeline(folder: Path, resolution_m: float, *, scenarios: bool) -> Path:
    data = yaml.safe_load(DEMO.read_text())
    data["grid"]["resolution_m"] = resolution_m
    for value in data["inputs"].values():
        for item in value if isinstance(value, list) else [value]:
            item["path"] = str((DEMO.parent / item["path"]).resolve())
    for edits in data["scenarios"].values():
        for edit in edits:
            edit["path"] = str((DEMO.parent / edit["path"]).resolve())
    canal = folder / "canal.gpkg"
    line = shapely.LineString([(480_000, 4_718_000), (480_000, 4_738_000)])
    gpd.GeoDataFrame({"name": ["bench canal"]}, geometry=[line], crs="EPSG:32642").to_file(canal)
    data["scenarios"]["canal"] = [{"kind": "barrier", "path": str(canal), "resistance": 1000.0}]
    if not scenarios:
        del data["scenarios"]
    path = folder / ("demo.yaml" if scenarios else "demo_baseline.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def timed(pipeline: Path, out: Path) -> tuple[float, list]:
    t0 = time.perf_counter()
    result = run_pipeline(pipeline, out)
    return time.perf_counter() - t0, result.stages


def summary(stages: list) -> dict[str, list]:
    by_run: dict[str, list] = defaultdict(lambda: [0, 0, 0.0, []])
    for s in stages:
        if s.id.endswith(" files"):  # the report step of the main run
            continue
        run, _, stage = s.id.rpartition("/")
        row = by_run[run or "baseline"]
        row[0 if s.cached else 1] += 1
        row[2] += s.seconds
        if not s.cached:
            row[3].append(stage)
    return by_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=400.0, help="grid cell size in m (demo: 100)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="bench_scenarios_"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "out"
    t_base, stages = timed(write_pipeline(folder, args.resolution, scenarios=False), out)
    print(f"demo at {args.resolution:g} m, baseline alone: {t_base:.1f} s in all (report included), "
          f"stages {sum(s.seconds for s in stages if not s.id.endswith(' files')):.1f} s")
    pipeline = write_pipeline(folder, args.resolution, scenarios=True)
    for label in ("first run with scenarios", "second run (unchanged)"):
        total, stages = timed(pipeline, out)
        print(f"{label}: {total:.1f} s in all (report included)")
        for run, (reused, ran, seconds, names) in summary(stages).items():
            print(f"  {run:14s} reused {reused:2d}, ran {ran:2d} stages, {seconds:6.1f} s"
                  + (f"  (ran: {', '.join(names)})" if names else ""))


if __name__ == "__main__":
    main()
