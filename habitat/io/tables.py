"""Read and write tables (CSV)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from habitat.io.atomic import atomic_path


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as UTF-8 CSV without the index, atomically (``\\n`` line ends)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    return path
