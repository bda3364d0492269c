"""The yosys script of each family: synthesis commands, their fallback (classic ABC), the
statistics asked for."""

from __future__ import annotations

from models.errors import UserError

from gen.common.resources import FAMILIES


# One synthesis command per family. The hierarchy is kept (-noflatten), so one run gives
# every module's own cells: a layer's numbers are its module's subtree, the top's are the
# design total. asic: generic gates (`synth -noabc`: the one ABC run is the CMOS mapping;
# a generic ABC run before it cost a third of the time and moved the count by 0.05%);
# dfflegalize turns enables/resets into gates so `stat -tech cmos` counts every transistor
# (a plain $_DFF_P_ is 16 in yosys's CMOS table). Memories (line buffers, weight and
# threshold ROMs) stay $mem_v2 cells: an ASIC takes them from a memory compiler as SRAM or
# ROM macros, so `synth`'s fine stage runs without its memory_map, and the macros are
# listed apart (dumped after stat, ASIC_MEMORIES) instead of being costed as gates. Mapping
# the shipped model's 0.6 Mbit of ROMs to gates took 60% of the asic run.
#
# ice40: synth_ice40's map_ram step, spelled out, with the contents of the block RAMs that
# memory_libmap chose set to 0 before techmap: techmap derives its template once per
# distinct INIT (about 0.7 s each in yowasp), which took 110 of 200 s on the shipped model's
# 154 RAMs. A block RAM's contents no longer influence any cell count at that point (its
# constant bits were trimmed earlier, while the memory was still a $mem), so every count is
# unchanged (checked per module on the shipped model's planned build).
ICE40_MAP_RAM = ("synth_ice40 -noflatten -top {top} -run :map_ram; "
                 "memory_libmap -lib +/ice40/brams.txt -lib +/ice40/spram.txt -no-auto-huge; "
                 "setparam -set INIT 0 t:$__ICE40_RAM4K_; "
                 "techmap -map +/ice40/brams_map.v -map +/ice40/spram_map.v; ice40_braminit")


# xilinx: the same for synth_xilinx's map_memory step (its xc7 libraries and options); 26 s
# of templates on the shipped model's 27 RAMB18s, every count unchanged (checked likewise).
XILINX_MAP_MEMORY = (
    "synth_xilinx -nowidelut -noiopad -noclkbuf -top {top} -run :map_memory; "
    "memory_libmap -lib +/xilinx/lutrams_xc5v.txt -lib +/xilinx/brams_xc4v.txt -D HAS_SIZE_36 "
    "-D HAS_CASCADE -D HAS_CONFLICT_BUG -D HAS_MIXWIDTH_SDP -logic-cost-rom 0.015625; "
    "setparam -set INIT 0 t:$__XILINX_BLOCKRAM_TDP_ t:$__XILINX_BLOCKRAM_SDP_; "
    "techmap -map +/xilinx/lutrams_xc5v_map.v; techmap -map +/xilinx/brams_xc6v_map.v")


# ecp5, gowin, xilinx: native LUTs only (-nowidelut), no LUT5-LUT8 built from LUT4 pairs
# and wide-function muxes (PFUMX/L6MUX21, MUX2_LUT5-8), nor LUT7-LUT8 from LUT6s and
# MUXF7/MUXF8. ABC9 maps for delay first, and with wide LUTs it spends them on every
# popcount tree: standalone engines came out 1.3-3.8 times their LUT4-only size, and up
# and down with no pattern (a Gowin engine of 2 x 48 leaves 646 LUTs, of 4 x 48 leaves
# 443; bench/widelut.py). On Xilinx it did the same to window generators' row
# multiplexers from 16 channels up (a 3 x 3 x 16 dense window: 291 LUTs and 144 MUXF7/F8
# against 146 LUTs). Native LUTs only, the blocks grow with the logic (BENCHMARKS.md,
# "Native LUTs only"); an always-on sensor network runs at tens of MHz, so area is what
# it is short of.
SYNTH_COMMANDS = {
    "ice40": ICE40_MAP_RAM + "; synth_ice40 -noflatten -top {top} -run map_ffram:",
    "ecp5": "synth_ecp5 -nowidelut -noflatten -top {top}",
    "xilinx": (XILINX_MAP_MEMORY
               + "; synth_xilinx -nowidelut -noiopad -noclkbuf -top {top} -run map_ffram:"),
    "gowin": "synth_gowin -nowidelut -noiopads -noflatten -top {top}",
    "asic": ("synth -noabc -top {top} -run :fine; opt -fast -full; opt -full; techmap; "
             "opt -fast; dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean"),
}


ASIC_MEMORIES = "memories.il"


STAT_COMMANDS = {"asic": f"stat -json -tech cmos; tee -q -o {ASIC_MEMORIES} dump t:$mem_v2"}


# yowasp's ABC9 sometimes aborts ("wasm trap: unreachable", or an internal assertion) on a
# netlist, reproducibly, whatever its -W or -maxlut: where the flow allows it, the design
# is then synthesized module by module (_module_by_module), and a module ABC9 crashes on
# is mapped with classic ABC to LUT4s instead (another mapper: results say which modules).
FALLBACK_COMMANDS = {
    "ice40": (ICE40_MAP_RAM + "; synth_ice40 -noflatten -top {top} -run map_ffram:map_luts; "
              "techmap -map +/ice40/latches_map.v; abc -lut 4; ice40_wrapcarry -unwrap; "
              "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
              "synth_ice40 -noflatten -top {top} -run map_cells:"),
    "ecp5": ("synth_ecp5 -nowidelut -noflatten -top {top} -run :map_luts; "
             "techmap -map +/lattice/latches_map.v; abc -lut 4; clean; "
             "synth_ecp5 -nowidelut -noflatten -top {top} -run map_cells:"),
    "gowin": ("synth_gowin -nowidelut -noiopads -noflatten -top {top} -run :map_luts; "
              "abc -lut 4; clean; "
              "synth_gowin -nowidelut -noiopads -noflatten -top {top} -run map_cells:"),
}


# Copies of a control register that drive groups of a wide register's enables (hw.fanout)
# carry `keep` on their wire; yosys's opt_merge merges identical flip-flops unless the cell
# has it, so it is set on the flip-flop driving each such wire, before synthesis.
KEEP_COPIES = "proc; setattr -set keep 1 a:keep %ci1:+[Q]"


def check_families(names: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise UserError(f"unknown family {unknown[0]!r}: choose from {', '.join(FAMILIES)}")
    if not names:
        raise UserError(f"no family given: choose from {', '.join(FAMILIES)}")
    return list(dict.fromkeys(names))


def yosys_script(family: str, top: str, verilog_name: str = "design.v",
                 fallback: bool = False, blackbox: tuple[str, ...] = ()) -> str:
    """The whole yosys script: read, synthesize `top` for `family`, write the stats as JSON.
    The modules in `blackbox` are emptied first: their instances stay cells of `top`."""
    synth = (FALLBACK_COMMANDS if fallback else SYNTH_COMMANDS)[family].format(top=top)
    stat = STAT_COMMANDS.get(family, "stat -json")
    boxes = f"blackbox {' '.join(blackbox)}; " if blackbox else ""
    return (f"read_verilog -sv {verilog_name}; {boxes}{KEEP_COPIES}; {synth}; "
            f"tee -q -o stat.json {stat}")


READ_VERILOG = "read_verilog -sv design.v"
