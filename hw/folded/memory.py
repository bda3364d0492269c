"""The folded and streamed engines' weight memory: its style (block RAM, LUT-RAM, logic),
its yosys attributes, and the step counter that reads one word per step."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib.memory import Memory


MEMORY_STYLES = ("auto", "block", "distributed", "logic")


# An "auto" weight memory goes to BRAM from this many bits (an ECP5 DP16KD holds 18 kbit,
# an ice40 SB_RAM40_4K 4 kbit; below a quarter of the smaller one LUT-RAM is cheaper).
BLOCK_MIN_BITS = 1024


BLOCK_MIN_DEPTH = 16


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


def word_register(style: str, steps: int, registered: bool) -> bool:
    """Whether stepped_memory holds the word in a register of its own (`registered`, and
    not a LUT ROM read from the counter itself)."""
    return registered and not (style in ("distributed", "logic")
                               and steps <= ASYNC_ROM_MAX_DEPTH)


def stepped_memory(m: Module, width: int, init: list[int], style: str, fire,
                   registered: bool = False, last_next=None, name: str = "weights",
                   word_next=None):
    """A step counter over the words of `init` and their memory, read so that its data
    always belongs to the current step: (last step, word). The counter moves on `fire` and
    wraps after the last step. A ROM in logic of up to ASYNC_ROM_MAX_DEPTH words is read
    from the counter itself; any other one step ahead, through its read register, or
    (`registered`) two steps ahead into a word register loaded on `fire`, so that the
    memory's slow clock-to-output (a block RAM's) ends in a flip-flop, at no cost in
    latency. `word_next` (only where word_register): driven with what the word register
    holds after this cycle, for copies of its fields (hw.fanout)."""
    steps = len(init)
    if word_next is not None and not word_register(style, steps, registered):
        raise ValueError("word_next: this memory's word is not a register")

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
    if word_next is not None:
        m.d.comb += word_next.eq(Mux(fire, rp.data, word))
    return last_step, word


def pick_style(style: str, depth: int, width: int) -> str:
    """The memory style "auto" resolves to, by size."""
    if style != "auto":
        return style
    return "block" if depth * width >= BLOCK_MIN_BITS and depth >= BLOCK_MIN_DEPTH \
        else "distributed"
