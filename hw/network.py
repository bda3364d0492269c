"""A whole network from a description: encoder, one block per layer, AXI4-Stream ports.

`ConvLayer` = window generator (skipped for a 1x1, stride-1, unpadded kernel) + engine;
`PoolLayer` = binary max-pool. `Network` chains them behind the `Encoder`, inside a
`Framing` checker (hw/framing.py), and exposes AXI4-Stream ports the way IP integrators
expect them:

- aclk (rising edge), aresetn (active low, synchronous); s_axis_tready is 0 during reset.
- s_axis_tdata: the C input samples of one pixel, sample c at bits [c*B, (c+1)*B), zero
  padded to a whole number of bytes; s_axis_tvalid/tready; s_axis_tlast on a frame's last
  pixel (H*W transfers). A frame whose tlast comes early, late or not at all is dropped
  alone (hw/framing.py says how the next frame is found), and `framing_errors` (16 bits,
  saturating) counts it.
- m_axis_tdata: one transfer per frame, laid out in whole bytes (`result_bytes`): the
  class in bytes [0, cb), then score o (two's complement, sign-extended to sb bytes) in
  bytes [cb + o*sb, cb + (o+1)*sb); m_axis_tlast is 1 on every result.
"""

from __future__ import annotations

import numpy as np
from amaranth import ClockDomain, DomainRenamer, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv, Description, MaxPool, Thermometer

from .control import Control, axil_members
from .encoder import Encoder
from .engine import ConvEngine
from .framing import ERROR_BITS, Framing
from .pool import BinaryMaxPool
from .timing import Timing
from .window.generator import WindowGenerator


def needs_window(conv: Conv) -> bool:
    return not (conv.kernel == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0))


class ConvLayer(wiring.Component):
    """One convolution layer as a stream block (window generator + engine).

    Attributes
    ----------
    i : stream of C_in-bit pixels of the H x W input map.
    o : stream of C_out-bit pixels (or the scores layer's result) of the output map.
    """

    def __init__(self, conv: Conv, in_shape: tuple[int, int, int], stages: int = 1,
                 engine: wiring.Component | None = None, windowed: bool | None = None,
                 argmax_stages: int = 0):
        h, w, c = in_shape
        self.conv, self.in_shape = conv, tuple(in_shape)
        # Any engine with ConvEngine's ports and a `timing` per window (a folded one, say); one
        # that takes pixels instead of windows (hw.dense) says windowed=False.
        self.engine = ConvEngine(conv, stages, argmax_stages) if engine is None else engine
        windowed = needs_window(conv) if windowed is None else windowed
        self.window = (WindowGenerator(h, w, c, conv.kernel, conv.stride, conv.padding,
                                       conv.pad_bit) if windowed else None)
        if self.window is not None:
            self.window.ready_next = getattr(self.engine, "ready_next", None)
            self.window.pipelined = bool(getattr(self.engine, "skid", False))
        super().__init__({"i": In(stream.Signature(c)),
                          "o": self.engine.signature.members["o"]})

    @property
    def timing(self) -> Timing:
        h, w, c = self.in_shape
        items = self.conv.out_shape[0] * self.conv.out_shape[1]
        e = self.engine.timing            # one window's: `items` of them per frame
        if self.window is None:
            return Timing(latency=e.latency, ii=max(h * w, e.ii * items), in_width=c,
                          out_width=e.out_width, in_items=h * w, out_items=items,
                          stages=e.stages)
        t = self.window.timing
        return Timing(latency=t.latency + e.latency, ii=max(t.ii, e.ii * items), in_width=c,
                      out_width=e.out_width, in_items=h * w, out_items=items,
                      stages=t.stages + e.stages)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = self.engine
        if self.window is not None:
            m.submodules.window = self.window
            wiring.connect(m, wiring.flipped(self.i), self.window.i)
            wiring.connect(m, self.window.o, self.engine.i)
        else:
            wiring.connect(m, wiring.flipped(self.i), self.engine.i)
        wiring.connect(m, self.engine.o, wiring.flipped(self.o))
        return m


class PoolLayer(BinaryMaxPool):
    """One max-pool layer as a stream block."""

    def __init__(self, pool: MaxPool, in_shape: tuple[int, int, int], skid: bool = False):
        self.pool = pool
        super().__init__(*in_shape, pool.kernel, pool.stride, skid)


def layer_block(layer, in_shape, stages: int = 1, argmax_stages: int = 0, skid: bool = False):
    if isinstance(layer, Conv):
        return ConvLayer(layer, in_shape, stages, argmax_stages=argmax_stages)
    return PoolLayer(layer, in_shape, skid)


def byte_round(bits: int) -> int:
    return (bits + 7) // 8 * 8


def result_bytes(conv: Conv) -> tuple[int, int]:
    """(class bytes, bytes per score) of the result beat of a scores layer."""
    from .engine import class_width, score_width
    return byte_round(class_width(conv.out_channels)) // 8, byte_round(score_width(conv)) // 8


def port_widths(desc: Description) -> tuple[int, int]:
    """(s_axis_tdata, m_axis_tdata) widths in bits for a description."""
    conv = desc.layers[-1]
    cb, sb = result_bytes(conv)
    return (byte_round(desc.input.channels * desc.input.bits),
            8 * (cb + sb * conv.out_channels))


class Network(wiring.Component):
    """The streaming accelerator for a description.

    Parameters
    ----------
    desc : the model description.
    stages : register stages inside every popcount tree.
    runtime_thresholds : thermometer thresholds in registers behind a `cfg` port.
    layers : the layer blocks, when built otherwise (a folding plan's:
        hw.folded.planned.PlannedNetwork); default: every layer unrolled.
    control : add the AXI4-Lite control port (hw/control.py, `s_axil_*`); with a
        thermometer encoder its thresholds become run-time registers behind it.
    encoder_skid : a skid register at the encoder's output (hw.encoder).

    Attributes
    ----------
    aclk, aresetn : the clock and the active-low synchronous reset.
    s_axis_*, m_axis_* : AXI4-Stream ports (packing in the module docstring).
    framing_errors : frames dropped for a wrong tlast (saturating).
    blocks : (name, component) of the encoder and every layer, in stream order.
    """

    def __init__(self, desc: Description, stages: int = 1, runtime_thresholds: bool = False,
                 layers: list | None = None, control: bool = False,
                 encoder_skid: bool = False):
        self.desc = desc
        inp = desc.input
        self.control = None
        if control:
            from .engine import class_width, score_width
            th = (np.asarray(desc.encoder.channel_thresholds(inp.channels)).ravel().tolist()
                  if isinstance(desc.encoder, Thermometer) else [])
            last = desc.layers[-1]
            self.control = Control(last.out_channels, score_width(last),
                                   class_width(last.out_channels), ERROR_BITS,
                                   [int(v) for v in th], inp.bits)
            runtime_thresholds = bool(th)
        self.encoder = Encoder(inp.channels, inp.bits, desc.encoder, runtime=runtime_thresholds,
                               pixels=inp.height * inp.width, skid=encoder_skid)
        self.layers = layers if layers is not None else [
            layer_block(layer, shape, stages)
            for layer, shape in zip(desc.layers, desc.layer_inputs())]
        self.blocks = [("encoder", self.encoder)] + [
            (layer.name, block) for layer, block in zip(desc.layers, self.layers)]
        self.in_width, self.out_width = port_widths(desc)
        from .engine import result_layout
        self.framing = Framing(inp.channels * inp.bits, inp.height * inp.width,
                               result_layout(desc.layers[-1]), ii=self.timing.ii)
        members = {
            "aclk": In(1), "aresetn": In(1),
            "s_axis_tdata": In(self.in_width), "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1), "s_axis_tlast": In(1),
            "m_axis_tdata": Out(self.out_width), "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1), "m_axis_tlast": Out(1),
            "framing_errors": Out(ERROR_BITS)}
        if self.control is not None:
            members.update(axil_members())
        elif runtime_thresholds:
            members["cfg"] = In(self.encoder.signature.members["cfg"].signature)
        super().__init__(members)

    @property
    def timing(self) -> Timing:
        parts = [block.timing for _, block in self.blocks]
        h, w = self.desc.input.height, self.desc.input.width
        return Timing(latency=sum(t.latency for t in parts), ii=max(t.ii for t in parts),
                      in_width=self.in_width, out_width=self.out_width, in_items=h * w,
                      out_items=1, stages=sum(t.stages for t in parts))

    def elaborate(self, platform):
        m = Module()
        # The whole design runs in a domain of its own, driven by aclk and ~aresetn.
        m.domains.sync = cd = ClockDomain("sync", local=True)
        soft_reset = Signal()
        m.d.comb += [cd.clk.eq(self.aclk), cd.rst.eq(~self.aresetn | soft_reset)]
        if self.control is not None:
            # The register block is reset by aresetn alone: a soft reset keeps its state.
            m.domains.ctrl = ctrl = ClockDomain("ctrl", local=True)
            m.d.comb += [ctrl.clk.eq(self.aclk), ctrl.rst.eq(~self.aresetn)]
            m.submodules.control = DomainRenamer("ctrl")(self.control)
            self._connect_control(m, soft_reset)
        for name, block in self.blocks:
            m.submodules[name] = block
        m.submodules.framing = fr = self.framing
        enc = self.encoder
        inp = self.desc.input
        m.d.comb += [fr.s.payload.data.eq(self.s_axis_tdata[:inp.channels * inp.bits]),
                     fr.s.payload.last.eq(self.s_axis_tlast),
                     fr.s.valid.eq(self.s_axis_tvalid),
                     self.s_axis_tready.eq(fr.s.ready & self.aresetn & ~soft_reset),
                     self.framing_errors.eq(fr.errors)]
        wiring.connect(m, fr.o, enc.i)
        if "cfg" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.cfg), enc.cfg)
        prev = enc.o
        for block in self.layers:
            wiring.connect(m, prev, block.i)
            prev = block.o
        wiring.connect(m, prev, fr.r)
        cb, sb = result_bytes(self.desc.layers[-1])
        result = fr.m.payload
        m.d.comb += self.m_axis_tdata[:8 * cb].eq(result.cls)
        for o in range(self.desc.layers[-1].out_channels):
            lsb = 8 * (cb + o * sb)
            m.d.comb += self.m_axis_tdata[lsb:lsb + 8 * sb].eq(result.scores[o])
        m.d.comb += [self.m_axis_tvalid.eq(fr.m.valid), self.m_axis_tlast.eq(1),
                     fr.m.ready.eq(self.m_axis_tready)]
        return m

    def _connect_control(self, m, soft_reset):
        ctl, fr = self.control, self.framing
        for name in axil_members():
            if ctl.signature.members[name].flow == In:
                m.d.comb += getattr(ctl, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(ctl, name))
        m.d.comb += [soft_reset.eq(ctl.soft_reset),
                     ctl.result_fire.eq(fr.m.valid & fr.m.ready),
                     ctl.result_cls.eq(fr.m.payload.cls),
                     ctl.result_scores.eq(fr.m.payload.scores), ctl.errors.eq(fr.errors)]
        if ctl.init:
            enc = self.encoder
            m.d.comb += [enc.cfg.valid.eq(ctl.cfg_valid), enc.cfg.payload.addr.eq(ctl.cfg_addr),
                         enc.cfg.payload.data.eq(ctl.cfg_data)]
