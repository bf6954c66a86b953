"""The layer catalogue: every layer a stage writes, declared once by id.

Stages name their inputs and outputs by id through :func:`layers`; they import this module and
never each other. A layer that exists only under a condition says so in ``created_if``:
``inputs.<key>`` (the pipeline gives that input), ``inputs.<key>[i]`` (it gives at least i + 1
entries), ``stages.<stage>.<field>.<key>`` (a stage's mapping parameter holds that key) and
``layer <id>`` (another layer was written) are checked by :func:`created`; any other text
describes a data-dependent condition (e.g. two or more populations) that only a run can tell.
"""

from __future__ import annotations

import re
from typing import get_args

from habitat.params import CriterionLayer
from habitat.stages.spec import LayerSpec
from habitat.vocabulary import CHANGE_NODATA

_DIST = dict(kind="raster", dtype="float32", units="m", nodata=float("nan"))
_FRAC = dict(kind="raster", dtype="float32", units="fraction", nodata=float("nan"))
_CLASS = dict(kind="raster", dtype="uint8", units="habitat class code (1..10)", nodata=0)
_SCORE = dict(kind="raster", dtype="float32", units="score 0-1", nodata=float("nan"))
_COST = dict(kind="raster", dtype="float32", units="resistance x m", nodata=float("nan"))
#: Units of the circuit current maps (1 A injected per population pair).
CURRENT_UNITS = "A (1 A per pair)"
_CURRENT = dict(kind="raster", dtype="float32", units=CURRENT_UNITS, nodata=float("nan"))
_TWO_POPULATIONS = "two or more populations (inputs.populations with >= 2 sites)"

#: Output ids of each stage, in the order the stage writes them.
PRODUCES: dict[str, tuple[str, ...]] = {}
_CATALOG: dict[str, LayerSpec] = {}


def _declare(stage_id: str, *specs: LayerSpec) -> None:
    for spec in specs:
        if spec.id in _CATALOG:
            raise ValueError(f"layer {spec.id!r} is declared twice")
        _CATALOG[spec.id] = spec
    PRODUCES[stage_id] = PRODUCES.get(stage_id, ()) + tuple(s.id for s in specs)


_declare(
    "ingest",
    LayerSpec(id="habitat_class_current", **_CLASS, doc="habitat classes of the latest land-cover epoch"),
    LayerSpec(id="habitat_class_baseline", **_CLASS, created_if="inputs.landcover[1]",
              doc="habitat classes of the earlier land-cover epoch (when two are given)"),
    LayerSpec(id="rivers", kind="vector", doc="river lines in the grid CRS with the layer's own columns (basins)"),
    LayerSpec(id="river_distance_m", **_DIST, doc="distance from each cell centre to the nearest river cell"),
    LayerSpec(id="floodplain", kind="raster", dtype="uint8", units="1 = floodplain", nodata=None,
              doc="cells within floodplain_buffer_m of a river (with a DEM: plus the valley floor, minus gorges): "
                  "where woody/wetland classes count as tugai"),
    LayerSpec(id="elevation_m", kind="raster", dtype="float32", units="m a.s.l.", nodata=float("nan"),
              created_if="inputs.elevation", doc="elevation (the DEM averaged onto the grid); NaN outside the DEM"),
    LayerSpec(id="slope_deg", kind="raster", dtype="float32", units="degrees", nodata=float("nan"),
              created_if="inputs.elevation", doc="slope (Horn 1981) of the gridded elevation"),
    LayerSpec(id="height_above_river_m", kind="raster", dtype="float32", units="m", nodata=float("nan"),
              created_if="inputs.elevation",
              doc="elevation minus the elevation of the nearest river cell (negative below it)"),
    LayerSpec(id="tugai_cover_current", **_FRAC, created_if="inputs.tugai[0]",
              doc="fraction of each cell covered by the latest tugai polygons"),
    LayerSpec(id="tugai_cover_baseline", **_FRAC, created_if="inputs.tugai[1]",
              doc="fraction of each cell covered by the earlier tugai polygons"),
    LayerSpec(id="canal_distance_m", **_DIST, created_if="inputs.canals", doc="distance to the nearest canal cell"),
    LayerSpec(id="road_distance_m", **_DIST, created_if="inputs.roads", doc="distance to the nearest road cell"),
    LayerSpec(id="settlement_distance_m", **_DIST,
              doc="distance to the nearest built-up cell or settlement point"),
    LayerSpec(id="water_distance_m", **_DIST, doc="distance to the nearest water cell or river"),
    LayerSpec(id="cropland_distance_m", **_DIST, doc="distance to the nearest cropland cell"),
    LayerSpec(id="protected_fraction", **_FRAC, created_if="inputs.protected_areas",
              doc="fraction of each cell inside protected areas"),
    LayerSpec(id="protected_areas", kind="vector", created_if="inputs.protected_areas",
              doc="protected areas in the grid CRS with pa_id, pa_name"),
    LayerSpec(id="historical_range_fraction", **_FRAC, created_if="inputs.historical_range",
              doc="fraction of each cell inside the historical range polygons"),
    LayerSpec(id="historical_range", kind="vector", created_if="inputs.historical_range",
              doc="historical range polygons in the grid CRS with range_id (input order), for maps"),
    LayerSpec(id="reporting_unit", kind="raster", dtype="int32", units="unit index (1..n)", nodata=0,
              created_if="inputs.reporting_units", doc="index of the reporting unit covering each cell centre"),
    LayerSpec(id="reporting_units", kind="vector", created_if="inputs.reporting_units",
              doc="reporting units in the grid CRS with unit_index, unit_id, unit_name"),
    LayerSpec(id="populations", kind="vector", created_if="inputs.populations",
              doc="population sites in the grid CRS with site_id, site_name, count"),
    LayerSpec(id="census", kind="table", created_if="inputs.census",
              doc="population census series: site_id, year, count, method, source (sorted)"),
    LayerSpec(id="occurrences", kind="vector", created_if="inputs.occurrences",
              doc="occurrence points in the grid CRS with occurrence_id (input order), for the presence model"),
    LayerSpec(id="scenario_barriers", kind="raster", dtype="float32", units="resistance (at least)",
              nodata=float("nan"), created_if="a scenario run (OUT/scenarios/<name>) with barrier edits",
              doc="cells a scenario's new barrier lines touch, with the resistance they get at least (inf = impassable)"),
    LayerSpec(id="scenario_crossings", kind="raster", dtype="float32", units="resistance", nodata=float("nan"),
              created_if="a scenario run (OUT/scenarios/<name>) with crossing edits",
              doc="cells of a scenario's new bridges or underpasses, with the resistance they get"),
    LayerSpec(id="known_places", kind="vector", created_if="inputs.known_places",
              doc="known places (evaluation only) in the grid CRS with place_id, place_name, kind, source"),
    LayerSpec(id="ingest_report", kind="table",
              doc="per input layer: file, features read, geometries repaired, empties dropped, cells"),
)

_declare(
    "suitability",
    LayerSpec(id="suitability", **_SCORE, doc="combined habitat suitability after hard constraints"),
    LayerSpec(id="degradation", kind="raster", dtype="float32", units="InVEST D", nodata=float("nan"),
              doc="total threat degradation D_x (InVEST Habitat Quality 3.20)"),
    LayerSpec(id="quality", **_SCORE, doc="habitat quality Q_x (InVEST Habitat Quality 3.20)"),
    *(LayerSpec(id=f"membership_{name}", **_SCORE, created_if=f"stages.suitability.criteria.{name}",
                doc=f"membership of the {name} criterion")
      for name in get_args(CriterionLayer)),
    LayerSpec(id="riparian_strip_share", **_FRAC, created_if="stages.suitability.riparian_strip",
              doc="share of each cell within riparian_strip.half_width_m of a river line (habitat.suitability.riparian)"),
    LayerSpec(id="membership_terrain", **_SCORE, created_if="inputs.elevation",
              doc="product of the terrain memberships (altitude, slope, height above the river); 1 outside the DEM"),
    LayerSpec(id="criteria", kind="table", doc="criteria: function, parameters, weight, provenance; AHP consistency"),
)

_declare(
    "patches",
    LayerSpec(id="patch_id", kind="raster", dtype="int32", units="patch id (1..n)", nodata=0,
              doc="habitat patches (suitability >= threshold, min area applied), 0 = no patch"),
    LayerSpec(id="patches", kind="vector", doc="patch outlines with the patch table's attributes"),
    LayerSpec(id="patch_table", kind="table", file_stem="patches",
              doc="per patch: area_ha, core_area_ha, mean suitability and quality, usable area, capacity, sites"),
)

_declare(
    "resistance",
    LayerSpec(id="resistance", kind="raster", dtype="float32", units="resistance (1 = easiest)",
              nodata=float("nan"), doc="movement resistance per cell; NaN = impassable or no data"),
)

_declare(
    "connectivity",
    LayerSpec(id="population_cores", kind="raster", dtype="int32", units="population index", nodata=0,
              doc="core cells of each population (passable cells within core_radius_m of its site)"),
    LayerSpec(id="corridors", **_COST, created_if=_TWO_POPULATIONS,
              doc="normalized least-cost corridors NLCC mosaicked by minimum, truncated at corridor_cutoff"),
    LayerSpec(id="barrier_improvement", kind="raster", dtype="float32", units="score", nodata=float("nan"),
              created_if=_TWO_POPULATIONS,
              doc="barrier improvement score (McRae et al. 2012): max over links and radii"),
    LayerSpec(id="least_cost_paths", kind="vector", created_if=_TWO_POPULATIONS,
              doc="least-cost paths with link attributes"),
    LayerSpec(id="dispersal_reach", kind="raster", dtype="uint8", units="1 = within reach", nodata=255,
              created_if=_TWO_POPULATIONS + " and stages.connectivity.max_dispersal_m",
              doc="cells on a move between connected populations within the maximum dispersal cost"),
    LayerSpec(id="links", kind="table",
              doc="per population pair: LCD, Euclidean distance, path length, ratios, connected (within the "
                  "maximum dispersal cost) and the reason when not"),
    LayerSpec(id="patch_importance", kind="table",
              doc="per patch: component, dPC with intra/flux/connector fractions, dIIC"),
    LayerSpec(id="graph_indices", kind="table", doc="PC, EC, IIC and the number of components of the patch graph"),
)

_declare(
    "circuit",
    LayerSpec(id="cumulative_current", **_CURRENT,
              doc="current summed over all population pairs (Circuitscape cum_curmap)"),
    LayerSpec(id="pinch_points", **_CURRENT, created_if="layer corridors",
              doc="cumulative current inside the least-cost corridors: where flow concentrates"),
    LayerSpec(id="effective_resistance", kind="table",
              doc="per population pair: effective resistance (ohm), beside the least-cost distance"),
    LayerSpec(id="resistance_matrix", kind="table", doc="effective resistance matrix, -1 = not connected"),
    LayerSpec(id="patch_current", kind="table", doc="per patch: current through it summed over cells and its mean"),
)

_declare(
    "indicators",
    LayerSpec(id="indicators", kind="table",
              doc="long form: unit_type, unit_id, unit_name, indicator, epoch, value, unit_of_measure"),
    LayerSpec(id="indicators_wide", kind="table", doc="one row per unit, one column per indicator_epoch"),
    LayerSpec(id="habitat_change", kind="raster", dtype="uint8", nodata=int(CHANGE_NODATA),
              units="0 never, 1 stable, 2 lost, 3 gained habitat",
              created_if="two epochs of the habitat source (inputs.landcover[1] or inputs.tugai[1])",
              doc="habitat change between the two epochs (codes of habitat.indicators.change.CHANGE_CODES)"),
    LayerSpec(id="population_status", kind="table", created_if="inputs.populations",
              doc="per site: census trend, patch, density vs capacity, overstocked, translocation_source"),
    LayerSpec(id="national_report", kind="table", created_if="inputs.reporting_units",
              doc="per Range State (reporting unit): habitat, protected-area and population items, "
                  "baseline and current values"),
    LayerSpec(id="national_report_xlsx", kind="workbook", created_if="inputs.reporting_units",
              file_stem="national_report",
              doc="the national report table as an Excel workbook (same rows as national_report.csv)"),
    LayerSpec(id="data_dictionary", kind="table", doc="one definition line per indicator and column"),
)

_declare(
    "report",
    LayerSpec(id="report_contents", kind="table",
              doc="per layer the report shows: kind, and its value range (rasters) or size (vectors, tables); "
                  "the report itself is OUT/report/report.html, figures/, styles/"),
)

_declare(
    "sites",
    LayerSpec(id="candidates", kind="raster", dtype="int32", units="candidate id (1..n)", nodata=0,
              doc="candidate sites: unoccupied pieces of habitat patches, 0 = none"),
    LayerSpec(id="sites", kind="vector",
              doc="ranked candidate sites: outlines with criteria, score, rank, contributions, explanation"),
    LayerSpec(id="site_ranking", kind="table", file_stem="sites",
              doc="ranked sites: criteria with units, normalized values, weights, contributions, score, rank, "
                  "Monte Carlo robustness, Pareto flags, explanation"),
    LayerSpec(id="excluded", kind="table",
              doc="candidates failing a hard criterion (or not scorable): failed criteria, value and shortfall"),
    LayerSpec(id="site_sensitivity", kind="table", file_stem="sensitivity",
              doc="long form: one-at-a-time weight changes (+-oat_change) and the Monte Carlo rank summary"),
    LayerSpec(id="site_criteria", kind="table",
              doc="hard and scoring criteria: column, rule or direction, normalization, weight, units, provenance"),
)

_declare(
    "presence",
    LayerSpec(id="presence_suitability", kind="raster", dtype="float32", units="score 0-1", nodata=float("nan"),
              created_if="inputs.occurrences",
              doc="MaxEnt cloglog suitability from occurrences (0 outside the background mask)"),
    LayerSpec(id="presence_folds", kind="table", created_if="inputs.occurrences",
              doc="per geographic fold: fold, n_train, n_test (presences), background counts, auc"),
    LayerSpec(id="presence_model", kind="table", created_if="inputs.occurrences",
              doc="per model feature: feature, covariate it is built from, coefficient"),
)

_declare(
    "restoration",
    LayerSpec(id="restoration_units", kind="vector", file_stem="priorities",
              doc="restoration units (hexagons or reach tiles) with restorable cells: outlines with the ranked columns"),
    LayerSpec(id="restoration_priorities", kind="table", file_stem="priorities",
              doc="ranked units: restorable area_ha, ECA with the unit restored, eca_gain_ha, gain_per_ha, dECA_pct, "
                  "patches joined, populations reconnected, selected under the budget"),
    LayerSpec(id="restoration_selection", kind="table", file_stem="selection",
              doc="units chosen under the area budget (exact over small pools, else greedy): order, area, ECA"),
)

_declare(
    "translocation",
    LayerSpec(id="translocation_plan", kind="table", file_stem="plan",
              doc="moves source -> site with animals, founder group, distance, site score and reason; unused sites "
                  "with what they lack (scipy.optimize.milp)"),
)



_declare(
    "evaluation",
    LayerSpec(id="evaluation", kind="table",
              doc="per known place: suitability and quality, their percentiles among the reference cells, "
                  "presence, top_quartile and bottom_half flags"),
    LayerSpec(id="evaluation_summary", kind="table",
              doc="continuous Boyce index of the presence places (Hirzel et al. 2006), counts, reference cells"),
)


#: Units of the Omniscape current maps: sources inject their suitability (relative amperes).
OMNISCAPE_CURRENT_UNITS = "A (sources inject their suitability)"
_OMNI_NORMALIZED = "calc_normalized_current is true (the default)"
_declare(
    "omniscape",
    LayerSpec(id="omniscape_current", **{**_CURRENT, "units": OMNISCAPE_CURRENT_UNITS}, file_stem="cum_currmap",
              doc="Omniscape cumulative current: moving-window circuits from every suitable source block"),
    LayerSpec(id="flow_potential", **{**_CURRENT, "units": OMNISCAPE_CURRENT_UNITS},
              created_if="calc_flow_potential is true (the default)",
              doc="Omniscape flow potential: the same windows with resistance 1 everywhere"),
    LayerSpec(id="normalized_current", kind="raster", dtype="float32", units="ratio", nodata=float("nan"),
              file_stem="normalized_cum_currmap", created_if=_OMNI_NORMALIZED,
              doc="cumulative current / flow potential: > 1 channelized, about 1 diffuse, < 1 impeded"),
    LayerSpec(id="flow_class", kind="raster", dtype="uint8", units="1 impeded, 2 diffuse, 3 channelized",
              nodata=0, created_if=_OMNI_NORMALIZED,
              doc="normalized current classed at impeded_below / channelized_above; 0 = nodata or outside every window"),
    LayerSpec(id="omniscape_summary", kind="table", file_stem="summary", created_if=_OMNI_NORMALIZED,
              doc="per Range State (reporting unit) and the study area: area and share channelized, diffuse, "
                  "impeded; mean normalized current"),
)

def layer(layer_id: str) -> LayerSpec:
    """The declaration of one layer."""
    return _CATALOG[layer_id]


def layers(*layer_ids: str, optional: bool | None = None) -> tuple[LayerSpec, ...]:
    """Declarations of these layers, in this order; ``optional`` overrides how a reader takes them
    (True: the stage runs without the layer; False: it needs it)."""
    specs = tuple(_CATALOG[i] for i in layer_ids)
    if optional is None:
        return specs
    return tuple(s.model_copy(update={"optional": optional}) for s in specs)


def outputs_of(stage_id: str) -> tuple[LayerSpec, ...]:
    """The layers a stage writes."""
    return layers(*PRODUCES[stage_id])


def all_layers() -> dict[str, LayerSpec]:
    """Every declared layer by id."""
    return dict(_CATALOG)


_PATH = re.compile(r"^(inputs|stages)(\.[A-Za-z_]\w*)+(\[\d+\])?$")


def created(spec: LayerSpec, pipeline, written: set[str] | frozenset[str] = frozenset()) -> bool | None:
    """Whether a run of ``pipeline`` creates ``spec``: True/False when ``created_if`` can be checked
    from the pipeline (and the ids already ``written``), None when only the data can tell."""
    condition = spec.created_if
    if condition is None:
        return True
    if condition.startswith("layer "):
        return condition.removeprefix("layer ").strip() in written
    if not _PATH.match(condition):
        return None
    path, _, index = condition.partition("[")
    value = pipeline
    for part in path.split("."):
        if value is None:
            return False
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    if index:
        return value is not None and len(value) > int(index.rstrip("]"))
    return value is not None and value != []
