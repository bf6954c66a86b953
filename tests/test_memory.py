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
    assert estimate_bytes("cost_distance", (1000, 1000)) == 42_000_000
    assert estimate_bytes("cost_distance", (1000, 1000), n_surfaces=2) == 58_000_000
    # block-wise work: four times the grid adds only the per-cell part (ENN edge cells)
    small = estimate_bytes("fragmentation_blockwise", (10_000, 10_000), block_cells=2**20)
    big = estimate_bytes("fragmentation_blockwise", (20_000, 20_000), block_cells=2**20)
    assert big - small == 35 * 3 * 10**8
    assert estimate_bytes("mosaic", (10_000, 10_000), block_cells=2**20) == estimate_bytes("mosaic", (40_000, 40_000), block_cells=2**20)
    # AMG-CG model of the circuit solver: 8 nnz + 110 n + 8 n (1 + 8), nnz = 9 n
    assert estimate_bytes("circuit", (100, 100)) == 8 * 9 * 10**4 + 110 * 10**4 + 8 * 10**4 * 9
    with pytest.raises(InvalidParameterError, match="unknown"):
        estimate_bytes("nope", (1, 1))


def test_check_refuses_before_allocating_naming_need_available_and_setting(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 4 * 2**30)
    # 36000 x 36000 cost distance: 42 * 1.296e9 bytes = 50.7 GiB
    with pytest.raises(MemoryNeedError) as err:
        check_memory("cost_distance", (36_000, 36_000), what="stage connectivity")
    msg = str(err.value)
    assert "stage connectivity" in msg and "50.7 GiB" in msg and "4.0 GiB are available" in msg
    assert "grid.connectivity_resolution_m" in msg
    assert err.value.needed_bytes == 42 * 36_000**2 and err.value.available_bytes == 4 * 2**30
    assert isinstance(err.value, ResourceError) and isinstance(err.value, HabitatError)
    with pytest.raises(MemoryNeedError, match=r"grid\.resolution_m about"):
        check_memory("fragmentation", (36_000, 36_000))
    # fits: returns the estimate
    assert check_memory("cost_distance", (1000, 1000)) == 42_000_000


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
    assert "grid.connectivity_resolution_m" in r.stderr and "Traceback" not in r.stderr
