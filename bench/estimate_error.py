"""The estimator's error against yosys: total LUTs (within 15% is the bar) and BRAM counts
(must be equal) per family, on small factory descriptions the fit never saw (seeds 0-9:
at most 6x6 inputs, 8 channels, 1-2 convolutions before the dense classifier) and,
with --shipped, on the shipped model as its committed folding plan builds it (fully
unrolled it is ~0.5 M LUTs and hours of yosys; `bnngen estimate --plan` against the
planned build). Writes bench/results/estimate_error.{json,md}.

    nice .venv/bin/python bench/estimate_error.py [--shipped] [--seeds 0-9]
    nice .venv/bin/python bench/estimate_error.py --shipped --seeds "" --merge   # shipped row only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import description as fmt  # noqa: E402
from models import factory  # noqa: E402
from gen.estimate.estimator import block_cost, estimate  # noqa: E402
from gen.plan.plan_file import load_plan, plan_estimate  # noqa: E402
from gen.synth.estimate_check import yosys_blocks  # noqa: E402
from gen.synth.yosys import SynthError  # noqa: E402


FAMILIES = ["ice40", "ecp5", "xilinx", "gowin"]
SHIPPED = "models/zoo/default.json"
SHIPPED_PLAN = "bench/results/default-plan-25f-1000fps.json"   # 1000 fps at 50 MHz on a 25F
RESULTS = Path(__file__).resolve().parent / "results"


# The evaluation nets: small (shared 2-core machines), seeds disjoint from the fit's.
SMALL = {"height": 6, "width": 6, "max_channels": 8}


def small_description(seed: int):
    return factory.random_description(seed, convs=1 + seed % 2, **SMALL)


def seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def compare(desc, cached_only: bool = False, plan=None) -> dict:
    t = time.perf_counter()
    est = plan_estimate(desc, plan, FAMILIES) if plan else estimate(desc, FAMILIES)
    est_s = time.perf_counter() - t
    got = yosys_blocks(desc, FAMILIES, cached_only=cached_only, plan=plan)
    name = f"{desc.name} (planned)" if plan else desc.name
    row = {"design": name, "estimate_seconds": round(est_s, 4), "families": {}}
    for fam in FAMILIES:
        e, y = est["estimate"][fam]["total"], got[fam]["total"]
        row["families"][fam] = {
            "lut_est": e["lut"], "lut_yosys": y["lut"],
            "lut_err": round((e["lut"] - y["lut"]) / max(1, y["lut"]), 4),
            "ff_est": e["ff"], "ff_yosys": y["ff"],
            "bram_est": e["bram"], "bram_yosys": y["bram"],
            "lutram_est": e["lutram"], "lutram_yosys": y["lutram"],
            "mapper": got[fam]["mapper"],
            "fallback_modules": got[fam]["fallback_modules"],
            "kinds": by_kind(got[fam]["blocks"], fam)}
    return row


def by_kind(blocks, family: str) -> dict[str, list[int]]:
    """LUTs per block kind: [estimate, yosys], each block's fitted cost against its module's
    cells (where the error of a total comes from)."""
    out: dict[str, list[int]] = {}
    for _, block, got in blocks:
        acc = out.setdefault(block.kind, [0, 0])
        acc[0] += round(block_cost(block, family)["lut"])
        acc[1] += got["lut"]
    return out


def kind_table(rows: list[dict]) -> list[str]:
    """Per family and block kind, LUTs summed over the unplanned nets that ABC9 mapped."""
    sums: dict = {}
    for r in rows:
        for f in FAMILIES:
            x = r["families"][f]
            if "(planned)" in r["design"] or x.get("mapper", "abc9") != "abc9":
                continue
            for kind, (e, y) in x.get("kinds", {}).items():
                acc = sums.setdefault(kind, {}).setdefault(f, [0, 0])
                acc[0] += e
                acc[1] += y
    if not sums:
        return []
    lines = ["", "LUTs by block kind, summed over the factory nets above (ABC9 runs only), "
             "estimate/yosys (error):", "",
             "| block kind | " + " | ".join(FAMILIES) + " |", "|---|" + "---:|" * len(FAMILIES)]
    for kind, per in sorted(sums.items()):
        cells = [f"{per[f][0]:,}/{per[f][1]:,} ({(per[f][0] - per[f][1]) / max(1, per[f][1]):+.1%})"
                 if f in per else "" for f in FAMILIES]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return lines


def markdown(rows: list[dict], command: str) -> str:
    lines = [f"`{command}`", "",
             "| design | " + " | ".join(f"{f} LUT est/yosys (err)" for f in FAMILIES)
             + " | BRAM est/yosys (" + "/".join(FAMILIES) + ") |",
             "|---|" + "---:|" * len(FAMILIES) + "---|"]
    worst = dict.fromkeys(FAMILIES, 0.0)
    worst_abc9 = dict.fromkeys(FAMILIES, 0.0)
    bram_ok = True
    for r in rows:
        cells = []
        for f in FAMILIES:
            x = r["families"][f]
            worst[f] = max(worst[f], abs(x["lut_err"]))
            fallback = x.get("mapper", "abc9") != "abc9"
            if not fallback:
                worst_abc9[f] = max(worst_abc9[f], abs(x["lut_err"]))
            cells.append(f"{x['lut_est']:,}/{x['lut_yosys']:,} ({x['lut_err']:+.1%})"
                         + (" †" if fallback else ""))
        brams = [f"{r['families'][f]['bram_est']}/{r['families'][f]['bram_yosys']}"
                 for f in FAMILIES]
        bram_ok &= all(r["families"][f]["bram_est"] == r["families"][f]["bram_yosys"]
                       for f in FAMILIES)
        lines.append(f"| {r['design']} | " + " | ".join(cells) + " | " + " ".join(brams) + " |")
    lines += ["", "worst |LUT error|: " + ", ".join(f"{f} {worst[f]:.1%}" for f in FAMILIES)
              + f"; BRAM counts {'all equal' if bram_ok else 'NOT all equal'}; estimate time "
              f"max {max(r['estimate_seconds'] for r in rows) * 1000:.0f} ms."]
    if worst != worst_abc9:
        crashed = sorted({m for r in rows for f in FAMILIES
                          for m in r["families"][f].get("fallback_modules", [])})
        lines += ["", "† yosys's ABC9 crashed on this net and family: gen.synth synthesized "
                  "it module by module and mapped the module ABC9 crashes on with classic ABC "
                  f"(LUT4s, no delay target; here {', '.join(crashed) or 'the whole net'}). "
                  "Worst |LUT error| without those: "
                  + ", ".join(f"{f} {worst_abc9[f]:.1%}" for f in FAMILIES) + "."]
    return "\n".join(lines + kind_table(rows))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--shipped", action="store_true", help="also the shipped model (slow)")
    ap.add_argument("--model", default=SHIPPED, help="the shipped model (with --shipped)")
    ap.add_argument("--plan", default=SHIPPED_PLAN, help="its folding plan (with --shipped)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of estimate_error.json that this run does not redo")
    ap.add_argument("--cached-only", action="store_true",
                    help="only nets whose yosys results are already cached")
    args = ap.parse_args()
    descs = [(small_description(s), None) for s in seeds(args.seeds)] if args.seeds else []
    if args.shipped:
        descs.append((fmt.load(args.model), load_plan(args.plan)))
    rows = []
    for d, plan in descs:
        try:
            rows.append(compare(d, args.cached_only, plan))
        except SynthError as e:
            print(f"skipped {d.name}: {e}", file=sys.stderr)
            continue
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    if args.merge and (RESULTS / "estimate_error.json").exists():
        redone = {r["design"] for r in rows}
        kept = [r for r in json.loads((RESULTS / "estimate_error.json").read_text())
                if r["design"] not in redone]
        rows = kept + rows   # one shipped row: the one this run measured, if any
    rows.sort(key=lambda r: "(planned)" in r["design"])   # factory nets first (stable)
    (RESULTS / "estimate_error.json").write_text(json.dumps(rows, indent=1) + "\n")
    cmd = "nice .venv/bin/python bench/estimate_error.py " + " ".join(sys.argv[1:])
    md = markdown(rows, cmd.strip())
    (RESULTS / "estimate_error.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
