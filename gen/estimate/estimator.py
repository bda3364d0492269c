"""`bnngen estimate`: LUT, FF, BRAM and LUT-RAM per layer and family, in milliseconds.

Every hardware block answers for its own cost (FINN style): gen.estimate.layer_blocks
counts its structure (adder bits, comparator bits, register bits, line buffers),
gen.estimate.memory_map decides where yosys puts each line buffer, and per-family
coefficients turn the counts into LUTs and FFs. The coefficients
(gen/estimate/estimate_coeffs.json) were fitted against yosys:
encoder and unrolled engines on factory networks by `bench/estimate_fit.py`, window
generators, window ORs, folded engines, FIFOs and the framing checker on standalone modules
by `bench/fit_blocks.py`;
`bench/estimate_error.py` states the error against yosys on descriptions no fit saw.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path

from models.description import Description

from gen.estimate.blocks import Block, int_bits
from gen.estimate.cell_cost import (LUT_INPUTS, bank_cost, memory_cost, mux_luts, or_luts,
                                    rom_cost, rom_features)
from gen.estimate.layer_blocks import layer_blocks
from gen.estimate.memory_map import map_memory


COEFFS_PATH = Path(__file__).with_name("estimate_coeffs.json")
METRICS = ("lut", "ff", "bram", "lutram")


@lru_cache(maxsize=1)
def coefficients() -> dict:
    return json.loads(COEFFS_PATH.read_text())


def block_features(block: Block, family: str) -> dict[str, dict[str, float]]:
    """The features of one block on one family, per fitted metric (lut, ff)."""
    mem = memory_cost(family, block.memories)
    banks = bank_cost(family, block.banks)
    lut = dict(block.features)
    if block.muxes or banks["muxes"]:
        lut["mux_luts"] = mux_luts(family, block.muxes + banks["muxes"])
    if block.ors:
        lut["or_luts"] = or_luts(family, block.ors)
    if block.logic_roms:
        lut.update(rom_features(block.logic_roms))
    if block.roms:
        lut["rom_mux_luts"] = rom_cost(family, block.roms)["mux_luts"]
    ff = {"ff": block.ff + banks["ff"], "one": 1}
    if block.kind == "window" and mem["lutram"]:
        # The line buffers' read ports are not transparent (hw/window/generator.py): a LUT-RAM line
        # buffer has no bypass multiplexer on its read data, one LUT per bit less than the
        # transparent ports the window coefficients were fitted on (measured on ECP5, Gowin
        # and Xilinx: 14x14x128 2x2 pool -257..-261, 28x28x64 3x3 window -192..-195).
        # A refit (bench/fit_blocks.py --kinds window) replaces this correction.
        lut["read_bypass_bits"] = -sum(w for _, w in block.memories)
    if block.kind == "window":
        # The handshakes' flag registers (hw/window/generator.py: row differences with next-cycle
        # candidates, column comparisons), more LUTs than the counters the window
        # coefficients were fitted on (measured per window generator, yosys, old against
        # new: Xilinx +7..+45, ECP5 +12..+24, iCE40 +8..+37). A refit (bench/fit_blocks.py
        # --kinds window) replaces this correction.
        lut["flag_bookkeeping"] = 1
    if block.rotation and wide_rotation(family, block.rotation[1]):
        # The row rotation's kh-way multiplexer with its select bits and the pad select
        # does not fit one LUT: a LUT6 takes up to three rows with their 2-bit bank index,
        # and the fitted `mux_luts` coefficient (0.11 a LUT on Xilinx) is that of those
        # nearly free multiplexers; from 4 rows on each bit spills into a second LUT, and
        # a 3-bit bank index (mod-kh sums of each row's bank, a decoded select) adds logic
        # per window. Measured on the rotating 5-row windows of bench/fit_blocks.py on
        # Xilinx (least squares weighted by 1/yosys, the coefficients alone): +38 LUTs a
        # window, +0.71 a row-multiplexer bit (LUT4 families: ~0, their `mux_luts` counts
        # k-1 LUT4s a bit already). A refit (bench/fit_blocks.py --kinds window) replaces
        # this correction.
        lut["wide_rotation"] = 1
        lut["wide_rotation_bits"] = block.rotation[0]
    if block.kind == "fifo":
        # A FIFO deeper than one RAM cell reads through a multiplexer over its cells; one
        # in block RAM pays per bit for what yosys adds around the RAM's read port
        # (measured: about a LUT and a flip-flop a bit on ECP5 and Gowin, none on Xilinx).
        maps = [(map_memory(family, d, w), w) for d, w in block.memories]
        lut["read_mux_luts"] = mux_luts(family, [(w, m.ways) for m, w in maps
                                                 if m.kind != "logic" and m.ways > 1])
        lut["block_out_bits"] = ff["block_out_bits"] = sum(w for m, w in maps
                                                           if m.kind == "block")
    if block.memories:
        # A LUT-RAM cell is counted as LUT-RAM, not LUT: only its address and enable
        # logic costs LUTs; a memory in soft logic costs its read multiplexers.
        lut["logic_mem_bits"] = mem["logic_mem_bits"]
        lut["lutram"] = mem["lutram"]
        ff["logic_mem_bits"] = mem["logic_mem_bits"]
        ff["lutram_out_bits"] = sum(w for d, w in block.memories) if mem["lutram"] else 0
    return {"lut": lut, "ff": ff}


def wide_rotation(family: str, ways: int) -> bool:
    """A `ways`-way row multiplexer, its select (the bank index) and the pad select need
    more inputs than one LUT of `family` has."""
    return ways + int_bits(ways - 1) + 1 > LUT_INPUTS.get(family, 4)


def block_cost(block: Block, family: str, coeffs: dict | None = None) -> dict[str, float]:
    coeffs = coeffs or coefficients()
    feats = block_features(block, family)
    mem = memory_cost(family, block.memories)
    out = {"bram": mem["bram"] + rom_cost(family, block.roms)["bram"],
           "lutram": mem["lutram"] + bank_cost(family, block.banks)["lutram"]}
    for metric in ("lut", "ff"):
        c = coeffs[family][block.kind][metric]
        out[metric] = sum(c.get(k, 0.0) * v for k, v in feats[metric].items())
    return out


def estimate(desc: Description, families: list[str], stages: int = 1,
             choices: dict | None = None, ii: int | None = None) -> dict:
    """Per layer and family: lut, ff, bram, lutram; plus totals and the time it took. Each
    layer is built as `choices` says (layer name -> hw.folded.planned.LayerChoice, a folding
    plan's: gen.plan.plan_file.plan_estimate); any other layer is unrolled. `ii`: the
    network's initiation interval, which sizes the input pacer (a plan's, needed with
    `choices`; None: the unrolled network's)."""
    start = time.perf_counter()
    coeffs = coefficients()
    layers = layer_blocks(desc, stages, choices, ii)
    result = {"design": desc.name, "families": list(families), "layers": [n for n, _ in layers],
              "estimate": {}}
    for fam in families:
        rows = {}
        for name, blocks in layers:
            acc = dict.fromkeys(METRICS, 0.0)
            for b in blocks:
                for k, v in block_cost(b, fam, coeffs).items():
                    acc[k] += v
            rows[name] = {k: int(round(v)) for k, v in acc.items()}
        total = {k: sum(r[k] for r in rows.values()) for k in METRICS}
        result["estimate"][fam] = {"layers": rows, "total": total}
    result["seconds"] = round(time.perf_counter() - start, 4)
    return result


def estimate_table(est: dict) -> str:
    """A plain-text table: one row per layer, LUT/FF/BRAM/LUT-RAM per family."""
    fams = est["families"]
    head = f"{'layer':<12}" + "".join(f"{f + ' lut/ff/bram/lutram':>34}" for f in fams)
    lines = [f"estimate of {est['design']} (analytical, {est['seconds'] * 1000:.0f} ms)", head,
             "-" * len(head)]
    for name in [*est["layers"], "total"]:
        cells = []
        for f in fams:
            e = est["estimate"][f]
            r = e["total"] if name == "total" else e["layers"][name]
            cells.append(f"{r['lut']:>10,}/{r['ff']:>7,}/{r['bram']:>4}/{r['lutram']:>5}".rjust(34))
        lines.append(f"{name:<12}" + "".join(cells))
    return "\n".join(lines)
