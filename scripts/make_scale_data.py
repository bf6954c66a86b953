"""Generate a synthetic WorldCover-coded 10 m land-cover mosaic for scale benchmarks (issue 14).

``python scripts/make_scale_data.py --size N [--out DIR] [--tile T] [--seed S]`` writes, for
two epochs (2000, 2020), an N x N mosaic of 10 m cells in ESA WorldCover codes (10 tree,
20 shrub, 30 grass, 40 crop, 50 built, 60 bare, 80 water, 90 wetland; 0 nodata) cut into
T x T tiles (``landcover_<year>/tile_<i>_<j>.tif``, tiled and deflated) plus a VRT of each epoch
(``landcover_<year>.vrt``), and vector layers: rivers (lines), tugai polygons per epoch,
settlements, population sites, protected areas and reporting units. Default folder
``data/scale`` (not committed: see .gitignore).

The landscape is fictional: three sinuous rivers cross the area west to east, each with a
channel, reed beds along the banks, tugai polygons in a floodplain a few km wide, irrigated
fields beyond and desert further out; towns sit along the rivers. Between the epochs some tugai
polygons are cleared (fields), fields spread and towns grow.

Memory stays bounded: each tile is computed and written in strips of rows from closed-form
functions of the cell coordinates and a coarse (100 m) noise grid, so N = 36000 (one
WorldCover tile's worth, 1.3 billion cells per epoch) needs a few hundred MB. Deterministic:
the same size, tile and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import rasterio.features
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

CRS_UTM = "EPSG:32642"
ORIGIN_X_M = 300_000.0  # upper-left corner (UTM 42N)
ORIGIN_Y_M = 4_560_000.0
CELL_M = 10.0
COARSE = 10  # noise grid: one value per 10 x 10 cells (100 m)
STRIP_ROWS = 512
SEED = 14
YEARS = (2000, 2020)

TREE, SHRUB, GRASS, CROP, BUILT, BARE, WATER, WETLAND = 10, 20, 30, 40, 50, 60, 80, 90


class Landscape:
    """Closed-form landscape of an N x N cell domain (all lengths in metres)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.extent = size * CELL_M
        rng = np.random.default_rng(seed)
        n_coarse = size // COARSE + 2
        # coarse noise fields (float16 keeps 36000 x 36000 at ~26 MB each)
        self.noise_a = rng.random((n_coarse, n_coarse), dtype=np.float32).astype(np.float16)
        self.noise_b = rng.random((n_coarse, n_coarse), dtype=np.float32).astype(np.float16)
        self.n_rivers = 3
        self.river_y0 = [(i + 0.5) / self.n_rivers * self.extent for i in range(self.n_rivers)]
        self.river_amp = [rng.uniform(0.02, 0.05) * self.extent for _ in range(self.n_rivers)]
        self.river_wavelength = [rng.uniform(0.3, 0.6) * self.extent for _ in range(self.n_rivers)]
        self.river_phase = [rng.uniform(0, 2 * math.pi) for _ in range(self.n_rivers)]
        self.floodplain_m = min(3000.0, self.extent / (4 * self.n_rivers))
        self.rng = rng
        self.tugai = {year: self._tugai(year) for year in YEARS}
        self.towns = self._towns()

    # -- rivers --------------------------------------------------------------------------
    def river_offset(self, i: int, x: np.ndarray) -> np.ndarray:
        """Distance south of the top edge of river i's centreline at easting offset x (m)."""
        return self.river_y0[i] + self.river_amp[i] * np.sin(2 * math.pi * x / self.river_wavelength[i] + self.river_phase[i])

    def channel_half_m(self, x: np.ndarray) -> np.ndarray:
        return 40.0 + 25.0 * np.sin(x / 7000.0) ** 2

    def river_lines(self) -> list[shapely.LineString]:
        xs = np.arange(0.0, self.extent + 1.0, 200.0)
        return [shapely.LineString(np.column_stack((ORIGIN_X_M + xs, ORIGIN_Y_M - self.river_offset(i, xs))))
                for i in range(self.n_rivers)]

    # -- vectors -------------------------------------------------------------------------
    def _tugai(self, year: int) -> list[tuple[shapely.Polygon, int]]:
        """Tugai polygons (geometry, WorldCover code) along the rivers; some cleared by 2020."""
        rng = np.random.default_rng(1000 + self.size)
        out = []
        fp = self.floodplain_m
        for i in range(self.n_rivers):
            x = 0.0
            while x < self.extent:
                length = rng.uniform(1500, 8000)
                side = rng.choice([-1.0, 1.0])
                offset = side * rng.uniform(0.1 * fp, 0.6 * fp)
                width = rng.uniform(0.1 * fp, 0.5 * fp)
                code = TREE if rng.random() < 0.6 else SHRUB
                cleared = rng.random() < 0.25
                xs = np.linspace(x, min(self.extent, x + length), 12)
                line = shapely.LineString(np.column_stack((ORIGIN_X_M + xs, ORIGIN_Y_M - self.river_offset(i, xs) - offset)))
                poly = line.buffer(width / 2, quad_segs=4)
                if year == YEARS[0] or not cleared:
                    out.append((poly, code))
                x += length + rng.uniform(300, 3000)
        return out

    def _towns(self) -> list[tuple[float, float, float]]:
        rng = np.random.default_rng(2000 + self.size)
        towns = []
        for i in range(self.n_rivers):
            for _ in range(max(2, int(self.extent / 15000))):
                x = rng.uniform(0, self.extent)
                y = self.river_offset(i, np.array(x)).item() + rng.choice([-1, 1]) * rng.uniform(1.2, 2.0) * self.floodplain_m
                towns.append((ORIGIN_X_M + x, ORIGIN_Y_M - y, rng.uniform(300, 1500) * min(1.0, self.extent / 100_000)))
        return towns

    def settlements(self, year: int) -> list[shapely.Polygon]:
        grow = 1.0 if year == YEARS[0] else 1.25
        return [shapely.Point(x, y).buffer(r * grow, quad_segs=8) for x, y, r in self.towns]

    # -- raster --------------------------------------------------------------------------
    def strip(self, year: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """WorldCover codes of rows r0:r1, columns c0:c1 of the domain (uint8)."""
        x = (np.arange(c0, c1) + 0.5) * CELL_M  # easting offset
        y = (np.arange(r0, r1) + 0.5) * CELL_M  # southing offset
        ca = self.noise_a[(r0 // COARSE):(r1 - 1) // COARSE + 1][:, (c0 // COARSE):(c1 - 1) // COARSE + 1]
        rr = np.arange(r0, r1) // COARSE - r0 // COARSE
        cc = np.arange(c0, c1) // COARSE - c0 // COARSE
        na = ca[rr][:, cc].astype(np.float32)
        nb = self.noise_b[(r0 // COARSE):(r1 - 1) // COARSE + 1][:, (c0 // COARSE):(c1 - 1) // COARSE + 1][rr][:, cc].astype(np.float32)
        # distance to the nearest river (north-south offset from its centreline)
        dist = np.full((r1 - r0, c1 - c0), np.inf, np.float32)
        for i in range(self.n_rivers):
            np.minimum(dist, np.abs(y[:, None] - self.river_offset(i, x)[None, :]).astype(np.float32), out=dist)
        half = self.channel_half_m(x)[None, :].astype(np.float32)
        fp = self.floodplain_m
        spacing = self.extent / self.n_rivers
        crop_reach = min(fp * (1.8 if year == YEARS[0] else 2.2), 0.3 * spacing)
        # 10 m speckle: an integer hash of the cell, so tiles and strips agree at their seams
        rows = np.arange(r0, r1, dtype=np.uint32)[:, None] * np.uint32(73856093)
        cols = np.arange(c0, c1, dtype=np.uint32)[None, :] * np.uint32(19349663)
        speck = ((rows ^ cols ^ np.uint32(self.size)) * np.uint32(2654435761)) >> np.uint32(24)
        nb = nb + (speck.astype(np.float32) / 255.0 - 0.5) * 0.4
        out = np.where(nb < 0.35, BARE, np.where(nb < 0.8, GRASS, SHRUB)).astype(np.uint8)  # desert
        fields = (dist < crop_reach + 800 * (na - 0.5)) & (dist > 0.5 * fp) & (na > 0.25)
        out[fields] = CROP
        floodplain = dist < fp
        out[floodplain & ~fields] = np.where(na[floodplain & ~fields] < 0.5, GRASS, BARE)
        out[(dist < half + 150 + 200 * nb) & (dist >= half)] = WETLAND
        # tugai and towns burnt from the vectors, then the channel on top
        transform = from_origin(ORIGIN_X_M + c0 * CELL_M, ORIGIN_Y_M - r0 * CELL_M, CELL_M, CELL_M)
        box = shapely.box(ORIGIN_X_M + c0 * CELL_M, ORIGIN_Y_M - r1 * CELL_M, ORIGIN_X_M + c1 * CELL_M, ORIGIN_Y_M - r0 * CELL_M)
        shapes = [(g, code) for g, code in self.tugai[year] if g.intersects(box)]
        shapes += [(g, BUILT) for g in self.settlements(year) if g.intersects(box)]
        if shapes:
            burnt = rasterio.features.rasterize(shapes, out_shape=out.shape, transform=transform, fill=0, dtype=np.uint8)
            out = np.where(burnt > 0, burnt, out)
        out[dist < half] = WATER
        return out


def _write_tiles(land: Landscape, out_dir: Path, year: int, tile: int) -> list[Path]:
    folder = out_dir / f"landcover_{year}"
    folder.mkdir(parents=True, exist_ok=True)
    n = land.size
    paths = []
    for ti, r0 in enumerate(range(0, n, tile)):
        for tj, c0 in enumerate(range(0, n, tile)):
            h, w = min(tile, n - r0), min(tile, n - c0)
            path = folder / f"tile_{ti}_{tj}.tif"
            profile = dict(
                driver="GTiff", width=w, height=h, count=1, dtype="uint8", crs=CRS_UTM, nodata=0,
                transform=from_origin(ORIGIN_X_M + c0 * CELL_M, ORIGIN_Y_M - r0 * CELL_M, CELL_M, CELL_M),
                tiled=True, blockxsize=512, blockysize=512, compress="deflate", BIGTIFF="IF_SAFER",
            )
            with rasterio.open(path, "w", **profile) as ds:
                ds.update_tags(1, legend="ESA WorldCover codes", source="fictional (scripts/make_scale_data.py)")
                for s0 in range(0, h, STRIP_ROWS):
                    s1 = min(h, s0 + STRIP_ROWS)
                    ds.write(land.strip(year, r0 + s0, r0 + s1, c0, c0 + w), 1, window=Window(0, s0, w, s1 - s0))
            paths.append(path)
    return paths


def _write_vrt(paths: list[Path], vrt: Path) -> None:
    """A VRT mosaic of same-CRS tiles (relative paths), written without GDAL's gdalbuildvrt."""
    with rasterio.open(paths[0]) as ds:
        res = ds.res[0]
    lefts, tops, rights, bottoms, items = [], [], [], [], []
    for p in paths:
        with rasterio.open(p) as ds:
            b = ds.bounds
            lefts.append(b.left), tops.append(b.top), rights.append(b.right), bottoms.append(b.bottom)
            items.append((p, ds.width, ds.height))
    x0, y0 = min(lefts), max(tops)
    width = round((max(rights) - x0) / res)
    height = round((y0 - min(bottoms)) / res)
    with rasterio.open(paths[0]) as ds:
        wkt = ds.crs.to_wkt()
    sources = []
    for (p, w, h), left, top in zip(items, lefts, tops):
        xoff, yoff = round((left - x0) / res), round((y0 - top) / res)
        sources.append(
            f'    <ComplexSource><SourceFilename relativeToVRT="1">{p.relative_to(vrt.parent).as_posix()}</SourceFilename>'
            f'<SourceBand>1</SourceBand><SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="Byte" '
            f'BlockXSize="512" BlockYSize="512"/><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
            f'<DstRect xOff="{xoff}" yOff="{yoff}" xSize="{w}" ySize="{h}"/><NODATA>0</NODATA></ComplexSource>'
        )
    text = (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
        f"  <SRS>{wkt.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace(chr(34), '&quot;')}</SRS>\n"
        f"  <GeoTransform>{x0!r}, {res!r}, 0.0, {y0!r}, 0.0, {-res!r}</GeoTransform>\n"
        '  <VRTRasterBand dataType="Byte" band="1">\n    <NoDataValue>0</NoDataValue>\n'
        + "\n".join(sources) + "\n  </VRTRasterBand>\n</VRTDataset>\n"
    )
    vrt.write_text(text, encoding="utf-8")


def _write_vectors(land: Landscape, out_dir: Path) -> None:
    crs = CRS_UTM
    layers = {
        "rivers": ("rivers", gpd.GeoDataFrame({"name": [f"river {i + 1}" for i in range(land.n_rivers)]},
                                              geometry=land.river_lines(), crs=crs)),
        "settlements": ("settlements", gpd.GeoDataFrame({"name": [f"town {i + 1}" for i in range(len(land.towns))]},
                                                        geometry=land.settlements(YEARS[1]), crs=crs)),
    }
    for year in YEARS:
        polys = land.tugai[year]
        layers[f"tugai_{year}"] = ("tugai", gpd.GeoDataFrame(
            {"tugai_id": np.arange(1, len(polys) + 1), "cover": ["forest" if c == TREE else "shrub" for _, c in polys]},
            geometry=[g for g, _ in polys], crs=crs))
    # population sites: centroids of every 7th tugai polygon that survives to 2020
    kept = land.tugai[YEARS[1]][::7][:12]
    layers["populations"] = ("populations", gpd.GeoDataFrame(
        {"site_id": [f"P{i + 1}" for i in range(len(kept))], "name": [f"group {i + 1}" for i in range(len(kept))],
         "count": [40 + 10 * (i % 5) for i in range(len(kept))]},
        geometry=[g.representative_point() for g, _ in kept], crs=crs))
    e = land.extent
    layers["protected_areas"] = ("protected_areas", gpd.GeoDataFrame(
        {"pa_id": ["PA1", "PA2"], "name": ["reserve west", "reserve east"]},
        geometry=[shapely.box(ORIGIN_X_M + 0.1 * e, ORIGIN_Y_M - 0.5 * e, ORIGIN_X_M + 0.3 * e, ORIGIN_Y_M - 0.1 * e),
                  shapely.box(ORIGIN_X_M + 0.6 * e, ORIGIN_Y_M - 0.9 * e, ORIGIN_X_M + 0.8 * e, ORIGIN_Y_M - 0.6 * e)],
        crs=crs))
    layers["reporting_units"] = ("units", gpd.GeoDataFrame(
        {"unit_id": ["W", "E"], "name": ["west", "east"]},
        geometry=[shapely.box(ORIGIN_X_M, ORIGIN_Y_M - e, ORIGIN_X_M + e / 2, ORIGIN_Y_M),
                  shapely.box(ORIGIN_X_M + e / 2, ORIGIN_Y_M - e, ORIGIN_X_M + e, ORIGIN_Y_M)], crs=crs))
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    try:
        for stem, (layer, gdf) in layers.items():
            path = out_dir / f"{stem}.gpkg"
            path.unlink(missing_ok=True)
            gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def make_scale_data(size: int, out_dir: Path, *, tile: int | None = None, seed: int = SEED) -> dict:
    """Write the mosaic (two epochs) and vectors; return a summary."""
    if size < 100:
        raise SystemExit("--size must be at least 100 cells")
    tile = tile or math.ceil(size / 3)
    out_dir.mkdir(parents=True, exist_ok=True)
    land = Landscape(size, seed)
    tiles = {}
    for year in YEARS:
        tiles[year] = _write_tiles(land, out_dir, year, tile)
        _write_vrt(tiles[year], out_dir / f"landcover_{year}.vrt")
    _write_vectors(land, out_dir)
    return {"size": size, "tile": tile, "tiles_per_epoch": len(tiles[YEARS[0]]), "cells_per_epoch": size * size,
            "tugai_polygons": {y: len(land.tugai[y]) for y in YEARS}, "towns": len(land.towns)}


def main(argv=None) -> int:
    default_out = Path(__file__).resolve().parents[1] / "data" / "scale"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True, help="cells per side (N x N cells of 10 m)")
    parser.add_argument("--out", type=Path, default=default_out, help="output folder (default data/scale)")
    parser.add_argument("--tile", type=int, default=None, help="tile side in cells (default: N / 3, 3 x 3 tiles)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default %(default)s)")
    args = parser.parse_args(argv)
    summary = make_scale_data(args.size, args.out, tile=args.tile, seed=args.seed)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
