import subprocess
import sys

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
    # AMG-CG model of the circuit solver: 8 nnz + 110 n + 8 n (1 + 8), nnz = 9 n; 76 for the stage
    assert estimate_bytes("circuit", (100, 100)) == 8 * 9 * 10**4 + 110 * 10**4 + 8 * 10**4 * 9 + 76 * 10**4
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


def test_cli_exit_code_2_for_a_memory_refusal(tmp_path):
    code = (
        "import habitat.memory as m, habitat.cli as cli\n"
        "m.available_bytes = lambda: 2**30\n"
        "def boom(*a, **k):\n"
        "    m.check_memory('circuit', (40000, 40000))\n"
        "cli.app = boom\n"
        "cli.main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__('os').environ})
    assert r.returncode == 2, r.stderr
    assert "grid.resolution_m" in r.stderr and "Traceback" not in r.stderr


def test_connectivity_grid_factor_counts_coarse_cells_plus_the_fine_side():
    fine_side = memory.FINE_SIDE_BYTES["cost_distance"]
    # 1001 x 1000 cells at factor 2: 501 x 500 coarse cells (the last block row is partial)
    assert estimate_bytes("cost_distance", (1001, 1000), factor=2, n_surfaces=1) == \
        (42 + 8) * 501 * 500 + fine_side * 1001 * 1000
    fine_circuit = memory.FINE_SIDE_BYTES["circuit"]
    assert estimate_bytes("circuit", (200, 200), factor=2) == \
        estimate_bytes("circuit", (100, 100)) + fine_circuit * (200 * 200 - 100 * 100)
    assert estimate_bytes("cost_distance", (10, 10), factor=1) == estimate_bytes("cost_distance", (10, 10))
    with pytest.raises(InvalidParameterError, match="analysis grid only"):
        estimate_bytes("patches", (10, 10), factor=2)


def test_refusal_suggests_the_smallest_connectivity_resolution_that_fits(monkeypatch):
    # 12000^2 cells, 4 populations: 64 x 1.44e8 + 74 x 1.44e8 / f^2 = 11.88 GB (f = 2), 10.40 GB
    # (f = 3) against 0.8 x 13 GiB = 11.17 GB: 3 x 30 m = 90 m
    monkeypatch.setattr(memory, "available_bytes", lambda: 13 * 2**30)
    limit = 0.8 * 13 * 2**30
    shape, cells = (12_000, 12_000), 12_000**2
    need = {f: estimate_bytes("cost_distance", shape, factor=f, n_surfaces=4) for f in range(1, 8)}
    fits = min(f for f in need if need[f] <= limit)
    assert fits == 3 and need[fits - 1] > limit
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
