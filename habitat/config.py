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

from habitat.errors import ConfigError, HabitatError
from habitat.vocabulary import HabitatClass, Strict
from habitat.params import (
    CircuitParams, ConnectivityParams, EvaluationParams, IndicatorsParams, IngestParams, PatchesParams, ReportParams,
    PresenceParams, ResistanceParams, SitesParams, SuitabilityParams, RestorationParams, TranslocationParams,
)
from habitat.params import OmniscapeParams


def _resolve(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        try:
            return (Path(base) / path).resolve()
        except (RuntimeError, OSError):  # a symlink loop: left as given, reported as not found
            return Path(base) / path
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
    connectivity_resolution_m: float | None = Field(
        None, gt=0, description="cell size of the coarser grid the connectivity and circuit stages run on, a "
        "whole multiple of resolution_m (habitat.connectivity.two_grid); default: the analysis grid",
    )

    @field_validator("connectivity_resolution_m")
    @classmethod
    def _whole_multiple(cls, value: float | None, info: ValidationInfo) -> float | None:
        from habitat.connectivity.two_grid import coarsen_factor
        if value is not None and "resolution_m" in info.data:
            try:
                coarsen_factor(info.data["resolution_m"], value)
            except ConfigError as exc:  # the loader prefixes the key path
                raise ValueError(str(exc).removeprefix("grid.connectivity_resolution_m: ")) from None
        return value

    @field_validator("bounds", mode="before")
    @classmethod
    def _four_numbers(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 4):
            raise ValueError(f"{value!r}: give four numbers [xmin, ymin, xmax, ymax]")
        return value

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float, float] | None) -> Any:
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError(f"{list(value)}: xmin must be below xmax and ymin below ymax "
                             "([xmin, ymin, xmax, ymax]); fix the order")
        return value


class LandCoverInput(Strict):
    """One land-cover epoch: one raster (or VRT), or tiles as a list of files or a glob."""

    path: InputPath
    #: Every tile when ``path`` was given as a list or a glob (expanded, globs sorted by name;
    #: ``path`` is then the first tile); empty for a single file.
    tiles: list[InputPath] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _expand_tiles(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("path"), (list, str)):
            return data
        spec = data["path"]
        if isinstance(spec, str) and not set("*?[") & set(spec):
            return data
        import glob

        base = Path((info.context or {}).get("base_dir") or ".")
        tiles: list[Path] = []
        for item in [spec] if isinstance(spec, str) else spec:
            text = str(item if Path(item).is_absolute() else base / item)
            found = sorted(glob.glob(text)) if set("*?[") & set(text) else [text]  # sorted: fixed order
            if not found:
                raise ValueError(f"{item}: the pattern matches no file; check the folder and the pattern")
            tiles.extend(Path(p) for p in found)
        if not tiles:
            raise ValueError("the list of land-cover tiles is empty; name at least one raster")
        return {**data, "path": tiles[0], "tiles": tiles}

    @property
    def sources(self) -> list[Path]:
        """The raster files of this epoch, in compositing order (later valid cells win)."""
        return list(self.tiles) or [self.path]
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


class KnownPlacesInput(VectorInput):
    """Places where the species is known to live or was released, with their source: read only by
    the evaluation stage (kept apart from the populations the model uses). Points or polygons in
    any vector format, or a CSV of points (``x_column``, ``y_column`` in ``crs``)."""

    id_column: str = "place_id"
    name_column: str = "name"
    kind_column: str = "kind"
    source_column: str = "source"
    x_column: str = "lon"
    y_column: str = "lat"
    crs: str = "EPSG:4326"


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
    #: any DEM in metres (nodata allowed): ingest derives elevation, slope and height above the
    #: nearest river, and the floodplain follows the valley floor (issue 13)
    elevation: RasterInput | None = None
    occurrences: VectorInput | None = None
    known_places: KnownPlacesInput | None = None

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
                for j, tile in enumerate(getattr(item, "tiles", [])[1:], start=1):
                    out[f"{key}[{j}]"] = tile  # every tile of a tiled land cover is hashed
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
    evaluation: EvaluationParams | None = None
    omniscape: OmniscapeParams | None = None
    restoration: RestorationParams | None = None
    translocation: TranslocationParams | None = None


class ScenarioEdit(Strict):
    """One edit of a scenario, applied at ingest (habitat.planning.scenarios): geometries from a file.

    ``landcover``: cells whose centre lies inside the polygons become ``to_class`` (a reservoir ->
    water); ``restoration``: floodplain cells of ``from_classes`` inside the polygons become
    ``to_class`` (default tugai_forest: a water release); ``barrier``: cells the lines touch get at
    least ``resistance`` (default impassable); ``crossing``: they get exactly ``resistance``
    (default 1, a bridge). Edits act on the current land-cover classes and the resistance; tugai
    polygon cover (inputs.tugai) is not edited, so compare scenarios with habitat_source landcover.
    """

    kind: Literal["landcover", "restoration", "barrier", "crossing"]
    path: InputPath
    layer: str | None = None
    to_class: HabitatClass | None = None
    from_classes: list[HabitatClass] | None = Field(None, min_length=1)
    resistance: float | None = Field(None, gt=0, allow_inf_nan=True,
                                     description="barrier (inf allowed) or crossing resistance")
    name: str = ""

    @model_validator(mode="after")
    def _needs(self) -> ScenarioEdit:
        if self.kind == "landcover" and self.to_class is None:
            raise ValueError("a landcover edit needs to_class (e.g. water for a reservoir)")
        if self.kind in ("barrier", "crossing") and (self.to_class or self.from_classes):
            raise ValueError(f"a {self.kind} edit changes resistance; to_class/from_classes do not apply")
        return self


class ComputeConfig(Strict):
    """Where the block-wise (dask) work runs."""

    scheduler: str | None = Field(
        None, description="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); "
        "default: the threaded scheduler of this machine"
    )


class Pipeline(Strict):
    """A pipeline file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    grid: GridConfig
    inputs: Inputs
    stages: StagesConfig = StagesConfig(ingest=IngestParams())
    compute: ComputeConfig = ComputeConfig()
    #: named scenarios: lists of edits applied at ingest; each runs into OUT/scenarios/<name>/
    scenarios: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")], list[ScenarioEdit]] = Field(
        default_factory=dict)
    #: the scenario a run applies (set by the runner for OUT/scenarios/<name>; not a file key)
    active_scenario: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _known_scenario(self) -> Pipeline:
        if self.active_scenario is not None and self.active_scenario not in self.scenarios:
            raise ValueError(f"scenario {self.active_scenario!r} is not declared under scenarios:")
        return self

    def scenario_files(self, name: str) -> dict[str, Path]:
        """The files of one scenario's edits by key path, e.g. ``scenarios.dam[0].path``."""
        return {f"scenarios.{name}[{i}].path": edit.path for i, edit in enumerate(self.scenarios[name])}


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(f"line {line}: key {key!r} appears twice (first on line {first}); keep one")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    silently keeps the last, so a repeated ``grid:`` would drop the first one's settings)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark.line)
        except TypeError:  # an unhashable key: construct_mapping names it
            continue
        if first != key_node.start_mark.line:
            raise _DuplicateKeyError(key, key_node.start_mark.line + 1, first + 1)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _error_line(err: dict) -> str:
    """``key path: message``; a model-level message that starts with a field path (``landcover:
    two entries ...``) is merged into the key path (``inputs.landcover: two entries ...``)."""
    import re

    key, message = _key_path(err["loc"]), _message(err)
    inner = re.match(r"^([A-Za-z_][\w.\[\]]*): (.+)$", message) if err["type"] == "value_error" else None
    if inner:
        key, message = (f"{key}.{inner[1]}" if key else inner[1]), inner[2]
    return f"{key or '(top level)'}: {message}"


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key; check its spelling (see the example in pipelines/demo.yaml)"
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"].endswith("_type") and "input" in err and err["input"] is None:
        # a key written with nothing after its colon (YAML null): pydantic's "Input should be a
        # valid dictionary" does not say that the value is missing
        return "has no value (nothing after the colon); give its value or settings, or remove the key if it is optional"
    return err["msg"].removeprefix("Value error, ")


def config_problems(path: str | Path) -> tuple[Pipeline | None, list[str]]:
    """Load and validate a pipeline file, collecting every problem as ``file: key: message``.

    Checks the schema (unknown keys, types, ranges) and that every input file exists.
    """
    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            return None, [f"{path}: a broken symbolic link or a symlink loop; point it at the pipeline file"]
        return None, [f"{path}: pipeline file not found; check the path"]
    if path.is_dir():
        return None, [f"{path}: is a folder, not a pipeline file; give the path of the .yaml file"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [f"{path}: cannot be read ({exc.strerror}); check the file's permissions"]
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [f"{path}: line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                      f"save the file as UTF-8"]
    except _DuplicateKeyError as exc:
        return None, [f"{path}: {exc}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        return None, [f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax"]
    if not isinstance(data, dict):
        return None, [f"{path}: a pipeline file must be a YAML mapping (name, grid, inputs, stages)"]
    try:
        pipeline = Pipeline.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        return None, [f"{path}: {_error_line(e)}" for e in exc.errors()]
    files = {**pipeline.inputs.files(), **{k: v for n in pipeline.scenarios for k, v in pipeline.scenario_files(n).items()}}
    problems = [
        f"{path}: {key}: " + (f"{file} is a broken symbolic link or a symlink loop; point it at the file"
                              if file.is_symlink() else
                              f"file not found: {file}; fix the path (relative to the pipeline file)")
        for key, file in files.items()
        if not file.exists()
    ]
    problems += [f"{path}: {line}" for line in settings_problems(pipeline)]
    return pipeline, problems


def _ahp_problem(key: str, ahp: Any, names: list[str]) -> str | None:
    """A ragged, non-square or otherwise invalid AHP matrix, as ``key: message``."""
    from habitat.errors import InvalidParameterError
    from habitat.suitability.ahp import ahp_weights

    n = len(ahp.matrix)
    for i, row in enumerate(ahp.matrix):
        if len(row) != n:
            return (f"{key}.matrix[{i}]: row has {len(row)} values but the matrix has {n} rows; "
                    f"give a square matrix, one row and one column per criterion")
    try:
        ahp_weights(ahp.matrix, names=names, accept_inconsistent=ahp.accept_inconsistent)
    except InvalidParameterError as exc:
        return f"{key}.matrix: {exc}"
    return None


def _site_column_problems(sites: SitesParams) -> list[str]:
    """Site criteria naming a column the candidate table will not have (it is built after every
    other stage ran, so catch it before the run starts)."""
    from habitat.sites.candidates import CANDIDATE_COLUMNS, NUMERIC_COLUMNS

    named = [(f"stages.sites.hard_criteria[{i}].column", h.column, CANDIDATE_COLUMNS)
             for i, h in enumerate(sites.hard_criteria)]
    named += [(f"stages.sites.criteria[{i}].name", c.name, NUMERIC_COLUMNS) for i, c in enumerate(sites.criteria)]
    named += [(f"stages.sites.pareto_objectives.{k}", k, NUMERIC_COLUMNS) for k in sites.pareto_objectives]
    return [f"{key}: {column!r} is not a {'numeric ' if valid is NUMERIC_COLUMNS else ''}column of the candidate "
            f"table; use one of: {', '.join(valid)}" for key, column, valid in named if column not in valid]


def _criterion_problems(suit: SuitabilityParams) -> list[str]:
    """Membership parameters that the named function does not take (or lacks), found before the
    run reaches the suitability stage."""
    import inspect

    from habitat.suitability.membership import MEMBERSHIP_FUNCTIONS

    problems = []
    for layer, criterion in suit.criteria.items():
        func = MEMBERSHIP_FUNCTIONS.get(criterion.function)
        if func is None or criterion.function == "class_scores":
            continue
        takes = [p for p in inspect.signature(func).parameters if p != "x"]
        unknown = sorted(set(criterion.params) - set(takes))
        try:
            inspect.signature(func).bind(None, **criterion.params)
        except TypeError as exc:
            what = f"unknown parameter(s) {', '.join(unknown)}" if unknown else str(exc)
            problems.append(f"stages.suitability.criteria.{layer}.params: {what}; the {criterion.function} "
                            f"function takes {', '.join(takes)}")
    return problems


def settings_problems(pipeline: Pipeline) -> list[str]:
    """Stage settings that pass the schema but cannot give a result: every weight 0, a ragged
    or inconsistent AHP matrix. Each as ``key path: message``."""
    from habitat.grid import parse_crs
    from habitat.io.landcover import PRODUCTS

    problems: list[str] = []
    try:
        crs = parse_crs(pipeline.grid.crs)
    except HabitatError:
        crs = None  # reported with the grid (habitat.stages.runner.resolve_grid)
    units = {axis.unit_name for axis in crs.axis_info} if crs is not None else set()
    if crs is not None and (crs.is_geographic or not units <= {"metre", "meter"}):
        problems.append(f"grid.crs: {pipeline.grid.crs!r} has axes in {' and '.join(sorted(units)) or 'unknown units'}, "
                        "not metres; the analysis grid needs a projected CRS in metres, e.g. 'default' or a UTM "
                        "zone such as 'EPSG:32642'")
    for i, item in enumerate(pipeline.inputs.landcover):
        if item.product not in PRODUCTS and not item.product.lower().endswith(".csv"):
            problems.append(f"inputs.landcover[{i}].product: {item.product!r} is neither a known product "
                            f"({', '.join(PRODUCTS)}) nor a crosswalk .csv; fix the name")
    stages, inputs = pipeline.stages, pipeline.inputs
    if not any(value is not None for _, value in stages):
        problems.append("stages: no stage is listed; add at least 'ingest: {}' (see pipelines/demo.yaml)")
    for stage, flag, key, name in (
            ("sites", "require_historical_range", "historical_range", "historical range polygons"),
            ("presence", "require_occurrences", "occurrences", "occurrence points")):
        params = getattr(stages, stage)
        if params is not None and getattr(params, flag) and getattr(inputs, key) is None:
            problems.append(f"inputs.{key}: stages.{stage}.{flag} is true but no {name} are given; add "
                            f"inputs.{key} or set {flag}: false")
    if stages.evaluation is not None and inputs.known_places is None:
        problems.append("inputs.known_places: the evaluation stage checks the map against known places; add "
                        "inputs.known_places or remove stages.evaluation")
    if stages.suitability is not None:
        problems += _criterion_problems(stages.suitability)
    places = pipeline.inputs.known_places
    if places is not None:
        try:
            parse_crs(places.crs, "inputs.known_places.crs")
        except HabitatError as exc:
            problems.append(str(exc))
    suit = pipeline.stages.suitability
    if suit is not None:
        names = list(suit.criteria)
        if suit.weights is not None:
            negative = [k for k, v in suit.weights.items() if not v >= 0]
            if negative:
                problems.append(f"stages.suitability.weights.{negative[0]}: weight must be a number >= 0")
            elif sum(suit.weights.values()) <= 0:
                problems.append("stages.suitability.weights: every weight is 0; give at least one criterion "
                                "a weight > 0")
        elif suit.ahp is not None and suit.combination in ("weighted_linear", "weighted_geometric_mean"):
            problem = _ahp_problem("stages.suitability.ahp", suit.ahp, names)
            if problem:
                problems.append(problem)
    sites = pipeline.stages.sites
    if sites is not None:
        if sites.ahp is not None:
            problem = _ahp_problem("stages.sites.ahp", sites.ahp, [c.name for c in sites.criteria])
            if problem:
                problems.append(problem)
        elif sum(c.weight for c in sites.criteria) <= 0:
            problems.append("stages.sites.criteria: every weight is 0; give at least one criterion a weight > 0")
        problems += _site_column_problems(sites)
    return problems


def load_pipeline(path: str | Path) -> Pipeline:
    """Load a pipeline file or raise :class:`ConfigError` naming the first problem."""
    pipeline, problems = config_problems(path)
    if problems:
        more = f" (and {len(problems) - 1} more: run 'habitat validate {path}')" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    assert pipeline is not None
    return pipeline
