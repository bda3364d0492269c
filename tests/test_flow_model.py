"""The flow model's recurrences (gen/estimate/flow_model.py) on examples small enough to work out by
hand, computed on paper from the rules in the module's docstring (and
hw.folded.lanes.engine_depth's register count), not by running the model; then whole networks
against their latency and interval measured on the RTL."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import (Activation, Conv, Description, InputSpec, MaxPool, Scores,
                                Thermometer)
from gen.estimate.flow_model import Flow, analyse, backlog, direct, stages_of, streamed


def _conv(name, in_ch, out_ch, kernel=(1, 1), scores=False, out_hw=(1, 1)):
    weights = np.ones((out_ch, kernel[0], kernel[1], in_ch), dtype=np.uint8)
    act = None if scores else Activation(thresholds=np.zeros(out_ch, dtype=np.int64),
                                         flip=np.zeros(out_ch, dtype=np.uint8))
    sc = Scores(scale=np.ones(out_ch, dtype=np.int64),
                offset=np.zeros(out_ch, dtype=np.int64)) if scores else None
    return Conv(name=name, out_channels=out_ch, kernel=kernel, stride=(1, 1), padding=(0, 0),
                pad_bit=0, groups=1, domain="bipolar", weights=weights, activation=act,
                scores=sc, out_shape=(*out_hw, out_ch))


def _desc(width, layers):
    enc = Thermometer(thresholds=np.array([[1, 2]], dtype=np.int64))
    return Description(name="flow", input=InputSpec(1, width, 1, 2), encoder=enc,
                       layers=tuple(layers))


# 1x1 input, a 1x1 conv then a 1x1 scores layer: no window generator anywhere.
ONE_PIXEL = _desc(1, [_conv("l1", 2, 2), _conv("out", 2, 3, scores=True)])
# 1x2 input: a 1x1 conv, then a dense 1x2 scores layer (streamed when given pixel steps).
TWO_PIXELS = _desc(2, [_conv("l1", 2, 2, out_hw=(1, 2)),
                       _conv("out", 2, 3, kernel=(1, 2), scores=True)])


def test_direct_takes_an_item_every_steps_cycles():
    accept, out = direct(np.array([0, 1, 2, 9]), steps=2, latency=3)
    assert accept.tolist() == [0, 2, 4, 9]
    assert out.tolist() == [4, 6, 8, 13]     # accept + steps + latency - 1


def test_streamed_answers_once_per_frame_after_its_last_pixel():
    accept, out = streamed(np.array([0, 0, 0, 0]), (1, 3), latency=2)
    assert accept.tolist() == [0, 1, 4, 5]   # pixel 1 waits 1 cycle, pixel 2 waits 3
    assert out.tolist() == [5, 9]            # last pixel's accept + 3 + 2 - 1


def test_backlog_counts_items_waiting_at_each_acceptance():
    assert backlog(np.array([0, 1, 2, 3]), np.array([0, 5, 6, 7])) == 3
    assert backlog(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 3])) == 0
    assert backlog(np.array([5, 6]), np.array([0, 1])) == 0
    assert backlog(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == 0
    assert backlog(np.array([0, 0, 4]), np.array([3, 4, 5])) == 2   # two wait at 3


def test_stages_of_latencies_and_plans():
    un = stages_of(ONE_PIXEL, {})
    assert [(s.name, s.steps, s.latency, s.plan, s.pixel_steps) for s in un] == [
        ("l1", 1, 2, None, None),          # unrolled: 1 popcount stage + output register
        ("out", 1, 3, None, None)]         # + score register + output register
    assert [s.latency for s in stages_of(ONE_PIXEL, {}, stages=0)] == [1, 2]
    # folded: input register, popcount stages, lane results, output (engine_depth)
    folded = stages_of(ONE_PIXEL, {"l1": 3, "out": 2}, pipes={"l1": (2, 0, 1),
                                                             "out": (1, 2, 2)})
    assert [(s.steps, s.latency) for s in folded] == [(3, 2 + 1 + 2 + 1),
                                                      (2, 2 + 1 + 1 + 2 + 2)]
    assert [s.latency for s in stages_of(ONE_PIXEL, {}, pipes={"out": (2, 3, 0)})] == [2,
                                                                                       2 + 2 + 3]
    two = stages_of(TWO_PIXELS, {"out": (1, 3)})
    assert two[1].pixel_steps == (1, 3) and two[1].plan is None and two[1].latency == 5
    assert (two[1].height, two[1].width) == (1, 2)
    assert two[0].plan is None                         # a 1x1 kernel needs no window
    windowed = stages_of(TWO_PIXELS, {})[1]
    assert windowed.plan is not None and windowed.plan.kernel == (1, 2)
    assert windowed.latency == 3 and windowed.steps == 1


def test_stages_of_pool_and_strided_or_padded_1x1():
    pool = MaxPool(name="pool", kernel=(1, 2), stride=(1, 2), out_shape=(1, 1, 2))
    desc = _desc(2, [_conv("l1", 2, 2, out_hw=(1, 2)), pool, _conv("out", 2, 3, scores=True)])
    st = stages_of(desc, {})
    assert (st[1].name, st[1].steps, st[1].latency) == ("pool", 1, 1)
    assert st[1].plan.kernel == (1, 2) and st[1].plan.stride == (1, 2)
    assert (st[2].height, st[2].width) == (1, 1)
    strided = _desc(2, [Conv(**{**_conv("l1", 2, 2).__dict__, "stride": (1, 2),
                                "out_shape": (1, 1, 2)}), _conv("out", 2, 3, scores=True)])
    assert stages_of(strided, {})[0].plan is not None
    padded = _desc(1, [Conv(**{**_conv("l1", 2, 2).__dict__, "padding": (0, 1),
                               "out_shape": (1, 3, 2)})])
    assert stages_of(padded, {})[0].plan is not None


def test_analyse_unrolled_one_pixel():
    # arrivals 0,1,2 -> encoder 1,2,3 -> l1 out 3,4,5 -> scores out 6,7,8
    assert analyse(ONE_PIXEL, {}) == Flow(ii=1, latency=6, backlog={"l1": 0, "out": 0})


def test_analyse_folded_one_pixel():
    # l1 takes one pixel every 3 cycles, engine depth 4: out 7,10,13, then 10,13,16; II 3;
    # paced at 3 the same times, latency 16 - 6.
    assert analyse(ONE_PIXEL, {"l1": 3}) == Flow(ii=3, latency=10, backlog={"l1": 0, "out": 0})


def test_analyse_streamed_dense_two_pixels():
    # l1: steps 2, depth 4 -> results 6,8,10,12,14,16; the streamed layer (1 then 3 cycles a
    # pixel, depth 5) accepts 6,8,11,12,15,16 and answers 15,19,23: II 4; paced at 4 the
    # source sends 0,2,4,... (the same times), latency 23 - 10; one pixel waits at 11 and 15.
    flow = analyse(TWO_PIXELS, {"l1": 2, "out": (1, 3)})
    assert flow == Flow(ii=4, latency=13, backlog={"l1": 0, "out": 1})


def test_analyse_more_frames_same_steady_state():
    assert analyse(ONE_PIXEL, {"l1": 3}, frames=5) == Flow(ii=3, latency=10,
                                                           backlog={"l1": 0, "out": 0})
    assert analyse(ONE_PIXEL, {"l1": 3}, stages=0).latency == 8


# The paced latency of the ten factory networks of sim/test_network.py, measured on the RTL
# (Verilator, sim/test_network.py::test_network_latency: every frame's latency, source paced
# at the II or back to back), and of factory seed 57 (a "same"-padded layer whose last output
# row owes spilled windows to the next frame) measured the same way with sim.netcheck; their
# initiation interval is hw.window.timing's (the RTL's cycle model of its window generators,
# checked against simulation in sim/).
MEASURED_LATENCY = {272: 33, 389: 17, 34: 19, 233: 14, 94: 19, 112: 22, 93: 43, 179: 23,
                    216: 31, 55: 32, 57: 25}


def test_factory_networks_as_measured():
    from hw.network import Network
    from models.factory import random_description
    for seed, latency in MEASURED_LATENCY.items():
        desc = random_description(seed)
        flow = analyse(desc, {})
        assert (seed, flow.latency, flow.ii) == (seed, latency, Network(desc).timing.ii)


def test_paced_source_rounds_down():
    # The streamed layer takes 1 then 2 cycles a pixel: 3 cycles a frame of 2 pixels. Paced
    # at 3, pixel p of frame f is sent at 3f + (3p) // 2: 0, 1, 3, 4, 6, 7; results leave at
    # 10, 13, 16, so the last frame's latency is 16 - 7.
    flow = analyse(TWO_PIXELS, {"out": (1, 2)})
    assert flow == Flow(ii=3, latency=9, backlog={"l1": 0, "out": 0})


def test_streamed_latency_counts_the_front_register():
    st = stages_of(TWO_PIXELS, {"out": (1, 3)}, pipes={"out": (1, 0, 1)})
    assert st[1].latency == 2 + 1 + 1 + 2            # input, leaves, popcount, score + out


# Planned networks whose folded engines sit behind window generators, measured on the RTL
# (Icarus and Verilator agree; frames back to back for the II, source paced at the plan's II
# for the latency, the plan's FIFO depths). Seed 4 has a FIFO in front of conv0, whose two
# cycles are in the latency. Found by mutation testing (BENCHMARKS.md, "Mutation testing":
# gen.estimate.flow_model.windowed's rule that the read side waits for a busy engine).
@pytest.mark.parametrize("seed,pins,measured_ii,measured_latency", [
    (4, {"height": 6, "width": 6}, 64, 76),
    (3, {}, 42, 31),
])
def test_folded_behind_a_window_as_measured(seed, pins, measured_ii, measured_latency):
    from gen.plan.search import plan_network
    from models.factory import random_description
    desc = random_description(seed, max_channels=8, **pins)
    plan = plan_network(desc, 2 * analyse(desc, {}).ii, fold=True, family="ecp5")
    assert (plan.ii, plan.latency) == (measured_ii, measured_latency)
