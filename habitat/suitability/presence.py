"""Presence/background (MaxEnt-style) model: sampling, spatial folds, fitting, prediction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from habitat.errors import InvalidParameterError, ResourceError

#: Rows per strip when reading covariates; strips are full width so results do not depend on it.
DEFAULT_BLOCK_ROWS = 256

FEATURE_TYPES = ("linear", "quadratic", "product", "hinge", "threshold")


def _elapid() -> Any:
    try:
        import elapid
    except ModuleNotFoundError as exc:  # an optional stage should not break `import habitat`
        raise ResourceError("the presence model needs the 'elapid' package; install it with 'pip install elapid'") from exc
    return elapid


def _raw(layer: Any) -> Any:
    """The array behind a DataArray (numpy or dask); other arrays as they are."""
    return layer.data if isinstance(layer, xr.DataArray) else layer


def _strips(n_rows: int, block_rows: int) -> list[slice]:
    if block_rows < 1:
        raise InvalidParameterError(f"block_rows {block_rows} must be >= 1")
    return [slice(r0, min(r0 + block_rows, n_rows)) for r0 in range(0, n_rows, block_rows)]


def sample_cells(
    layer: Any, rows: np.ndarray, cols: np.ndarray, *, block_rows: int = DEFAULT_BLOCK_ROWS
) -> np.ndarray:
    """Values of a 2-D layer at cells ``(rows, cols)``, reading only the row strips that hold them.

    Parameters
    ----------
    layer : array-like, shape (ny, nx)
        numpy array, dask array or DataArray (lazy layers are read strip by strip).
    rows, cols : ndarray of int
        Cell indices, inside the layer.
    block_rows : int
        Rows read at a time (memory: ``block_rows * nx`` values).

    Returns
    -------
    ndarray
        ``layer[rows, cols]`` in the order given.

    Examples
    --------
    >>> sample_cells(np.arange(6).reshape(2, 3), np.array([1, 0]), np.array([2, 1])).tolist()
    [5, 1]
    """
    data = _raw(layer)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= data.shape[0] or cols.min() < 0 or cols.max() >= data.shape[1]):
        raise InvalidParameterError(f"cells outside the layer of shape {data.shape}")
    out = np.empty(rows.size, dtype=data.dtype)
    for strip in _strips(data.shape[0], block_rows):
        hit = (rows >= strip.start) & (rows < strip.stop)
        if hit.any():
            block = np.asarray(data[strip])
            out[hit] = block[rows[hit] - strip.start, cols[hit]]
    return out


def sample_background(
    mask: Any, n_points: int, *, seed: int, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Draw up to ``n_points`` distinct background cells uniformly among the True cells of ``mask``.

    Parameters
    ----------
    mask : array-like of bool, shape (ny, nx)
        Where background may fall (e.g. the river valleys); lazy arrays are read strip by strip.
    n_points : int
        Number of cells wanted (>= 1); all True cells are returned when there are fewer.
    seed : int
        Seed of ``numpy.random.default_rng``.
    block_rows : int
        Rows read at a time.

    Returns
    -------
    rows, cols : ndarray of int64
        Cells in row-major order.

    Notes
    -----
    The draw is ``rng.choice(K, size=min(n, K), replace=False)`` over the ranks ``0..K-1`` of
    the K True cells in row-major order, so the cells depend only on the mask, ``n`` and the
    seed (not on ``block_rows``). Memory is O(n) besides one strip.

    Examples
    --------
    >>> rows, cols = sample_background(np.array([[0, 1], [1, 1]], bool), 10, seed=0)
    >>> rows.tolist(), cols.tolist()
    ([0, 1, 1], [1, 0, 1])
    """
    if n_points < 1:
        raise InvalidParameterError(f"n_points {n_points} must be >= 1")
    data = _raw(mask)
    strips = _strips(data.shape[0], block_rows)
    counts = [int(np.count_nonzero(np.asarray(data[s]))) for s in strips]
    total = sum(counts)
    if total == 0:
        raise InvalidParameterError("the background mask has no cells; no background can be drawn")
    rng = np.random.default_rng(seed)
    ranks = np.sort(rng.choice(total, size=min(n_points, total), replace=False))
    rows_out, cols_out = [], []
    start = 0
    for strip, count in zip(strips, counts):
        lo, hi = np.searchsorted(ranks, [start, start + count])
        if hi > lo:
            r, c = np.nonzero(np.asarray(data[strip]))
            pick = ranks[lo:hi] - start
            rows_out.append(r[pick] + strip.start)
            cols_out.append(c[pick])
        start += count
    return np.concatenate(rows_out).astype(np.int64), np.concatenate(cols_out).astype(np.int64)


def geographic_folds(
    presence_xy: np.ndarray, background_xy: np.ndarray, *, n_folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spatially blocked folds: k-means clusters of the presences; background joins the nearest.

    Parameters
    ----------
    presence_xy, background_xy : ndarray, shape (n, 2)
        Map coordinates (metres) of presence and background points.
    n_folds : int
        Number of folds k, 2 <= k <= number of presences.
    seed : int
        ``random_state`` of the k-means (10 restarts).

    Returns
    -------
    presence_fold, background_fold : ndarray of int
        Fold (0..k-1) of every point; fold ids are ordered by the cluster centre (west to
        east, then south to north) so they do not depend on k-means label order.

    Notes
    -----
    As ``elapid.GeographicKFold`` (k-means on the point coordinates), but clustered on the
    presences only, so every fold holds presences; background points are assigned to the
    nearest cluster centre (Voronoi cells), so a fold is one region with its own background.
    """
    from sklearn.cluster import KMeans

    presence_xy = np.asarray(presence_xy, dtype=np.float64).reshape(-1, 2)
    background_xy = np.asarray(background_xy, dtype=np.float64).reshape(-1, 2)
    if n_folds < 2 or n_folds > len(presence_xy):
        raise InvalidParameterError(
            f"n_folds {n_folds} must be between 2 and the number of presence points ({len(presence_xy)})"
        )
    kmeans = KMeans(n_clusters=n_folds, n_init=10, random_state=seed).fit(presence_xy)
    centres = kmeans.cluster_centers_
    order = np.lexsort((centres[:, 1], centres[:, 0]))
    relabel = np.empty(n_folds, dtype=np.int64)
    relabel[order] = np.arange(n_folds)

    def nearest(xy: np.ndarray) -> np.ndarray:
        if not len(xy):
            return np.zeros(0, dtype=np.int64)
        d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return relabel[np.argmin(d2, axis=1)]

    return nearest(presence_xy), nearest(background_xy)


@dataclass(frozen=True)
class PresenceModel:
    """A fitted MaxEnt-style model and how covariates become its design matrix.

    ``covariates`` are the layer names in order; ``levels[name]`` the class codes of a
    categorical covariate that get an indicator column (codes seen in training and not
    constant there).
    """

    estimator: Any
    covariates: tuple[str, ...]
    levels: Mapping[str, tuple[int, ...]]

    @property
    def columns(self) -> list[str]:
        out: list[str] = []
        for name in self.covariates:
            if name in self.levels:
                out.extend(f"{name}={code}" for code in self.levels[name])
            else:
                out.append(name)
        return out


def _levels(values: Mapping[str, np.ndarray], categorical: Sequence[str]) -> dict[str, tuple[int, ...]]:
    levels = {}
    for name in categorical:
        codes, counts = np.unique(np.asarray(values[name]).astype(np.int64), return_counts=True)
        n = len(values[name])
        levels[name] = tuple(int(c) for c, k in zip(codes, counts) if 0 < k < n)  # constant: no information
    return levels


def _design(values: Mapping[str, np.ndarray], covariates: Sequence[str], levels: Mapping[str, tuple[int, ...]]) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    for name in covariates:
        v = np.asarray(values[name])
        if name in levels:
            for code in levels[name]:
                columns[f"{name}={code}"] = (v.astype(np.int64) == code).astype(np.float64)
        else:
            columns[name] = v.astype(np.float64)
    return pd.DataFrame(columns)


def fit_presence_model(
    presence: Mapping[str, np.ndarray],
    background: Mapping[str, np.ndarray],
    *,
    categorical: Sequence[str] = (),
    feature_types: Sequence[str] = ("linear", "hinge", "product"),
    beta_multiplier: float = 1.5,
    seed: int = 0,
) -> PresenceModel:
    """Fit an ``elapid.MaxentModel`` (cloglog output) to presence and background covariates.

    Parameters
    ----------
    presence, background : mapping name -> 1-D ndarray
        Covariate values at presence and background points (same names; no nodata).
    categorical : sequence of str
        Covariates holding class codes; each code seen (and not constant) in the training
        data becomes a 0/1 indicator fitted as a categorical feature; unseen codes score as
        none of the indicators.
    feature_types : sequence of str
        MaxEnt feature classes: linear, quadratic, product, hinge, threshold.
    beta_multiplier : float
        Regularization multiplier (> 0); higher drops more coefficients.
    seed : int
        ``random_state`` of the solver.

    Returns
    -------
    PresenceModel

    Notes
    -----
    MaxEnt as an L1-regularized logistic regression of presence (1) against background (0)
    on the feature-transformed covariates (Phillips et al. 2017, maxnet), each background
    point weighted 100 against 1 per presence (maxnet's ``p + (1 - p) * 100``, elapid's
    default); fitted with scikit-learn's liblinear solver (``use_sklearn=True``) so the
    result does not depend on whether glmnet is installed. With ``eta(x) = beta . h(x) + alpha``
    (``h`` the features, ``alpha`` making ``exp(eta)`` sum to 1 over the background) and
    ``H`` the entropy of that background distribution, the prediction is the cloglog
    ``1 - exp(-exp(H + eta(x)))``, a value in [0, 1].
    """
    if beta_multiplier <= 0:
        raise InvalidParameterError(f"beta_multiplier {beta_multiplier} must be > 0")
    unknown = sorted(set(feature_types) - set(FEATURE_TYPES))
    if unknown or not feature_types:
        raise InvalidParameterError(f"feature_types {list(feature_types)}: choose from {', '.join(FEATURE_TYPES)}")
    covariates = tuple(presence)
    if set(background) != set(covariates):
        raise InvalidParameterError("presence and background must have the same covariates")
    n_p, n_b = len(next(iter(presence.values()))), len(next(iter(background.values())))
    if n_p < 2 or n_b < 2:
        raise InvalidParameterError(f"need at least 2 presence and 2 background points (got {n_p} and {n_b})")
    joined = {name: np.concatenate([np.asarray(presence[name]), np.asarray(background[name])]) for name in covariates}
    levels = _levels(joined, categorical)
    x = _design(joined, covariates, levels)
    keep = [c for c in x.columns if np.ptp(x[c].to_numpy()) > 0]  # a constant covariate cannot be scaled
    x = x[keep]
    y = np.r_[np.ones(n_p), np.zeros(n_b)]
    cat_cols = {f"{name}={code}" for name, codes in levels.items() for code in codes}
    model = _elapid().MaxentModel(
        feature_types=list(feature_types), beta_multiplier=beta_multiplier, transform="cloglog",
        use_sklearn=True, n_cpus=1, random_state=seed,
    )
    categorical_idx = [i for i, c in enumerate(keep) if c in cat_cols] or None
    model.fit(x.to_numpy(), y, categorical=categorical_idx, labels=keep)
    kept_levels = {name: tuple(c for c in codes if f"{name}={c}" in keep) for name, codes in levels.items()}
    kept_covariates = tuple(n for n in covariates if n in kept_levels or n in keep)
    return PresenceModel(model, kept_covariates, kept_levels)


def predict_presence(model: PresenceModel, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Cloglog suitability in [0, 1] of points with covariate ``values`` (1-D arrays, no nodata)."""
    x = _design(values, model.covariates, model.levels)[model.columns]
    if not len(x):
        return np.zeros(0)
    return np.clip(np.asarray(model.estimator.predict(x.to_numpy()), dtype=np.float64), 0.0, 1.0)


def model_table(model: PresenceModel, background: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per model feature: ``feature`` (elapid's class and its index, e.g. ``hinge_3``),
    ``covariate`` (the design column(s) it is built from, ``a*b`` for a product) and its
    ``coefficient`` (0 = dropped by the L1 penalty).

    The source column of a feature is found by changing one design column at a time in
    ``background`` (a sample of rows) and seeing which features change.
    """
    transformer = model.estimator.transformer
    kinds = list(transformer.feature_names_)
    x = _design(background, model.covariates, model.levels)[model.columns].to_numpy()
    base = transformer.transform(x)
    sources: list[list[str]] = [[] for _ in kinds]
    for j, column in enumerate(model.columns):
        changed = x.copy()
        changed[:, j] = np.roll(x[:, j], 1)
        differs = np.any(transformer.transform(changed) != base, axis=0)
        for i in np.flatnonzero(differs):
            sources[i].append(column)
    counter: dict[str, int] = {}
    names = []
    for kind in kinds:
        counter[kind] = counter.get(kind, 0) + 1
        names.append(f"{kind}_{counter[kind]}")
    return pd.DataFrame({
        "feature": names,
        "covariate": ["*".join(s) for s in sources],
        "coefficient": np.asarray(model.estimator.beta_scores_, dtype=np.float64),
    })


def cross_validate(
    presence: Mapping[str, np.ndarray],
    background: Mapping[str, np.ndarray],
    presence_fold: np.ndarray,
    background_fold: np.ndarray,
    **fit_options: Any,
) -> pd.DataFrame:
    """AUC of presence vs background in each held-out fold, the model fitted on the others.

    Returns
    -------
    DataFrame
        ``fold`` (1..k), ``n_train`` / ``n_test`` (presences), ``n_train_background`` /
        ``n_test_background``, ``auc`` (ROC AUC in [0, 1]; NaN when the test fold has no
        background).
    """
    from sklearn.metrics import roc_auc_score

    rows = []
    for fold in np.unique(presence_fold):
        train_p, train_b = presence_fold != fold, background_fold != fold
        test_p, test_b = ~train_p, ~train_b
        model = fit_presence_model(
            {k: np.asarray(v)[train_p] for k, v in presence.items()},
            {k: np.asarray(v)[train_b] for k, v in background.items()},
            **fit_options,
        )
        auc = np.nan
        if test_p.any() and test_b.any():
            scores = np.r_[
                predict_presence(model, {k: np.asarray(v)[test_p] for k, v in presence.items()}),
                predict_presence(model, {k: np.asarray(v)[test_b] for k, v in background.items()}),
            ]
            auc = float(roc_auc_score(np.r_[np.ones(test_p.sum()), np.zeros(test_b.sum())], scores))
        rows.append({"fold": int(fold) + 1, "n_train": int(train_p.sum()), "n_test": int(test_p.sum()),
                     "n_train_background": int(train_b.sum()), "n_test_background": int(test_b.sum()), "auc": auc})
    return pd.DataFrame(rows, columns=["fold", "n_train", "n_test", "n_train_background", "n_test_background", "auc"])


def predict_grid(
    model: PresenceModel,
    layers: Mapping[str, Any],
    *,
    valid: Any,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> np.ndarray:
    """The model's cloglog prediction on every valid cell of a grid, strip by strip.

    Parameters
    ----------
    model : PresenceModel
    layers : mapping name -> 2-D array-like
        The model's covariates on the grid (numpy, dask or DataArray).
    valid : 2-D array-like of bool
        Cells to predict; the others are NaN.
    block_rows : int
        Rows predicted at a time (memory: about ``block_rows * nx * n_features`` floats).

    Returns
    -------
    ndarray of float32
        Suitability in [0, 1], NaN where not valid; independent of ``block_rows``.
    """
    valid_data = _raw(valid)
    out = np.full(valid_data.shape, np.nan, dtype=np.float32)
    for strip in _strips(valid_data.shape[0], block_rows):
        ok = np.asarray(valid_data[strip]).astype(bool)
        if not ok.any():
            continue
        values = {name: np.asarray(_raw(layers[name])[strip])[ok] for name in model.covariates}
        block = out[strip]
        block[ok] = predict_presence(model, values).astype(np.float32)
    return out
