"""The clock is a constraint: the planner pipelines each engine so that the timing model's
every path fits the requested period, adds registers as the clock rises, and the plan,
the estimate and the built hardware agree on them."""

from __future__ import annotations

import pytest

from models.factory import random_description
from hw.dense.schedule import is_dense
from gen.estimate.flow_model import analyse
from gen.estimate.timing_model import (DELAYS, USABLE, Pipelining, block_rom_ranges,
                                       candidates, engine_paths, lane_spread, meets,
                                       mux_levels, slowest)
from gen.estimate.memory_map import map_rom
from gen.plan.search import column_readers, engine_paths_of, plan_network


def _registers(lp) -> int:
    return lp.stages + lp.front + lp.argmax_stages + int(lp.skid)


def _paths(desc, lp, family):
    layer = next(x for x in desc.layers if x.name == lp.name)
    shape = dict(zip((x.name for x in desc.layers), desc.layer_inputs()))[lp.name]
    pipe = Pipelining(lp.stages, lp.front, lp.argmax_stages, lp.skid)
    dense = is_dense(layer, shape)
    readers = column_readers(layer, lp.pe, lp.simd, dense) if lp.engine == "folded" else 1
    return engine_paths_of(layer, lp.engine, lp.simd, lp.memory, dense, family, lp.pe,
                           lp.steps, readers)(pipe)


# A slow clock, and one near what the family's fabric reaches through an accumulator and a
# comparison (two carry chains between registers).
CLOCKS = {"ecp5": (20, 70), "gowin": (20, 65), "ice40": (12, 40), "xilinx": (40, 150)}


@pytest.mark.parametrize("family", list(CLOCKS))
def test_planner_adds_pipelining_as_the_clock_rises(family):
    desc = random_description(11, height=8, width=8, max_channels=24)
    cycles = 6 * analyse(desc, {}).ii
    lo, hi = CLOCKS[family]
    slow = plan_network(desc, cycles, family=family, fold=True, clock_mhz=lo)
    fast = plan_network(desc, cycles, family=family, fold=True, clock_mhz=hi)
    convs = [lp for lp in fast.layers if lp.kind == "conv"]
    assert sum(map(_registers, convs)) > sum(
        map(_registers, (lp for lp in slow.layers if lp.kind == "conv")))
    assert fast.total["ff"] > slow.total["ff"]
    for plan, mhz in ((slow, lo), (fast, hi)):
        for lp in plan.layers:
            if lp.kind == "conv":
                assert meets(_paths(desc, lp, family), family, mhz), (family, mhz, lp)
    # The extra registers are latency the plan predicts, not throughput.
    assert fast.latency > slow.latency


def test_without_a_clock_the_plan_keeps_the_asked_stages():
    desc = random_description(12, height=6, width=6, max_channels=8)
    plan = plan_network(desc, 4 * analyse(desc, {}).ii, fold=True, stages=2)
    for lp in plan.layers:
        if lp.kind == "conv":
            assert (lp.stages, lp.front, lp.argmax_stages, lp.skid) == (2, 0, 0, False)


def test_paths_follow_the_registers():
    """Each register the model is given shortens its slowest path, down to what one LUT
    level and a register cost; a block RAM's clock-to-output always ends in a flip-flop
    with front 2."""
    d = DELAYS["ecp5"]
    base = {"simd": 128, "chunks": 13, "block_ram": True, "sparse": False, "scores": 10,
            "input_bits": 1152, "family": "ecp5"}
    worst = [slowest(engine_paths(**base, pipe=Pipelining(s, 2, 2, True)), "ecp5")[0]
             for s in range(4)]
    assert worst == sorted(worst, reverse=True) and worst[0] > worst[-1]
    no_reg = engine_paths(**base, pipe=Pipelining(0, 0, 0, False))
    assert any(p.bram and p.luts > 0 for p in no_reg)
    fronted = engine_paths(**base, pipe=Pipelining(1, 2, 0, True))
    assert [p for p in fronted if p.bram] == [p for p in fronted if p.what == "weight memory"]
    assert all(p.ns(d) >= d.reg for p in fronted)
    assert USABLE < 1


def test_deep_block_rom_ranges_cost_their_multiplexer():
    """A block RAM weight ROM deeper than one geometry's words is read through a multiplexer
    over the address ranges yosys packs side by side (gen.estimate.memory_map.map_rom,
    checked against yosys in tests/test_estimate.py): CNV's conv5 at 4,608 steps, in
    word-register slices of 8 bits, has 9 ranges, 4 LUT levels after the block RAM, and
    misses 100 MHz on ECP5; at 576 steps (72-bit slices, one 1024 x 18 range) it meets it."""
    assert block_rom_ranges("ecp5", 4608, 130, 2) == 9
    assert block_rom_ranges("ecp5", 576, 1040, 2) == 1
    # (conv5 is a streamed dense engine: 3x3 pixels of 256 channels, chunks of 128 and 0)
    # (its lane's thresholds: 256 words of 14 bits at PE 1, 32 at PE 8)
    base = {"simd": 128, "chunks": 3, "block_ram": True, "sparse": False, "scores": 0,
            "input_bits": 256, "family": "ecp5"}
    deep = engine_paths(**base, pipe=Pipelining(4, 2, 0, True), rom_words=4608, rom_bits=130,
                        thresholds=(256, 14))
    assert [p.luts for p in deep if p.what == "weight memory"] == [4]
    assert not meets(deep, "ecp5", 100)
    shallow = engine_paths(**base, pipe=Pipelining(4, 2, 0, True), rom_words=576,
                           rom_bits=1040, thresholds=(32, 14))
    assert [p.luts for p in shallow if p.what == "weight memory"] == [0]
    assert meets(shallow, "ecp5", 100)
    # below front 2 the multiplexer is in front of the chunk multiplexer
    read = engine_paths(**base, pipe=Pipelining(4, 1, 0, True), rom_words=4608, rom_bits=130,
                        thresholds=(256, 14))
    assert read[0].what.startswith("popcount") and read[0].bram
    assert read[0].luts == engine_paths(**base, pipe=Pipelining(4, 1, 0, True),
                                        thresholds=(256, 14))[0].luts \
        + mux_levels(block_rom_ranges("ecp5", 4608, 130, 1), DELAYS["ecp5"])


def test_options_meet_the_clock_where_any_can():
    """No register cuts a folded engine's chunk multiplexer: where the narrowest SIMD widths
    miss the clock, wider ones are tried, and only options that meet it are offered (the
    shipped default's conv4 at 100 MHz on ECP5: a 33-way multiplexer at SIMD 36)."""
    from gen.plan.search import engine_paths_of, layer_options
    from models import description as fmt

    desc = fmt.load("models/zoo/default.json")
    shapes = dict(zip((x.name for x in desc.layers), desc.layer_inputs()))
    conv = next(x for x in desc.layers if x.name == "conv4")
    opts = layer_options(conv, 2040, "ecp5", in_shape=shapes["conv4"], clock_mhz=100, fold=True)
    assert opts and all(o.simd > 36 for o in opts)
    for o in opts:
        paths = engine_paths_of(conv, o.engine, o.simd, o.memory, False, "ecp5", o.pe,
                                o.steps)(o.pipe)
        assert meets(paths, "ecp5", 100)


def test_window_paths_in_the_plan():
    """The plan's slowest path covers the window generators (hw.window), which have no
    pipelining: the widest window's enables, one net per group of bits (hw.fanout)."""
    from gen.estimate.timing_model import layer_window, window_paths
    from hw.fanout import GROUP_BITS
    from models import description as fmt

    desc = fmt.load("models/zoo/default.json")
    shapes = dict(zip((x.name for x in desc.layers), desc.layer_inputs()))
    conv4 = next(x for x in desc.layers if x.name == "conv4")
    paths = window_paths(layer_window(conv4, shapes["conv4"]), shapes["conv4"][2])
    assert {p.what for p in paths} == {"issue", "shift", "bookkeeping"}
    assert 3 * 3 * 128 > GROUP_BITS
    assert max(p.loads for p in paths) == GROUP_BITS


def test_registered_window_enables_reach_their_flip_flops_through_no_lut():
    """In front of an engine whose `ready` is a register (hw.window.generator's
    `ready_next`) each group's enable is a register: the wide enable nets start at
    flip-flops, and the enables' next values are the LUTs (hw.folded.engine's two, the
    generator's one)."""
    from gen.estimate.timing_model import window_paths
    from hw.window.plan import plan_window

    plan = plan_window(8, 8, (3, 3), (1, 1), (1, 1))
    plain = {p.what: p for p in window_paths(plan, 64)}
    registered = {p.what: p for p in window_paths(plan, 64, registered=True)}
    assert plain["shift"].luts == 2 and "enables" not in plain
    assert registered["shift"].luts == 0
    assert registered["shift"].loads == plain["shift"].loads
    assert registered["enables"].luts == 3


def test_front_3_puts_the_comparison_a_cycle_after_the_adder():
    """With `front` 3 a lane compares its sum a cycle after its adder, from a register
    (hw.folded.lanes.lane_results): the path that ends the popcount tree with the
    accumulator loses the comparison's carry chain, which becomes a path of its own; a
    scores layer compares nothing there."""
    d = DELAYS["ecp5"]

    def paths(front, scores=0):
        return engine_paths(64, 5, True, False, scores, 256, Pipelining(3, front, 0, True),
                            "ecp5", 256, 576, 16 * 66, (16, 8), 16)

    def accumulate(front, scores=0):     # the tree's last path, into the accumulator
        return [p for p in paths(front, scores) if p.what.startswith("popcount")][-1]

    assert accumulate(2).carries == 2 and accumulate(3).carries == 1
    assert [p.what for p in paths(2)].count("compare") == 0
    compare = [p for p in paths(3) if p.what == "compare"]
    assert [p.ns(d) for p in compare] == [pytest.approx(d.reg + d.lut + d.carry)]
    assert "compare" not in [p.what for p in paths(3, scores=10)]
    assert accumulate(3, scores=10).carries == accumulate(2, scores=10).carries == 1


def test_lanes_apart_cost_routing_and_chunk_registers_cut_it():
    """A chunk multiplexer that CNV's conv5's 16 lanes of 64 bits read, their weights in 63
    block RAMs, routes past 100 MHz on ECP5 (12.6 ns measured) with the word in a register
    (`front` 2), and within it with the multiplexer in registers by the lanes (`front` 3);
    two lanes, or weights in LUTs, lie together, and lanes over fewer block RAMs lie in as
    many places."""
    d = DELAYS["ecp5"]

    def head(front, readers=16, block_ram=True, rom_bits=16 * 66):
        paths = engine_paths(64, 5, block_ram, False, 0, 256, Pipelining(3, front, 0, True),
                             "ecp5", 256, 576, rom_bits, (16, 8), readers)
        return {p.what: p.ns(d) for p in paths}

    budget = USABLE * 1000 / 100
    assert head(2)["popcount 0..0"] == pytest.approx(d.reg + 4 * d.lut + 3 * d.spread)
    assert head(2)["popcount 0..0"] > budget
    assert max(head(3).values()) <= budget
    assert head(3)["popcount 0..0"] == pytest.approx(d.reg + d.lut + d.spread)   # 4 lanes
    assert head(3)["chunk multiplexer"] == pytest.approx(d.reg + 3 * d.lut + d.spread)
    together = d.reg + 4 * d.lut
    assert head(2, readers=2)["popcount 0..0"] == head(2, block_ram=False)["popcount 0..0"] \
        == pytest.approx(together)
    # 16 lanes whose weights fill 2 block RAMs: two places; each of the 4 register copies
    # by its lanes
    assert map_rom("ecp5", 576, 32).bram == 2
    assert head(2, rom_bits=32)["popcount 0..0"] == pytest.approx(together)
    assert head(3, rom_bits=32)["popcount 0..0"] == pytest.approx(d.reg + d.lut)
    assert head(3, rom_bits=32)["chunk multiplexer"] == pytest.approx(d.reg + 3 * d.lut)
    # a lane under 64 bits counts for its part
    assert lane_spread(16, 64) == 3 and lane_spread(16, 16) == 0.75 and lane_spread(2, 64) == 0
    # `front` 3 is priced only where more than two lanes read a multiplexer

    def fronts(readers):
        def paths_of(pipe):
            return engine_paths(64, 5, True, False, 0, 256, pipe, "ecp5", 256, 576, 16 * 66,
                                (16, 8), readers)
        return {p.front for p in candidates(paths_of, "ecp5", 100, 1, True, False, readers)}
    assert fronts(16) == {3} and fronts(2) == {2}
