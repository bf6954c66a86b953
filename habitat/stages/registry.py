"""The explicit stage registry and the order stages run in."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from habitat.errors import ConfigError, StageContractError
from habitat.stages import (
    circuit, connectivity, evaluation, indicators, ingest, patches, presence, report, resistance, sites, suitability,
)
from habitat.stages import restoration, translocation
from habitat.stages import omniscape
from habitat.stages.spec import StageSpec

#: Every stage habitat knows, in no particular order; the DAG comes from inputs and outputs.
STAGES: tuple[StageSpec, ...] = (ingest.STAGE, suitability.STAGE, patches.STAGE, resistance.STAGE, connectivity.STAGE, circuit.STAGE,
                                  indicators.STAGE, report.STAGE, sites.STAGE, presence.STAGE,
                                  restoration.STAGE, translocation.STAGE, evaluation.STAGE)
STAGES += (omniscape.STAGE,)


def get_stage(stage_id: str, stages: tuple[StageSpec, ...] = STAGES) -> StageSpec:
    """The registered stage with this id."""
    by_id = {s.id: s for s in stages}
    if stage_id not in by_id:
        raise ConfigError(f"stage {stage_id!r} is unknown; known stages: {', '.join(sorted(by_id))}")
    return by_id[stage_id]


def producers(stages: tuple[StageSpec, ...] = STAGES) -> dict[str, StageSpec]:
    """Map every output id to the stage that writes it; two writers of one id are an error."""
    out: dict[str, StageSpec] = {}
    for stage in stages:
        for spec in stage.outputs:
            if spec.id in out:
                raise StageContractError(
                    f"output {spec.id!r} is declared by both {out[spec.id].id!r} and {stage.id!r}"
                )
            out[spec.id] = stage
    return out


def dependencies(
    stage: StageSpec, stages: tuple[StageSpec, ...] = STAGES, *, required_only: bool = False
) -> set[str]:
    """Ids of the stages whose outputs ``stage`` reads (only its required inputs, if asked)."""
    made_by = producers(stages)
    deps = set()
    for spec in stage.inputs:
        if spec.optional and required_only:
            continue
        if spec.id not in made_by:
            if spec.optional:
                continue
            raise StageContractError(f"stage {stage.id!r} reads {spec.id!r}, which no stage writes")
        deps.add(made_by[spec.id].id)
    return deps


def execution_order(stage_ids: set[str] | None = None, stages: tuple[StageSpec, ...] = STAGES) -> list[str]:
    """Stage ids in dependency order; ties broken by id.

    The set is closed over *required* inputs: a stage whose optional input comes from a stage
    that is not wanted runs without it, and runs after that stage when both are wanted.
    """
    wanted = set(s.id for s in stages) if stage_ids is None else set(stage_ids)
    by_id = {s.id: s for s in stages}
    todo = list(wanted)
    while todo:
        deps = dependencies(get_stage(todo.pop(), stages), stages, required_only=True)
        todo.extend(deps - wanted)
        wanted |= deps
    sorter = TopologicalSorter({sid: dependencies(by_id[sid], stages) & wanted for sid in wanted})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise StageContractError(f"stages depend on each other in a cycle: {exc.args[1]}") from exc
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order

