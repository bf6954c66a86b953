import subprocess
import sys

import numpy as np
import math

import pytest

import habitat.memory as memory
from habitat.errors import HabitatError, InvalidParameterError, ResourceError
from habitat.memory import MemoryNeedError, available_bytes, check_memory, estimate_bytes


def test_available_bytes_reads_memavailable(tmp_path, monkeypatch):
    assert available_bytes() > 0
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:       25165824 kB\nMemAvailable:    1048576 kB\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(fake if p == "/proc/meminfo" else p, *a, **k))
    assert available_bytes() == 2**30


def test_estimates_scale_with_the_grid_and_blocks():
    # cost distance: 42 bytes/cell for the search, 8 per kept surface, 64 for the stage's fine arrays
    assert estimate_bytes("cost_distance", (1000, 1000)) == 106_000_000
    assert estimate_bytes("cost_distance", (1000, 1000), n_surfaces=2) == 122_000_000
    # block-wise work: four times the grid adds only the per-cell part (ENN edge cells)
    small = estimate_bytes("fragmentation_blockwise", (10_000, 10_000), block_cells=2**20)
    big = estimate_bytes("fragmentation_blockwise", (20_000, 20_000), block_cells=2**20)
    assert big - small == 35 * 3 * 10**8
    assert estimate_bytes("mosaic", (10_000, 10_000), block_cells=2**20) == estimate_bytes("mosaic", (40_000, 40_000), block_cells=2**20)
    # circuit with the AMG-CG solver: 8 nnz + 850 n + 16 n n_rhs, nnz = 9 n; 76 for the stage
    assert estimate_bytes("circuit", (100, 100), solver="amg") == (8 * 9 + 850 + 16 + 76) * 10**4 + 2**25
    with pytest.raises(InvalidParameterError, match="unknown"):
        estimate_bytes("nope", (1, 1))


def test_check_refuses_before_allocating_naming_need_available_and_setting(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * 2**30)
    # 36000 x 36000 cost distance: (42 + 64) * 1.296e9 bytes = 127.9 GiB; the fine-grid part alone
    # (64 bytes/cell) cannot fit, so the analysis grid must coarsen
    with pytest.raises(MemoryNeedError) as err:
        check_memory("cost_distance", (36_000, 36_000), what="stage connectivity")
    msg = str(err.value)
    assert "stage connectivity" in msg and "127.9 GiB" in msg and "4.0 GiB are available" in msg
    assert "grid.resolution_m" in msg
    assert err.value.needed_bytes == 106 * 36_000**2 and err.value.available_bytes == 4 * 2**30
    assert isinstance(err.value, ResourceError) and isinstance(err.value, HabitatError)
    with pytest.raises(MemoryNeedError, match=r"grid\.resolution_m about"):
        check_memory("fragmentation", (36_000, 36_000))
    # fits: returns the estimate
    assert check_memory("cost_distance", (1000, 1000)) == 106_000_000


def _cli_check(tmp_path, available, call):
    """Run the CLI in a child whose command is ``call`` (a check_memory call on ``m``) with
    ``available`` bytes free; return the finished process."""
    code = (
        "import habitat.memory as m, habitat.cli as cli\n"
        f"m.available_bytes = lambda: {available}\n"
        "def boom(*a, **k):\n"
        f"    {call}\n"
        "cli.app = boom\n"
        "cli.main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__('os').environ})


def test_cli_exit_code_2_for_a_memory_refusal(tmp_path):
    r = _cli_check(tmp_path, 2**30, "m.check_memory('circuit', (40000, 40000))")
    assert r.returncode == 2, r.stderr
    assert "grid.resolution_m" in r.stderr and "Traceback" not in r.stderr


def test_connectivity_grid_factor_counts_coarse_cells_plus_the_fine_side():
    # factor > 1: the coarse model plus the stage's strips and chunks (BLOCKWISE_FINE_SIDE: bytes
    # per analysis cell and fixed bytes); factor 1: FINE_SIDE_BYTES per analysis cell
    per_cell, fixed = memory.BLOCKWISE_FINE_SIDE["cost_distance"]
    # 1001 x 1000 cells at factor 2: 501 x 500 coarse cells (the last block row is partial)
    assert estimate_bytes("cost_distance", (1001, 1000), factor=2, n_surfaces=1) == \
        math.ceil((42 + 8) * 501 * 500 + per_cell * 1001 * 1000 + fixed)
    per_cell, fixed = memory.BLOCKWISE_FINE_SIDE["circuit"]
    fine_circuit = memory.FINE_SIDE_BYTES["circuit"]
    assert estimate_bytes("circuit", (200, 200), factor=2, available=2**34) == pytest.approx(
        estimate_bytes("circuit", (100, 100), available=2**34) - fine_circuit * 100 * 100
        + per_cell * 200 * 200 + fixed, abs=2)
    assert estimate_bytes("cost_distance", (10, 10), factor=1) == estimate_bytes("cost_distance", (10, 10))
    assert estimate_bytes("cost_distance", (10, 10)) == (42 + memory.FINE_SIDE_BYTES["cost_distance"]) * 100
    with pytest.raises(InvalidParameterError, match="analysis grid only"):
        estimate_bytes("patches", (10, 10), factor=2)


def test_refusal_suggests_the_smallest_connectivity_resolution_that_fits(monkeypatch):
    # 12000^2 cells, 4 populations: (64 + 74) x 1.44e8 = 19.9 GB at f = 1; block-wise at f = 2:
    # 74 x 1.44e8 / 4 + 2 x 1.44e8 + 304 MiB = 3.3 GB, against 0.8 x 13 GiB = 11.17 GB: 2 x 30 m
    monkeypatch.setattr(memory, "available_bytes", lambda: 13 * 2**30)
    limit = 0.8 * 13 * 2**30
    shape, cells = (12_000, 12_000), 12_000**2
    need = {f: estimate_bytes("cost_distance", shape, factor=f, n_surfaces=4) for f in range(1, 8)}
    fits = min(f for f in need if need[f] <= limit)
    assert fits == 2 and need[fits - 1] > limit
    with pytest.raises(MemoryNeedError) as err:
        check_memory("cost_distance", shape, n_surfaces=4, cell_size_m=30.0)
    assert err.value.setting == "grid.connectivity_resolution_m"
    assert err.value.needed_bytes == (74 + memory.FINE_SIDE_BYTES["cost_distance"]) * cells
    assert f"set grid.connectivity_resolution_m: {30 * fits:g} ({fits}x the 30 m analysis cells)" in str(err.value)
    # already coarser but still too big: the next factor that fits
    with pytest.raises(MemoryNeedError, match=f"connectivity_resolution_m: {30 * fits:g} "):
        check_memory("cost_distance", shape, n_surfaces=4, cell_size_m=30.0, factor=fits - 1)
    # when even the fine-grid part cannot fit, only a coarser analysis grid helps
    with pytest.raises(MemoryNeedError, match=r"raise grid\.resolution_m about"):
        check_memory("cost_distance", (40_000, 40_000), n_surfaces=4, cell_size_m=30.0)


def test_circuit_estimate_follows_the_solver_path_auto_takes(monkeypatch):
    from habitat.connectivity.circuit import solvers

    monkeypatch.setattr(solvers, "USE_CHOLMOD", True)
    if solvers.cholmod_module() is None:
        pytest.skip("scikit-sparse (CHOLMOD) is not installed")
    n, fine = 1000 * 1000, 76 * 1000 * 1000
    # CHOLMOD, 6 focal points (n_rhs 5): 12 x 3.5 n log2 n + 24 x 9 n + 16 n (5 + 1) + 200 n
    direct = 42 * n * np.log2(n) + (216 + 96 + 200) * n + 2**25  # + 32 MiB for every method
    amg = (72 + 850 + 16 * 5) * n + 2**25
    # 24 GiB: the factor fits in 60 % of them (1.25 GB), so auto factors; the check plans for
    # the larger of the factor and AMG-CG, whichever the solver takes when it starts
    assert estimate_bytes("circuit", (1000, 1000), n_rhs=5, available=24 * 2**30) == int(int(direct) + fine)
    assert direct > amg
    # 2 GiB: 60 % of them (1.29 GB) is not enough for the factor, auto takes AMG-CG
    assert estimate_bytes("circuit", (1000, 1000), n_rhs=5, available=2 * 2**30) == int(amg + fine)
    # above DIRECT_MAX_NODES (5 M) auto always takes AMG-CG
    big = 3000 * 3000
    assert estimate_bytes("circuit", (3000, 3000), n_rhs=5, available=2**40) == (72 + 850 + 80 + 76) * big + 2**25
    # the measured peak growth of each path (bench/README.md, "Circuit solver memory") is below
    # the estimate auto plans for it: CHOLMOD with current on 500^2/1000^2/2000^2 (237,529 /
    # 949,914 / 3,799,257 nodes; the grid multigrid that replaces it for few points, less) and
    # AMG-CG with current
    for nodes, cholmod_kib, gridamg_kib, amg_kib in [(237_529, 263_384, 59_908, 185_768),
                                                     (949_914, 1_134_860, 263_652, 811_908),
                                                     (3_799_257, 4_811_124, 1_034_816, 3_392_972)]:
        plan = solvers.planned_memory_bytes(nodes, 9 * nodes, n_rhs=5, memory_limit_bytes=2**40)
        assert plan >= 1024 * max(cholmod_kib, gridamg_kib)
        assert solvers.estimate_memory_bytes(nodes, 9 * nodes, method="amg", n_rhs=5) >= 1024 * amg_kib
    # without scikit-sparse the factor is SuperLU's: measured 379,168 and 1,729,508 KiB
    monkeypatch.setattr(solvers, "USE_CHOLMOD", False)
    for nodes, superlu_kib in [(237_529, 379_168), (949_914, 1_729_508)]:
        assert solvers.planned_memory_bytes(nodes, 9 * nodes, n_rhs=5, memory_limit_bytes=2**40) >= 1024 * superlu_kib


def test_circuit_estimate_covers_a_measured_solve(tmp_path):
    # peak RSS growth of the circuit stage's solve (CHOLMOD or SuperLU, with current) on a
    # 300 x 300 grid, in a child process (VmHWM reset through /proc/self/clear_refs)
    code = (
        "import numpy as np\n"
        "from habitat.connectivity.circuit.pairwise import effective_resistance_matrix\n"
        "from habitat.connectivity.circuit.solvers import planned_memory_bytes\n"
        "rng = np.random.default_rng(0); res = rng.uniform(1, 100, (300, 300))\n"
        "cells = [(30, 30), (270, 255), (150, 60), (60, 240)]\n"
        "effective_resistance_matrix(res[:120, :120], [(5, 5), (110, 110)], with_current=True)\n"
        "def st(k):\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(k)) * 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = st('VmRSS:')\n"
        "effective_resistance_matrix(res, cells, with_current=True)\n"
        "print(st('VmHWM:') - before, planned_memory_bytes(res.size, 9 * res.size, n_rhs=3, memory_limit_bytes=2**34))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__('os').environ})
    if r.returncode and "clear_refs" in r.stderr:
        pytest.skip("/proc/self/clear_refs is not writable here")
    assert r.returncode == 0, r.stderr
    grown, plan = (int(v) for v in r.stdout.split())
    assert 0 < grown <= plan


def test_cli_refuses_a_circuit_that_cannot_fit_naming_the_connectivity_resolution(tmp_path):
    # 6000 x 6000 cells of 30 m, 8 GiB available (6.4 GiB usable): the stage's fine-grid part
    # (76 x 36 M = 2.5 GiB) fits, AMG-CG on all 36 M cells (1002 bytes a node more) does not
    r = _cli_check(tmp_path, 8 * 2**30,
                   "m.check_memory('circuit', (6000, 6000), what='stage circuit', n_rhs=5, cell_size_m=30.0)")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    need = ((76 + 72 + 850 + 80) * 36 * 10**6 + 2**25) / 2**30
    assert f"needs about {need:.1f} GiB but 8.0 GiB are available" in lines[0]
    assert "set grid.connectivity_resolution_m: " in lines[0]


def test_a_stage_names_its_own_fine_side_bytes():
    # 1000 x 1000 cells, factor 4: the coarse model is unchanged, the fine part is per-cell bytes x 1e6
    from habitat.memory import BLOCKWISE_FINE_SIDE, SITES_FINE_SIDE_BYTES, estimate_bytes

    for computation in ("cost_distance", "circuit"):
        kw = dict(factor=4, available=24 * 2**30) if computation == "circuit" else dict(factor=4)
        default = estimate_bytes(computation, (1000, 1000), **kw)
        sites = estimate_bytes(computation, (1000, 1000), fine_side_bytes=SITES_FINE_SIDE_BYTES, **kw)
        none = estimate_bytes(computation, (1000, 1000), fine_side_bytes=0, **kw)
        per_cell, fixed = BLOCKWISE_FINE_SIDE[computation]  # block-wise at factor > 1
        assert default - none == pytest.approx(per_cell * 1e6 + fixed, abs=1)
        assert sites - none == pytest.approx(SITES_FINE_SIDE_BYTES * 1e6, abs=1)
    with pytest.raises(InvalidParameterError):
        estimate_bytes("fragmentation", (10, 10), fine_side_bytes=8)
    with pytest.raises(InvalidParameterError):
        estimate_bytes("cost_distance", (10, 10), fine_side_bytes=-1)


def test_sites_fine_part_alone_too_big_names_the_analysis_grid():
    # 12 bytes x 1.6e9 cells = 19.2 GB > 0.8 x 16 GiB: no connectivity grid can fix it
    from habitat.memory import SITES_FINE_SIDE_BYTES, check_memory

    assert SITES_FINE_SIDE_BYTES * 40000**2 > 0.8 * 16 * 2**30
    with pytest.raises(MemoryNeedError) as e:
        check_memory("cost_distance", (40000, 40000), available=16 * 2**30, cell_size_m=30,
                     fine_side_bytes=SITES_FINE_SIDE_BYTES)
    assert e.value.setting == "grid.resolution_m"


def test_circuit_estimate_with_the_multigrid_solver():
    # solver: multigrid -> 300 bytes a node + 16 per node per kept point, whatever is available;
    # above the measured peak growth on the scale grid (389 and 405 bytes a node, 9 kept)
    n = 574 * 571
    need = estimate_bytes("circuit", (574, 571), solver="multigrid", n_rhs=9, fine_side_bytes=0.0)
    assert need == int((300 + 16 * 9) * n + 2**25)
    assert need > 405 * n
    assert estimate_bytes("circuit", (574, 571), solver="multigrid", n_rhs=9, available=2**30) == \
        estimate_bytes("circuit", (574, 571), solver="multigrid", n_rhs=9, available=2**40)
