"""Stage declarations: what a stage reads, writes and takes as parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from habitat.config import Pipeline
from habitat.errors import StageContractError
from habitat.grid import GridSpec


class LayerSpec(BaseModel):
    """One declared input or output of a stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Literal["raster", "vector", "table", "workbook"]
    dtype: str | None = None
    units: str | None = None
    nodata: float | int | None = None
    optional: bool = False
    doc: str
    file_stem: str | None = None  # file name without suffix when it differs from the id
    #: When the layer exists only under a condition, that condition (habitat.stages.catalog.created);
    #: such a layer is optional.
    created_if: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _conditional_is_optional(cls, data):
        if isinstance(data, dict) and data.get("created_if") is not None:
            data = {**data, "optional": True}
        return data

    @property
    def suffix(self) -> str:
        return {"raster": ".tif", "vector": ".gpkg", "table": ".csv", "workbook": ".xlsx"}[self.kind]

    @property
    def file_name(self) -> str:
        """Name of the output file in the stage's folder: ``<file_stem or id><suffix>``."""
        return f"{self.file_stem or self.id}{self.suffix}"


@dataclass(frozen=True)
class StageContext:
    """What the runner hands a stage's ``run``: loaded inputs, params and the grid.

    ``pipeline`` gives the ingest stage the input files; other stages use only ``inputs``.
    ``settings`` holds the parameters of the other stages this stage declares in
    ``StageSpec.settings`` (by stage id). ``log`` records a line for the run report (e.g.
    geometry repairs).
    """

    grid: GridSpec
    params: BaseModel
    inputs: Mapping[str, Any]
    pipeline: Pipeline
    log: Callable[[str], None] = field(default=print)
    settings: Mapping[str, BaseModel] = field(default_factory=dict)

    def setting(self, stage_id: str) -> BaseModel:
        """The parameters of stage ``stage_id``, which this stage declared it reads."""
        if stage_id not in self.settings:
            raise StageContractError(f"the {stage_id!r} settings were not handed to this stage; declare "
                                     f"settings=({stage_id!r},) on its StageSpec and pass them in the context")
        return self.settings[stage_id]


@dataclass(frozen=True)
class Deferred:
    """An output a stage hands back unevaluated: ``make()`` returns it when the runner writes it.

    The runner writes a stage's ordinary outputs first and drops them, then calls each deferred
    output's ``make`` in declaration order, writes its value and drops it before the next one,
    so a stage whose outputs are full grids holds at most one of them at a time (plus what the
    closures keep). The written bytes do not depend on whether an output was deferred.
    """

    make: Callable[[], Any]


@dataclass(frozen=True)
class StageSpec:
    """A stage: id, version, declared inputs and outputs, a params model and ``run``.

    ``run(ctx) -> dict[output id, value]`` returns DataArrays for rasters, GeoDataFrames for
    vectors and DataFrames for tables, or :class:`Deferred` ones made when they are written;
    optional outputs may be left out. ``sources`` lists
    the ``inputs`` keys of the pipeline file whose bytes the stage reads (ingest only).
    """

    id: str
    version: str
    doc: str
    inputs: tuple[LayerSpec, ...]
    outputs: tuple[LayerSpec, ...]
    params: type[BaseModel]
    run: Callable[[StageContext], dict[str, Any]]
    reads_pipeline_inputs: bool = False
    #: Ids of other stages whose parameters this stage uses (handed over as ``ctx.settings``, and
    #: part of its cache key), e.g. sites uses the connectivity and circuit settings; ``"grid"``
    #: hands over the pipeline's grid section (connectivity: ``grid.connectivity_resolution_m``).
    settings: tuple[str, ...] = ()
    #: Called with the output folder after the run's manifest is written, for files that are built
    #: from the finished folder (the report); returns the paths it wrote.
    after_run: Callable[[Path], list[Path]] | None = None

    def output(self, output_id: str) -> LayerSpec:
        for spec in self.outputs:
            if spec.id == output_id:
                return spec
        raise KeyError(output_id)
