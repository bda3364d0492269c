"""The window generator's flag registers (hw.window.generator): each comparison its
handshakes use, set from what it will be after this cycle's events, so that `ready` and
the read side's issue are one LUT from flip-flops, with no adder or comparator between.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed


def lookup(table: list, index, width: int):
    """table[index] as a bit-select of one constant: a continuous assignment, which Icarus
    evaluates at time 0 (an `always @*` case on a register that has not changed yet stays X
    there)."""
    word = 0
    for k, v in enumerate(table):
        word |= int(v) << (k * width)
    const = Const(word, max(1, len(table) * width + width))
    return const.word_select(index, width)


def add_mod(a, c: int, modulus: int):
    """(a + c) mod `modulus` for 0 <= a, c < modulus."""
    if modulus == 1 or c % modulus == 0:
        return a
    s = a + (c % modulus)
    return Mux(s >= modulus, s - modulus, s)


class RowGap:
    """A difference of row counters, d: +1 as an input row completes (`row_in`), -step[oy]
    as the read side leaves output row oy (`row_out`). Its sign and zero are flag registers
    (`neg`, `zero`), set from the four values d can take next (d, d + 1, and with
    e = d - step[oy], kept alongside, e and e + 1), so that the events only select."""

    def __init__(self, m: Module, name: str, init: int, step: list[int], oy, reach: int,
                 row_in, row_out, late_events: bool = False):
        shape = signed(reach.bit_length() + 1)
        bits = max(abs(v) for v in step).bit_length() + 1

        def step_of(table):
            return lookup([v % (1 << bits) for v in table], oy, bits).as_signed()

        d = Signal(shape, init=init, name=f"{name}_d")
        e = Signal(shape, init=init - step[0], name=f"{name}_e")
        self.neg = Signal(init=init < 0, name=f"{name}_neg")
        self.zero = Signal(init=init == 0, name=f"{name}_zero")
        if late_events:
            # The events select among sums of registers, not feed an adder: they come late
            # (the read side's handshake), and an adder's carry chain behind them missed
            # 100 MHz on CNV, at some LUTs more. Leaving row oy makes d = e, and e = d less
            # the next row's step.
            e_on = e - step_of(step[1:] + step[:1])
            m.d.sync += [
                d.eq(Mux(row_out, Mux(row_in, e + 1, e), Mux(row_in, d + 1, d))),
                e.eq(Mux(row_out, Mux(row_in, e_on + 1, e_on), Mux(row_in, e + 1, e)))]
        else:
            m.d.sync += [
                d.eq(d + row_in - Mux(row_out, step_of(step), 0)),
                e.eq(e + row_in - Mux(row_out, step_of(step[1:] + step[:1]), 0))]
        m.d.sync += [
            self.neg.eq(Mux(row_out, Mux(row_in, e < -1, e[-1]),
                            Mux(row_in, d < -1, self.neg))),
            self.zero.eq(Mux(row_out, Mux(row_in, e == -1, e == 0),
                             Mux(row_in, d == -1, self.zero)))]


class ColumnFlags:
    """The write column w_x against the read step r_t, as flag registers set from what they
    will be after this cycle's moves (each counter steps by one or wraps to 0):
    `before_read` = w_x < min(r_t, w), `after_read` = w_x > r_t."""

    def __init__(self, m: Module, w: int, w_x, r_t, w_fire, w_wrap, r_fire, r_wrap):
        self.before_read = Signal(name="col_before_read")
        self.after_read = Signal(name="col_after_read")
        lt = w_x < r_t
        # Cases by (write moves, read moves); a wrapped counter is 0.
        before = Mux(w_fire,
                     Mux(w_wrap, Mux(r_fire, ~r_wrap, r_t != 0),
                         Mux(r_fire, ~r_wrap & lt, w_x + 1 < r_t)),
                     Mux(r_fire, ~r_wrap & (w_x <= r_t), self.before_read))
        after = Mux(r_fire & r_wrap, Mux(w_fire, ~w_wrap, w_x != 0),
                    Mux(w_fire, ~w_wrap & Mux(r_fire, ~lt & (w_x != r_t), ~lt),
                        Mux(r_fire, w_x > r_t + 1, self.after_read)))
        m.d.sync += [self.before_read.eq(before), self.after_read.eq(after)]
