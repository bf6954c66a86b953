"""Read and write tables (CSV)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from habitat.errors import ConfigError, InputFileError
from habitat.io.atomic import atomic_path


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as UTF-8 CSV without the index, atomically (``\\n`` line ends)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    return path


#: Identifier columns of the stage tables: text, even when every id looks like a number ("01").
ID_COLUMNS = ("site_id", "from_site", "to_site", "unit_id", "pa_id", "subject_id", "range_state_id", "sites",
              "parent_patch_ids", "nearest_source_site", "nearest_translocation_source")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV written by :func:`write_table`; the :data:`ID_COLUMNS` present stay text."""
    return pd.read_csv(path, dtype={column: str for column in ID_COLUMNS})


#: Date stamped into workbook properties and zip entries, so equal tables give equal bytes.
_FIXED_DATE = (2000, 1, 1, 0, 0, 0)


def write_workbook(df: pd.DataFrame, path: str | os.PathLike, *, sheet: str = "table") -> Path:
    """Write a DataFrame as a one-sheet XLSX workbook, atomically and byte-reproducibly.

    openpyxl stamps the current time into the document properties and every zip entry; both are
    replaced by a fixed date.
    """
    import datetime
    import io
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    table = book.active
    table.title = sheet[:31]
    table.append([str(c) for c in df.columns])
    for row in df.itertuples(index=False):
        table.append([None if (isinstance(v, float) and v != v) or v is pd.NA else
                      (v.item() if hasattr(v, "item") else v) for v in row])
    fixed = datetime.datetime(*_FIXED_DATE)
    book.properties.created = book.properties.modified = fixed
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _pin_core_dates(data, fixed)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(out.getvalue())
    return path


def _pin_core_dates(xml: bytes, fixed) -> bytes:
    import re

    stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)", rb"\g<1>" + stamp + rb"\g<3>", xml)
