"""Line-buffer placement: gen/estimate/memory_map.py against yosys on a grid of depth x width
memories shaped like hw.window's (one write port, one transparent synchronous read port
with enable), per family. Prints every mismatch and the count.

    nice .venv/bin/python bench/estimate_memory_grid.py [--depths 3,4,7,8,14,16,28]
        [--widths 1,2,3,4,7,8,16,32]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib.memory import Memory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gen.common.resources import classify
from gen.estimate.memory_map import map_memory
from gen.synth.yosys import run_yosys


FAMILIES = ["ice40", "ecp5", "xilinx", "gowin"]


def memory_design(depth: int, width: int) -> str:
    m = Module()
    mem = Memory(shape=width, depth=depth, init=[])
    m.submodules.mem = mem
    wp = mem.write_port()
    rp = mem.read_port(transparent_for=(wp,))
    wa, ra = Signal(range(depth)), Signal(range(depth))
    we, re = Signal(), Signal()
    wd, rd = Signal(width), Signal(width)
    m.d.comb += [wp.addr.eq(wa), wp.data.eq(wd), wp.en.eq(we), rp.addr.eq(ra), rp.en.eq(re),
                 rd.eq(rp.data)]
    return verilog.convert(m, name="memt", ports=[wa, ra, we, re, wd, rd])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="3,4,7,8,14,16,28")
    ap.add_argument("--widths", default="1,2,3,4,7,8,16,32")
    args = ap.parse_args()
    bad = total = 0
    for d, w in itertools.product(map(int, args.depths.split(",")),
                                  map(int, args.widths.split(","))):
        text = memory_design(d, w)
        for fam in FAMILIES:
            got = classify(fam, run_yosys(text, fam, "memt").cells)
            want = map_memory(fam, d, w)
            total += 1
            if (got["bram"], got["lutram"]) != (want.bram, want.lutram):
                bad += 1
                print(f"{fam} {d}x{w}: yosys bram {got['bram']} lutram {got['lutram']}, "
                      f"model {want}")
    print(f"{total - bad}/{total} (family, shape) pairs placed as yosys places them")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
