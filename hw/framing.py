"""Input framing checked against tlast, bad frames' results dropped.

The layers count pixels: a frame is `pixels` transfers, whatever tlast says. `Framing`
sits on both ends of the layer chain so that a wrong tlast costs exactly one frame:

- a frame whose tlast comes early (on transfer k < pixels) is completed for the layers
  with `pixels - k` zero pixels (the input is not ready meanwhile);
- a frame whose transfer number `pixels` carries no tlast (tlast late or missing) is
  complete for the layers, and the next transfer starts a new frame. If that new frame's
  tlast comes early, its transfers were the tail of the late frame: it is completed with
  zero pixels and dropped like the late frame, without being counted again. So a missing
  tlast costs the bad frame alone (the next image is framed by counting), and so does a
  late one (its tail is thrown away);
- the bad frame's result is dropped when it comes out of the chain, and `errors`
  (saturating) counts the frame once.

A pacer holds the input to the network's own rate: transfer n (counting from reset, frames
back to back) is taken no earlier than cycle floor(n * ii / pixels), the schedule of a source
paced at the initiation interval. Without it a source that never pauses runs ahead of a
network slower than one pixel per clock, frames queue inside the layers, and a frame's
result comes later after its last pixel the longer the stream runs; with it the latency is
the paced one whatever the source does. (Bresenham, as a deficit: a transfer adds
ii - pixels, an idle cycle takes `pixels` off down to 0, and a transfer needs it at most
pixels - 1. A cycle in which the chain holds a transfer the schedule allows takes `pixels`
off below 0 too, down to a frame's time: like a paced source's waiting pixels, the input
then catches up, so a hold inside the chain costs no cycle for good.)

A frame's good/bad flag waits in a ring of `depth` bits from its last pixel to its result;
a new frame enters the chain only while fewer than `depth` frames are in flight.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

# Frames between the input and their results: a planned build back to back holds about four
# (issue 19's zoo plan: 16,180 cycles of latency at an II of 6,004).
FLIGHT_DEPTH = 8
ERROR_BITS = 16


def beat_layout(width: int) -> data.StructLayout:
    return data.StructLayout({"data": width, "last": 1})


def pacer_range(pixels: int, ii: int) -> range | None:
    """The pacer's deficit values: down to a frame's time behind, up to `ii`; None where
    the network takes a pixel per clock (no pacer). The estimator sizes it from this."""
    return range(-ii * pixels, ii + 1) if ii > pixels else None


class Framing(wiring.Component):
    """Frame checker around a pixel-counting layer chain.

    Parameters
    ----------
    width : pixel width (bits).
    pixels : transfers per frame.
    result : the result payload's shape (layout or width).
    depth : frames in flight at most (a power of two).
    ii : the network's initiation interval; above `pixels` the input is paced to it.

    Attributes
    ----------
    s : input beats (data, last) from the outside.
    o : pixels to the layer chain (exactly `pixels` per frame).
    r : results from the layer chain (one per frame).
    m : results of good frames, to the outside.
    errors : frames dropped for a wrong tlast (saturates at all ones).
    """

    def __init__(self, width: int, pixels: int, result, depth: int = FLIGHT_DEPTH,
                 ii: int = 0):
        if pixels < 1:
            raise ValueError(f"pixels must be positive, not {pixels}")
        if depth < 1 or depth & (depth - 1):
            raise ValueError(f"depth must be a power of two, not {depth}")
        self.pixels, self.depth, self.ii = pixels, depth, ii
        super().__init__({"s": In(stream.Signature(beat_layout(width))),
                          "o": Out(stream.Signature(width)),
                          "r": In(stream.Signature(result)),
                          "m": Out(stream.Signature(result)),
                          "errors": Out(ERROR_BITS)})

    def elaborate(self, platform):
        # Every combinational signal is one unconditional expression (a Verilog `assign`):
        # Icarus never evaluates an `always @*` block whose inputs do not change after time 0.
        m = Module()
        count = Signal(range(max(2, self.pixels)))   # the chain's pixel of the frame
        padding = Signal()       # completing a short frame with zero pixels
        tail = Signal()          # this frame follows one without tlast: it may be its tail
        flags = Signal(self.depth)                     # 1: that frame's result is dropped
        wr = Signal(range(self.depth))
        rd = Signal(range(self.depth))
        inflight = Signal(range(self.depth + 1))

        # Flag registers, set from the next cycle's count, not comparisons of it: they take
        # part in the input's handshake, and so in the pacer's and the layers' enables.
        first = Signal(init=1)                        # count == 0
        at_end = Signal(init=self.pixels == 1)        # count == pixels - 1
        admit = ~padding & ((inflight < self.depth) | ~first)
        last = self.s.payload.last
        on_time = Signal(init=1)     # the pacer allows a transfer now
        m.d.comb += [
            self.o.payload.eq(Mux(padding, 0, self.s.payload.data)),
            self.o.valid.eq(on_time & (padding | (self.s.valid & admit))),
            self.s.ready.eq(on_time & self.o.ready & admit),
        ]
        s_fire = self.s.valid & self.s.ready
        o_fire = self.o.valid & self.o.ready
        span = pacer_range(self.pixels, self.ii)
        if span is not None:
            # Bresenham as a deficit (pixels - 1 - credit): an idle cycle takes `pixels`
            # off it, down to 0, a transfer adds ii - pixels. While the chain holds a
            # transfer the schedule allows, it goes on below 0 (down to a frame behind), so
            # that the source catches up afterwards, as a paced source's waiting pixels do:
            # else every hold (a window generator's full line buffer) would cost its cycles
            # for good. Every next value, and whether each allows a transfer, comes from the
            # register alone (one subtraction, comparisons with constants), so the
            # handshake, late in the cycle, only selects.
            top = self.pixels - 1
            floor = span.start
            deficit = Signal(span)
            less = Signal(signed(len(deficit) + 1))
            held = Signal()
            m.d.comb += [less.eq(deficit - self.pixels),
                         held.eq(on_time & (padding | self.s.valid) & ~o_fire)]
            m.d.sync += [
                deficit.eq(Mux(o_fire, deficit + (self.ii - self.pixels),
                               Mux(held, Mux(less < floor, floor, less),
                                   Mux(less < 0, 0, less)))),
                on_time.eq(Mux(o_fire, deficit <= top - (self.ii - self.pixels),
                               deficit <= top + self.pixels)),
            ]
        entered = o_fire & ~padding & first
        wrong = s_fire & (at_end ^ last)          # tlast early, or missing at the end
        with m.If(o_fire):
            m.d.sync += [count.eq(Mux(at_end, 0, count + 1)), first.eq(at_end),
                         at_end.eq(Mux(at_end, self.pixels == 1,
                                       count == max(0, self.pixels - 2)))]
            with m.If(at_end):
                m.d.sync += [wr.eq(wr + 1), tail.eq(0)]
        with m.If(wrong):
            m.d.sync += [padding.eq(~at_end), tail.eq(at_end)]
            with m.If((at_end | ~tail) & (self.errors != (1 << ERROR_BITS) - 1)):
                m.d.sync += self.errors.eq(self.errors + 1)
        with m.If(padding & o_fire & at_end):
            m.d.sync += padding.eq(0)

        # Whether the result at the head is dropped: a flag register, flags[rd] as it will
        # be after this cycle's flag write and result, so that `r.ready` is one LUT from
        # flip-flops (the layer chain's last output register waits on it).
        drop = Signal()
        m.d.comb += [self.m.payload.eq(self.r.payload), self.m.valid.eq(self.r.valid & ~drop),
                     self.r.ready.eq(self.m.ready | drop)]
        left = self.r.valid & self.r.ready
        # The input side (a frame's last pixel) and the output side (its result) are at the
        # two ends of the layer chain, and so of the die: each reaches the other through
        # a register. The flag is written a cycle late (read in time as long as a frame's
        # result comes out two cycles or more after its last pixel, as every network's
        # does: its latency is tens of cycles or more), and a frame that left frees its
        # place in flight a cycle late (admitting no frame too many).
        write, flag, slot, gone = Signal(), Signal(), Signal.like(wr), Signal()
        m.d.sync += [write.eq(o_fire & at_end), flag.eq(padding | ~last), slot.eq(wr),
                     gone.eq(left)]
        with m.If(write):
            m.d.sync += flags.bit_select(slot, 1).eq(flag)

        def flag_next(k):
            return Mux(write & (slot == k), flag, flags.bit_select(k, 1))

        nxt = Signal.like(rd)
        m.d.comb += nxt.eq(rd + 1)
        m.d.sync += drop.eq(Mux(left, flag_next(nxt), flag_next(rd)))
        with m.If(left):
            m.d.sync += rd.eq(rd + 1)
        m.d.sync += inflight.eq(inflight + entered - gone)
        return m
