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


def test_the_copies_survive_synthesis():
    """The window generator's copies of `o.valid`: as many more flip-flops as copies,
    against the same Verilog without `keep` (which yosys merges)."""
    from hw.window.generator import WindowGenerator
    gen = WindowGenerator(4, 5, 48, (3, 3), (1, 1), (1, 1))
    text = verilog.convert(gen, name="win")
    copies = re.findall(r"reg (?:\[(\d+):0\] )?\\?(\w+)_copy\d+ ", text)
    assert sum(name == "o__valid" for _, name in copies) == len(group_slices(9 * 48)) - 1 > 0
    bits = sum(int(hi or 0) + 1 for hi, _ in copies)
    merged = re.sub(r"\(\* keep = 32'd1 \*\)\s*", "", text)
    assert _flip_flops(text, "win") - _flip_flops(merged, "win") == bits
