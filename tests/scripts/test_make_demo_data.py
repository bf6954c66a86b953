"""Tests for scripts/make_demo_data.py: reproducible, schema-true, plausible demo data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage

from habitat.errors import HabitatError, InvalidParameterError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_demo_data.py"
COMMITTED = REPO / "data" / "demo"

WORLDCOVER_CODES = {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}
TUGAI = [10, 20, 90]
SCALE = 0.25  # 200 x 150 cells of 400 m


def _load_script():
    spec = importlib.util.spec_from_file_location("make_demo_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class bodies run.
    sys.modules["make_demo_data"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_script()


@pytest.fixture(scope="module")
def runs(gen, tmp_path_factory):
    """Two independent runs of main() at a reduced size."""
    dirs = []
    for name in ("run_a", "run_b"):
        out = tmp_path_factory.mktemp(name)
        assert gen.main(["--out", str(out), "--scale", str(SCALE), "--quiet"]) == 0
        dirs.append(out)
    return dirs


@pytest.fixture(scope="module")
def out(runs):
    return runs[0]


@pytest.fixture(scope="module")
def full(gen):
    """Full-size build in memory (no files), about 3 s."""
    return gen.build_demo(scale=1.0)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile, src.tags(), src.transform


def _cell_value(path, x, y):
    with rasterio.open(path) as src:
        row, col = src.index(x, y)
        return int(src.read(1)[row, col])


# --------------------------------------------------------------------------- determinism
def test_two_runs_write_identical_bytes(runs, gen):
    a, b = runs
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == sorted(gen.OUTPUT_FILES)
    assert names_b == names_a
    for name in names_a:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_different_seed_changes_the_landscape(gen):
    one = gen.build_demo(scale=0.1, seed=1)
    two = gen.build_demo(scale=0.1, seed=2)
    assert not np.array_equal(one.landcover[2000], two.landcover[2000])


def test_rerun_into_same_folder_keeps_readme_and_bytes(gen, tmp_path):
    (tmp_path / "README.md").write_text("keep me\n")
    gen.main(["--out", str(tmp_path), "--scale", "0.1", "--quiet"])
    first = {name: (tmp_path / name).read_bytes() for name in gen.OUTPUT_FILES}
    gen.main(["--out", str(tmp_path), "--scale", "0.1", "--quiet"])
    for name in gen.OUTPUT_FILES:
        assert (tmp_path / name).read_bytes() == first[name], name
    assert (tmp_path / "README.md").read_text() == "keep me\n"


def test_committed_rasters_match_a_fresh_full_build(full):
    if not (COMMITTED / "landcover_2000.tif").exists():
        pytest.skip("data/demo not generated; run python scripts/make_demo_data.py")
    for year in (2000, 2020):
        committed, _, _, _ = _read(COMMITTED / f"landcover_{year}.tif")
        assert_array_equal(committed, full.landcover[year])


# --------------------------------------------------------------------------- rasters
@pytest.mark.parametrize("year", [2000, 2020])
def test_landcover_schema(out, year):
    data, profile, tags, transform = _read(out / f"landcover_{year}.tif")
    assert data.dtype == np.uint8
    assert data.shape == (150, 200)
    assert profile["crs"].to_epsg() == 32642
    assert profile["nodata"] == 0
    assert profile["tiled"] and profile["compress"] == "deflate"
    assert transform == rasterio.Affine(400.0, 0.0, 420000.0, 0.0, -400.0, 4760000.0)
    assert set(np.unique(data).tolist()) <= WORLDCOVER_CODES
    assert (data != 0).all()
    assert not any("DATETIME" in key.upper() for key in tags)


def test_full_grid_is_800_by_600_cells_of_100_m(full):
    assert full.landcover[2000].shape == (600, 800)
    assert full.grid.cell_size_m == 100.0
    assert tuple(full.grid.transform)[:6] == (100.0, 0.0, 420000.0, 0.0, -100.0, 4760000.0)


def test_tugai_is_lost_between_2000_and_2020(out):
    lc00, _, _, _ = _read(out / "landcover_2000.tif")
    lc20, _, _, _ = _read(out / "landcover_2020.tif")
    t00 = np.isin(lc00, TUGAI).sum()
    t20 = np.isin(lc20, TUGAI).sum()
    assert 0.15 <= 1.0 - t20 / t00 <= 0.30
    # Loss goes to cropland expansion and to the fire (grassland / bare ground).
    lost = np.isin(lc00, TUGAI) & ~np.isin(lc20, TUGAI)
    assert set(np.unique(lc20[lost]).tolist()) <= {30, 40, 50, 60}
    assert (lc20[lost] == 40).any() and np.isin(lc20[lost], [30, 60]).any()
    assert (lc20 == 40).sum() > (lc00 == 40).sum()


def test_full_scale_loss_and_classes(full):
    lc00, lc20 = full.landcover[2000], full.landcover[2020]
    assert 0.15 <= full.summary["tugai_loss_fraction"] <= 0.30
    for code in (10, 20, 30, 40, 50, 60, 80, 90):
        assert (lc00 == code).any(), code
    assert set(np.unique(lc20).tolist()) == set(np.unique(lc00).tolist())
    assert (lc20 == 50).sum() > (lc00 == 50).sum()  # the towns grow
    # The channel is water across the whole map, from the west edge to the east edge.
    labels, _ = ndimage.label(lc00 == 80, structure=np.ones((3, 3)))
    spanning = set(labels[:, 0][labels[:, 0] > 0]) & set(labels[:, -1][labels[:, -1] > 0])
    assert spanning


# --------------------------------------------------------------------------- vectors
LAYERS = [
    ("tugai_2000.gpkg", "tugai", 4326, "Polygon", ["tugai_id", "type"]),
    ("tugai_2020.gpkg", "tugai", 4326, "Polygon", ["tugai_id", "type"]),
    ("rivers.gpkg", "rivers", 32642, "LineString", ["name", "width_m"]),
    ("canals.gpkg", "canals", 32642, "LineString", ["name"]),
    ("roads.gpkg", "roads", 32642, "LineString", ["road_class"]),
    ("settlements.gpkg", "settlements", 32642, "Point", ["name", "population"]),
    ("protected_areas.gpkg", "protected_areas", 32642, "Polygon", ["pa_id", "name", "designation"]),
    ("historical_range.gpkg", "historical_range", 32642, "Polygon", ["name"]),
    ("reporting_units.gpkg", "units", 4326, "Polygon", ["unit_id", "name"]),
    ("populations.gpkg", "populations", 32642, "Point", ["site_id", "name", "count", "year"]),
]


@pytest.mark.parametrize(("name", "layer", "epsg", "geom_type", "columns"), LAYERS)
def test_vector_layer_schema(out, name, layer, epsg, geom_type, columns):
    assert [row[0] for row in pyogrio.list_layers(out / name)] == [layer]
    gdf = gpd.read_file(out / name, layer=layer)
    assert gdf.crs.to_epsg() == epsg
    assert list(gdf.columns) == columns + ["geometry"]
    assert set(gdf.geom_type) == {geom_type}
    assert len(gdf) >= 1


def test_tugai_polygons_types_ids_and_area(out):
    for year in (2000, 2020):
        gdf = gpd.read_file(out / f"tugai_{year}.gpkg")
        assert gdf["tugai_id"].dtype.kind == "i"
        assert_array_equal(gdf["tugai_id"].to_numpy(), np.arange(1, len(gdf) + 1))
        assert set(gdf["type"]) == {"forest", "shrub", "reed"}
        lc, _, _, _ = _read(out / f"landcover_{year}.tif")
        raster_km2 = np.isin(lc, TUGAI).sum() * 0.16
        polygons_km2 = gdf.geometry.buffer(0).to_crs(32642).area.sum() / 1e6
        assert_allclose(polygons_km2, raster_km2, rtol=0.01)


def test_full_scale_tugai_polygons_are_simplified_only_a_little(full):
    for year in (2000, 2020):
        layer, gdf = full.layers[f"tugai_{year}"]
        assert layer == "tugai"
        tugai = full.floodplain & np.isin(full.landcover[year], TUGAI)
        raster_km2 = tugai.sum() * 0.01
        polygons_km2 = gdf.geometry.buffer(0).to_crs(32642).area.sum() / 1e6
        assert_allclose(polygons_km2, raster_km2, rtol=0.005)
        assert_allclose(raster_km2, full.summary["tugai_km2"][year], rtol=1e-9)


def test_exactly_one_invalid_repairable_tugai_polygon_in_2020(out):
    g00 = gpd.read_file(out / "tugai_2000.gpkg")
    g20 = gpd.read_file(out / "tugai_2020.gpkg")
    assert g00.is_valid.all()
    invalid = g20[~g20.is_valid]
    assert len(invalid) == 1
    geom = invalid.geometry.iloc[0]
    assert "Self-intersection" in shapely.is_valid_reason(geom)
    repaired = shapely.make_valid(geom)
    assert repaired.geom_type == "Polygon" and repaired.is_valid
    assert_allclose(repaired.area, geom.area, rtol=1e-12)
    assert repaired.equals(geom.buffer(0))


def test_rivers_main_channel_width_and_direction(out):
    rivers = gpd.read_file(out / "rivers.gpkg")
    main = rivers[rivers["name"] == "Demo Darya"]
    assert ((main["width_m"] >= 150) & (main["width_m"] <= 400)).all()
    assert (rivers["name"] != "Demo Darya").sum() == 1
    merged = shapely.line_merge(main.union_all())
    assert merged.geom_type == "LineString"
    xs = shapely.get_coordinates(merged)[:, 0]
    assert {round(xs.min()), round(xs.max())} == {420000, 500000}


def test_roads_cross_the_river_only_on_two_bridges(out):
    main = gpd.read_file(out / "rivers.gpkg").query("name == 'Demo Darya'").union_all()
    roads = gpd.read_file(out / "roads.gpkg")
    assert set(roads["road_class"]) == {"primary", "secondary"}
    crossings = [len(shapely.get_parts(g.intersection(main))) if g.intersects(main) else 0
                 for g in roads.geometry]
    assert sum(crossings) == 2
    assert all(c == 0 for c, cls in zip(crossings, roads["road_class"]) if cls == "primary")


def test_canals_stay_out_of_the_river(out):
    main = gpd.read_file(out / "rivers.gpkg").query("name == 'Demo Darya'").union_all()
    canals = gpd.read_file(out / "canals.gpkg")
    assert canals["name"].is_unique
    assert not canals.intersects(main).any()


def test_settlements_sit_in_built_up_cells(out):
    towns = gpd.read_file(out / "settlements.gpkg")
    assert 3 <= len(towns) <= 5
    assert towns["population"].dtype.kind == "i" and (towns["population"] > 0).all()
    for year in (2000, 2020):
        values = [_cell_value(out / f"landcover_{year}.tif", p.x, p.y) for p in towns.geometry]
        assert values == [50] * len(towns), year


def test_populations_sit_in_tugai_and_match_the_census(out):
    pops = gpd.read_file(out / "populations.gpkg")
    census = pd.read_csv(out / "census.csv")
    assert list(census.columns) == ["site_id", "year", "count", "method", "source"]
    assert list(pops["site_id"]) == ["P1", "P2", "P3", "P4"]
    assert (pops["year"] == 2020).all()
    for year in (2000, 2020):
        values = [_cell_value(out / f"landcover_{year}.tif", p.x, p.y) for p in pops.geometry]
        assert values == [10, 10, 10, 10], year
    for site_id, series in census.groupby("site_id"):
        assert 5 <= len(series) <= 8
        assert series["year"].between(2000, 2023).all() and series["year"].is_monotonic_increasing
        count_2020 = series.loc[series["year"] == 2020, "count"].item()
        assert pops.loc[pops["site_id"] == site_id, "count"].item() == count_2020


def test_one_population_is_overstocked_at_full_scale(full):
    density = full.summary["density_per_km2_2020"]
    assert sorted(density) == ["P1", "P2", "P3", "P4"]
    assert [k for k, v in density.items() if v > 20.0] == ["P4"]
    assert all(v < 10.0 for k, v in density.items() if k != "P4")
    # The groups are separated: at least three distinct tugai patches hold the four sites.
    assert len(set(full.summary["patch_km2_2020"].values())) >= 3


def test_protected_areas_cover_tugai_and_one_site(out):
    pas = gpd.read_file(out / "protected_areas.gpkg")
    pops = gpd.read_file(out / "populations.gpkg")
    tugai = gpd.read_file(out / "tugai_2000.gpkg").to_crs(32642).buffer(0).union_all()
    assert 2 <= len(pas) <= 3 and pas["pa_id"].is_unique
    assert (pas.intersection(tugai).area > 1e6).all()
    holds_site = [pa.contains(pops.geometry).any() for pa in pas.geometry]
    assert any(holds_site)


def test_reporting_units_split_the_study_area(out):
    units = gpd.read_file(out / "reporting_units.gpkg", layer="units")
    assert list(units["unit_id"]) == ["AA", "BB"]
    utm = units.to_crs(32642)
    study = shapely.box(420000.0, 4700000.0, 500000.0, 4760000.0)
    assert_allclose(utm.union_all().symmetric_difference(study).area / study.area, 0.0, atol=1e-4)
    assert utm.geometry.iloc[0].intersection(utm.geometry.iloc[1]).area < 1e-4 * study.area
    river = gpd.read_file(out / "rivers.gpkg").query("name == 'Demo Darya'").union_all()
    assert all(unit.intersects(river) for unit in utm.geometry)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("scale", [0.0, -1.0, 1.5])
def test_bad_scale_is_a_user_error(gen, scale):
    with pytest.raises(InvalidParameterError, match="--scale"):
        gen.make_grid(scale)
    assert issubclass(InvalidParameterError, HabitatError)


def test_main_rejects_bad_scale_before_writing(gen, tmp_path):
    with pytest.raises(InvalidParameterError, match="--scale"):
        gen.main(["--out", str(tmp_path / "demo"), "--scale", "2"])
    assert not (tmp_path / "demo").exists()


# --------------------------------------------------------------------------- known places
def test_known_places_sit_on_tugai_apart_from_populations_and_match_the_committed_file(gen, full):
    places = full.known_places
    lc = full.landcover[2020]
    cell = full.grid.cell_size_m
    rows = ((gen.ORIGIN_Y_M - places["y_utm42n"]) // cell).astype(int)
    cols = ((places["x_utm42n"] - gen.ORIGIN_X_M) // cell).astype(int)
    codes = lc[rows, cols]
    presence = places["kind"] != "desert_reference"
    assert np.isin(codes[presence], TUGAI).all()
    reference = ~presence
    assert not np.isin(codes[reference], TUGAI).any()
    assert not full.floodplain[rows[reference], cols[reference]].any()
    # kept apart from the populations the model uses: every place at least 2 km from every site
    sites = full.layers["populations"][1]
    pts = gpd.points_from_xy(places["x_utm42n"], places["y_utm42n"])
    nearest = np.array([sites.distance(p).min() for p in pts])
    assert (nearest > 2000.0).all()
    assert places["source"].str.contains("synthetic").all()
    if (COMMITTED / "known_places.csv").exists():
        pd.testing.assert_frame_equal(pd.read_csv(COMMITTED / "known_places.csv"), places, check_exact=False)
