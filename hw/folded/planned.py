"""A network top whose convolution layers follow a folding plan, with FIFOs between layers.

`LayerChoice` is one layer's entry of a plan (hw/ never reads plan files: gen/plan/search.py does
and hands these over). `FoldedConvLayer` is `ConvLayer` with a `FoldedEngine`;
`FoldedDenseLayer` is a dense layer (kernel = the whole input map) on the streaming
`StreamingDense` engine, which needs no window of the map; `Buffered` puts a FIFO of the
planned depth in front of any layer block; `PlannedNetwork` is `Network` with its layer
blocks replaced accordingly, so the ports, the packing and the manifest fields stay those
of the unrolled top.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered

from models.description import Conv, Description

from ..dense.engine import StreamingDense
from ..dense.schedule import is_dense
from ..network import ConvLayer, Network, layer_block
from ..timing import Timing
from .engine import FoldedEngine


@dataclass(frozen=True)
class LayerChoice:
    """How one layer is built: engine "unrolled" or "folded" (pe lanes of simd bits, weight
    memory style), its pipelining (register stages in the popcount trees, in front of them
    (hw.folded.lanes.FRONTS) and in a scores layer's argmax; a skid register at the output,
    hw.pipeline), and the depth of the FIFO in front
    of it (0: none)."""

    engine: str = "unrolled"
    pe: int = 1
    simd: int = 1
    memory: str = "auto"
    fifo_depth: int = 0
    stages: int = 1
    argmax_stages: int = 0
    front: int = 0
    skid: bool = False


class FoldedConvLayer(ConvLayer):
    """Window generator + `FoldedEngine`; the ports of `ConvLayer`."""

    def __init__(self, conv: Conv, in_shape: tuple[int, int, int], pe: int, simd: int,
                 stages: int = 1, memory: str = "auto", argmax_stages: int = 0, front: int = 0,
                 skid: bool = False):
        super().__init__(conv, in_shape, stages,
                         engine=FoldedEngine(conv, pe, simd, stages, memory, argmax_stages,
                                             front, skid))


class FoldedDenseLayer(ConvLayer):
    """`StreamingDense` straight on the pixel stream; the ports of `ConvLayer`."""

    def __init__(self, conv: Conv, in_shape: tuple[int, int, int], pe: int, simd: int,
                 stages: int = 1, memory: str = "auto", argmax_stages: int = 0, front: int = 0,
                 skid: bool = False):
        super().__init__(conv, in_shape, stages, windowed=False,
                         engine=StreamingDense(conv, pe, simd, stages, memory, argmax_stages,
                                               front, skid))


def fifo_delay(depth: int) -> int:
    """Cycles from a word's transfer into Buffered's SyncFIFOBuffered of `depth` words to
    the first cycle the block can take it: one word is a single register; deeper ones write
    a memory and then read it into their output register."""
    return 1 if depth == 1 else 2


class Buffered(wiring.Component):
    """A FIFO of `depth` words in front of a layer block (same ports as the block)."""

    def __init__(self, block: wiring.Component, depth: int):
        if depth < 1:
            raise ValueError(f"depth must be positive, not {depth}")
        self.block, self.depth = block, depth
        self.width = len(block.i.payload)
        super().__init__(block.signature)

    @property
    def timing(self) -> Timing:
        t = self.block.timing
        delay = fifo_delay(self.depth)
        # Up to two words (a register, or a one-word memory that takes no write while full)
        # pass a word every other cycle; the planner's FIFOs have three or more.
        ii = max(t.ii, 2 * t.in_items) if self.depth <= 2 else t.ii
        return Timing(latency=t.latency + delay, ii=ii, in_width=t.in_width,
                      out_width=t.out_width, in_items=t.in_items, out_items=t.out_items,
                      stages=t.stages + delay)

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.width, depth=self.depth)
        m.submodules.block = self.block
        m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid),
                     self.i.ready.eq(fifo.w_rdy)]
        m.d.comb += [self.block.i.payload.eq(fifo.r_data), self.block.i.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(self.block.i.ready)]
        wiring.connect(m, self.block.o, wiring.flipped(self.o))
        return m


def planned_block(layer, in_shape, choice: LayerChoice | None, stages: int = 1):
    """The block of one layer as its plan entry says (None: the unrolled default with
    `stages` popcount stages)."""
    choice = choice or LayerChoice(stages=stages)
    args = (layer, in_shape, choice.pe, choice.simd, choice.stages, choice.memory,
            choice.argmax_stages, choice.front, choice.skid)
    if isinstance(layer, Conv) and choice.engine == "folded" and is_dense(layer, in_shape):
        block = FoldedDenseLayer(*args)
    elif isinstance(layer, Conv) and choice.engine == "folded":
        block = FoldedConvLayer(*args)
    elif choice.engine in ("unrolled", "folded"):
        block = layer_block(layer, in_shape, choice.stages, choice.argmax_stages, choice.skid)
    else:
        raise ValueError(f"{layer.name}: unknown engine {choice.engine!r}")
    return Buffered(block, choice.fifo_depth) if choice.fifo_depth > 0 else block


class PlannedNetwork(Network):
    """`Network` with each layer built per `choices` (layer name -> `LayerChoice`)."""

    def __init__(self, desc: Description, choices: dict[str, LayerChoice], stages: int = 1,
                 runtime_thresholds: bool = False, control: bool = False):
        unknown = set(choices) - {layer.name for layer in desc.layers}
        if unknown:
            raise ValueError(f"the plan names layers the model lacks: {sorted(unknown)}")
        self.choices = dict(choices)
        super().__init__(desc, stages, runtime_thresholds, layers=[
            planned_block(layer, shape, choices.get(layer.name), stages)
            for layer, shape in zip(desc.layers, desc.layer_inputs())], control=control,
            # pipelined for a clock: the encoder's `ready` in a register too
            encoder_skid=any(c.skid for c in self.choices.values()))
