"""The streaming dense engine: a layer whose kernel covers its whole input map, computed as
the pixels arrive, with no window of the map.

A dense layer's sum s_o is a sum over the map's pixels of each pixel's XNOR/AND popcount
against that position's weights. A folded `FoldedEngine` behind a window generator would
first gather the whole map (H*W*C bits of registers, twice) and then multiplex chunks out of
it; here a pixel register of C bits is all the input storage.

Schedule (computed at elaboration time, like `folded_schedule.py`): pixel p takes
`pixel_steps[p]` cycles; each cycle each of `pe` lanes reads one `simd`-bit chunk of the
pixel (chunk c of group j: the group's channels [c*simd, (c+1)*simd)), XNORs or ANDs it with
the weights of (its channel, p, c) and adds the popcount to that channel's accumulator.
Channels go to lanes as in a folded engine (longest first onto the least-loaded lane); a
chunk with no live weight at p is never visited, so block pruning saves cycles and memory
words; a pixel where no lane has work still takes one (idle) cycle.

Pipeline, one enable (`adv`: the output register is free or being read) as in
`FoldedEngine`: pixel register -> weight word (from a ROM of sum(pixel_steps) words, read
as hw.folded.stepped_memory does) -> chunk mux, XNOR/AND, popcount (`stages` registers) ->
per lane one adder and its sum: one register when the lane takes its channels one after the other
(a single-pixel map: FINN's one accumulator per PE), or a LUT-RAM bank of one sum per
channel when the channels interleave over the pixels (a channel's first op of the frame
restarts its sum) -> on a channel's last op, its threshold compare (one comparator per
lane, the thresholds read in turn as in `FoldedEngine`) or its sum shifts into a lane
register -> in the cycle after the frame's last step, the output register (or the scores
and argmax). An idle op reads the zero chunk and adds 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.memory import Memory
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv

from .engine import check_stages, result_layout
from .folded import (MEMORY_STYLES, check_front, engine_depth, engine_output, lane_results,
                     lane_sum, pick_style, signed_width, stepped_memory, sum_bounds)
from .folded_schedule import assign_lanes
from .pipeline import PipelineOutput
from .popcount import delay, pipeline_valid
from .timing import Timing, payload_width


def is_dense(conv: Conv, in_shape: tuple[int, int, int]) -> bool:
    """A kernel over the whole unpadded input map: one output pixel per frame."""
    return tuple(conv.kernel) == tuple(in_shape[:2]) and tuple(conv.padding) == (0, 0)


def position_live(conv: Conv) -> np.ndarray:
    """(O, kh, kw, cg) bool: the weights that need a visit (kept bits when bipolar; one-bits
    in the sparse domain with p = 0; every input when the sparse sum needs P_all)."""
    if conv.domain == "bipolar":
        return conv.kept.astype(bool)
    if conv.p != 0:
        return np.ones(conv.weights.shape, dtype=bool)
    return conv.weights.astype(bool)


@dataclass(frozen=True)
class DenseOp:
    """One lane's work in one step."""

    channel: int      # output channel, -1 for an idle step
    chunk: int        # global chunk id (group * chunks_per_group + c), or the zero chunk
    first: bool       # the channel's first op of the frame: its accumulator restarts
    last: bool        # the channel's last op of the frame: its result is ready
    slot: int         # the channel's accumulator in the lane's bank


@dataclass(frozen=True)
class DenseSchedule:
    pe: int
    simd: int
    group_bits: int                      # cg: a group's bits of one pixel
    groups: int
    chunks_per_group: int
    lanes: tuple[tuple[int, ...], ...]   # per lane with work: its channels (slot order)
    finish: tuple[tuple[int, ...], ...]  # per lane: its channels in the order they finish
    banked: tuple[bool, ...]             # per lane: channels interleave (a bank of sums)
    pixel_steps: tuple[int, ...]         # cycles per pixel, raster order
    ops: tuple[tuple[DenseOp, ...], ...]  # per lane: sum(pixel_steps) ops
    pixel_of: tuple[int, ...]            # per step: its pixel
    constant: tuple[int, ...]            # channels with no live weight at all
    needs_mask: bool                     # a visited chunk holds a pruned weight

    @property
    def steps(self) -> int:
        return len(self.pixel_of)

    @property
    def zero_chunk(self) -> int:
        return self.groups * self.chunks_per_group

    def pixel_ends(self) -> list[bool]:
        return [t == self.steps - 1 or self.pixel_of[t + 1] != self.pixel_of[t]
                for t in range(self.steps)]


def live_position_chunks(conv: Conv, simd: int) -> np.ndarray:
    """(O, kh*kw, chunks_per_group) bool: chunk c of pixel p holds a live weight of o."""
    live = position_live(conv)
    o_n, kh, kw, cg = live.shape
    n = -(-cg // simd)
    padded = np.zeros((o_n, kh * kw, n * simd), dtype=bool)
    padded[:, :, :cg] = live.reshape(o_n, kh * kw, cg)
    return padded.reshape(o_n, kh * kw, n, simd).any(axis=3)


def _lanes(live: np.ndarray, pe: int) -> list[list[int]]:
    """The lanes that get channels (as in a folded engine), from (O, P, n) live chunks."""
    return [lane for lane in assign_lanes(live.sum(axis=(1, 2)).tolist(), pe) if lane]


def dense_pixel_steps(conv: Conv, pe: int, simd: int) -> tuple[int, ...]:
    """Cycles per pixel (cheaper than the full schedule: no ops are built)."""
    live = live_position_chunks(conv, simd)
    per_pixel = live.sum(axis=2)                         # (O, P)
    lanes = _lanes(live, pe)
    if not lanes:
        return (1,) * live.shape[1]
    loads = np.stack([per_pixel[lane].sum(axis=0) for lane in lanes])
    return tuple(int(s) for s in np.maximum(1, loads.max(axis=0)))


def _needs_mask(conv: Conv, live: np.ndarray, simd: int) -> bool:
    """A visited chunk holds a pruned weight (the tail past the group's bits needs none)."""
    if conv.domain != "bipolar" or conv.mask is None:
        return False
    o_n, kh, kw, cg = conv.weights.shape
    n = live.shape[2]
    kept = np.ones((o_n, kh * kw, n * simd), dtype=bool)
    kept[:, :, :cg] = conv.kept.astype(bool).reshape(o_n, kh * kw, cg)
    whole = kept.reshape(o_n, kh * kw, n, simd).all(axis=3)
    return bool((live & ~whole).any())


def check_dense(conv: Conv, pe: int, simd: int) -> None:
    cg = conv.in_channels_per_group
    if not 1 <= pe <= conv.out_channels:
        raise ValueError(f"{conv.name}: pe must be in 1..{conv.out_channels}, not {pe}")
    if not 1 <= simd <= cg:
        raise ValueError(f"{conv.name}: a streamed dense layer reads at most one pixel's "
                         f"{cg} group bits per lane and cycle: simd must be in 1..{cg}, "
                         f"not {simd}")


def _lane_ops(live: np.ndarray, lanes: list[list[int]], og: int,
              pixel_steps: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
    """Per lane, per step: channel (-1 idle), pixel, chunk id, first and last flags and slot,
    as arrays (dense_shape sizes from them; dense_schedule makes its ops of them)."""
    o_n, pixels, n = live.shape
    zero = -(-o_n // og) * n
    ids = [[np.flatnonzero(live[o, p]) for p in range(pixels)] for o in range(o_n)]
    out = []
    for lane in lanes:
        cols = {k: [] for k in ("channel", "pixel", "chunk", "first", "slot")}
        started = set()
        for p in range(pixels):
            count = 0
            for slot, o in enumerate(lane):
                cs = ids[o][p]
                k = len(cs)
                if k:
                    cols["channel"] += [o] * k
                    cols["chunk"] += ((o // og) * n + cs).tolist()
                    cols["first"] += [o not in started] + [False] * (k - 1)
                    cols["slot"] += [slot] * k
                    started.add(o)
                    count += k
            idle = pixel_steps[p] - count
            cols["channel"] += [-1] * idle
            cols["chunk"] += [zero] * idle
            cols["first"] += [False] * idle
            cols["slot"] += [0] * idle
            cols["pixel"] += [p] * pixel_steps[p]
        op = {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}
        last = np.zeros(len(op["channel"]), dtype=np.int64)
        for o in lane:
            at = np.flatnonzero(op["channel"] == o)
            if len(at):
                last[at[-1]] = 1
        op["last"] = last
        out.append(op)
    return out


def _finish_order(op: dict[str, np.ndarray]) -> tuple[int, ...]:
    """A lane's channels in the order their last ops come."""
    return tuple(int(c) for c in op["channel"][op["last"] == 1])


def _banked(op: dict[str, np.ndarray]) -> bool:
    """The lane's channels interleave (several pixels each visit several channels): each
    needs its own sum, kept in a bank; else one accumulator serves them in turn."""
    busy = op["channel"][op["channel"] >= 0]
    runs = 1 + int((busy[1:] != busy[:-1]).sum()) if len(busy) else 0
    return runs > len(set(busy.tolist()))


def _slot_bits(lane, banked: bool) -> int:
    return (len(lane) - 1).bit_length() if banked else 0


def _varying_bits(values: np.ndarray, width: int) -> int:
    """Bits of `width`-bit fields that are not the same in every step."""
    if width == 0 or len(values) == 0:
        return 0
    bits = (values[:, None] >> np.arange(width)) & 1
    return int((bits != bits[:1]).any(axis=0).sum())


@dataclass(frozen=True)
class DenseShape:
    """What a streamed dense engine's cost depends on, without its ops (for planners)."""

    steps: int
    lanes: tuple[tuple[int, ...], ...]
    banked: tuple[bool, ...]
    mux_columns: int
    needs_mask: bool
    word_width: int
    rom_width: int      # the word's bits that are not constant over the steps (yosys drops
                        # a ROM's constant bits before it maps the rest to block RAM)


def dense_shape(conv: Conv, pe: int, simd: int) -> DenseShape:
    """`dense_schedule`'s sizes (same lanes, same columns, same word)."""
    check_dense(conv, pe, simd)
    live = live_position_chunks(conv, simd)
    o_n, pixels, n = live.shape
    cg = conv.in_channels_per_group
    lanes = _lanes(live, pe)
    pixel_steps = dense_pixel_steps(conv, pe, simd)
    ops = _lane_ops(live, lanes, conv.out_channels_per_group, pixel_steps)
    banked = [_banked(op) for op in ops]
    columns = {tuple(op["chunk"].tolist()): op["chunk"] for op in ops}
    mask = _needs_mask(conv, live, simd)
    id_width = max(1, (conv.groups * n).bit_length())
    width = 1 + len(columns) * id_width + sum(
        simd * (2 if mask else 1) + 2 + _slot_bits(lane, b) for lane, b in zip(lanes, banked))
    # The ROM's varying bits, field by field as DenseWord lays them out.
    varying = int(any(s > 1 for s in pixel_steps))
    varying += sum(_varying_bits(col, id_width) for col in columns.values())
    fill = 1 if conv.domain == "bipolar" else 0
    grids = [conv.weights] + ([conv.kept] if mask else [])
    padded = []
    for g in grids:
        a = np.full((o_n + 1, pixels, n * simd), fill if g is conv.weights else 0, np.uint8)
        a[:o_n, :, :cg] = g.reshape(o_n, pixels, cg)
        if g is not conv.weights:
            a[:o_n, :, cg:] = 0
        padded.append(a)
    for lane, op, b in zip(lanes, ops, banked):
        o = np.where(op["channel"] < 0, o_n, op["channel"])   # row o_n: the idle fill
        r = (op["chunk"] % n)[:, None] * simd + np.arange(simd)
        for a in padded:
            bits = a[o[:, None], op["pixel"][:, None], r]
            varying += int((bits != bits[:1]).any(axis=0).sum())
        varying += _varying_bits(op["first"], 1) + _varying_bits(op["last"], 1)
        varying += _varying_bits(op["slot"], _slot_bits(lane, b))
    return DenseShape(steps=sum(pixel_steps), lanes=tuple(map(tuple, lanes)),
                      banked=tuple(banked), mux_columns=len(columns), needs_mask=mask,
                      word_width=width, rom_width=varying)


def dense_schedule(conv: Conv, pe: int, simd: int) -> DenseSchedule:
    """The schedule of dense layer `conv` on `pe` lanes of `simd` bits (lanes without a
    channel are left out)."""
    check_dense(conv, pe, simd)
    og = conv.out_channels_per_group
    live = live_position_chunks(conv, simd)
    o_n, pixels, n = live.shape
    lanes = _lanes(live, pe)
    pixel_steps = dense_pixel_steps(conv, pe, simd)
    arrays = _lane_ops(live, lanes, og, pixel_steps)
    ops = [tuple(DenseOp(int(c), int(k), bool(f), bool(e), int(s))
                 for c, k, f, e, s in zip(op["channel"], op["chunk"], op["first"], op["last"],
                                          op["slot"]))
           for op in arrays]
    pixel_of = [p for p in range(pixels) for _ in range(pixel_steps[p])]
    constant = tuple(o for o in range(o_n) if not live[o].any())
    return DenseSchedule(pe=pe, simd=simd, group_bits=conv.in_channels_per_group,
                         groups=conv.groups, chunks_per_group=n,
                         lanes=tuple(tuple(x) for x in lanes),
                         finish=tuple(_finish_order(op) for op in arrays),
                         banked=tuple(_banked(op) for op in arrays),
                         pixel_steps=pixel_steps, ops=tuple(ops), pixel_of=tuple(pixel_of),
                         constant=constant, needs_mask=_needs_mask(conv, live, simd))


class DenseWord:
    """Bit layout of one step's memory word: the pixel-end flag, mux-group chunk ids, then
    per lane weights, mask (optional), first, last and (a banked lane) slot."""

    def __init__(self, sched: DenseSchedule):
        self.sched = sched
        columns: dict[tuple, int] = {}
        self.lane_mux = [columns.setdefault(tuple(op.chunk for op in lane), len(columns))
                         for lane in sched.ops]
        self.mux_columns = sorted(columns, key=columns.__getitem__)
        self.id_width = max(1, sched.zero_chunk.bit_length())
        self.fields: dict[tuple, tuple[int, int]] = {}
        at = 0

        def add(key, width):
            nonlocal at
            self.fields[key] = (at, width)
            at += width

        add(("end",), 1)
        for k in range(len(self.mux_columns)):
            add(("chunk", k), self.id_width)
        for lane, channels in enumerate(sched.lanes):
            add(("w", lane), sched.simd)
            if sched.needs_mask:
                add(("m", lane), sched.simd)
            add(("first", lane), 1)
            add(("last", lane), 1)
            add(("slot", lane), _slot_bits(channels, sched.banked[lane]))
        self.width = at

    def get(self, word, key):
        start, width = self.fields[key]
        return word[start:start + width]

    def encode(self, conv: Conv) -> list[int]:
        """The memory's initial contents, one int per step."""
        s = self.sched
        cg, n, simd = s.group_bits, s.chunks_per_group, s.simd
        weights = conv.weights.reshape(conv.out_channels, -1, cg)
        kept = conv.kept.reshape(conv.out_channels, -1, cg)
        # Chunk positions past the group's bits and idle steps read a constant 0; a weight of 1
        # there makes XNOR (bipolar) and AND (sparse) both give 0.
        fill = 1 if conv.domain == "bipolar" else 0
        ends = s.pixel_ends()
        words = []
        for t in range(s.steps):
            word = int(ends[t]) << self.fields[("end",)][0]
            for k, col in enumerate(self.mux_columns):
                word |= col[t] << self.fields[("chunk", k)][0]
            p = s.pixel_of[t]
            for lane in range(len(s.lanes)):
                op = s.ops[lane][t]
                wv = mv = 0
                for b in range(simd):
                    r = (op.chunk % n) * simd + b
                    if op.channel >= 0 and r < cg:
                        wv |= int(weights[op.channel, p, r]) << b
                        mv |= int(kept[op.channel, p, r]) << b
                    else:
                        wv |= fill << b
                word |= wv << self.fields[("w", lane)][0]
                if s.needs_mask:
                    word |= mv << self.fields[("m", lane)][0]
                word |= int(op.first) << self.fields[("first", lane)][0]
                word |= int(op.last) << self.fields[("last", lane)][0]
                if self.fields[("slot", lane)][1]:
                    word |= op.slot << self.fields[("slot", lane)][0]
            words.append(word)
        return words


class StreamingDense(wiring.Component):
    """Dense (whole-map) binary layer on a pixel stream, with thresholds or scores + argmax.

    Parameters
    ----------
    conv : the layer; its kernel is the whole input map, unpadded.
    pe : output channels computed in parallel (1..C_out).
    simd : bits of a pixel's group read per lane per cycle (1..C_in/g).
    stages : register stages inside each lane's popcount tree.
    memory : weight memory style, as for `FoldedEngine`.
    argmax_stages, front, skid : pipelining, as for `FoldedEngine`.

    Attributes
    ----------
    i : stream of C_in-bit pixels, H*W per frame in raster order.
    o : one C_out-bit pixel, or `result_layout(conv)` for a scores layer, per frame.
    schedule : the `DenseSchedule`; `steps` cycles per frame.
    """

    def __init__(self, conv: Conv, pe: int = 1, simd: int | None = None, stages: int = 1,
                 memory: str = "auto", argmax_stages: int = 0, front: int = 0,
                 skid: bool = False):
        if not isinstance(conv, Conv):
            raise TypeError(f"conv must be a Conv, not {conv!r}")
        check_stages(stages)
        if memory not in MEMORY_STYLES:
            raise ValueError(f"memory must be one of {MEMORY_STYLES}, not {memory!r}")
        simd = conv.in_channels_per_group if simd is None else simd
        self.conv, self.stages, self.pe, self.simd = conv, stages, pe, simd
        self.argmax_stages = check_stages(argmax_stages, "argmax_stages")
        self.front = check_front(front)
        self.skid = bool(skid)
        self.schedule = dense_schedule(conv, pe, simd)
        self.word = DenseWord(self.schedule)
        self.memory_style = pick_style(memory, self.schedule.steps, self.word.width)
        self.in_channels = conv.in_channels_per_group * conv.groups
        out = result_layout(conv) if conv.scores is not None else conv.out_channels
        super().__init__({"i": In(stream.Signature(self.in_channels)),
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

    def timing(self, items: int = 1) -> Timing:
        """Latency counts from the frame's last pixel transfer with the engine idle: that
        pixel's steps, the popcount stages, the output registers."""
        s = self.schedule
        return Timing(latency=s.pixel_steps[-1] + self.depth - 1, ii=self.steps,
                      in_width=self.in_channels, out_width=payload_width(self.o),
                      in_items=len(s.pixel_steps), out_items=1, stages=self.depth)

    def _chunk_values(self, pixel) -> list:
        """Every chunk of the pixel (by global id), the zero chunk last."""
        s = self.schedule
        chunks = []
        for j in range(s.groups):
            for c in range(s.chunks_per_group):
                bits = [pixel[j * s.group_bits + r] if r < s.group_bits else Const(0, 1)
                        for r in range(c * s.simd, (c + 1) * s.simd)]
                chunks.append(Cat(*bits))
        chunks.append(Const(0, s.simd))
        return chunks

    def elaborate(self, platform):
        m = Module()
        conv, s, ww = self.conv, self.schedule, self.word
        out = PipelineOutput(m, self.o, self.skid)
        adv = out.adv

        # ---- pixel register, step counter, weight word of step t
        full = Signal()
        pixel = Signal(self.in_channels)
        fire = Signal()
        m.d.comb += fire.eq(full & adv)
        last_step, word = stepped_memory(m, ww.width, ww.encode(conv), self.memory_style, fire,
                                         registered=self.front == 2)
        pixel_end = ww.get(word, ("end",))

        m.d.comb += self.i.ready.eq(~full | (fire & pixel_end))
        with m.If(self.i.ready):     # valid or not, as in hw.folded (`full` says which)
            m.d.sync += [pixel.eq(self.i.payload), full.eq(self.i.valid)]

        # ---- per lane: chunk, XNOR/AND, popcount, accumulator, result in turn
        # Multiplexers as shifts of one value (continuous assignments): an `always @*` case
        # over registers that keep their reset value stays X on Icarus (see hw/window.py).
        table = Cat(*self._chunk_values(pixel))
        muxed = []
        for k in range(len(ww.mux_columns)):
            value = Signal(s.simd, name=f"chunk{k}")
            m.d.comb += value.eq(table.word_select(ww.get(word, ("chunk", k)), s.simd))
            muxed.append(value)
        stages = self.stages + (self.front > 0)      # the leaves' register first
        v_d = pipeline_valid(m, fire, stages, adv)
        final_d = delay(m, fire & last_step, stages, adv, "final")
        acc_width = signed_width(*sum_bounds(conv))
        results = []
        for lane, channels in enumerate(s.lanes):
            mask = ww.get(word, ("m", lane)) if s.needs_mask else None
            contrib = lane_sum(m, conv, muxed[ww.lane_mux[lane]], ww.get(word, ("w", lane)),
                               mask, stages, adv, lane, self.front > 0)
            first_d, last_d = (
                delay(m, ww.get(word, (key, lane)), stages, adv, f"{key}{lane}")
                for key in ("first", "last"))
            total = Signal(signed(acc_width), name=f"total{lane}")
            write = adv & v_d
            if s.banked[lane]:
                # Sums of interleaved channels in a LUT-RAM (asynchronous read, written back
                # in the same cycle): one adder per lane, no multiplexer of registers.
                slot_d = delay(m, ww.get(word, ("slot", lane)), stages, adv, f"slot{lane}")
                bank = Memory(shape=signed(acc_width), depth=len(channels), init=[])
                m.submodules[f"sums{lane}"] = bank
                rd = bank.read_port(domain="comb")
                wr = bank.write_port()
                m.d.comb += [rd.addr.eq(slot_d), wr.addr.eq(slot_d), wr.data.eq(total),
                             wr.en.eq(write)]
                current = rd.data
            else:
                current = Signal(signed(acc_width), name=f"acc{lane}")
                with m.If(write):
                    m.d.sync += current.eq(total)
            m.d.comb += total.eq(Mux(first_d, 0, current) + contrib)
            results.append(lane_results(m, conv, lane, s.finish[lane], total, v_d & last_d,
                                        v_d & final_d, adv, self.front,
                                        self.memory_style))

        engine_output(m, conv, s.finish, results, s.constant, v_d & final_d, out,
                      self.argmax_stages)
        return m
