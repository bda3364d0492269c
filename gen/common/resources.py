"""Sort a family's synthesized cells into the resource classes a hardware team budgets.

Classes: lut, ff, carry, bram, lutram, dsp, mux (wide-function muxes such as PFUMX/MUXF7,
which use no LUT of their own), other. BRAM is counted in the family's native block
(ice40 SB_RAM40_4K 4 kbit, ECP5 DP16KD 18 kbit, Gowin BSRAM 18 kbit); Xilinx BRAM is
counted in RAMB18 units (a RAMB36 is two). An inverter on Xilinx is a LUT1.
"""

from __future__ import annotations

import re

# The families bnngen synthesizes and estimates: FPGAs, and a generic gate library (asic).
FPGA_FAMILIES = ("ice40", "ecp5", "xilinx", "gowin")
FAMILIES = FPGA_FAMILIES + ("asic",)
CLASSES = ("lut", "ff", "carry", "bram", "lutram", "dsp", "mux", "other")

# Ordered (pattern, class, weight) rules per family: the first full match wins.
_RULES: dict[str, list[tuple[str, str, int]]] = {
    "ice40": [
        (r"SB_LUT4", "lut", 1), (r"SB_DFF\w*", "ff", 1), (r"SB_CARRY", "carry", 1),
        (r"SB_RAM40_4K\w*|SB_SPRAM256KA", "bram", 1), (r"SB_MAC16", "dsp", 1),
    ],
    "ecp5": [
        (r"LUT4", "lut", 1), (r"TRELLIS_FF", "ff", 1), (r"CCU2C", "carry", 1),
        (r"DP16KD|PDPW16KD", "bram", 1), (r"TRELLIS_DPR16X4", "lutram", 1),
        (r"MULT18X18D|ALU54B", "dsp", 1), (r"PFUMX|L6MUX21", "mux", 1),
    ],
    "xilinx": [
        (r"LUT[1-6]|INV", "lut", 1), (r"FD[A-Z]*", "ff", 1), (r"CARRY(4|8)", "carry", 1),
        (r"RAMB36E\d", "bram", 2), (r"RAMB18E\d", "bram", 1),
        (r"RAM\d+M|RAM\d+X\d+[SD]\w*|SRL\w*", "lutram", 1), (r"DSP48\w*", "dsp", 1),
        (r"MUXF[78]", "mux", 1),
    ],
    "gowin": [
        (r"LUT[1-4]", "lut", 1), (r"DFF\w*", "ff", 1), (r"ALU", "carry", 1),
        (r"(DP|SP|SDP)(X9)?B?|pROM(X9)?", "bram", 1), (r"RAM16S\w*", "lutram", 1),
        (r"MULT\w*|ALU54D|PADD\w*", "dsp", 1), (r"MUX2_LUT[5-8]", "mux", 1),
        (r"GND|VCC", "none", 0),
    ],
    "asic": [
        (r"\$_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR|DFFSRE)\w*_", "ff", 1),
        (r"\$_\w+_", "other", 1),
    ],
}


def classify(family: str, cells: dict[str, int]) -> dict[str, int]:
    """Counts per class (every class present, zeros included) for one family's cells."""
    out = dict.fromkeys(CLASSES, 0)
    rules = [(re.compile(p), c, w) for p, c, w in _RULES[family]]
    for name, count in cells.items():
        for pat, cls, weight in rules:
            if pat.fullmatch(name):
                if cls != "none":
                    out[cls] += weight * count
                break
        else:
            out["other"] += count
    return out


def unknown_cells(family: str, cells: dict[str, int]) -> list[str]:
    """Cell types no rule recognizes (a hint that the table needs a new entry)."""
    rules = [re.compile(p) for p, _, _ in _RULES[family]]
    return sorted(n for n in cells if not any(r.fullmatch(n) for r in rules))
