"""The folded grouped convolution engine: `pe` output channels in parallel, `simd` receptive-
field bits per lane per cycle, weights in a memory.

Same streams as `ConvEngine` (a window in, a pixel or the scores result out), but a window
takes `steps` cycles instead of one (see `schedule.py` for the schedule and why it
never visits a pruned block). Pipeline:

- the window is held in a register while its `steps` run; the next window is accepted in the
  cycle the last step issues, so windows follow each other without a bubble;
- one memory word per step holds, per lane, the chunk id, the chunk's weights (and its mask
  when a visited chunk holds pruned weights) and first/last flags; it is read one cycle
  ahead (synchronous read, so yosys can put it in BRAM);
- per lane: chunk mux (with `front` 3 into registers near the lanes, and the weights into a
  register of their own: a cycle), XNOR/AND, popcount tree (`stages` registers),
  accumulator;
- on a channel's last chunk the lane compares the sum (with `front` 3 a cycle later, from
  its accumulator) with its threshold (a small per-lane
  memory, read by the lane's channel counter) or keeps the sum (scores layer), and shifts
  the result into a lane register; the cycle after the window's last step loads the output
  register from the lane registers, a constant permutation (no multiplexer in front).

One enable (`adv`, the output register is free or being read; with a skid register, that
register is empty, and each lane and weight memory slice has copies of it, hw.fanout)
moves the whole pipeline, as in `ConvEngine`. The planner picks the
registers (`stages`, `front`, `argmax_stages`, `skid`) that meet its clock
(gen/estimate/timing_model.py).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv

from ..engine import check_stages, result_layout
from ..pipeline import PipelineOutput
from ..popcount import delay, pipeline_valid
from ..timing import Timing, payload_width
from .lanes import (check_front, chunk_muxes, chunk_registers, engine_depth, engine_output,
                    input_register, lane_enables, lane_results, lane_sum, lane_weights,
                    result_stage, signed_width, sum_bounds, weight_word)
from .memory import MEMORY_STYLES, pick_style
from .schedule import field_order, fold_schedule
from .word import WeightWord


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
        cycle), 2 also on the weight word, read a step ahead (no cycle), 3 also on the
        chunks, a copy per few lanes, and on the lanes' weights (one cycle), and the
        comparison a cycle after the accumulator (one more).
    skid : a skid register at the output, so that `adv` is a flip-flop and the ready chain
        ends here (hw.pipeline; no cycle).

    Attributes
    ----------
    i : stream of kh*kw*C_in-bit windows.
    o : stream of C_out-bit pixels, or of `result_layout(conv)` for a scores layer.
    schedule : the `FoldSchedule`; `steps` cycles per window.
    ready_next : with `skid`, what `i.ready` (a register then) holds after this cycle: the
        window generator in front sets its enables' registers from it (hw.window.generator).
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
        # (`keep`: a net of its own, that the window generator's enables take one LUT after)
        self.ready_next = (Signal(name="ready_next", attrs={"keep": 1}) if self.skid
                           else None)

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
        """One window's (hw.timing: an engine's interval is per window). Latency counts from
        the window's transfer with the engine idle: its steps, the popcount stages, the
        output registers."""
        return Timing(latency=self.steps + self.depth - 1, ii=self.steps,
                      in_width=self.window_bits, out_width=payload_width(self.o),
                      in_items=1, out_items=1, stages=self.depth)

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
        last_next = Signal() if self.skid else None
        full_next = Mux(self.i.ready, self.i.valid, full)
        # the lanes' enables first: the skid register itself goes to lane 0 (hw.fanout)
        lane_nets = lane_enables(out, conv, s.pe, s.simd, self.front > 0)
        last_step, word, word_next = weight_word(m, out, ww, conv, self.memory_style,
                                                 self.front, full, full_next, fire, last_next)
        # `ready`, with a skid register in a register set from the next cycle's window
        # register, skid register and last step: the window generator waits on a flip-flop
        input_register(m, self.i, full, win, ~full | (fire & last_step),
                       self.ready_next if self.skid else None,
                       (~full_next | (~out.held_next & last_next)) if self.skid else None)

        # ---- per lane: chunk, XNOR/AND, popcount
        muxed = chunk_muxes(m, self._chunk_values(win), ww, word, word_next)
        pre = self.front > 2                         # a cycle for the chunk registers
        chunks = (chunk_registers(m, muxed, ww.lane_mux, out, [bool(c) for c in s.lanes])
                  if pre
                  else [muxed[k] for k in ww.lane_mux])
        stages = self.stages + (self.front > 0) + pre    # the leaves' register first
        v_d = pipeline_valid(m, fire, stages, adv)
        final_d = delay(m, fire & last_step, stages, adv, "final")
        lo, hi = sum_bounds(self.conv)
        acc_width = signed_width(lo, hi)
        lane_out = []
        for lane, ens in enumerate(lane_nets):
            w, mask = lane_weights(m, ww, word, lane, s.needs_mask, ens, pre)
            contrib = lane_sum(m, conv, chunks[lane], w, mask, stages - pre, ens, lane,
                               self.front > 0)
            first_d = delay(m, ww.get(word, ("first", lane)), stages, ens[0], f"first{lane}")
            lastc_d = delay(m, ww.get(word, ("last", lane)), stages, ens[0], f"last{lane}")
            acc = Signal(signed(acc_width), name=f"acc{lane}")
            total = Signal(signed(acc_width), name=f"total{lane}")
            m.d.comb += total.eq(Mux(first_d, 0, acc) + contrib)
            with m.If(ens[0] & v_d):
                m.d.sync += acc.eq(total)
            lane_out.append(lane_results(m, conv, lane, s.lanes[lane], total, v_d & lastc_d,
                                         ens[0], self.front,
                                         self.memory_style, out, held=acc))

        engine_output(m, conv, s.lanes, lane_out, s.constant,
                      result_stage(m, v_d & final_d, self.front, adv), out,
                      self.argmax_stages)
        return m
