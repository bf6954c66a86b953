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


def _open_bytes(path):
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
    return data


def _open_text(path):
    return _open_bytes(path).decode("utf-8", errors="replace")


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
    data = _open_bytes(path)
    lines, body = _header_lines(data)
    if body is None:
        lines = data.decode("utf-8", errors="replace").splitlines()
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
        values = None if body is None else _parse_values(data, body, meta.nrows, meta.ncols)
        if values is None:
            # every file the compiled parser does not take, as before: the lines themselves,
            # not a joined StringIO copy (4 bytes a character)
            if body is not None:
                lines = data.decode("utf-8", errors="replace").splitlines()
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



#: Characters other than newline that str.splitlines splits at (then the general path).
_OTHER_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _header_lines(data):
    """The header lines of an ASCII grid (as :func:`read_grid` selects them from
    ``splitlines()``) and the byte offset where the values start.

    Returns ``(lines, offset)``; ``lines`` ends with the first line that is not a header line
    when ``offset`` is None (a file this split does not take: ``read_grid`` then decodes the
    whole file as before).
    """
    lines = []
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        line = (data[pos:] if end < 0 else data[pos:end]).decode("utf-8", errors="replace")
        if line.endswith("\r"):
            line = line[:-1]
        if not _OTHER_LINE_BREAKS.isdisjoint(line):
            return lines, None
        if not (line.strip() and line.split()[0][0].isalpha()):
            return lines, pos  # first value line
        lines.append(line)
        if end < 0:
            return lines, len(data)
        pos = end + 1


def _parse_values(data, offset, nrows, ncols):
    """``nrows x ncols`` float64 values of an ASCII grid from byte ``offset``, or None.

    The compiled parser (:func:`_parse_grid_values`) takes decimal numbers whose value is one
    correctly rounded operation on exact doubles (at most 19 significant digits with an
    integer part below 2**53, a power of ten up to 1e22: Clinger's fast path), so each value
    is bit for bit what ``np.loadtxt`` (correctly rounded ``strtod``) gives; None for anything
    else (other tokens, comments, a row or line count that differs, no numba): the caller
    then uses ``np.loadtxt`` itself. About 5x faster than ``np.loadtxt`` on a 1000 x 1000 grid.
    """
    # each value takes at least two bytes (a digit and a separator, the last one one): a
    # header asking for more cells than that goes to np.loadtxt, which reads what the file
    # holds, and the caller reports the shape mismatch (no allocation from a header typo)
    if _parse_grid_values is None or nrows < 1 or ncols < 1 or nrows * ncols > (len(data) - offset + 1) // 2:
        return None
    out = np.empty((nrows, ncols))
    buf = np.frombuffer(data, dtype=np.uint8)
    if _parse_grid_values(buf, offset, out, _POW10) != 0:
        return None
    return out


#: The powers of ten that are exact doubles.
_POW10 = np.array([10.0 ** e for e in range(23)])

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency
    _parse_grid_values = None
else:
    @njit(cache=True, nogil=True)
    def _parse_grid_values(buf, pos, out, pow10):  # pragma: no cover - compiled
        # 0 when every token is a fast-path decimal and the file holds exactly out.shape rows
        # of values (blank lines skipped, as np.loadtxt does); 1 otherwise
        n = buf.size
        nrows, ncols = out.shape
        row = 0
        while pos < n:
            col = 0
            while pos < n:
                c = buf[pos]
                if c == 10:  # \n
                    pos += 1
                    break
                if c == 13 and (pos + 1 >= n or buf[pos + 1] != 10):
                    return 1  # a lone \r is a line break to np.loadtxt (splitlines)
                if c == 32 or c == 9 or c == 13:
                    pos += 1
                    continue
                if row >= nrows or col >= ncols:
                    return 1
                neg = c == 45
                if c == 45 or c == 43:
                    pos += 1
                m = np.uint64(0)
                digits = 0  # significant digits in m
                e10 = 0
                seen = False
                frac = False  # after the decimal point
                while pos < n:
                    c = buf[pos]
                    if 48 <= c <= 57:
                        d = c - 48
                        if digits > 0 or d != 0:
                            if digits == 19:
                                return 1
                            m = m * np.uint64(10) + np.uint64(d)
                            digits += 1
                        if frac:
                            e10 -= 1
                        seen = True
                    elif c == 46 and not frac:  # .
                        frac = True
                    else:
                        break
                    pos += 1
                if not seen:
                    return 1
                if pos < n and (buf[pos] == 101 or buf[pos] == 69):  # e, E
                    pos += 1
                    eneg = False
                    if pos < n and (buf[pos] == 45 or buf[pos] == 43):
                        eneg = buf[pos] == 45
                        pos += 1
                    ed = 0
                    eseen = False
                    while pos < n and 48 <= buf[pos] <= 57:
                        if ed < 100000:
                            ed = ed * 10 + (buf[pos] - 48)
                        eseen = True
                        pos += 1
                    if not eseen:
                        return 1
                    e10 += -ed if eneg else ed
                if pos < n:
                    c = buf[pos]
                    if not (c == 32 or c == 9 or c == 13 or c == 10):
                        return 1
                if m == 0:
                    v = 0.0
                elif m > np.uint64(9007199254740992) or e10 > 22 or e10 < -22:
                    return 1
                elif e10 >= 0:
                    v = np.float64(m) * pow10[e10]
                else:
                    v = np.float64(m) / pow10[-e10]
                out[row, col] = -v if neg else v
                col += 1
            if col > 0:
                if col != ncols:
                    return 1
                row += 1
        return 0 if row == nrows else 1


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


def read_table(path, *, min_columns=1, columns="id"):
    """Whitespace-separated numeric table (2-D float array) of at least one row and
    ``min_columns`` columns (``columns`` names them for the message when there are fewer)."""
    import warnings

    text = _open_text(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            tab = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise InputFileError(f"{path}: not a numeric table ({exc}); fix the file") from exc
    if tab.size == 0:
        raise InputFileError(f"{path}: holds no data lines; give one line per entry ({columns})")
    if tab.shape[1] < min_columns:
        raise InputFileError(f"{path}: has {tab.shape[1]} column{'s' if tab.shape[1] != 1 else ''} but needs "
                             f"{min_columns} ({columns}); fix the file")
    return tab


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
