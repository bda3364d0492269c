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

from .fanout import copies, group_slices


def output_groups(width: int) -> list[slice]:
    """The groups of a `width`-bit output (and skid) register behind a skid register, each
    enabled through its own copies of `valid` and of the skid register (its bits load from
    one or the other: two loads a bit)."""
    return group_slices(width, 2)


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
        free = ~o.valid | o.ready                # the output register is free
        m.d.comb += self.held_next.eq(Mux(free, 0, held | valid))
        m.d.sync += held.eq(self.held_next)
        valid_next = Mux(free, held | valid, o.valid)
        m.d.sync += o.valid.eq(valid_next)
        # Per group of bits, its own copies of `valid` and of the skid register (hw.fanout):
        # a wide output register's enable follows the consumer's `ready`, and one net to all
        # its bits routed slower than 100 MHz (CNV's fc7, 512 bits). The output loads
        # whenever free, the skid register whenever empty, valid or not: each enable is one
        # LUT of flip-flops, and only a group's few LUTs wait for `ready`.
        payload, data = Value.cast(payload), Value.cast(o.payload)
        groups = output_groups(len(data))
        valids = copies(m, o.valid, valid_next, len(groups))
        helds = [held]
        if len(groups) > 1:
            first = max(1, self._handed)
            helds = copies(m, held, self.held_next, len(groups), first)
            self._handed = first + len(groups)
        kept = Signal(len(payload), name="skid_payload")
        for bits, v, h in zip(groups, valids, helds):
            with m.If(~v | o.ready):
                m.d.sync += data[bits].eq(Mux(h, kept[bits], payload[bits]))
            with m.If(~h):                       # the skid register matters once held
                m.d.sync += kept[bits].eq(payload[bits])
