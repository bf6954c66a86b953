"""Omniscape.jl 0.6 conformance suite: every case by Omniscape's own criterion (arrays_equal)."""

from __future__ import annotations

import functools

import os
from pathlib import Path

import numpy as np
import pytest

from habitat.cli import main
from habitat.io.circuitscape.grids import read_grid
from habitat.io.omniscape_job import OmniscapeJobError, compute, load_job, run_job, write_outputs

SUITE = Path(os.environ.get("HABITAT_REFERENCE") or Path(__file__).resolve().parents[3] / ".." / "shared" / "reference") / "omniscape"
EXPECTED = SUITE / "output_verify"
pytestmark = pytest.mark.skipif(
    not SUITE.is_dir(), reason=f"Omniscape conformance suite not found at {SUITE}")

# INI -> (expected folder, outputs compared); from the suite's runtests.jl and README
CASES = {
    "config.ini": ("test1", ["cum_currmap.tif", "flow_potential.tif",
                             "normalized_cum_currmap.tif"]),
    "config_32bit.ini": ("test1_32bit", ["cum_currmap.tif", "flow_potential.tif",
                                         "normalized_cum_currmap.tif"]),
    "config2.ini": ("test2", ["cum_currmap.asc"]),
    "config3.ini": ("test3", ["cum_currmap.asc", "flow_potential.asc"]),
    "config4a.ini": ("test4a", ["cum_currmap.tif", "flow_potential.tif",
                                "normalized_cum_currmap.tif"]),
    "config5.ini": ("test5", ["cum_currmap.tif"]),
    "config6.ini": ("test6", ["cum_currmap.tif"]),
    "config_reclass.ini": ("test_reclass", ["cum_currmap.asc", "classified_resistance.asc"]),
}
REFUSED = ["bad_compare_to_future.ini", "bad_comparison1.ini", "bad_comparison2.ini",
           "bad_config.ini", "bad_n_conditions.ini", "config7.ini", "no_source_provided.ini"]


def arrays_equal(a, b):
    """Omniscape's ``arrays_equal``: nodata as -9999 in both, then isapprox(rtol = 1e-6)."""
    a = np.where(a == -9999, -9999.0, a).astype(np.float64)
    b = np.where(b == -9999, -9999.0, b).astype(np.float64)
    if not np.array_equal(a == -9999, b == -9999):
        return False
    return np.linalg.norm(a - b) <= 1e-6 * max(np.linalg.norm(a), np.linalg.norm(b))


# test4a's expected flow potential holds solver round-off of the Omniscape.jl run that made it
# (0.6.x, default solver cg+amg; read: solve_target!, get_source, calc_correction and
# Circuitscape.jl's compute_omniscape_current, 5.11.2 to today). With 4 neighbours the tips
# (0, +R) and (+R, 0) of the window circle touch one cell and hold no source, so in exact
# arithmetic no current passes them: calc_correction's 0/0 there becomes 1, as ours does. The
# AMG-preconditioned CG leaves ~5e-8 A there (above Circuitscape's 1e-8 relative cut only at the
# right and bottom tips; pyamg's smoothed-aggregation CG at rtol 1e-6 on the same graph, nodes in
# Circuitscape's order, leaves 4.8e-8 and 3.8e-8 at those two tips and 0 at the others), so the
# factor there is 2.5e-3 / 5e-8: the expected map equals ours everywhere (to 2.3e-6) except at
# each window's right tip, ours + 46,940.8 x its flow potential there, and bottom tip,
# ours + 86,168 x (80 + 79 cells, 13-1,176 A; ratios constant to 6e-6). The expected cum_currmap
# carries the same factors times the round-off current at the tips (1e-8-4.5e-3 A), inside
# Omniscape's criterion only because the two -9999 cells dominate the norm (tolerance 0.014).
# Matching would mean reproducing Julia's AMG round-off to six digits.
KNOWN = {("config4a.ini", "flow_potential.tif"): "expected map holds cg+amg round-off x 5e4 at the window tips",
         ("config4a.ini", "normalized_cum_currmap.tif"): "divides by test4a's flow potential"}


def _params():
    for ini in sorted(CASES):
        folder, names = CASES[ini]
        for name in names:
            marks = [pytest.mark.xfail(reason=KNOWN[ini, name], strict=True)] \
                if (ini, name) in KNOWN else []
            yield pytest.param(ini, name, id=f"{ini}:{name}", marks=marks)


@functools.lru_cache(maxsize=None)
def _run(ini, out_dir):
    job = load_job(SUITE / "input" / ini, cwd=SUITE)
    result = compute(job)
    written = {p.name: p for p in write_outputs(job, result, output_dir=out_dir)}
    return result, written


@pytest.mark.parametrize(("ini", "name"), list(_params()))
def test_case(ini, name, tmp_path_factory):
    """The maps run_omniscape returns (runtests.jl compares those), and the files written."""
    folder, _ = CASES[ini]
    result, written = _run(ini, tmp_path_factory.getbasetemp() / ini.replace(".ini", ""))
    expected, _ = read_grid(EXPECTED / folder / name)
    arr = getattr(result, name.split(".")[0])
    ours = np.where(np.isnan(arr), -9999.0, arr)
    assert ours.shape == expected.shape
    assert arrays_equal(ours, expected), f"{ini}: {name} differs from Omniscape's"
    if name in written:
        on_disk, _ = read_grid(written[name])
        assert arrays_equal(on_disk, expected), f"{ini}: written {name} differs"
        if name.endswith(".tif"):  # stored as Omniscape stores it: float32 in single precision
            import rasterio

            with rasterio.open(written[name]) as ours_ds, rasterio.open(EXPECTED / folder / name) as want_ds:
                assert ours_ds.dtypes == want_ds.dtypes, f"{ini}: {name} dtype"


def test_outputs_only_as_asked(tmp_path):
    """config4b/4c: Omniscape writes what the flags ask (no expected maps in the suite)."""
    w4b = run_job(SUITE / "input" / "config4b.ini", output_dir=tmp_path / "b", cwd=SUITE)
    w4c = run_job(SUITE / "input" / "config4c.ini", output_dir=tmp_path / "c", cwd=SUITE)
    assert sorted(p.name for p in w4b) == ["config.ini", "cum_currmap.tif",
                                           "normalized_cum_currmap.tif"]
    assert sorted(p.name for p in w4c) == ["config.ini", "cum_currmap.tif"]


@pytest.mark.parametrize("ini", ["config2.ini", "config.ini"])
def test_repeated_runs_identical(ini, tmp_path):
    """A job run twice (runtests.jl runs config2 twice), on 1 and 2 threads: identical bytes."""
    a = run_job(SUITE / "input" / ini, output_dir=tmp_path / "a", cwd=SUITE, workers=1)
    b = run_job(SUITE / "input" / ini, output_dir=tmp_path / "b", cwd=SUITE, workers=2)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()


def test_single_and_double_agree():
    """runtests.jl: config.ini and config_32bit.ini give the same maps (arrays_equal)."""
    d = compute(load_job(SUITE / "input" / "config.ini", cwd=SUITE))
    s = compute(load_job(SUITE / "input" / "config_32bit.ini", cwd=SUITE))
    assert s.cum_currmap.dtype == np.float32 and d.cum_currmap.dtype == np.float64
    for name in ("cum_currmap", "flow_potential", "normalized_cum_currmap"):
        a, b = getattr(d, name), getattr(s, name)
        assert arrays_equal(np.where(np.isnan(a), -9999, a), np.where(np.isnan(b), -9999, b))


@pytest.mark.parametrize("ini", REFUSED)
def test_refused(ini, tmp_path):
    with pytest.raises(OmniscapeJobError):
        run_job(SUITE / "input" / ini, output_dir=tmp_path / "out", cwd=SUITE)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ini", REFUSED)
def test_cli_refuses_with_one_line(ini, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(SUITE)
    monkeypatch.setattr("sys.argv", ["habitat", "omniscape", str(SUITE / "input" / ini),
                                     "--output-dir", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    # warnings (e.g. an unsupported solver name) may precede it: one error line, no traceback
    assert [line for line in err if line.startswith("error:")] == [err[-1]]
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "out").exists()


def test_cli_runs_job(tmp_path, monkeypatch):
    monkeypatch.chdir(SUITE)
    monkeypatch.setattr("sys.argv", ["habitat", "omniscape", str(SUITE / "input" / "config2.ini"),
                                     "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    ours, _ = read_grid(tmp_path / "cum_currmap.asc")
    expected, _ = read_grid(EXPECTED / "test2" / "cum_currmap.asc")
    assert arrays_equal(ours, expected)


def test_test4a_flow_potential_differs_only_at_the_window_tips(tmp_path_factory):
    """The xfails above, narrowed: outside the right and bottom tips of the 4-neighbour windows
    (see the comment on KNOWN) our flow potential and normalized current agree with the suite's,
    and at the tips the expected flow potential is larger (the round-off correction)."""
    from habitat.connectivity.omniscape.window import targets

    job = load_job(SUITE / "input" / "config4a.ini", cwd=SUITE)
    result, _ = _run("config4a.ini", tmp_path_factory.getbasetemp() / "config4a")
    expected, _ = read_grid(EXPECTED / "test4a" / "flow_potential.tif")
    ours = np.where(np.isnan(result.flow_potential), -9999.0, result.flow_potential)
    src = np.where(job.kwargs["sources"] >= job.kwargs["source_threshold"],
                   np.nan_to_num(job.kwargs["sources"]), 0.0)
    ty, tx, _ = targets(src, int(job.kwargs["block_size"]))
    big_r = int(job.kwargs["radius"]) + int(job.kwargs["buffer"])
    tips = np.zeros(ours.shape, dtype=bool)
    for dy, dx in ((0, big_r), (big_r, 0)):
        ok = (ty + dy < ours.shape[0]) & (tx + dx < ours.shape[1])
        tips[ty[ok] + dy, tx[ok] + dx] = True
    assert arrays_equal(np.where(tips, 0.0, ours), np.where(tips, 0.0, expected))
    assert np.abs(ours - expected)[~tips].max() < 1e-5  # the run's cg+amg noise elsewhere
    assert np.all(expected[tips] >= ours[tips] - 1e-9) and np.any(expected[tips] > 10 * ours[tips])
    norm_expected, _ = read_grid(EXPECTED / "test4a" / "normalized_cum_currmap.tif")
    norm = np.where(np.isnan(result.normalized_cum_currmap), -9999.0, result.normalized_cum_currmap)
    assert np.abs(norm - norm_expected)[~tips].max() < 1e-5
