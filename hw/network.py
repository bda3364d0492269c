"""A whole network from a description: encoder, one block per layer, AXI-Stream ports.

`ConvLayer` = window generator (skipped for a 1x1, stride-1, unpadded kernel) + engine;
`PoolLayer` = binary max-pool. `Network` chains them behind the `Encoder` and exposes
AXI-Stream-style ports:

- s_axis_tdata: the C input samples of one pixel, sample c at bits [c*B, (c+1)*B), zero
  padded to a whole number of bytes; s_axis_tvalid/tready. s_axis_tlast is accepted for
  drop-in compatibility and ignored: a frame is H*W pixels by count.
- m_axis_tdata: one transfer per frame: the class at bits [0, cw), then score o (two's
  complement, sw bits) at [cw + o*sw, cw + (o+1)*sw), zero padded to whole bytes;
  m_axis_tlast is 1 on every result (a result is one whole frame's packet).
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv, Description, MaxPool

from .encoder import Encoder
from .engine import ConvEngine
from .pool import BinaryMaxPool
from .timing import Timing
from .window import WindowGenerator


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
        # Any engine with ConvEngine's ports and `timing(items)` (a folded one, say); one
        # that takes pixels instead of windows (hw.dense) says windowed=False.
        self.engine = ConvEngine(conv, stages, argmax_stages) if engine is None else engine
        windowed = needs_window(conv) if windowed is None else windowed
        self.window = (WindowGenerator(h, w, c, conv.kernel, conv.stride, conv.padding,
                                       conv.pad_bit) if windowed else None)
        super().__init__({"i": In(stream.Signature(c)),
                          "o": self.engine.signature.members["o"]})

    @property
    def timing(self) -> Timing:
        h, w, c = self.in_shape
        items = self.conv.out_shape[0] * self.conv.out_shape[1]
        e = self.engine.timing(items)
        if self.window is None:
            return Timing(latency=e.latency, ii=max(h * w, e.ii), in_width=c,
                          out_width=e.out_width, in_items=h * w, out_items=items,
                          stages=e.stages)
        t = self.window.timing
        return Timing(latency=t.latency + e.latency, ii=max(t.ii, e.ii), in_width=c,
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


def port_widths(desc: Description) -> tuple[int, int, int]:
    """(s_axis_tdata, m_axis_tdata, result) widths in bits for a description."""
    from .engine import result_layout
    result = result_layout(desc.layers[-1]).size
    return byte_round(desc.input.channels * desc.input.bits), byte_round(result), result


class Network(wiring.Component):
    """The streaming accelerator for a description.

    Parameters
    ----------
    desc : the model description.
    stages : register stages inside every popcount tree.
    runtime_thresholds : thermometer thresholds in registers behind a `cfg` port.
    layers : the layer blocks, when built otherwise (a folding plan's:
        hw.folded_layer.PlannedNetwork); default: every layer unrolled.

    Attributes
    ----------
    s_axis_*, m_axis_* : AXI-Stream-style ports (packing in the module docstring).
    blocks : (name, component) of the encoder and every layer, in stream order.
    """

    def __init__(self, desc: Description, stages: int = 1, runtime_thresholds: bool = False,
                 layers: list | None = None):
        self.desc = desc
        inp = desc.input
        self.encoder = Encoder(inp.channels, inp.bits, desc.encoder, runtime=runtime_thresholds,
                               pixels=inp.height * inp.width)
        self.layers = layers if layers is not None else [
            layer_block(layer, shape, stages)
            for layer, shape in zip(desc.layers, desc.layer_inputs())]
        self.blocks = [("encoder", self.encoder)] + [
            (layer.name, block) for layer, block in zip(desc.layers, self.layers)]
        self.in_width, self.out_width, self.result_width = port_widths(desc)
        members = {
            "s_axis_tdata": In(self.in_width), "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1), "s_axis_tlast": In(1),
            "m_axis_tdata": Out(self.out_width), "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1), "m_axis_tlast": Out(1)}
        if runtime_thresholds:
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
        for name, block in self.blocks:
            m.submodules[name] = block
        enc = self.encoder
        inp = self.desc.input
        m.d.comb += [enc.i.payload.eq(self.s_axis_tdata[:inp.channels * inp.bits]),
                     enc.i.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(enc.i.ready)]
        if "cfg" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.cfg), enc.cfg)
        prev = enc.o
        for block in self.layers:
            wiring.connect(m, prev, block.i)
            prev = block.o
        m.d.comb += [self.m_axis_tdata.eq(prev.payload), self.m_axis_tvalid.eq(prev.valid),
                     self.m_axis_tlast.eq(1), prev.ready.eq(self.m_axis_tready)]
        return m
