"""Branch and node currents from node voltages (Circuitscape conventions)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_REL_ZERO = 1e-8  # Circuitscape drops branch currents below 1e-8 x the largest one


def _upper_edges(adjacency):
    upper = sp.triu(sp.csr_matrix(adjacency), k=1).tocoo()
    order = np.lexsort((upper.row, upper.col))
    return upper.row[order], upper.col[order], np.abs(upper.data[order])


def _clip_small(b):
    if b.size == 0:
        return b
    top = b.max()
    if top != 0:
        b = np.where(np.abs(b / top) < _REL_ZERO, 0.0, b)
    return b


def branch_currents(adjacency, voltages):
    """Current through every edge, ``|G_ab (V_a - V_b)|`` (amperes).

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens) between nodes.
    voltages : numpy.ndarray
        Node voltages (volts).

    Returns
    -------
    rows, cols, currents : numpy.ndarray
        Edges ``a < b`` ordered by ``b`` then ``a``; currents >= 0, those below 1e-8 of
        the largest signed branch flow set to 0.
    """
    r, c, w = _upper_edges(adjacency)
    v = np.asarray(voltages, dtype=np.float64)
    b = _clip_small(w * (v[r] - v[c]))
    return r, c, np.abs(b)


def node_currents(adjacency, voltages, *, finite_grounds=None):
    """Current through each node: ``max(total inflow, total outflow)`` (amperes).

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric conductances (siemens) between nodes.
    voltages : numpy.ndarray
        Node voltages (volts).
    finite_grounds : numpy.ndarray, optional
        Conductance to ground per node (siemens); current to ground counts as outflow,
        current from ground (negative voltage) as inflow.

    Returns
    -------
    numpy.ndarray
        Node currents (>= 0).

    Notes
    -----
    Branch flows ``f_ab = G_ab (V_a - V_b)``; inflow of ``b`` is the sum of positive
    ``f_ab``, outflow the sum of positive ``f_ba``. Branch flows below 1e-8 of the largest
    are ignored, as Circuitscape does.
    """
    v = np.asarray(voltages, dtype=np.float64)
    n = v.size
    r, c, w = _upper_edges(adjacency)
    pos = _clip_small(w * (v[r] - v[c]))
    neg = _clip_small(w * (v[c] - v[r]))
    inflow = np.bincount(c, weights=np.where(pos > 0, pos, 0.0), minlength=n)
    inflow += np.bincount(r, weights=np.where(pos < 0, -pos, 0.0), minlength=n)
    outflow = np.bincount(c, weights=np.where(neg > 0, neg, 0.0), minlength=n)
    outflow += np.bincount(r, weights=np.where(neg < 0, -neg, 0.0), minlength=n)
    if finite_grounds is not None:
        fg = np.asarray(finite_grounds, dtype=np.float64) * v
        inflow += np.where(fg < 0, -fg, 0.0)
        outflow += np.where(fg > 0, fg, 0.0)
    return np.maximum(inflow, outflow)
