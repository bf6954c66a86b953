"""Tests for habitat.io.landcover: crosswalk tables and the land-cover mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from habitat.errors import (
    ConfigError,
    CrosswalkError,
    GridMismatchError,
    HabitatError,
    InputFileError,
    InvalidParameterError,
)
from habitat.io.landcover import (
    HABITAT_CLASS_CODES,
    HABITAT_CLASSES,
    PRODUCTS,
    Crosswalk,
    floodplain_mask,
    map_landcover,
    read_crosswalk,
)

# Habitat-class raster codes, spelled out so expected grids read like the class table.
X = 0  # nodata
F = 1  # tugai_forest
S = 2  # tugai_shrub
R = 3  # reed_wetland
W = 4  # water
G = 5  # grassland
C = 6  # cropland
B = 7  # built
A = 8  # bare
N = 9  # snow
O = 10  # other  # noqa: E741

T, _ = True, False

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "habitat" / "defaults" / "landcover"


def test_habitat_class_codes_are_1_to_10_in_issue_order():
    assert HABITAT_CLASSES == (
        "tugai_forest", "tugai_shrub", "reed_wetland", "water", "grassland",
        "cropland", "built", "bare", "snow", "other",
    )
    assert dict(HABITAT_CLASS_CODES) == {
        "tugai_forest": F, "tugai_shrub": S, "reed_wetland": R, "water": W, "grassland": G,
        "cropland": C, "built": B, "bare": A, "snow": N, "other": O,
    }


# Every code of the DOMAIN.md section 7 tables, plus the product's documented fill value.
DOMAIN_CODES = {
    "esa_worldcover": [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100],
    "copernicus_lc100": [0, 20, 30, 40, 50, 60, 70, 80, 90, 100,
                         111, 112, 113, 114, 115, 116, 121, 122, 123, 124, 125, 126, 200],
    "esa_cci": [0, 10, 11, 12, 20, 30, 40, 50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100,
                110, 120, 121, 122, 130, 140, 150, 151, 152, 153, 160, 170, 180, 190,
                200, 201, 202, 210, 220],
    "modis_mcd12q1": [*range(1, 18), 255],
    "modis_mcd12c1": list(range(0, 17)),
    "dynamic_world": list(range(0, 9)),
}


@pytest.mark.parametrize("product", PRODUCTS)
def test_shipped_crosswalk_lists_every_domain_code(product):
    cw = read_crosswalk(product)
    assert sorted(cw.codes) == DOMAIN_CODES[product]
    assert cw.source == product
    assert Path(cw.path) == SHIPPED_DIR / f"{product}.csv"
    assert all(name for name in cw.names)


def test_nodata_codes_map_to_nodata():
    for product, code in [("copernicus_lc100", 0), ("esa_cci", 0), ("esa_worldcover", 0),
                          ("modis_mcd12q1", 255)]:
        cw = read_crosswalk(product)
        i = cw.codes.index(code)
        assert (cw.habitat_class[i], cw.outside_floodplain[i]) == ("nodata", "nodata")


# --- one hand-made 3x4 grid per product -------------------------------------------------

def test_esa_worldcover_grid():
    codes = np.array([[10, 20, 30, 40],
                      [50, 60, 70, 80],
                      [90, 95, 100, 0]], dtype=np.uint8)
    floodplain = np.array([[T, T, _, _],
                           [T, T, _, _],
                           [T, T, _, _]])
    expected = np.array([[F, S, G, C],
                         [B, A, N, W],
                         [R, O, O, X]])
    out = map_landcover(codes, read_crosswalk("esa_worldcover"), floodplain=floodplain)
    assert out.dtype == np.uint8
    assert_array_equal(out, expected)


def test_copernicus_lc100_grid():
    codes = np.array([[0, 20, 90, 114],
                      [124, 116, 126, 111],
                      [30, 40, 80, 200]], dtype=np.uint8)
    floodplain = np.array([[T, T, T, T],
                           [T, _, T, _],
                           [_, _, _, _]])
    expected = np.array([[X, S, R, F],
                         [F, O, F, O],
                         [G, C, W, W]])
    out = map_landcover(codes, read_crosswalk("copernicus_lc100"), floodplain=floodplain)
    assert_array_equal(out, expected)


def test_esa_cci_grid_with_floodplain():
    codes = np.array([[60, 61, 62, 100],
                      [120, 122, 160, 170],
                      [180, 20, 210, 0]], dtype=np.uint8)
    floodplain = np.array([[T, _, T, _],
                           [T, _, T, _],
                           [T, _, T, _]])
    expected = np.array([[F, O, F, O],
                         [S, O, F, O],
                         [R, C, W, X]])
    out = map_landcover(codes, read_crosswalk("esa_cci"), floodplain=floodplain)
    assert_array_equal(out, expected)


def test_esa_cci_grid_non_woody_classes():
    codes = np.array([[10, 11, 12, 30],
                      [40, 110, 130, 140],
                      [150, 190, 200, 220]], dtype=np.uint8)
    expected = np.array([[C, C, C, C],
                         [O, G, G, O],
                         [A, B, A, N]])
    # Non-floodplain classes are the same on both sides of the mask.
    for floodplain in (None, np.zeros((3, 4), bool)):
        out = map_landcover(codes, read_crosswalk("esa_cci"), floodplain=floodplain)
        assert_array_equal(out, expected)


def test_modis_mcd12q1_grid():
    codes = np.array([[4, 8, 6, 7],
                      [9, 11, 17, 9],
                      [12, 13, 16, 255]], dtype=np.uint8)
    floodplain = np.array([[T, T, _, _],
                           [T, _, T, _],
                           [T, T, T, T]])
    # Savanna (9) is open tugai inside the floodplain and grassland outside it.
    expected = np.array([[F, F, O, O],
                         [S, O, W, G],
                         [C, B, A, X]])
    out = map_landcover(codes, read_crosswalk("modis_mcd12q1"), floodplain=floodplain)
    assert_array_equal(out, expected)


def test_modis_mcd12c1_grid_water_is_zero():
    codes = np.array([[0, 4, 8, 11],
                      [10, 12, 13, 14],
                      [15, 16, 1, 0]], dtype=np.uint8)
    expected = np.array([[W, F, F, R],
                         [G, C, B, C],
                         [N, A, O, W]])
    out = map_landcover(codes, read_crosswalk("modis_mcd12c1"))
    assert_array_equal(out, expected)


def test_mcd12c1_and_mcd12q1_disagree_on_water():
    c1 = read_crosswalk("modis_mcd12c1")
    q1 = read_crosswalk("modis_mcd12q1")
    assert_array_equal(map_landcover(np.array([[17]]), q1), [[W]])
    with pytest.raises(CrosswalkError, match=r"code\(s\) 17 "):
        map_landcover(np.array([[17]]), c1)
    with pytest.raises(CrosswalkError, match=r"code\(s\) 0 "):
        map_landcover(np.array([[0]]), q1)


def test_dynamic_world_grid():
    codes = np.array([[0, 1, 2, 3],
                      [4, 5, 6, 7],
                      [8, 1, 5, 3]], dtype=np.uint8)
    floodplain = np.array([[T, T, T, T],
                           [T, T, T, T],
                           [_, _, _, _]])
    expected = np.array([[W, F, G, R],
                         [C, S, B, A],
                         [N, O, O, O]])
    out = map_landcover(codes, read_crosswalk("dynamic_world"), floodplain=floodplain)
    assert_array_equal(out, expected)


# --- floodplain rule ---------------------------------------------------------------------

WC_WOODY = np.array([[10, 20, 90, 80],
                     [10, 20, 90, 30],
                     [10, 20, 90, 60]], dtype=np.uint8)


def test_floodplain_none_means_everything_inside():
    cw = read_crosswalk("esa_worldcover")
    inside = np.array([[F, S, R, W],
                       [F, S, R, G],
                       [F, S, R, A]])
    assert_array_equal(map_landcover(WC_WOODY, cw), inside)
    assert_array_equal(map_landcover(WC_WOODY, cw, floodplain=np.ones((3, 4), bool)), inside)


def test_outside_floodplain_tugai_classes_become_other():
    cw = read_crosswalk("esa_worldcover")
    outside = np.array([[O, O, O, W],
                        [O, O, O, G],
                        [O, O, O, A]])
    assert_array_equal(map_landcover(WC_WOODY, cw, floodplain=np.zeros((3, 4), bool)), outside)


def test_floodplain_accepts_0_1_integers():
    cw = read_crosswalk("esa_worldcover")
    mask01 = np.array([[1, 0, 1, 0]] * 3, dtype=np.uint8)
    expected = np.array([[F, O, R, W],
                         [F, O, R, G],
                         [F, O, R, A]])
    assert_array_equal(map_landcover(WC_WOODY, cw, floodplain=mask01), expected)
    assert_array_equal(map_landcover(WC_WOODY, cw, floodplain=mask01.astype(bool)), expected)


def test_floodplain_mask_from_river_distance():
    distance_m = np.array([[0.0, 50.0, 100.0, 100.001],
                           [np.nan, np.inf, 200.0, 99.9]])
    expected = np.array([[T, T, T, _],
                         [_, _, _, T]])
    assert_array_equal(floodplain_mask(distance_m, buffer_m=100.0), expected)
    assert_array_equal(floodplain_mask(distance_m, buffer_m=0),
                       [[T, _, _, _], [_, _, _, _]])
    assert floodplain_mask(distance_m, buffer_m=100.0).dtype == bool


def test_floodplain_mask_then_mapping():
    # Trees along a river in column 0, cells 30 m wide: a 40 m buffer keeps two columns.
    distance_m = np.tile([0.0, 30.0, 60.0, 90.0], (3, 1))
    codes = np.array([[10, 10, 10, 10],
                      [20, 20, 20, 20],
                      [90, 90, 40, 80]], dtype=np.uint8)
    fp = floodplain_mask(distance_m, buffer_m=40.0)
    expected = np.array([[F, F, O, O],
                         [S, S, O, O],
                         [R, R, C, W]])
    assert_array_equal(map_landcover(codes, read_crosswalk("esa_worldcover"), floodplain=fp), expected)


@pytest.mark.parametrize("buffer_m", [-1.0, np.nan, np.inf, "100", True])
def test_floodplain_mask_rejects_bad_buffer(buffer_m):
    with pytest.raises(InvalidParameterError, match="buffer_m"):
        floodplain_mask(np.zeros((2, 2)), buffer_m=buffer_m)


def test_floodplain_mask_rejects_negative_distance():
    with pytest.raises(InvalidParameterError, match="river_distance_m"):
        floodplain_mask(np.array([[0.0, -5.0]]), buffer_m=10.0)


def test_floodplain_shape_mismatch():
    with pytest.raises(GridMismatchError, match=r"floodplain has shape \(3, 3\)"):
        map_landcover(WC_WOODY, read_crosswalk("esa_worldcover"), floodplain=np.ones((3, 3), bool))


def test_floodplain_non_binary_rejected():
    with pytest.raises(InvalidParameterError, match="floodplain"):
        map_landcover(WC_WOODY, read_crosswalk("esa_worldcover"), floodplain=np.full((3, 4), 2))


# --- unknown codes and nodata ------------------------------------------------------------

UNKNOWN_GRID = np.array([[10, 7, 30, 250],
                         [7, 80, 80, 80],
                         [0, 0, 250, 10]], dtype=np.uint8)


def test_unknown_codes_error_lists_codes_and_fix():
    cw = read_crosswalk("esa_worldcover")
    with pytest.raises(CrosswalkError) as info:
        map_landcover(UNKNOWN_GRID, cw)
    message = str(info.value)
    assert "code(s) 7, 250 " in message
    assert str(SHIPPED_DIR / "esa_worldcover.csv") in message
    assert "set stages.ingest.unknown_landcover_codes: nodata" in message
    assert "\n" not in message
    assert isinstance(info.value, HabitatError)


def test_unknown_codes_as_nodata():
    out = map_landcover(UNKNOWN_GRID, read_crosswalk("esa_worldcover"), unknown="nodata")
    expected = np.array([[F, X, G, X],
                         [X, W, W, W],
                         [X, X, X, F]])
    assert_array_equal(out, expected)


def test_unknown_code_list_is_truncated():
    codes = np.arange(200, 230, dtype=np.int32).reshape(3, 10)
    with pytest.raises(CrosswalkError, match=r"code\(s\) 200, 201, .*, 219 and 10 more occur"):
        map_landcover(codes, read_crosswalk("esa_worldcover"))


def test_unknown_choice_validated():
    with pytest.raises(InvalidParameterError, match="unknown="):
        map_landcover(WC_WOODY, read_crosswalk("esa_worldcover"), unknown="ignore")


def test_raster_nodata_value_is_not_an_unknown_code():
    codes = np.array([[10, 255, 80, 255],
                      [255, 20, 30, 40],
                      [50, 60, 255, 90]], dtype=np.uint8)
    expected = np.array([[F, X, W, X],
                         [X, S, G, C],
                         [B, A, X, R]])
    out = map_landcover(codes, read_crosswalk("esa_worldcover"), nodata=255)
    assert_array_equal(out, expected)
    with pytest.raises(CrosswalkError, match=r"code\(s\) 255 "):
        map_landcover(codes, read_crosswalk("esa_worldcover"))


def test_float_codes_with_nan():
    codes = np.array([[10.0, np.nan, 80.0, 20.0],
                      [np.nan, 30.0, 40.0, 50.0],
                      [60.0, 70.0, 90.0, -9999.0]])
    expected = np.array([[F, X, W, S],
                         [X, G, C, B],
                         [A, N, R, X]])
    out = map_landcover(codes, read_crosswalk("esa_worldcover"), nodata=-9999.0)
    assert_array_equal(out, expected)


def test_fractional_codes_rejected():
    codes = np.array([[10.0, 15.5], [20.0, 30.0]])
    with pytest.raises(InvalidParameterError, match="15.5.*nearest or mode"):
        map_landcover(codes, read_crosswalk("esa_worldcover"))


def test_huge_float_code_is_unknown_not_wrapped():
    codes = np.array([[10.0, 1e30]])
    assert_array_equal(
        map_landcover(codes, read_crosswalk("esa_worldcover"), unknown="nodata"), [[F, X]]
    )


def test_huge_float_code_does_not_become_code_zero():
    # MCD12C1 maps 0 to water: an out-of-range value must stay unknown, not turn into water.
    codes = np.array([[0.0, 1e30, -1e30, 16.0]])
    cw = read_crosswalk("modis_mcd12c1")
    assert_array_equal(map_landcover(codes, cw, unknown="nodata"), [[W, X, X, A]])
    with pytest.raises(CrosswalkError, match="missing from crosswalk"):
        map_landcover(codes, cw)


def test_wide_code_range_uses_search(tmp_path):
    # Codes spanning more than 2**20 values take the binary-search path.
    csv_path = tmp_path / "wide.csv"
    csv_path.write_text("code,habitat_class\n1,water\n5000000000,built\n-3000000,bare\n")
    cw = read_crosswalk(csv_path)
    codes = np.array([[1, 5_000_000_000, 7, -3_000_000],
                      [5_000_000_001, 1, 1, 1]], dtype=np.int64)
    expected = np.array([[W, B, X, A],
                         [X, W, W, W]])
    assert_array_equal(map_landcover(codes, cw, unknown="nodata"), expected)
    with pytest.raises(CrosswalkError, match=r"code\(s\) 7, 5000000001 occur"):
        map_landcover(codes, cw)


@pytest.mark.parametrize(
    "dtype",
    [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, np.uint64,
     np.float32, np.float64],
)
def test_all_dtypes_give_the_same_answer(dtype):
    # The small-integer table path and the search path must agree.
    codes = np.array([[0, 1, 2, 3],
                      [4, 5, 6, 7],
                      [8, 9, 127, 0]])
    expected = np.array([[W, F, G, R],
                         [C, S, B, A],
                         [N, X, X, W]])
    out = map_landcover(codes.astype(dtype), read_crosswalk("dynamic_world"), unknown="nodata")
    assert out.dtype == np.uint8
    assert_array_equal(out, expected)


def test_negative_codes_in_signed_rasters(tmp_path):
    csv_path = tmp_path / "signed.csv"
    csv_path.write_text("code,habitat_class\n-1,water\n-128,nodata\n5,bare\n300,built\n")
    cw = read_crosswalk(csv_path)
    codes = np.array([[-1, -128, 5, 300]])
    expected = [[W, X, A, B]]
    for dtype in (np.int16, np.int32, np.float64):
        assert_array_equal(map_landcover(codes.astype(dtype), cw), expected)
    # 300 does not fit int8: the table path must skip it, not wrap it onto 44.
    assert_array_equal(map_landcover(np.array([[-1, -128, 5, 44]], np.int8), cw, unknown="nodata"),
                       [[W, X, A, X]])


def test_inputs_not_modified():
    codes = UNKNOWN_GRID.copy()
    floodplain = np.ones((3, 4), bool)
    map_landcover(codes, read_crosswalk("esa_worldcover"), floodplain=floodplain, unknown="nodata")
    assert_array_equal(codes, UNKNOWN_GRID)
    assert floodplain.all()


def test_non_numeric_codes_rejected():
    with pytest.raises(InvalidParameterError, match="codes has dtype"):
        map_landcover(np.array([["10"]]), read_crosswalk("esa_worldcover"))


# --- user CSVs ---------------------------------------------------------------------------

def test_user_csv_minimal_columns_defaults_outside(tmp_path):
    csv_path = tmp_path / "my_lc.csv"
    csv_path.write_text(
        "\ufeffcode , habitat_class\n"  # BOM and stray spaces, as spreadsheets write them
        "1, tugai_forest\n"
        "\n"
        "2,tugai_shrub\n"
        "3,reed_wetland\n"
        "4,grassland\n"
    )
    cw = read_crosswalk(str(csv_path))
    assert cw.codes == (1, 2, 3, 4)
    assert cw.outside_floodplain == ("other", "other", "other", "grassland")
    codes = np.array([[1, 2, 3, 4]] * 3)
    floodplain = np.array([[T, T, T, T], [_, _, _, _], [T, _, T, _]])
    expected = np.array([[F, S, R, G],
                         [O, O, O, G],
                         [F, O, R, G]])
    assert_array_equal(map_landcover(codes, cw, floodplain=floodplain), expected)


def test_user_csv_outside_column_overrides(tmp_path):
    csv_path = tmp_path / "override.csv"
    csv_path.write_text(
        "code,name,habitat_class,outside_floodplain,note\n"
        '90,"Wetland, herbaceous",reed_wetland,reed_wetland,keep reeds everywhere\n'
        "20,Shrubland,tugai_shrub,bare,\n"
        "10,Tree,tugai_forest,,blank means the default\n"
    )
    cw = read_crosswalk(csv_path)
    assert cw.names[0] == "Wetland, herbaceous"
    out = map_landcover(np.array([[90, 20, 10]]), cw, floodplain=np.array([[_, _, _]]))
    assert_array_equal(out, [[R, A, O]])
    frame = cw.to_frame()
    assert list(frame.columns) == ["code", "name", "habitat_class", "outside_floodplain", "note"]
    assert frame["outside_floodplain"].tolist() == ["reed_wetland", "bare", "other"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("code,habitat_class\n1,water\n2,forest\n",
         r"line 3: habitat_class 'forest' is not a habitat class; use one of tugai_forest"),
        ("code,habitat_class\n1,water\n2,bare\n1,built\n", r"line 4: code 1 already given on line 2"),
        ("code,habitat_class\n1,water\n2.0,bare\n", r"line 3: code '2.0' is not an integer"),
        ("code,habitat_class\n1_0,water\n", r"line 2: code '1_0' is not an integer"),
        ("code,name\n1,water\n", r"line 1: missing column\(s\) habitat_class"),
        ("code,habitat_class,outside_floodplian\n1,water,water\n",
         r"line 1: unknown column\(s\) 'outside_floodplian'"),
        ("code,habitat_class,code\n1,water,1\n", r"line 1: column\(s\) code appear twice"),
        ("code,name,habitat_class\n1,Water, lakes,water\n", r"line 2: 4 fields but the header has 3"),
        ("code,habitat_class\n1,water\n2\n", r"line 3: 1 fields but the header has 2"),
        ("code,habitat_class,outside_floodplain\n0,nodata,other\n", r"line 2: .*disagree on nodata"),
        ("code,habitat_class,outside_floodplain\n10,tugai_forest,orchard\n",
         r"line 2: outside_floodplain 'orchard'"),
        ("code,habitat_class\n", r"has a header but no rows"),
        ("", r"is empty"),
    ],
)
def test_malformed_user_csv(tmp_path, text, match):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        read_crosswalk(csv_path)
    assert str(csv_path) in str(info.value)
    assert "\n" not in str(info.value)


def test_non_utf8_csv(tmp_path):
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes("code,name,habitat_class\n1,Tugaï,tugai_forest\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_crosswalk(csv_path)


def test_unknown_product_or_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="'worldcover' is neither a product name .*esa_worldcover"):
        read_crosswalk("worldcover")
    with pytest.raises(InputFileError, match="nope.csv"):
        read_crosswalk(tmp_path / "nope.csv")


def test_crosswalk_constructor_validates():
    with pytest.raises(ConfigError, match="code 5 appears twice"):
        Crosswalk(source="x", codes=(5, 5), habitat_class=("water", "bare"),
                  outside_floodplain=("water", "bare"))
    with pytest.raises(ConfigError, match="outside_floodplain has 1 entries for 2 codes"):
        Crosswalk(source="x", codes=(1, 2), habitat_class=("water", "bare"), outside_floodplain=("water",))
    with pytest.raises(ConfigError, match="'trees' is not a habitat class"):
        Crosswalk(source="x", codes=(1,), habitat_class=("trees",), outside_floodplain=("other",))
    cw = Crosswalk(source="x", codes=(1,), habitat_class=("water",), outside_floodplain=("water",))
    same = Crosswalk(source="x", codes=(1,), habitat_class=("water",), outside_floodplain=("water",))
    assert cw == same and hash(cw) == hash(same)
    with pytest.raises(CrosswalkError, match="crosswalk x;"):
        map_landcover(np.array([[2]]), cw)


def test_map_landcover_rejects_non_crosswalk():
    with pytest.raises(InvalidParameterError, match="read_crosswalk"):
        map_landcover(WC_WOODY, {10: "tugai_forest"})
