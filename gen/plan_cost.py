"""Resource estimates of the choices the planner weighs: LUT, FF and BRAM per family.

Each engine option answers from its structure: the folded engine from its schedule (lanes,
chunk muxes, popcount trees, accumulators, the weight ROM of `steps` words), the unrolled
engine from its live fan-in; the blocks every plan shares (encoder, window generators,
pools) are counted once so that plans can be checked against a device budget. The LUT
counts are for 4-input LUTs (ice40, ECP5, Gowin), scaled for Xilinx's 6-input LUTs; they
are coarse (a planner needs the ranking right more than the last 15%) and
`bench/plan_ecp5.py` states them against yosys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hw.dense import DenseShape, dense_shape, is_dense
from hw.folded_schedule import FoldShape, fold_shape, live_bits
from hw.window_plan import plan_window
from models.description import Conv, Description, MaxPool, Thermometer

# Block RAM geometries (depth, width) per family: the ROM mapper's table.
from .estimate_memory import ROM_GEOMETRIES as BRAM_GEOMETRIES
from .estimate_memory import map_rom

FAMILIES = ("ice40", "ecp5", "gowin", "xilinx")
LUT_SCALE = {"ice40": 1.0, "ecp5": 1.0, "gowin": 1.0, "xilinx": 0.6}
# Bits one LUT holds as a ROM / LUT-RAM (LUT4: 16, LUT6: 64).
LUT_BITS = {"ice40": 16, "ecp5": 16, "gowin": 16, "xilinx": 64}


@dataclass(frozen=True)
class Cost:
    lut: float = 0.0
    ff: float = 0.0
    bram: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.lut + other.lut, self.ff + other.ff, self.bram + other.bram)

    def rounded(self) -> dict:
        return {"lut": int(round(self.lut)), "ff": int(round(self.ff)), "bram": self.bram}


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose from {', '.join(FAMILIES)}")
    return family


def bram_count(family: str, depth: int, width: int) -> int:
    """Block RAMs for a depth x width memory (the best single geometry, replicated)."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM_GEOMETRIES[family])


def rom_bram_count(family: str, depth: int, width: int) -> int:
    """Block RAMs for a depth x width ROM, packed as yosys packs it."""
    return map_rom(family, depth, width).bram


def rom_luts(family: str, depth: int, width: int) -> float:
    """LUTs of a depth x width ROM or LUT-RAM in logic (plus the read mux above one LUT)."""
    per = LUT_BITS[family]
    cells = math.ceil(depth / per)
    return width * (cells + (cells - 1) * 0.5)


def memory_cost(family: str, depth: int, width: int, style: str) -> Cost:
    if style == "block":
        return Cost(bram=rom_bram_count(family, depth, width))
    return Cost(lut=rom_luts(family, depth, width), ff=width)


def _bits(v: int) -> int:
    return max(1, int(v).bit_length())


# LUT4s per popcount input bit, fitted to synth_ecp5 on hw.engine / hw.folded (bench/
# plan_ecp5.py): constant weights fold into the tree, a weight from memory does not.
LUTS_PER_BIT_CONST = 2.6
LUTS_PER_BIT_VAR = 4.0
LUTS_PER_MUX_BIT = 0.75     # chunk mux, per (chunk, bit) input
LUTS_PER_LANE = 90          # accumulator, threshold ROM and compare, result register


def popcount_luts(n: int, variable: bool = False) -> float:
    """An adder tree over n bits (the first level absorbs an XNOR/AND per leaf)."""
    return (LUTS_PER_BIT_VAR if variable else LUTS_PER_BIT_CONST) * n if n > 1 else float(n)


def unrolled_cost(conv: Conv, family: str, stages: int = 1) -> Cost:
    """hw.engine.ConvEngine: a popcount of every live weight, constant thresholds."""
    live = live_bits(conv) if conv.domain == "bipolar" or conv.p == 0 else \
        conv.weights.reshape(conv.out_channels, -1).astype(bool)
    per_o = live.sum(axis=1)
    lut = sum(popcount_luts(int(n)) for n in per_o)
    ff = sum(_bits(int(n)) for n in per_o) * (stages + 1) * 0.6
    if conv.domain == "sparse" and conv.p:
        lut += conv.groups * popcount_luts(int(conv.weights[0].size))
    sw = max(_bits(int(n)) for n in per_o) + 2
    if conv.scores is None:
        lut += conv.out_channels * sw * 0.5
        ff += conv.out_channels
    else:
        lut += conv.out_channels * sw * 3
        ff += conv.out_channels * sw * 2
    return Cost(lut * LUT_SCALE[family], ff)


def folded_cost(conv: Conv, shape: FoldShape, pe: int, simd: int, family: str, style: str,
                stages: int = 1) -> Cost:
    """hw.folded.FoldedEngine: chunk muxes, per-lane popcount + accumulator + threshold
    ROM, the window register and the weight ROM."""
    kh, kw = conv.kernel
    window_bits = kh * kw * conv.in_channels_per_group * conv.groups
    chunks = conv.groups * -(-int(conv.weights[0].size) // simd) + 1
    lut = shape.mux_columns * simd * (chunks - 1) * LUTS_PER_MUX_BIT
    acc = _bits(conv.weights[0].size * max(1, conv.q, abs(conv.p) + conv.q)) + 1
    lanes = shape.lanes_used
    per_lane = popcount_luts(simd, variable=True) + LUTS_PER_LANE
    if conv.domain == "sparse" and conv.p:
        per_lane += popcount_luts(simd) + acc
    lut += lanes * per_lane
    ff = window_bits + lanes * (acc + _bits(simd) * stages) + conv.out_channels
    if conv.scores is not None:
        lut += conv.out_channels * (acc + 2) * 3
        ff += conv.out_channels * (acc + 2) * 2
    lut += 20 + 3 * _bits(shape.steps)
    mem = memory_cost(family, shape.steps, shape.word_width, style)
    return Cost(lut * LUT_SCALE[family], ff) + mem


def dense_cost(conv: Conv, shape: DenseShape, simd: int, family: str, style: str,
                stages: int = 1) -> Cost:
    """hw.dense.StreamingDense: chunk muxes over one pixel, per lane a popcount and an
    accumulator bank (one register per channel, read through a mux), per channel the output
    compare (against a constant) or score, the pixel register and the weight ROM."""
    cg = conv.in_channels_per_group
    chunks = conv.groups * -(-cg // simd) + 1
    lut = shape.mux_columns * simd * (chunks - 1) * LUTS_PER_MUX_BIT
    acc = _bits(conv.weights[0].size * max(1, conv.q, abs(conv.p) + conv.q)) + 1
    for lane in shape.lanes:
        lut += popcount_luts(simd, variable=True) + acc + acc * (len(lane) - 1) * 0.5
        if conv.domain == "sparse" and conv.p:
            lut += popcount_luts(simd) + acc
    o_n = conv.out_channels
    ff = cg * conv.groups + len(shape.lanes) * _bits(simd) * stages + o_n * acc + o_n
    if conv.scores is None:
        lut += o_n * acc * 0.5
    else:
        lut += o_n * (acc + 2) * 3
        ff += o_n * (acc + 2) * 2
    lut += 20 + 3 * _bits(shape.steps)
    mem = memory_cost(family, shape.steps, shape.rom_width, style)
    return Cost(lut * LUT_SCALE[family], ff) + mem


def window_cost(family: str, in_shape, kernel, stride, padding) -> Cost:
    """hw.window.WindowGenerator: kh line buffers, shift register, pattern muxes."""
    h, w, c = in_shape
    p = plan_window(h, w, tuple(kernel), tuple(stride), tuple(padding))
    kh, kw = p.kernel
    out_bits = kh * kw * c
    # pattern muxes, bank muxes, step decode, counters (fitted to synth_ecp5)
    lut = out_bits * 0.5 * max(0, len(p.patterns) - 1) + kh * c * (kh - 1) \
        + p.period * 0.3 + 150
    ff = out_bits + (p.length - 1) * kh * c + 60
    line = Cost()
    for _ in range(kh):
        line = line + line_buffer_cost(family, w, c)
    return Cost(lut * LUT_SCALE[family], ff) + line


# LUT-RAM cells per family (depth, width) for a line buffer; ice40 has none.
LUTRAM = {"ecp5": (16, 4), "gowin": (16, 4), "xilinx": (64, 1)}


def line_buffer_cost(family: str, depth: int, width: int) -> Cost:
    """A depth x width RAM with one write and one read port, where yosys's memory_libmap
    would put it: block RAM at cost 128 per cell against LUT-RAM at 4 per cell plus the
    address mux (its cost weights, ECP5 numbers for every family)."""
    block = 128.0 * bram_count(family, depth, width)
    if family in LUTRAM:
        d, w = LUTRAM[family]
        cells = math.ceil(depth / d) * math.ceil(width / w)
        dist = 4.0 * cells + 8 + (math.ceil(depth / d) - 1) * width * 0.5
        if dist <= block:
            # a cell is a LUT-RAM slice (two LUTs' worth), plus the read mux
            return Cost(lut=2 * cells + (math.ceil(depth / d) - 1) * width, ff=width)
    elif depth * width <= 64:
        return Cost(lut=depth * width / 4, ff=depth * width)
    return Cost(bram=bram_count(family, depth, width))


def encoder_cost(desc: Description, family: str) -> Cost:
    inp = desc.input
    if isinstance(desc.encoder, Thermometer):
        return Cost(inp.channels * desc.encoder.planes * inp.bits * 0.5 * LUT_SCALE[family],
                    inp.channels * desc.encoder.planes + 1)
    return Cost(2, inp.channels * inp.bits + 1)


def shared_costs(desc: Description, family: str) -> dict[str, Cost]:
    """Per layer (and "encoder"): what every plan pays, engines excluded (a dense layer's
    window is the unrolled option's: the streaming engine has none)."""
    out = {"encoder": encoder_cost(desc, family)}
    for layer, shape in zip(desc.layers, desc.layer_inputs()):
        if isinstance(layer, MaxPool):
            out[layer.name] = window_cost(family, shape, layer.kernel, layer.stride, (0, 0)) \
                + Cost(shape[2] * layer.kernel[0] * layer.kernel[1] / 3, shape[2])
        elif (layer.kernel == (1, 1) and layer.stride == (1, 1) and layer.padding == (0, 0)) \
                or is_dense(layer, shape):
            out[layer.name] = Cost()
        else:
            out[layer.name] = window_cost(family, shape, layer.kernel, layer.stride,
                                          layer.padding)
    return out


def option_cost(conv: Conv, engine: str, pe: int, simd: int, style: str, family: str,
                stages: int = 1, in_shape: tuple[int, int, int] | None = None) -> Cost:
    """One engine option; `in_shape` tells a dense layer (kernel = the whole map), whose
    folded option is the streaming engine and whose unrolled option brings its window."""
    dense = in_shape is not None and is_dense(conv, in_shape)
    if engine == "unrolled":
        cost = unrolled_cost(conv, family, stages)
        if dense and conv.kernel != (1, 1):
            cost = cost + window_cost(family, in_shape, conv.kernel, conv.stride, conv.padding)
        return cost
    if dense:
        return dense_cost(conv, dense_shape(conv, pe, simd), simd, family, style, stages)
    return folded_cost(conv, fold_shape(conv, pe, simd), pe, simd, family, style, stages)
