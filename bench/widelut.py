"""Popcount engines and window generators with and without wide LUTs: why gen.synth maps
ECP5, Gowin and Xilinx -nowidelut.

ECP5 and Gowin build LUT5-LUT8 from LUT4 pairs and wide-function muxes, Xilinx LUT7-LUT8
from LUT6s and MUXF7/MUXF8. Standalone unrolled engines (hw.engine.ConvEngine, bipolar,
unpruned, every threshold inside its range so no tree is constant) of O output channels
over `fan` inputs each, against iCE40's LUT4s; and on Xilinx, window generators
(hw.window.generator.WindowGenerator) too, whose row multiplexers ABC9 also spreads over MUXF7/F8.
Writes bench/results/widelut.{json,md}.

    nice .venv/bin/python bench/widelut.py          # ~15 min cold, seconds cached
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.factory import random_conv  # noqa: E402
from hw.engine import ConvEngine  # noqa: E402
from hw.window.generator import WindowGenerator  # noqa: E402
from gen.common import resources  # noqa: E402
from gen.synth import scripts  # noqa: E402
from gen.synth import yosys as synth  # noqa: E402


RESULTS = Path(__file__).resolve().parent / "results"
# yosys's default ECP5, Gowin and Xilinx flows (wide LUTs on), as gen.synth ran them before.
WIDE = {"ecp5-widelut": "synth_ecp5 -noflatten -top {top}",
        "gowin-widelut": "synth_gowin -noiopads -noflatten -top {top}",
        "xilinx-widelut": scripts.SYNTH_COMMANDS["xilinx"].replace("-nowidelut ", "")}
FLOWS = ["ice40", "ecp5", "ecp5-widelut", "gowin", "gowin-widelut", "xilinx",
         "xilinx-widelut"]
GRID = [(fan, o) for fan in (24, 48, 96) for o in (1, 2, 4)]
# (height, width, channels, kernel): 3x3 windows, and a dense layer's (the whole map).
WINDOW_GRID = [(8, 8, 4, 3), (8, 8, 16, 3), (8, 8, 64, 3), (6, 6, 8, 5), (3, 3, 16, 3),
               (3, 3, 128, 3)]


def engine_verilog(fan: int, outputs: int) -> str:
    rng = np.random.default_rng(fan * 100 + outputs)
    conv = random_conv(rng, "c", (1, 1, fan), out_channels=outputs, kernel=(1, 1),
                       stride=(1, 1), padding=(0, 0), groups=1, domain="bipolar", prune=0.0)
    conv.activation.thresholds[:] = fan // 2
    return verilog.convert(ConvEngine(conv), name="block")


def luts(text: str, flow: str) -> int:
    """LUTs, and on Xilinx the MUXF7/MUXF8 that join them into wider functions."""
    family = flow.split("-")[0]
    cls = resources.classify(family, synth.run_yosys(text, flow, "block").cells)
    return cls["lut"] + (cls["mux"] if family == "xilinx" else 0)


def main() -> int:
    scripts.SYNTH_COMMANDS.update(WIDE)   # extra flows for this comparison only
    for flow in WIDE:
        resources._RULES[flow] = resources._RULES[flow.split("-")[0]]
    rows = []
    for fan, o in tqdm(GRID, desc="engines", unit="engine"):
        text = engine_verilog(fan, o)
        rows.append({"fan": fan, "outputs": o, **{f: luts(text, f) for f in FLOWS}})
    windows = []
    for h, w, c, k in tqdm(WINDOW_GRID, desc="windows", unit="window"):
        text = verilog.convert(WindowGenerator(h, w, c, (k, k)), name="block")
        windows.append({"shape": [h, w, c], "kernel": k,
                        **{f: luts(text, f) for f in ("xilinx", "xilinx-widelut")}})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "widelut.json").write_text(json.dumps({"engines": rows, "windows": windows},
                                                     indent=1) + "\n")
    lines = ["`nice .venv/bin/python bench/widelut.py`", "",
             "| engine (outputs x inputs) | iCE40 | ECP5 LUT4s only | ECP5 wide LUTs | "
             "Gowin LUT4s only | Gowin wide LUTs | Xilinx LUT6s only | Xilinx wide LUTs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['outputs']} x {r['fan']} | {r['ice40']:,} | {r['ecp5']:,} | "
                     f"{r['ecp5-widelut']:,} ({r['ecp5-widelut'] / r['ecp5']:.2f}x) | "
                     f"{r['gowin']:,} | {r['gowin-widelut']:,} "
                     f"({r['gowin-widelut'] / r['gowin']:.2f}x) | {r['xilinx']:,} | "
                     f"{r['xilinx-widelut']:,} ({r['xilinx-widelut'] / r['xilinx']:.2f}x) |")
    lines += ["", "Xilinx counts are LUTs plus MUXF7/MUXF8 cells.", "",
              "| window generator (H x W x C, kernel) | Xilinx LUT6s only | Xilinx wide LUTs |",
              "|---|---:|---:|"]
    for r in windows:
        h, w, c = r["shape"]
        lines.append(f"| {h} x {w} x {c}, {r['kernel']} x {r['kernel']} | {r['xilinx']:,} | "
                     f"{r['xilinx-widelut']:,} ({r['xilinx-widelut'] / r['xilinx']:.2f}x) |")
    (RESULTS / "widelut.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
