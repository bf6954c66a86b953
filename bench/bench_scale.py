"""Scale benchmark (issue 14): tiled 10 m land cover onto a 30 m grid, beside GDAL's gdalwarp.

Usage: python bench/bench_scale.py [--size 20000] [--data DIR] [--resolution 30] [--steps ...]

Generates (if missing) the synthetic mosaic of ``scripts/make_scale_data.py --size N`` (N x N
cells of 10 m in 3 x 3 tiles), then runs each step in its own process so that each peak RSS
is the step's own (``wait4`` rusage of the child):

  mosaic     habitat.io.mosaic.mosaic_to_grid: the tiles, window by window, mode onto the grid
  gdalwarp   ``gdalwarp -r mode`` of the same tiles to the same grid (the floor for ingest)
  classes    habitat.io.mosaic.landcover_to_grid: habitat classes + 10-band fractional cover
  labels     habitat.suitability.blockwise: tugai patches (WorldCover 10, 20, 90 = habitat
             classes 1-3) of the mosaic output labelled and written block by block
  fragmentation  habitat.indicators.fragmentation_blockwise.class_metrics_blockwise on the
             mosaic output read window by window (needs the mosaic step's file)

With ``--pipeline`` the steps are instead the stages of ``pipelines/scale.yaml`` (its data
folder pointed at ``--data``), each run as ``habitat run --only STAGE`` in its own process in
pipeline order (a stage reads its upstream outputs from the work folder), so each stage's peak
RSS is its own; the table adds bytes of peak RSS per grid cell. ``--sizes N1 N2 ...`` runs the
whole chain at each mosaic size and prints each stage's peak-RSS ratio between consecutive sizes
(the doubling test of issue 14: a ratio within 1.10 means the stage's memory does not grow with
the grid).

Prints wall time, CPU time (user + system; the machine is shared), peak RSS and cells per second (input cells for mosaic/gdalwarp/classes,
grid cells for the others) and the share of cells where the mosaic equals gdalwarp's output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = ("mosaic", "gdalwarp", "classes", "labels", "fragmentation")


def _grid(data: Path, resolution: float):
    import rasterio
    from rasterio.warp import transform_bounds

    from habitat.grid import GridSpec

    with rasterio.open(data / "landcover_2020.vrt") as ds:
        crs, bounds = ds.crs, ds.bounds
    target = GridSpec.from_bounds((0, 0, 1, 1), "default", 1).pyproj_crs.to_wkt()
    return GridSpec.from_bounds(transform_bounds(crs, target, *bounds, densify_pts=21), "default", resolution)


def _tiles(data: Path) -> list[str]:
    return sorted(str(p) for p in (data / "landcover_2020").glob("tile_*.tif"))


def _input_cells(data: Path) -> int:
    import rasterio

    with rasterio.open(data / "landcover_2020.vrt") as ds:
        return ds.width * ds.height


def child(step: str, data: Path, work: Path, resolution: float, block: int) -> dict:
    """Run one step in this process; returns its own timing (and facts)."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    grid = _grid(data, resolution)
    t0 = time.perf_counter()
    facts: dict = {"grid_shape": list(grid.shape)}
    if step == "mosaic":
        from habitat.io.mosaic import mosaic_to_grid

        mosaic_to_grid(_tiles(data), grid, work / "mosaic.tif", block_cells=block)
    elif step == "classes":
        from habitat.io.landcover import read_crosswalk
        from habitat.io.mosaic import landcover_to_grid

        landcover_to_grid(_tiles(data), grid, read_crosswalk("esa_worldcover"), work / "classes.tif",
                          work / "fractions.tif", block_cells=block)
    elif step in ("labels", "fragmentation"):
        # the mosaic's WorldCover codes: the crosswalk maps them one to one onto habitat
        # classes (10, 20, 90 -> tugai_forest, tugai_shrub, reed_wetland), so patches and
        # metrics are those of the class raster
        # GDAL's block cache defaults to 5 % of RAM and would end up holding the whole input
        env = rasterio.Env(GDAL_CACHEMAX=128)
        env.__enter__()
        src = rasterio.open(work / "mosaic.tif")

        def read(rows, cols):
            return src.read(1, window=Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))

        if step == "labels":
            from habitat.suitability.blockwise import label_patches_blockwise

            def habitat(rows, cols):
                c = read(rows, cols)
                return (c == 10) | (c == 20) | (c == 90)  # tree, shrub, wetland: the tugai classes

            blocks, table = label_patches_blockwise(habitat, grid.shape, cell_size_m=resolution,
                                                    min_patch_area_ha=0.0, block_shape=(4096, 4096))
            profile = dict(driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="int32",
                           crs=grid.pyproj_crs.to_wkt(), transform=grid.affine, nodata=0, tiled=True,
                           compress="deflate", BIGTIFF="IF_SAFER")
            with rasterio.open(work / "labels.tif", "w", **profile) as out:
                for rows, cols, lab in blocks:
                    out.write(lab, 1, window=Window(cols.start, rows.start, lab.shape[1], lab.shape[0]))
            facts["patches"] = int(table["n_cells"].size)
        else:
            from habitat.indicators.fragmentation_blockwise import class_metrics_blockwise

            df = class_metrics_blockwise(read, grid.shape, cell_size=resolution, nodata=0,
                                         block_shape=(4096, 4096))
            facts["patches"] = int(df["NP"].sum())
            facts["classes"] = int(len(df))
        src.close()
        env.__exit__(None, None, None)
    else:
        raise SystemExit(f"unknown step {step}")
    facts["seconds_inside"] = time.perf_counter() - t0
    _ = np  # imported for the readers
    return facts


def _run(cmd: list[str], env=None) -> tuple[float, float, str, float]:
    """Run a child; wall seconds, peak RSS (MiB) from wait4, stdout, CPU seconds (user + sys)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}): {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def _gdalwarp_cmd(data: Path, work: Path, resolution: float) -> list[str]:
    grid = _grid(data, resolution)
    srs = work / "grid_srs.wkt"
    srs.write_text(grid.pyproj_crs.to_wkt())
    xmin, ymin, xmax, ymax = grid.bounds
    return ["gdalwarp", "-q", "-overwrite", "-r", "mode", "-t_srs", str(srs),
            "-te", repr(xmin), repr(ymin), repr(xmax), repr(ymax), "-tr", repr(resolution), repr(resolution),
            "-co", "TILED=YES", "-co", "COMPRESS=DEFLATE", "-co", "BIGTIFF=IF_SAFER",
            *_tiles(data), str(work / "gdalwarp.tif")]


def _agreement(a: Path, b: Path) -> float:
    import numpy as np
    import rasterio

    same = total = 0
    with rasterio.open(a) as x, rasterio.open(b) as y:
        for _, window in x.block_windows(1):
            u, v = x.read(1, window=window), y.read(1, window=window)
            same += int(np.count_nonzero(u == v))
            total += u.size
    return same / total


def _scale_pipeline(data: Path, work: Path) -> Path:
    """pipelines/scale.yaml with its data folder replaced by ``data`` (written into ``work``)."""
    text = (ROOT / "pipelines" / "scale.yaml").read_text()
    target = work / "scale.yaml"
    target.write_text(text.replace("../data/scale/", f"{data.resolve()}/"))
    return target


def _pipeline_stages(pipeline: Path) -> list[str]:
    from habitat.config import load_pipeline
    from habitat.stages.runner import selected_stages

    return selected_stages(load_pipeline(pipeline))


def run_pipeline_stages(size: int, data: Path, work: Path, stages: list[str] | None, env: dict) -> list[dict]:
    """Each stage of the scale pipeline in its own process; rows of time and peak RSS."""
    work.mkdir(parents=True, exist_ok=True)
    pipeline = _scale_pipeline(data, work)
    out = work / "out"
    grid = _grid(data, 30.0)
    n_grid = grid.height * grid.width
    order = _pipeline_stages(pipeline)
    print(f"mosaic {size} x {size} (10 m) -> grid {grid.height} x {grid.width} = {n_grid / 1e6:.2f} M cells; "
          f"stages {', '.join(order)}", flush=True)
    rows = []
    for stage in order:
        if stages and stage not in stages:
            continue
        load = os.getloadavg()[0]
        cmd = [sys.executable, "-m", "habitat.cli", "run", str(pipeline), "--out", str(out), "--only", stage,
               "--force"]
        secs, rss, _, cpu = _run(cmd, env=env)
        row = {"size": size, "grid_cells": n_grid, "stage": stage, "seconds": secs, "cpu_seconds": cpu,
               "peak_rss_mib": rss, "bytes_per_cell": rss * 2**20 / n_grid, "load": load}
        rows.append(row)
        print(f"| {grid.height} x {grid.width} | {stage} | {secs:.1f} s (CPU {cpu:.1f} s) | {rss:.0f} MiB | "
              f"{row['bytes_per_cell']:.1f} | {load:.1f} |", flush=True)
    return rows


def main_pipeline(args, env: dict) -> int:
    sizes = args.sizes or [args.size]
    all_rows: list[dict] = []
    for size in sizes:
        data = ROOT / "data" / "scale" / f"bench_{size}" if args.data is None or len(sizes) > 1 else args.data
        work = ROOT / "bench" / "_work" / f"pipeline_{size}" if args.work is None or len(sizes) > 1 else args.work
        if not (data / "landcover_2020.vrt").exists():
            secs, rss, _, _ = _run([sys.executable, str(ROOT / "scripts" / "make_scale_data.py"), "--size",
                                 str(size), "--out", str(data)], env=env)
            print(f"data: {size} x {size} cells x 2 epochs in {secs:.1f} s, peak RSS {rss:.0f} MiB", flush=True)
        all_rows += run_pipeline_stages(size, data, work, args.stages_only, env)
    for a, b in zip(sizes, sizes[1:]):
        ra = {r["stage"]: r for r in all_rows if r["size"] == a}
        rb = {r["stage"]: r for r in all_rows if r["size"] == b}
        for stage in ra:
            if stage in rb:
                x, y = ra[stage], rb[stage]
                ratio = y["peak_rss_mib"] / x["peak_rss_mib"]
                print(f"{stage}: {x['grid_cells'] / 1e6:.2f} -> {y['grid_cells'] / 1e6:.2f} M cells, peak RSS "
                      f"{x['peak_rss_mib']:.0f} -> {y['peak_rss_mib']:.0f} MiB ({ratio:.2f}x, "
                      f"{'within' if ratio <= 1.10 else 'beyond'} 10 %)")
    only = f"_{'_'.join(args.stages_only)}" if args.stages_only else ""
    target = ROOT / "bench" / "_work" / f"pipeline_{'_'.join(map(str, sizes))}{only}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(all_rows, indent=1))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20000, help="mosaic cells per side (10 m)")
    parser.add_argument("--data", type=Path, default=None, help="mosaic folder (default data/scale/bench_<size>)")
    parser.add_argument("--work", type=Path, default=None, help="output folder (default bench/_work/scale_<size>)")
    parser.add_argument("--resolution", type=float, default=30.0)
    parser.add_argument("--block", type=int, default=1024, help="mosaic output block (cells)")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--pipeline", action="store_true",
                        help="run the stages of pipelines/scale.yaml one by one instead of the steps")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="with --pipeline: mosaic sizes to run")
    parser.add_argument("--only", dest="stages_only", nargs="+", default=None,
                        help="with --pipeline: just these stages (their upstream outputs must exist)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pipeline:
        return main_pipeline(args, {**os.environ, "PYTHONPATH": str(ROOT)})
    data = args.data or ROOT / "data" / "scale" / f"bench_{args.size}"
    work = args.work or ROOT / "bench" / "_work" / f"scale_{args.size}"
    if args.child:
        print(json.dumps(child(args.child, data, work, args.resolution, args.block)))
        return 0
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not (data / "landcover_2020.vrt").exists():
        secs, rss, _, _ = _run([sys.executable, str(ROOT / "scripts" / "make_scale_data.py"), "--size",
                             str(args.size), "--out", str(data)], env=env)
        print(f"data: {args.size} x {args.size} cells x 2 epochs in {secs:.1f} s, peak RSS {rss:.0f} MiB")
    n_in = _input_cells(data)
    grid = _grid(data, args.resolution)
    n_grid = grid.height * grid.width
    print(f"mosaic {n_in / 1e6:.0f} M cells (10 m, {len(_tiles(data))} tiles) -> grid {grid.height} x "
          f"{grid.width} = {n_grid / 1e6:.1f} M cells ({args.resolution:g} m); load {os.getloadavg()[0]:.1f}")
    rows = []
    for step in args.steps:
        if step == "gdalwarp":
            secs, rss, _, cpu = _run(_gdalwarp_cmd(data, work, args.resolution))
            facts = {}
        else:
            cmd = [sys.executable, __file__, "--size", str(args.size), "--data", str(data), "--work", str(work),
                   "--resolution", str(args.resolution), "--block", str(args.block), "--child", step]
            secs, rss, out, cpu = _run(cmd, env=env)
            facts = json.loads(out.strip().splitlines()[-1])
        cells = n_in if step in ("mosaic", "gdalwarp", "classes") else n_grid
        rows.append({"step": step, "seconds": secs, "cpu_seconds": cpu, "peak_rss_mib": rss,
                     "mcells_per_s": cells / secs / 1e6, **facts})
        print(f"| {step} | {secs:.1f} s (CPU {cpu:.1f} s) | {rss:.0f} MiB | {cells / secs / 1e6:.1f} Mcells/s | "
              f"{ {k: v for k, v in facts.items() if k != 'grid_shape'} } |", flush=True)
    by = {r["step"]: r for r in rows}
    if "mosaic" in by and "gdalwarp" in by:
        print(f"mosaic / gdalwarp time: {by['mosaic']['seconds'] / by['gdalwarp']['seconds']:.2f}x "
              f"(CPU {by['mosaic']['cpu_seconds'] / by['gdalwarp']['cpu_seconds']:.2f}x); "
              f"cells equal: {100 * _agreement(work / 'mosaic.tif', work / 'gdalwarp.tif'):.3f} %")
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
