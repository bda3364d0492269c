"""LUTs of a weight ROM in logic alone, as the folded engines build it (hw.folded
stepped_memory: a step counter and a ROM of random words), by yosys per family: what a
ROM of each depth costs per output bit, against the estimator's `rom_luts` (one LUT per
bit up to gen.estimate.cell_cost.ROM_WORDS_PER_LUT words).

    nice .venv/bin/python bench/rom_cost.py [--families xilinx,ecp5]

Writes bench/results/rom_cost.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.folded.memory import stepped_memory
from gen.synth.estimate_check import yosys_component


# (depth, width): SFC's shallow, wide ROMs and deeper ones.
ROMS = [(16, 256), (16, 1024), (16, 4096), (32, 512), (64, 256), (128, 128), (192, 400)]


class LogicRom(wiring.Component):
    """A weight ROM in logic with its step counter, as the folded engines read it."""

    def __init__(self, depth: int, width: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.width = width
        self.init = [int.from_bytes(rng.bytes(-(-width // 8)), "little") % (1 << width)
                     for _ in range(depth)]
        super().__init__({"fire": In(1), "data": Out(width), "last": Out(1)})

    def elaborate(self, platform):
        m = Module()
        last, data = stepped_memory(m, self.width, self.init, "distributed", self.fire)
        m.d.comb += [self.data.eq(data), self.last.eq(last)]
        return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="xilinx,ecp5")
    args = ap.parse_args()
    rows = []
    for fam in args.families.split(","):
        for depth, width in ROMS:
            got = yosys_component(LogicRom(depth, width), fam)
            rows.append({"family": fam, "depth": depth, "width": width, "yosys": got,
                         "lut_per_bit": round(got["lut"] / width, 3)})
            print(f"{fam} {depth}x{width}: {got['lut']} LUT ({got['lut'] / width:.2f} per "
                  f"output bit), {got['ff']} FF", flush=True)
    out = Path(__file__).with_name("results") / "rom_cost.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
