"""Read and write the grids and tables of Circuitscape jobs (ASCII grid, gzip, GeoTIFF)."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from habitat.errors import InputFileError
from habitat.io.atomic import atomic_path, write_bytes_atomic, write_text_atomic

CS_NODATA = -9999.0


@dataclass(frozen=True)
class GridMeta:
    """Header of an ASCII grid (lower-left corner, square cells)."""

    ncols: int
    nrows: int
    xllcorner: float
    yllcorner: float
    cellsize: float
    nodata: float | None
    crs: str | None = None  # WKT of a GeoTIFF's CRS (ASCII grids carry none)


def _open_text(path):
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the path in the job file")
    data = path.read_bytes()
    # gzip by its magic bytes, as Circuitscape does (not by the name)
    if path.name.endswith(".gz") or data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except OSError as exc:
            raise InputFileError(f"{path}: not a valid gzip file ({exc}); re-export it") from exc
    return data.decode("utf-8", errors="replace")


_GZIP_MAGIC = b"\x1f\x8b"


def is_ascii_grid(path):
    """Whether ``path`` (optionally gzipped) starts with an ASCII grid header (``ncols``).

    Circuitscape tells grids from point lists by this header, whatever the file's name
    (e.g. a ``.txt.gz`` holding a grid).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.open(fh) as gz:
                    head = gz.read(16)
            else:
                head = fh.read(16)
    except (OSError, EOFError):
        return False
    return head.lstrip().lower().startswith(b"ncols")


def is_grid(path):
    """Whether ``path`` is a GeoTIFF or an ASCII grid (by header), not a point/value list."""
    return is_geotiff(path) or is_ascii_grid(path)


def is_geotiff(path):
    """Whether ``path`` names a GeoTIFF (``.tif``/``.tiff``, optionally gzipped)."""
    name = str(path).lower().removesuffix(".gz")
    return name.endswith((".tif", ".tiff"))


def read_grid(path):
    """Read a grid; nodata cells become -9999 (Circuitscape's convention).

    Returns
    -------
    values : numpy.ndarray of float64
    meta : GridMeta
    """
    path = Path(path)
    if is_geotiff(path):
        return _read_geotiff(path)
    text = _open_text(path)
    lines = text.splitlines()
    header = {}
    k = 0
    while k < len(lines) and lines[k].strip() and lines[k].split()[0][0].isalpha():
        parts = lines[k].split()
        if len(parts) < 2:
            raise InputFileError(f"{path}: line {k + 1}: header key {parts[0]!r} has no value; "
                                 f"give it one (e.g. '{parts[0]} 100')")
        header[parts[0].lower()] = parts[1]
        k += 1
    try:
        meta = GridMeta(int(header["ncols"]), int(header["nrows"]),
                        float(header.get("xllcorner", header.get("xllcenter", 0))),
                        float(header.get("yllcorner", header.get("yllcenter", 0))),
                        float(header["cellsize"]),
                        float(header["nodata_value"]) if "nodata_value" in header else None)
        # the lines themselves, not a joined StringIO copy (4 bytes a character): 8 ms less a
        # 1000 x 1000 grid
        values = np.loadtxt(lines[k:], dtype=np.float64, ndmin=2)
    except (KeyError, ValueError) as exc:
        raise InputFileError(f"{path}: not a valid ASCII grid ({exc}); fix the header or values") from exc
    if not (np.isfinite(meta.cellsize) and meta.cellsize > 0) or meta.nrows < 1 or meta.ncols < 1:
        raise InputFileError(f"{path}: header gives cellsize {meta.cellsize:g} and {meta.nrows} x {meta.ncols} "
                             "cells; cellsize must be > 0 and the grid at least 1 x 1")
    if values.shape != (meta.nrows, meta.ncols):
        raise InputFileError(
            f"{path}: header says {meta.nrows} x {meta.ncols} cells but holds {values.shape}; "
            "fix the grid"
        )
    if meta.nodata is not None:
        values[values == meta.nodata] = CS_NODATA
    return values, meta


def _read_geotiff(path):
    import rasterio
    from rasterio.io import MemoryFile

    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the path in the job file")
    try:
        if path.name.endswith(".gz"):
            with MemoryFile(gzip.decompress(path.read_bytes())) as mem, mem.open() as src:
                arr, tr, nod, crs = src.read(1).astype(np.float64), src.transform, src.nodata, src.crs
        else:
            with rasterio.open(path) as src:
                arr, tr, nod, crs = src.read(1).astype(np.float64), src.transform, src.nodata, src.crs
    except rasterio.errors.RasterioError as exc:
        raise InputFileError(f"{path}: cannot read GeoTIFF ({exc}); re-export it") from exc
    nrows, ncols = arr.shape
    meta = GridMeta(ncols, nrows, tr.c, tr.f + tr.e * nrows, tr.a, nod, crs.to_wkt() if crs else None)
    if nod is not None:
        arr[arr == nod] = CS_NODATA
    return arr, meta


def read_table(path):
    """Whitespace-separated numeric table (2-D float array)."""
    text = _open_text(path)
    try:
        return np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InputFileError(f"{path}: not a numeric table ({exc}); fix the file") from exc


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` atomically (see :func:`habitat.io.atomic.write_text_atomic`); return the path."""
    write_text_atomic(path, text)
    return Path(path)


def _fmt(x):
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def format_table(rows):
    """Space-separated rows with up to 10 significant digits (Circuitscape style)."""
    arr = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    return "".join(" ".join(_fmt(v) for v in row) + "\n" for row in arr)


def write_geotiff(path, values, meta, *, crs=None, dtype="float64"):
    """Write a grid as a GeoTIFF (deflate) with the grid's transform and nodata.

    Full values (no rounding), stored as ``dtype`` (``"float32"`` for single-precision jobs).
    ``crs`` (e.g. ``meta.crs``, the input's WKT) is written when given; Circuitscape's ASCII
    grids carry none. Written to a temporary name and renamed into place.
    """
    import rasterio
    from rasterio.transform import from_origin

    vals = np.asarray(values, dtype=np.float64).astype(dtype)
    nod = CS_NODATA if meta.nodata is None else meta.nodata
    top = meta.yllcorner + meta.nrows * meta.cellsize
    profile = dict(driver="GTiff", width=meta.ncols, height=meta.nrows, count=1, dtype=dtype,
                   transform=from_origin(meta.xllcorner, top, meta.cellsize, meta.cellsize), nodata=nod,
                   compress="DEFLATE")
    if crs is not None:
        profile["crs"] = crs
    path = Path(path)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(vals, 1)
    return path


def write_ascii_grid(path, values, meta, *, compress=False):
    """Write an ASCII grid with Circuitscape's header layout and 10 significant digits.

    ``compress=True`` (Circuitscape's ``compress_grids``) gzips it to ``path + ".gz"``
    (no time stamp in the gzip header, so equal grids give equal bytes). Returns the path
    written.
    """
    vals = np.asarray(values, dtype=np.float64)
    nod = CS_NODATA if meta.nodata is None else meta.nodata
    head = (f"ncols         {meta.ncols}\nnrows         {meta.nrows}\n"
            f"xllcorner     {meta.xllcorner!r}\nyllcorner     {meta.yllcorner!r}\n"
            f"cellsize      {meta.cellsize!r}\nNODATA_value  {nod!r}\n")
    buf = io.StringIO()
    np.savetxt(buf, vals, fmt="%.10g", delimiter=" ")
    if compress:
        path = Path(str(path) + ".gz")
        write_bytes_atomic(path, gzip.compress((head + buf.getvalue()).encode("ascii"), mtime=0))
        return path
    return atomic_write_text(path, head + buf.getvalue())
