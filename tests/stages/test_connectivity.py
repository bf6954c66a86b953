"""Resistance and connectivity stages on the tiny project (grid aligned with the data)."""

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
import yaml

from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ORIGIN_X, ORIGIN_Y, UTM  # noqa: E402
from test_suitability import SCORES, _read, _run  # noqa: E402

CLASS_ONLY = {"criteria": {"habitat_class": {"function": "class_scores", "class_scores": SCORES}},
              "weights": {"habitat_class": 1.0}, "ahp": None}


def _two_populations(pipeline: Path) -> None:
    y = ORIGIN_Y - 11.5 * 100  # source row 11 = grid row 9 (tugai forest in both epochs east of col 8)
    gpd.GeoDataFrame({"site_id": ["A", "B"], "name": ["West", "East"], "count": [10, 20]},
                     geometry=[shapely.Point(ORIGIN_X + 550, y), shapely.Point(ORIGIN_X + 1750, y)],
                     crs=UTM).to_file(pipeline.parent / "data" / "populations.gpkg", driver="GPKG")


def _connectivity_run(tmp_path: Path) -> Path:
    out = _run(tmp_path, CLASS_ONLY)
    pipeline = tmp_path / "p" / "pipeline.yaml"
    _two_populations(pipeline)
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["resistance"] = {"transform": "linear", "barrier_classes": {"built": None, "water": 300.0}}
    data["stages"]["connectivity"] = {"core_radius_m": 100, "corridor_cutoff": 1e9, "barrier_radii_m": [100]}
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    return out


def test_resistance_is_the_linear_transform_with_barriers(tmp_path):
    out = _connectivity_run(tmp_path)
    classes = _read(out, "ingest", "habitat_class_current")
    suit = _read(out, "suitability", "suitability").astype(np.float64)
    expected = 1000.0 - 999.0 * suit           # default range 1-1000
    expected[classes == 4] = 300.0           # water
    expected[classes == 7] = np.nan          # built: impassable
    np.testing.assert_allclose(_read(out, "resistance", "resistance"), expected.astype(np.float32))


def test_link_follows_the_tugai_strip(tmp_path):
    out = _connectivity_run(tmp_path)
    cores = _read(out, "connectivity", "population_cores")
    expected = np.zeros((20, 26), np.int32)
    expected[9, 2:5] = expected[8, 3] = expected[10, 3] = 1   # disc of 100 m around A (grid row 9, col 3)
    expected[9, 14:17] = expected[8, 15] = expected[10, 15] = 2
    np.testing.assert_array_equal(cores, expected)
    links = pd.read_csv(out / "connectivity" / "links.csv")
    assert links[["from_site", "to_site"]].values.tolist() == [["A", "B"]]
    # 10 steps of 100 m at resistance 1 along the forest row between the cores
    assert links.loc[0, "lcd"] == 1000.0
    assert links.loc[0, "path_length_m"] == 1000.0
    path = gpd.read_file(out / "connectivity" / "least_cost_paths.gpkg").geometry.iloc[0]
    np.testing.assert_allclose(np.asarray(path.coords)[:, 1], ORIGIN_Y - 11.5 * 100)
    corridor = _read(out, "connectivity", "corridors")
    np.testing.assert_array_equal(corridor[9, 4:15], 0.0)       # NLCC is 0 on the path
    assert np.nanmin(corridor) >= 0


def _patch_run(tmp_path: Path, stages: dict, **connectivity) -> Path:
    """Two populations on the strip, every patch kept, the linear transform; extra settings."""
    out = _run(tmp_path, CLASS_ONLY)
    pipeline = tmp_path / "p" / "pipeline.yaml"
    _two_populations(pipeline)
    data = yaml.safe_load(pipeline.read_text())
    data["stages"]["patches"] = {"threshold": 0.6, "min_patch_area_ha": 0}
    data["stages"]["resistance"] = {"transform": "linear", "barrier_classes": {"built": None, "water": 300.0}}
    data["stages"]["connectivity"] = {"core_radius_m": 100, "barrier_radii_m": [100], **connectivity}
    data["stages"].update(stages)
    pipeline.write_text(yaml.safe_dump(data))
    run_pipeline(pipeline, out)
    return out


def _graph_run(tmp_path: Path, iic_link_distance: float) -> pd.DataFrame:
    out = _patch_run(tmp_path, {}, iic_link_distance=iic_link_distance)
    return pd.read_csv(out / "connectivity" / "graph_indices.csv").set_index("index")["value"]


def test_iic_links_only_patches_within_the_link_distance(tmp_path):
    # two forest strips (26 and 20 ha, resistance 1) either side of the river row (resistance 300):
    # crossing costs 2 steps x 100 m x (1 + 300) / 2 = 30100
    res = _read(_connectivity_run(tmp_path / "r"), "resistance", "resistance")
    landscape_ha = float(np.isfinite(res).sum())  # 1 ha cells
    apart = _graph_run(tmp_path / "a", 30000.0)
    linked = _graph_run(tmp_path / "b", 30200.0)
    np.testing.assert_allclose(apart["IIC"], (26**2 + 20**2) / landscape_ha**2)
    np.testing.assert_allclose(linked["IIC"], (26**2 + 20**2 + 2 * 26 * 20 / 2) / landscape_ha**2)
    assert apart["components"] == 2 and linked["components"] == 1


def _limited_run(tmp_path: Path, max_dispersal_m: float) -> Path:
    return _patch_run(tmp_path, {"circuit": {}}, corridor_cutoff=1e9, max_dispersal_m=max_dispersal_m)


def test_dispersal_limit_disconnects_the_pair_truncates_corridors_and_the_circuit(tmp_path):
    # A-B costs 1000 (10 steps of 100 m through forest, resistance 1). The limit is
    # max_dispersal_m x the median resistance of habitat-patch cells (forest 1, shrub 100 - 99 x 0.9).
    near = _limited_run(tmp_path / "near", 2000.0)
    far = _limited_run(tmp_path / "far", 500.0)
    res = _read(near, "resistance", "resistance").astype(np.float64)
    patch = _read(near, "patches", "patch_id")
    typical = float(np.median(res[(patch > 0) & np.isfinite(res)]))
    for out, limit, connected in ((near, 2000.0, True), (far, 500.0, False)):
        links = pd.read_csv(out / "connectivity" / "links.csv")
        assert links.loc[0, "lcd"] == 1000.0
        np.testing.assert_allclose(links.loc[0, "max_cost"], limit * typical)
        assert bool(links.loc[0, "connected"]) == (1000.0 <= limit * typical) == connected
        corridor = _read(out, "connectivity", "corridors")
        reach = _read(out, "connectivity", "dispersal_reach")
        circuit = pd.read_csv(out / "circuit" / "effective_resistance.csv")
        if connected:
            np.testing.assert_array_equal(corridor[9, 4:15], 0.0)
            assert (reach[9, 2:17] == 1).all()          # the path and both cores
            assert circuit.loc[0, "effective_resistance_ohm"] > 0
        else:
            assert np.isnan(corridor).all()                # no corridor beyond the limit
            assert (reach == 0).all()
            assert circuit.loc[0, "effective_resistance_ohm"] == -1  # not solved
            assert links.loc[0, "reason"] == "lcd above max dispersal cost"
