"""Structural features of each hardware block, from the description alone.

Each block of `hw/` (encoder, window generator, engine, window OR) answers here for what
drives its cost: adder bits of its popcount trees, register bits, comparator and mux bits,
line-buffer memories. The numbers follow the generator's own structure (the popcount tree
of hw.popcount, the window plan of hw.window_plan), so they are exact counts of the RTL's
building blocks; gen.estimate turns them into LUT/FF/BRAM per family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from hw.popcount import register_levels, tree_levels
from hw.window_plan import plan_window
from models.description import Conv, Description, MaxPool, Thermometer

from .estimate_memory import map_memory, map_rom


@dataclass
class Block:
    """One hardware block: its kind, structural features, register bits and memories."""

    kind: str                                   # encoder | window | engine | reduce
    features: dict[str, float] = field(default_factory=dict)
    ff: int = 0                                 # register bits outside memories
    memories: list[tuple[int, int]] = field(default_factory=list)   # (depth, width)
    muxes: list[tuple[int, int]] = field(default_factory=list)      # (bits, ways)
    roms: list[tuple[int, int]] = field(default_factory=list)       # block-RAM ROMs
    logic_roms: list[tuple[int, int]] = field(default_factory=list)  # ROMs in LUTs
    ors: list[tuple[int, int]] = field(default_factory=list)        # (bits, inputs)
    banks: list[tuple[int, int]] = field(default_factory=list)      # async-read RAMs


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
        return sum(min(w, _bits(b)) for w, b in zip(widths, bound))

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


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


def encoder_block(desc: Description) -> Block:
    inp = desc.input
    if isinstance(desc.encoder, Thermometer):
        planes = desc.encoder.planes
        cmp_bits = inp.channels * planes * inp.bits
    else:
        planes, cmp_bits = inp.bits, 0
    return Block("encoder", {"cmp_bits": cmp_bits, "one": 1}, ff=inp.channels * planes + 1)


def window_block(in_shape, kernel, stride, padding) -> Block:
    """hw.window.WindowGenerator: kh line buffers of W x C bits, a shift register of
    (length-1) columns of kh*C bits, an output register of kh*kw*C bits chosen among the
    plan's patterns, and row/column counters."""
    h, w, c = in_shape
    p = plan_window(h, w, tuple(kernel), tuple(stride), tuple(padding))
    kh, kw = p.kernel
    out_bits = kh * kw * c
    shift_bits = (p.length - 1) * kh * c
    counter_bits = 4 * max(8, (8 * (h + kh + p.padding[0] + p.stride[0] + kh + 2)).bit_length())
    counter_bits += 3 * _bits(w) + _bits(max(p.period, 2)) + _bits(p.out_height) + 3 * _bits(kh)
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
    ff = out_bits + shift_bits + counter_bits + kh + 8
    # Row ky reads bank (r_rbank + ky) mod kh: a kh-way multiplexer per output bit.
    return Block("window", feats, ff=ff, memories=[(w, c)] * kh, muxes=[(kh * c, kh)])


@lru_cache(maxsize=4096)  # pure in its integers; big layers repeat tree sizes
def visible_max(n: int, stages: int) -> int:
    """The largest popcount over `n` leaves that synthesis can rule in behind the tree's
    registers: each register keeps the bits its node can reach, but the logic after it
    sees those bits as free, so the sum of their all-ones values."""
    if n == 0:
        return 0
    at = register_levels(tree_levels(n), stages)
    bound = [1] * n
    level = 0
    visible = list(bound)
    if at and at[-1] == 0:
        return n
    while len(bound) > 1:
        bound = [bound[i] + bound[i + 1] for i in range(0, len(bound) - 1, 2)] + (
            [bound[-1]] if len(bound) % 2 else [])
        level += 1
        if at and at[-1] == level:   # the last register: logic after it sees free bits
            visible = [(1 << _bits(b)) - 1 for b in bound]
            break
    else:
        return n if not at else max(n, sum(visible))
    # later levels add the register outputs: their sum is what the comparator can see
    return sum(visible)


def constant_channels(conv: Conv, stages: int = 1) -> list[bool]:
    """Output channels whose threshold lies outside the range of s_o that synthesis can
    see (`visible_max` behind the popcount registers): the output is a constant that
    yosys/ABC proves, and the whole popcount tree goes. A threshold outside only the
    true range (a sum the registers' free bits could exceed) leaves the tree in place."""
    if conv.activation is None:
        return [False] * conv.out_channels
    fan = int(conv.weights[0].size)
    kept = (conv.kept if conv.domain == "bipolar" else conv.weights).reshape(
        conv.out_channels, -1).sum(1)
    all_max = visible_max(fan, stages) if conv.domain == "sparse" and conv.p else 0
    out = []
    for o in range(conv.out_channels):
        top = visible_max(int(kept[o]), stages)
        if conv.domain == "bipolar":
            lo, hi = 0, top
        else:
            lo = min(0, conv.p * all_max)
            hi = conv.q * top + max(0, conv.p * all_max)
        tau = int(conv.activation.thresholds[o])
        if conv.activation.flip[o]:
            out.append(tau >= hi or tau < lo)
        else:
            out.append(tau <= lo or tau > hi)
    return out


def _arithmetic(conv: Conv) -> bool:
    """A sparse layer whose s_o needs real adders or multipliers after the popcounts
    (p != 0, or q not a power of two): its comparator sits behind carry-chain cells."""
    return conv.domain == "sparse" and bool(conv.p or conv.q & (conv.q - 1))


def visible_range(conv: Conv, o: int, stages: int = 1) -> tuple[int, int]:
    """The range of s_o as synthesis sees it behind the popcount registers."""
    kept = int((conv.kept if conv.domain == "bipolar" else conv.weights)[o].sum())
    top = visible_max(kept, stages)
    if conv.domain == "bipolar":
        return 0, top
    all_max = visible_max(int(conv.weights[o].size), stages) if conv.p else 0
    return min(0, conv.p * all_max), conv.q * top + max(0, conv.p * all_max)


def score_bits(conv: Conv, o: int, stages: int = 1) -> int:
    """Register bits of score o that can change: a constant score (an all-pruned channel)
    has none, sign-extension copies merge into one, and k's trailing zero bits are
    constant (yosys drops constant flip-flops and merges identical ones)."""
    k = int(conv.scores.scale[o])
    lo, hi = visible_range(conv, o, stages)
    if k == 0 or lo == hi:
        return 0
    c = int(conv.scores.offset[o])
    a, b = sorted((k * lo + c, k * hi + c))
    need = max(max(a, -a - 1).bit_length(), max(b, -b - 1).bit_length()) + 1
    return max(1, need - ((abs(k) & -abs(k)).bit_length() - 1))


def argmax_register_bits(classes: int, score_bits: int, stages: int) -> int:
    """Registers of hw.engine.argmax_tree's `stages` and beside them: per stage the tree's
    nodes at its level (a score and an index each), the scores held for the output, a
    valid bit."""
    idx = _bits(max(1, classes - 1))
    return sum(-(-classes // 2 ** level) * (score_bits + idx) + classes * score_bits + 1
               for level in register_levels(tree_levels(classes), stages))


def engine_block(conv: Conv, stages: int = 1, argmax_stages: int = 0) -> Block:
    """hw.engine.ConvEngine: one popcount tree per output channel (plus P_all per group in
    the sparse domain), then thresholds, or scores and an argmax. Trees of constant
    channels are counted apart: `dead_*` where the constant shows through plain logic
    (ABC removes them on every flow), `arith_dead_*` where it hides behind the sparse
    domain's adders (ECP5's and Gowin's carry cells are opaque to ABC: they stay)."""
    o_n = conv.out_channels
    fan = conv.weights[0].size
    dead = constant_channels(conv, stages)
    dead_kind = "arith_dead_" if _arithmetic(conv) else "dead_"
    feats = {f"{pre}{k}": 0 for pre in ("", "dead_", "arith_dead_")
             for k in ("half_adders", "adder_bits")}
    feats["scale_bits"] = 0
    regs = wide = 0
    sums_w = []
    per_o = (conv.kept if conv.domain == "bipolar" else conv.weights).reshape(o_n, -1).sum(1)
    for o, n in enumerate(per_o):
        f, la, r = popcount_profile(int(n), stages)
        pre = dead_kind if dead[o] else ""
        feats[pre + "half_adders"] += f
        feats[pre + "adder_bits"] += la
        wide += 0 if dead[o] else wide_adder_bits(int(n))
        regs += r
        sums_w.append(_bits(int(n)))
    if conv.domain == "sparse" and conv.p:
        og = conv.out_channels_per_group
        f, la, r = popcount_profile(int(fan), stages)
        for j in range(conv.groups):
            pre = dead_kind if all(dead[j * og:(j + 1) * og]) else ""
            feats[pre + "half_adders"] += f
            feats[pre + "adder_bits"] += la
            wide += 0 if pre else wide_adder_bits(int(fan))
            regs += r
        feats["scale_bits"] += sum(_bits(fan) + _bits(abs(conv.p)) + _bits(conv.q) + 1
                                   for o in range(o_n) if not dead[o])
    if conv.domain == "sparse" and conv.q > 1:
        feats["scale_bits"] += sum(w for w, d in zip(sums_w, dead) if not d)
    # A first-level adder's output is 2 bits: one tree-bit count for every level.
    for pre in ("", "dead_", "arith_dead_"):
        feats[pre + "tree_bits"] = (2 * feats.pop(pre + "half_adders")
                                    + feats.pop(pre + "adder_bits"))
    # The live trees' wide adders, apart (tree_bits keeps the narrow ones).
    feats["tree_bits"] -= wide
    feats["wide_tree_bits"] = wide
    if _arithmetic(conv):  # trees that feed the scale adders map differently
        feats["arith_tree_bits"] = feats.pop("tree_bits")
        feats["wide_arith_tree_bits"] = feats.pop("wide_tree_bits")
    feats["one"] = 1
    ff = regs + stages + 1
    if conv.scores is None:
        feats["cmp_bits"] = sum(w for w, d in zip(sums_w, dead) if not d)
        ff += o_n
    else:
        sw = _score_width(conv)
        eff = [score_bits(conv, o, stages) for o in range(o_n)]
        feats["score_bits"] = sum(eff)
        # The argmax chain: compare score o with the best so far and select (as wide as
        # the widest score yet, plus the index); against a constant it is much cheaper.
        widest = eff[0]
        feats["argmax_bits"] = feats["argmax_const_bits"] = 0
        for o in range(1, o_n):
            kind = "argmax_bits" if widest and eff[o] else "argmax_const_bits"
            widest = max(widest, eff[o])
            feats[kind] += widest + _bits(o)
        ff += o_n * sw + 1 + o_n * sw + _bits(o_n - 1)
        ff += argmax_register_bits(o_n, sw, argmax_stages)
    return Block("engine", feats, ff=ff)


def _score_width(conv: Conv) -> int:
    from hw.engine import score_width
    return score_width(conv)


def reduce_block(channels: int, taps: int) -> Block:
    """hw.pool.WindowOr: an OR of `taps` bits per channel into a register."""
    return Block("reduce", {"or_inputs": channels * taps, "one": 1}, ff=channels + 1,
                 ors=[(channels, taps)])


def folded_block(conv: Conv, pe: int, simd: int, memory: str, stages: int = 1,
                 argmax_stages: int = 0, front: int = 0) -> Block:
    """hw.folded.FoldedEngine: per mux column a `chunks`-way multiplexer of `simd` bits; per
    lane an XNOR/AND popcount of `simd` variable bits (and P_all's), an accumulator, a
    threshold ROM read by the lane's channel counter and a comparator (or the sums of a
    scores layer), a shift register of results; the weight ROM of `steps` words in block
    RAM or in logic; the window register."""
    from hw.folded import pick_style, signed_width, sum_bounds
    from hw.folded_schedule import assign_lanes, fold_shape, live_chunks

    shape = fold_shape(conv, pe, simd)
    fan = int(conv.weights[0].size)
    chunks = conv.groups * -(-fan // simd) + 1
    lanes = [lane for lane in assign_lanes([len(c) for c in live_chunks(conv, simd)], pe)
             if lane]
    lo, hi = sum_bounds(conv)
    acc = signed_width(lo, hi)
    stages += front > 0          # hw.folded.FRONTS: the leaves' register is a popcount stage
    scaled = conv.domain == "sparse" and stages >= 2    # hw.folded.lane_sum
    first, later, regs = popcount_profile(simd, stages - scaled, front > 0)
    regs += acc * scaled
    trees = len(lanes) * (2 if conv.domain == "sparse" and conv.p else 1)
    # The wide adders of trees of 64+ leaves apart, as in the unrolled engine.
    wide = wide_adder_bits(simd)
    feats = {"tree_bits": trees * (2 * first + later - wide), "wide_tree_bits": trees * wide,
             "acc_bits": len(lanes) * acc,
             "leaf_bits": len(lanes) * simd * (2 if shape.needs_mask else 1),
             "step_bits": _bits(shape.steps), "one": 1}
    ff = (kh_kw_c(conv) + 1 + _bits(shape.steps) + trees * regs + 2 * stages * (pe + 1)
          + len(lanes) * acc)
    roms, logic = _weight_rom(memory, shape.steps, shape.word_width, shape.word_width)
    ff += _lane_outputs(conv, lanes, acc, feats, argmax_stages, front,
                        pick_style(memory, shape.steps, shape.word_width), roms)
    ff += _rom_registers(logic) + _word_register(front, logic, shape.word_width)
    return Block("folded", feats, ff=ff, muxes=[(shape.mux_columns * simd, chunks)],
                 roms=roms, logic_roms=logic)


def dense_block(conv: Conv, pe: int, simd: int, memory: str, stages: int = 1,
                argmax_stages: int = 0, front: int = 0) -> Block:
    """hw.dense.StreamingDense, in the folded engine's terms (its coefficients): a `chunks`-way
    multiplexer of `simd` bits per mux column over one pixel; per lane an XNOR/AND popcount
    and an adder into one sum register, or into a bank of sums (a LUT-RAM, `banks`) when
    its channels interleave over the pixels; per lane a threshold read in turn and one
    comparator (or the sums of a scores layer), a shift register of results; the weight
    ROM; the pixel register."""
    from hw.dense import dense_shape
    from hw.folded import pick_style, signed_width, sum_bounds

    shape = dense_shape(conv, pe, simd)
    cg = conv.in_channels_per_group
    chunks = conv.groups * -(-cg // simd) + 1
    lanes = shape.lanes
    lo, hi = sum_bounds(conv)
    acc = signed_width(lo, hi)
    stages += front > 0          # hw.folded.FRONTS: the leaves' register is a popcount stage
    scaled = conv.domain == "sparse" and stages >= 2    # hw.folded.lane_sum
    first, later, regs = popcount_profile(simd, stages - scaled, front > 0)
    regs += acc * scaled
    trees = len(lanes) * (2 if conv.domain == "sparse" and conv.p else 1)
    # The wide adders of trees of 64+ leaves apart, as in the unrolled engine.
    wide = wide_adder_bits(simd)
    feats = {"tree_bits": trees * (2 * first + later - wide), "wide_tree_bits": trees * wide,
             "acc_bits": len(lanes) * acc,
             "leaf_bits": len(lanes) * simd * (2 if shape.needs_mask else 1),
             "step_bits": _bits(shape.steps), "one": 1}
    banks = [(len(lane), acc) for lane, banked in zip(lanes, shape.banked) if banked]
    ff = (cg * conv.groups + 1 + _bits(shape.steps) + trees * regs + 2 * stages * (pe + 1)
          + sum(acc for banked in shape.banked if not banked))
    # yosys keeps only the ROM bits that vary from step to step.
    roms, logic = _weight_rom(memory, shape.steps, shape.word_width, shape.rom_width)
    ff += _lane_outputs(conv, lanes, acc, feats, argmax_stages, front,
                        pick_style(memory, shape.steps, shape.word_width), roms)
    ff += _rom_registers(logic) + _word_register(front, logic, shape.rom_width)
    return Block("folded", feats, ff=ff, muxes=[(shape.mux_columns * simd, chunks)],
                 roms=roms, banks=banks, logic_roms=logic)


def _lane_outputs(conv: Conv, lanes, acc: int, feats: dict, argmax_stages: int,
                  front: int, weight_style: str, roms: list) -> int:
    """hw.folded.lane_results and engine_output, shared by the folded and streamed engines:
    per lane a threshold memory read in turn and a comparator, or a scores layer's sums;
    the result shift registers, the output (and score and argmax) registers. A lane whose
    thresholds are read a step ahead (hw.folded.threshold_memory) has a step counter (its
    three registers) and a read register, and in block RAM its memory joins `roms`. Adds
    the features, returns the register bits."""
    from hw.folded import threshold_memory, threshold_width
    if conv.scores is None:
        tw = threshold_width(conv)
        where = [(len(lane), threshold_memory(front, weight_style, len(lane), tw + 1))
                 for lane in lanes]
        ahead = [n for n, kind in where if kind]
        in_block = [n for n, kind in where if kind == "block"]
        feats["cmp_bits"] = len(lanes) * tw
        feats["thr_rom_bits"] = (sum(len(lane) for lane in lanes) - sum(in_block)) * (tw + 1)
        feats["result_bits"] = sum(len(lane) for lane in lanes)
        roms.extend((n, tw + 1) for n in in_block)
        feats["step_bits"] += sum(_bits(n - 1) for n in ahead)
        ff = sum(len(lane) + _bits(len(lane) + 1) for lane in lanes) + conv.out_channels + 1
        return ff + sum(tw + 1 + 3 * _bits(n - 1) - _bits(n + 1) for n in ahead)
    sw = _score_width(conv)
    feats["result_bits"] = sum(len(lane) * acc for lane in lanes)
    feats["score_bits"] = conv.out_channels * sw
    feats["argmax_bits"] = sum(sw + _bits(o) for o in range(1, conv.out_channels))
    return (feats["result_bits"] + 2 * conv.out_channels * sw + _bits(conv.out_channels) + 2
            + argmax_register_bits(conv.out_channels, sw, argmax_stages))


def _weight_rom(memory: str, steps: int, word_width: int,
                kept_width: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A folded engine's weight ROM as (depth, width): ([in block RAM], [in LUTs]). The
    style follows the whole word, as the hardware picks it (hw.folded.pick_style); of its
    bits, `kept_width` survive synthesis."""
    from hw.folded import pick_style
    if pick_style(memory, steps, word_width) == "block":
        return [(steps, kept_width)], []
    return [], [(steps, kept_width)]


def _rom_registers(logic_roms: list[tuple[int, int]]) -> int:
    """Read registers of weight ROMs in logic: a ROM of up to hw.folded.ASYNC_ROM_MAX_DEPTH
    words is read without one."""
    from hw.folded import ASYNC_ROM_MAX_DEPTH
    return sum(w for d, w in logic_roms if d > ASYNC_ROM_MAX_DEPTH)


def _word_register(front: int, logic_roms: list[tuple[int, int]], width: int) -> int:
    """hw.folded.stepped_memory's word register (`front` 2), which a ROM read from the step
    counter does without."""
    from hw.folded import ASYNC_ROM_MAX_DEPTH
    if front != 2 or any(d <= ASYNC_ROM_MAX_DEPTH for d, _ in logic_roms):
        return 0
    return width


def kh_kw_c(conv: Conv) -> int:
    """Bits of a window (the folded engine's input register)."""
    return conv.kernel[0] * conv.kernel[1] * conv.in_channels_per_group * conv.groups


def _sum_range(conv: Conv, o: int) -> tuple[int, int]:
    from hw.engine import sum_range
    return sum_range(conv, o)


def pool_blocks(pool: MaxPool, shape, skid: bool = False) -> list[Block]:
    """hw.pool: a window generator and its OR per channel (with a skid register)."""
    return [window_block(shape, pool.kernel, pool.stride, (0, 0)),
            reduce_block(shape[2], pool.kernel[0] * pool.kernel[1])] + (
        [skid_block(shape[2])] if skid else [])


def fifo_block(width: int, depth: int) -> Block:
    """hw.folded_layer.Buffered: Amaranth's SyncFIFOBuffered of `depth` words in front of a
    layer, a memory of depth - 1 words (where yosys maps it, as a line buffer) and an
    output register, with its pointers and level counters."""
    return Block("fifo", {"one": 1, "ptr_bits": _bits(depth), "out_bits": width},
                 ff=width + 3 * _bits(depth), memories=[(depth - 1, width)])


def skid_block(width: int) -> Block:
    """hw.pipeline's skid register on a `width`-bit output: a register per bit, and a 2:1
    multiplexer per bit in front of the output register (costed a LUT a bit, not
    fitted)."""
    return Block("skid", {"mux_bits": width}, ff=width + 1)


def engine_skid(conv: Conv, on: bool) -> list[Block]:
    """An engine's skid register (`on`), on its output's width."""
    if not on:
        return []
    from hw.engine import result_layout
    return [skid_block(result_layout(conv).size if conv.scores is not None
                       else conv.out_channels)]


def conv_blocks(conv: Conv, shape, stages: int = 1, choice=None) -> list[Block]:
    """A convolution's blocks as `choice` (a hw.folded_layer.LayerChoice; None: unrolled)
    builds it: a folded dense layer is the one streaming block (it takes pixels, not
    windows); a folded layer's engine is the folded block, behind its window generator."""
    from hw.dense import is_dense
    from hw.network import needs_window

    folded = choice is not None and choice.engine == "folded"
    stages, argmax = (choice.stages, choice.argmax_stages) if choice else (stages, 0)
    if folded and is_dense(conv, shape):
        return [dense_block(conv, choice.pe, choice.simd, choice.memory, stages, argmax,
                            choice.front)] + engine_skid(conv, choice.skid)
    blocks = [folded_block(conv, choice.pe, choice.simd, choice.memory, stages, argmax,
                           choice.front)
              if folded else engine_block(conv, stages, argmax)]
    blocks += engine_skid(conv, folded and choice.skid)
    if needs_window(conv):
        blocks.insert(0, window_block(shape, conv.kernel, conv.stride, conv.padding))
    return blocks


def layer_blocks(desc: Description, stages: int = 1,
                 choices: dict | None = None) -> list[tuple[str, list[Block]]]:
    """(layer name, its blocks) for the encoder and every layer, in stream order, each layer
    built as `choices` (layer name -> hw.folded_layer.LayerChoice, a folding plan's) says;
    any other layer is unrolled."""
    choices = choices or {}
    out = [("encoder", [encoder_block(desc)])]
    for layer, shape in zip(desc.layers, desc.layer_inputs()):
        choice = choices.get(layer.name)
        if isinstance(layer, MaxPool):
            blocks = pool_blocks(layer, shape, bool(choice and choice.skid))
        else:
            blocks = conv_blocks(layer, shape, stages, choice)
        if choice is not None and choice.fifo_depth > 0:
            blocks.insert(0, fifo_block(shape[2], choice.fifo_depth))
        out.append((layer.name, blocks))
    return out


# LUTs of one bit of a k-way multiplexer: LUT4s alone (ice40, and ecp5 and gowin as gen.synth
# maps them, without wide-function muxes) need k-1; a Xilinx LUT6 takes four ways (four data
# and two select inputs).
WAYS_PER_LUT = {"ice40": 1, "ecp5": 1, "gowin": 1, "xilinx": 4}


LUT_INPUTS = {"ice40": 4, "ecp5": 4, "gowin": 4, "xilinx": 6}


def or_luts(family: str, ors: list[tuple[int, int]]) -> int:
    """LUTs of `bits` ORs of `inputs` inputs each: a tree of k-input LUTs."""
    k = LUT_INPUTS[family]
    return sum(bits * -(-(inputs - 1) // (k - 1)) for bits, inputs in ors if inputs > 1)


def mux_luts(family: str, muxes: list[tuple[int, int]]) -> float:
    """LUTs of a block's multiplexers on one family: per bit a tree of LUTs that each pick
    one of `WAYS_PER_LUT` inputs (a LUT4 alone: two, so k-1 of them)."""
    per = WAYS_PER_LUT[family]
    total = 0
    for bits, ways in muxes:
        if per == 1:
            total += bits * max(0, ways - 1)
            continue
        while ways > 1:
            ways = -(-ways // per)
            total += bits * ways
    return total


def memory_cost(family: str, memories: list[tuple[int, int]]) -> dict[str, float]:
    """BRAM, LUT-RAM cells and soft-logic bits of a block's memories on one family."""
    res = {"bram": 0, "lutram": 0, "logic_mem_bits": 0, "lutram_bits": 0}
    for depth, width in memories:
        m = map_memory(family, depth, width)
        res["bram"] += m.bram
        res["lutram"] += m.lutram
        if m.kind == "logic":
            res["logic_mem_bits"] += depth * width
        elif m.kind == "distributed":
            res["lutram_bits"] += depth * width
    return res


def bank_cost(family: str, banks: list[tuple[int, int]]) -> dict:
    """A block's banks of sums (asynchronous-read RAMs) on one family: LUT-RAM cells and
    the multiplexer over their address ranges, or in soft logic registers and a read
    multiplexer per bit (in the block's mux terms)."""
    res = {"lutram": 0, "ff": 0, "muxes": []}
    for depth, width in banks:
        m = map_memory(family, depth, width, async_read=True)
        if m.kind == "logic":
            res["ff"] += depth * width
            res["muxes"].append((width, depth))
        else:
            res["lutram"] += m.lutram
            res["muxes"].append((width, m.ways))
    return res


# Words of a ROM in logic one LUT answers for, on every family: yosys maps such a ROM as a
# multiplexer tree of constants, which ABC covers in LUT4-sized pieces even with LUT6s
# (bench/rom_cost.py, alone, per output bit on random words: 16 words 0.97-1.02 LUTs on
# Xilinx and ECP5; 64 words 5.0 and 6.5). Inside an engine a deeper ROM maps unevenly (ABC
# merges its pieces with the logic it feeds), so it keeps a cost per bit.
ROM_WORDS_PER_LUT = 16


def rom_features(roms: list[tuple[int, int]]) -> dict[str, int]:
    """Features of ROMs in logic ((depth, width) each): a ROM of at most ROM_WORDS_PER_LUT
    words costs a LUT per output bit (`rom_luts`), a deeper one its bits (`rom_bits`)."""
    return {"rom_luts": sum(w for d, w in roms if d <= ROM_WORDS_PER_LUT),
            "rom_bits": sum(d * w for d, w in roms if d > ROM_WORDS_PER_LUT)}


def rom_cost(family: str, roms: list[tuple[int, int]]) -> dict[str, float]:
    """Block RAMs of a block's ROMs, and the LUTs of the multiplexers that pick a word's
    slice when yosys packs several address ranges side by side in one wide cell."""
    res = {"bram": 0, "mux_luts": 0.0}
    for depth, width in roms:
        m = map_rom(family, depth, width)
        res["bram"] += m.bram
        res["mux_luts"] += mux_luts(family, [(width, m.slices)])
    return res
