"""Write the demo scenarios' polygons into data/demo/ (deterministic, fictional).

- ``scenario_reservoir.gpkg``: a reservoir on the main river, 3 km of valley between u = 46 and
  49 km flooded 3.5 km either side of the centreline (both floodplain belts and the channel);
  used as a land-cover edit to ``water``.
- ``scenario_water_release.gpkg``: the reach between u = 36.5 and 44.5 km where fields took the
  tugai by 2020 (scripts/make_demo_data.py: cropland expansion on both banks near Ferrokent);
  a restoration edit turns its cleared floodplain cells back to tugai.

The geometry comes from the demo generator's river centreline, so it follows the valley at every
``--scale``; the GeoPackage timestamp is pinned as in make_demo_data.py, so two runs write
identical bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_demo_data import CRS_UTM, _centreline, _utm  # noqa: E402

#: file stem -> (layer, name, u_from, u_to, half-width in m)
SCENARIO_POLYGONS = {
    "scenario_reservoir": ("reservoir", "Demo Darya reservoir (fictional)", 46000.0, 49000.0, 3500.0),
    "scenario_water_release": ("release", "Ferrokent reach water release (fictional)", 36500.0, 44500.0, 3200.0),
}


def build_scenarios() -> dict[str, tuple[str, gpd.GeoDataFrame]]:
    """The scenario polygons by file stem, in EPSG:32642."""
    out = {}
    for stem, (layer, name, u0, u1, half) in SCENARIO_POLYGONS.items():
        polygon = shapely.simplify(_centreline(u0, u1).buffer(half, cap_style="flat"), 50.0)
        out[stem] = (layer, gpd.GeoDataFrame({"name": [name]}, geometry=_utm([polygon]), crs=CRS_UTM))
    return out


def write_scenarios(out_dir: Path) -> list[Path]:
    """Write the scenario GeoPackages (replacing earlier versions); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    paths = []
    try:
        for stem, (layer, gdf) in build_scenarios().items():
            path = out_dir / f"{stem}.gpkg"
            path.unlink(missing_ok=True)
            gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
            paths.append(path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "demo")
    args = parser.parse_args(argv)
    for path in write_scenarios(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
