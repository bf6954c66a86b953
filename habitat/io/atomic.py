"""Atomic file writes: write to a temporary name beside the target, then rename into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary file lives in the same folder (so the rename is atomic on POSIX) and keeps
    the target's suffix (so drivers that choose a format by extension still work). If the block
    raises, the temporary file is removed and ``target`` is left as it was: a crash never leaves
    a truncated file under the final name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # drivers such as GPKG refuse to write over an existing empty file
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def unwritable_reason(folder: str | os.PathLike) -> str | None:
    """Why files cannot be written into ``folder`` (made when missing), or None when they can.

    Checked before a job computes anything, so that an output folder on a read-only disk, in a
    pseudo file system or under a file fails at once instead of after the work. The check makes
    and removes a temporary folder in the nearest existing ancestor: nothing is left behind and
    ``folder`` itself is not created.
    """
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        probe = tempfile.mkdtemp(prefix=".habitat-write-check-", dir=existing)
    except OSError as exc:
        return f"cannot write in {existing} ({exc.strerror or exc})"
    os.rmdir(probe)
    return None
