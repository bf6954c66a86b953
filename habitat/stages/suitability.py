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

#: Terrain criterion -> ingest layer (memberships: habitat.suitability.compose.TERRAIN_MEMBERSHIPS).
TERRAIN_SOURCES = {"altitude_m": "elevation_m", "slope_deg": "slope_deg", "height_above_river_m": "height_above_river_m"}
_OPTIONAL_INPUTS = {"tugai_cover_current", "road_distance_m", "canal_distance_m", "protected_fraction",
                    *TERRAIN_SOURCES.values()}
_INPUT_IDS = ("habitat_class_current", "floodplain",
              *sorted(set(CRITERION_SOURCES.values()) - {"habitat_class_current"}),
              *TERRAIN_SOURCES.values())
INPUTS = (*(catalog.layers(i, optional=i in _OPTIONAL_INPUTS)[0] for i in _INPUT_IDS),
          *catalog.layers("rivers", optional=True))  # the river lines: riparian_strip only
OUTPUTS = catalog.outputs_of("suitability")


def _criterion_values(name: str, ctx: StageContext) -> xr.DataArray:
    """The layer a criterion reads, as ingest wrote it (the block task widens it to float64)."""
    source = CRITERION_SOURCES[name]
    if source not in ctx.inputs:
        raise ConfigError(
            f"stages.suitability.criteria.{name}: needs layer {source}, which ingest did not write "
            "(give the matching input, or drop the criterion)"
        )
    return ctx.inputs[source]


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
             sensitivity: pd.DataFrame, half_saturation: float) -> Any:
    """Quality alone, block by block (per cell: threat distances are precomputed), for a
    neighbourhood of quality; the block tasks compute degradation themselves."""
    import dask.array as da
    import numpy as np
    from habitat.suitability.compose import degradation_quality
    names = list(threats)

    def block(codes: np.ndarray, *distances: np.ndarray) -> np.ndarray:
        return degradation_quality(codes, dict(zip(names, distances)), threat_table, sensitivity, half_saturation)[1]

    base = da.asarray(classes.data)
    arrays = [base] + [da.asarray(threats[n].data).rechunk(base.chunks) for n in names]
    return da.map_blocks(block, *arrays, chunks=base.chunks, dtype=np.float64)


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


def _load_kernels() -> None:
    """Import numba and load a compiled kernel (its first dispatch sets numba's registries up)."""
    try:
        import numpy as np

        from habitat.suitability._kernels import where_valid

        where_valid(np.zeros((1, 1)), np.ones((1, 1), dtype=bool), np.empty((1, 1), dtype=np.float32))
    except Exception:  # noqa: BLE001 - the block tasks load the kernels again and report the error
        pass


def _load_kernels_aside() -> None:
    """Load the compiled kernels on a thread of their own while the graph is built and the
    outputs opened: numba's import and first dispatch (~0.4 s of CPU, bench/README.md
    "Suitability at 5x") otherwise ran serially, in the main thread and then in the first block
    task of every worker. Only without a Dask cluster (the workers there are other processes)."""
    import threading

    from habitat.compute import active_client
    if active_client() is None:
        threading.Thread(target=_load_kernels, name="suitability-kernels", daemon=True).start()


def run_suitability(ctx: StageContext) -> dict[str, Any]:
    """Suitability in [0, 1] from the configured criteria and threats (METHODS.md 1-2).

    The formula is :func:`habitat.suitability.compose.compose_suitability`, called once per block
    in one dask task per block (the same functions, in the same order, as on whole arrays); a
    criterion's neighbourhood mean (``radius_m``) is taken in that task too, on the block's window
    with its halo. A neighbourhood of ``quality`` stays a lazy ``map_overlap`` step before it.
    """
    import dask.array as da
    import pandas as pd
    from habitat.io.rasters import CHUNK_CELLS
    from habitat.layers import make_layer
    from habitat.suitability.compose import output_names
    from habitat.suitability.membership import cover_within_radius
    params: SuitabilityParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the suitability stage needs a projected grid in metres (e.g. 'default')")
    _load_kernels_aside()
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
    sources: dict[str, str] = {}  # layer id -> raster file the block task reads its windows from
    halos: dict[str, tuple[str, float]] = {}  # criterion -> (layer id, radius_m) of in-task neighbourhood means

    def need(layer_id: str, array: Any) -> None:
        if layer_id not in layers:
            data = array.data if hasattr(array, "data") else array
            layers[layer_id] = da.asarray(data).rechunk(base.chunks)
            source = getattr(array, "encoding", {}).get("source")
            if source is not None and isinstance(data, da.Array):
                sources[layer_id] = source

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
                need(CRITERION_SOURCES[name], _criterion_values(name, ctx))
            continue
        if name == "quality":  # a neighbourhood of quality needs quality lazily first
            values = classes.copy(data=_quality(classes, threats, threat_table, sensitivity, params.half_saturation))
            # the mean's data alone: the DataArray copies the class layer's encoding, whose source
            # file would be read in its place
            need(f"radius:{name}", cover_within_radius(values, radius_m=criterion.radius_m,
                                                       cell_size_m=grid.cell_size_m).data)
        else:  # the mean is taken inside the block task, on the block's window with its halo
            need(CRITERION_SOURCES[name], _criterion_values(name, ctx))
            halos[name] = (CRITERION_SOURCES[name], criterion.radius_m)

    weights, ahp_stats = _weights(params, list(params.criteria))
    names = output_names(list(params.criteria), bool(terrain))
    block = functools.partial(
        _suitability_block, keys=tuple(layers), params=params, codes=codes, threats=tuple(threats),
        threat_table=threat_table, sensitivity=sensitivity, weights=weights, terrain=tuple(terrain),
        riparian_cap=cap,
    )
    stacked = _block_tasks(block, layers, halos, base.chunks, len(names), grid.cell_size_m, sources)
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


def _block_tasks(block: Any, layers: dict[str, Any], halos: dict[str, tuple[str, float]],
                 chunks: tuple[tuple[int, ...], tuple[int, ...]], n_outputs: int, cell_size_m: float,
                 sources: dict[str, str] | None = None) -> Any:
    """One dask task per block of ``chunks``: ``block(*layer blocks, radius=...)`` stacked on a new first axis.

    Each task gets the blocks of every layer at its position and, for each criterion in ``halos``, the
    blocks its window with the halo overlaps, from which it takes the neighbourhood mean itself: no
    slicing and concatenating tasks for the halo (as ``map_overlap`` makes), no separate mean task.
    A layer in ``sources`` (layer id -> raster file on the grid) is read inside the task (its block,
    or the halo window clipped to the grid, in one read) instead of from separate read tasks: the
    threaded scheduler runs cheap read tasks far ahead of the blocks that use them, and the blocks
    read and waiting grew with the grid (335 MiB of them on 147 M cells, bench/README.md
    "Suitability in flat memory"); read in the task, a block's inputs live only while it runs.
    """
    import itertools

    import dask.array as da
    import numpy as np
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    from habitat.io.rasters import WindowReader
    from habitat.suitability.membership import radius_halo_cells

    sources = sources or {}
    readers = {k: WindowReader(path) for k, path in sources.items()}
    arrays = list(layers.values())
    name = "suitability-block-" + tokenize(*arrays, block, halos, cell_size_m, sources)
    starts = [np.cumsum((0, *c)) for c in chunks]
    shape = (int(starts[0][-1]), int(starts[1][-1]))
    graph = {}
    for i, j in itertools.product(range(len(chunks[0])), range(len(chunks[1]))):
        rows, cols = (int(starts[0][i]), int(starts[0][i + 1])), (int(starts[1][j]), int(starts[1][j + 1]))
        args: list[Any] = [(readers[k], *rows, *cols) if k in sources else (a.name, i, j)
                           for k, a in layers.items()]
        windows = {}
        for criterion, (layer_id, radius_m) in halos.items():
            halo = radius_halo_cells(radius_m, cell_size_m)
            window = ((rows[0] - halo, rows[1] + halo), (cols[0] - halo, cols[1] + halo))
            if layer_id in sources:  # one read of the window clipped to the grid
                clip = [(max(lo, 0), min(hi, n)) for (lo, hi), n in zip(window, shape)]
                args.append((readers[layer_id], *clip[0], *clip[1]))
                windows[criterion] = (window, [((clip[0][0], clip[1][0]), len(args) - 1)], radius_m)
                continue
            near = [[k for k in range(len(c)) if s[k] < hi and s[k + 1] > lo]
                    for c, s, (lo, hi) in zip(chunks, starts, window)]
            parts = [((int(starts[0][a]), int(starts[1][b])), len(args) + n)
                     for n, (a, b) in enumerate(itertools.product(*near))]
            args += [(layers[layer_id].name, a, b) for a, b in itertools.product(*near)]
            windows[criterion] = (window, parts, radius_m)
        graph[(name, 0, i, j)] = (functools.partial(_with_means, block=block, windows=windows,
                                                    n_layers=len(arrays), cell_size_m=cell_size_m), *args)
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=[a for k, a in layers.items() if k not in sources])
    return da.Array(hlg, name, chunks=((n_outputs,), *chunks), dtype=np.float32,
                    meta=np.empty((0, 0, 0), np.float32))


def _with_means(*blocks: np.ndarray, block: Any, windows: dict, n_layers: int, cell_size_m: float) -> np.ndarray:
    """``block`` on the layer blocks, with each criterion's neighbourhood mean (``radius:<name>``) taken on
    its window (cells beyond the grid NaN, as ``map_overlap`` pads: not counted in the mean)."""
    import numpy as np
    from habitat.suitability.membership import cover_within_radius, radius_halo_cells

    means = []
    for (rows, cols), parts, radius_m in windows.values():
        shape = (rows[1] - rows[0], cols[1] - cols[0])
        first = blocks[parts[0][1]]
        if len(parts) == 1 and parts[0][0] == (rows[0], cols[0]) and first.shape == shape:
            window = first  # one read covers the whole window (inside the grid): no copy
        else:  # float32 stays float32 (NaN fits; the mean widens it exactly)
            window = np.full(shape, np.nan, dtype=np.float32 if first.dtype == np.float32 else np.float64)
        for (r0, c0), index in parts if window is not first else ():
            part = blocks[index]
            top, left = max(r0, rows[0]), max(c0, cols[0])
            bottom, right = min(r0 + part.shape[0], rows[1]), min(c0 + part.shape[1], cols[1])
            window[top - rows[0]:bottom - rows[0], left - cols[0]:right - cols[0]] = \
                part[top - r0:bottom - r0, left - c0:right - c0]
        halo = radius_halo_cells(radius_m, cell_size_m)
        mean = cover_within_radius(window, radius_m=radius_m, cell_size_m=cell_size_m)
        means.append(mean[halo:mean.shape[0] - halo, halo:mean.shape[1] - halo])
    return block(*blocks[:n_layers], *means, extra_keys=tuple(f"radius:{n}" for n in windows))


def _suitability_block(*arrays: np.ndarray, keys: tuple[str, ...], params: SuitabilityParams, codes: dict[str, int],
                       threats: tuple[str, ...], threat_table: pd.DataFrame, sensitivity: pd.DataFrame,
                       weights: dict[str, float] | None, terrain: tuple[tuple[str, Any], ...],
                       riparian_cap: np.ndarray | None, extra_keys: tuple[str, ...] = ()) -> np.ndarray:
    """All outputs of one block, stacked as float32 (habitat.suitability.compose.compose_suitability
    on the block's layers, keyed by ingest layer id in ``keys``, then ``extra_keys``)."""
    import numpy as np

    from habitat.suitability.compose import compose_suitability, output_names

    layer = dict(zip((*keys, *extra_keys), arrays))
    criteria, values = {}, {}
    for name, criterion in params.criteria.items():
        if criterion.function == "class_scores":
            criteria[name] = ("class_scores", {HABITAT_CLASS_CODES[c]: v for c, v in criterion.class_scores.items()})
            continue
        criteria[name] = (criterion.function, criterion.params)
        if criterion.radius_m is not None:
            values[name] = layer[f"radius:{name}"]
        elif name != "quality":
            values[name] = layer[CRITERION_SOURCES[name]]
    names = {s: n for n, s in TERRAIN_SOURCES.items()}
    strip = params.riparian_strip
    classes = layer["habitat_class_current"]
    out = np.empty((len(output_names(criteria, bool(terrain))), *classes.shape), dtype=np.float32)
    compose_suitability(
        classes, criteria=criteria, values=values,
        threat_distances_m={n: layer[THREAT_SOURCES[n]] for n in threats}, threat_table=threat_table,
        sensitivity=sensitivity, half_saturation=params.half_saturation, combination=params.combination,
        weights=weights, gamma=params.gamma, excluded_codes=[codes[c] for c in params.exclude_classes],
        floodplain=layer["floodplain"] if params.floodplain_only else None,
        riparian_share=layer["riparian:share"] if riparian_cap is not None else None,
        riparian_tugai_score=strip.tugai_score if strip is not None else 1.0, riparian_cap_by_code=riparian_cap,
        terrain=[(names[source], layer[source], c.full, c.zero) for source, c in terrain], out=out,
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
