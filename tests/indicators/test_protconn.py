"""ProtConn, Prot, fractions and dECA against values worked out by hand (METHODS.md 11)."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from habitat.errors import InvalidParameterError, MissingCRSError
from habitat.indicators.protconn import (
    PROTCONN_COLUMNS,
    delta_eca_pct,
    polygon_edge_distances,
    protconn,
    protconn_by_region,
    protconn_nodes,
)

CRS = "EPSG:32642"  # UTM 42N (metres)

# Three protected areas on a line (metres):
#   PA1 = 200 x 200 m = 4 ha at x 0..200
#   PA2 = 1000 x 10 m = 1 ha at x 1200..2200 (a thin stepping stone)
#   PA3 = 200 x 200 m = 4 ha at x 3200..3400
# Edge-to-edge: d12 = d23 = 1000 m, d13 = 3000 m.
PA = [shapely.box(0, 0, 200, 200), shapely.box(1200, 0, 2200, 10), shapely.box(3200, 0, 3400, 200)]
REGION = shapely.box(0, 0, 4000, 250)  # 100 ha
MEDIAN_M = 1000.0  # p = 0.5 at 1000 m -> p12 = p23 = 0.5, p13 direct = 0.5^3 = 0.125


def test_polygon_edge_distances_by_hand():
    expected = [[0, 1000, 3000], [1000, 0, 1000], [3000, 1000, 0]]
    np.testing.assert_allclose(polygon_edge_distances(PA), expected)
    # beyond the cutoff: no link
    d = polygon_edge_distances(PA, max_distance_m=1500)
    np.testing.assert_array_equal(d, [[0, 1000, np.inf], [1000, 0, 1000], [np.inf, 1000, 0]])


def test_three_protected_areas_by_hand():
    # p*13 = max(0.125, p12 p23 = 0.25) = 0.25
    # ECA^2 = sum_i a_i^2 + 2 (a1 a2 p12 + a2 a3 p23 + a1 a3 p*13)
    #       = (16 + 1 + 16) + 2 (4*1*0.5 + 1*4*0.5 + 4*4*0.25) = 33 + 2 * 8 = 49 -> ECA = 7 ha
    # ProtConn = 100 * 7 / 100 = 7 %; Prot = 100 * 9 / 100 = 9 %; ProtUnconn = 2 %
    # RelConn = 100 * 7 / 9; no PAs touch: Prot fraction = Within = 100 sqrt(33) / 7
    r = protconn([4, 1, 4], polygon_edge_distances(PA), region_area=100.0, ref_distance=MEDIAN_M)
    assert r["ECA"] == pytest.approx(7.0)
    assert r["ProtConn"] == pytest.approx(7.0)
    assert r["Prot"] == pytest.approx(9.0)
    assert r["ProtUnconn"] == pytest.approx(2.0)
    assert r["RelConn"] == pytest.approx(700 / 9)
    assert r["ProtConn_Prot"] == pytest.approx(100 * math.sqrt(33) / 7)
    assert r["ProtConn_Within"] == pytest.approx(100 * math.sqrt(33) / 7)
    assert r["ProtConn_Contig"] == pytest.approx(0.0, abs=1e-9)
    assert r["ProtConn_Trans"] == pytest.approx(0.0, abs=1e-9)
    assert r["ProtConn_Unprot"] == pytest.approx(100 - 100 * math.sqrt(33) / 7)


def test_three_protected_areas_from_polygons():
    pa = gpd.GeoDataFrame({"name": ["a", "b", "c"]}, geometry=PA, crs=CRS)
    regions = gpd.GeoDataFrame({"state": ["X"]}, geometry=[REGION], crs=CRS)
    table = protconn_by_region(pa, regions, region_column="state", median_dispersal_m=MEDIAN_M,
                               transboundary_distance_m=10_000)
    assert list(table.columns) == list(PROTCONN_COLUMNS)
    row = table.iloc[0]
    assert row["region"] == "X" and row["nodes"] == 3 and row["transboundary_nodes"] == 0
    np.testing.assert_allclose(row[["region_area_ha", "protected_area_ha", "ECA_ha", "Prot", "ProtConn"]]
                               .to_numpy(float), [100, 9, 7, 9, 7])


def test_transboundary_stepping_stone_by_hand():
    # The region has a notch x 1100..2300, y 0..100 (12 ha) that holds PA2: A_L = 100 - 12 = 88 ha.
    # PA2 is outside the region: a stepping stone with attribute 0.
    # ECA^2 = 16 + 16 + 2 * 4 * 4 * p*13, p*13 = 0.5 * 0.5 (via PA2) = 0.25 -> 40, ECA = sqrt(40)
    # without PA2: p13 = 0.125 -> ECA^2 = 32 + 32 * 0.125 = 36, ECA = 6
    # ProtConn = 100 sqrt(40) / 88; Prot = 100 * 8 / 88
    # Trans = 100 (sqrt(40) - 6) / sqrt(40); Prot fraction = 100 sqrt(32) / sqrt(40)
    region = shapely.difference(REGION, shapely.box(1100, 0, 2300, 100))
    geoms, area, tb, individual = protconn_nodes(PA, region, transboundary_distance_m=500)
    np.testing.assert_array_equal(tb, [False, False, True])
    np.testing.assert_allclose(area, [40_000, 40_000, 0])
    np.testing.assert_allclose(individual, [40_000, 40_000])
    r = protconn(area / 1e4, polygon_edge_distances(geoms), region_area=region.area / 1e4,
                 ref_distance=MEDIAN_M, transboundary=tb, individual_area=individual / 1e4)
    eca = math.sqrt(40)
    assert region.area == pytest.approx(880_000)
    assert r["ECA"] == pytest.approx(eca)
    assert r["ProtConn"] == pytest.approx(100 * eca / 88)
    assert r["Prot"] == pytest.approx(800 / 88)
    assert r["ProtConn_Trans"] == pytest.approx(100 * (eca - 6) / eca)
    assert r["ProtConn_Prot"] == pytest.approx(100 * math.sqrt(32) / eca)
    assert r["ProtConn_Unprot"] == pytest.approx(100 - 100 * math.sqrt(32) / eca - 100 * (eca - 6) / eca)
    # PA2 (y 0..10) lies 90 m below the notch's top edge (y 100) and 100 m from its sides, so a
    # 50 m search radius leaves it out.
    _, _, tb0, _ = protconn_nodes(PA, region, transboundary_distance_m=50)
    np.testing.assert_array_equal(tb0, [False, False])


def test_protected_area_across_the_boundary_keeps_its_outside_part_as_stone():
    # One 4 ha PA half inside the region: a 2 ha node and a touching 0-area stepping stone.
    region = shapely.box(0, 0, 1000, 1000)
    geoms, area, tb, _ = protconn_nodes([shapely.box(900, 0, 1100, 200)], region, transboundary_distance_m=0)
    np.testing.assert_allclose(area, [20_000, 0])
    np.testing.assert_array_equal(tb, [False, True])
    assert polygon_edge_distances(geoms)[0, 1] == 0.0


def test_contiguous_protected_areas_split_within_and_contig():
    # Two touching 1 ha PAs: ECA = 1 + 1 = 2; Prot fraction = 100 sqrt(2^2) / 2 = 100;
    # Within = 100 sqrt(1 + 1) / 2 = 70.71; Contig = 100 - 70.71.
    r = protconn([1, 1], [[0, 0], [0, 0]], region_area=10, ref_distance=100)
    assert r["ECA"] == pytest.approx(2.0)
    assert r["ProtConn_Prot"] == pytest.approx(100.0)
    assert r["ProtConn_Within"] == pytest.approx(100 * math.sqrt(2) / 2)
    assert r["ProtConn_Contig"] == pytest.approx(100 - 100 * math.sqrt(2) / 2)
    assert r["ProtConn_Unprot"] == pytest.approx(0.0, abs=1e-9)


def test_overlapping_protected_areas_are_dissolved():
    # Two 4 ha squares overlapping on 2 ha: one 6 ha node, individual areas 4 + 4.
    # Within = 100 sqrt(16 + 16) sqrt(6 / 8) / 6 = 100 sqrt(24) / 6
    pas = [shapely.box(0, 0, 200, 200), shapely.box(100, 0, 300, 200)]
    geoms, area, tb, individual = protconn_nodes(pas, shapely.box(-1000, -1000, 1000, 1000),
                                                 transboundary_distance_m=0)
    np.testing.assert_allclose(area, [60_000])
    r = protconn(area / 1e4, polygon_edge_distances(geoms), region_area=400, ref_distance=100,
                 individual_area=individual / 1e4)
    assert r["ECA"] == pytest.approx(6.0)
    assert r["ProtConn_Within"] == pytest.approx(100 * math.sqrt(24) / 6)


def test_region_without_protected_areas():
    regions = gpd.GeoDataFrame({"state": ["X", "Y"]}, geometry=[REGION, shapely.box(10_000, 0, 11_000, 1000)],
                               crs=CRS)
    pa = gpd.GeoDataFrame(geometry=PA, crs=CRS)
    table = protconn_by_region(pa, regions, region_column="state", median_dispersal_m=MEDIAN_M,
                               transboundary_distance_m=0)
    y = table.set_index("region").loc["Y"]
    assert y["ProtConn"] == 0 and y["Prot"] == 0 and y["nodes"] == 0
    assert math.isnan(y["ProtConn_Trans"])


def test_delta_eca():
    # dECA = 100 (ECA_t2 - ECA_t1) / ECA_t1: from 7 ha to sqrt(40) ha
    assert delta_eca_pct(7.0, math.sqrt(40)) == pytest.approx(100 * (math.sqrt(40) - 7) / 7)
    assert delta_eca_pct(4.0, 5.0) == 25.0
    assert math.isnan(delta_eca_pct(0.0, 1.0))
    with pytest.raises(InvalidParameterError):
        delta_eca_pct(-1.0, 1.0)


def test_bad_inputs():
    with pytest.raises(InvalidParameterError, match="region_area"):
        protconn([1], [[0]], region_area=0, ref_distance=1)
    with pytest.raises(InvalidParameterError, match="transboundary"):
        protconn([1, 1], np.zeros((2, 2)), region_area=1, ref_distance=1, transboundary=[True])
    pa = gpd.GeoDataFrame(geometry=PA)
    regions = gpd.GeoDataFrame({"state": ["X"]}, geometry=[REGION], crs=CRS)
    with pytest.raises(MissingCRSError):
        protconn_by_region(pa, regions, region_column="state", median_dispersal_m=1, transboundary_distance_m=0)
    with pytest.raises(InvalidParameterError, match="geographic"):
        protconn_by_region(pa.set_crs("EPSG:4326"), regions.to_crs("EPSG:4326"), region_column="state",
                           median_dispersal_m=1, transboundary_distance_m=0)
