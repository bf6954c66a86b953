"""Circuitscape grid and table files: the text writers go through habitat.io.atomic."""

import gzip

import numpy as np

from habitat.io.circuitscape import run_job

from habitat.io.circuitscape.grids import (
    GridMeta,
    atomic_write_text,
    format_table,
    read_grid,
    write_ascii_grid,
)


def test_atomic_write_text_creates_folders_returns_the_path_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "job" / "out_resistances.out"
    assert atomic_write_text(target, "0 1 2\n") == target
    assert target.read_text() == "0 1 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["out_resistances.out"]


def test_format_table_writes_integers_plainly_and_others_to_10_digits():
    assert format_table([[1.0, 2.5], [3.0, 1 / 3]]) == "1 2.5\n3 0.3333333333\n"


def test_ascii_grid_round_trip_with_nodata(tmp_path):
    meta = GridMeta(ncols=3, nrows=2, xllcorner=10.0, yllcorner=20.0, cellsize=5.0, nodata=-9999.0)
    values = np.array([[1.0, 2.5, -9999.0], [0.125, 7.0, 8.0]])
    path = write_ascii_grid(tmp_path / "g.asc", values, meta)
    back, back_meta = read_grid(path)
    np.testing.assert_array_equal(back, values)
    assert back_meta == meta
    assert path.read_text().splitlines()[:2] == ["ncols         3", "nrows         2"]


def test_ascii_grid_keeps_10_significant_digits_of_small_values(tmp_path):
    # Circuitscape writes '%.10g': a current of 1.234567890123e-7 A keeps 10 digits (rounding
    # to 8 decimals would have written 1.2e-07, 2.8 % off)
    meta = GridMeta(ncols=2, nrows=1, xllcorner=0.0, yllcorner=0.0, cellsize=1.0, nodata=-9999.0)
    path = write_ascii_grid(tmp_path / "g.asc", np.array([[1.234567890123e-7, 0.5]]), meta)
    assert path.read_text().splitlines()[6] == "1.23456789e-07 0.5"


def test_compressed_grid_is_gzip_of_the_plain_grid_and_reproducible(tmp_path):
    meta = GridMeta(ncols=3, nrows=2, xllcorner=10.0, yllcorner=20.0, cellsize=5.0, nodata=-9999.0)
    values = np.array([[1.0, 2.5, -9999.0], [0.125, 7.0, 1 / 3]])
    plain = write_ascii_grid(tmp_path / "g.asc", values, meta)
    packed = write_ascii_grid(tmp_path / "g.asc", values, meta, compress=True)
    assert packed == tmp_path / "g.asc.gz"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    first = packed.read_bytes()
    write_ascii_grid(tmp_path / "g.asc", values, meta, compress=True)
    assert packed.read_bytes() == first  # no time stamp in the gzip header
    back, _ = read_grid(packed)
    np.testing.assert_allclose(back, values, rtol=2e-10)  # 10 significant digits


def _row_job(folder, point_name, point_bytes, extra=""):
    """1 x 3 cells of resistance 1, 4 neighbours: 1 S per edge, ends 2 ohm apart."""
    (folder / "hab.asc").write_text("ncols 3\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\n"
                                    "NODATA_value -9999\n1 1 1\n")
    (folder / point_name).write_bytes(point_bytes)
    ini = folder / "job.ini"
    ini.write_text(f"""[Circuitscape mode]
data_type = raster
scenario = pairwise
[Habitat raster or graph]
habitat_file = hab.asc
habitat_map_is_resistances = True
[Options for pairwise and one-to-all and all-to-one modes]
point_file = {point_name}
[Connection scheme for raster habitat data]
connect_four_neighbors_only = True
connect_using_avg_resistances = False
[Output options]
output_file = out/row.out
{extra}
""")
    return ini


def test_point_file_named_txt_gz_holding_an_ascii_grid_is_read_by_its_header(tmp_path):
    grid = b"ncols 3\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 -9999 2\n"
    ini = _row_job(tmp_path, "pts.txt.gz", gzip.compress(grid))
    run_job(ini, cwd=tmp_path)
    assert (tmp_path / "out" / "row_resistances.out").read_text() == "0 1 2\n1 0 2\n2 2 0\n"


def test_compress_grids_writes_gzipped_maps(tmp_path):
    points = b"ncols 3\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 -9999 2\n"
    ini = _row_job(tmp_path, "pts.asc", points,
                   "write_cur_maps = True\nwrite_volt_maps = True\ncompress_grids = True")
    written = {p.name for p in run_job(ini, cwd=tmp_path)}
    assert {"row_curmap_1_2.asc.gz", "row_voltmap_1_2.asc.gz", "row_cum_curmap.asc.gz"} <= written
    volts, _ = read_grid(tmp_path / "out" / "row_voltmap_1_2.asc.gz")
    np.testing.assert_allclose(volts, [[0.0, 1.0, 2.0]])  # 1 A through two 1-ohm edges
