"""Several block instances in one simulation top, so one (slow) Verilator build serves every
configuration of a block: unit k's ports are those of the block prefixed with `u{k}_`.
Each pytest case then drives only its own unit; idle units cost almost nothing."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In


class Bundle(wiring.Component):
    def __init__(self, units: list[wiring.Component]):
        self.units = list(units)
        members = {}
        for k, unit in enumerate(self.units):
            for name, member in unit.signature.members.items():
                members[f"u{k}_{name}"] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for k, unit in enumerate(self.units):
            m.submodules[f"u{k}"] = unit
            for name, member in unit.signature.members.items():
                outer, inner = getattr(self, f"u{k}_{name}"), getattr(unit, name)
                if member.is_signature:
                    wiring.connect(m, wiring.flipped(outer), inner)
                elif member.flow == In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m
