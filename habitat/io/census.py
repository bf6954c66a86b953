"""Population census tables: one count per site and year, with method and source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from habitat.errors import ConfigError, InputFileError

#: Columns of a census table (DOMAIN.md: counts per site and year with their method and source).
CENSUS_COLUMNS = ("site_id", "year", "count", "method", "source")


def read_census(path: str | Path) -> pd.DataFrame:
    """Read a census CSV (site_id, year, count, method, source), checked and sorted.

    ``year`` and ``count`` must be whole numbers >= 0 (not NaN, not ``inf``, not text).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found; check the path")
    try:
        table = pd.read_csv(path, dtype={"site_id": str, "method": str, "source": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]}); fix the file") from exc
    missing = [c for c in CENSUS_COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: missing columns {missing}; a census needs {', '.join(CENSUS_COLUMNS)}")
    for column in ("year", "count"):
        values = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
        bad = table.index[~np.isfinite(values) | (values < 0) | (values % 1 != 0)]
        if len(bad):
            row = int(bad[0])
            raise ConfigError(f"{path}: row {row + 2}: {column} {str(table[column].iloc[row])!r} must be a whole "
                              f"number >= 0; fix the value")
        table[column] = values.astype(np.int64)
    twice = table.duplicated(["site_id", "year"], keep="first")
    if twice.any():
        row = int(np.flatnonzero(twice.to_numpy())[0])
        raise ConfigError(f"{path}: row {row + 2}: site {table['site_id'].iloc[row]!r} has a second count for "
                          f"{table['year'].iloc[row]}; keep one count per site and year")
    table = table[list(CENSUS_COLUMNS)].fillna("")
    return table.sort_values(["site_id", "year"], kind="stable").reset_index(drop=True)
