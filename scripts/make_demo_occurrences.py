"""Write data/demo/occurrences.gpkg: fictional deer sightings in the demo tugai (deterministic).

Points fall in tugai cells (forest, shrub, reed: WorldCover 10/20/90) of the 2020 land cover:
``--per-site`` within ``--radius-m`` of each population site and ``--elsewhere`` anywhere in
tugai, each jittered inside its 100 m cell. The only randomness is
``numpy.random.default_rng(--seed)``; the GeoPackage is written with
:func:`habitat.io.vectors.write_vector`, so two runs give byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from habitat.io.vectors import write_vector

SEED = 20240608
TUGAI_CODES = (10, 20, 90)
REPO = Path(__file__).resolve().parents[1]


def make_occurrences(
    landcover: np.ndarray, transform, crs, sites: gpd.GeoDataFrame, *,
    per_site: int, elsewhere: int, radius_m: float, seed: int,
) -> gpd.GeoDataFrame:
    """Occurrence points with ``occurrence_id``, ``source`` (site id or 'survey') and ``year``."""
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(np.isin(landcover, TUGAI_CODES))
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    chosen, sources = [], []
    for site_id, point in zip(sites["site_id"], sites.geometry):
        near = np.flatnonzero(np.hypot(xs - point.x, ys - point.y) <= radius_m)
        pick = rng.choice(near, size=min(per_site, near.size), replace=False)
        chosen.extend(np.sort(pick))
        sources.extend([site_id] * len(pick))
    rest = np.setdiff1d(np.arange(xs.size), chosen)
    pick = np.sort(rng.choice(rest, size=elsewhere, replace=False))
    chosen.extend(pick)
    sources.extend(["survey"] * len(pick))
    chosen = np.asarray(chosen)
    jitter = rng.uniform(-0.45, 0.45, size=(chosen.size, 2)) * abs(transform.a)
    x = np.round(xs[chosen] + jitter[:, 0], 1)
    y = np.round(ys[chosen] + jitter[:, 1], 1)
    return gpd.GeoDataFrame(
        {"occurrence_id": np.arange(1, chosen.size + 1), "source": sources, "year": 2020},
        geometry=gpd.points_from_xy(x, y), crs=crs,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "demo", help="demo data folder (read)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default DATA/occurrences.gpkg)")
    parser.add_argument("--per-site", type=int, default=20)
    parser.add_argument("--elsewhere", type=int, default=12)
    parser.add_argument("--radius-m", type=float, default=4000.0)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    with rasterio.open(args.data / "landcover_2020.tif") as ds:
        landcover, transform, crs = ds.read(1), ds.transform, ds.crs.to_string()
    sites = gpd.read_file(args.data / "populations.gpkg", layer="populations").to_crs(crs)
    points = make_occurrences(landcover, transform, crs, sites, per_site=args.per_site, elsewhere=args.elsewhere,
                              radius_m=args.radius_m, seed=args.seed)
    out = args.out or args.data / "occurrences.gpkg"
    write_vector(points, out, layer="occurrences")
    print(f"{out}: {len(points)} fictional occurrences")


if __name__ == "__main__":
    main()
