"""The comparator-bank encoder: raw samples to bit channels (thermometer or bitplanes).

Input word: channel c's B-bit unsigned sample at bits [c*B, (c+1)*B). Output word: bit
c*P + p (docs/model-format.md). Thermometer thresholds are constants (yosys folds each comparison),
or, with `runtime=True`, registers initialised to the description's values and rewritten
through the `cfg` port (address c*T + t, data the new threshold) so a deployed sensor can
retune its tone mapping without a new bitstream.
"""

from __future__ import annotations

import numpy as np
from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Bitplanes, Thermometer

from .pipeline import PipelineOutput
from .timing import Timing


def config_layout(entries: int, bits: int) -> data.StructLayout:
    return data.StructLayout({"addr": max(1, (entries - 1).bit_length()), "data": bits})


class Encoder(wiring.Component):
    """Thermometer or bitplane encoder with one output register.

    Parameters
    ----------
    channels, bits : C input channels of B-bit samples.
    encoder : `Thermometer` or `Bitplanes` from the description.
    runtime : thermometer thresholds in run-time writable registers (adds `cfg`).
    skid : a skid register at the output (hw.pipeline): `i.ready` is then a flip-flop, and
        the input framing's handshake does not wait on the first layer's.
    pixels : pixels per frame (only for `timing`).

    Attributes
    ----------
    i : stream of C*B-bit pixels.
    o : stream of C*P-bit encoded pixels.
    cfg : (runtime only) stream of {addr, data} threshold writes, always ready.
    """

    def __init__(self, channels: int, bits: int, encoder, *, runtime: bool = False,
                 pixels: int = 1, skid: bool = False):
        if not isinstance(encoder, (Thermometer, Bitplanes)):
            raise TypeError(f"encoder must be Thermometer or Bitplanes, not {encoder!r}")
        if runtime and not isinstance(encoder, Thermometer):
            raise ValueError("runtime thresholds need a thermometer encoder")
        if channels < 1 or not 1 <= bits <= 16:
            raise ValueError(f"need channels >= 1 and 1 <= bits <= 16, got {channels}, {bits}")
        self.channels, self.bits, self.encoder, self.runtime = channels, bits, encoder, runtime
        self.pixels, self.skid = pixels, bool(skid)
        self.planes = encoder.planes if isinstance(encoder, Thermometer) else bits
        members = {"i": In(stream.Signature(channels * bits)),
                   "o": Out(stream.Signature(channels * self.planes))}
        if runtime:
            # Accepts a write every cycle (ready is tied to 1 rather than declared
            # always_ready, which would leave a constant as a Verilog port).
            members["cfg"] = In(stream.Signature(config_layout(channels * self.planes, bits)))
        super().__init__(members)

    @property
    def timing(self) -> Timing:
        return Timing(latency=1, ii=self.pixels, in_width=self.channels * self.bits,
                      out_width=self.channels * self.planes, in_items=self.pixels,
                      out_items=self.pixels, stages=1)

    def elaborate(self, platform):
        m = Module()
        output = PipelineOutput(m, self.o, self.skid)
        adv = output.adv
        m.d.comb += self.i.ready.eq(adv)
        c_n, b, p_n = self.channels, self.bits, self.planes
        samples = [self.i.payload[c * b:(c + 1) * b] for c in range(c_n)]
        out = []
        if isinstance(self.encoder, Thermometer):
            th = np.asarray(self.encoder.channel_thresholds(c_n))
            if self.runtime:
                regs = [Signal(b, init=int(th[k // p_n, k % p_n]), name=f"theta_{k}")
                        for k in range(c_n * p_n)]
                m.d.comb += self.cfg.ready.eq(1)
                with m.If(self.cfg.valid):
                    with m.Switch(self.cfg.payload.addr):
                        for k, reg in enumerate(regs):
                            with m.Case(k):
                                m.d.sync += reg.eq(self.cfg.payload.data)
                out = [samples[k // p_n] >= regs[k] for k in range(c_n * p_n)]
            else:
                out = [samples[c] >= int(th[c, t]) for c in range(c_n) for t in range(p_n)]
        else:
            out = [samples[c][k] for c in range(c_n) for k in range(b)]
        word = Signal(c_n * p_n)
        m.d.comb += [word[k].eq(bit) for k, bit in enumerate(out)]
        if self.skid:
            output.put(self.i.valid, word)
        else:
            with m.If(adv):
                m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(word)]
        return m
