"""Copies of a control register, one per group of a wide register's bits.

One net that enables thousands of flip-flops routes slowly: nextpnr routed conv4's
window-register enable of the shipped model (2,304 bits) in 12 ns on an ECP5, more than a
100 MHz clock. A block with such a register keeps one copy of the register behind the
enable per `GROUP_BITS` bits, so that each enable is its own LUT and net.

The copies carry `keep`: Vivado keeps such registers apart; yosys merges identical
flip-flops unless the cell itself has `keep`, which the project's yosys scripts set from
the wire (gen.synth.scripts.KEEP_COPIES).
"""

from __future__ import annotations

from amaranth import Module, Signal, Value


GROUP_BITS = 128
# Lanes one copy of an engine's chunk register feeds (hw.folded.lanes.chunk_registers): the
# route from a chunk multiplexer to the farthest of CNV's conv5's 16 lanes took 8.2 ns of a
# 12.6 ns path on an ECP5-85F.
LANES_PER_COPY = 4


def group_slices(width: int, loads_per_bit: int = 1) -> list[slice]:
    """The bit ranges of a `width`-bit register (or multiplexer, whose select reaches
    `loads_per_bit` LUTs per bit), one per copy."""
    if width <= 0:
        return []
    count = min(width, -(-width * loads_per_bit // GROUP_BITS))
    size = -(-width // count)
    count = -(-width // size)     # no empty group
    return [slice(k * size, min(width, (k + 1) * size)) for k in range(count)]


def lane_copies(lanes: int) -> int:
    """Copies of a register that `lanes` lanes read (LANES_PER_COPY lanes each)."""
    return -(-lanes // LANES_PER_COPY)


def copies(m: Module, register: Signal, next_value: Value, count: int,
           start: int = 0) -> list[Signal]:
    """`count` registers that hold what `register` holds, numbered from `start` (number 0 is
    `register` itself; a later call goes on where an earlier one stopped): each is loaded
    with `next_value`, which `register` must be loaded with too."""
    if start + count > 1:
        register.attrs["keep"] = 1   # else yosys merges it into a copy: one flip-flop less
    out = [register] if start == 0 and count > 0 else []
    for k in range(max(1, start), start + count):
        copy = Signal.like(register, name=f"{register.name}_copy{k}", attrs={"keep": 1})
        m.d.sync += copy.eq(next_value)
        out.append(copy)
    return out
