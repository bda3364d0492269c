"""The output end of a global-enable pipeline (an engine's): one enable, `adv`, moves every
register of the pipeline, and a result is presented on an output stream.

Without a skid register, `adv` is "the output is free or being read": it follows the
downstream `ready` through logic, so a chain of engines makes one long combinational
path from the last `ready` to the first engine's input. With one, a second register takes
the result the output could not, and `adv` is "that register is empty": a flip-flop, so
the ready chain ends at this engine, at no cost in latency or throughput. That flip-flop
can then have copies (`enables`), one per group of the pipeline's registers: one net
enabling thousands of flip-flops routes slowly (hw.fanout).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, Value

from .fanout import copies


class PipelineOutput:
    """`adv` for the pipeline behind stream `o`, and `put` to present its results."""

    def __init__(self, m: Module, o, skid: bool = False):
        self.m, self.o, self.skid = m, o, skid
        self.adv = Signal(name="adv")
        self._handed = 0       # copies of the skid register handed out by `enables`
        if skid:
            self.held = Signal(name="skid_valid")
            # its value after this cycle, for a pipeline that registers its own `ready`
            self.held_next = Signal(name="skid_valid_next")
            m.d.comb += self.adv.eq(~self.held)
        else:
            m.d.comb += self.adv.eq(~o.valid | o.ready)

    def enables(self, count: int) -> list[Value]:
        """`count` nets that each carry `adv`, for `count` groups of registers: with a skid
        register, each the inverse of a copy of it not handed out before (the first copy
        is the skid register itself); without one, `adv` itself, which follows `ready`
        through logic."""
        if not self.skid:
            return [self.adv] * count
        held = copies(self.m, self.held, self.held_next, count, self._handed)
        self._handed += count
        return [~h for h in held]

    def put(self, valid: Value, payload: Value) -> None:
        """Present `payload` when `valid`, as the pipeline advances (call once)."""
        m, o, adv = self.m, self.o, self.adv
        if not self.skid:
            with m.If(adv):
                m.d.sync += o.valid.eq(valid)
            with m.If(adv & valid):
                m.d.sync += o.payload.eq(payload)
            return
        held = self.held
        kept = Signal(len(Value.cast(o.payload)), name="skid_payload")
        free = ~o.valid | o.ready                # the output register is free
        m.d.comb += self.held_next.eq(Mux(free, 0, held | valid))
        m.d.sync += held.eq(self.held_next)
        with m.If(free):
            with m.If(held):
                m.d.sync += [o.payload.eq(kept), o.valid.eq(1)]
            with m.Else():
                m.d.sync += o.valid.eq(valid)
                with m.If(valid):
                    m.d.sync += o.payload.eq(payload)
        with m.Elif(adv & valid):                # it is not: the skid register takes it
            m.d.sync += kept.eq(payload)
