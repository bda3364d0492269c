"""Planned (folded) networks end to end on both simulators: every result bit-exact against
the golden model under random input gaps and output backpressure at the planned FIFO
depths, and the initiation interval measured without gaps or backpressure within 2% of the
planner's prediction."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from models import golden
from models.factory import random_description, random_images
from sim.harness import SIMULATORS, run_bench
from sim.netcheck import decode
from sim.test_folded import verilator_makeflags
from sim.vectors import pack_samples, stream_widths, to_npz


@pytest.fixture(autouse=True)
def _verilator_make(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", verilator_makeflags())


# (factory seed, factory pins, target as a multiple of the unrolled interval, weight memory
# style, every conv folded, forced FIFO depth or None for the planned one, clock (MHz) the
# planner pipelines for on ECP5, or None)
PLANS = [
    (3, {"height": 6, "width": 6, "convs": 2, "pool": True, "domain": "bipolar"}, 4, "auto",
     False, None, None),
    (3, {"height": 6, "width": 6, "convs": 2, "pool": True, "domain": "bipolar"}, 16, "auto",
     True, None, 150),
    (11, {"height": 5, "width": 7, "convs": 2, "domain": "sparse"}, 6, "block", True, None,
     150),
    (21, {"height": 6, "width": 5, "convs": 1, "channels": 2}, 10, "distributed", True, None,
     None),
    (8, {"height": 6, "width": 6, "convs": 2, "pool": False}, 3, "auto", True, 3, 90),
]


@cache
def planned(unit: int):
    """(description, plan) of one unit."""
    from gen.estimate.flow_model import analyse
    from gen.plan.search import plan_network
    seed, pins, factor, memory, fold, fifo, clock = PLANS[unit]
    desc = random_description(seed, max_channels=8, **pins)
    floor = analyse(desc, {}).ii
    plan = plan_network(desc, factor * floor, memory=memory, fold=fold, clock_mhz=clock,
                        family="ecp5")
    if fifo is not None:   # exercise the FIFOs themselves
        plan = replace(plan, layers=tuple(replace(lp, fifo_depth=fifo) for lp in plan.layers))
    return desc, plan


def make_unit(cfg):
    from hw.folded.planned import PlannedNetwork
    desc, plan = planned(PLANS.index(tuple(cfg) if isinstance(cfg, list) else cfg))
    return PlannedNetwork(desc, plan.choices(), stages=plan.stages)


def run_network(unit: int, simulator: str, frames: int, gap: float, stall: float,
                pace: int = 0):
    desc, plan = planned(unit)
    images = random_images(desc, frames, seed=unit)
    in_width, out_width = stream_widths(desc)
    pixels = desc.input.height * desc.input.width
    vec = {"inputs": to_npz(pack_samples(images, desc.input.bits), in_width), "count": frames,
           "out_width": out_width, "frame_pixels": pixels, "seed": 11 + unit, "gap": gap,
           "stall": stall, "timeout": 4 * frames * (plan.ii + plan.latency) + 5000,
           "pace": pace}
    out = run_bench("folded-net", PLANS, make_unit, unit, "network_bench", simulator, vec)
    return desc, plan, images, out


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(PLANS)))
def test_planned_network(unit, simulator):
    desc, plan, images, out = run_network(unit, simulator, frames=4, gap=0.3, stall=0.4)
    check_results(desc, plan, unit, images, out)


def check_results(desc, plan, unit: int, images, out) -> None:
    """Every result the golden model's, none missing, and the bench passed."""
    from sim.benches.tb import array_words
    words = array_words(out["outputs"])
    ref = golden.forward(desc, images)
    assert len(words) == len(images), f"{desc.name}: {len(words)} of {len(images)} results"
    for n, word in enumerate(words):
        cls, scores = decode(desc, word)
        if cls != ref.predictions[n] or scores != ref.scores[n].tolist():
            raise AssertionError(
                f"{desc.name} plan {unit}: layer {desc.layers[-1].name}, frame {n}: expected "
                f"class {ref.predictions[n]} scores {ref.scores[n].tolist()}, actual class "
                f"{cls} scores {scores}")
    assert not out["failed"]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(PLANS)))
def test_planned_interval(unit, simulator):
    """Frames back to back, output always ready: every result is the golden model's and
    the spacings of the last three results are the II."""
    desc, plan, images, out = run_network(unit, simulator, frames=5, gap=0.0, stall=0.0)
    check_results(desc, plan, unit, images, out)
    cycles = np.asarray(out["out_cycles"], dtype=np.int64)
    measured = np.diff(cycles)[-3:].tolist()
    print(f"II {simulator} plan {unit} ({desc.name}): measured {measured}, predicted {plan.ii}")
    assert all(abs(m - plan.ii) <= 0.02 * plan.ii for m in measured), \
        f"{desc.name} plan {unit}: measured spacings {measured}, predicted II {plan.ii}"


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", [u for u, p in enumerate(PLANS) if p[5] is None])
def test_planned_latency(unit, simulator):
    """Output always ready, the source paced at the II or never idle: every frame's latency
    is the plan's and the manifest's (`bnngen plan` and `bnngen build` print it); the top
    paces a source that never pauses to the II (hw/framing.py), so frames never queue.
    (Not where FIFO depths are forced below the plan's: the plan's latency assumes its
    own.)"""
    from gen.build.emit import latency_fields
    from sim.netcheck import frame_latencies
    desc, plan = planned(unit)
    manifest = latency_fields(desc, plan.ii, plan)
    assert manifest["paced_cycles"] == manifest["back_to_back_cycles"] == plan.latency
    for pace in (plan.ii, 0):
        _, _, _, out = run_network(unit, simulator, frames=4, gap=0.0, stall=0.0, pace=pace)
        measured = frame_latencies(desc, out)
        assert measured == [plan.latency] * len(measured), \
            f"{desc.name} plan {unit} (source {'paced' if pace else 'back to back'}): " \
            f"measured latency {measured}, plan {plan.latency}"
