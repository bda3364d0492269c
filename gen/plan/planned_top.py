"""What `bnngen build FILE --plan PLAN` adds to a build: the planned top instead of the
unrolled one, and the plan's per-layer choices and predictions in the manifest."""

from __future__ import annotations

from models.description import Description
from hw.folded.planned import PlannedNetwork

from gen.plan.plan_file import Plan, check_plan, load_plan


def planned_top(desc: Description, plan: Plan | str, runtime_thresholds: bool = False,
                control: bool = False):
    """The network top for `desc` built as `plan` (a Plan or a plan file) says."""
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    check_plan(plan, desc)
    return PlannedNetwork(desc, plan.choices(), stages=plan.stages,
                          runtime_thresholds=runtime_thresholds, control=control)


def manifest_fields(plan: Plan) -> dict:
    """The plan's part of a build manifest: per-layer folding and the predicted timing."""
    return {
        "plan": {
            "target_cycles": plan.target_cycles, "predicted_ii": plan.ii,
            "predicted_latency": plan.latency, "family": plan.family, "device": plan.device,
            "clock_mhz": plan.clock_mhz,
            "estimate": plan.total,
            "layers": {lp.name: {"engine": lp.engine, "pe": lp.pe, "simd": lp.simd,
                                 "steps": lp.steps, "memory": lp.memory,
                                 "fifo_depth": lp.fifo_depth, "stages": lp.stages,
                                 "argmax_stages": lp.argmax_stages, "front": lp.front,
                                 "skid": lp.skid}
                       for lp in plan.layers},
        }
    }
