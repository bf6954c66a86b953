"""Parameter models of the stages (the ``stages:`` section of a pipeline file).

Every model is frozen and rejects unknown keys. Defaults for the deer live in ``habitat/defaults/`` (``config/``) with
their provenance and are loaded here, so a pipeline that says ``suitability: {}`` gets them.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

import yaml
from pydantic import Field, model_validator

from habitat.defaults import default_file
from habitat.vocabulary import DEER_HABITAT_CLASSES, HABITAT_CLASSES, HabitatClass, Strict


@cache
def _defaults(name: str) -> dict:
    return yaml.safe_load(default_file(*name.split("/")).read_text(encoding="utf-8"))


# -- ingest ---------------------------------------------------------------------------------
class IngestParams(Strict):
    """Parameters of the ingest stage."""

    floodplain_buffer_m: float = Field(
        3000.0, gt=0, description="tree/shrub/wetland count as tugai within this distance of a river [A]"
    )
    context_pad_m: float = Field(
        5000.0, ge=0, description="distances are computed on the grid grown by this margin, so features "
        "just outside the study area count (at least the largest threat distance)",
    )
    distance_cap_m: float | None = Field(
        None, gt=0, description="distance grids (to rivers, water, cropland, settlements, canals, roads; m): "
        "None = exact Euclidean distances, made row strip by row strip (habitat.io.vectors.distance_rows_m: "
        "memory of one strip, whatever the grid); a number = the same distances, inf beyond the cap; "
        "must be >= floodplain_buffer_m (with a DEM, >= "
        "valley_distance_m) and >= the largest distance a suitability criterion or threat reads",
    )
    unknown_landcover_codes: Literal["error", "nodata"] = Field(
        "error", description="what to do with land-cover codes missing from the crosswalk"
    )
    # with inputs.elevation only (habitat.suitability.terrain.valley_floodplain):
    valley_distance_m: float = Field(
        30_000.0, ge=0, description="with a DEM, cells up to this far from a river whose height above it is at "
        "most valley_height_m are floodplain too (deltas, wide valleys) [A]; must be >= floodplain_buffer_m",
    )
    valley_height_m: float = Field(
        10.0, description="highest valley-floor cell above its nearest river cell (m): the deepest groundwater "
        "mature Populus euphratica reaches, 6.9-7.8 m (Ling et al. 2015, Sci. Rep. 5:15418), rounded up",
    )
    floodplain_max_altitude_m: float = Field(
        1500.0, description="with a DEM, no floodplain at or above this altitude (m): tugai is a plain/desert-belt "
        "habitat below about 500-1,000 m (Great Soviet Encyclopedia 'Tajik SSR'); 1,500 m = the zero point of "
        "the suitability altitude membership",
    )
    floodplain_max_height_m: float = Field(
        60.0, description="with a DEM, no floodplain at or above this height above the river (m): the zero point "
        "of the suitability height-above-river membership (10 m plus three times the DEM disagreement) [A]",
    )

    @model_validator(mode="after")
    def _valley(self) -> IngestParams:
        if self.valley_distance_m < self.floodplain_buffer_m:
            raise ValueError("valley_distance_m must be >= floodplain_buffer_m (the valley floor extends the buffer)")
        if self.distance_cap_m is not None and self.distance_cap_m < self.floodplain_buffer_m:
            raise ValueError("distance_cap_m must be >= floodplain_buffer_m (the floodplain is read from the river "
                             "distance)")
        return self


# -- suitability ----------------------------------------------------------------------------
#: Layers a suitability criterion may read (outputs of ingest, plus the stage's own quality).
CriterionLayer = Literal[
    "habitat_class", "tugai_cover", "water_distance_m", "river_distance_m", "settlement_distance_m",
    "road_distance_m", "canal_distance_m", "cropland_distance_m", "protected_fraction", "quality",
]
MembershipName = Literal["large", "small", "gaussian", "near", "linear", "exponential_decay", "class_scores"]
ThreatName = Literal["settlements", "roads", "canals", "cropland"]


#: A score or fraction in [0, 1].
Score = Annotated[float, Field(ge=0, le=1)]
#: A resistance value (> 0; null where a mapping allows it means impassable).
Resistance = Annotated[float, Field(gt=0)]


class CriterionParams(Strict):
    """One criterion on the layer it is keyed by: an optional neighbourhood mean, then a
    membership function."""

    function: MembershipName
    params: dict[str, float] = Field(default_factory=dict, description="keyword parameters of the function")
    class_scores: dict[HabitatClass, Score] | None = Field(
        None, description="score in [0, 1] per habitat class (function class_scores)"
    )
    radius_m: float | None = Field(None, gt=0, description="mean of the layer within this radius first")
    provenance: str = ""

    @model_validator(mode="after")
    def _scores_for_class_function(self) -> CriterionParams:
        if (self.function == "class_scores") != (self.class_scores is not None):
            raise ValueError("class_scores is required with function class_scores, and only with it")
        return self


class AHPParams(Strict):
    """Pairwise comparison matrix over the criteria, in the order of ``criteria``."""

    matrix: list[list[float]]
    accept_inconsistent: bool = False


class ThreatParams(Strict):
    """One threat (InVEST Habitat Quality threat table row)."""

    max_dist_m: float = Field(gt=0)
    weight: float = Field(gt=0)
    decay: Literal["linear", "exponential"]
    provenance: str = ""


class SensitivityParams(Strict):
    """Habitat score H_j and sensitivity S_jr to each threat, for one habitat class."""

    habitat: float = Field(ge=0, le=1)
    settlements: float = Field(0.0, ge=0, le=1)
    roads: float = Field(0.0, ge=0, le=1)
    canals: float = Field(0.0, ge=0, le=1)
    cropland: float = Field(0.0, ge=0, le=1)


class TerrainCriterionParams(Strict):
    """A decreasing terrain membership: 1 up to ``full``, linear to 0 at ``zero`` (habitat.suitability.terrain)."""

    full: float
    zero: float
    provenance: str = ""

    @model_validator(mode="after")
    def _order(self) -> TerrainCriterionParams:
        if not self.full < self.zero:
            raise ValueError("full must be below zero (membership 1 up to full, 0 from zero)")
        return self


class TerrainParams(Strict):
    """Terrain criteria, multiplied into suitability where the elevation layers exist (inputs.elevation)."""

    altitude_m: TerrainCriterionParams | None = None
    slope_deg: TerrainCriterionParams | None = None
    height_above_river_m: TerrainCriterionParams | None = None


class RiparianStripParams(Strict):
    """Sub-cell riparian strip (habitat.suitability.riparian): a cell scores at least the share of
    it within ``half_width_m`` of a mapped channel times ``tugai_score``; before terrain."""

    half_width_m: float = Field(gt=0, description="metres either side of the river line that can hold tugai")
    tugai_score: float = Field(ge=0, le=1, description="suitability of a cell wholly under tugai")
    max_share_by_class: dict[HabitatClass, Score] = Field(
        default_factory=lambda: {"water": 0.0, "built": 0.0, "snow": 0.0},
        description="largest strip share that can be tugai in a cell of this majority class (0 = no gain: the "
        "strip there is the channel, the town or ice; fields take part of the strip); unlisted classes: 1. "
        "Sources: habitat/defaults/suitability/defaults.yaml riparian_strip (DOMAIN.md 3.3, 4.2; MCD12 "
        "user guide) [A]",
    )
    provenance: str = ""


class SuitabilityParams(Strict):
    """Criteria, their combination, hard constraints and threat degradation (METHODS.md 1-2)."""

    criteria: dict[CriterionLayer, CriterionParams] = Field(
        default_factory=lambda: _defaults("suitability/defaults.yaml")["criteria"]
    )
    combination: Literal[
        "weighted_linear", "weighted_geometric_mean", "fuzzy_and", "fuzzy_or", "fuzzy_product",
        "fuzzy_sum", "fuzzy_gamma",
    ] = "weighted_linear"
    gamma: float | None = Field(None, ge=0, le=1)
    weights: dict[str, float] | None = Field(None, description="weights by criterion name (or give ahp)")
    ahp: AHPParams | None = Field(default_factory=lambda: _defaults("suitability/defaults.yaml")["ahp"])
    exclude_classes: list[HabitatClass] = Field(
        default_factory=lambda: ["built"], description="hard constraint: these classes score 0"
    )
    floodplain_only: bool = Field(True, description="hard constraint: 0 outside the floodplain mask")
    threats: dict[ThreatName, ThreatParams] = Field(
        default_factory=lambda: _defaults("suitability/defaults.yaml")["threats"]
    )
    sensitivity: dict[HabitatClass, SensitivityParams] = Field(
        default_factory=lambda: _defaults("suitability/defaults.yaml")["sensitivity"]
    )
    half_saturation: float = Field(0.5, gt=0, description="InVEST half-saturation constant k")
    terrain: TerrainParams | None = Field(
        default_factory=lambda: _defaults("suitability/defaults.yaml")["terrain"],
        description="terrain memberships multiplied into suitability with inputs.elevation; null = none",
    )
    riparian_strip: RiparianStripParams | None = Field(
        default_factory=lambda: _defaults("suitability/defaults.yaml")["riparian_strip"], description="sub-cell riparian strip rule (habitat.suitability.riparian); null = off (the default: "
        "on fine grids the land cover sees the strip itself)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SuitabilityParams:
        names = list(self.criteria)
        weighted = self.combination in ("weighted_linear", "weighted_geometric_mean")
        if weighted and self.weights is not None:
            if set(self.weights) != set(names):
                raise ValueError(f"weights must name exactly the criteria {names}")
        if weighted and self.weights is None and self.ahp is None:
            raise ValueError("a weighted combination needs weights or ahp")
        if self.ahp is not None and len(self.ahp.matrix) != len(names):
            raise ValueError(f"ahp.matrix must be {len(names)} x {len(names)} (one row per criterion, in order)")
        if not weighted and self.weights is not None:
            raise ValueError(f"combination {self.combination} takes no weights; remove them")
        for layer, criterion in self.criteria.items():
            if (criterion.function == "class_scores") != (layer == "habitat_class"):
                raise ValueError(f"criteria.{layer}: class_scores is the function for habitat_class, and only for it")
        if self.combination == "fuzzy_gamma" and self.gamma is None:
            raise ValueError("fuzzy_gamma needs gamma in [0, 1]")
        missing = [c for c in HABITAT_CLASSES if c not in self.sensitivity]
        if missing:
            raise ValueError(f"sensitivity lacks the classes {missing}")
        return self


# -- patches --------------------------------------------------------------------------------
class PatchesParams(Strict):
    """Habitat patches from suitability (METHODS.md 3; DOMAIN.md 3.4 and 8)."""

    threshold: float = Field(
        0.6, ge=0, le=1, description="suitability >= threshold is habitat [A]; above open water (about 0.54)"
    )
    neighbours: Literal[4, 8] = Field(8, description="patch rule (FRAGSTATS default 8)")
    min_patch_area_ha: float = Field(50.0, ge=0, description="drop smaller patches [A]")
    edge_depth_m: float = Field(100.0, ge=0, description="edge depth for core area [A]")
    density_per_km2: float = Field(5.0, gt=0, description="sustainable density, DOMAIN.md 8: 5-10 [A]")
    usable_area: Literal["area", "core_area", "quality_weighted"] = "area"


# -- resistance -----------------------------------------------------------------------------
class TerrainCostParams(Strict):
    """Slope and altitude cost factors (habitat.suitability.terrain.terrain_resistance)."""

    climb_cost_ratio: float = Field(
        11.3, ge=0, description="cost of a vertical metre in level metres: 24.7 J/kg per vertical m (Parker, Robbins "
        "& Hanley 1984) / 2.19 J/kg/m level walking of a 150 kg mammal (Taylor, Heglund & Maloiy 1982)",
    )
    altitude_start_m: float = Field(1000.0, description="altitude cost 1 up to here: the highest occupied valleys [A]")
    altitude_full_m: float = Field(
        2000.0, description="altitude cost at its maximum from here: mountains without tugai, winter water or cover; "
        "the Tian Shan separates the Bukhara from the Yarkand deer [A]",
    )
    altitude_max_factor: float = Field(100.0, ge=1, description="resistance multiplier from altitude_full_m [A]")
    outside_dem: Literal["keep", "impassable"] = Field(
        "keep", description="cells without elevation keep their resistance (counted by ingest) or become impassable"
    )

    @model_validator(mode="after")
    def _order(self) -> TerrainCostParams:
        if self.altitude_full_m <= self.altitude_start_m:
            raise ValueError("altitude_full_m must exceed altitude_start_m")
        return self


class ResistanceParams(Strict):
    """Resistance from suitability plus barrier overrides (METHODS.md 5; DOMAIN.md 3.3)."""

    transform: Literal["linear", "negative_exponential"] = Field(
        "negative_exponential", description="suitability -> resistance (Keeley et al. 2016 for the exponential)"
    )
    shape: float = Field(
        6.907755, gt=0, description="shape c of the negative exponential (Keeley et al. 2016 use 0.25-16); "
        "ln(max/min) = ln 1000 makes log R linear in suitability: R = 1000^(1 - h), the transform of "
        "Mateo-Sanchez et al. (2015, Landscape Ecology 30:1405-1420)",
    )
    min_resistance: float = Field(1.0, gt=0)
    max_resistance: float = Field(
        1000.0, gt=0, description="resistance at suitability 0: 1-1000 (Mateo-Sanchez et al. 2015; Keeley et al. "
        "2016 test up to 1000): open desert 1000 times dearer than tugai for a riparian deer that only makes "
        "short night forays out of the tugai (DOMAIN.md 3.3); 100 made 600 km desert crossings cheap (issue 13)",
    )
    barrier_classes: dict[HabitatClass, Resistance | None] = Field(
        default_factory=lambda: {"built": None, "water": 1000.0},
        description="resistance per habitat class overriding the transform; null = impassable. "
        "DOMAIN.md 3.3: settlements are barriers; main channels hinder crossing (Ili, WWF 2007) [A]",
    )
    canal_resistance: float | None = Field(
        500.0, gt=0, description="resistance of canal cells; null = impassable (DOMAIN.md 3.3) [A]"
    )
    terrain_costs: TerrainCostParams | None = Field(
        default_factory=TerrainCostParams,
        description="with inputs.elevation: resistance x (1 + k sin slope) x altitude factor; null = none",
    )

    @model_validator(mode="after")
    def _range(self) -> ResistanceParams:
        if self.max_resistance <= self.min_resistance:
            raise ValueError("max_resistance must exceed min_resistance")
        return self


# -- connectivity (least cost and graph) ----------------------------------------------------
class ConnectivityParams(Strict):
    """Least-cost corridors between populations, barrier scores and patch graph indices."""

    neighbours: Literal[4, 8, 16] = Field(8, description="moves: 16 adds knight's moves (GRASS r.cost -k)")
    core_radius_m: float = Field(
        1000.0, gt=0, description="population core = passable cells within this radius of the site point [A]"
    )
    nearest: int | None = Field(None, ge=1, description="link each population to its k nearest by LCD; null = all pairs")
    corridor_cutoff: float | None = Field(
        50_000.0, gt=0, description="keep corridor cells with NLCC below this (resistance x m) [A]"
    )
    barrier_radii_m: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [300.0, 600.0, 1000.0], min_length=1, description="restoration window radii (McRae et al. 2012) [A]"
    )
    pc_distance: float = Field(
        20_000.0, gt=0, description="cost distance (resistance x m) at which dispersal probability is pc_probability [A]"
    )
    pc_probability: float = Field(0.5, gt=0, lt=1)
    iic_link_distance: float | None = Field(
        None, gt=0, description="IIC links patches closer than this cost distance; default pc_distance [A]"
    )
    max_graph_patches: int = Field(300, ge=2, description="largest patches kept for graph indices (one cost run each)")
    max_dispersal_m: float | None = Field(
        50_000.0, gt=0, description="longest single dispersal through typical habitat (m); pairs whose LCD exceeds "
        "max_dispersal_m x the median resistance of habitat cells are not connected; null = no limit. Red deer: "
        "sub-adult males 4.8 +- 4.2 km (Prevot & Licoppe 2013), emigrating males 26-37 km (Loe et al. 2009, "
        "Proc. R. Soc. B 276:2581), rut moves <= 18.5 km (Jarnemo 2011, J. Ethol. 29:329); Bukhara deer "
        "sedentary (Pereladova 2013) [A]",
    )
    cores_on_habitat: bool = Field(
        True, description="population cores keep only habitat-patch cells where a site has any within reach "
        "(a disc around a coordinate also covers desert and fields)",
    )


# -- indicators -----------------------------------------------------------------------------
class IndicatorsParams(Strict):
    """Two-epoch habitat indicators per reporting unit, and population status (METHODS.md 3, 4, 7)."""

    habitat_source: Literal["landcover", "tugai_cover", "patches"] = Field(
        "landcover", description="patches: the cells of the patches stage (suitability >= threshold, one epoch; with a DEM it follows the terrain criteria); habitat mask per epoch from land-cover classes or from tugai polygon cover"
    )
    habitat_classes: list[HabitatClass] = Field(
        default_factory=lambda: list(DEER_HABITAT_CLASSES), min_length=1,
        description="classes that are habitat (habitat_source landcover); DOMAIN.md 8 habitat classes",
    )
    tugai_cover_threshold: float = Field(
        0.5, gt=0, le=1, description="cell is habitat when its tugai polygon cover fraction is >= this "
        "(habitat_source tugai_cover) [A]",
    )
    population_buffer_m: float = Field(
        10_000.0, gt=0, description="population area = disc of this radius around each site [A]"
    )
    neighbours: Literal[4, 8] = Field(8, description="patch rule for fragmentation and graph (FRAGSTATS default 8)")
    edge_depth_m: float = Field(100.0, gt=0, description="edge depth for core area (TCA), at least one cell [A]")
    dispersal_distance_m: float = Field(
        5000.0, gt=0, description="edge-to-edge distance at which dispersal probability is dispersal_probability; "
        "no Bukhara deer value known (DOMAIN.md 3.2-3.3) [A]",
    )
    dispersal_probability: float = Field(0.5, gt=0, lt=1)
    graph_min_patch_ha: float = Field(
        10.0, ge=0, description="habitat patches smaller than this are left out of PC/EC [A]"
    )
    overstocked_density_per_km2: float = Field(
        10.0, gt=0, description="a site above this density in its patch is overstocked: upper end of the "
        "sustainable 5-10 deer/km2 (DOMAIN.md 8 [A]); 24 deer/km2 visibly damages tugai (DOMAIN.md 3.2, "
        "Cornelis et al. 2020)",
    )
    protconn_dispersal_m: float = Field(
        10_000.0, gt=0, description="ProtConn median dispersal distance (p = 0.5 edge to edge): 10 km, the "
        "central value of Saura et al. 2017 (Ecol. Indic. 76) and 2018 (Biol. Conserv. 219) for terrestrial "
        "vertebrates; no Bukhara deer value known (DOMAIN.md 3.2-3.3) [A]",
    )
    protconn_transboundary_m: float = Field(
        50_000.0, ge=0, description="protected land outside a region and this close enters ProtConn as a "
        "stepping stone: 5 x the median dispersal distance, as the Makurhini MK_ProtConn worked example "
        "(50 km for 10 km) [A]",
    )


# -- circuit ---------------------------------------------------------------------------------
class CircuitParams(Strict):
    """Circuit theory between populations (Circuitscape pairwise semantics, METHODS.md 6)."""

    neighbours: Literal[4, 8] = Field(8, description="cell connections (Circuitscape default 8)")
    average: Literal["conductance", "resistance"] = Field(
        "conductance", description="edge weight from the average conductance (Circuitscape default) or resistance"
    )
    solver: Literal["auto", "direct", "amg", "multigrid"] = Field(
        "auto", description="linear solver (auto: by size and memory; the grid multigrid, "
        "habitat.connectivity.circuit.gridamg, for raster components of >= 50,000 cells with <= 8 points; "
        "multigrid: the grid multigrid for raster components of >= 10,000 cells whatever the number of "
        "points, memory linear in the connectivity cells, one solve per point, resistances within ~1e-10 "
        "and current maps within ~1e-6 relative of the direct factor's)",
    )


# -- report ----------------------------------------------------------------------------------
class ReportParams(Strict):
    """Map figures, QGIS styles and the offline HTML report (habitat.report)."""

    language: Literal["en", "ru"] = Field("en", description="language of figures, tables and report.html")
    dpi: int = Field(300, ge=50, le=1200, description="resolution of the PNG figures")
    formats: list[Literal["png", "pdf"]] = Field(default_factory=lambda: ["png", "pdf"], min_length=1,
                                                description="figure file formats")
    per_unit_figures: bool = Field(True, description="also draw every figure zoomed to each reporting unit")
    credits: str = Field("", description="data credits printed on every figure (default: see the methods)")
    change_classes: list[HabitatClass] = Field(
        # the indicators' habitat classes, so the map and the indicators count the same cells
        default_factory=lambda: list(DEER_HABITAT_CLASSES), min_length=1,
        description="classes that count as habitat in the loss/gain map when the indicators stage has not run "
                    "(when it ran, the map and its note use the indicators' habitat_classes)",
    )
    synthetic_data: bool = Field(False, description="the inputs are synthetic (the demo): every figure and table says so")
    descriptions: dict[Literal["en", "ru"], str] = Field(
        default_factory=dict, description="description of the run per report language (default: the pipeline's description)")
    max_overlay_px: int = Field(1024, ge=64, le=4096, description="longest side of a map overlay image")


# -- sites -----------------------------------------------------------------------------------
class HardCriterionParams(Strict):
    """One hard (pass/fail) criterion on a column of the candidate table (habitat.sites.criteria)."""

    column: str = Field(description="candidate table column, unit in the name (e.g. mean_degradation)")
    op: Literal[">=", ">", "<=", "<", "==", "!="]
    threshold: float | bool | str
    units: str = ""
    provenance: str = ""
    name: str | None = None


class SiteCriterionParams(Strict):
    """One scoring criterion (habitat.sites.ranking.Criterion)."""

    name: str = Field(description="candidate table column, unit in the name")
    direction: Literal["benefit", "cost"]
    weight: float = Field(ge=0)
    normalization: Literal["minmax", "max", "target"] = "minmax"
    target: float | None = None
    label: str | None = None
    units: str | None = None
    provenance: str = ""


def _default_site_criteria() -> list[dict]:
    # [A] weights: carrying capacity and habitat condition first (IUCN/SSC 2013: enough area,
    # needs met, causes of loss reduced), then connectivity to sources, protection and logistics.
    spec = [
        ("capacity_deer", "benefit", 0.20, "capacity", "deer", "deer at the sustainable density"),
        ("mean_quality", "benefit", 0.15, "mean habitat quality", "", "InVEST habitat quality, 0-1"),
        ("core_area_ha", "benefit", 0.10, "core area", "ha", "area beyond the edge depth of the patch"),
        ("lcd_to_source", "cost", 0.10, "least-cost distance to a population", "resistance x m",
         "cost distance from the nearest population core"),
        ("effective_resistance_to_source_ohm", "cost", 0.05, "effective resistance to a population", "ohm",
         "circuit resistance from the release point to the nearest population"),
        ("dpc_parent_patch", "benefit", 0.05, "importance of the parent patch (dPC)", "%",
         "dPC of the habitat patch the site lies in"),
        ("distance_to_source_m", "cost", 0.05, "distance to the nearest population", "m",
         "translocation logistics, from the release point"),
        ("share_protected", "benefit", 0.10, "share inside protected areas", "", "0-1"),
        ("mean_degradation", "cost", 0.10, "mean threat degradation", "", "threat exposure, InVEST D"),
        ("mean_water_distance_m", "cost", 0.10, "mean distance to water", "m", "water access"),
    ]
    return [{"name": n, "direction": d, "weight": w, "label": label, "units": units, "provenance": f"[A] {why}"}
            for n, d, w, label, units, why in spec]


def _default_hard_criteria() -> list[dict]:
    return [
        {"column": "mean_degradation", "op": "<=", "threshold": 0.1, "units": "InVEST D",
         "name": "threat exposure", "provenance": "[A] mean InVEST degradation at most 0.1 (threats "
         "reduced, IUCN/SSC 2013); demo habitat patches are mostly below 0.05"},
        {"column": "mean_water_distance_m", "op": "<=", "threshold": 1500.0, "units": "m",
         "name": "water within reach", "provenance": "[A] deer drink daily and stay in riparian tugai "
         "(DOMAIN.md 3); exact distance unknown"},
    ]


class SitesParams(Strict):
    """Candidate reintroduction sites: hard criteria, scoring, sensitivity (METHODS.md 8)."""

    occupied_radius_m: float = Field(
        5000.0, ge=0, description="habitat within this distance of a population site is occupied; home "
        "range / foray scale, no deer-specific value in DOMAIN.md 3.2-3.3 [A]",
    )
    cluster_gap_m: float = Field(0.0, ge=0, description="merge candidate pieces this close (edge to edge); 0 = off")
    reach_tile_m: float = Field(
        0.0, ge=0, description="cut candidates by square tiles of this side (m) into reaches a planner can visit; "
        "0 = off [A]",
    )
    min_candidate_area_ha: float = Field(
        50.0, ge=0, description="pieces smaller than this are slivers, not candidates (as patches min_patch_area_ha) [A]"
    )
    require_historical_range: bool = Field(
        False, description="hard criterion 'inside the historical range' (IUCN/SSC 2013, DOMAIN.md 6.2); "
        "needs inputs.historical_range. Without it, the share inside the range is reported when the layer is given",
    )
    min_historical_range_share: float = Field(
        0.5, ge=0, le=1, description="a candidate is inside the historical range when at least this share of its "
        "area is (majority rule) [A]",
    )
    target_herd: float = Field(
        100.0, gt=0, description="animals a site must hold; DOMAIN.md 8: 100-250 [A]. Capacity and core area "
        "use the patches stage's density_per_km2, edge_depth_m and usable_area",
    )
    hard_criteria: list[HardCriterionParams] = Field(
        default_factory=_default_hard_criteria,
        description="hard criteria besides the minimum usable area (which follows target_herd and density)",
    )
    criteria: list[SiteCriterionParams] = Field(default_factory=_default_site_criteria, min_length=1)
    ahp: AHPParams | None = Field(None, description="pairwise matrix over criteria (in order) instead of weights")
    oat_change: float = Field(0.2, gt=0, lt=1, description="one-at-a-time weight change (+-20 %)")
    n_draws: int = Field(1000, ge=1, description="Dirichlet Monte Carlo weight draws")
    seed: int = Field(0, ge=0, description="seed of the Monte Carlo draws")
    top_n: int = Field(3, ge=1, description="N for P(top N) and the number of sites explained")
    concentration: float | None = Field(
        None, gt=0, description="None: flat Dirichlet; a number: Dirichlet centred on the weights"
    )
    pareto_objectives: dict[str, Literal["benefit", "cost"]] = Field(
        default_factory=lambda: {"capacity_x_quality": "benefit", "lcd_to_source": "cost",
                                 "mean_degradation": "cost"},
        description="trade-off objectives (METHODS.md 8: quality x area, connectivity, threat)",
    )

    @model_validator(mode="after")
    def _ahp_size(self) -> SitesParams:
        if self.ahp is not None and len(self.ahp.matrix) != len(self.criteria):
            raise ValueError(f"ahp.matrix must be {len(self.criteria)} x {len(self.criteria)} (one row per criterion)")
        return self


# -- presence -------------------------------------------------------------------------------
#: Ingest layers the presence model may use as covariates.
PresenceCovariate = Literal[
    "water_distance_m", "river_distance_m", "settlement_distance_m", "cropland_distance_m",
    "road_distance_m", "canal_distance_m", "tugai_cover_current", "habitat_class_current", "protected_fraction",
]


class EvaluationParams(Strict):
    """The map checked against known places (METHODS.md 10; issue 13)."""

    reference: Literal["suitable_floodplain", "floodplain"] = Field(
        "suitable_floodplain", description="cells the places are ranked among and the Boyce background: floodplain "
        "cells with suitability > 0 (issue 13: 'among suitable cells'), or every floodplain cell",
    )
    polygon_stat: Literal["mean", "max"] = Field("mean", description="how a polygon place summarises its cells")


class PresenceParams(Strict):
    """Presence/background (MaxEnt-style) model, fitted with elapid (METHODS.md 9)."""

    covariates: list[PresenceCovariate] = Field(
        default_factory=lambda: ["water_distance_m", "river_distance_m", "settlement_distance_m",
                                 "cropland_distance_m", "tugai_cover_current", "habitat_class_current"],
        min_length=1, description="ingest layers used as covariates; a missing optional layer is left out (logged)",
    )
    categorical: list[PresenceCovariate] = Field(
        default_factory=lambda: ["habitat_class_current"], description="covariates holding class codes (one-hot)"
    )
    n_background: int = Field(10000, ge=10, description="background cells drawn in the mask (MaxEnt default 10000)")
    background_mask: Literal["floodplain", "grid"] = Field(
        "floodplain", description="where background is drawn: the river valleys (floodplain) or every valid cell"
    )
    restrict_to_mask: bool = Field(
        True, description="cells outside the background mask score 0 (as the suitability floodplain constraint)"
    )
    n_folds: int = Field(4, ge=2, description="geographic folds (k-means of the occurrences) for AUC")
    feature_types: list[Literal["linear", "quadratic", "product", "hinge", "threshold"]] = Field(
        default_factory=lambda: ["linear", "hinge", "product"], min_length=1,
        description="MaxEnt feature classes (elapid defaults)",
    )
    beta_multiplier: float = Field(1.5, gt=0, description="regularization multiplier (elapid default 1.5)")
    one_per_cell: bool = Field(True, description="keep one occurrence per grid cell (as MaxEnt)")
    seed: int = Field(0, ge=0, description="seed of the background draw, the folds and the solver")
    require_occurrences: bool = Field(
        False, description="True: a pipeline without inputs.occurrences is an error; False: the stage writes nothing"
    )

    @model_validator(mode="after")
    def _categorical_are_covariates(self) -> PresenceParams:
        extra = sorted(set(self.categorical) - set(self.covariates))
        if extra:
            raise ValueError(f"categorical {extra} must also be listed in covariates")
        return self


# -- restoration ------------------------------------------------------------------------------
class RestorationParams(Strict):
    """Restoration priorities: ECA gain per hectare of restorable floodplain per unit (issue 17).

    The dispersal kernel, habitat classes and patch rule are the indicators stage's (its
    ``dispersal_distance_m``, ``dispersal_probability``, ``neighbours``, ``graph_min_patch_ha``).
    """

    unit_shape: Literal["hexagon", "square"] = Field("hexagon", description="restoration units: hexagons or square reach tiles")
    unit_size_m: float = Field(
        2000.0, gt=0, description="hexagon width (between opposite sides) or tile side: a reach a water release or "
        "a replanting project covers, about the 3 km floodplain band (DOMAIN.md 7.7) [A]",
    )
    restorable_classes: list[HabitatClass] = Field(
        default_factory=lambda: list(_restorable_classes()), min_length=1,
        description="floodplain classes that can become habitat (cleared or dried land; "
        "habitat.planning.scenarios.RESTORABLE_CLASSES [A])",
    )
    include_lost_habitat: bool = Field(True, description="cells that were habitat at the baseline epoch are restorable too")
    budget_ha: float = Field(500.0, ge=0, description="restorable area that may be restored in all (selection) [A]")
    selection_pool: int = Field(
        20, ge=1, description="the selection considers the units ranked this high alone (each evaluation is one ECA run)"
    )
    exact_max_units: int = Field(8, ge=0, description="up to this many pooled units every subset is tried (2^n ECA runs)")
    population_radius_m: float = Field(
        1000.0, gt=0, description="a population occupies the patches within this distance of its site, as "
        "connectivity core_radius_m [A]",
    )


def _restorable_classes() -> tuple[str, ...]:
    from habitat.planning.scenarios import RESTORABLE_CLASSES

    return RESTORABLE_CLASSES


# -- translocation ----------------------------------------------------------------------------
def _founders(name: str) -> int:
    from habitat.planning import translocation

    return getattr(translocation, name)


class TranslocationParams(Strict):
    """Translocation plan: animals from source populations to ranked sites (scipy milp, issue 17)."""

    sources: dict[str, Annotated[int, Field(ge=1)]] | None = Field(
        None, description="user list: population site_id -> animals that may be taken; default the overstocked "
        "populations (indicators population_status) with their surplus_deer",
    )
    min_founders: int = Field(
        default_factory=lambda: _founders("MIN_FOUNDERS"), ge=1,
        description="smallest founder group per site: 20, Komers & Curman 2000 (Biol. Conserv. 93: 187-193)",
    )
    max_founders: int = Field(
        default_factory=lambda: _founders("MAX_FOUNDERS"), ge=1,
        description="largest founder group per site: 60, the 61-animal Ile-Balkhash releases (DOMAIN.md 6.1) [A]",
    )
    distance: Literal["euclidean", "least_cost"] = Field(
        "euclidean", description="distance source -> site: straight line (m) or least-cost distance over the "
        "resistance surface (resistance x m)",
    )
    distance_cost_per_km: float = Field(0.0, ge=0, description="site score lost per animal and km (0: distance breaks ties)")
    max_distance_m: float | None = Field(None, gt=0, description="longer moves are not allowed (null = any)")
    basin_column: str | None = Field(
        None, description="column of the river layer naming the basin; a site or source takes the basin of its "
        "nearest river. Null: one basin",
    )
    allow_cross_basin: bool = Field(False, description="allow moves between river basins")
    top_sites: int | None = Field(None, ge=1, description="consider only the sites ranked this high (null = all ranked)")

    @model_validator(mode="after")
    def _founder_range(self) -> TranslocationParams:
        if self.max_founders < self.min_founders:
            raise ValueError(f"max_founders ({self.max_founders}) must be >= min_founders ({self.min_founders})")
        return self


# -- omniscape (moving window, wall to wall) -------------------------------------------------
class OmniscapeParams(Strict):
    """Omniscape moving-window connectivity over the whole study area (McRae et al. 2016; Landau et
    al. 2021, Omniscape.jl; METHODS.md 12): sources from suitability, resistance from the pipeline."""

    radius_m: float = Field(
        5000.0, gt=0, description="moving-window radius (m; cells = radius_m / cell_size_m): how far movement is "
        "modelled from each source; the deer's dispersal distance as in indicators.dispersal_distance_m (5 km: no "
        "Bukhara deer value known, DOMAIN.md 3.2-3.3 and 8) [A]",
    )
    block_size: int = Field(
        5, ge=1, description="side of the target blocks (cells, odd; even is raised by one as Omniscape does); "
        "larger runs faster and coarser (Landau et al. 2021, Omniscape.jl usage: block_size)",
    )
    source_threshold: float | None = Field(
        None, ge=0, le=1, description="suitability at or above which a cell is a source (strength = suitability); "
        "null: the patches threshold (habitat cells are the sources) [A]",
    )
    precision: Literal["single", "double"] = Field(
        "double", description="Omniscape precision (inputs rounded to float32 when single); maps written as float32")
    correct_artifacts: bool = Field(True, description="block-artifact correction (Omniscape default true)")
    calc_flow_potential: bool = Field(True, description="write flow potential (resistance 1 everywhere)")
    calc_normalized_current: bool = Field(
        True, description="write normalized current (cumulative / flow potential), its classes and the summary")
    impeded_below: float = Field(
        0.8, gt=0, le=1, description="normalized current below this is impeded flow; Omniscape.jl docs: < 1 "
        "impeded, about 1 diffuse, > 1 channelized; the width of 'about 1' is [A] (McRae et al. 2016 use "
        "the same classes; their cut-offs are not reproduced here)",
    )
    channelized_above: float = Field(
        1.2, ge=1, description="normalized current above this is channelized (bottleneck) flow [A]; see impeded_below"
    )
    workers: int | None = Field(None, ge=1, description="threads for the windows (default: CPU count); results do "
                                "not depend on it")
