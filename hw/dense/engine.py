"""The streaming dense engine: a layer whose kernel covers its whole input map, computed as
the pixels arrive, with no window of the map.

A dense layer's sum s_o is a sum over the map's pixels of each pixel's XNOR/AND popcount
against that position's weights. A folded `FoldedEngine` behind a window generator would
first gather the whole map (H*W*C bits of registers, twice) and then multiplex chunks out of
it; here a pixel register of C bits is all the input storage.

Schedule (computed at elaboration time, like hw/folded/schedule.py): pixel p takes
`pixel_steps[p]` cycles; each cycle each of `pe` lanes reads one `simd`-bit chunk of the
pixel (chunk c of group j: the group's channels [c*simd, (c+1)*simd)), XNORs or ANDs it with
the weights of (its channel, p, c) and adds the popcount to that channel's accumulator.
Channels go to lanes as in a folded engine (longest first onto the least-loaded lane); a
chunk with no live weight at p is never visited, so block pruning saves cycles and memory
words; a pixel where no lane has work still takes one (idle) cycle.

Pipeline, one enable (`adv`: the output register is free or being read) as in
`FoldedEngine`: pixel register -> weight word (from a ROM of sum(pixel_steps) words, read
as hw.folded.memory.stepped_memory does) -> chunk mux, XNOR/AND, popcount (`stages` registers) ->
per lane one adder and its sum: one register when the lane takes its channels one after the other
(a single-pixel map: FINN's one accumulator per PE), or a LUT-RAM bank of one sum per
channel when the channels interleave over the pixels (a channel's first op of the frame
restarts its sum) -> on a channel's last op, its threshold compare (one comparator per
lane, the thresholds read in turn as in `FoldedEngine`) or its sum shifts into a lane
register -> in the cycle after the frame's last step, the output register (or the scores
and argmax). An idle op reads the zero chunk and adds 0.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.memory import Memory
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv

from ..engine import check_stages, result_layout
from ..folded.lanes import (check_front, chunk_muxes, chunk_registers, engine_depth,
                            engine_output, input_register, lane_enables, lane_results,
                            lane_sum, lane_weights, result_stage, signed_width, sum_bounds,
                            weight_word)
from ..folded.memory import MEMORY_STYLES, pick_style
from ..pipeline import PipelineOutput
from ..popcount import delay, pipeline_valid
from ..timing import Timing, payload_width
from .schedule import dense_schedule
from .word import DenseWord


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

    @property
    def timing(self) -> Timing:
        """The frame's (a dense layer's one window is its whole map; hw.timing). Latency
        counts from the frame's last pixel transfer with the engine idle: that pixel's steps,
        the popcount stages, the output registers."""
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
        # the lanes' enables first: the skid register itself goes to lane 0 (hw.fanout)
        lane_nets = lane_enables(out, conv, len(s.lanes), s.simd, self.front > 0)
        full_next = Mux(self.i.ready, self.i.valid, full)
        # `ready`, with a skid register and the weight word a register, in a register as in
        # hw.folded.engine, set from the next cycle's pixel register, skid register and
        # pixel-end flag: the flag of the step after the current one is a register of its
        # own (`end_ahead`), not the block RAM's output, whose clock-to-output (5.6 ns on
        # an ECP5) and route to the engine's handshake would take a cycle of their own.
        registered = self.skid and self.front >= 2
        ends = s.pixel_ends()
        end_ahead = None
        if registered and len(set(ends)) > 1:    # (a constant flag is the word's, a constant)
            end_ahead = Signal(init=ends[1 % len(ends)], name="end_ahead")
        last_step, word, word_next = weight_word(
            m, out, ww, conv, self.memory_style, self.front, full, full_next, fire,
            flag_ahead=None if end_ahead is None else (ends, end_ahead))
        pixel_end = ww.get(word, ("end",))
        end_next = pixel_end if end_ahead is None else Mux(fire, end_ahead, pixel_end)
        input_register(m, self.i, full, pixel, ~full | (fire & pixel_end),
                       Signal(name="ready_next") if registered else None,
                       (~full_next | (~out.held_next & end_next)) if registered else None)

        # ---- per lane: chunk, XNOR/AND, popcount, accumulator, result in turn
        muxed = chunk_muxes(m, self._chunk_values(pixel), ww, word, word_next)
        pre = self.front > 2                         # a cycle for the chunk registers
        chunks = (chunk_registers(m, muxed, ww.lane_mux, out, [True] * len(s.lanes)) if pre
                  else [muxed[k] for k in ww.lane_mux])
        stages = self.stages + (self.front > 0) + pre    # the leaves' register first
        v_d = pipeline_valid(m, fire, stages, adv)
        final_d = delay(m, fire & last_step, stages, adv, "final")
        acc_width = signed_width(*sum_bounds(conv))
        results = []
        for (lane, channels), ens in zip(enumerate(s.lanes), lane_nets):
            w, mask = lane_weights(m, ww, word, lane, s.needs_mask, ens, pre)
            contrib = lane_sum(m, conv, chunks[lane], w, mask, stages - pre, ens, lane,
                               self.front > 0)
            first_d, last_d = (
                delay(m, ww.get(word, (key, lane)), stages, ens[0], f"{key}{lane}")
                for key in ("first", "last"))
            total = Signal(signed(acc_width), name=f"total{lane}")
            write = ens[0] & v_d
            if s.banked[lane]:
                # Sums of interleaved channels in a LUT-RAM (asynchronous read, written back
                # in the same cycle): one adder per lane, no multiplexer of registers.
                slot_d = delay(m, ww.get(word, ("slot", lane)), stages, ens[0], f"slot{lane}")
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
                                        ens[0], self.front, self.memory_style, out,
                                        held=None if s.banked[lane] else current))

        engine_output(m, conv, s.finish, results, s.constant,
                      result_stage(m, v_d & final_d, self.front, adv), out,
                      self.argmax_stages)
        return m
