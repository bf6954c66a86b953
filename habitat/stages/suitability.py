"""The suitability stage: criteria memberships, threat degradation and quality, combination."""

from __future__ import annotations

import functools
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


def _terrain_criteria(params: SuitabilityParams, ctx: StageContext) -> list[tuple[str, Any]]:
    """(ingest layer, criterion) of each configured terrain criterion whose layer exists."""
    if params.terrain is None:
        return []
    return [(source, getattr(params.terrain, name)) for name, source in TERRAIN_SOURCES.items()
            if getattr(params.terrain, name) is not None and source in ctx.inputs]


def _riparian_share(params: SuitabilityParams, ctx: StageContext) -> tuple[np.ndarray, np.ndarray]:
    """The cells' riparian strip share (habitat.suitability.riparian) and the share cap per class
    code (max_share_by_class); the score is raised block by block in :func:`_suitability_block`."""
    import numpy as np
    from habitat.suitability.riparian import strip_share
    rule = params.riparian_strip
    if "rivers" not in ctx.inputs:
        raise ConfigError("stages.suitability.riparian_strip: needs the river lines (inputs.rivers); "
                          "give them or set riparian_strip: null")
    share = strip_share(ctx.inputs["rivers"].geometry.to_numpy(), ctx.grid, rule.half_width_m)
    cap = np.ones(256)
    for name, value in rule.max_share_by_class.items():
        cap[HABITAT_CLASS_CODES[name]] = value
    ctx.log(f"riparian strip ({rule.half_width_m:g} m either side of the rivers): "
            f"{int((share > 0).sum())} cells hold some strip")
    return share, cap


def run_suitability(ctx: StageContext) -> dict[str, Any]:
    """Suitability in [0, 1] from the configured criteria and threats (METHODS.md 1-2).

    Every per-cell step runs on numpy blocks inside one task per block (the same functions, in
    the same order, as on whole arrays), so a block is read once and its outputs are made in
    one pass of the scheduler instead of one lazy operation per step; only a criterion's
    neighbourhood mean (``radius_m``) is a separate lazy step, for its halo.
    """
    import dask.array as da
    import numpy as np
    import pandas as pd
    from habitat.io.rasters import CHUNK_CELLS
    from habitat.layers import make_layer
    from habitat.suitability.membership import cover_within_radius
    params: SuitabilityParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the suitability stage needs a projected grid in metres (e.g. 'default')")
    classes = ctx.inputs["habitat_class_current"]
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
    terrain = _terrain_criteria(params, ctx)

    # the block task's inputs: ingest layers by id, and each criterion's neighbourhood mean
    base = classes.data if isinstance(classes.data, da.Array) else da.from_array(classes.data, chunks=CHUNK_CELLS)
    layers: dict[str, Any] = {}

    def need(layer_id: str, array: Any) -> None:
        if layer_id not in layers:
            data = array.data if hasattr(array, "data") else array
            layers[layer_id] = da.asarray(data).rechunk(base.chunks)

    need("habitat_class_current", classes)
    for name in threats:
        need(THREAT_SOURCES[name], threats[name])
    share = cap = None
    if params.riparian_strip is not None:
        share, cap = _riparian_share(params, ctx)
        need("riparian:share", share)
    if params.floodplain_only:
        need("floodplain", ctx.inputs["floodplain"])
    for source, _ in terrain:
        need(source, ctx.inputs[source])
    for name, criterion in params.criteria.items():
        if criterion.function == "class_scores":
            continue
        if criterion.radius_m is None:
            if name != "quality":
                need(CRITERION_SOURCES[name], _criterion_values(name, ctx, None))
            continue
        if name == "quality":  # a neighbourhood of quality needs quality lazily first
            values = classes.copy(data=_quality(classes, threats, threat_table, sensitivity, params.half_saturation)[1])
        else:
            values = _criterion_values(name, ctx, None)
        need(f"radius:{name}", cover_within_radius(values, radius_m=criterion.radius_m, cell_size_m=grid.cell_size_m))

    weights, ahp_stats = _weights(params, list(params.criteria))
    names = ["suitability", "degradation", "quality", *(f"membership_{n}" for n in params.criteria)]
    if terrain:
        names.append("membership_terrain")
    block = functools.partial(
        _suitability_block, keys=tuple(layers), params=params, codes=codes, threats=tuple(threats),
        threat_table=threat_table, sensitivity=sensitivity, weights=weights, terrain=tuple(terrain),
        riparian_cap=cap,
    )
    stacked = da.map_blocks(block, *layers.values(), new_axis=0, chunks=((len(names),), *base.chunks),
                            dtype=np.float32, meta=np.empty((0, 0, 0), np.float32))
    units = {"degradation": "InVEST D"}
    out: dict[str, Any] = {name: make_layer(stacked[i], grid, name=name, units=units.get(name, "score 0-1"))
                           for i, name in enumerate(names)}
    if share is not None:
        out["riparian_strip_share"] = make_layer(share, grid, name="riparian_strip_share", units="fraction")
    out["criteria"] = pd.DataFrame(
        [{"criterion": name, "function": c.function, "radius_m": c.radius_m,
          "params": ";".join(f"{k}={v}" for k, v in sorted(c.params.items())),
          "weight": None if weights is None else weights[name], "provenance": c.provenance, **ahp_stats}
         for name, c in params.criteria.items()]
    )
    return out


def _suitability_block(*arrays: np.ndarray, keys: tuple[str, ...], params: SuitabilityParams, codes: dict[str, int],
                       threats: tuple[str, ...], threat_table: pd.DataFrame, sensitivity: pd.DataFrame,
                       weights: dict[str, float] | None, terrain: tuple[tuple[str, Any], ...],
                       riparian_cap: np.ndarray | None) -> np.ndarray:
    """All outputs of one block, stacked as float32 (suitability, degradation, quality, memberships)."""
    import numpy as np

    from habitat.suitability._kernels import where_valid
    from habitat.suitability.combine import apply_constraints, combine_memberships
    from habitat.suitability.membership import apply_membership, class_scores
    from habitat.suitability.quality import degradation_quality_block

    layer = dict(zip(keys, arrays))
    classes = layer["habitat_class_current"]
    valid = classes > 0
    if threats:
        degradation, quality = degradation_quality_block(
            classes, {n: layer[THREAT_SOURCES[n]] for n in threats}, threat_table=threat_table,
            sensitivity_table=sensitivity, half_saturation=params.half_saturation, lulc_nodata=0,
        )
    else:
        lookup = np.zeros(256)
        lookup[sensitivity["lucode"].to_numpy()] = sensitivity["habitat"].to_numpy()
        degradation, quality = np.where(valid, 0.0, np.nan), np.where(valid, lookup[classes], np.nan)

    memberships: dict[str, np.ndarray] = {}
    for name, criterion in params.criteria.items():
        if criterion.function == "class_scores":
            table = {HABITAT_CLASS_CODES[c]: v for c, v in criterion.class_scores.items()}
            membership = class_scores(classes, table, nodata=0)
        else:
            if criterion.radius_m is not None:
                values = layer[f"radius:{name}"]
            elif name == "quality":
                values = quality
            else:
                values = layer[CRITERION_SOURCES[name]].astype(np.float64)
            membership = apply_membership(values, criterion.function, criterion.params)
        membership = np.asarray(membership, dtype=np.float64)
        # NaN outside the data in place when the membership is a fresh array (no new block)
        masked = membership if membership.flags.writeable and membership.flags.c_contiguous and not any(
            np.may_share_memory(membership, a) for a in (*arrays, quality)) else np.empty(classes.shape)
        where_valid(membership, valid, masked)
        memberships[name] = masked

    score = combine_memberships(memberships, method=params.combination, weights=weights, gamma=params.gamma)
    if riparian_cap is not None:
        from habitat.suitability.riparian import riparian_suitability

        score = riparian_suitability(score, layer["riparian:share"], params.riparian_strip.tugai_score,
                                     riparian_cap[classes.astype(np.uint8)])
    constraints = {"exclude_classes": ~np.isin(classes, [codes[c] for c in params.exclude_classes])}
    if params.floodplain_only:
        constraints["floodplain"] = layer["floodplain"] > 0
    score = apply_constraints(score, constraints)
    outputs = [score, degradation, quality, *memberships.values()]
    if terrain:
        product = None
        for source, criterion in terrain:
            name = next(n for n, s in TERRAIN_SOURCES.items() if s == source)
            mu = _TERRAIN_MEMBERSHIP[name](layer[source].astype(np.float64), criterion)
            mu = np.where(np.isnan(mu), 1.0, mu)
            product = mu if product is None else product * mu
        outputs[0] = score * product
        outputs.append(product)
    stacked = np.empty((len(outputs), *classes.shape), dtype=np.float32)
    for i, data in enumerate(outputs):
        where_valid(np.asarray(data, dtype=np.float64), valid, stacked[i])
    return stacked


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
