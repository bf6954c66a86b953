"""Block-wise work on a Dask cluster (two worker processes) gives the default run's bytes."""

import hashlib
import sys
from pathlib import Path

import pytest

from habitat.errors import ConfigError
from habitat.stages.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "stages"))
from conftest import write_project  # noqa: E402
from test_memory_checks import patches_pipeline  # noqa: E402

distributed = pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".tif", ".csv", ".gpkg")}


def test_two_worker_cluster_gives_byte_identical_outputs(tmp_path):
    pipeline = patches_pipeline(tmp_path)
    run_pipeline(pipeline, tmp_path / "default")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            assert len(client.run(lambda: 1)) == 2  # both worker processes are up
            with distributed.get_task_stream(client) as stream:
                run_pipeline(pipeline, tmp_path / "cluster", scheduler=cluster.scheduler_address)
            assert len({task["worker"] for task in stream.data}) >= 1  # the blocks ran on the cluster
    default, cluster_run = _hashes(tmp_path / "default"), _hashes(tmp_path / "cluster")
    assert "suitability/suitability.tif" in default and "patches/patch_id.tif" in default
    assert cluster_run == default


def test_unreachable_scheduler_is_a_config_error(monkeypatch, tmp_path):
    from habitat import compute

    monkeypatch.setattr(compute, "CONNECT_TIMEOUT_S", 2)
    pipeline = write_project(tmp_path / "p")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_pipeline(pipeline, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
