"""Circuitscape grid and table files: the text writers go through habitat.io.atomic."""

import gzip

import numpy as np
import pytest

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


# -- the compiled ASCII reader gives np.loadtxt's values to the bit -------------------------------

def _loadtxt_grid(path):
    """The values as read_grid read them before the compiled parser: np.loadtxt of the lines
    after the 6 header lines (the grids' nodata is already -9999)."""
    lines = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    return np.loadtxt(lines.splitlines()[6:], dtype=np.float64, ndmin=2)


def _write_tokens(path, tokens, ncols, nodata="-9999"):
    rows = [" ".join(tokens[k:k + ncols]) for k in range(0, len(tokens), ncols)]
    path.write_text(f"ncols {ncols}\nnrows {len(rows)}\nxllcorner 0\nyllcorner 0\ncellsize 1\n"
                    f"NODATA_value {nodata}\n" + "\n".join(rows) + "\n")
    return path


def _same_bits(a, b):
    np.testing.assert_array_equal(np.asarray(a).view(np.uint64), np.asarray(b).view(np.uint64))


def test_ascii_reader_equals_loadtxt_bit_for_bit_on_every_token_form(tmp_path):
    from habitat.io.circuitscape.grids import _header_lines, _parse_values

    rng = np.random.default_rng(7)
    u = rng.uniform(-100, 100, 200)
    x = np.concatenate([u, 10.0 ** rng.uniform(-6, 6, 200), rng.integers(-10**6, 10**6, 50).astype(float)])
    # fast-path forms: at most 19 significant digits, value = digits * or / an exact power of ten
    tokens = ([f"{v:.6g}" for v in x] + [f"{v:.10g}" for v in x] + [f"{v:.15g}" for v in x]
              + [f"{v:e}" for v in x] + [f"{v:.3E}" for v in x] + [f"{v:.8f}" for v in u]
              + ["0", "-0", "0.000", "+5", ".5", "5.", "-.25", "1e5", "1E+3", "2.5e-3", "007",
                 "-9999", "-9999.0", "9007199254740992", "0.1", "0.3", "1e22", "1e-22", "4.35",
                 "99.9999999999999", "1234567.891", "-0.0e0", "3e0", "0.000000000000000000001e21"])
    ncols = 24
    tokens += ["1"] * (-len(tokens) % ncols)
    path = _write_tokens(tmp_path / "g.asc", tokens, ncols)
    data = path.read_bytes()
    _, offset = _header_lines(data)
    assert _parse_values(data, offset, len(tokens) // ncols, ncols) is not None  # the compiled path
    values, meta = read_grid(path)
    assert values.shape == (len(tokens) // ncols, ncols) and meta.nodata == -9999.0
    _same_bits(values, _loadtxt_grid(path))


def test_ascii_reader_falls_back_to_loadtxt_for_tokens_off_the_fast_path(tmp_path):
    # 20+ significant digits, exponents beyond 1e22, nan / inf, CRLF line ends, blank lines
    odd = ["1.00000000000000000001", "123456789012345678901", "1e300", "2.5e-300", "nan", "inf",
           "-inf", "1e23", "9007199254740993", "0.1", "123456789012345678", "1.2345678901234567e-5"]
    for k, token in enumerate(odd):
        path = _write_tokens(tmp_path / f"g{k}.asc", ["1.5", token, "-9999", "2"], 2)
        _same_bits(read_grid(path)[0], _loadtxt_grid(path))
    crlf = tmp_path / "crlf.asc"
    crlf.write_bytes(b"ncols 2\r\nnrows 2\r\nxllcorner 0\r\nyllcorner 0\r\ncellsize 1\r\n"
                     b"NODATA_value -9999\r\n1.5 2\r\n\r\n-9999 4e1\r\n")
    np.testing.assert_array_equal(read_grid(crlf)[0], [[1.5, 2.0], [-9999.0, 40.0]])


def test_ascii_reader_errors_as_before(tmp_path):
    import pytest

    from habitat.errors import InputFileError

    short = _write_tokens(tmp_path / "short.asc", ["1", "2", "3"], 3)
    short.write_text(short.read_text().replace("nrows 1", "nrows 2"))
    with pytest.raises(InputFileError, match="header says 2 x 3 cells but holds"):
        read_grid(short)
    for k, token in enumerate(["x2", "1.2.3", "1..2", ".", "-", "1e", "e5", "1e+", "--1", "1-2"]):
        bad = _write_tokens(tmp_path / f"bad{k}.asc", ["1", token, "3"], 3)
        with pytest.raises(InputFileError, match="not a valid ASCII grid"):
            read_grid(bad)
    ragged = tmp_path / "ragged.asc"
    ragged.write_text("ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2\n3\n")
    with pytest.raises(InputFileError, match="not a valid ASCII grid"):
        read_grid(ragged)
    # a header typo asking for far more cells than the file holds: the shape error, not an
    # allocation of 75 GiB
    huge = _write_tokens(tmp_path / "huge.asc", ["1", "2", "3", "4"], 2)
    huge.write_text(huge.read_text().replace("ncols 2", "ncols 100000").replace("nrows 2", "nrows 100000"))
    with pytest.raises(InputFileError, match="header says 100000 x 100000 cells but holds"):
        read_grid(huge)
    # a lone carriage return splits a line for np.loadtxt (splitlines), so this row is ragged
    lone_cr = tmp_path / "lone_cr.asc"
    lone_cr.write_bytes(b"ncols 4\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3 4\n5 6\r7 8\n")
    with pytest.raises(InputFileError, match="not a valid ASCII grid"):
        read_grid(lone_cr)


def test_ascii_reader_equals_loadtxt_on_the_conformance_grids(monkeypatch):
    from pathlib import Path

    import pytest

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from conftest import REFERENCE_MISSING, reference_dir

    root = reference_dir()
    if root is None:
        pytest.skip(REFERENCE_MISSING)
    paths = sorted(p for p in root.rglob("*.asc") if p.stat().st_size < 2_000_000)
    assert paths
    checked = 0
    for path in paths:
        text = path.read_text(errors="replace").splitlines()
        k = 0
        while k < len(text) and text[k].strip() and text[k].split()[0][0].isalpha():
            k += 1
        try:
            want = np.loadtxt(text[k:], dtype=np.float64, ndmin=2)
        except ValueError:
            continue
        values, meta = read_grid(path)
        if meta.nodata is not None:
            want[want == meta.nodata] = -9999.0
        _same_bits(values, want)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(("text", "message"), [
    ("", "holds no data lines; give one line per entry (value x y)"),
    ("# only a comment\n", "holds no data lines; give one line per entry (value x y)"),
    ("1 2\n3 4\n", "has 2 columns but needs 3 (value x y); fix the file"),
])
def test_read_table_refuses_empty_or_narrow_tables_naming_the_file(tmp_path, text, message):
    from habitat.errors import InputFileError
    from habitat.io.circuitscape.grids import read_table

    path = tmp_path / "t.txt"
    path.write_text(text)
    with pytest.raises(InputFileError) as exc:
        read_table(path, min_columns=3, columns="value x y")
    assert str(exc.value) == f"{path}: {message}"
    path.write_text("1 2 3\n4 5 6\n")
    np.testing.assert_array_equal(read_table(path, min_columns=3), [[1, 2, 3], [4, 5, 6]])
