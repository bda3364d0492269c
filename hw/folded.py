"""The folded grouped convolution engine: `pe` output channels in parallel, `simd` receptive-
field bits per lane per cycle, weights in a memory.

Same streams as `ConvEngine` (a window in, a pixel or the scores result out), but a window
takes `steps` cycles instead of one (see `folded_schedule.py` for the schedule and why it
never visits a pruned block). Pipeline:

- the window is held in a register while its `steps` run; the next window is accepted in the
  cycle the last step issues, so windows follow each other without a bubble;
- one memory word per step holds, per lane, the chunk id, the chunk's weights (and its mask
  when a visited chunk holds pruned weights) and first/last flags; it is read one cycle
  ahead (synchronous read, so yosys can put it in BRAM);
- per lane: chunk mux, XNOR/AND, popcount tree (`stages` registers), accumulator;
- on a channel's last chunk the lane compares the sum with its threshold (a small per-lane
  memory, read by the lane's channel counter) or keeps the sum (scores layer), and shifts
  the result into a lane register; the cycle after the window's last step loads the output
  register from the lane registers, a constant permutation (no multiplexer in front).

One enable (`adv`, the output register is free or being read; with a skid register, that
register is empty) moves the whole pipeline, as in `ConvEngine`. The planner picks the
registers (`stages`, `front`, `argmax_stages`, `skid`) that meet its clock
(gen/timing_model.py).
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from models.description import Conv

from .engine import check_stages, result_layout, scores_output, sum_range
from .folded_schedule import FoldSchedule, channel_bits, field_order, fold_schedule
from .pipeline import PipelineOutput
from .popcount import build_popcount, delay, pipeline_valid
from .timing import Timing, payload_width

MEMORY_STYLES = ("auto", "block", "distributed", "logic")
# An "auto" weight memory goes to BRAM from this many bits (an ECP5 DP16KD holds 18 kbit,
# an ice40 SB_RAM40_4K 4 kbit; below a quarter of the smaller one LUT-RAM is cheaper).
BLOCK_MIN_BITS = 1024
BLOCK_MIN_DEPTH = 16


FRONTS = (0, 1, 2)   # registers in front of the popcount: none, the leaves, + the weight word


def engine_depth(stages: int, scores: bool, argmax_stages: int = 0, front: int = 0) -> int:
    """Register stages of a folded or streamed engine from its input register (window or
    pixel) to its output, the output included: the input register, the leaves' register
    (`front` >= 1; the weight word's register of `front` 2 is read a step ahead, so it
    adds none), the popcount's stages, the lanes' result registers, the output register
    (a scores layer: the score registers, the argmax's stages, then the output register)."""
    return 2 + (front > 0) + stages + (2 + argmax_stages if scores else 1)


def check_front(front) -> int:
    if front not in FRONTS or isinstance(front, bool):
        raise ValueError(f"front must be one of {FRONTS}, not {front!r}")
    return front


def signed_width(lo: int, hi: int) -> int:
    """Two's complement bits holding every integer in [lo, hi]."""
    return max(2, max(lo.bit_length(), hi.bit_length()) + 1)


def memory_attrs(style: str) -> dict[str, str]:
    """yosys attributes forcing a memory's implementation ("auto": yosys decides). The weight
    memory is a ROM (no write port): yosys has no LUT-RAM mapping for a ROM on ECP5 ("no
    valid mapping found"), so "distributed" asks for a ROM in LUTs, which is what a
    LUT-RAM would cost anyway."""
    if style == "auto":
        return {}
    kind = "logic" if style == "distributed" else style
    return {"ram_style": kind, "rom_style": kind}


# A ROM in logic of at most this many words is read combinationally from the step counter:
# each word bit is then a function of the counter's four bits, which ABC folds into the LUTs
# that use it (a LUT6 takes the XNOR of two leaves with their weight bits and adds them),
# instead of a LUT and a register per bit. A deeper ROM keeps its registered read.
ASYNC_ROM_MAX_DEPTH = 16


def stepped_memory(m: Module, width: int, init: list[int], style: str, fire,
                   registered: bool = False, last_next=None, name: str = "weights"):
    """A step counter over the words of `init` and their memory, read so that its data
    always belongs to the current step: (last step, word). The counter moves on `fire` and
    wraps after the last step. A ROM in logic of up to ASYNC_ROM_MAX_DEPTH words is read
    from the counter itself; any other one step ahead, through its read register, or
    (`registered`) two steps ahead into a word register loaded on `fire`, so that the
    memory's slow clock-to-output (a block RAM's) ends in a flip-flop, at no cost in
    latency."""
    steps = len(init)

    def succ(x):
        return Mux(x == steps - 1, 0, x + 1)

    # The counter t and its next two values, in registers, so that the read address is one
    # multiplexer (on `fire`) from flip-flops: no adder or comparison in front of a
    # memory's address, which fans out to all of a LUT ROM.
    t = Signal(range(max(steps, 2)))
    t1 = Signal(range(max(steps, 2)), init=1 % steps, name="t_next")
    t2 = Signal(range(max(steps, 2)), init=2 % steps, name="t_after_next")
    # A flag register, not a comparison of the counter: it takes part in the engine's
    # `ready`, and so in the handshake of the window generator in front.
    last_step = Signal(init=steps == 1, name="last_step")
    with m.If(fire):
        m.d.sync += [t.eq(t1), t1.eq(t2), t2.eq(succ(t2)),
                     last_step.eq(t1 == steps - 1)]
    if last_next is not None:     # the flag's value after this cycle
        m.d.comb += last_next.eq(Mux(fire, t1 == steps - 1, last_step))
    mem = Memory(shape=width, depth=steps, init=init, attrs=memory_attrs(style))
    m.submodules[name] = mem
    if style in ("distributed", "logic") and steps <= ASYNC_ROM_MAX_DEPTH:
        rp = mem.read_port(domain="comb")
        m.d.comb += rp.addr.eq(t)
        return last_step, rp.data
    rp = mem.read_port()
    if not registered:
        m.d.comb += rp.addr.eq(Mux(fire, t1, t))
        return last_step, rp.data
    # The read port holds word t+1 between fires; a fire takes it and reads t+2.
    m.d.comb += rp.addr.eq(Mux(fire, t2, t1))
    word = Signal(width, init=init[0], name="word")
    with m.If(fire):
        m.d.sync += word.eq(rp.data)
    return last_step, word


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


def pick_style(style: str, depth: int, width: int) -> str:
    """The memory style "auto" resolves to, by size."""
    if style != "auto":
        return style
    return "block" if depth * width >= BLOCK_MIN_BITS and depth >= BLOCK_MIN_DEPTH \
        else "distributed"


class WeightWord:
    """Bit layout of one step's memory word: mux-group chunk ids, then per lane weights,
    mask (optional), first, last."""

    def __init__(self, sched: FoldSchedule):
        self.sched = sched
        columns: dict[tuple, int] = {}
        self.lane_mux = [columns.setdefault(col, len(columns)) for col in sched.chunk_columns]
        self.mux_columns = sorted(columns, key=columns.__getitem__)
        self.id_width = max(1, sched.zero_chunk.bit_length())
        self.fields: dict[tuple, tuple[int, int]] = {}
        at = 0

        def add(key, width):
            nonlocal at
            self.fields[key] = (at, width)
            at += width

        for k in range(len(self.mux_columns)):
            add(("chunk", k), self.id_width)
        for lane in range(sched.pe):
            add(("w", lane), sched.simd)
            if sched.needs_mask:
                add(("m", lane), sched.simd)
            add(("first", lane), 1)
            add(("last", lane), 1)
        self.width = at

    def get(self, word, key):
        start, width = self.fields[key]
        return word[start:start + width]

    def encode(self, conv: Conv) -> list[int]:
        """The memory's initial contents, one int per step."""
        s = self.sched
        simd, fan = s.simd, s.fan_in
        w_bits = channel_bits(conv.weights)
        k_bits = channel_bits(conv.kept)
        # Positions past the receptive field and idle steps read a constant 0; a weight of 1
        # there makes XNOR (bipolar) and AND (sparse) both give 0.
        fill = 1 if conv.domain == "bipolar" else 0
        words = []
        for t in range(s.steps):
            word = 0
            for k, col in enumerate(self.mux_columns):
                word |= col[t] << self.fields[("chunk", k)][0]
            for lane in range(s.pe):
                op = s.ops[lane][t]
                wv = mv = 0
                for b in range(simd):
                    c = (op.chunk % s.chunks_per_group) * simd + b
                    if op.channel >= 0 and c < fan:
                        wv |= int(w_bits[op.channel, c]) << b
                        mv |= int(k_bits[op.channel, c]) << b
                    else:
                        wv |= fill << b
                word |= wv << self.fields[("w", lane)][0]
                if s.needs_mask:
                    word |= mv << self.fields[("m", lane)][0]
                word |= int(op.first) << self.fields[("first", lane)][0]
                word |= int(op.last) << self.fields[("last", lane)][0]
            words.append(word)
        return words


class FoldedEngine(wiring.Component):
    """Folded grouped XNOR/AND-popcount engine with threshold or scores + argmax.

    Parameters
    ----------
    conv : the layer.
    pe : output channels computed in parallel (1..C_out).
    simd : receptive-field bits per lane per cycle (1..kh*kw*C_in/g).
    stages : register stages inside each lane's popcount tree.
    memory : weight memory style: "auto" (by size), "block" (BRAM), "distributed"
        (LUT-RAM) or "logic".
    argmax_stages : register stages inside a scores layer's argmax tree.
    front : registers in front of the popcounts (`FRONTS`): 1 on the XNOR/AND leaves (one
        cycle), 2 also on the weight word, read a step ahead (no cycle).
    skid : a skid register at the output, so that `adv` is a flip-flop and the ready chain
        ends here (hw.pipeline; no cycle).

    Attributes
    ----------
    i : stream of kh*kw*C_in-bit windows.
    o : stream of C_out-bit pixels, or of `result_layout(conv)` for a scores layer.
    schedule : the `FoldSchedule`; `steps` cycles per window.
    """

    def __init__(self, conv: Conv, pe: int = 1, simd: int | None = None, stages: int = 1,
                 memory: str = "auto", argmax_stages: int = 0, front: int = 0,
                 skid: bool = False):
        if not isinstance(conv, Conv):
            raise TypeError(f"conv must be a Conv, not {conv!r}")
        check_stages(stages)
        if memory not in MEMORY_STYLES:
            raise ValueError(f"memory must be one of {MEMORY_STYLES}, not {memory!r}")
        fan = int(conv.weights[0].size)
        simd = fan if simd is None else simd
        self.conv, self.stages, self.pe, self.simd = conv, stages, pe, simd
        self.argmax_stages = check_stages(argmax_stages, "argmax_stages")
        self.front = check_front(front)
        self.skid = bool(skid)
        self.schedule = fold_schedule(conv, pe, simd)
        self.word = WeightWord(self.schedule)
        self.memory_style = pick_style(memory, self.schedule.steps, self.word.width)
        kh, kw = conv.kernel
        self.in_channels = conv.in_channels_per_group * conv.groups
        self.window_bits = kh * kw * self.in_channels
        out = result_layout(conv) if conv.scores is not None else conv.out_channels
        super().__init__({"i": In(stream.Signature(self.window_bits)),
                          "o": Out(stream.Signature(out))})

    @property
    def steps(self) -> int:
        return self.schedule.steps

    @property
    def weight_memory_bits(self) -> int:
        return self.steps * self.word.width

    @property
    def depth(self) -> int:
        return engine_depth(self.stages, self.conv.scores is not None, self.argmax_stages,
                            self.front)

    def timing(self, items: int) -> Timing:
        """`items` windows per frame. Latency counts from the last window's transfer with the
        engine idle: its steps, the popcount stages, the output registers."""
        return Timing(latency=self.steps + self.depth - 1, ii=self.steps * items,
                      in_width=self.window_bits, out_width=payload_width(self.o),
                      in_items=items, out_items=items, stages=self.depth)

    def _chunk_values(self, win) -> list:
        """Every chunk of the window (by global id), the zero chunk last."""
        s, conv = self.schedule, self.conv
        order = field_order(conv)
        cg = conv.in_channels_per_group
        chunks = []
        for j in range(conv.groups):
            for c in range(s.chunks_per_group):
                bits = []
                for b in range(s.simd):
                    r = c * s.simd + b
                    bits.append(win[int(order[r]) + j * cg] if r < s.fan_in else Const(0, 1))
                chunks.append(Cat(*bits))
        chunks.append(Const(0, s.simd))
        return chunks

    def elaborate(self, platform):
        m = Module()
        conv, s, ww = self.conv, self.schedule, self.word
        out = PipelineOutput(m, self.o, self.skid)
        adv = out.adv

        # ---- window register, step counter, weight word of step t
        full = Signal()
        win = Signal(self.window_bits)
        fire = Signal()
        m.d.comb += fire.eq(full & adv)
        last_next = Signal()
        last_step, word = stepped_memory(m, ww.width, ww.encode(conv), self.memory_style, fire,
                                         registered=self.front == 2, last_next=last_next)
        if self.skid:
            # `ready` in a register, set from the next cycle's window register, skid
            # register and last step: the window generator in front waits on a flip-flop.
            ready = Signal(init=1, name="ready")
            full_next = Mux(ready, self.i.valid, full)
            m.d.sync += ready.eq(~full_next | (~out.held_next & last_next))
            m.d.comb += self.i.ready.eq(ready)
        else:
            m.d.comb += self.i.ready.eq(~full | (fire & last_step))
        # Loaded whenever ready, valid or not (`full` says which): the wide register's
        # enable then needs no input signal, only this engine's state.
        with m.If(self.i.ready):
            m.d.sync += [win.eq(self.i.payload), full.eq(self.i.valid)]

        # ---- per lane: chunk, XNOR/AND, popcount
        chunks = self._chunk_values(win)
        table = Array(chunks)
        muxed = []
        for k in range(len(ww.mux_columns)):
            value = Signal(s.simd, name=f"chunk{k}")
            m.d.comb += value.eq(table[ww.get(word, ("chunk", k))] if len(chunks) > 1
                                 else chunks[0])
            muxed.append(value)
        stages = self.stages + (self.front > 0)      # the leaves' register first
        v_d = pipeline_valid(m, fire, stages, adv)
        final_d = delay(m, fire & last_step, stages, adv, "final")
        lo, hi = sum_bounds(self.conv)
        acc_width = signed_width(lo, hi)
        lane_out = []
        for lane in range(s.pe):
            mask = ww.get(word, ("m", lane)) if s.needs_mask else None
            contrib = lane_sum(m, conv, muxed[ww.lane_mux[lane]], ww.get(word, ("w", lane)),
                               mask, stages, adv, lane, self.front > 0)
            first_d = delay(m, ww.get(word, ("first", lane)), stages, adv, f"first{lane}")
            lastc_d = delay(m, ww.get(word, ("last", lane)), stages, adv, f"last{lane}")
            acc = Signal(signed(acc_width), name=f"acc{lane}")
            total = Signal(signed(acc_width), name=f"total{lane}")
            m.d.comb += total.eq(Mux(first_d, 0, acc) + contrib)
            with m.If(adv & v_d):
                m.d.sync += acc.eq(total)
            lane_out.append(lane_results(m, conv, lane, s.lanes[lane], total, v_d & lastc_d,
                                         v_d & final_d, adv, self.front,
                                         self.memory_style))

        engine_output(m, conv, s.lanes, lane_out, s.constant, v_d & final_d, out,
                      self.argmax_stages)
        return m


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


def lane_results(m: Module, conv: Conv, lane: int, channels, total, last, final,
                 adv, front: int = 0, weight_style: str = "distributed") -> list:
    """A lane's per-channel result registers (bits, or sums for a scores layer), whole from
    the cycle after the final step, in `channels` order: the order in which the lane
    finishes its channels (`last`: the current op is a channel's last). A threshold layer compares
    `total` with the finishing channel's threshold, read from a small per-lane memory by a
    count of finished channels, so one comparator serves the lane; the results shift into
    a lane register. With `front` 2 a memory of more than ASYNC_ROM_MAX_DEPTH thresholds
    is read a step ahead into a register (threshold_memory), so that its read (a block
    RAM's clock-to-output, or a deep LUT ROM's multiplexer tree) ends in a flip-flop
    instead of running on into the comparison: the lane finishes its channels in order,
    all of them by each final step, so a counter that wraps replaces the count."""
    n = len(channels)
    if n == 0:
        return []
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
            ordinal = Signal(range(n + 1), name=f"ord{lane}")
            rp = tmem.read_port(domain="comb")
            m.d.comb += rp.addr.eq(ordinal)
            data = rp.data
            with m.If(adv & final):
                m.d.sync += ordinal.eq(0)
            with m.Elif(adv & last):
                m.d.sync += ordinal.eq(ordinal + 1)
        tau = data[:tw].as_signed()
        flip = data[tw]
        result = Signal(name=f"bit{lane}")
        m.d.comb += result.eq(Mux(flip, total <= tau, total >= tau))
        width = 1
    else:
        result, width = total, len(total)
    reg = Signal(n * width, name=f"results{lane}")
    with m.If(adv & last):
        m.d.sync += reg.eq(Cat(reg[width:], result) if n > 1 else result)
    if conv.scores is None:
        return [reg[k] for k in range(n)]
    return [reg[k * width:(k + 1) * width].as_signed() for k in range(n)]


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


def lane_sum(m: Module, conv: Conv, a, w, mask, stages: int, adv, lane: int,
             leaves: bool = False):
    """One lane's contribution to s_o from chunk `a` and its weights `w` (and `mask`): the
    XNOR popcount (bipolar), or q * AND popcount + p * popcount (sparse), `stages` deep
    (`leaves`: the first register on the popcounts' inputs). A sparse lane of two or more
    stages spends its last one behind the scaling, so that the scaling and the
    accumulator are not one path."""
    simd = len(a)
    # The leaves go through a named signal: a slice of an expression is lowered with the
    # whole expression, so `simd` slices of a `simd`-bit XNOR would cost simd^2 nets
    # (minutes and gigabytes of Amaranth and yosys memory on SFC's 784-bit lanes).
    x = Signal(simd, name=f"leaves{lane}")
    if conv.domain == "bipolar":
        m.d.comb += x.eq(~(a ^ w) if mask is None else ~(a ^ w) & mask)
        return build_popcount(m, [x[b] for b in range(simd)], stages, adv, name=f"pc{lane}",
                              leaves=leaves)
    tree = stages - 1 if stages >= 2 else stages
    m.d.comb += x.eq(a & w)
    count = build_popcount(m, [x[b] for b in range(simd)], tree, adv, name=f"pc{lane}",
                           leaves=leaves)
    contrib = conv.q * count
    if conv.p:
        every = build_popcount(m, [a[b] for b in range(simd)], tree, adv, name=f"pall{lane}",
                               leaves=leaves)
        contrib = contrib + conv.p * every
    if stages == tree:
        return contrib
    scaled = Signal(contrib.shape(), name=f"scaled{lane}")
    with m.If(adv):
        m.d.sync += scaled.eq(contrib)
    return scaled
