"""Sliding-window generator: a pixel stream in, a stream of kh x kw windows out.

Input word: one pixel, channel c at bit c. Output word: kh*kw*C bits, bit (ky*kw + kx)*C + c
(the order of `Conv.weights[o].ravel()`), in raster order of output positions, with
padding positions reading `pad_bit`.

Structure: kh line buffers (one `Memory` of W words of C bits per row, written by input
row modulo kh, read synchronously so yosys infers BRAM or LUT-RAM) decouple a write side
(one input pixel per clock) from a read side that follows `WindowPlan` (hw/window/plan.py).
The read side may use an input pixel as soon as it is written, and the write side may
overwrite a line only where the read side is done with it, tracked with global row
counters; so frames follow back to back, and the windows that need bottom or right padding
are emitted after a frame's last pixel without waiting for the next frame. Input `ready`
depends on state only, so the ready chain of a network breaks at every window generator.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..timing import Timing
from ..fanout import GROUP_BITS, copies, group_slices
from .flags import ColumnFlags, RowGap, add_mod, lookup
from .plan import PAD, WindowPlan, plan_window


TRANSPARENT_MAX_BITS = 12


def enables(m: Module, name: str, next_value, count: int, init: int) -> list[Signal]:
    """`count` registers (hw.fanout) that hold an enable, loaded with its `next_value`."""
    if count == 0:
        return []
    first = Signal(init=init, name=f"{name}_en")
    m.d.sync += first.eq(next_value)
    return copies(m, first, next_value, count)


def kept(m: Module, name: str, value) -> Signal:
    """`value` on a net of its own that synthesis keeps (a boundary of its LUT mapping)."""
    net = Signal(len(value), name=name, attrs={"keep": 1})
    m.d.comb += net.eq(value)
    return net


class WindowGenerator(wiring.Component):
    """Line-buffered window generator for any kernel, stride, padding and pad bit.

    Parameters
    ----------
    height, width, channels : input map H x W x C.
    kernel, stride, padding : (y, x) pairs; padding is symmetric.
    pad_bit : what padded positions read (0 or 1).

    Attributes
    ----------
    i : stream of C-bit pixels, raster order, frames back to back.
    o : stream of kh*kw*C-bit windows, raster order of the Ho x Wo output positions.
    plan : the `WindowPlan` the read side follows.
    ready_next : None, or the next value of the register that drives `o.ready` (set by the
        block that connects the two, before elaboration): each group of the generator's
        wide registers (hw.fanout) then has its enable in a register of its own, set from
        the next values, in place of a LUT of copies of `o.valid` and `o.ready`.
    pipelined : False, or (set like `ready_next`, for a block pipelined for a clock) the
        row counters' next values chosen by the handshake's events, not computed after
        them (`RowGap`), at some LUTs more; and more copies: of the banks per group, of the
        column counters for wide line buffers' addresses.
    """

    def __init__(self, height: int, width: int, channels: int, kernel, stride=(1, 1),
                 padding=(0, 0), pad_bit: int = 0):
        for name, pair in (("kernel", kernel), ("stride", stride)):
            if len(pair) != 2 or min(pair) < 1:
                raise ValueError(f"{name} must be two positive integers, not {pair!r}")
        if len(padding) != 2 or min(padding) < 0:
            raise ValueError(f"padding must be two non-negative integers, not {padding!r}")
        if pad_bit not in (0, 1):
            raise ValueError(f"pad_bit must be 0 or 1, not {pad_bit!r}")
        if min(height, width, channels) < 1:
            raise ValueError(f"bad map shape {height}x{width}x{channels}")
        self.height, self.width, self.channels = height, width, channels
        self.pad_bit = pad_bit
        self.plan: WindowPlan = plan_window(height, width, tuple(kernel), tuple(stride),
                                            tuple(padding))
        kh, kw = self.plan.kernel
        super().__init__({"i": In(stream.Signature(channels)),
                          "o": Out(stream.Signature(kh * kw * channels))})
        self.ready_next = None
        self.pipelined = False

    @property
    def timing(self) -> Timing:
        from .timing import window_timing
        latency, ii = window_timing(self.plan)
        p = self.plan
        return Timing(latency=latency, ii=ii, in_width=self.channels,
                      out_width=p.kernel[0] * p.kernel[1] * self.channels,
                      in_items=self.height * self.width,
                      out_items=p.out_height * p.out_width, stages=4)

    def elaborate(self, platform):
        m = Module()
        p = self.plan
        h, w, c = self.height, self.width, self.channels
        kh, kw = p.kernel
        sy, _ = p.stride
        ph, _ = p.padding
        ho, period, flush, banks = p.out_height, p.period, p.flush, p.banks
        pad_word = Const(((1 << c) - 1) if self.pad_bit else 0, c)

        mems = []
        for b in range(banks):
            mem = Memory(shape=c, depth=w, init=[])
            m.submodules[f"line{b}"] = mem
            mems.append(mem)
        wports = [mem.write_port() for mem in mems]
        # Never read and written at one address in one cycle (see the write rule below), so
        # transparency does not matter; without it a LUT-RAM line buffer needs no bypass
        # multiplexer on its read data (one LUT a bit on ECP5, Gowin and Xilinx; iCE40's
        # block RAM alike either way), and the input handshake does not reach the window.
        # A buffer of at most TRANSPARENT_MAX_BITS becomes flip-flops either way (yosys's
        # cost rule, gen/estimate/memory_map.py); it keeps the transparent port, whose cost the
        # estimator was fitted on.
        rports = [mem.read_port(transparent_for=(wp,) if w * c <= TRANSPARENT_MAX_BITS
                                else ()) for mem, wp in zip(mems, wports)]

        # ---- row bookkeeping. With g the global input row (frame-relative rows plus a
        # frame base), the write side writes row w_g, and the read side's output row r_oy
        # covers rows gtop .. gtop + kh - 1 (some of them padding) and needs input up to row
        # greq = its last real row (`lasts`). The rules compare w_g with gtop + banks and
        # with greq, and the write column w_x with the read step r_t. Every comparison the
        # handshakes use is a flag register (`RowGap`, `ColumnFlags`), set from what it will be
        # after this cycle's events, so that `ready` and the read side's issue are one LUT
        # from flip-flops: no adder, no comparator in the handshake.
        tops = [oy * sy - ph for oy in range(ho)]
        lasts = [min(top + kh - 1, h - 1) for top in tops]
        # How far gtop and greq move as the read side leaves output row oy (the last one:
        # to the next frame's first row, h input rows on).
        step_top = [tops[oy + 1] - tops[oy] for oy in range(ho - 1)] + [h + tops[0] - tops[-1]]
        step_req = [lasts[oy + 1] - lasts[oy] for oy in range(ho - 1)] + \
            [h + lasts[0] - lasts[-1]]
        # |w_g - banks - gtop| and |w_g - greq| (and each less its row's step) stay within
        # the rows the write side may run ahead (`banks`) or the read side may wait for (a
        # kernel, a stride, the padding), plus a row's step: half of `reach`.
        reach = 2 * (banks + kh + sy + ph + 2 + max(abs(v) for v in step_top + step_req))

        # ---- write side
        w_x = Signal(range(max(w, 2)))
        w_bank = Signal(range(max(banks, 2)))  # never zero-width: Icarus reads [-1:0] as X

        # ---- read side
        r_oy = Signal(range(max(ho, 2)))
        r_t = Signal(range(max(period, 2)))
        r_fbank = Signal(range(max(banks, 2)))
        r_rbank = Signal(range(max(banks, 2)), init=(-ph) % banks)
        # Spilled windows of the previous frame already sent by flush steps (none owed at reset).
        r_flushed = Signal(range(flush + 2), init=flush)

        # The events: an input row completes, the read side leaves its output row.
        w_fire = Signal()
        fire1 = Signal()
        w_wrap = w_x == w - 1
        r_wrap = r_t == period - 1
        row_in = w_fire & w_wrap
        row_out = fire1 & r_wrap
        room = RowGap(m, "room", -banks - tops[0], step_top, r_oy, reach, row_in, row_out,
                      self.pipelined)
        need = RowGap(m, "need", -lasts[0], step_req, r_oy, reach, row_in, row_out,
                      self.pipelined)
        cols = ColumnFlags(m, w, w_x, r_t, w_fire, w_wrap, fire1, r_wrap)
        # The read step needs input (a column of a row that is not all padding).
        needs_data = Signal(init=w > 0 and lasts[0] >= 0, name="needs_data")
        real = [last >= 0 for last in lasts]
        m.d.sync += needs_data.eq(Mux(
            fire1, Mux(r_wrap, lookup(real[1:] + real[:1], r_oy, 1),
                       (r_t + 1 < w) & lookup(real, r_oy, 1)), needs_data))

        # Row g overwrites row g - banks: allowed once the read side is past that row, or
        # on the read side's top row for the columns it has already read.
        write_ok = room.neg | (room.zero & cols.before_read)
        m.d.comb += [self.i.ready.eq(write_ok), w_fire.eq(self.i.valid & write_ok)]
        # Wide line buffers' addresses are copies of the column counters: their many loads
        # (a LUT-RAM's every cell) then do not slow the counters' compares (hw.fanout).
        w_addr, r_addr = w_x, r_t
        if self.pipelined and banks * c > GROUP_BITS:
            w_addr = Signal.like(w_x, name="w_addr", attrs={"keep": 1})
            m.d.sync += w_addr.eq(Mux(w_fire, Mux(w_wrap, 0, w_x + 1), w_x))
            r_addr = Signal.like(r_t, name="r_addr", attrs={"keep": 1})
            m.d.sync += r_addr.eq(Mux(fire1, Mux(r_wrap, 0, r_t + 1), r_t))
        for b, wp in enumerate(wports):
            m.d.comb += [wp.addr.eq(w_addr), wp.data.eq(self.i.payload),
                         wp.en.eq(w_fire & (w_bank == b))]
        with m.If(w_fire):
            with m.If(w_wrap):
                m.d.sync += [w_x.eq(0), w_bank.eq(add_mod(w_bank, 1, banks))]
            with m.Else():
                m.d.sync += w_x.eq(w_x + 1)

        # ---- read side, stage 1: issue step r_t of output row r_oy, once its input is in
        # (row greq written, or being written and past column r_t)
        dep_ok = ~needs_data | (~need.neg & ~need.zero) | (need.zero & cols.after_read)

        npat = max(2, len(p.patterns))
        pid_bits = (npat - 1).bit_length()
        cur_has = lookup([x is not None for x in p.current], r_t, 1)
        cur_pid = lookup([x or 0 for x in p.current], r_t, pid_bits)
        sp_has = lookup([x is not None for x in p.spilled], r_t, 1)
        sp_pid = lookup([x or 0 for x in p.spilled], r_t, pid_bits)
        fl_pid = lookup(list(p.flushed) or [0], r_flushed, pid_bits)
        emit_cur = cur_has
        emit_sp = sp_has & ((r_oy != 0) | (r_t >= r_flushed))

        # Stage 2 holds an issued step while its rows go through the bank multiplexers into
        # the column register; stage 3 holds it with that column, while the step shifts the
        # column in and its window enters the window register.
        s2_valid, s2_emit, s2_shift = Signal(), Signal(), Signal()
        s2_pid = Signal(range(npat))
        s2_vmask = Signal(kh)
        s2_rbank = Signal.like(r_rbank)
        s3_valid, s3_emit, s3_shift = Signal(), Signal(), Signal()
        s3_pid = Signal(range(npat))
        # `o.ready`, or (`ready_next` given) a register of our own that holds it too
        ready = self.o.ready
        if self.ready_next is not None:
            ready = Signal(init=1, name="o_ready")
            m.d.sync += ready.eq(self.ready_next)
        s3_fire = s3_valid & (~s3_emit | ~self.o.valid | ready)
        s2_fire = s2_valid & (~s3_valid | s3_fire)
        free = ~s2_valid | s2_fire
        m.d.comb += fire1.eq(free & dep_ok)
        # The wide registers' enables, one per group of bits (hw.fanout): of the read
        # registers one per bank, of the column, the shift columns and the window.
        window_bits = kh * kw * c
        out_groups = group_slices(window_bits)
        col_groups = group_slices(kh * c)
        shift_groups = group_slices(kh * c * (p.length - 1)) if p.length > 1 else []
        valid_next = Mux(s3_fire & s3_emit, 1, self.o.valid & ~ready)
        m.d.sync += self.o.valid.eq(valid_next)
        if self.ready_next is not None:
            # `ready`'s next value is known, so is every enable's: each group's enable is a
            # register of its own, with no LUT between it and its flip-flops, loaded one
            # LUT after `ready_next` (what it takes from this generator's registers is a
            # net of its own, `keep`: yosys maps it apart, in parallel with `ready_next`).
            hold_next = Mux(s2_fire, s2_emit, Mux(s3_fire, 0, s3_valid & s3_emit))
            busy = kept(m, "o_busy_next", valid_next)            # `o` full after this cycle
            stuck = kept(m, "s3_stuck_next", hold_next & valid_next)
            free_ens = enables(m, "free", ~busy | self.ready_next, len(out_groups), init=1)
            move_ens = enables(m, "move", ~stuck | self.ready_next,
                               max(len(col_groups), banks), init=1)
            shift_ens = []
            if shift_groups:
                shifting = Mux(s2_fire, s2_shift, Mux(s3_fire, 0, s3_shift))
                shift_free = kept(m, "s3_shift_free_next", shifting & (
                    ~Mux(s2_fire, s2_emit, s3_emit) | ~valid_next))
                shift_held = kept(m, "s3_shift_held_next", shifting)
                shift_ens = enables(m, "shift", shift_free | (shift_held & self.ready_next),
                                    len(shift_groups), init=0)
            frees, moves, shifts = free_ens.__getitem__, move_ens.__getitem__, \
                shift_ens.__getitem__
            per_bank = True
        else:
            # one copy of `o.valid` per group (the first is `o.valid` itself)
            valids = copies(m, self.o.valid, valid_next,
                            max(len(out_groups), len(shift_groups)))

            def frees(k):
                """`o` is free or being read, by copy k."""
                return ~valids[k % len(valids)] | ready

            def moves(k):
                """Stage 3 is empty or moves on, by copy k."""
                return ~(s3_valid & s3_emit) | frees(k)

            def shifts(k):
                """Stage 3 shifts its column in, by copy k (`s3_shift` is only set with
                `s3_valid`: one LUT of four)."""
                return s3_shift & (~s3_emit | frees(k))
            per_bank = len(valids) > 1
        # While the next frame's first row waits for input, send the previous frame's
        # spilled windows with emission-only steps.
        flush_go = free & ~dep_ok & (r_oy == 0) & (r_t == 0) & (r_flushed < flush)
        for b, rp in enumerate(rports):
            fire1_b = (~s2_valid | moves(b)) & dep_ok if per_bank else fire1
            m.d.comb += [rp.addr.eq(r_addr), rp.en.eq(fire1_b)]

        # The selects of stage 2 (bank rotation, real rows) and stage 3 (pattern), whose next
        # values are named so that each group of the wide registers gets its own copies
        # (hw.fanout).
        pid_next, rbank_next, vmask_next = (Signal.like(s2_pid), Signal.like(s2_rbank),
                                            Signal.like(s2_vmask))
        m.d.comb += [pid_next.eq(s2_pid), rbank_next.eq(s2_rbank), vmask_next.eq(s2_vmask)]
        with m.If(fire1):
            m.d.sync += [s2_valid.eq(1), s2_emit.eq(emit_cur | emit_sp), s2_shift.eq(1)]
            m.d.comb += [pid_next.eq(Mux(emit_cur, cur_pid, sp_pid)), rbank_next.eq(r_rbank)]
            # the rows of the kernel that are real input rows, not padding
            m.d.comb += vmask_next.eq(lookup(
                [sum(1 << ky for ky in range(kh) if 0 <= top + ky < h) for top in tops],
                r_oy, kh))
        with m.Elif(flush_go):
            m.d.sync += [s2_valid.eq(1), s2_emit.eq(1), s2_shift.eq(0),
                         r_flushed.eq(r_flushed + 1)]
            m.d.comb += pid_next.eq(fl_pid)
        with m.Elif(s2_fire):
            m.d.sync += [s2_valid.eq(0), s2_shift.eq(0)]
        m.d.sync += [s2_pid.eq(pid_next), s2_rbank.eq(rbank_next), s2_vmask.eq(vmask_next)]
        pid3_next = Mux(s2_fire, s2_pid, s3_pid)
        m.d.sync += s3_pid.eq(pid3_next)
        with m.If(s2_fire):
            m.d.sync += [s3_valid.eq(1), s3_emit.eq(s2_emit), s3_shift.eq(s2_shift)]
        with m.Elif(s3_fire):
            m.d.sync += [s3_valid.eq(0), s3_shift.eq(0)]

        with m.If(fire1):
            with m.If(r_t == period - 1):
                m.d.sync += r_t.eq(0)
                with m.If(r_oy == ho - 1):
                    m.d.sync += [r_oy.eq(0),
                                 r_fbank.eq(add_mod(r_fbank, h % banks, banks)),
                                 r_rbank.eq(add_mod(r_fbank, (h - ph) % banks, banks)),
                                 r_flushed.eq(0)]
                with m.Else():
                    m.d.sync += [r_oy.eq(r_oy + 1),
                                 r_rbank.eq(add_mod(r_rbank, sy % banks, banks))]
            with m.Else():
                m.d.sync += r_t.eq(r_t + 1)

        # ---- stage 2: the column of the read rows into the column register: per group of its
        # bits, a bank multiplexer on that group's copies of the bank rotation and the real
        # rows. Loaded whenever stage 3 is free, a step there or not (`s3_valid` says
        # which): the read registers and the selects change only as a step is issued, so
        # the column they give stays the one stage 3 needs.
        rbanks = (copies(m, s2_rbank, rbank_next, len(col_groups))
                  if banks > 1 and not self.pipelined else [])
        vmasks = copies(m, s2_vmask, vmask_next, len(col_groups))
        column = Signal(kh * c, name="column")
        for k, bits in enumerate(col_groups):
            for ky in range(bits.start // c, (bits.stop - 1) // c + 1):
                lo, hi = max(bits.start, ky * c) - ky * c, min(bits.stop, (ky + 1) * c) - ky * c
                if banks == 1:
                    row = rports[0].data[lo:hi]
                elif self.pipelined:
                    # the bank of row ky, in a register of the group's own (no adder
                    # between it and the multiplexer)
                    bank = Signal(range(banks), name=f"bank{ky}_g{k}",
                                  init=(s2_rbank.init + ky) % banks, attrs={"keep": 1})
                    m.d.sync += bank.eq(add_mod(rbank_next, ky, banks))
                    row = Array(rp.data[lo:hi] for rp in rports)[bank]
                else:
                    bank = Signal(range(banks), name=f"bank{ky}_g{k}")
                    m.d.comb += bank.eq(add_mod(rbanks[k], ky, banks))
                    row = Array(rp.data[lo:hi] for rp in rports)[bank]
                with m.If(moves(k)):
                    m.d.sync += column[ky * c + lo:ky * c + hi].eq(
                        Mux(vmasks[k][ky], row, pad_word[lo:hi]))

        # ---- stage 3: shift the column in, emit a window.
        shift = [Signal(kh * c, name=f"col{j}") for j in range(p.length - 1)]
        taps = [column] + shift
        shifted = Cat(*shift)
        taps_in = Cat(*taps[:-1])
        for k, bits in enumerate(shift_groups):
            with m.If(shifts(k)):
                m.d.sync += shifted[bits].eq(taps_in[bits])

        # The window register loads whenever it is free, an emission or not (`o.valid` says
        # which): its wide enables then wait only for the fed block's ready, not for this
        # stage's handshake.
        windows = []
        for pattern in p.patterns:
            parts = []
            for ky in range(kh):
                for kx in range(kw):
                    idx = pattern[kx]
                    parts.append(pad_word if idx is PAD else taps[idx][ky * c:(ky + 1) * c])
            windows.append(Cat(*parts))
        pids = (copies(m, s3_pid, pid3_next, len(out_groups)) if len(p.patterns) > 1
                else [s3_pid] * len(out_groups))
        for k, bits in enumerate(out_groups):
            with m.If(frees(k)), m.Switch(pids[k]):
                for pid, window in enumerate(windows):
                    with m.Case(pid):
                        m.d.sync += self.o.payload[bits].eq(window[bits])
        return m
