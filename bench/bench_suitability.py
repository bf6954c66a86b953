"""Suitability stage on a large grid: bounded memory (lazy, block-wise) vs a whole-array numpy version.

Usage: python bench/bench_suitability.py [--size 10000] [--workdir DIR]

Writes synthetic ingest layers (habitat classes, tugai cover, floodplain and distance rasters) as
COGs, then in separate processes (so peak RSS is each one's own):
  1. habitat: the suitability stage function on lazily opened layers, outputs written block by block;
  2. numpy: the same formula on whole arrays in memory (independent code, scipy/numpy only).
Prints time, Mcells/s and peak RSS for both, and the largest difference between their outputs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
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


def run_habitat(folder: Path) -> dict:
    from habitat.grid import GridSpec
    from habitat.io.rasters import RasterOutput, open_layer, write_rasters
    from habitat.params import SuitabilityParams
    from habitat.stages.spec import StageContext
    from habitat.stages.suitability import STAGE

    grid = GridSpec.from_json((folder / "grid.json").read_text())
    start = time.perf_counter()
    inputs = {n: open_layer(folder / f"{n}.tif", name=n) for n in LAYERS}
    ctx = StageContext(grid=grid, params=SuitabilityParams(), inputs=inputs, pipeline=None, log=lambda _: None)
    produced = STAGE.run(ctx)
    out = folder / "habitat_out"
    write_rasters([RasterOutput(v.data, out / f"{k}.tif", grid, float("nan")) for k, v in produced.items()
                   if k in ("suitability", "quality", "degradation")])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", choices=["habitat", "numpy"])
    parser.add_argument("--reuse", action="store_true", help="keep inputs already in --workdir")
    parser.add_argument("--sides", nargs="+", default=["habitat", "numpy"], choices=["habitat", "numpy"])
    args = parser.parse_args()
    if args.child:
        fn = run_habitat if args.child == "habitat" else run_numpy
        print(json.dumps(fn(args.workdir)))
        return
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="bench_suit_"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (args.reuse and (folder / "grid.json").exists()):
        make_inputs(folder, args.size)
    print(f"inputs {args.size} x {args.size} ready in {time.perf_counter() - t0:.1f} s in {folder}")
    cells = args.size**2 / 1e6
    results = {}
    for child in args.sides:
        proc = subprocess.run([sys.executable, __file__, "--child", child, "--workdir", str(folder)],
                              capture_output=True, text=True, check=True)
        results[child] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[child]
        print(f"{child:8s} {r['seconds']:8.1f} s  {cells / r['seconds']:6.2f} Mcells/s  peak RSS {r['peak_rss_mib']:8.0f} MiB")
    if len(results) == 2:
        print(f"throughput ratio habitat/numpy: {results['numpy']['seconds'] / results['habitat']['seconds']:.2f}")
        print(f"max |suitability difference|: {compare(folder):.2e}")


if __name__ == "__main__":
    main()
