"""Where the block-wise (dask) work runs: this process's threads, or an existing Dask cluster.

``dask.distributed`` is imported only when a scheduler address is given (``habitat run
--scheduler ADDRESS`` or ``compute.scheduler`` in the pipeline file), so it stays an optional
dependency (the ``distributed`` extra).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from habitat.errors import ConfigError

__all__ = ["active_client", "dask_scheduler"]

#: Seconds to wait for the scheduler before giving up with a one-line error.
CONNECT_TIMEOUT_S = 30


@contextmanager
def dask_scheduler(address: str | None) -> Iterator[Any]:
    """Make the Dask cluster at ``address`` the active scheduler for the block; None: no change.

    Yields the ``distributed.Client`` (or None). Raises :class:`ConfigError` when
    ``distributed`` is not installed or the scheduler cannot be reached.
    """
    if not address:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("compute.scheduler / --scheduler: running on a Dask cluster needs dask.distributed; "
                          "install it with pip install 'habitat[distributed]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=True)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"compute.scheduler / --scheduler: cannot reach the Dask scheduler at {address!r} "
                          f"({exc}); start the cluster first or fix the address") from None
    try:
        yield client
    finally:
        client.close()


def active_client() -> Any:
    """The default ``distributed.Client`` when one is active, else None (no import otherwise)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None
