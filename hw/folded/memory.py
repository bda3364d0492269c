"""The folded and streamed engines' weight memory: its style (block RAM, LUT-RAM, logic),
its yosys attributes, and the step counter that reads one word per step."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib.memory import Memory

from ..fanout import GROUP_BITS
from ..window.flags import lookup


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
# instead of a LUT and a register per bit (what `front` 2's word register costs, to take
# the ROM and the counter's fanout out of the popcount's first path). A deeper ROM keeps its
# registered read.
ASYNC_ROM_MAX_DEPTH = 16


def read_from_counter(style: str, steps: int) -> bool:
    """Whether stepped_memory reads the ROM from the step counter (or its next value)
    itself, with no read register: a ROM in logic of up to ASYNC_ROM_MAX_DEPTH words."""
    return style in ("distributed", "logic") and steps <= ASYNC_ROM_MAX_DEPTH


# Data bits of one block RAM at a depth (ECP5 DP16KD, Xilinx RAMB18: 512x36 down to
# 16384x1; an iCE40 SB_RAM40_4K's widths divide a multiple of four of them).
BRAM_WIDEST, BRAM_BITS = 36, 18432
# Block RAMs behind one copy of the step counter (`memory_slices`).
SLICE_BRAMS = 4


def bram_width(depth: int) -> int:
    """Data bits of one block RAM holding `depth` words."""
    return max(1, min(BRAM_WIDEST, BRAM_BITS // (1 << max(0, depth - 1).bit_length())))


def slice_bits(style: str, depth: int) -> int:
    """Bits of one memory_slices slice: SLICE_BRAMS block RAMs' worth, or GROUP_BITS of a
    ROM read from the counter."""
    return SLICE_BRAMS * bram_width(depth) if style == "block" else GROUP_BITS


def memory_slices(style: str, init: list[int], width: int, registered: bool) -> list[list[int]]:
    """The bits of a word register (`registered`) that each have their own memory, read by
    their own copy of the step counter, among the bits that vary between words (a bit that
    does not is a constant, in no memory, as yosys would make it): SLICE_BRAMS block RAMs'
    worth from block RAM, GROUP_BITS from a ROM read from the counter (read_from_counter).
    A wide memory takes block RAMs far apart (111 of an ECP5-85F's 208 for CNV, in four
    rows across the die), and one address net to all of them routes slower than a 100 MHz
    clock; a slice's counter sits by its block RAMs. A LUT ROM's counter fans out to a LUT
    per bit (CNV's conv1: 2,944)."""
    if not registered or not (style == "block" or read_from_counter(style, len(init))):
        return [list(range(width))]
    ones = zeros = 0
    for word in init:
        ones, zeros = ones | word, zeros | ~word
    varying = [b for b in range(width) if (ones & zeros) >> b & 1]
    size = slice_bits(style, len(init))
    return [varying[k:k + size] for k in range(0, len(varying), size)] or [[]]


def stepped_memory(m: Module, width: int, init: list[int], style: str, fire,
                   registered: bool = False, last_next=None, name: str = "weights",
                   word_next=None, slices=None, flag_ahead=None):
    """A step counter over the words of `init` and their memory, read so that its data
    always belongs to the current step: (last step, word). The counter moves on `fire` and
    wraps after the last step. A ROM in logic of up to ASYNC_ROM_MAX_DEPTH words is read
    from the counter itself; a deeper one from the counter's next value into a register
    that `fire` loads; a block RAM one step ahead, through its read register.
    `registered`: the word is a register loaded on `fire`, read two steps ahead (a ROM
    read from the counter: one, from the counter's next value), so that the memory's slow
    clock-to-output (a block RAM's) or the ROM's LUTs and the counter's fanout end in a
    flip-flop, at no cost in latency. `word_next` (`registered` only): driven with
    what the word register holds after this cycle, for copies of its fields (hw.fanout).
    `slices` (a word register only): (bits, net carrying `fire`) per memory_slices slice,
    the first moved by `fire` itself: each slice is a memory of its own, read through its
    own copies of the counter's next values (the first through the counter's), moved by
    its net; the bits in no slice are constants. `flag_ahead` (a word register only): None,
    or (a flag per step, a register): the register holds the flag of the step after the
    current one, read by the counter's after-next value on `fire`, so that the flag's next
    value is a multiplexer on `fire` of two registers (this one and the word's) where the
    block RAM's slow clock-to-output would be."""
    steps = len(init)
    if word_next is not None and not registered:
        raise ValueError("word_next: this memory's word is not a register")
    if flag_ahead is not None and not registered:
        raise ValueError("flag_ahead: this memory's word is not a register")
    if slices is not None and (not registered or slices[0][1] is not fire):
        raise ValueError("slices: a word register's, the first moved by `fire`")

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
        m.d.sync += [t.eq(t1), t1.eq(t2), t2.eq(succ(t2))]
    if last_next is None:
        with m.If(fire):
            m.d.sync += last_step.eq(t1 == steps - 1)
    else:
        # the flag's value after this cycle, one LUT from flip-flops (it takes part in the
        # next cycle's `ready`, which the window generator in front sets its enables from):
        # whether t1 is the last step, a flag of its own
        ahead_last = Signal(init=1 % steps == steps - 1, name="t_next_last")
        with m.If(fire):
            m.d.sync += [ahead_last.eq(t2 == steps - 1), last_step.eq(ahead_last)]
        m.d.comb += last_next.eq(Mux(fire, ahead_last, last_step))
    if flag_ahead is not None:
        flags, flag = flag_ahead
        with m.If(fire):
            m.d.sync += flag.eq(lookup(flags, t2, 1))
    comb = read_from_counter(style, steps)
    if slices is None:
        slices = [(list(range(width)), fire)]
        mem = Memory(shape=width, depth=steps, init=init, attrs=memory_attrs(style))
        m.submodules[name] = mem
        if comb and not registered:
            rp = mem.read_port(domain="comb")
            m.d.comb += rp.addr.eq(t)
            return last_step, rp.data
        if not registered and style != "block":
            # A ROM in LUTs: its word for the next step, read from the counter's next value,
            # enters a register on `fire`, so that `fire` does not run on through the
            # address into the ROM's LUTs.
            rp = mem.read_port(domain="comb")
            m.d.comb += rp.addr.eq(t1)
            data = Signal(width, init=init[0], name=f"{name}_word")
            with m.If(fire):
                m.d.sync += data.eq(rp.data)
            return last_step, data
        if not registered:
            rp = mem.read_port()
            m.d.comb += rp.addr.eq(Mux(fire, t1, t))
            return last_step, rp.data
    else:
        mem = None
    # A read port holds word t+1 between fires, and a fire takes it and reads t+2; a ROM
    # read from the counter reads word t+1 from the counter's next value, and a fire takes
    # it.
    word = Signal(width, init=init[0], name="word")
    if word_next is not None and mem is None:
        m.d.comb += word_next.eq(word)     # the bits in no slice are constants
    for k, (bits, fire_k) in enumerate(slices):
        ahead, after = t1, t2
        if mem is None:
            part = Memory(shape=len(bits), depth=steps, attrs=memory_attrs(style),
                          init=[sum((v >> b & 1) << j for j, b in enumerate(bits))
                                for v in init])
            m.submodules[f"{name}_{k}"] = part
            rp = part.read_port(domain="comb" if comb else "sync")
        else:
            rp = mem.read_port(domain="comb" if comb else "sync")
        if k:
            ahead = Signal.like(t1, name=f"{name}_{k}_t_next", attrs={"keep": 1})
            if comb:
                with m.If(fire_k):
                    m.d.sync += ahead.eq(succ(ahead))
            else:
                after = Signal.like(t2, name=f"{name}_{k}_t_after_next", attrs={"keep": 1})
                with m.If(fire_k):
                    m.d.sync += [ahead.eq(after), after.eq(succ(after))]
        m.d.comb += rp.addr.eq(ahead if comb else Mux(fire_k, after, ahead))
        if comb and k:
            rp.addr.attrs["keep"] = 1   # the copy is emitted under the port's address name
        held = word if mem is not None else Cat(*(word[b] for b in bits))
        with m.If(fire_k):
            m.d.sync += held.eq(rp.data)
        if word_next is not None:
            m.d.comb += (word_next if mem is not None else Cat(*(word_next[b] for b in bits))
                         ).eq(Mux(fire_k, rp.data, held))
    return last_step, word


def pick_style(style: str, depth: int, width: int) -> str:
    """The memory style "auto" resolves to, by size."""
    if style != "auto":
        return style
    return "block" if depth * width >= BLOCK_MIN_BITS and depth >= BLOCK_MIN_DEPTH \
        else "distributed"
