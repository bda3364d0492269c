"""How long each register-to-register path of an engine is on a family, and the least
pipelining that meets a clock.

An engine's paths follow its structure (hw.folded, hw.dense, hw.engine): the weight word
(straight from the memory, or from its register with `front` 2), the chunk multiplexer and
the XNOR, the popcount tree's levels between the registers `hw.popcount.register_levels`
places, then the accumulator, the threshold comparison and the result register; a scores
layer adds the score registers (k*s + c) and the argmax tree's levels. A path costs a
register's clock-to-output and setup, plus per LUT level and per carry chain a delay that
includes typical routing, per family (`DELAYS`, checked against nextpnr's routed critical
paths on ECP5: BENCHMARKS.md, "Timing closure").

`pipelining` gives, per engine option, the cheapest registers (`Pipelining`) whose every
path fits the clock period with a margin for routing; the planner prices each option with
them (gen.plan.cost), so that faster clocks cost the registers they need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hw.fanout import GROUP_BITS, LANES_PER_COPY, lane_copies
from hw.folded.lanes import FRONTS, threshold_memory
from hw.folded.memory import ASYNC_ROM_MAX_DEPTH, slice_bits
from hw.popcount import register_levels, tree_levels
from hw.window.plan import WindowPlan, plan_window

from .memory_map import map_rom


# Of the clock period, what a path may take: the rest is margin for routing that is worse
# than typical (the delays below are medians of routed paths).
USABLE = 0.85
MAX_STAGES = 8


@dataclass(frozen=True)
class Delays:
    """ns of one family: a register's clock-to-output plus setup, a LUT level, a carry chain
    (entry, a dozen bits, exit), a block RAM's clock-to-output, each with typical routing;
    `fanout`: routing per doubling of a net's loads past 16; `adder`: a popcount tree's
    level above the second (a carry chain of 3 bits or more, and the route into the next
    one); `spread`: routing per doubling past 2 of the lanes a net reaches that lie apart
    (each by the block RAMs of its weights; `lane_spread`); `mux_ways`: multiplexer ways
    one LUT level resolves."""

    reg: float
    lut: float
    carry: float
    bram: float
    fanout: float
    adder: float
    spread: float
    mux_ways: int = 2


# ECP5's `adder`: conv4's popcount levels 5-8 of the shipped model's 100 MHz plan routed
# in 11.4 ns (2.4 logic); its `spread`: CNV's chunk multiplexers routed to their lanes'
# leaf registers on an ECP5-85F in 12.6 ns (conv5, 16 lanes), 10.7 (conv1, 8) and 10.0
# (conv2, 4), against the 7.9 the model gives without it. The other families' are ECP5's
# scaled by their LUT delay.
DELAYS = {
    "ecp5": Delays(reg=1.5, lut=1.6, carry=1.6, bram=5.6, fanout=0.6, adder=2.5, spread=1.6),
    "ice40": Delays(reg=2.0, lut=2.8, carry=2.6, bram=5.0, fanout=0.9, adder=4.4, spread=2.8),
    "gowin": Delays(reg=1.5, lut=1.7, carry=1.8, bram=6.0, fanout=0.6, adder=2.7, spread=1.7),
    "xilinx": Delays(reg=0.8, lut=0.6, carry=0.9, bram=2.6, fanout=0.3, adder=0.9,
                     spread=0.6, mux_ways=4),
}
# A popcount's first levels (sums of at most 3 bits) map to LUTs.
LUT_LEVELS = 2


@dataclass(frozen=True)
class Pipelining:
    """An engine's registers: `stages` in each popcount tree, `front` (hw.folded.lanes.FRONTS: the
    leaves, and the weight word), `argmax` in a scores layer's argmax tree, and `skid`: a
    skid register at the output (hw.pipeline), which ends the ready chain there."""

    stages: int = 1
    front: int = 0
    argmax: int = 0
    skid: bool = False


@dataclass(frozen=True)
class Path:
    """One register-to-register path: what it passes through, the loads of its last net
    and their `spread` over an engine's lanes (lane_spread)."""

    what: str
    luts: int = 0
    carries: int = 0
    bram: bool = False
    loads: int = 1
    adders: int = 0
    spread: float = 0.0

    def ns(self, d: Delays) -> float:
        fan = d.fanout * max(0.0, math.log2(self.loads / 16)) if self.loads > 16 else 0.0
        return (d.reg + self.luts * d.lut + self.carries * d.carry + self.adders * d.adder
                + fan + self.spread * d.spread + (d.bram if self.bram else 0))


def lane_spread(lanes: int, simd: int) -> float:
    """Doublings past 2 of `lanes` lanes of `simd` bits that lie apart: `Delays.spread`
    each, a lane of fewer than 64 bits counting for its part (narrow lanes are small and
    pack together: an assumption; every lane measured had 64 bits or more)."""
    return math.log2(lanes / 2) * min(1.0, simd / 64) if lanes > 2 else 0.0


def mux_levels(ways: int, d: Delays) -> int:
    return math.ceil(math.log(ways, d.mux_ways)) if ways > 1 else 0


def tree_paths(levels: int, stages: int, leaves: bool, head: Path, tail: Path,
               what: str) -> list[Path]:
    """The paths of a tree of `levels` levels (one LUT level each) behind `head` and before
    `tail`, cut by `stages` registers placed as hw.popcount.register_levels places them."""
    cuts = register_levels(levels, stages, leaves)
    bounds = [0] + cuts + [levels]
    out, start = [], head
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        adders = max(0, hi - max(lo, LUT_LEVELS))
        out.append(Path(f"{what} {lo}..{hi}", start.luts + (hi - lo - adders), start.carries,
                        start.bram, start.loads, adders=adders, spread=start.spread))
        start = Path("reg")
    last = out.pop()
    out.append(Path(last.what, last.luts + tail.luts, last.carries + tail.carries,
                    last.bram or tail.bram, last.loads, adders=last.adders,
                    spread=last.spread))
    return out


def scores_paths(classes: int, argmax: int) -> list[Path]:
    """The score registers (k*s + c) and the argmax tree (a compare and a select a level)."""
    levels = tree_levels(classes)
    out = [Path("scores", luts=1, carries=2)]
    bounds = [0] + register_levels(levels, argmax) + [levels]
    for k in range(len(bounds) - 1):
        span = bounds[k + 1] - bounds[k]
        # a level: the comparison's carry chain, then the select, whose control fans out
        # to the score's and the index's bits (two LUT levels' worth, as routed on ECP5)
        out.append(Path(f"argmax {bounds[k]}..{bounds[k + 1]}", luts=2 * span, carries=span))
    return out


def block_rom_ranges(family: str, words: int, bits: int, front: int) -> int:
    """Address ranges of a block RAM weight ROM of `words` words of `bits`, read as one
    memory, or with `front` 2 in slices (hw.folded.memory.memory_slices): yosys packs the
    ranges of a deep, narrow ROM side by side in its cells (gen.estimate.memory_map.map_rom),
    and a multiplexer over them follows the read (CNV's conv5, 4,608 words in slices of 8
    bits: 9 ranges, 4 LUT levels between the block RAM and the word register as placed)."""
    if words <= 1:
        return 1
    width = min(bits, slice_bits("block", words)) if front >= 2 else bits
    return map_rom(family, words, max(1, width)).slices


def engine_paths(simd: int, chunks: int, block_ram: bool, sparse: bool, scores: int,
                 input_bits: int, pipe: Pipelining, family: str,
                 output_bits: int = 1, rom_words: int = 0, rom_bits: int = 0,
                 thresholds: tuple[int, int] = (0, 0), readers: int = 1) -> list[Path]:
    """Paths of a folded or streamed engine: `simd`-bit lanes behind a `chunks`-way
    multiplexer (`readers`: the most lanes that read one), weights in a ROM of
    `rom_words` words of `rom_bits` (0: not known), in block RAM or not, a sparse layer's
    q*count + p*all, `scores` classes (0: a threshold layer, whose longest lane reads
    `thresholds` = (words, bits) in turn), an input register of `input_bits` and an output
    register of `output_bits`; and the handshake that loads that register: from the
    downstream block's state through this engine's enable (and the upstream window
    generator's, which takes this engine's ready), or, with a skid register, from this
    engine's own state."""
    d = DELAYS[family]
    # The word straight from a block RAM, from a register (a LUT ROM of more than
    # ASYNC_ROM_MAX_DEPTH words registers its read; `front` 2 any word), or below `front` 2
    # from the step counter itself through a LUT ROM of up to ASYNC_ROM_MAX_DEPTH words (a
    # LUT level more, and the counter fans out to every bit of the ROM); then the
    # multiplexer and the XNOR in each lane that reads it; with `front` 3 the multiplexer
    # into a register, a copy by each few lanes (hw.folded.lanes.chunk_registers), and
    # from it the XNOR.
    from_counter = not block_ram and 0 < rom_words <= ASYNC_ROM_MAX_DEPTH
    # (the readers that lie apart: a lane lies by the block RAMs of its weights)
    apart = min(readers, map_rom(family, rom_words, rom_bits).bram) \
        if block_ram and rom_words > 0 and rom_bits > 0 else 1
    # (a block RAM ROM's multiplexer over its packed address ranges)
    range_luts = mux_levels(block_rom_ranges(family, rom_words, rom_bits, pipe.front), d) \
        if block_ram else 0
    head = Path("word", luts=mux_levels(chunks, d) + 1 + (from_counter and pipe.front < 2)
                + (range_luts if pipe.front < 2 else 0),
                bram=block_ram and pipe.front < 2,
                loads=rom_bits if from_counter and pipe.front < 2 else 1,
                spread=lane_spread(apart, simd))
    # (front 3: the registers lie by their lanes, each by as many of them as lie apart)
    copies = lane_copies(readers)
    if pipe.front > 2:
        head = Path("chunk register", luts=1,
                    spread=lane_spread(min(LANES_PER_COPY, -(-apart // copies)), simd))
    # After the tree: a sparse layer's scaling (behind a register of its own from two
    # stages: hw.folded.lanes.lane_sum), the accumulator, the threshold read and compare (or a
    # scores layer's sum) into the result register; with `front` 3 the sum into the
    # accumulator (or a register), and from it the compare (hw.folded.lanes.lane_results).
    stages = pipe.stages + (pipe.front > 0)
    scaled = sparse and stages >= 2
    staged = pipe.front > 2
    tail = Path("accumulate", luts=1, carries=(2 if sparse and not scaled else 0)
                + (1 if scores or staged else 2))
    paths = tree_paths(tree_levels(simd), stages - scaled, pipe.front > 0, head,
                       Path("scale", carries=2) if scaled else tail, "popcount")
    if scaled:
        paths.append(Path("accumulate", luts=tail.luts, carries=tail.carries))
    if staged and not scores:
        paths.append(Path("compare", luts=1, carries=1))
    if pipe.front > 2:
        paths.append(Path("chunk multiplexer", luts=mux_levels(chunks, d),
                          spread=lane_spread(min(copies, apart), simd)))
    if block_ram and pipe.front >= 2:
        paths.append(Path("weight memory", luts=range_luts, bram=True))
    if from_counter and pipe.front >= 2:
        # The word register's slices (hw.folded.memory.memory_slices), each read from its
        # copy of the counter's next value through a LUT of the ROM.
        paths.append(Path("weight memory", luts=1, loads=min(max(1, rom_bits), GROUP_BITS)))
    if not block_ram and rom_words > ASYNC_ROM_MAX_DEPTH:
        # A LUT ROM read through its register (hw.folded.memory.stepped_memory): the address
        # multiplexer, then per bit a LUT of 16 words and a multiplexer tree over them,
        # the address fanning out to all of them.
        parts = -(-rom_words // ASYNC_ROM_MAX_DEPTH)
        paths.append(Path("weight memory", luts=2 + mux_levels(parts, d),
                          loads=max(1, rom_bits) * parts))
    words, bits = thresholds
    memory = threshold_memory(pipe.front, "block" if block_ram else "distributed", words, bits)
    if words > ASYNC_ROM_MAX_DEPTH and memory != "block":
        # A lane's threshold ROM in LUTs (hw.folded.lanes.lane_results): 16 words a LUT, a
        # multiplexer tree over them, the address fanning out to all; read by the count of
        # finished channels into the comparison, or a step ahead into a register.
        parts = -(-words // ASYNC_ROM_MAX_DEPTH)
        paths.append(Path("threshold", luts=1 + mux_levels(parts, d), carries=1,
                          loads=bits * parts) if memory is None else
                     Path("threshold memory", luts=2 + mux_levels(parts, d),
                          loads=bits * parts))
    elif memory == "block":
        paths.append(Path("threshold memory", bram=True))
    # The handshake: with a skid register, this engine's `ready` (a flag register) loads
    # its input register, and the next block's ready (a flag of its own: a window
    # generator's room, a streamed engine's) selects what enters the output and skid
    # registers; without, one path runs from the next block's state through both engines'
    # enables into the input register.
    if pipe.skid:
        # (with a skid register `ready` is a register too, set from the next cycle's
        # window register, skid register and last step)
        paths += [Path("ready", luts=4),     # a copy of `ready` per group (hw.fanout)
                  Path("input register", loads=min(input_bits, GROUP_BITS)),
                  Path("output", luts=2, loads=2 * output_bits)]
    else:
        paths.append(Path("ready", luts=10, carries=2, bram=True, loads=input_bits))
    return paths + (scores_paths(scores, pipe.argmax) if scores else [])


def unrolled_paths(fan: int, sparse: bool, scores: int, pipe: Pipelining,
                   family: str) -> list[Path]:
    """Paths of the unrolled engine (hw.engine.ConvEngine): the window into every channel's
    popcount, then the threshold compare (or the scores) into the output register."""
    tail = Path("threshold", luts=1, carries=(2 if sparse else 0) + (0 if scores else 1))
    paths = tree_paths(tree_levels(fan), pipe.stages, False, Path("window"), tail, "popcount")
    return paths + (scores_paths(scores, pipe.argmax) if scores else [])


def window_paths(plan: WindowPlan, channels: int, ready_luts: int = 0,
                 registered: bool = False) -> list[Path]:
    """A window generator's paths (hw.window: every comparison its handshakes use is a flag
    register), from the fed block's ready (`ready_luts` from that block's flip-flops: none
    for a folded engine or a pool with a skid register, whose `ready` is a register; two
    through a pool's OR stage; three through an engine without one) and two LUTs of its
    own: the read side's issue into the line buffers' read registers (kh*C bits), the
    shift into the shift columns and the emission into the window register (the larger of
    the two enables); and the bookkeeping, from the issue through the next-cycle selection
    of each flag. `registered` (the fed block's `ready` a register whose next value it
    gives, as a folded engine's or a pool's OR stage's with a skid register): the enables
    are registers of their own, set one LUT after that next value (two LUTs from flip-flops:
    the engine's flags, or the pool's skid register and the next block's `ready`), and
    reach their flip-flops through no LUT."""
    kh, kw = plan.kernel
    column = kh * channels
    # a wide register's enable is one net per group of bits, a read register's one per
    # line buffer (hw.fanout)
    widest = max(column * (plan.length - 1), kh * kw * channels)
    if registered:
        groups = 3 * -(-widest // GROUP_BITS)
        enables = [Path("enables", luts=3, loads=groups),
                   Path("shift", loads=min(widest, GROUP_BITS))]
    else:
        enables = [Path("shift", luts=ready_luts + 2, loads=min(widest, GROUP_BITS))]
    return [Path("issue", luts=ready_luts + 2, loads=column if widest <= GROUP_BITS else channels),
            *enables, Path("bookkeeping", luts=ready_luts + 4)]


def layer_window(layer, shape) -> WindowPlan:
    """The window generator's plan of a layer (a convolution or a pool) on an input map of
    `shape` (H, W, C)."""
    return plan_window(shape[0], shape[1], layer.kernel, layer.stride,
                       getattr(layer, "padding", (0, 0)))


def pool_skid(plan: WindowPlan, channels: int, family: str, clock_mhz: float | None) -> bool:
    """Whether a pool (hw.pool) needs its skid register to meet the clock: without it, its
    window generator's handshake runs on through the OR stage into the next block's."""
    return clock_mhz is not None and not meets(window_paths(plan, channels, ready_luts=2),
                                               family, clock_mhz)


def slowest(paths: list[Path], family: str) -> tuple[float, Path]:
    """The longest path and its delay (ns)."""
    d = DELAYS[family]
    path = max(paths, key=lambda p: p.ns(d))
    return path.ns(d), path


def meets(paths: list[Path], family: str, clock_mhz: float) -> bool:
    return slowest(paths, family)[0] <= USABLE * 1000.0 / clock_mhz


def candidates(paths_of, family: str, clock_mhz: float | None, stages: int, folded: bool,
               scores: bool, readers: int = 1) -> list[Pipelining]:
    """The pipelinings worth pricing for an engine whose paths `paths_of(Pipelining)` gives:
    without a clock, `stages` and nothing else; with one, per front and skid (folded
    engines; `front` 3, whose chunk registers cut the route to lanes apart, only where
    more than two lanes read a multiplexer, `readers`) the fewest popcount stages, with
    the fewest argmax stages, that meet it; when none does, the one whose slowest path is
    shortest (the fewest registers among equals)."""
    if clock_mhz is None:
        return [Pipelining(stages)]
    out, every = [], []
    fronts = [f for f in FRONTS if f < 3 or readers > 2]
    for front, skid in ([(f, s) for f in fronts for s in (False, True)] if folded
                        else [(0, False)]):
        for s in range(MAX_STAGES + 1):
            pipes = [Pipelining(s, front, a, skid) for a in range(MAX_STAGES + 1 if scores
                                                                  else 1)]
            every += pipes
            met = [p for p in pipes if meets(paths_of(p), family, clock_mhz)]
            if met:
                out.append(met[0])
                break
    if out:
        return out
    return [min(every, key=lambda p: (round(slowest(paths_of(p), family)[0], 2),
                                      p.stages + p.front + p.argmax + p.skid))]
