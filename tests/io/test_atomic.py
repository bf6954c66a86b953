import pytest

from habitat.io.atomic import atomic_path, unwritable_reason, write_text_atomic


def test_interrupted_write_leaves_no_final_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash in the middle")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("new but unfinished")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_unwritable_reason_probes_without_leaving_anything(tmp_path):
    assert unwritable_reason(tmp_path) is None
    assert unwritable_reason(tmp_path / "new" / "deeper") is None
    assert list(tmp_path.iterdir()) == []  # neither the probe nor the missing folders are left
    (tmp_path / "file.txt").write_text("x")
    assert unwritable_reason(tmp_path / "file.txt") == f"{tmp_path / 'file.txt'} is a file, not a folder"
    assert unwritable_reason(tmp_path / "file.txt" / "out") == f"{tmp_path / 'file.txt'} is a file, not a folder"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_unwritable_reason_names_the_folder_that_refuses(tmp_path):
    from pathlib import Path

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc (a file system where folders cannot be made, even as root)")
    reason = unwritable_reason("/proc/habitat-no-such/out")
    assert reason is not None and reason.startswith("cannot write in /proc (")
