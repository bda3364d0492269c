"""Structural features of each hardware block, from the description alone.

Each block of `hw/` (encoder, window generator, engine, window OR) answers for what drives
its cost: adder bits of its popcount trees, register bits, comparator and mux bits,
line-buffer memories. The numbers follow the generator's own structure (the popcount tree
of hw.popcount, the window plan of hw.window.plan), so they are exact counts of the RTL's
building blocks; gen.estimate.estimator turns them into LUT/FF/BRAM per family. Here: the
`Block`, popcount trees, and the encoder, window generator, window OR and skid register;
the engines are in gen.estimate.engine_blocks and gen.estimate.folded_blocks, a whole
network in gen.estimate.layer_blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd

from models.description import Description, MaxPool, Thermometer
from hw.framing import ERROR_BITS, FLIGHT_DEPTH, pacer_range
from hw.popcount import register_levels, tree_levels
from hw.window.plan import plan_window


@dataclass
class Block:
    """One hardware block: its kind, structural features, register bits and memories."""

    kind: str                  # encoder | framing | window | engine | folded | reduce | ...
    features: dict[str, float] = field(default_factory=dict)
    ff: int = 0                                 # register bits outside memories
    memories: list[tuple[int, int]] = field(default_factory=list)   # (depth, width)
    muxes: list[tuple[int, int]] = field(default_factory=list)      # (bits, ways)
    roms: list[tuple[int, int]] = field(default_factory=list)       # block-RAM ROMs
    logic_roms: list[tuple[int, int]] = field(default_factory=list)  # ROMs in LUTs
    ors: list[tuple[int, int]] = field(default_factory=list)        # (bits, inputs)
    banks: list[tuple[int, int]] = field(default_factory=list)      # async-read RAMs
    rotation: tuple[int, int] | None = None     # (bits, ways): a window's row rotation


@lru_cache(maxsize=4096)  # pure in its integers; big layers repeat tree sizes
def popcount_profile(n: int, stages: int, leaves: bool = False) -> tuple[int, int, int]:
    """(half adders of the first level, adder output bits of later levels, register bits)
    of hw.popcount.build_popcount over `n` leaves with `stages` register stages (`leaves`:
    the first on the leaves).

    A register keeps only the bits its node's count can reach (yosys proves the others
    constant, through earlier registers too)."""
    if n == 0:
        return 0, 0, stages
    widths = [1] * n
    bound = [1] * n                      # the largest value yosys can prove for each node
    at = register_levels(tree_levels(n), stages, leaves)
    first = later = regs = 0
    stage = level = 0

    def register() -> int:
        return sum(min(w, int_bits(b)) for w, b in zip(widths, bound))

    while stage < stages and at[stage] == 0:
        regs += register()
        stage += 1
    while len(widths) > 1:
        nxt, nb = [], []
        for i in range(0, len(widths) - 1, 2):
            w = max(widths[i], widths[i + 1]) + 1
            if level == 0:
                first += 1
            else:
                later += w
            nxt.append(w)
            nb.append(bound[i] + bound[i + 1])
        if len(widths) % 2:
            nxt.append(widths[-1])
            nb.append(bound[-1])
        widths, bound = nxt, nb
        level += 1
        while stage < stages and at[stage] == level:
            regs += register()
            stage += 1
    while stage < stages:
        regs += register()
        stage += 1
    return first, later, regs


# Adders of at least this many output bits sit at the top of a tree of 64+ leaves: ABC9
# maps those long ripple chains at another cost per bit.
WIDE_ADDER = 7


@lru_cache(maxsize=4096)  # pure in its integers; big layers repeat tree sizes
def wide_adder_bits(n: int) -> int:
    """Output bits of the adders of at least WIDE_ADDER bits in the popcount of n leaves."""
    widths, total = [1] * n, 0
    while len(widths) > 1:
        nxt = [max(widths[i], widths[i + 1]) + 1 for i in range(0, len(widths) - 1, 2)]
        total += sum(w for w in nxt if w >= WIDE_ADDER)
        widths = nxt + ([widths[-1]] if len(widths) % 2 else [])
    return total


def int_bits(v: int) -> int:
    return max(1, int(v).bit_length())


def encoder_block(desc: Description) -> Block:
    inp = desc.input
    if isinstance(desc.encoder, Thermometer):
        planes = desc.encoder.planes
        cmp_bits = inp.channels * planes * inp.bits
    else:
        planes, cmp_bits = inp.bits, 0
    return Block("encoder", {"cmp_bits": cmp_bits, "one": 1}, ff=inp.channels * planes + 1)


def window_block(in_shape, kernel, stride, padding, pipelined: bool = False,
                 ready_copies: bool = False) -> Block:
    """hw.window.generator.WindowGenerator: kh line buffers of W x C bits, a shift register of
    (length-1) columns of kh*C bits, an output register of kh*kw*C bits chosen among the
    plan's patterns, and row/column counters; `pipelined` (its block has a skid register:
    the generator's `pipelined`), more copies, and with `ready_copies` (in front of a
    folded engine or a pool's OR stage with a skid register, whose `ready` is a register)
    an enable register per group of its wide registers."""
    h, w, c = in_shape
    p = plan_window(h, w, tuple(kernel), tuple(stride), tuple(padding))
    kh, kw = p.kernel
    out_bits = kh * kw * c
    shift_bits = (p.length - 1) * kh * c
    counter_bits = 4 * max(8, (8 * (h + kh + p.padding[0] + p.stride[0] + kh + 2)).bit_length())
    counter_bits += (3 * int_bits(w) + int_bits(max(p.period, 2)) + int_bits(p.out_height)
                     + 3 * int_bits(kh))
    feats = {
        "out_bits": out_bits,
        "pattern_bits": out_bits * (len(p.patterns) - 1),
        "banks": kh,
        "step_bits": p.period,
        "counter_bits": counter_bits,
        "one": 1,
    }
    # The line buffers' read data (kh x C bits), whatever memory holds them.
    feats["mem_out_bits"] = kh * c
    # Measured: a map whose last row or column no window reaches costs a few LUTs more per
    # row bit, and a window as large as the map (a dense layer's) more per output bit.
    ph, pw = p.padding
    sy, sx = p.stride
    ragged = (h + 2 * ph - kh) % sy or (w + 2 * pw - kw) % sx
    feats["ragged_bits"] = kh * c if ragged else 0
    whole_map = (kh, kw) == (h + 2 * ph, w + 2 * pw)
    feats["whole_map_bits"] = out_bits if whole_map else 0
    # Measured: a whole-map window has one output position, and its counters' compares
    # against constants cost less than a sliding window's (on Xilinx's LUT6s a median 0.59
    # of ECP5's LUTs, against 0.92 for sliding windows). Non-negative fits cannot take
    # that off, so the sliding windows' counters carry it.
    feats["sliding_counter_bits"] = 0 if whole_map else counter_bits
    # A bank count that is not a power of two: the bank index wraps modulo kh by compare
    # and subtract, and the kh-way row multiplexers fill their LUTs unevenly.
    feats["odd_bank_bits"] = kh * c if kh > 1 and kh & (kh - 1) else 0
    ff = out_bits + kh * c + shift_bits + counter_bits + kh + 8   # window, column, shift
    ff += _window_copies(p, c, pipelined, ready_copies)
    # Row ky reads bank (r_rbank + ky) mod kh: a kh-way multiplexer per output bit (the
    # fitted `mux_luts`); `rotation` where r_rbank takes more than one value (else yosys
    # proves it constant and the multiplexers go), for the estimator's LUT6 packing.
    return Block("window", feats, ff=ff, memories=[(w, c)] * kh, muxes=[(kh * c, kh)],
                 rotation=(kh * c, kh) if row_rotations(p) > 1 else None)


def _window_copies(p, c: int, pipelined: bool, ready_copies: bool) -> int:
    """Flip-flops of the copies (hw.fanout) a pipelined window generator keeps beyond an
    unpipelined one's (whose copies of `valid`, one per group of its wide registers, the
    fitted terms carry): with `ready_copies` (the consumer's `ready` a register), the
    consumer's `ready` register and an enable register per group (window, column or line
    buffer, shift), in place of the copies of `valid`; per group of the column register
    the bank of each row it covers, not a copy of the bank rotation; copies of the column
    counters that address wide line buffers."""
    from hw.fanout import GROUP_BITS, group_slices
    if not pipelined:
        return 0
    kh, kw = p.kernel
    columns = group_slices(kh * c)
    windows = len(group_slices(kh * kw * c))
    shifts = len(group_slices(kh * c * (p.length - 1))) if p.length > 1 else 0
    count = max(windows, shifts)
    ff = 2 - count + windows + max(len(columns), p.banks) + shifts if ready_copies else 0
    if p.banks > 1 and row_rotations(p) > 1:
        rows = sum((g.stop - 1) // c - g.start // c + 1 for g in columns)
        ff += (rows - len(columns)) * int_bits(p.banks - 1)
    if p.banks * c > GROUP_BITS:
        ff += int_bits(max(p.width, 2) - 1) + int_bits(max(p.period, 2) - 1)
    return ff


def row_rotations(p) -> int:
    """How many values the read side's bank rotation takes (hw/window/generator.py's
    r_rbank, for a WindowPlan `p`): the bank of kernel row 0 is (f * H - ph + oy * sy)
    mod kh in frame f, output row oy. One value (a map of a multiple of kh rows that one
    output row reads, or a stride that is a multiple of kh): a constant register."""
    kh, h = p.kernel[0], p.height
    return len({(f * h - p.padding[0] + oy * p.stride[0]) % kh
                for f in range(kh) for oy in range(p.out_height)})


def reduce_block(channels: int, taps: int) -> Block:
    """hw.pool.WindowOr: an OR of `taps` bits per channel into a register."""
    return Block("reduce", {"or_inputs": channels * taps, "one": 1}, ff=channels + 1,
                 ors=[(channels, taps)])


def pool_blocks(pool: MaxPool, shape, skid: bool = False) -> list[Block]:
    """hw.pool: a window generator and its OR per channel (with a skid register, whose
    next value the window generator sets its enables from)."""
    return [window_block(shape, pool.kernel, pool.stride, (0, 0), skid, ready_copies=skid),
            reduce_block(shape[2], pool.kernel[0] * pool.kernel[1])] + (
        [skid_block(shape[2])] if skid else [])


def fifo_block(width: int, depth: int) -> Block:
    """hw.folded.planned.Buffered: Amaranth's SyncFIFOBuffered of `depth` words in front of
    a layer, a memory of depth - 1 words (where yosys maps it, as a line buffer) and an
    output register, with its pointers and level counters."""
    return Block("fifo", {"one": 1, "ptr_bits": int_bits(depth), "out_bits": width},
                 ff=width + 3 * int_bits(depth), memories=[(depth - 1, width)])


def skid_block(width: int) -> Block:
    """hw.pipeline's skid register on a `width`-bit output: a register per bit, and a 2:1
    multiplexer per bit in front of the output register (costed a LUT a bit, not
    fitted); on a wide output, per group of its bits (hw.pipeline.output_groups) copies of
    `valid` and of the skid register."""
    from hw.pipeline import output_groups
    groups = len(output_groups(width))
    return Block("skid", {"mux_bits": width},
                 ff=width + 1 + (2 * groups - 1 if groups > 1 else 0))


def framing_block(width: int, pixels: int, ii: int) -> Block:
    """hw.framing.Framing on `width`-bit pixels, `pixels` a frame: the zero-padding
    multiplexer per data bit, the pixel counter and its flags, the flight ring of
    FLIGHT_DEPTH flags and the error counter; and where `ii` > `pixels` the pacer: its
    deficit (hw.framing.pacer_range) with an adder, a subtraction, three clamps and two
    comparisons on it, each as wide as the deficit, and its `on_time` flag.

    The deficit only ever moves by multiples of gcd(ii, pixels), so its low bits that
    divide that stay 0 and yosys removes them (their flip-flops and adder bits)."""
    count = int_bits(max(2, pixels) - 1)
    ring = int_bits(FLIGHT_DEPTH - 1)
    feats = {"one": 1, "data_bits": width, "count_bits": count}
    # count, flags, read and write pointers, frames in flight, errors; padding, tail,
    # first, at_end, drop; the flag write a cycle late (write, flag, slot) and a frame
    # that left (hw.framing: the input and output sides meet through registers)
    ff = count + FLIGHT_DEPTH + 3 * ring + int_bits(FLIGHT_DEPTH) + ERROR_BITS + 5 + 3
    span = pacer_range(pixels, ii)
    if span is not None:
        bits = max(span.start.bit_length(), (span.stop - 1).bit_length()) + 1   # signed
        live = bits - ((gcd(ii, pixels) & -gcd(ii, pixels)).bit_length() - 1)
        feats.update({"pacer": 1, "pacer_bits": live})
        ff += live + 1
    return Block("framing", feats, ff=ff)
