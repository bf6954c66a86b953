"""Shared fixtures: a tiny but complete pipeline project written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from rasterio.transform import from_origin

#: Tiny project: 24 x 30 cells of 100 m in UTM 42N; a river runs west-east through row 12.
ORIGIN_X, ORIGIN_Y, RES, ROWS, COLS = 500_000.0, 4_700_000.0, 100.0, 24, 30
UTM = "EPSG:32642"


def write_landcover(path: Path, codes: np.ndarray, *, crs: str | None = UTM, nodata: int | None = 0) -> Path:
    profile = dict(driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1, dtype="uint8",
                   transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES), nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(codes.astype("uint8"), 1)
    return path


def tiny_codes(epoch: int) -> np.ndarray:
    """ESA WorldCover codes: desert (60), a river (80) with tugai (10) and shrub (20) beside it,
    cropland (40) in the south-west; in the later epoch cropland has taken part of the tugai."""
    codes = np.full((ROWS, COLS), 60, dtype=np.uint8)
    codes[10:15, :] = 20
    codes[11:14, :] = 10
    codes[12, :] = 80
    codes[18:, :10] = 40
    codes[2:4, 25:28] = 50
    if epoch == 2:
        codes[13:15, :8] = 40
    return codes


def write_vectors(folder: Path) -> dict[str, Path]:
    y_river = ORIGIN_Y - 12.5 * RES
    x0, x1 = ORIGIN_X, ORIGIN_X + COLS * RES
    layers = {
        "rivers": gpd.GeoDataFrame({"name": ["River"]}, geometry=[shapely.LineString([(x0, y_river), (x1, y_river)])], crs=UTM),
        "tugai_1": gpd.GeoDataFrame({"type": ["forest"]}, geometry=[shapely.box(x0, ORIGIN_Y - 14 * RES, x1, ORIGIN_Y - 11 * RES)], crs=UTM).to_crs("EPSG:4326"),
        "tugai_2": gpd.GeoDataFrame({"type": ["forest"]}, geometry=[shapely.box(x0 + 800, ORIGIN_Y - 14 * RES, x1, ORIGIN_Y - 11 * RES)], crs=UTM).to_crs("EPSG:4326"),
        "settlements": gpd.GeoDataFrame({"name": ["Town"], "population": [5000]}, geometry=[shapely.Point(x0 + 2650, ORIGIN_Y - 300)], crs=UTM),
        "units": gpd.GeoDataFrame({"unit_id": ["BB", "AA"], "name": ["East", "West"]},
                                  geometry=[shapely.box(x0 + 1500, ORIGIN_Y - ROWS * RES, x1, ORIGIN_Y),
                                            shapely.box(x0, ORIGIN_Y - ROWS * RES, x0 + 1500, ORIGIN_Y)], crs=UTM),
        "populations": gpd.GeoDataFrame({"site_id": ["P1"], "name": ["Demo site"], "count": [40]},
                                        geometry=[shapely.Point(x0 + 2050, y_river - 100)], crs=UTM),
    }
    paths = {}
    for name, gdf in layers.items():
        paths[name] = folder / f"{name}.gpkg"
        gdf.to_file(paths[name], driver="GPKG")
    return paths


def write_project(folder: Path, *, resolution_m: float = 100.0, ingest: dict | None = None) -> Path:
    """Write the tiny project's data and a pipeline file; return the pipeline path."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_landcover(data / "lc_2000.tif", tiny_codes(1))
    write_landcover(data / "lc_2020.tif", tiny_codes(2))
    write_vectors(data)
    pipeline = {
        "name": "tiny",
        "grid": {"crs": "default", "resolution_m": resolution_m,
                 "bounds": [ORIGIN_X + 200, ORIGIN_Y - (ROWS - 2) * RES, ORIGIN_X + (COLS - 2) * RES, ORIGIN_Y - 200],
                 "bounds_crs": UTM},
        "inputs": {
            "landcover": [{"path": "data/lc_2000.tif", "year": 2000}, {"path": "data/lc_2020.tif", "year": 2020}],
            "tugai": [{"path": "data/tugai_1.gpkg", "year": 2000}, {"path": "data/tugai_2.gpkg", "year": 2020}],
            "rivers": {"path": "data/rivers.gpkg"},
            "settlements": {"path": "data/settlements.gpkg"},
            "reporting_units": {"path": "data/units.gpkg"},
            "populations": {"path": "data/populations.gpkg"},
        },
        "stages": {"ingest": ingest or {"floodplain_buffer_m": 300}},
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


@pytest.fixture
def tiny_pipeline(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


def write_terrain_and_places(folder: Path) -> dict:
    """A DEM (a valley: 300 m at the river row 12, rising 5 m per cell north and south, with a
    mountain block of 1,800 m in rows 0-3 and a nodata block in rows 20-21, columns 25-27) and a
    CSV of known places in UTM;
    returns the pipeline ``inputs`` entries for them (paths relative to the project folder)."""
    rows = np.abs(np.arange(ROWS) - 12)[:, None] * 5.0 + 300.0
    z = np.repeat(rows, COLS, axis=1).astype(np.float32)
    z[:4, :] = 1800.0
    z[20:22, 25:28] = -9999.0
    with rasterio.open(folder / "dem.tif", "w", driver="GTiff", width=COLS, height=ROWS, count=1, dtype="float32",
                       crs=UTM, transform=from_origin(ORIGIN_X, ORIGIN_Y, RES, RES), nodata=-9999.0) as dst:
        dst.write(z, 1)
    y_river = ORIGIN_Y - 12.5 * RES
    places = [("K1", "Tugai reserve", "reserve", ORIGIN_X + 1250, y_river - 100, "hand-made test place"),
              ("K2", "Release pen", "release_site", ORIGIN_X + 2250, y_river + 100, "hand-made test place"),
              ("G1", "Mountain reference", "gorge_reference", ORIGIN_X + 1550, ORIGIN_Y - 250, "hand-made")]
    (folder / "known_places.csv").write_text(
        "place_id,name,kind,x,y,source\n" + "".join(f"{p},{n},{k},{x},{y},{s}\n" for p, n, k, x, y, s in places))
    return {"elevation": {"path": "data/dem.tif"},
            "known_places": {"path": "data/known_places.csv", "x_column": "x", "y_column": "y", "crs": UTM}}
# -- conformance data (Circuitscape.jl / Omniscape.jl suites), never copied into the project ------
REFERENCE_MISSING = ("conformance data not found: put the Circuitscape.jl/Omniscape.jl suites in "
                     "../shared/reference beside the repository, or set HABITAT_REFERENCE to their folder")


def reference_dir(*parts: str) -> Path | None:
    """``<repo>/../shared/reference/<parts>`` (or under ``$HABITAT_REFERENCE`` when set), None when absent: tests then skip with REFERENCE_MISSING."""
    import os

    env = os.environ.get("HABITAT_REFERENCE")
    repo = Path(__file__).resolve().parents[1]
    roots = [Path(env)] if env else [repo.parent / "shared" / "reference"]
    for root in roots:
        if root.joinpath(*parts).exists():
            return root.joinpath(*parts)
    return None


@pytest.fixture
def circuitscape_reference() -> Path:
    """The Circuitscape.jl test suite folder; the test skips with a message when it is absent."""
    path = reference_dir("circuitscape")
    if path is None:
        pytest.skip(REFERENCE_MISSING)
    return path


def cli_errors(argv: list, capsys) -> tuple[int, list[str], str]:
    """Run ``habitat *argv`` in this process: its exit code, the ``error:`` lines of stderr, and
    all of stderr (to assert that no traceback or warning noise came with the one line)."""
    from habitat import cli

    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return exc.value.code, [line for line in err.splitlines() if line.startswith("error:")], err


class CellReads:
    """A lazy raster stand-in (as a layer opened from a file, for ``dask.array.from_array``)
    that counts the reads of each of its cells."""

    def __init__(self, values: np.ndarray) -> None:
        self.values, self.shape, self.dtype, self.ndim = values, values.shape, values.dtype, values.ndim
        self.reads = np.zeros(values.shape, np.int64)

    def __getitem__(self, key):
        self.reads[key] += 1
        return self.values[key]
