"""The copies of a control register that split a wide register's enable (hw.fanout) reach
the netlist: yosys would merge them back into one flip-flop without the project's scripts'
`keep` (gen.synth.scripts.KEEP_COPIES)."""

from __future__ import annotations

import re

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


def _window_generator():
    from hw.window.generator import WindowGenerator
    return WindowGenerator(4, 5, 48, (3, 3), (1, 1), (1, 1)), "o__valid", 9 * 48


def _skid_engine():
    import numpy as np

    from hw.folded.engine import FoldedEngine
    from models.factory import random_conv
    conv = random_conv(np.random.default_rng(1), "wide", (3, 3, 32), out_channels=4,
                       kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=1,
                       domain="bipolar", prune=0.0)
    return FoldedEngine(conv, pe=2, simd=96, skid=True), "ready", 9 * 32


@pytest.mark.parametrize("make", [_window_generator, _skid_engine],
                         ids=["window-valid", "engine-ready"])
def test_the_copies_survive_synthesis(make):
    """A block's copies of its control registers: as many more flip-flops as the copies
    have bits, against the same Verilog without `keep` (which yosys merges)."""
    block, register, width = make()
    text = verilog.convert(block, name="blk")
    found = re.findall(r"reg (?:\[(\d+):0\] )?\\?(\w+)_copy\d+ ", text)
    assert [name for _, name in found if name == register] == \
        [register] * (len(group_slices(width)) - 1)
    bits = sum(int(top or 0) + 1 for top, _ in found)
    merged = re.sub(r"\(\* keep = 32'd1 \*\)\s*", "", text)
    assert _flip_flops(text, "blk") - _flip_flops(merged, "blk") == bits


def test_group_slices_never_empty():
    """A multiplexer whose select reaches more LUTs per bit than 128 / width still gets
    whole, non-empty groups (at most one per bit)."""
    for width, loads in ((16, 73), (32, 37), (16, 9), (192, 7), (5, 1000)):
        slices = group_slices(width, loads)
        bits = [b for s in slices for b in range(s.start, s.stop)]
        assert bits == list(range(width)) and all(s.stop > s.start for s in slices)


@pytest.mark.parametrize("memory,copied", [("block", True), ("distributed", False)])
def test_chunk_id_copies_only_behind_a_word_register(memory, copied):
    """`front` 2 copies the chunk ids per group only where the weight word is a register:
    a LUT ROM of a few words is read from the step counter itself (no register to copy)."""
    block, _, _ = _skid_engine()
    from hw.folded.engine import FoldedEngine
    engine = FoldedEngine(block.conv, pe=2, simd=96, front=2, memory=memory)
    assert engine.steps <= 16
    text = verilog.convert(engine, name="blk")
    assert ("chunk0_id_copy1" in text) == copied
