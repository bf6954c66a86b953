"""Suitability stage on a large grid: bounded memory (lazy, block-wise) vs a whole-array numpy version,
and throughput against GDAL computing the same formula (gdal_calc.py) and against a checkout of main.

Usage: python bench/bench_suitability.py [--size 10000] [--workdir DIR]
       python bench/bench_suitability.py --size 4000 --sides habitat gdal baseline --baseline ../habitat-main --repeat 3
       python bench/bench_suitability.py --size 4000 --sides habitat gdal baseline --baseline ../habitat-main --repeat 3 --warm

Writes synthetic ingest layers (habitat classes, tugai cover, floodplain and distance rasters) as
COGs, then in separate processes (so peak RSS is each one's own):
  1. habitat: the suitability stage function on lazily opened layers, outputs written block by block;
  2. numpy: the same formula on whole arrays in memory (independent code, scipy/numpy only).
  3. gdal: one ``gdal_calc.py`` call evaluating the same per-cell formula (three expressions, three
     bands: suitability, quality, degradation) on the same inputs, output tiled with the same
     compression as habitat's COGs. gdal_calc has no neighbourhood operator, so the 500 m tugai
     cover mean is handed to it as a precomputed extra input (computed once, untimed: this
     favours GDAL). Skipped with a message when gdal_calc.py is not installed.
  4. baseline: the habitat side of this script run on another checkout's code (``--baseline``, e.g. the
     issue's "today") on the same inputs.
By default each habitat/baseline child is a fresh process, so its timed region also holds the one-off
import of dask.array (~0.45 s) and numba's set-up (~0.35 s). ``--warm`` times instead the second run in
the child (the first, untimed, on 256 x 256 layers of their own), as the stage runs in a pipeline after
earlier stages have paid those.
Prints time, Mcells/s, peak RSS, the child process's CPU (start-up included) and, for the habitat
and baseline sides, the CPU of the timed region (all threads) per side (median of ``--repeat`` runs, sides interleaved), the
median time ratios, and the largest difference between the suitability outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np

# the habitat code timed: this checkout, or (for the baseline side) the checkout named here
ROOT = Path(os.environ.get("BENCH_HABITAT_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

LAYERS = ("habitat_class_current", "floodplain", "tugai_cover_current", "water_distance_m",
          "settlement_distance_m", "road_distance_m", "canal_distance_m", "cropland_distance_m")


def make_inputs(folder: Path, size: int) -> None:
    from habitat.grid import GridSpec
    from habitat.io.rasters import RasterOutput, write_rasters

    grid = GridSpec.from_bounds((0, 0, size * 100.0, size * 100.0), "default", 100)
    rng = da.random.default_rng(42)
    chunks = (1024, 1024)
    classes = (rng.integers(1, 11, (size // 8 + 1, size // 8 + 1), chunks=128).astype(np.uint8)
               .repeat(8, axis=0).repeat(8, axis=1)[:size, :size].rechunk(chunks))
    floodplain = (rng.random((size, size), chunks=chunks) < 0.7).astype(np.uint8)
    cover = rng.random((size, size), chunks=chunks).astype(np.float32)
    dist = {name: (rng.random((size, size), chunks=chunks) * 4000).astype(np.float32)
            for name in LAYERS[3:]}
    arrays = {"habitat_class_current": classes, "floodplain": floodplain, "tugai_cover_current": cover, **dist}
    write_rasters([RasterOutput(arrays[n], folder / f"{n}.tif", grid,
                                0 if n in ("habitat_class_current",) else None) for n in LAYERS])
    (folder / "grid.json").write_text(grid.to_json())


def run_habitat(folder: Path, warm: bool = False) -> dict:
    """The stage on ``folder``'s layers, timed from opening them to the three COGs in place.

    ``warm``: first the same run, untimed, on the 256 x 256 layers in ``folder/warmup``, as a
    stage in a pipeline runs after earlier stages have imported dask, xarray and numba and
    loaded compiled kernels (a fresh process pays those once: the cold time).
    """
    if warm:
        run_habitat(folder / "warmup")
    from habitat.grid import GridSpec
    from habitat.io.rasters import RasterOutput, open_layer, write_rasters
    from habitat.params import SuitabilityParams
    from habitat.stages.spec import StageContext
    from habitat.stages.suitability import STAGE

    grid = GridSpec.from_json((folder / "grid.json").read_text())
    start, cpu = time.perf_counter(), time.process_time()
    inputs = {n: open_layer(folder / f"{n}.tif", name=n) for n in LAYERS}
    ctx = StageContext(grid=grid, params=SuitabilityParams(), inputs=inputs, pipeline=None, log=lambda _: None)
    produced = STAGE.run(ctx)
    out = folder / "habitat_out"
    write_rasters([RasterOutput(v.data, out / f"{k}.tif", grid, float("nan")) for k, v in produced.items()
                   if k in ("suitability", "quality", "degradation")])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def numpy_suitability(layers: dict[str, np.ndarray], cell_m: float) -> dict[str, np.ndarray]:
    """The default suitability formula on whole arrays (independent of habitat's code)."""
    from scipy import ndimage

    from habitat.params import SuitabilityParams
    from habitat.suitability.ahp import ahp_weights

    p = SuitabilityParams()
    order = ["tugai_forest", "tugai_shrub", "reed_wetland", "water", "grassland", "cropland", "built", "bare", "snow", "other"]
    classes = layers["habitat_class_current"]
    valid = classes > 0
    score = np.zeros(11)
    score[1:] = [p.criteria["habitat_class"].class_scores[c] for c in order]
    h = np.zeros(11)
    h[1:] = [p.sensitivity[c].habitat for c in order]
    total_w = sum(t.weight for t in p.threats.values())
    deg = np.zeros(classes.shape)
    sources = {"settlements": "settlement_distance_m", "roads": "road_distance_m", "canals": "canal_distance_m",
               "cropland": "cropland_distance_m"}
    for name, t in p.threats.items():
        d = layers[sources[name]].astype(np.float64)
        decay = 1 - d / t.max_dist_m if t.decay == "linear" else np.exp(-2.99 * d / t.max_dist_m)
        decay[d > t.max_dist_m] = 0.0
        s = np.zeros(11)
        s[1:] = [getattr(p.sensitivity[c], name) for c in order]
        deg += decay * s[classes] * t.weight / total_w
    z, k = 2.5, p.half_saturation
    quality = h[classes] * (1 - deg**z / (deg**z + k**z))
    r = int(np.ceil(p.criteria["tugai_cover"].radius_m / cell_m))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = ((yy * cell_m) ** 2 + (xx * cell_m) ** 2 <= p.criteria["tugai_cover"].radius_m ** 2).astype(float)
    cover = layers["tugai_cover_current"].astype(np.float64)
    mean = ndimage.convolve(cover, disk, mode="constant") / ndimage.convolve(np.ones_like(cover), disk, mode="constant")
    m_cover = np.clip(mean / 0.5, 0, 1)
    m_water = np.exp(-layers["water_distance_m"] / 1000.0)
    w = ahp_weights(p.ahp.matrix, names=list(p.criteria)).weights
    suit = w["habitat_class"] * score[classes] + w["tugai_cover"] * m_cover + w["water_distance_m"] * m_water + w["quality"] * quality
    suit = suit * (layers["floodplain"] > 0) * (classes != 7)
    return {k: np.where(valid, v, np.nan).astype(np.float32) for k, v in
            {"suitability": suit, "quality": quality, "degradation": deg}.items()}


def run_numpy(folder: Path) -> dict:
    """Whole arrays: read every layer, compute, write three COGs (the same work as habitat's run)."""
    import rasterio

    start = time.perf_counter()
    layers, profile = {}, None
    for n in LAYERS:
        with rasterio.open(folder / f"{n}.tif") as ds:
            layers[n] = ds.read(1)
            profile = profile or dict(ds.profile)
    out = numpy_suitability(layers, 100.0)
    (folder / "numpy_out").mkdir(exist_ok=True)
    profile.update(driver="COG", dtype="float32", nodata=float("nan"), compress="DEFLATE", blocksize=256)
    for k in ("tiled", "blockxsize", "blockysize", "interleave"):
        profile.pop(k, None)
    for name, array in out.items():
        with rasterio.open(folder / "numpy_out" / f"{name}.tif", "w", **profile) as dst:
            dst.write(array, 1)
    seconds = time.perf_counter() - start
    np.save(folder / "numpy_suitability.npy", out["suitability"])
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def compare(folder: Path) -> float:
    import rasterio

    with rasterio.open(folder / "habitat_out" / "suitability.tif") as ds:
        ours = ds.read(1)
    theirs = np.load(folder / "numpy_suitability.npy")
    return float(np.nanmax(np.abs(ours.astype(np.float64) - theirs)))


def _differences(folder: Path, other: str) -> dict[str, float]:
    """Largest |difference| of each output between habitat and another side (NaN where both agree)."""
    import rasterio

    out = {}
    for band, name in enumerate(("suitability", "quality", "degradation"), start=1):
        with rasterio.open(folder / "habitat_out" / f"{name}.tif") as ds:
            ours = ds.read(1).astype(np.float64)
        path = folder / "gdal_out.tif" if other == "gdal" else folder / f"{other}_out" / f"{name}.tif"
        with rasterio.open(path) as ds:
            theirs = ds.read(band if other == "gdal" else 1).astype(np.float64)
        if not np.array_equal(np.isnan(ours), np.isnan(theirs)):
            out[name] = float("inf")
            continue
        out[name] = float(np.nanmax(np.abs(ours - theirs), initial=0.0))
    return out


def gdal_calc_command() -> list[str] | None:
    exe = shutil.which("gdal_calc.py") or shutil.which("gdal_calc")
    return None if exe is None else [exe]


def _gdal_expressions(cell_m: float) -> list[str]:
    """The default suitability formula as gdal_calc (numpy) expressions on letters A-H."""
    from habitat.params import SuitabilityParams
    from habitat.suitability.ahp import ahp_weights

    p = SuitabilityParams()
    order = ["tugai_forest", "tugai_shrub", "reed_wetland", "water", "grassland", "cropland", "built", "bare", "snow", "other"]

    def lut(values: list[float]) -> str:
        return f"array({[0.0, *values]!r})[A]"

    letters = {"settlements": "E", "roads": "F", "canals": "G", "cropland": "H"}
    total_w = sum(t.weight for t in p.threats.values())
    terms = []
    for name, t in p.threats.items():
        d = f"{letters[name]}.astype(float64)"
        decay = f"(1 - {d} / {t.max_dist_m!r})" if t.decay == "linear" else f"exp(-2.99 * {d} / {t.max_dist_m!r})"
        s = lut([getattr(p.sensitivity[c], name) for c in order])
        terms.append(f"where({d} > {t.max_dist_m!r}, 0.0, {decay}) * {s} * {t.weight / total_w!r}")
    deg = "(" + " + ".join(terms) + ")"
    k = p.half_saturation
    quality = f"({lut([p.sensitivity[c].habitat for c in order])} * (1 - {deg}**2.5 / ({deg}**2.5 + {k!r}**2.5)))"
    w = ahp_weights(p.ahp.matrix, names=list(p.criteria)).weights
    cover = p.criteria["tugai_cover"].params
    suit = (f"({w['habitat_class']!r} * {lut([p.criteria['habitat_class'].class_scores[c] for c in order])}"
            f" + {w['tugai_cover']!r} * clip((C - {cover['minimum']!r}) / {cover['maximum'] - cover['minimum']!r}, 0, 1)"
            f" + {w['water_distance_m']!r} * exp(-maximum(D.astype(float64), 0) / {p.criteria['water_distance_m'].params['scale_m']!r})"
            f" + {w['quality']!r} * clip({quality}, 0, 1)) * (B > 0) * (A != 7)")
    return [f"where(A > 0, {e}, nan)" for e in (suit, quality, deg)]


def prepare_gdal(folder: Path) -> None:
    """The tugai cover disk mean as an extra input (gdal_calc has no neighbourhood operator)."""
    from habitat.grid import GridSpec
    from habitat.io.rasters import open_layer, write_raster
    from habitat.params import SuitabilityParams
    from habitat.suitability.membership import cover_within_radius

    if (folder / "tugai_cover_mean.tif").exists():
        return
    grid = GridSpec.from_json((folder / "grid.json").read_text())
    radius = SuitabilityParams().criteria["tugai_cover"].radius_m
    mean = cover_within_radius(open_layer(folder / "tugai_cover_current.tif"), radius_m=radius,
                               cell_size_m=grid.cell_size_m)
    write_raster(mean.data.astype(np.float32), folder / "tugai_cover_mean.tif", grid, nodata=float("nan"))


def run_gdal(folder: Path) -> dict:
    from habitat.io.rasters import COG_COMPRESSION

    inputs = {"A": "habitat_class_current", "B": "floodplain", "C": "tugai_cover_mean", "D": "water_distance_m",
              "E": "settlement_distance_m", "F": "road_distance_m", "G": "canal_distance_m", "H": "cropland_distance_m"}
    cmd = [*gdal_calc_command(), "--quiet", "--overwrite", "--hideNoData", "--type=Float32", "--NoDataValue=nan",
           f"--outfile={folder / 'gdal_out.tif'}", "--co=TILED=YES", "--co=BLOCKXSIZE=256", "--co=BLOCKYSIZE=256",
           f"--co=COMPRESS={COG_COMPRESSION['compress']}", f"--co=NUM_THREADS={COG_COMPRESSION['num_threads']}"]
    if COG_COMPRESSION["compress"] == "ZSTD":
        cmd.append(f"--co=ZSTD_LEVEL={COG_COMPRESSION['level']}")
    cmd += [f"-{k}={folder / (v + '.tif')}" for k, v in inputs.items()]
    cmd += [f"--calc={e}" for e in _gdal_expressions(100.0)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GDAL_DATA", "PROJ_LIB", "PROJ_DATA")}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", choices=["habitat", "numpy", "gdal"])
    parser.add_argument("--reuse", action="store_true", help="keep inputs already in --workdir")
    parser.add_argument("--sides", nargs="+", default=["habitat", "numpy"],
                        choices=["habitat", "numpy", "gdal", "baseline"])
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. main) whose habitat side is timed too")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side (sides interleaved); medians reported")
    parser.add_argument("--warm", action="store_true",
                        help="habitat and baseline sides: time a second run in the process (the first, untimed, "
                             "on 256 x 256 layers), as a stage after earlier ones in a pipeline")
    args = parser.parse_args()
    if args.child:
        if args.child == "habitat":
            print(json.dumps(run_habitat(args.workdir, warm=args.warm)))
            return
        fn = {"numpy": run_numpy, "gdal": run_gdal}[args.child]
        print(json.dumps(fn(args.workdir)))
        return
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="bench_suit_"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (args.reuse and (folder / "grid.json").exists()):
        make_inputs(folder, args.size)
        (folder / "tugai_cover_mean.tif").unlink(missing_ok=True)
    if args.warm and not (folder / "warmup" / "grid.json").exists():
        (folder / "warmup").mkdir(exist_ok=True)
        make_inputs(folder / "warmup", 256)
    print(f"inputs {args.size} x {args.size} ready in {time.perf_counter() - t0:.1f} s in {folder}")
    sides = list(args.sides)
    if "gdal" in sides and gdal_calc_command() is None:
        print("gdal: skipped (gdal_calc.py not found; install gdal-bin / python3-gdal)")
        sides.remove("gdal")
    if "baseline" in sides and args.baseline is None:
        print("baseline: skipped (give --baseline PATH to a checkout, e.g. of main)")
        sides.remove("baseline")
    if "gdal" in sides:
        prepare_gdal(folder)
    # the baseline writes where habitat does (habitat_out) and is moved aside: run it first
    sides.sort(key=lambda side: side != "baseline")
    cells = args.size**2 / 1e6
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.repeat):
        for side in sides:
            script, env = __file__, dict(os.environ)
            if side == "baseline":  # this script's habitat side, importing the baseline checkout's code
                env["PYTHONPATH"] = str(args.baseline.resolve())
                env["BENCH_HABITAT_ROOT"] = str(args.baseline.resolve())
            work = folder
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run([sys.executable, script, "--child", "numpy" if side == "numpy" else
                                   "gdal" if side == "gdal" else "habitat", "--workdir", str(work),
                                   *(["--warm"] if args.warm and side in ("habitat", "baseline") else [])],
                                  capture_output=True, text=True, check=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            # CPU of the whole child process (start-up and imports included), all threads
            r["process_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            runs[side].append(r)
            timed_cpu = f"  timed CPU {r['cpu_seconds']:6.2f} s" if "cpu_seconds" in r else ""
            print(f"  {side:8s} {r['seconds']:8.2f} s  {cells / r['seconds']:6.2f} Mcells/s  peak RSS {r['peak_rss_mib']:8.0f} MiB"
                  f"  process CPU {r['process_cpu']:6.2f} s{timed_cpu}  (load {os.getloadavg()[0]:.1f})")
            if side == "baseline":  # keep its outputs apart from the habitat side's
                shutil.rmtree(folder / "baseline_out", ignore_errors=True)
                (folder / "habitat_out").rename(folder / "baseline_out")
    med = {side: statistics.median(r["seconds"] for r in rs) for side, rs in runs.items()}
    for side, seconds in med.items():
        cpu = statistics.median(r["process_cpu"] for r in runs[side])
        print(f"{side:8s} median {seconds:8.2f} s  {cells / seconds:6.2f} Mcells/s  process CPU {cpu:6.2f} s")
    if "habitat" in med:
        for side in med:
            if side != "habitat":
                ratios = [o["seconds"] / h["seconds"] for h, o in zip(runs["habitat"], runs[side])]
                print(f"time {side}/habitat: median {statistics.median(ratios):.2f}x  (runs: "
                      + ", ".join(f"{x:.2f}" for x in ratios) + ")")
                cpu = [o["process_cpu"] / h["process_cpu"] for h, o in zip(runs["habitat"], runs[side])]
                print(f"process CPU {side}/habitat: median {statistics.median(cpu):.2f}x  (runs: "
                      + ", ".join(f"{x:.2f}" for x in cpu) + ")")
                if all("cpu_seconds" in r for r in runs[side]):
                    cpu = [o["cpu_seconds"] / h["cpu_seconds"] for h, o in zip(runs["habitat"], runs[side])]
                    print(f"timed CPU {side}/habitat: median {statistics.median(cpu):.2f}x  (runs: "
                          + ", ".join(f"{x:.2f}" for x in cpu) + ")")
        for other in ("gdal", "baseline"):
            if other in med:
                print(f"max |difference| habitat vs {other}: {_differences(folder, other)}")
        if "numpy" in med:
            print(f"max |suitability difference| habitat vs numpy: {compare(folder):.2e}")


if __name__ == "__main__":
    main()
