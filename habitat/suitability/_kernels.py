"""Compiled per-block kernels of the suitability formula (numba, GIL released).

Each kernel does in one pass over a block what the numpy reference does in several, with the
same floating-point operations in the same order, so results are bit-identical to the numpy
reference (tests/suitability/test_kernels.py compares whole arrays). Transcendental functions
(``exp``, ``**``) stay in numpy: numba's libm versions differ from numpy's SIMD ones in the last
bit. The kernels release the GIL, so dask's threaded scheduler runs blocks on both cores.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def disk_mean(values: np.ndarray, halfwidths: np.ndarray) -> np.ndarray:
    """Mean of the finite values in a disk around each cell (cells off the grid are not counted).

    Parameters
    ----------
    values : 2-D float64 or float32 array
        Cell values; NaN = nodata (not counted). float32 values are widened exactly, cell by cell.
    halfwidths : 1-D int64 array of odd length ``2 h + 1``
        For each row offset ``dy = -h..h`` the disk spans ``dx = -w..w`` with ``w = halfwidths[dy + h]``
        (``w < 0``: the row is empty).

    Returns
    -------
    2-D float64 array
        ``sum_{(dy, dx) in disk} v(y + dy, x + dx) / n`` over the ``n`` finite values of the disk
        (``n >= 1``: the centre is one); NaN where the centre value is not finite.

    Notes
    -----
    The terms are added from 0.0 in row-major footprint order (dy, then dx, ascending), the order
    of ``scipy.ndimage.correlate`` with a 0/1 footprint, so the sums are bit-identical to it. The
    loop over x innermost vectorises: 2 (2 h + 1)^2 adds per cell at SIMD width. Counts are
    differences of running counts (small integers, exact in any order). The zero-padded rows and
    their running counts live in a ring of ``2 h + 1`` rows (cache-sized), filled as the output
    row advances: no padded copy of the block is made, so the only block-sized array is the result
    (fresh block-sized arrays cost page faults, more than the sums).
    """
    h = (halfwidths.size - 1) // 2
    n = 2 * h + 1
    rows, cols = values.shape
    pcols = cols + 2 * h
    pad = np.zeros((n, pcols))  # margins stay 0; rows beyond the grid are all 0
    cum = np.zeros((n, pcols + 1))
    out = np.empty((rows, cols))
    acc = np.empty(cols)
    accc = np.empty(cols)
    for r in range(rows + 2 * h):
        # padded row r (values row r - h) goes to ring slot r % n
        slot = r % n
        prow = pad[slot]
        crow = cum[slot]
        src = r - h
        if src < 0 or src >= rows:
            prow[:] = 0.0
            crow[:] = 0.0
        else:
            c = 0.0
            for j in range(cols):
                v = np.float64(values[src, j])
                if np.isfinite(v):
                    prow[j + h] = v
                    c += 1.0
                else:
                    prow[j + h] = 0.0
                crow[j + h + 1] = c
            for j in range(cols + h + 1, pcols + 1):
                crow[j] = c
        i = r - 2 * h  # output row whose window ends at padded row r
        if i < 0:
            continue
        acc[:] = 0.0
        accc[:] = 0.0
        for k in range(n):
            w = halfwidths[k]
            if w < 0:
                continue
            s = (i + k) % n
            row = pad[s]
            upper = cum[s, h + w + 1:h + w + 1 + cols]
            lower = cum[s, h - w:h - w + cols]
            for j in range(cols):
                accc[j] += upper[j] - lower[j]
            for dx in range(-w, w + 1):
                # a view, so the index is the loop counter alone (no wrap-around test) and vectorises
                view = row[h + dx:h + dx + cols]
                for j in range(cols):
                    acc[j] += view[j]
        for j in range(cols):
            out[i, j] = acc[j] / accc[j] if np.isfinite(values[i, j]) else np.nan
    return out


@njit(cache=True, nogil=True)
def add_threat(total: np.ndarray, codes: np.ndarray, distance_m: np.ndarray, impact: np.ndarray,
               linear: bool, max_dist_m: float, sensitivity: np.ndarray, weight_share: float) -> None:
    """``total += i(d) * S[code] * weight_share`` in place (one threat of InVEST degradation).

    ``i(d) = 1 - d / max_dist_m`` when ``linear``, else ``impact`` (precomputed ``exp``); 0 when
    ``d > max_dist_m`` or ``d`` is NaN (no threat). ``sensitivity`` is indexed by class code.
    Same operations and order as ``quality.threat_degradation``.
    """
    rows, cols = total.shape
    # the row's sensitivities gathered first (a look-up by code in the arithmetic loop kept it
    # scalar: 3x slower), then one loop per decay without branches (selects): it vectorises
    s = np.empty(cols)
    for i in range(rows):
        row_codes = codes[i]
        for j in range(cols):
            s[j] = sensitivity[row_codes[j]]
        row_total, row_distance = total[i], distance_m[i]
        if linear:
            for j in range(cols):
                d = np.float64(row_distance[j])
                imp = 1.0 - d / max_dist_m
                imp = imp if d <= max_dist_m else 0.0  # False for NaN: no threat
                row_total[j] += imp * s[j] * weight_share
        else:
            row_impact = impact[i]
            for j in range(cols):
                d = np.float64(row_distance[j])
                # loaded whatever d is: a load inside the select compiled to a branch (3x slower
                # on random distances)
                value = row_impact[j]
                imp = value if d <= max_dist_m else 0.0
                row_total[j] += imp * s[j] * weight_share


@njit(cache=True, nogil=True)
def lookup(codes: np.ndarray, table: np.ndarray, known: np.ndarray, nodata: int) -> tuple[np.ndarray, int]:
    """``table[code]`` per cell as float64, NaN at ``nodata``; also the first unknown code (-1 if none)."""
    rows, cols = codes.shape
    out = np.empty((rows, cols))
    unknown = -1
    for i in range(rows):
        for j in range(cols):
            c = codes[i, j]
            if c == nodata:
                out[i, j] = np.nan
            elif c < 0 or c >= known.size or not known[c]:
                out[i, j] = np.nan
                if unknown < 0:
                    unknown = c
            else:
                out[i, j] = table[c]
    return out, unknown


@njit(cache=True, nogil=True)
def add_weighted(out: np.ndarray, membership: np.ndarray, weight: float, tolerance: float) -> float:
    """``out += weight * membership`` in place; returns the first value outside [0, 1] (NaN if none)."""
    flat_out = out.ravel()
    flat_mu = membership.ravel()
    low, high = -tolerance, 1.0 + tolerance
    # count the bad values (an integer sum vectorises; a first-match search does not) and look
    # for the first one only when there is one
    n_bad = 0
    for i in range(flat_out.size):
        mu = np.float64(flat_mu[i])
        flat_out[i] += weight * mu
        n_bad += (mu < low) | (mu > high)
    if n_bad:
        for i in range(flat_mu.size):
            mu = np.float64(flat_mu[i])
            if mu < low or mu > high:
                return mu
    return np.nan


@njit(cache=True, nogil=True)
def scaled(values: np.ndarray, factor: float, divisor: float) -> np.ndarray:
    """``(factor * v) / divisor`` per cell as float64 (the argument of an exponential decay)."""
    rows, cols = values.shape
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = (factor * np.float64(values[i, j])) / divisor
    return out


@njit(cache=True, nogil=True)
def decay_exponent(values: np.ndarray, scale: float) -> np.ndarray:
    """``-maximum(v, 0) / scale`` per cell as float64 (the argument of an exponential decay
    membership, whose ``exp`` stays numpy's); NaN stays NaN. One pass for numpy's four
    (widen, ``maximum``, negate, divide), with the same operations on every cell."""
    flat = values.ravel()
    out = np.empty(flat.size)
    for i in range(flat.size):
        v = np.float64(flat[i])
        m = v if (v >= 0.0 or v != v) else 0.0
        out[i] = -m / scale
    return out.reshape(values.shape)


#: Stand-in base of :func:`power_base` for D = 0 (any ordinary positive number).
POWER_STAND_IN = 0.3


@njit(cache=True, nogil=True)
def power_base(total: np.ndarray, habitat: np.ndarray, base: np.ndarray) -> None:
    """Degradation NaN where ``habitat`` is NaN (nodata), in place, and the base of ``D^z`` into
    ``base``: D, or ``POWER_STAND_IN`` where D = 0. numpy's vectorised ``pow`` takes a slow
    special-case path for every vector holding a zero (5x slower on blocks where most cells
    have no threat); :func:`saturate` puts ``0 ** z = 0`` back, so values are unchanged."""
    rows, cols = total.shape
    for i in range(rows):
        for j in range(cols):
            t = total[i, j]
            t = np.nan if np.isnan(habitat[i, j]) else t
            total[i, j] = t
            base[i, j] = POWER_STAND_IN if t == 0.0 else t


# error_model="numpy": a division by zero gives inf/NaN as in numpy instead of raising, so numba
# emits no per-cell check and the loop vectorises (the divisor D^z + k^z is > 0 or NaN here)
@njit(cache=True, nogil=True, error_model="numpy")
def saturate(habitat: np.ndarray, total: np.ndarray, dz: np.ndarray, kz: float) -> np.ndarray:
    """InVEST quality ``H (1 - D^z / (D^z + k^z))`` from ``H``, ``D`` (``total``), ``D^z``
    as :func:`power_base` left it (taken as 0 where D = 0) and ``k^z``, written over ``dz``
    (each cell's ``D^z`` is read before its quality is stored) and returned."""
    rows, cols = habitat.shape
    for i in range(rows):
        for j in range(cols):
            v = dz[i, j]  # loaded whatever D is: a load inside the select compiled to a branch
            d = 0.0 if total[i, j] == 0.0 else v
            dz[i, j] = habitat[i, j] * (1.0 - d / (d + kz))
    return dz


@njit(cache=True, nogil=True)
def ramp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``clip((v - low) / (high - low), 0, 1)`` per cell of a 2-D array as float64; NaN stays NaN.

    Indexed by row and column, so a strided view (a neighbourhood mean without its halo) is read
    in place, not copied first."""
    rows, cols = values.shape
    out = np.empty((rows, cols))
    span = high - low
    for i in range(rows):
        for j in range(cols):
            v = (np.float64(values[i, j]) - low) / span
            # two selects, not nested conditionals: the row loop vectorises (8x faster on a
            # strided view of random values, where the branches mispredicted); same values, NaN kept
            r = 0.0 if v < 0.0 else v
            out[i, j] = 1.0 if v > 1.0 else r
    return out


@njit(cache=True, nogil=True)
def multiply_mask(out: np.ndarray, mask: np.ndarray) -> float:
    """``out *= mask`` in place; returns the first mask value other than 0, 1 or NaN (NaN if none)."""
    flat_out = out.ravel()
    flat_m = mask.ravel()
    n_bad = 0
    for i in range(flat_out.size):
        m = np.float64(flat_m[i])
        n_bad += (m != 0.0) & (m != 1.0) & (m == m)
        flat_out[i] *= m
    if n_bad:
        for i in range(flat_m.size):
            m = np.float64(flat_m[i])
            if not (np.isnan(m) or m == 0.0 or m == 1.0):
                return m
    return np.nan


@njit(cache=True, nogil=True)
def where_valid(values: np.ndarray, valid: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = where(valid, values, NaN)`` in one pass, cast to ``out``'s dtype as numpy casts."""
    flat_v = values.ravel()
    flat_ok = valid.ravel()
    flat_out = out.ravel()
    for i in range(flat_out.size):
        flat_out[i] = flat_v[i] if flat_ok[i] else np.nan
