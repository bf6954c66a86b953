"""The suitability stage: criteria memberships, threat degradation and quality, combination."""

from __future__ import annotations

from typing import Any

from habitat.errors import ConfigError
from habitat.vocabulary import HABITAT_CLASS_CODES
from habitat.params import SuitabilityParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

#: Ingest layer behind each criterion layer name and each threat.
CRITERION_SOURCES = {
    "habitat_class": "habitat_class_current",
    "tugai_cover": "tugai_cover_current",
    "water_distance_m": "water_distance_m",
    "river_distance_m": "river_distance_m",
    "settlement_distance_m": "settlement_distance_m",
    "road_distance_m": "road_distance_m",
    "canal_distance_m": "canal_distance_m",
    "cropland_distance_m": "cropland_distance_m",
    "protected_fraction": "protected_fraction",
}
THREAT_SOURCES = {
    "settlements": "settlement_distance_m",
    "roads": "road_distance_m",
    "canals": "canal_distance_m",
    "cropland": "cropland_distance_m",
}

def _terrain():
    """habitat.suitability.terrain, loaded when a terrain membership is computed (it loads scipy)."""
    from habitat.suitability import terrain

    return terrain


#: Terrain criterion -> ingest layer and membership function (habitat.suitability.terrain).
TERRAIN_SOURCES = {"altitude_m": "elevation_m", "slope_deg": "slope_deg", "height_above_river_m": "height_above_river_m"}
_TERRAIN_MEMBERSHIP = {
    "altitude_m": lambda v, c: _terrain().altitude_membership(v, full_m=c.full, zero_m=c.zero),
    "slope_deg": lambda v, c: _terrain().slope_membership(v, full_deg=c.full, zero_deg=c.zero),
    "height_above_river_m": lambda v, c: _terrain().height_above_river_membership(v, full_m=c.full, zero_m=c.zero),
}
_OPTIONAL_INPUTS = {"tugai_cover_current", "road_distance_m", "canal_distance_m", "protected_fraction",
                    *TERRAIN_SOURCES.values()}
_INPUT_IDS = ("habitat_class_current", "floodplain",
              *sorted(set(CRITERION_SOURCES.values()) - {"habitat_class_current"}),
              *TERRAIN_SOURCES.values())
INPUTS = (*(catalog.layers(i, optional=i in _OPTIONAL_INPUTS)[0] for i in _INPUT_IDS),
          *catalog.layers("rivers", optional=True))  # the river lines: riparian_strip only
OUTPUTS = catalog.outputs_of("suitability")


def _criterion_values(name: str, ctx: StageContext, quality: xr.DataArray) -> xr.DataArray:
    import numpy as np
    if name == "quality":
        return quality
    source = CRITERION_SOURCES[name]
    if source not in ctx.inputs:
        raise ConfigError(
            f"stages.suitability.criteria.{name}: needs layer {source}, which ingest did not write "
            "(give the matching input, or drop the criterion)"
        )
    return ctx.inputs[source].astype(np.float64)


def _weights(params: SuitabilityParams, names: list[str]) -> tuple[dict[str, float] | None, dict]:
    from habitat.suitability.ahp import ahp_weights
    if params.combination not in ("weighted_linear", "weighted_geometric_mean"):
        return None, {}
    if params.weights is not None:
        total = sum(params.weights.values())
        return {k: v / total for k, v in params.weights.items()}, {}
    result = ahp_weights(params.ahp.matrix, names=names, accept_inconsistent=params.ahp.accept_inconsistent)
    stats = {"ahp_lambda_max": result.lambda_max, "ahp_ci": result.ci, "ahp_cr": result.cr,
             "ahp_ri": result.ri, "ahp_ri_table": result.ri_table}
    return {name: float(result.weights[name]) for name in names}, stats


def _quality(classes: xr.DataArray, threats: dict[str, xr.DataArray], threat_table: pd.DataFrame,
             sensitivity: pd.DataFrame, half_saturation: float) -> tuple[Any, Any]:
    """Degradation and quality, block by block (per cell: threat distances are precomputed)."""
    from habitat.suitability.quality import degradation_quality_block
    import dask.array as da
    import numpy as np
    import xarray as xr
    from habitat.suitability.quality import habitat_quality
    names = list(threats)

    def block(codes: np.ndarray, *distances: np.ndarray) -> np.ndarray:
        if not names:
            lookup = np.zeros(256)
            lookup[sensitivity["lucode"].to_numpy()] = sensitivity["habitat"].to_numpy()
            valid = codes > 0
            return np.stack([np.where(valid, 0.0, np.nan), np.where(valid, lookup[codes], np.nan)])
        return np.stack(degradation_quality_block(
            codes, dict(zip(names, distances)), threat_table=threat_table, sensitivity_table=sensitivity,
            half_saturation=half_saturation, lulc_nodata=0,
        ))

    base = da.asarray(classes.data)
    arrays = [base] + [da.asarray(threats[n].data).rechunk(base.chunks) for n in names]
    stacked = da.map_blocks(block, *arrays, new_axis=0, chunks=((2,), *base.chunks), dtype=np.float64)
    return stacked[0], stacked[1]


def _terrain_membership(params: SuitabilityParams, ctx: StageContext) -> xr.DataArray | None:
    """Product of the terrain memberships (1 up to ``full``, 0 from ``zero``); 1 where the DEM has
    no value (ingest reports those cells). None without terrain criteria or elevation layers."""
    import numpy as np
    import xarray as xr
    if params.terrain is None:
        return None
    product = None
    for name, source in TERRAIN_SOURCES.items():
        criterion = getattr(params.terrain, name)
        if criterion is None or source not in ctx.inputs:
            continue
        values = ctx.inputs[source].astype(np.float64)
        mu = xr.apply_ufunc(_TERRAIN_MEMBERSHIP[name], values, kwargs={"c": criterion},
                            dask="parallelized", output_dtypes=[np.float64]).fillna(1.0)
        product = mu if product is None else product * mu
    return product


def _riparian(params: SuitabilityParams, ctx: StageContext, classes: xr.DataArray,
              score: xr.DataArray) -> tuple[xr.DataArray, np.ndarray]:
    """The combined score raised to the cell's riparian strip of tugai (habitat.suitability.riparian),
    capped per majority class (max_share_by_class), and the strip share."""
    import numpy as np
    from habitat.suitability.riparian import riparian_suitability, strip_share
    rule = params.riparian_strip
    if "rivers" not in ctx.inputs:
        raise ConfigError("stages.suitability.riparian_strip: needs the river lines (inputs.rivers); "
                          "give them or set riparian_strip: null")
    share = strip_share(ctx.inputs["rivers"].geometry.to_numpy(), ctx.grid, rule.half_width_m)
    cap = np.ones(256)
    for name, value in rule.max_share_by_class.items():
        cap[HABITAT_CLASS_CODES[name]] = value
    raised = riparian_suitability(np.asarray(score.values), share, rule.tugai_score,
                                  cap[np.asarray(classes.values, dtype=np.uint8)])
    ctx.log(f"riparian strip ({rule.half_width_m:g} m either side of the rivers): "
            f"{int((share > 0).sum())} cells hold some strip, {int((raised > np.asarray(score.values)).sum())} "
            "score higher for it")
    return score.copy(data=raised), share


def run_suitability(ctx: StageContext) -> dict[str, Any]:
    """Suitability in [0, 1] from the configured criteria and threats (METHODS.md 1-2)."""
    import numpy as np
    import pandas as pd
    import xarray as xr
    from habitat.layers import make_layer
    from habitat.suitability.combine import apply_constraints, combine_memberships
    from habitat.suitability.membership import apply_membership, class_scores, cover_within_radius
    params: SuitabilityParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the suitability stage needs a projected grid in metres (e.g. 'default')")
    classes = ctx.inputs["habitat_class_current"]
    valid = classes > 0
    codes = {name: HABITAT_CLASS_CODES[name] for name in params.sensitivity}

    threats = {name: ctx.inputs[THREAT_SOURCES[name]] for name in params.threats if THREAT_SOURCES[name] in ctx.inputs}
    for name in sorted(set(params.threats) - set(threats)):
        ctx.log(f"threat {name}: no {THREAT_SOURCES[name]} layer (input not given); left out")
    threat_table = pd.DataFrame(
        [{"threat": n, "max_dist_m": t.max_dist_m, "weight": t.weight, "decay": t.decay}
         for n, t in params.threats.items() if n in threats]
    )
    sensitivity = pd.DataFrame(
        [{"lucode": codes[c], "habitat": s.habitat, **{n: getattr(s, n) for n in threats}}
         for c, s in params.sensitivity.items()]
    )
    degradation, quality = _quality(classes, threats, threat_table, sensitivity, params.half_saturation)
    degradation, quality = classes.copy(data=degradation), classes.copy(data=quality)

    memberships: dict[str, xr.DataArray] = {}
    for name, criterion in params.criteria.items():
        values = _criterion_values(name, ctx, quality)
        if criterion.radius_m is not None:
            values = cover_within_radius(values, radius_m=criterion.radius_m, cell_size_m=grid.cell_size_m)
        if criterion.function == "class_scores":
            table = {HABITAT_CLASS_CODES[c]: v for c, v in criterion.class_scores.items()}
            membership = class_scores(classes, table, nodata=0)
        else:
            membership = apply_membership(values, criterion.function, criterion.params)
        memberships[name] = xr.where(valid, membership, np.nan)

    weights, ahp_stats = _weights(params, list(memberships))
    score = combine_memberships(memberships, method=params.combination, weights=weights, gamma=params.gamma)
    share = None
    if params.riparian_strip is not None:
        score, share = _riparian(params, ctx, classes, score)
    constraints = {"exclude_classes": ~classes.isin([codes[c] for c in params.exclude_classes])}
    if params.floodplain_only:
        constraints["floodplain"] = ctx.inputs["floodplain"] > 0
    score = apply_constraints(score, constraints)
    terrain = _terrain_membership(params, ctx)
    if terrain is not None:
        score = score * terrain

    def raster(name: str, data: xr.DataArray, units: str) -> xr.DataArray:
        array = xr.where(valid, data, np.nan).astype(np.float32)
        return make_layer(array.data, grid, name=name, units=units)

    out: dict[str, Any] = {
        "suitability": raster("suitability", score, "score 0-1"),
        "degradation": raster("degradation", degradation, "InVEST D"),
        "quality": raster("quality", quality, "score 0-1"),
    }
    for name, membership in memberships.items():
        out[f"membership_{name}"] = raster(f"membership_{name}", membership, "score 0-1")
    if share is not None:
        out["riparian_strip_share"] = make_layer(share, grid, name="riparian_strip_share", units="fraction")
    if terrain is not None:
        out["membership_terrain"] = raster("membership_terrain", terrain, "score 0-1")
    out["criteria"] = pd.DataFrame(
        [{"criterion": name, "function": c.function, "radius_m": c.radius_m,
          "params": ";".join(f"{k}={v}" for k, v in sorted(c.params.items())),
          "weight": None if weights is None else weights[name], "provenance": c.provenance, **ahp_stats}
         for name, c in params.criteria.items()]
    )
    return out


STAGE = StageSpec(
    id="suitability",
    version="1",
    doc="Criteria memberships, InVEST-style threat degradation and quality, weighted combination, optional "
        "sub-cell riparian strip, constraints, terrain.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=SuitabilityParams,
    run=run_suitability,
)
