"""Pipeline files: pydantic models (unknown keys are errors) and loading with key-path errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from habitat.errors import ConfigError
from habitat.vocabulary import Strict
from habitat.params import (
    CircuitParams, ConnectivityParams, IndicatorsParams, IngestParams, PatchesParams, ReportParams,
    PresenceParams, ResistanceParams, SitesParams, SuitabilityParams,
)
from habitat.params import OmniscapeParams


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        return (Path(base) / path).resolve()
    return path


#: A file path; relative paths resolve against the folder of the pipeline file.
InputPath = Annotated[Path, AfterValidator(_resolve)]


class GridConfig(Strict):
    """The analysis grid."""

    crs: str = Field(
        "default",
        description="'default' (Central Asia Albers equal-area) or any CRS: 'EPSG:32642', PROJ, WKT",
    )
    resolution_m: float = Field(gt=0, description="cell size in grid CRS units (metres)")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="xmin, ymin, xmax, ymax; default: the extent of the current land cover"
    )
    bounds_crs: str | None = Field(
        None, description="CRS of 'bounds' when not the grid CRS (e.g. 'EPSG:4326' for lon/lat)"
    )


class LandCoverInput(Strict):
    """One land-cover epoch."""

    path: InputPath
    year: int = Field(ge=1900, le=2100)
    product: str = Field(
        "esa_worldcover",
        description="crosswalk: esa_worldcover, copernicus_lc100, esa_cci, modis_mcd12q1, "
        "modis_mcd12c1, dynamic_world, or a path to a user CSV",
    )
    band: int = Field(1, ge=1)
    resampling: Literal["nearest", "mode"] | None = None

    @field_validator("product")
    @classmethod
    def _product_path(cls, value: str, info: ValidationInfo) -> str:
        if value.lower().endswith(".csv"):
            return str(_resolve(Path(value), info))
        return value


class VectorInput(Strict):
    """A vector layer."""

    path: InputPath
    layer: str | None = None


class TugaiInput(VectorInput):
    """Tugai forest polygons for one epoch."""

    year: int = Field(ge=1900, le=2100)


class ReportingUnitsInput(VectorInput):
    id_column: str = "unit_id"
    name_column: str = "name"


class ProtectedAreasInput(VectorInput):
    id_column: str = "pa_id"
    name_column: str = "name"


class PopulationsInput(VectorInput):
    id_column: str = "site_id"
    name_column: str = "name"
    count_column: str = "count"


class TableInput(Strict):
    path: InputPath


class RasterInput(Strict):
    path: InputPath
    band: int = Field(1, ge=1)
    resampling: Literal["bilinear", "average", "nearest"] | None = None


class Inputs(Strict):
    """Input layers of a pipeline. Land cover: one epoch, or two (baseline and current)."""

    landcover: list[LandCoverInput] = Field(min_length=1, max_length=2)
    tugai: list[TugaiInput] = Field(default_factory=list, max_length=2)
    rivers: VectorInput
    canals: VectorInput | None = None
    roads: VectorInput | None = None
    settlements: VectorInput | None = None
    protected_areas: ProtectedAreasInput | None = None
    #: the species' historical (indigenous) range as polygons; candidate sites outside it fail
    #: the IUCN 'inside the indigenous range' test (DOMAIN.md 6.2)
    historical_range: VectorInput | None = None
    reporting_units: ReportingUnitsInput | None = None
    populations: PopulationsInput | None = None
    census: TableInput | None = None
    dem: RasterInput | None = None
    occurrences: VectorInput | None = None

    @model_validator(mode="after")
    def _distinct_years(self) -> Inputs:
        for name in ("landcover", "tugai"):
            years = [item.year for item in getattr(self, name)]
            if len(set(years)) != len(years):
                raise ValueError(f"{name}: two entries share the year {years[0]}; give each epoch its own year")
        return self

    def files(self) -> dict[str, Path]:
        """Every input file by its key path, e.g. ``inputs.landcover[0].path``."""
        out: dict[str, Path] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if item is None:
                    continue
                key = f"inputs.{name}[{i}].path" if isinstance(value, list) else f"inputs.{name}.path"
                out[key] = item.path
                product = getattr(item, "product", "")
                if product.lower().endswith(".csv"):
                    out[key.replace(".path", ".product")] = Path(product)
        return out


class StagesConfig(Strict):
    """Parameters per stage; a stage listed here runs (with its dependencies)."""

    ingest: IngestParams | None = None
    suitability: SuitabilityParams | None = None
    patches: PatchesParams | None = None
    resistance: ResistanceParams | None = None
    connectivity: ConnectivityParams | None = None
    circuit: CircuitParams | None = None
    indicators: IndicatorsParams | None = None
    report: ReportParams | None = None
    sites: SitesParams | None = None
    presence: PresenceParams | None = None
    omniscape: OmniscapeParams | None = None


class Pipeline(Strict):
    """A pipeline file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    grid: GridConfig
    inputs: Inputs
    stages: StagesConfig = StagesConfig(ingest=IngestParams())


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key; check its spelling (see the example in pipelines/demo.yaml)"
    if err["type"] == "missing":
        return "required key is missing"
    return err["msg"].removeprefix("Value error, ")


def config_problems(path: str | Path) -> tuple[Pipeline | None, list[str]]:
    """Load and validate a pipeline file, collecting every problem as ``file: key: message``.

    Checks the schema (unknown keys, types, ranges) and that every input file exists.
    """
    path = Path(path)
    if not path.exists():
        return None, [f"{path}: pipeline file not found; check the path"]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        return None, [f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax"]
    if not isinstance(data, dict):
        return None, [f"{path}: a pipeline file must be a YAML mapping (name, grid, inputs, stages)"]
    try:
        pipeline = Pipeline.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        return None, [f"{path}: {_key_path(e['loc']) or '(top level)'}: {_message(e)}" for e in exc.errors()]
    problems = [
        f"{path}: {key}: file not found: {file}; fix the path (relative to the pipeline file)"
        for key, file in pipeline.inputs.files().items()
        if not file.exists()
    ]
    return pipeline, problems


def load_pipeline(path: str | Path) -> Pipeline:
    """Load a pipeline file or raise :class:`ConfigError` naming the first problem."""
    pipeline, problems = config_problems(path)
    if problems:
        more = f" (and {len(problems) - 1} more: run 'habitat validate {path}')" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    assert pipeline is not None
    return pipeline
