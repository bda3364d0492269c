"""Binary max-pool: a window generator without padding, then an OR over each window
(the max of +-1 values is +1 as soon as one bit is 1)."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import PipelineOutput
from .timing import Timing
from .window.generator import WindowGenerator


class WindowOr(wiring.Component):
    """OR of the kh*kw pixels of each window, per channel, into an output register (and a
    skid register, `skid`: hw.pipeline). With a skid register `i.ready` is a register
    (the skid register, inverted), and `ready_next` its value after this cycle, for the
    window generator in front."""

    def __init__(self, taps: int, channels: int, skid: bool = False):
        self.taps, self.channels, self.skid = taps, channels, skid
        super().__init__({"i": In(stream.Signature(taps * channels)),
                          "o": Out(stream.Signature(channels))})
        self.ready_next = Signal(name="ready_next", attrs={"keep": 1}) if skid else None

    def elaborate(self, platform):
        m = Module()
        out = PipelineOutput(m, self.o, self.skid)
        m.d.comb += self.i.ready.eq(out.adv)
        c = self.channels
        word = Signal(c)
        for ch in range(c):
            m.d.comb += word[ch].eq(self.i.payload[ch::c].any())
        out.put(self.i.valid, word)
        if self.skid:
            m.d.comb += self.ready_next.eq(~out.held_next)
        return m


class BinaryMaxPool(wiring.Component):
    """Binary max-pool over an H x W x C map.

    Attributes
    ----------
    i : stream of C-bit pixels.
    o : stream of C-bit pooled pixels.
    skid : a skid register at the output, so that the ready chain ends here (hw.pipeline).
    """

    def __init__(self, height: int, width: int, channels: int, kernel, stride,
                 skid: bool = False):
        self.window = WindowGenerator(height, width, channels, kernel, stride)
        self.window.pipelined = bool(skid)
        self.reduce = WindowOr(kernel[0] * kernel[1], channels, skid)
        self.window.ready_next = self.reduce.ready_next
        self.channels = channels
        super().__init__({"i": In(stream.Signature(channels)),
                          "o": Out(stream.Signature(channels))})

    @property
    def timing(self) -> Timing:
        t = self.window.timing
        return Timing(latency=t.latency + 1, ii=t.ii, in_width=self.channels,
                      out_width=self.channels, in_items=t.in_items, out_items=t.out_items,
                      stages=t.stages + 1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = self.window
        m.submodules.reduce = self.reduce
        wiring.connect(m, wiring.flipped(self.i), self.window.i)
        wiring.connect(m, self.window.o, self.reduce.i)
        wiring.connect(m, self.reduce.o, wiring.flipped(self.o))
        return m
