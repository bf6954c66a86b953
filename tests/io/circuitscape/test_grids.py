"""Circuitscape grid and table files: the text writers go through habitat.io.atomic."""

import numpy as np

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
