"""The parts a folded and a streamed engine (hw.folded.engine, hw.dense.engine) share: the
weight word and its memory, the chunk multiplexers, a lane's XNOR/AND popcount of one chunk
and its per-channel results, the nets that carry `adv` to each lane, the engine's output
register, and the register stages they add up to."""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib.memory import Memory

from models.description import Conv

from ..engine import scores_output, sum_range
from ..fanout import LANES_PER_COPY, copies, group_slices, lane_copies
from ..pipeline import PipelineOutput
from ..popcount import build_popcount, delay
from .memory import ASYNC_ROM_MAX_DEPTH, memory_slices, pick_style, stepped_memory


# registers in front of the popcount: none, the leaves, + the weight word, + the chunks (and
# the lanes' weights: a cycle of their own, and a lane's comparison a cycle after its adder)
FRONTS = (0, 1, 2, 3)


def engine_depth(stages: int, scores: bool, argmax_stages: int = 0, front: int = 0) -> int:
    """Register stages of a folded or streamed engine from its input register (window or
    pixel) to its output, the output included: the input register, the leaves' register
    (`front` >= 1; the weight word's register of `front` 2 is read a step ahead, so it
    adds none; `front` 3's chunk registers one, and its later comparison one), the popcount's
    stages, the lanes' result registers, the output register (a scores layer: the score
    registers, the argmax's stages, then the output register)."""
    return 2 + (front > 0) + 2 * (front > 2) + stages + (2 + argmax_stages if scores else 1)


def check_front(front) -> int:
    if front not in FRONTS or isinstance(front, bool):
        raise ValueError(f"front must be one of {FRONTS}, not {front!r}")
    return front


def signed_width(lo: int, hi: int) -> int:
    """Two's complement bits holding every integer in [lo, hi]."""
    return max(2, max(lo.bit_length(), hi.bit_length()) + 1)


def sum_bounds(conv: Conv) -> tuple[int, int]:
    """The range of every output channel's sum together: a folded lane's accumulator."""
    lo = hi = 0
    for o in range(conv.out_channels):
        s_lo, s_hi = sum_range(conv, o)
        lo, hi = min(lo, s_lo), max(hi, s_hi)
    return lo, hi


def threshold_width(conv: Conv) -> int:
    """Two's complement bits of every sum and threshold of a threshold layer together."""
    lo, hi = sum_bounds(conv)
    ths = conv.activation.thresholds
    return signed_width(min(lo, int(ths.min())), max(hi, int(ths.max())))


def threshold_memory(front: int, weight_style: str, words: int, width: int) -> str | None:
    """Where a lane's `words` thresholds of `width` bits are read a step ahead (`front` 2,
    as the weight word is): in block RAM when the weights are and the table is one that
    pick_style puts there, else in a ROM in LUTs; None: a lane of up to
    ASYNC_ROM_MAX_DEPTH (one LUT level), or `front` < 2, read by the count of finished
    channels straight into the comparison."""
    if front < 2 or words <= ASYNC_ROM_MAX_DEPTH:
        return None
    if weight_style == "block" and pick_style("auto", words, width) == "block":
        return "block"
    return "logic"


def chunk_muxes(m: Module, chunks: list, ww, word, word_next=None) -> list:
    """Per multiplexer column of the weight word `ww`, the chunk its id in `word` selects (as
    shifts of one value: continuous assignments; an `always @*` case over registers that
    keep their reset value stays X on Icarus, see hw/window/generator.py). With the word in
    a register (`word_next`, its next value), each group of a chunk's bits has its own copy
    of the id (hw.fanout): the lowest id bit reaches about half the chunks' LUTs per bit."""
    simd = len(chunks[0])
    groups = group_slices(simd, (len(chunks) + 1) // 2) if word_next is not None else []
    copied = len(groups) > 1
    if not copied:
        groups = [slice(0, simd)]
    muxed = []
    for k in range(len(ww.mux_columns)):
        key = ("chunk", k)
        if copied:
            start, width = ww.fields[key]
            first = Signal(width, name=f"chunk{k}_id",
                           init=(word.init >> start) & ((1 << width) - 1))
            m.d.sync += first.eq(ww.get(word_next, key))
            ids = copies(m, first, ww.get(word_next, key), len(groups))
        else:
            ids = [ww.get(word, key)]
        value = Signal(simd, name=f"chunk{k}")
        for bits, select in zip(groups, ids):
            table = Cat(*(c[bits] for c in chunks))
            m.d.comb += value[bits].eq(table.word_select(select, bits.stop - bits.start)
                                       if len(chunks) > 1 else chunks[0][bits])
        muxed.append(value)
    return muxed


def chunk_registers(m: Module, muxed: list, lane_mux: list, out: PipelineOutput,
                    live: list[bool]) -> list:
    """`front` 3: per lane, its chunk (`muxed`, per multiplexer column) from a register, one
    per column and group of LANES_PER_COPY live lanes that read it (hw.fanout; a lane
    without a channel reads the multiplexer itself, and yosys drops it), so that the
    multiplexer's output reaches a wide engine's lanes in a cycle of its own (CNV's conv5:
    16 lanes, across the block RAMs of their weights). Each group of a register's bits
    loads through a copy of `adv` of its own (hw.pipeline)."""
    chunks = [muxed[column] for column in lane_mux]
    for k, value in enumerate(muxed):
        readers = [lane for lane, column in enumerate(lane_mux) if column == k and live[lane]]
        copied = lane_copies(len(readers))
        for g in range(copied):
            # `keep`: without a skid register the copies share an input and an enable
            reg = Signal(len(value), name=f"chunk{k}_r{g}",
                         attrs={"keep": 1} if copied > 1 else {})
            slices = group_slices(len(value))
            for bits, en in zip(slices, out.enables(len(slices))):
                with m.If(en):
                    m.d.sync += reg[bits].eq(value[bits])
            for lane in readers[g * LANES_PER_COPY:(g + 1) * LANES_PER_COPY]:
                chunks[lane] = reg
    return chunks


def lane_weights(m: Module, ww, word, lane: int, needs_mask: bool, ens: list,
                 registered: bool) -> tuple:
    """A lane's weights and mask (None without one) of the step's `word`: with `front` 3
    from a register of their own, a cycle later as the chunks are (chunk_registers), its
    bits in as many groups as the lane has nets `ens` (lane_enables), one each."""
    keys = [("w", lane)] + ([("m", lane)] if needs_mask else [])
    fields = [ww.get(word, key) for key in keys]
    if registered:
        regs = [Signal(len(f), name=f"{key[0]}{lane}_r") for f, key in zip(fields, keys)]
        for value, reg in zip(fields, regs):
            size = -(-len(value) // len(ens))
            for k, en in enumerate(ens[:-(-len(value) // size)]):
                with m.If(en):
                    m.d.sync += reg[k * size:(k + 1) * size].eq(value[k * size:(k + 1) * size])
        fields = regs
    return fields[0], (fields[1] if needs_mask else None)


def input_register(m: Module, i, full: Signal, reg: Signal, comb_ready, ready_next=None,
                   next_value=None) -> None:
    """An engine's input register `reg` (and `full`, whether it holds an item), loaded
    whenever `i.ready`, valid or not: its wide enable needs no input signal, only the
    engine's state. `i.ready` is `comb_ready`; or, given `ready_next` (a Signal, driven
    here with `next_value`: what `comb_ready` will be after this cycle), a register, with a
    copy per group of `reg`'s bits (hw.fanout), so that the producer waits on a flip-flop."""
    width = len(reg)
    if ready_next is not None:
        ready = Signal(init=1, name="ready")
        m.d.comb += ready_next.eq(next_value)
        m.d.sync += ready.eq(ready_next)
        m.d.comb += i.ready.eq(ready)
        slices = group_slices(width)
        loads = copies(m, ready, ready_next, len(slices))
    else:
        m.d.comb += i.ready.eq(comb_ready)
        slices, loads = [slice(0, width)], [i.ready]
    with m.If(i.ready):
        m.d.sync += full.eq(i.valid)
    for bits, load in zip(slices, loads):
        with m.If(load):
            m.d.sync += reg[bits].eq(i.payload[bits])


def lane_results(m: Module, conv: Conv, lane: int, channels, total, last, adv,
                 front: int = 0, weight_style: str = "distributed",
                 out: PipelineOutput | None = None, held=None) -> list:
    """A lane's per-channel result registers (bits, or sums for a scores layer), whole from
    the cycle after the final step, in `channels` order: the order in which the lane
    finishes its channels (`last`: the current op is a channel's last). A threshold layer compares
    `total` with the finishing channel's threshold, read from a small per-lane memory by a
    count of finished channels that wraps (the lane finishes all its channels, in order, by
    each final step: no reset, whose net would reach every lane), so one comparator serves
    the lane; the results shift into a lane register. With `front` 2 or 3 a memory of more
    than ASYNC_ROM_MAX_DEPTH thresholds is read a step ahead into a register
    (threshold_memory), so that its read (a block RAM's clock-to-output, or a deep LUT
    ROM's multiplexer tree) ends in a flip-flop instead of running on into the comparison.
    With `front` 3 the comparison reads the sum a cycle later, from a register (`held`:
    the lane's accumulator, which holds it then; None: a register of its own, for a
    streamed engine's bank of sums), and `last` with it, so that the accumulator's adder
    (after a LUT-RAM's read, for a bank) and the comparison are a cycle each: the results
    come a cycle later (result_stage). `out`: the engine's output, for more enables
    (copies of its skid register) of a wide lane register."""
    n = len(channels)
    if n == 0:
        return []
    if front > 2:
        staged_last = Signal(name=f"sum{lane}_last")
        with m.If(adv):
            m.d.sync += staged_last.eq(last)
        if held is None:
            held = Signal.like(total, name=f"sum{lane}")
            with m.If(adv):
                m.d.sync += held.eq(total)
        total, last = held, staged_last
    if conv.scores is None:
        lo, hi = sum_bounds(conv)
        ths = [int(conv.activation.thresholds[o]) for o in channels]
        tw = signed_width(min(lo, *ths), max(hi, *ths))
        init = [(th & ((1 << tw) - 1)) | (int(conv.activation.flip[o]) << tw)
                for th, o in zip(ths, channels)]
        ahead = threshold_memory(front, weight_style, n, tw + 1)
        if ahead is not None:
            _, data = stepped_memory(m, tw + 1, init, ahead, adv & last,
                                     registered=ahead == "block", name=f"thresholds{lane}")
        else:
            tmem = Memory(shape=tw + 1, depth=n, init=init)
            m.submodules[f"thresholds{lane}"] = tmem
            ordinal = Signal(range(n), name=f"ord{lane}")
            rp = tmem.read_port(domain="comb")
            m.d.comb += rp.addr.eq(ordinal)
            data = rp.data
            with m.If(adv & last):
                m.d.sync += ordinal.eq(Mux(ordinal == n - 1, 0, ordinal + 1))
        tau = data[:tw].as_signed()
        flip = data[tw]
        result = Signal(name=f"bit{lane}")
        m.d.comb += result.eq(Mux(flip, total <= tau, total >= tau))
        width = 1
    else:
        result, width = total, len(total)
    reg = Signal(n * width, name=f"results{lane}")
    shifted = Cat(reg[width:], result) if n > 1 else result
    # a wide lane register (CNV's fc7: 512 results) shifts by one enable per group of its
    # bits, each from a copy of the skid register of its own (hw.fanout)
    groups = group_slices(n * width)
    ens = ([adv] if out is None or not out.skid or len(groups) == 1
           else out.enables(len(groups)))
    for bits, en in zip(groups if len(ens) > 1 else [slice(0, n * width)], ens):
        with m.If(en & last):
            m.d.sync += reg[bits].eq(shifted[bits])
    if conv.scores is None:
        return [reg[k] for k in range(n)]
    return [reg[k * width:(k + 1) * width].as_signed() for k in range(n)]


def result_stage(m: Module, final, front: int, adv):
    """The engine's `final` (the final step's op leaves the popcounts) as the lanes' results
    see it: with `front` 3 a cycle later, as their sums are (lane_results)."""
    return delay(m, final, int(front > 2), adv, "final_sum")


def engine_output(m: Module, conv: Conv, lanes, results, constant, final,
                  out: PipelineOutput, argmax_stages: int = 0) -> None:
    """The output register of a folded or streamed engine, loaded in the cycle after the
    `final` step, from the lanes' result registers (no multiplexer in front of them, as
    reading them in the final step's own cycle would need): per lane its results in its
    channels' order, and the constant channels (no live weight) as a sum of 0 gives them;
    a pixel of thresholded bits, or the scores and argmax. A result the next frame
    finishes in that cycle enters its register at the same clock edge, after the load."""
    adv = out.adv
    done = Signal(name="done")
    with m.If(adv):
        m.d.sync += done.eq(final)
    if conv.scores is None:
        pixel = Signal(conv.out_channels)
        for c in constant:
            m.d.comb += pixel[c].eq(int(_activate(conv, c, 0)))
        for channels, res in zip(lanes, results):
            for k, c in enumerate(channels):
                m.d.comb += pixel[c].eq(res[k])
        out.put(done, pixel)
        return
    sums = [Const(0, 1)] * conv.out_channels
    for channels, res in zip(lanes, results):
        for k, c in enumerate(channels):
            sums[c] = res[k]
    scores_output(m, conv, sums, done, out, argmax_stages)


def _activate(conv: Conv, o: int, s: int) -> bool:
    tau = int(conv.activation.thresholds[o])
    return s <= tau if conv.activation.flip[o] else s >= tau


# Flip-flops a lane's popcount tree enables per bit of its chunk with the leaves' register:
# that register, then the tree's, wider but fewer at each level (about as many again in
# all). Without it the tree's registers sit on narrower levels, a few dozen flip-flops.
LANE_LOADS_PER_BIT = 2


def lane_enable_count(conv: Conv, simd: int, leaves: bool) -> int:
    """How many nets carry `adv` to a lane's registers (lane_enables): with the leaves'
    register, one per group of about GROUP_BITS flip-flops of its popcount trees (two
    in the sparse domain with p != 0), else one."""
    trees = 2 if conv.domain == "sparse" and conv.p else 1
    return len(group_slices(simd, LANE_LOADS_PER_BIT * trees)) if leaves else 1


def lane_enables(out: PipelineOutput, conv: Conv, lanes: int, simd: int,
                 leaves: bool) -> list[list]:
    """Per lane, the nets that carry the engine's `adv` to its registers (hw.pipeline
    `enables`, copies with a skid register): lane_enable_count of them, the first also
    for the lane's other registers."""
    per_lane = lane_enable_count(conv, simd, leaves)
    nets = out.enables(lanes * per_lane)
    return [nets[k * per_lane:(k + 1) * per_lane] for k in range(lanes)]


def weight_word(m: Module, out: PipelineOutput, ww, conv: Conv, style: str, front: int,
                full: Signal, full_next, fire, last_next=None, flag_ahead=None):
    """A folded or streamed engine's weight memory read by its step counter
    (stepped_memory): (last step, the step's word, the word's next value: None below
    `front` 2). `fire` = `full` & adv moves the counter (`full`: the engine's input
    register holds an item; `full_next`: its value after this cycle). Each slice of a word
    register (memory_slices) after the first is moved by a copy of `fire` of its
    own, from its own copies of `full` and of the skid register (hw.fanout): call after
    lane_enables, so that those are copies, not the skid register itself. `last_next`,
    `flag_ahead`: stepped_memory's."""
    words = ww.encode(conv)
    registered = front >= 2
    word_next = Signal(ww.width, name="word_next") if registered else None
    bits = memory_slices(style, words, ww.width, registered)
    slices = None
    if len(bits) > 1:
        fulls = copies(m, full, full_next, len(bits) - 1, start=1)
        fires = [fire, *(f & a for f, a in zip(fulls, out.enables(len(bits) - 1)))]
        slices = list(zip(bits, fires))
    last_step, word = stepped_memory(m, ww.width, words, style, fire, registered=registered,
                                     last_next=last_next, word_next=word_next, slices=slices,
                                     flag_ahead=flag_ahead)
    return last_step, word, word_next


def lane_sum(m: Module, conv: Conv, a, w, mask, stages: int, ens: list, lane: int,
             leaves: bool = False):
    """One lane's contribution to s_o from chunk `a` and its weights `w` (and `mask`): the
    XNOR popcount (bipolar), or q * AND popcount + p * popcount (sparse), `stages` deep
    (`leaves`: the first register on the popcounts' inputs), its registers enabled by
    `ens` (lane_enables). A sparse lane of two or more stages spends its last one behind
    the scaling, so that the scaling and the accumulator are not one path."""
    simd = len(a)
    # The leaves go through a named signal: a slice of an expression is lowered with the
    # whole expression, so `simd` slices of a `simd`-bit XNOR would cost simd^2 nets
    # (minutes and gigabytes of Amaranth and yosys memory on SFC's 784-bit lanes).
    x = Signal(simd, name=f"leaves{lane}")
    if conv.domain == "bipolar":
        m.d.comb += x.eq(~(a ^ w) if mask is None else ~(a ^ w) & mask)
        return build_popcount(m, [x[b] for b in range(simd)], stages, ens, name=f"pc{lane}",
                              leaves=leaves)
    tree = stages - 1 if stages >= 2 else stages
    m.d.comb += x.eq(a & w)
    count = build_popcount(m, [x[b] for b in range(simd)], tree, ens, name=f"pc{lane}",
                           leaves=leaves)
    contrib = conv.q * count
    if conv.p:
        every = build_popcount(m, [a[b] for b in range(simd)], tree, ens, name=f"pall{lane}",
                               leaves=leaves)
        contrib = contrib + conv.p * every
    if stages == tree:
        return contrib
    scaled = Signal(contrib.shape(), name=f"scaled{lane}")
    with m.If(ens[-1]):
        m.d.sync += scaled.eq(contrib)
    return scaled
