"""Presence/background model: sampling, folds, fitting and prediction with known answers."""

import dask.array as da
import numpy as np
import pytest

pytest.importorskip("elapid")

from habitat.errors import InvalidParameterError
from habitat.suitability.presence import (
    cross_validate,
    fit_presence_model,
    geographic_folds,
    model_table,
    predict_grid,
    predict_presence,
    sample_background,
    sample_cells,
)


def test_sample_cells_equals_layer_values_at_every_cell():
    layer = np.arange(35, dtype=np.float32).reshape(5, 7)
    rows, cols = np.meshgrid(np.arange(5), np.arange(7), indexing="ij")
    order = np.random.default_rng(3).permutation(35)
    rows, cols = rows.ravel()[order], cols.ravel()[order]
    for block_rows in (1, 2, 100):
        np.testing.assert_array_equal(sample_cells(layer, rows, cols, block_rows=block_rows), layer[rows, cols])
    lazy = da.from_array(layer, chunks=(2, 3))
    np.testing.assert_array_equal(sample_cells(lazy, rows, cols, block_rows=2), order.astype(np.float32))
    with pytest.raises(InvalidParameterError):
        sample_cells(layer, np.array([5]), np.array([0]))


MASK = np.array([
    [0, 1, 1, 0, 0],
    [0, 0, 1, 1, 0],
    [1, 0, 0, 1, 1],
    [0, 0, 0, 0, 1],
], dtype=bool)


def test_background_takes_all_mask_cells_when_asking_for_more():
    rows, cols = sample_background(MASK, 100, seed=1, block_rows=3)
    np.testing.assert_array_equal(rows, [0, 0, 1, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(cols, [1, 2, 2, 3, 0, 3, 4, 4])


def test_background_inside_mask_reproducible_and_independent_of_blocks():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 30)) < 0.3
    rows, cols = sample_background(mask, 50, seed=7)
    assert len(rows) == 50 and mask[rows, cols].all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 50  # distinct cells
    # definition: ranks drawn without replacement among the True cells in row-major order
    all_r, all_c = np.nonzero(mask)
    ranks = np.sort(np.random.default_rng(7).choice(all_r.size, size=50, replace=False))
    np.testing.assert_array_equal(rows, all_r[ranks])
    np.testing.assert_array_equal(cols, all_c[ranks])
    for block_rows in (1, 7, 1000):
        r2, c2 = sample_background(da.from_array(mask, chunks=(9, 9)), 50, seed=7, block_rows=block_rows)
        np.testing.assert_array_equal(r2, rows)
        np.testing.assert_array_equal(c2, cols)
    r3, _ = sample_background(mask, 50, seed=8)
    assert not np.array_equal(r3, rows)
    with pytest.raises(InvalidParameterError):
        sample_background(np.zeros((3, 3), bool), 5, seed=0)


def test_geographic_folds_two_clusters_by_hand():
    presence = np.array([[0, 0], [100, 50], [10_100, 0], [50, 100], [10_000, 80], [10_050, 120]], float)
    background = np.array([[4_000, 0], [6_000, 0], [-500, 9_000], [20_000, -9_000]], float)
    p_fold, b_fold = geographic_folds(presence, background, n_folds=2, seed=0)
    np.testing.assert_array_equal(p_fold, [0, 0, 1, 0, 1, 1])  # fold 0 is the western cluster
    np.testing.assert_array_equal(b_fold, [0, 1, 0, 1])  # nearest cluster centre
    with pytest.raises(InvalidParameterError, match="n_folds"):
        geographic_folds(presence, background, n_folds=7, seed=0)


def _synthetic(seed: int = 0):
    """A 40 x 60 grid where covariate ``a`` rises 0 -> 100 -> 0 three times west to east and
    presences lie only on the ridge columns (``a = 100``), so every geographic fold (one ridge
    with its slopes) holds high and low ``a``; ``b`` is noise."""
    rng = np.random.default_rng(seed)
    a = np.tile(100.0 - 10.0 * np.abs(np.arange(60) % 20 - 10), (40, 1))
    b = rng.uniform(0, 1, (40, 60))
    cells = np.flatnonzero(a.ravel() == 100)
    pick = rng.choice(cells, size=60, replace=False)
    p_rows, p_cols = np.divmod(np.sort(pick), 60)
    b_rows, b_cols = sample_background(np.ones_like(a, bool), 800, seed=seed)
    presence = {"a": a[p_rows, p_cols], "b": b[p_rows, p_cols]}
    background = {"a": a[b_rows, b_cols], "b": b[b_rows, b_cols]}
    xy = lambda r, c: np.column_stack([c * 100.0, -r * 100.0])
    return a, b, presence, background, xy(p_rows, p_cols), xy(b_rows, b_cols)


def test_presence_driven_by_one_covariate_gives_high_auc_and_rising_prediction():
    _, _, presence, background, p_xy, b_xy = _synthetic()
    p_fold, b_fold = geographic_folds(p_xy, b_xy, n_folds=3, seed=0)
    folds = cross_validate(presence, background, p_fold, b_fold, seed=0)
    assert list(folds["fold"]) == [1, 2, 3]
    assert (folds["n_train"] + folds["n_test"] == 60).all()
    assert folds["n_test"].sum() == 60 and folds["n_test_background"].sum() == 800  # folds partition the points
    assert (folds["n_train_background"] + folds["n_test_background"] == 800).all()
    assert (folds["auc"] > 0.9).all(), folds

    model = fit_presence_model(presence, background, seed=0)
    along_a = predict_presence(model, {"a": np.linspace(0, 100, 21), "b": np.full(21, 0.5)})
    assert np.all(np.diff(along_a) >= -1e-12) and along_a[-1] - along_a[0] > 0.5
    assert ((along_a >= 0) & (along_a <= 1)).all()


def test_predict_grid_is_whole_array_equal_and_nan_outside_valid():
    a, b, presence, background, _, _ = _synthetic()
    model = fit_presence_model(presence, background, seed=0)
    valid = np.ones(a.shape, bool)
    valid[5:9, 10:20] = False
    whole = predict_grid(model, {"a": a, "b": b}, valid=valid, block_rows=1000)
    expected = predict_presence(model, {"a": a[valid], "b": b[valid]}).astype(np.float32)
    np.testing.assert_array_equal(whole[valid], expected)
    assert np.isnan(whole[~valid]).all() and whole.dtype == np.float32
    lazy = {"a": da.from_array(a, chunks=7), "b": da.from_array(b, chunks=7)}
    np.testing.assert_array_equal(predict_grid(model, lazy, valid=da.from_array(valid, chunks=7), block_rows=3), whole)


def test_model_table_names_each_feature_and_its_covariate():
    _, _, presence, background, _, _ = _synthetic()
    model = fit_presence_model(presence, background, feature_types=["linear", "product"], seed=0)
    table = model_table(model, background)
    assert list(table["feature"]) == ["linear_1", "linear_2", "product_1"]
    assert list(table["covariate"]) == ["a", "b", "a*b"]
    np.testing.assert_array_equal(table["coefficient"].to_numpy(), model.estimator.beta_scores_)


def test_categorical_covariate_is_one_hot_and_unseen_codes_predict():
    rng = np.random.default_rng(2)
    cls_b = rng.integers(1, 4, 500)
    cls_p = np.r_[np.full(40, 1), np.full(5, 2)]
    background = {"cls": cls_b, "d": rng.uniform(0, 10, 500)}
    presence = {"cls": cls_p, "d": rng.uniform(0, 10, 45)}
    model = fit_presence_model(presence, background, categorical=["cls"], seed=0)
    assert model.columns == ["cls=1", "cls=2", "cls=3", "d"]
    pred = predict_presence(model, {"cls": np.array([1, 2, 3, 9]), "d": np.full(4, 5.0)})
    assert pred[0] > pred[1] and pred[0] > pred[2] and np.isfinite(pred).all()


def test_invalid_options_are_errors():
    _, _, presence, background, _, _ = _synthetic()
    with pytest.raises(InvalidParameterError, match="feature_types"):
        fit_presence_model(presence, background, feature_types=["spline"])
    with pytest.raises(InvalidParameterError, match="beta_multiplier"):
        fit_presence_model(presence, background, beta_multiplier=0)
