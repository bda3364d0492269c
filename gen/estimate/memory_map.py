"""Where yosys puts a line-buffer memory (block RAM, LUT-RAM or flip-flops), per family.

A replica of yosys's `memory_libmap` cost rule for the one memory shape bnngen emits
(depth x width, one write port, one synchronous read port with enable, transparent):
each candidate costs its library `cost` per replicated cell (LUT-RAM with `widthscale`
pays per used bit instead), plus mux/demux terms when the depth spans several cells, plus
the emulation of what the cell lacks; soft logic costs one per bit. The cheapest wins, a
tie goes to soft logic. Library numbers are those of yosys's share/<family>/*.txt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


# memory_libmap's weights for soft address decoding around several cells.
FACTOR_MUX = 0.5
FACTOR_DEMUX = 0.5
FACTOR_EMU = 2
# Emulation points our port needs on an asynchronous-read LUT-RAM: an output register
# with enable (3) plus its reset/init value (1) -- measured: the tie point of a 4x3 memory.
EMU_DISTRIBUTED = 4


@dataclass(frozen=True)
class RamDef:
    """One library RAM: geometries (address bits, data bits) and its selection cost."""

    cell: str
    kind: str                               # "block" or "distributed"
    geoms: tuple[tuple[int, int], ...]      # (abits, width) choices
    cost: float
    widthscale: float = 0.0
    units: int = 1                          # resource units one cell counts as
    emu: int = 0                            # emulation points for our port shape


def _per_port(abits: int, widths: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """A `widths ... per_port` block: the address shrinks one bit per doubling of width."""
    return tuple((abits - i, w) for i, w in enumerate(widths))


LIBRARIES: dict[str, tuple[RamDef, ...]] = {
    "ice40": (
        RamDef("SB_RAM40_4K", "block", _per_port(11, (2, 4, 8, 16)), 64),
    ),
    "ecp5": (
        RamDef("DP16KD", "block", _per_port(14, (1, 2, 4, 9, 18)), 128),
        RamDef("PDPW16KD", "block", _per_port(14, (1, 2, 4, 9, 18, 36)), 128),
        RamDef("TRELLIS_DPR16X4", "distributed", ((4, 4),), 4, emu=EMU_DISTRIBUTED),
    ),
    "xilinx": (
        RamDef("RAMB18E1", "block", _per_port(14, (1, 2, 4, 9, 18, 36)), 129),
        RamDef("RAMB36E1", "block", _per_port(15, (1, 2, 4, 9, 18, 36, 72)), 257, units=2),
        RamDef("RAM32M", "distributed", ((5, 6),), 8, widthscale=7, emu=EMU_DISTRIBUTED),
        RamDef("RAM64M", "distributed", ((6, 3),), 8, widthscale=7, emu=EMU_DISTRIBUTED),
        RamDef("RAM32X1D", "distributed", ((5, 4), (6, 2), (7, 1)), 8, widthscale=8,
               emu=EMU_DISTRIBUTED),
    ),
    "gowin": (
        RamDef("SDPB", "block", _per_port(14, (1, 2, 4, 9, 18, 36)), 128),
        RamDef("RAM16SDP4", "distributed", ((4, 4),), 4, widthscale=4, emu=EMU_DISTRIBUTED),
    ),
}


@dataclass(frozen=True)
class MemoryMapping:
    """The choice for one memory: where it goes and what it uses."""

    kind: str          # "block", "distributed" or "logic"
    cell: str | None
    bram: int          # block RAM units (family units: see gen.common.resources)
    lutram: int        # LUT-RAM cells
    ff: int            # flip-flops when lowered to soft logic
    cost: float
    ways: int = 1      # LUT-RAM: address ranges of cells read through a soft multiplexer


def _config_cost(ram: RamDef, abits: int, width: int, depth: int, bits: int) -> tuple[float, int]:
    """memory_libmap's cost and replica count of `ram` in one geometry."""
    mult_a = math.ceil(depth / (1 << abits))
    # Cells are not shared between address ranges (measured: a 28x1 memory takes two
    # 16x4 LUT-RAMs), so each range gets its own column of cells.
    repl = mult_a * math.ceil(bits / width)
    cost = (ram.cost - ram.widthscale) * repl + ram.widthscale * mult_a * bits / width
    if mult_a > 1:
        cost += (mult_a - 1) * bits * FACTOR_MUX + mult_a * FACTOR_DEMUX
    return cost + ram.emu * FACTOR_EMU, repl


def map_memory(family: str, depth: int, width: int,
               async_read: bool = False) -> MemoryMapping:
    """Where yosys maps a depth x width line buffer for `family` (asic: always logic).
    `async_read`: a RAM read asynchronously (a streamed dense engine's bank of sums): no
    block RAM (it reads only synchronously), and a LUT-RAM needs no emulated output
    register."""
    best = MemoryMapping("logic", None, 0, 0, depth * width, float(depth * width))
    for ram in LIBRARIES.get(family, ()):
        if async_read and ram.kind != "distributed":
            continue
        for abits, w in ram.geoms:
            cost, repl = _config_cost(ram, abits, w, depth, width)
            if async_read:
                cost -= ram.emu * FACTOR_EMU
            if cost < best.cost:
                best = MemoryMapping(ram.kind, ram.cell,
                                     repl * ram.units if ram.kind == "block" else 0,
                                     repl if ram.kind == "distributed" else 0, 0, cost,
                                     math.ceil(depth / (1 << abits)))
    return best


# Block RAM read geometries (depth, width) for a ROM, per family: ice40 SB_RAM40_4K, ECP5
# DP16KD/PDPW16KD, Gowin SDPB/pROM, Xilinx RAMB18 (units as gen.common.resources counts them).
ROM_GEOMETRIES = {
    "ice40": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
    "ecp5": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
    "gowin": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
    "xilinx": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
}


@dataclass(frozen=True)
class RomMapping:
    bram: int          # block RAM units
    slices: int        # address ranges side by side in one word (a `slices`-way read mux)


def map_rom(family: str, depth: int, width: int) -> RomMapping:
    """Block RAMs of a depth x width ROM with rom_style=block. yosys splits the depth into
    `slices` ranges of the geometry's depth and packs the ranges' words side by side, so
    `slices * width` bit columns share the cells (a 768 x 5 ROM is one 256 x 16 SB_RAM40_4K
    and a 3-way mux per bit); the fewest cells win, then the fewest ranges. Measured on 4
    families x 25 shapes of depth 100-3000 and width 3-197."""
    best = None
    for d, w in ROM_GEOMETRIES[family]:
        slices = math.ceil(depth / d)
        m = RomMapping(math.ceil(slices * width / w), slices)
        if best is None or (m.bram, m.slices) < (best.bram, best.slices):
            best = m
    return best
