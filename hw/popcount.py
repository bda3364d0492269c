"""Pipelined popcount: an adder tree over bits with a configurable number of register stages.

`build_popcount` adds the tree to a module so that an engine can share one pipeline enable
between all its output channels; `PopcountTree` wraps it as a stream component.
"""

from __future__ import annotations

from amaranth import Const, Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .timing import Timing


def tree_levels(count: int) -> int:
    """Adder levels of a binary tree over `count` leaves."""
    levels, n = 0, max(count, 1)
    while n > 1:
        n = (n + 1) // 2
        levels += 1
    return levels


def register_levels(levels: int, stages: int, leaves: bool = False) -> list[int]:
    """After which tree level (0 = the leaves) each of `stages` registers sits: spread
    evenly, extra stages at the end (a deeper pipeline than levels retimes nothing);
    `leaves`: the first register on the leaves, the others spread over the tree."""
    if leaves and stages:
        return [0] + register_levels(levels, stages - 1)
    return [min(levels, round((k + 1) * levels / stages)) for k in range(stages)] if stages else []


def build_popcount(m: Module, bits: list[Value], stages: int, en: Value | list[Value],
                   name: str = "pc", leaves: bool = False) -> Value:
    """The number of ones among `bits`, `stages` clock cycles later (registers enabled by
    `en`, or by a list of copies of it, see reduce_tree; `leaves`: the first on the bits
    themselves). An empty list counts zero: a fully pruned channel costs no logic."""
    if not bits:
        value: Value = Const(0, 1)
        for k in range(stages):  # keep the latency uniform
            reg = Signal(1, name=f"{name}_s{k}")
            m.d.sync += reg.eq(0)
            value = reg
        return value
    return reduce_tree(m, list(bits), lambda a, b: (a + b)[:max(len(a), len(b)) + 1], stages,
                       en, name, leaves)


def reduce_tree(m: Module, nodes: list, combine, stages: int, en: Value | list[Value],
                name: str, leaves: bool = False):
    """`nodes` (Values, or tuples of Values) combined pairwise, level by level, into one,
    with `stages` registers (enabled by `en`) after the levels `register_levels` picks.
    `en` may be a list of nets that carry the same enable (hw.pipeline.enables): at each
    register level, neighbouring nodes share one, so each net enables a part of the tree."""
    ens = list(en) if isinstance(en, (list, tuple)) else [en]
    at = register_levels(tree_levels(len(nodes)), stages, leaves)
    level = stage = 0

    def register_here(nodes: list) -> list:
        nonlocal stage
        out = []
        for i, node in enumerate(nodes):
            parts = node if isinstance(node, tuple) else (node,)
            regs = tuple(Signal(Value.cast(v).shape(), name=f"{name}_s{stage}_{i}"
                                + (f"_{k}" if len(parts) > 1 else ""))
                         for k, v in enumerate(parts))
            with m.If(ens[i * len(ens) // len(nodes)]):
                m.d.sync += [r.eq(v) for r, v in zip(regs, parts)]
            out.append(regs if isinstance(node, tuple) else regs[0])
        stage += 1
        return out

    while stage < stages and at[stage] == 0:
        nodes = register_here(nodes)
    while len(nodes) > 1:
        pairs = [combine(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            pairs.append(nodes[-1])
        nodes = pairs
        level += 1
        while stage < stages and at[stage] == level:
            nodes = register_here(nodes)
    while stage < stages:
        nodes = register_here(nodes)
    return nodes[0]


def count_width(count: int) -> int:
    return max(1, count.bit_length())


class PopcountTree(wiring.Component):
    """Stream popcount of a `width`-bit word.

    Parameters
    ----------
    width : bits per input word (>= 1).
    stages : register stages inside the adder tree (>= 0); one more for the output register.

    Attributes
    ----------
    i : stream of `width`-bit words.
    o : stream of counts, `count_width(width)` bits.
    """

    def __init__(self, width: int, stages: int = 1):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")
        if not isinstance(stages, int) or stages < 0:
            raise ValueError(f"stages must be a non-negative integer, not {stages!r}")
        self.width, self.stages = width, stages
        super().__init__({"i": In(stream.Signature(width)),
                          "o": Out(stream.Signature(count_width(width)))})

    @property
    def timing(self) -> Timing:
        return Timing(latency=self.stages + 1, ii=1, in_width=self.width,
                      out_width=count_width(self.width), in_items=1, out_items=1,
                      stages=self.stages + 1)

    def elaborate(self, platform):
        m = Module()
        adv = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(adv)
        valid = pipeline_valid(m, self.i.valid, self.stages, adv)
        count = build_popcount(m, [self.i.payload[k] for k in range(self.width)],
                               self.stages, adv)
        output_register(m, self.o, valid, count, adv)
        return m


def pipeline_valid(m: Module, valid: Value, stages: int, en: Value) -> Value:
    """A valid bit delayed through `stages` registers enabled by `en` (bubbles travel too)."""
    for k in range(stages):
        reg = Signal(name=f"valid_s{k}")
        with m.If(en):
            m.d.sync += reg.eq(valid)
        valid = reg
    return valid


def output_register(m: Module, o, valid: Value, payload: Value, adv: Value) -> None:
    """The registered output of a global-enable pipeline: loads when the pipeline advances,
    holds payload and valid until the transfer (stream rules 2 and 3)."""
    with m.If(adv):
        m.d.sync += [o.valid.eq(valid), o.payload.eq(payload)]


def delay(m: Module, value: Value, stages: int, en: Value, name: str) -> Value:
    """`value` through `stages` registers enabled by `en`."""
    for k in range(stages):
        reg = Signal(len(value), name=f"{name}_d{k}")
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value
