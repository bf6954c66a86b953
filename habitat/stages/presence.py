"""The presence stage: a MaxEnt-style presence/background model as an alternative suitability."""

from __future__ import annotations

from typing import Any, get_args

from habitat.errors import ConfigError, InvalidParameterError
from habitat.params import PresenceCovariate, PresenceParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

#: Covariates that ingest always writes; the others depend on optional pipeline inputs.
_ALWAYS = {"water_distance_m", "river_distance_m", "settlement_distance_m", "cropland_distance_m",
           "habitat_class_current", "floodplain"}
#: Rows of the background sample used to attribute model features to covariates.
_ATTRIBUTION_ROWS = 1000

INPUTS = (
    *catalog.layers("occurrences", optional=True),
    *(catalog.layers(layer_id, optional=layer_id not in _ALWAYS)[0]
      for layer_id in ("floodplain", *get_args(PresenceCovariate))),
)
OUTPUTS = catalog.outputs_of("presence")


def _valid(layer: xr.DataArray, categorical: bool) -> xr.DataArray:
    import numpy as np
    return layer > 0 if categorical else np.isfinite(layer)


def run_presence(ctx: StageContext) -> dict[str, Any]:
    """Fit the presence/background model, cross-validate on geographic folds, predict (METHODS.md 9)."""
    import numpy as np
    import xarray as xr
    from habitat.layers import make_layer
    from habitat.suitability.presence import cross_validate, fit_presence_model, geographic_folds, model_table, predict_presence, sample_background, sample_cells
    params: PresenceParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if "occurrences" not in ctx.inputs:
        if params.require_occurrences:
            raise ConfigError("inputs.occurrences: the presence stage needs occurrence points; add inputs.occurrences "
                              "(a point layer) or remove stages.presence")
        ctx.log("presence: no inputs.occurrences given; no model fitted (add inputs.occurrences to fit one)")
        return {}
    names, categorical, layers, valid = _covariates(ctx, params)
    inside = ctx.inputs["floodplain"] > 0 if params.background_mask == "floodplain" else xr.ones_like(valid)
    background_mask = valid & inside
    rows, cols = _occurrence_cells(ctx, params, valid, inside)
    b_rows, b_cols = sample_background(background_mask, params.n_background, seed=params.seed)
    if len(b_rows) < params.n_background:
        ctx.log(f"background: only {len(b_rows)} cells in the mask; all used (n_background {params.n_background})")
    presence = {n: sample_cells(layers[n], rows, cols) for n in names}
    background = {n: sample_cells(layers[n], b_rows, b_cols) for n in names}

    def xy(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.column_stack([grid.x_coords[c], grid.y_coords[r]])

    options = {"categorical": categorical, "feature_types": params.feature_types,
               "beta_multiplier": params.beta_multiplier, "seed": params.seed}
    try:
        p_fold, b_fold = geographic_folds(xy(rows, cols), xy(b_rows, b_cols), n_folds=params.n_folds, seed=params.seed)
        folds = cross_validate(presence, background, p_fold, b_fold, **options)
        model = fit_presence_model(presence, background, **options)
    except InvalidParameterError as exc:
        raise ConfigError(f"stages.presence: {exc}") from exc
    for row in folds.itertuples():
        ctx.log(f"fold {row.fold}: {row.n_test} test presences, {row.n_test_background} background, AUC {row.auc:.3f}")
    from sklearn.metrics import roc_auc_score

    train_auc = roc_auc_score(np.r_[np.ones(len(rows)), np.zeros(len(b_rows))],
                              np.r_[predict_presence(model, presence), predict_presence(model, background)])
    ctx.log(f"model on all points: training AUC {train_auc:.3f} ({len(rows)} presences, {len(b_rows)} background)")
    score = _predict(model, background_mask if params.restrict_to_mask else valid, layers, valid)
    return {
        "presence_suitability": make_layer(score, grid, name="presence_suitability", units="score 0-1"),
        "presence_folds": folds,
        "presence_model": model_table(model, {n: v[:_ATTRIBUTION_ROWS] for n, v in background.items()}),
    }


def _covariates(ctx: StageContext, params: PresenceParams) -> tuple[list[str], list[str], dict, xr.DataArray]:
    """Covariates with a value on the grid, the categorical ones, their layers and the cells where all are valid."""
    names = [n for n in params.covariates if n in ctx.inputs]
    for name in params.covariates:
        if name not in ctx.inputs:
            ctx.log(f"covariate {name}: not written by ingest (input not given); left out")
    # A distance layer is inf everywhere when its feature is absent from the padded study area
    # (e.g. no cropland at all); as a covariate it has no value anywhere and would void every cell.
    empty = [n for n in names if not bool(_valid(ctx.inputs[n], n in params.categorical).any())]
    for name in empty:
        ctx.log(f"covariate {name}: no finite value on the grid (no such feature within the padded study area); "
                "left out")
    names = [n for n in names if n not in empty]
    if not names:
        raise ConfigError("stages.presence.covariates: no covariate has a value on the grid; list covariates "
                          "whose features occur in or near the study area")
    categorical = [n for n in params.categorical if n in names]
    layers = {n: ctx.inputs[n] for n in names}
    valid = None
    for name in names:
        ok = _valid(layers[name], name in categorical)
        valid = ok if valid is None else valid & ok
    return names, categorical, layers, valid


def _occurrence_cells(ctx: StageContext, params: PresenceParams, valid: xr.DataArray,
                      inside: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells of the usable occurrences (on the grid, on valid cells; one per cell if asked)."""
    import numpy as np
    from habitat.suitability.presence import sample_cells
    grid = ctx.grid
    points = ctx.inputs["occurrences"]
    rows, cols = grid.rowcol(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    on_grid = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    rows, cols = rows[on_grid], cols[on_grid]
    ok = sample_cells(valid, rows, cols).astype(bool)
    rows, cols = rows[ok], cols[ok]
    n_in = len(points)
    if params.one_per_cell:
        flat = np.unique(rows * grid.width + cols)
        rows, cols = flat // grid.width, flat % grid.width
    ctx.log(f"occurrences: {n_in} points, {int((~on_grid).sum())} off the grid, {int((~ok).sum())} on nodata, "
            f"{len(rows)} used{' (one per cell)' if params.one_per_cell else ''}; "
            f"{int((~sample_cells(inside, rows, cols).astype(bool)).sum())} outside the background mask")
    if len(rows) < params.n_folds:
        raise ConfigError(f"stages.presence.n_folds: {params.n_folds} folds need at least as many usable occurrences "
                          f"(found {len(rows)}); lower n_folds or add occurrence points")
    return rows, cols


def _predict(model, predicted_cells: xr.DataArray, layers: dict, valid: xr.DataArray):
    """The model's suitability block by block; 0 on valid cells outside ``predicted_cells``."""
    import dask.array as da
    import numpy as np
    from habitat.suitability.presence import predict_grid
    arrays = [da.asarray(predicted_cells.data)]
    arrays += [da.asarray(layers[n].data).rechunk(arrays[0].chunks) for n in model.covariates]
    arrays.append(da.asarray(valid.data).rechunk(arrays[0].chunks))

    def block(cells: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
        *covariates, ok_block = blocks
        score = predict_grid(model, dict(zip(model.covariates, covariates)), valid=cells)
        return np.where(ok_block & ~cells.astype(bool), np.float32(0), score)

    return da.map_blocks(block, *arrays, dtype=np.float32)


STAGE = StageSpec(
    id="presence",
    version="1",
    doc="MaxEnt-style presence/background model (elapid): geographic-fold AUC and an alternative suitability.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=PresenceParams,
    run=run_presence,
)
