"""What the planner's options cost: the estimator's own blocks (gen.estimate.layer_blocks) for the
layer as that option builds it, costed with its fitted coefficients (gen.estimate). One cost
model: a plan's per-layer LUT/FF/BRAM/LUT-RAM are the numbers `bnngen estimate --plan`
gives for the plan's family.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.description import Conv, Description
from hw.folded.planned import LayerChoice

from gen.common.resources import FPGA_FAMILIES
from gen.estimate.blocks import Block, fifo_block, pool_blocks
from gen.estimate.cell_cost import ROM_WORDS_PER_LUT
from gen.estimate.estimator import block_cost
from gen.estimate.layer_blocks import conv_blocks, input_blocks
from gen.estimate.timing_model import Pipelining, layer_window, pool_skid


# Weights in LUTs the estimator can predict. A ROM of at most ROM_WORDS_PER_LUT words costs
# about a LUT per output bit on every family (gen.estimate.cell_cost.rom_features; measured
# 1.0-1.2 on 1-4 kbit wide ROMs), whatever its width: SFC's 16 x 12,544-bit ROM is no
# extrapolation. Deeper ones cost a multiplexer tree that ABC maps less evenly (a 192 x 400
# ROM, CNV-W1A1's conv2, came out 43% over an earlier estimate), so those are offered only
# up to the bits the fit has seen (bench/fit_blocks.py folded_samples) unless LUT memories
# are asked for (--memory distributed).
LOGIC_ROM_MAX_BITS = 16384

# LUTs a LUT-RAM cell occupies (a 16x4 ECP5/Gowin cell: four LUT4s; a Xilinx RAM32M or
# RAM64M: the four LUT6s of a SLICEM quarter), for checking a plan against a device.
LUTS_PER_LUTRAM = 4


@dataclass(frozen=True)
class Cost:
    lut: float = 0.0
    ff: float = 0.0
    bram: int = 0
    lutram: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.lut + other.lut, self.ff + other.ff, self.bram + other.bram,
                    self.lutram + other.lutram)

    @property
    def lut_equivalent(self) -> float:
        """LUTs including those a LUT-RAM occupies (what a device's LUT budget pays)."""
        return self.lut + LUTS_PER_LUTRAM * self.lutram

    def rounded(self) -> dict:
        """As `bnngen estimate` rounds a layer's row."""
        return {"lut": int(round(self.lut)), "ff": int(round(self.ff)), "bram": int(self.bram),
                "lutram": int(self.lutram)}


def check_family(family: str) -> str:
    if family not in FPGA_FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose from {', '.join(FPGA_FAMILIES)}")
    return family


def blocks_cost(blocks: list[Block], family: str) -> Cost:
    total = Cost()
    for b in blocks:
        c = block_cost(b, family)
        total = total + Cost(c["lut"], c["ff"], c["bram"], c["lutram"])
    return total


def input_cost(desc: Description, family: str, ii: int, skid: bool = False) -> Cost:
    """The encoder (with a skid register: `skid`) and the framing checker, its input pacer
    built for `ii`."""
    return blocks_cost(input_blocks(desc, ii, skid), family)


def shared_costs(desc: Description, family: str, clock_mhz: float | None = None,
                 ii: int = 0) -> dict[str, Cost]:
    """What every plan pays: the encoder and the framing checker (its pacer for `ii`, the
    plan's interval) and the pools, with the skid registers the clock asks of them (a
    convolution's window generator depends on its engine: it is in `option_cost`)."""
    out = {"encoder": input_cost(desc, family, ii)}
    for layer, shape in zip(desc.layers, desc.layer_inputs()):
        if not isinstance(layer, Conv):
            skid = pool_skid(layer_window(layer, shape), shape[2], family, clock_mhz)
            out[layer.name] = blocks_cost(pool_blocks(layer, shape, skid), family)
    return out


def fifo_cost(width: int, depth: int, family: str) -> Cost:
    """The FIFO of `depth` words of `width` bits the flow model puts in front of a layer
    (none for depth 0)."""
    return blocks_cost([fifo_block(width, depth)], family) if depth else Cost()


def option_blocks(conv: Conv, engine: str, pe: int, simd: int, style: str,
                  pipe: Pipelining | int, in_shape: tuple[int, int, int]) -> list[Block]:
    """The blocks of one engine option for a convolution, pipelined as `pipe` says (an int:
    that many popcount stages, nothing else), with the window generator it needs."""
    if isinstance(pipe, int):
        pipe = Pipelining(pipe)
    choice = LayerChoice(engine=engine, pe=max(1, pe), simd=max(1, simd),
                         memory=style or "auto", stages=pipe.stages, front=pipe.front,
                         argmax_stages=pipe.argmax, skid=pipe.skid)
    return conv_blocks(conv, in_shape, pipe.stages, choice)


def deep_rom_bits(blocks: list[Block]) -> int:
    """Bits of the weight ROMs the blocks keep in LUTs that are deeper than
    ROM_WORDS_PER_LUT words (the ones LOGIC_ROM_MAX_BITS limits)."""
    return sum(d * w for b in blocks for d, w in b.logic_roms if d > ROM_WORDS_PER_LUT)


def option_cost(conv: Conv, engine: str, pe: int, simd: int, style: str, family: str,
                pipe: Pipelining | int, in_shape: tuple[int, int, int]) -> Cost:
    """One engine option for a convolution, with the window generator it needs."""
    return blocks_cost(option_blocks(conv, engine, pe, simd, style, pipe, in_shape), family)
