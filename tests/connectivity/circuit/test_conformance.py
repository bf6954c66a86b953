"""Circuitscape 5 conformance suite: every raster and network job, Circuitscape's criteria."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from habitat.io.circuitscape import run_job

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from conftest import REFERENCE_MISSING, reference_dir  # noqa: E402

SUITE = reference_dir("circuitscape") or Path("/nonexistent/shared/reference/circuitscape")
EXPECTED = SUITE / "output_verify"
# Circuitscape 4 and 5 differ on include-pair semantics with variable sources (suite README).
VERSION_DEPENDENT = {"oneToAllVerify12", "oneToAllVerify13", "allToOneVerify12"}
# Expected files that contradict the same case's resistance matrix (left from another run).
STALE = {"sgVerify13_resistances_3columns.out":
         "disagrees with sgVerify13_resistances.out of the same suite (another include matrix)"}
INIS = sorted(p for p in (SUITE / "input").rglob("*.ini")
              if p.stem.lower().endswith(tuple("0123456789"))) if SUITE.is_dir() else []


def _case_params():
    for ini in INIS:
        marks = []
        if ini.stem in VERSION_DEPENDENT:
            marks.append(pytest.mark.xfail(
                reason="include pairs with variable sources: Circuitscape 5 semantics differ "
                       "from Circuitscape 4 (suite README)", strict=False))
        yield pytest.param(ini, id=str(ini.relative_to(SUITE / "input")), marks=marks)


def _numbers(path, skip):
    rows = [line.split() for line in path.read_text().splitlines()[skip:] if line.strip()]
    return np.array([[float(v) for v in r] for r in rows], dtype=float)


def _compare(ours, expected):
    name = expected.name
    if name.endswith(".asc"):
        a, b = _numbers(ours, 6), _numbers(expected, 6)
        assert a.shape == b.shape, name
        assert np.sum((a - b) ** 2) < 1e-6, name
    elif "resistances" in name:
        a, b = _numbers(ours, 0), _numbers(expected, 0)
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, atol=1e-3, rtol=0, err_msg=name)
    else:  # network tables keyed by node ids
        a, b = _numbers(ours, 0), _numbers(expected, 0)
        keys = a.shape[1] - 1
        da = {tuple(r[:keys]): r[keys] for r in a}
        db = {tuple(r[:keys]): r[keys] for r in b}
        # a missing row is a zero current (Circuitscape drops negligible branches)
        keys_all = sorted(set(da) | set(db))
        va = np.array([da.get(k, 0.0) for k in keys_all])
        vb = np.array([db.get(k, 0.0) for k in keys_all])
        assert np.sum((va - vb) ** 2) < 1e-6, name


@pytest.mark.skipif(not SUITE.is_dir(), reason=REFERENCE_MISSING)
@pytest.mark.parametrize("ini", list(_case_params()))
def test_circuitscape_case(ini, tmp_path, direct_backend):
    written = run_job(ini, cwd=SUITE, output_dir=tmp_path)
    assert all(Path(p).parent == tmp_path for p in written)
    stem = Path(ini).stem
    expected = sorted(p for p in EXPECTED.iterdir()
                      if p.name.startswith(stem + "_") and not p.name.endswith(".ini"))
    assert expected, f"no expected outputs for {stem}"
    produced = {Path(p).name for p in written}
    checked = 0
    for exp in expected:
        if exp.name in STALE:
            continue
        if exp.name + ".gz" in produced:
            # compress_grids = True: gzipped as Circuitscape 4 writes it (Circuitscape 5's
            # expected files are plain)
            plain = tmp_path / ("plain_" + exp.name)
            plain.write_bytes(gzip.decompress((tmp_path / (exp.name + ".gz")).read_bytes()))
            _compare(plain, exp)
            checked += 1
            continue
        if exp.name not in produced:
            continue
        _compare(tmp_path / exp.name, exp)
        checked += 1
    # As in Circuitscape.jl's own test: every file we write is checked against the expected
    # file of that name; some expected files are leftovers of other versions' option sets.
    assert f"{stem}_resistances.out" in produced or not (EXPECTED / f"{stem}_resistances.out").exists()
    assert checked
