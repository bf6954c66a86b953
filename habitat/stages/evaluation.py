"""The evaluation stage: the finished map checked against known places (METHODS.md 10; issue 13)."""

from __future__ import annotations

from typing import Any

from habitat.params import EvaluationParams
from habitat.stages import catalog
from habitat.stages.spec import StageContext, StageSpec

INPUTS = catalog.layers("known_places", "suitability", "quality", "floodplain", optional=False)
OUTPUTS = catalog.outputs_of("evaluation")

_REFERENCE = {
    "suitable_floodplain": "floodplain cells with suitability > 0",
    "floodplain": "floodplain cells",
}


def run_evaluation(ctx: StageContext) -> dict[str, Any]:
    """Each known place's suitability and quality percentile among the reference cells; the
    continuous Boyce index of the presence places (reference kinds are ranked, not counted)."""
    from habitat.evaluation import evaluate_places
    import numpy as np
    params: EvaluationParams = ctx.params  # type: ignore[assignment]
    places = ctx.inputs["known_places"]
    suitability = np.asarray(ctx.inputs["suitability"].values, dtype=np.float64)
    quality = np.asarray(ctx.inputs["quality"].values, dtype=np.float64)
    reference = (np.asarray(ctx.inputs["floodplain"].values) > 0) & np.isfinite(suitability)
    if params.reference == "suitable_floodplain":
        reference &= suitability > 0
    result = evaluate_places(
        places.drop(columns="geometry"), list(places.geometry), ctx.grid.affine,
        {"suitability": suitability, "quality": quality}, reference,
        reference_name=_REFERENCE[params.reference], polygon_stat=params.polygon_stat,
    )
    summary = result.summary.iloc[0]
    ctx.log(f"Boyce index {summary['boyce_index']:.2f} over {summary['n_presence']} presence places; "
            f"{summary['n_presence_top_quartile']} in the top quartile, {summary['n_presence_bottom_half']} in the "
            f"bottom half of {summary['n_reference_cells']} {_REFERENCE[params.reference]}")
    low = result.places.loc[result.places["bottom_half"] & result.places["presence"], "place_id"].tolist()
    if low:
        ctx.log(f"presence places in the bottom half: {', '.join(low)}")
    return {"evaluation": result.places, "evaluation_summary": result.summary}


STAGE = StageSpec(
    id="evaluation",
    version="1",
    doc="The map checked against known places: percentiles among floodplain cells and the continuous Boyce index.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=EvaluationParams,
    run=run_evaluation,
)
