"""Parameter models of the stages (the ``stages:`` section of a pipeline file).

Every model is frozen and rejects unknown keys. Defaults for the deer live in ``config/`` with
their provenance and are loaded here, so a pipeline that says ``suitability: {}`` gets them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from habitat.io.landcover import HABITAT_CLASSES

#: Shipped default parameter files (config/ sits beside the package in the repository).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"

HabitatClass = Literal[
    "tugai_forest", "tugai_shrub", "reed_wetland", "water", "grassland",
    "cropland", "built", "bare", "snow", "other",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


@cache
def _defaults(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))


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
    unknown_landcover_codes: Literal["error", "nodata"] = Field(
        "error", description="what to do with land-cover codes missing from the crosswalk"
    )


# -- suitability ----------------------------------------------------------------------------
#: Layers a suitability criterion may read (outputs of ingest, plus the stage's own quality).
CriterionLayer = Literal[
    "habitat_class", "tugai_cover", "water_distance_m", "river_distance_m", "settlement_distance_m",
    "road_distance_m", "canal_distance_m", "cropland_distance_m", "protected_fraction", "quality",
]
MembershipName = Literal["large", "small", "gaussian", "near", "linear", "exponential_decay", "class_scores"]
ThreatName = Literal["settlements", "roads", "canals", "cropland"]


class CriterionParams(Strict):
    """One criterion on the layer it is keyed by: an optional neighbourhood mean, then a
    membership function."""

    function: MembershipName
    params: dict[str, float] = Field(default_factory=dict, description="keyword parameters of the function")
    class_scores: dict[HabitatClass, float] | None = Field(
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
class ResistanceParams(Strict):
    """Resistance from suitability plus barrier overrides (METHODS.md 5; DOMAIN.md 3.3)."""

    transform: Literal["linear", "negative_exponential"] = Field(
        "negative_exponential", description="suitability -> resistance (Keeley et al. 2016 for the exponential)"
    )
    shape: float = Field(8.0, gt=0, description="shape c of the negative exponential (Keeley et al. 2016 use 0.25-16)")
    min_resistance: float = Field(1.0, gt=0)
    max_resistance: float = Field(100.0, gt=0)
    barrier_classes: dict[HabitatClass, float | None] = Field(
        default_factory=lambda: {"built": None, "water": 300.0},
        description="resistance per habitat class overriding the transform; null = impassable. "
        "DOMAIN.md 3.3: settlements are barriers; main channels hinder crossing (Ili, WWF 2007) [A]",
    )
    canal_resistance: float | None = Field(
        500.0, gt=0, description="resistance of canal cells; null = impassable (DOMAIN.md 3.3) [A]"
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
    barrier_radii_m: list[float] = Field(
        default_factory=lambda: [300.0, 600.0, 1000.0], description="restoration window radii (McRae et al. 2012) [A]"
    )
    pc_distance: float = Field(
        20_000.0, gt=0, description="cost distance (resistance x m) at which dispersal probability is pc_probability [A]"
    )
    pc_probability: float = Field(0.5, gt=0, lt=1)
    max_graph_patches: int = Field(300, ge=2, description="largest patches kept for graph indices (one cost run each)")


# -- indicators -----------------------------------------------------------------------------
class IndicatorsParams(Strict):
    """Two-epoch habitat indicators per reporting unit, and population status (METHODS.md 3, 4, 7)."""

    habitat_source: Literal["landcover", "tugai_cover"] = Field(
        "landcover", description="habitat mask per epoch from land-cover classes or from tugai polygon cover"
    )
    habitat_classes: list[HabitatClass] = Field(
        default_factory=lambda: ["tugai_forest", "tugai_shrub", "reed_wetland"],
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


# -- circuit ---------------------------------------------------------------------------------
class CircuitParams(Strict):
    """Circuit theory between populations (Circuitscape pairwise semantics, METHODS.md 6)."""

    neighbours: Literal[4, 8] = Field(8, description="cell connections (Circuitscape default 8)")
    average: Literal["conductance", "resistance"] = Field(
        "conductance", description="edge weight from the average conductance (Circuitscape default) or resistance"
    )
    solver: Literal["auto", "direct", "amg"] = Field("auto", description="linear solver (auto: by size and memory)")
