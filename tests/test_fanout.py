"""The copies of a control register that split a wide register's enable (hw.fanout) reach
the netlist: yosys would merge them back into one flip-flop without the project's scripts'
`keep` (gen.synth.scripts.KEEP_COPIES)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from amaranth.back import verilog

from gen.common.resources import classify
from gen.synth import yosys as synth
from hw.fanout import GROUP_BITS, group_slices


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BNNGEN_SYNTH_CACHE", str(tmp_path / "cache"))


def test_group_slices_cover_the_register_in_order():
    for width in (1, GROUP_BITS, GROUP_BITS + 1, 2304, 1000):
        slices = group_slices(width)
        bits = [b for s in slices for b in range(s.start, s.stop)]
        assert bits == list(range(width))
        assert max(s.stop - s.start for s in slices) <= GROUP_BITS
        assert len(slices) == -(-width // GROUP_BITS)


def _flip_flops(text: str, top: str) -> int:
    cells = synth.run_yosys(text, "ecp5", top, use_cache=False).modules[top]
    return classify("ecp5", cells)["ff"]


def _window_generator(pipelined: bool = False):
    """(`o.valid` itself enables the first group)"""
    from hw.window.generator import WindowGenerator
    block = WindowGenerator(4, 5, 48, (3, 3), (1, 1), (1, 1))
    block.pipelined = pipelined
    return block, "o__valid", 9 * 48, 1


def _pipelined_window_generator():
    return _window_generator(True)


def _skid_engine():
    import numpy as np

    from hw.folded.engine import FoldedEngine
    from models.factory import random_conv
    conv = random_conv(np.random.default_rng(1), "wide", (3, 3, 32), out_channels=4,
                       kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=1,
                       domain="bipolar", prune=0.0)
    # one lane: two lanes' copies of `adv` also keep apart registers the lanes share
    return FoldedEngine(conv, pe=1, simd=96, skid=True), "ready", 9 * 32, 1


@pytest.mark.parametrize("make", [_window_generator, _pipelined_window_generator,
                                  _skid_engine],
                         ids=["window-valid", "pipelined-window-valid", "engine-ready"])
def test_the_copies_survive_synthesis(make):
    """A block's copies of its control registers: as many more flip-flops as the copies
    have bits, against the same Verilog without `keep` (which yosys merges)."""
    block, register, width, itself = make()
    text = verilog.convert(block, name="blk")
    found = re.findall(r"reg (?:\[(\d+):0\] )?\\?(\w+)_copy\d+ ", text)
    assert [name for _, name in found if name == register] == \
        [register] * (len(group_slices(width)) - itself)
    bits = sum(int(top or 0) + 1 for top, _ in found)
    # and a window generator's bank selects: a register per group for each row it covers
    banks = re.findall(r"reg (?:\[(\d+):0\] )?\\?bank(\d+)_g\d+ ", text)
    first = {ky: top for top, ky in reversed(banks)}     # one register per row is no copy
    bits += sum(int(top or 0) + 1 for top, _ in banks) - sum(
        int(top or 0) + 1 for top in first.values())
    merged = re.sub(r"\(\* keep = 32'd1 \*\)\s*", "", text)
    assert _flip_flops(text, "blk") - _flip_flops(merged, "blk") == bits


@pytest.mark.parametrize("shape,kernel,stride", [((4, 5, 48), (3, 3), (1, 1)),
                                                  ((4, 5, 48), (3, 3), (2, 1)),
                                                  ((6, 6, 16), (2, 2), (2, 2)),
                                                  ((4, 4, 2), (1, 1), (2, 2))])
def test_registered_enables_cost_what_the_estimate_says(shape, kernel, stride):
    """In front of a consumer whose `ready` is a register, a pipelined window generator's
    enables are registers of their own: yosys keeps as many flip-flops more (or fewer)
    than the same generator without, as window_block counts."""
    from amaranth import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In

    from gen.estimate.blocks import window_block
    from hw.window.generator import WindowGenerator

    class Registered(wiring.Component):
        """The generator, `ready_next` a port (the consumer's)."""
        def __init__(self, registered: bool):
            self.gen = WindowGenerator(*shape, kernel, stride, padding)
            self.gen.pipelined = True
            members = dict(self.gen.signature.members)
            if registered:
                self.gen.ready_next = Signal(name="ready_next")
                members["ready_next"] = In(1)
            super().__init__(members)

        def elaborate(self, platform):
            m = Module()
            m.submodules.gen = self.gen
            for name in ("i", "o"):
                wiring.connect(m, getattr(wiring.flipped(self), name), getattr(self.gen, name))
            if self.gen.ready_next is not None:
                m.d.comb += self.gen.ready_next.eq(self.ready_next)
            return m

    padding = (1, 1) if kernel[0] > 1 else (0, 0)     # (1x1: no shift column)
    found = [sum(classify("ecp5", cells)["ff"] for cells in synth.run_yosys(
        verilog.convert(Registered(r), name="blk"), "ecp5", "blk",
        use_cache=False).modules.values()) for r in (0, 1)]  # (each module once)
    est = [window_block(shape, kernel, stride, padding, True, r).ff for r in (False, True)]
    assert found[1] - found[0] == est[1] - est[0]


def test_group_slices_never_empty():
    """A multiplexer whose select reaches more LUTs per bit than 128 / width still gets
    whole, non-empty groups (at most one per bit)."""
    for width, loads in ((16, 73), (32, 37), (16, 9), (192, 7), (5, 1000)):
        slices = group_slices(width, loads)
        bits = [b for s in slices for b in range(s.start, s.stop)]
        assert bits == list(range(width)) and all(s.stop > s.start for s in slices)


@pytest.mark.parametrize("memory,front,copied", [("block", 2, True), ("distributed", 2, True),
                                                 ("distributed", 1, False)])
def test_chunk_id_copies_only_behind_a_word_register(memory, front, copied):
    """`front` 2 makes the weight word a register, whatever the memory (a LUT ROM of a few
    words too, read from the counter's next value), and copies the chunk ids per group;
    below `front` 2 a LUT ROM is read from the step counter itself: no register to copy."""
    block, _, _, _ = _skid_engine()
    from hw.folded.engine import FoldedEngine
    engine = FoldedEngine(block.conv, pe=2, simd=96, front=front, memory=memory)
    assert engine.steps <= 16
    text = verilog.convert(engine, name="blk")
    assert ("chunk0_id_copy1" in text) == copied


def test_each_lane_has_its_own_enables():
    """With a skid register and the leaves' register, each lane's popcount registers are
    enabled by copies of the skid register, one per LANE_LOADS_PER_BIT * simd / GROUP_BITS
    flip-flops, that enable no other lane's: in the netlist after yosys's `opt` (which
    merges copies the project's scripts do not keep)."""
    from collections import defaultdict

    from hw.folded.engine import FoldedEngine
    from hw.folded.lanes import LANE_LOADS_PER_BIT
    block, _, _, _ = _skid_engine()
    pe, simd = 3, 96
    netlist, names = _opt_netlist(FoldedEngine(block.conv, pe=pe, simd=simd, skid=True,
                                               front=1))
    enables = defaultdict(set)
    for cell in netlist["cells"].values():
        pins = cell["connections"]
        lane = (re.match(r"pc(\d+)_s", names[pins["Q"][0]]) if {"EN", "Q"} <= set(pins)
                else None)
        if lane:
            enables[int(lane.group(1))].add(names[pins["EN"][0]])
    per_lane = -(-simd * LANE_LOADS_PER_BIT // GROUP_BITS)
    assert sorted(enables) == list(range(pe))
    assert all(len(nets) == per_lane for nets in enables.values())
    every = set().union(*enables.values())
    assert len(every) == pe * per_lane
    assert every == {"skid_valid"} | {f"skid_valid_copy{k}" for k in range(1, pe * per_lane)}


def test_memory_slices_take_no_more_block_rams():
    """A block RAM word register (`front` 2) in slices, each with its own counter and fire
    (hw.folded.memory.memory_slices), packs into as many DP16KD as the same ROM whole
    (`front` 1 reads it unsliced)."""
    from hw.folded.engine import FoldedEngine
    from hw.folded.memory import memory_slices
    block, _, _, _ = _skid_engine()
    engines = [FoldedEngine(block.conv, pe=4, simd=72, front=front, memory="block", skid=True)
               for front in (2, 1)]
    sliced = engines[0]
    slices = memory_slices("block", sliced.word.encode(sliced.conv), sliced.word.width, True)
    assert len(slices) >= 2
    brams = []
    for engine in engines:
        cells = synth.run_yosys(verilog.convert(engine, name="blk"), "ecp5", "blk",
                                use_cache=False).modules["blk"]
        brams.append(classify("ecp5", cells)["bram"])
    assert brams[0] == brams[1] == -(-sum(map(len, slices)) // 36)


def _copy_bits(text: str) -> int:
    """Bits of the copies an engine keeps besides its `ready`'s, from its Verilog (a
    counter copy that only addresses a ROM is emitted under the port's name, with a wire of
    its own name)."""
    found = re.findall(r"reg (?:\[(\d+):0\] )?\\?(?:skid_valid_copy\d+|full_copy\d+|"
                       r"weights_\d+_t_(?:after_)?next) |"
                       r"wire (?:\[(\d+):0\] )?weights_\d+_t_next;", text)
    return sum(int(reg or wire or 0) + 1 for reg, wire in found)


@pytest.mark.parametrize("kind", ["folded", "dense"])
@pytest.mark.parametrize("front", [0, 1, 2, 3])
@pytest.mark.parametrize("skid", [False, True])
@pytest.mark.parametrize("memory", ["block", "distributed"])
def test_estimated_copies_are_the_engines(kind, front, skid, memory):
    """gen.estimate's copy_registers counts the copies the engine has: the lanes' enables
    (with a skid register) and each memory slice's counter, `full` and `adv` copies."""
    import numpy as np

    from gen.estimate.folded_blocks import copy_registers
    from hw.dense.engine import StreamingDense
    from hw.folded.engine import FoldedEngine
    from hw.folded.memory import memory_slices
    from models.factory import random_conv
    rng = np.random.default_rng(3)
    if kind == "folded":
        conv = random_conv(rng, "c", (3, 3, 16), out_channels=8, kernel=(3, 3),
                           stride=(1, 1), padding=(1, 1), groups=1, domain="bipolar",
                           prune=0.0)
        engine = FoldedEngine(conv, 4, 72, front=front, memory=memory, skid=skid)
        lanes = engine.pe
    else:
        conv = random_conv(rng, "d", (2, 2, 64), out_channels=8, groups=1, dense=True,
                           domain="bipolar", prune=0.0)
        engine = StreamingDense(conv, 4, 64, front=front, memory=memory, skid=skid)
        lanes = len(engine.schedule.lanes)
    words = engine.word.encode(conv)
    kept = sum(map(len, memory_slices(memory, words, engine.word.width, True)))
    assert engine.steps <= 16 and len(memory_slices(memory, words, engine.word.width,
                                                    True)) > 1
    expected = copy_registers(conv, lanes, engine.simd, front, skid, memory, engine.steps,
                              kept)
    if front == 3 and skid:    # the chunk registers' copies (one column, four lanes)
        expected += len(group_slices(engine.simd))
    text = verilog.convert(engine, name="blk")
    assert _copy_bits(text) == expected
    assert expected > 0 or not skid


def _opt_netlist(block) -> tuple[dict, dict]:
    """yosys's netlist of `block` after `opt` (which merges copies the project's scripts
    do not keep), and a name per net bit."""
    import json
    import subprocess

    from gen.synth.scripts import KEEP_COPIES
    from gen.synth.yosys import yosys_executable
    work = Path(tempfile.mkdtemp(prefix="bnngen-test-"))
    try:
        (work / "blk.v").write_text(verilog.convert(block, name="blk"))
        subprocess.run([*yosys_executable(), "-q", "-p",
                        f"read_verilog blk.v; {KEEP_COPIES}; opt; write_json blk.json"],
                       cwd=work, check=True)
        netlist = json.loads((work / "blk.json").read_text())["modules"]["blk"]
    finally:
        shutil.rmtree(work)
    names = {}
    for name, net in netlist["netnames"].items():
        for bit in net["bits"]:
            names.setdefault(bit, name)
    return netlist, names


def _enable_loads(block) -> dict:
    """Per register (the name of its Q bits): enable net -> how many of its flip-flops."""
    from collections import Counter, defaultdict
    netlist, names = _opt_netlist(block)
    loads = defaultdict(Counter)
    for cell in netlist["cells"].values():
        pins = cell["connections"]
        if {"EN", "Q"} <= set(pins):
            for q in pins["Q"]:
                loads[names[q]][names[pins["EN"][0]]] += 1
    return loads


def test_wide_output_and_input_registers_have_enables_per_group():
    """A streamed engine with a skid register and 200 outputs: its output register loads
    per group of 64 bits, each by a LUT of copies of its own (hw.pipeline.output_groups);
    with its weight word a register (`front` 2), `ready` is a register, and its 300-bit
    pixel register loads per group of GROUP_BITS by that register and copies of it.
    Without the groups one enable net reaches every bit (CNV's fc7: 512)."""
    import numpy as np

    from hw.dense.engine import StreamingDense
    from hw.pipeline import output_groups
    from models.factory import random_conv
    conv = random_conv(np.random.default_rng(5), "d", (1, 1, 300), out_channels=200,
                       groups=1, dense=True, domain="bipolar", prune=0.0)
    loads = _enable_loads(StreamingDense(conv, 1, 100, front=2, skid=True))
    out = loads["o__payload"]
    assert sum(out.values()) == 200 and len(out) == len(output_groups(200)) == 4
    assert max(out.values()) <= 64
    assert loads["pixel"] == {"i__ready": 100, "ready_copy1": 100, "ready_copy2": 100}
    assert len(group_slices(300)) == 3


@pytest.mark.parametrize("kind", ["folded", "dense"])
@pytest.mark.parametrize("skid", [False, True])
def test_chunk_registers_cost_what_the_estimate_says(kind, skid):
    """`front` 3 registers each multiplexer column's chunk once per LANES_PER_COPY lanes
    that read it (six lanes here: two copies, hw.fanout), each lane's weights, a cycle
    more of the valid and first/last chains, and each lane's `last` in front of its
    comparison (with its sum, for a streamed engine's bank of sums, less the low bits no
    threshold reads, which yosys drops: the random thresholds here leave up to four; a
    folded lane compares its accumulator): the flip-flops yosys keeps grow by what
    gen.estimate counts over `front` 2 (with a skid register: without one, lanes with the
    same first/last flags share their delay registers, which the estimate does not
    follow; there the copies, which share their input and their enable, stay apart by
    `keep`)."""
    import numpy as np

    from gen.estimate.folded_blocks import dense_block, folded_block
    from hw.dense.engine import StreamingDense
    from hw.fanout import lane_copies
    from hw.folded.engine import FoldedEngine
    from models.factory import random_conv
    rng = np.random.default_rng(4)
    if kind == "folded":
        conv = random_conv(rng, "c", (3, 3, 8), out_channels=12, kernel=(3, 3),
                           stride=(1, 1), padding=(1, 1), groups=1, domain="bipolar",
                           prune=0.0)
        make, estimate, simd = FoldedEngine, folded_block, 24
    else:
        conv = random_conv(rng, "d", (2, 2, 32), out_channels=12, groups=1, dense=True,
                           domain="bipolar", prune=0.0)
        make, estimate, simd = StreamingDense, dense_block, 16
    engines = [make(conv, 6, simd, 2, "block", front=front, skid=skid) for front in (2, 3)]
    assert engines[1].word.lane_mux == [0] * 6 and lane_copies(6) == 2
    text = verilog.convert(engines[1], name="blk")
    assert re.search(rf"reg \[{simd - 1}:0\] chunk0_r1 ", text)
    if not skid:
        loads = _enable_loads(engines[1])
        assert [sum(loads[f"chunk0_r{g}"].values()) for g in (0, 1)] == [simd, simd]
        return
    grown = _flip_flops(text, "blk") - _flip_flops(verilog.convert(engines[0], name="blk"),
                                                   "blk")
    ests = [estimate(conv, 6, simd, "block", 2, front=front, skid=skid).ff for front in (2, 3)]
    assert grown == ests[1] - ests[0] > 2 * simd + 6 * simd


@pytest.mark.parametrize("simd, varies", [(8, True), (32, False)])
def test_the_next_pixel_end_flag_is_a_register_where_the_estimate_counts_one(simd, varies):
    """A streamed dense engine whose `ready` is a register reads the next step's pixel-end
    flag from a register of its own (`end_ahead`), not from its block RAM's output: yosys
    keeps that register (after `opt`) exactly when some pixel takes more than one step (the
    flag varies), which is when dense_block counts it."""
    import numpy as np

    from hw.dense.engine import StreamingDense
    from hw.dense.shape import dense_shape
    from models.factory import random_conv
    conv = random_conv(np.random.default_rng(6), "d", (2, 2, 32), out_channels=4, groups=1,
                       dense=True, domain="bipolar", prune=0.0)
    assert dense_shape(conv, 4, simd).end_varies == varies
    netlist, names = _opt_netlist(StreamingDense(conv, 4, simd, front=2, memory="block",
                                                 skid=True))
    flags = [c for c in netlist["cells"].values()
             if "Q" in c["connections"] and names[c["connections"]["Q"][0]] == "end_ahead"]
    assert len(flags) == varies
