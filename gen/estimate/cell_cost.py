"""What a block's multiplexers, ORs, memories, banks and ROMs cost on one family, in cells
(gen.estimate.memory_map decides where yosys puts a memory)."""

from __future__ import annotations

from gen.estimate.memory_map import map_memory, map_rom


# LUTs of one bit of a k-way multiplexer: LUT4s alone (ice40, and ecp5 and gowin as gen.synth
# maps them, without wide-function muxes) need k-1; a Xilinx LUT6 takes four ways (four data
# and two select inputs).
WAYS_PER_LUT = {"ice40": 1, "ecp5": 1, "gowin": 1, "xilinx": 4}


LUT_INPUTS = {"ice40": 4, "ecp5": 4, "gowin": 4, "xilinx": 6}


def or_luts(family: str, ors: list[tuple[int, int]]) -> int:
    """LUTs of `bits` ORs of `inputs` inputs each: a tree of k-input LUTs."""
    k = LUT_INPUTS[family]
    return sum(bits * -(-(inputs - 1) // (k - 1)) for bits, inputs in ors if inputs > 1)


def mux_luts(family: str, muxes: list[tuple[int, int]]) -> float:
    """LUTs of a block's multiplexers on one family: per bit a tree of LUTs that each pick
    one of `WAYS_PER_LUT` inputs (a LUT4 alone: two, so k-1 of them)."""
    per = WAYS_PER_LUT[family]
    total = 0
    for bits, ways in muxes:
        if per == 1:
            total += bits * max(0, ways - 1)
            continue
        while ways > 1:
            ways = -(-ways // per)
            total += bits * ways
    return total


def memory_cost(family: str, memories: list[tuple[int, int]]) -> dict[str, float]:
    """BRAM, LUT-RAM cells and soft-logic bits of a block's memories on one family."""
    res = {"bram": 0, "lutram": 0, "logic_mem_bits": 0, "lutram_bits": 0}
    for depth, width in memories:
        m = map_memory(family, depth, width)
        res["bram"] += m.bram
        res["lutram"] += m.lutram
        if m.kind == "logic":
            res["logic_mem_bits"] += depth * width
        elif m.kind == "distributed":
            res["lutram_bits"] += depth * width
    return res


def bank_cost(family: str, banks: list[tuple[int, int]]) -> dict:
    """A block's banks of sums (asynchronous-read RAMs) on one family: LUT-RAM cells and
    the multiplexer over their address ranges, or in soft logic registers and a read
    multiplexer per bit (in the block's mux terms)."""
    res = {"lutram": 0, "ff": 0, "muxes": []}
    for depth, width in banks:
        m = map_memory(family, depth, width, async_read=True)
        if m.kind == "logic":
            res["ff"] += depth * width
            res["muxes"].append((width, depth))
        else:
            res["lutram"] += m.lutram
            res["muxes"].append((width, m.ways))
    return res


# Words of a ROM in logic one LUT answers for, on every family: yosys maps such a ROM as a
# multiplexer tree of constants, which ABC covers in LUT4-sized pieces even with LUT6s
# (bench/rom_cost.py, alone, per output bit on random words: 16 words 0.97-1.02 LUTs on
# Xilinx and ECP5; 64 words 5.0 and 6.5). Inside an engine a deeper ROM maps unevenly (ABC
# merges its pieces with the logic it feeds), so it keeps a cost per bit.
ROM_WORDS_PER_LUT = 16


def rom_features(roms: list[tuple[int, int]]) -> dict[str, int]:
    """Features of ROMs in logic ((depth, width) each): a ROM of at most ROM_WORDS_PER_LUT
    words costs a LUT per output bit (`rom_luts`), a deeper one its bits (`rom_bits`)."""
    return {"rom_luts": sum(w for d, w in roms if d <= ROM_WORDS_PER_LUT),
            "rom_bits": sum(d * w for d, w in roms if d > ROM_WORDS_PER_LUT)}


def rom_cost(family: str, roms: list[tuple[int, int]]) -> dict[str, float]:
    """Block RAMs of a block's ROMs, and the LUTs of the multiplexers that pick a word's
    slice when yosys packs several address ranges side by side in one wide cell."""
    res = {"bram": 0, "mux_luts": 0.0}
    for depth, width in roms:
        m = map_rom(family, depth, width)
        res["bram"] += m.bram
        res["mux_luts"] += mux_luts(family, [(width, m.slices)])
    return res
