"""COG compression of float32 outputs: time and size per codec, on real rasters (issue 19, item 3).

Usage: python bench/bench_cog_codecs.py RASTER [RASTER ...] [--repeat 3]

Each raster is staged once as an uncompressed tiled GeoTIFF (what ``write_rasters`` stages), then
copied into a COG the way ``habitat.io.rasters.write_rasters`` does (``rasterio.shutil.copy``,
driver COG, 256-cell blocks, no overviews, two compression threads) with each codec below.
Reports wall and CPU seconds (process CPU: all threads) and size, medians of ``--repeat`` copies,
and checks every codec is lossless (the COG read back equals the input, NaN included) and that
two copies are byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy

CODECS = {
    "NONE": {"compress": "NONE"},
    "ZSTD 1": {"compress": "ZSTD", "level": 1},
    "ZSTD 1, predictor 2": {"compress": "ZSTD", "level": 1, "predictor": 2},
    "ZSTD 1, predictor 3": {"compress": "ZSTD", "level": 1, "predictor": 3},
    "ZSTD 3": {"compress": "ZSTD", "level": 3},
    "ZSTD 6": {"compress": "ZSTD", "level": 6},
    "ZSTD 9, predictor 3": {"compress": "ZSTD", "level": 9, "predictor": 3},
    "DEFLATE 1": {"compress": "DEFLATE", "level": 1},
    "DEFLATE 6": {"compress": "DEFLATE", "level": 6},
    "DEFLATE 6, predictor 3": {"compress": "DEFLATE", "level": 6, "predictor": 3},
    "LZW": {"compress": "LZW"},
    "LERC_ZSTD, max error 0 (lossless)": {"compress": "LERC_ZSTD", "max_z_error": 0, "level": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rasters", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--codecs", nargs="+", choices=list(CODECS), default=list(CODECS))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cog_codecs_"))
    for path in args.rasters:
        with rasterio.open(path) as ds:
            data = ds.read(1)
            profile = dict(ds.profile)
        profile.update(driver="GTiff", tiled=True, blockxsize=256, blockysize=256, compress=None)
        for key in ("predictor", "zstd_level", "interleave"):
            profile.pop(key, None)
        staged = work / "staged.tif"
        with rasterio.open(staged, "w", **profile) as dst:
            dst.write(data, 1)
        raw = data.nbytes
        print(f"{path.parent.name}/{path.name}: {data.shape[0]} x {data.shape[1]}, {raw / 2**20:.1f} MiB raw, "
              f"{np.isnan(data).mean() * 100:.0f} % NaN")
        for name in args.codecs:
            walls, cpus, digests = [], [], set()
            for _ in range(args.repeat):
                target = work / "cog.tif"
                target.unlink(missing_ok=True)
                t, c = time.perf_counter(), time.process_time()
                rio_copy(staged, target, driver="COG", blocksize=256, overviews="NONE", num_threads=2,
                         **CODECS[name])
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                digests.add(hashlib.sha256(target.read_bytes()).hexdigest())
            with rasterio.open(target) as ds:
                back = ds.read(1)
            lossless = np.array_equal(back, data, equal_nan=True)
            size = target.stat().st_size
            print(f"  {name:36s} wall {statistics.median(walls):6.3f} s  cpu {statistics.median(cpus):6.3f} s  "
                  f"{size / 2**20:7.1f} MiB ({size / raw * 100:5.1f} %)  lossless {lossless}  "
                  f"deterministic {len(digests) == 1}", flush=True)


if __name__ == "__main__":
    main()
