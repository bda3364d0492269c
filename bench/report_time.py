"""Wall time of `bnngen report` (all five families, yosys cache off) on a model, and where
the time goes per family. Writes bench/results/report_time.{json,md}.

    nice .venv/bin/python bench/report_time.py [--model models/zoo/default.json] [--jobs N]
        [--plan PLAN]

With --plan the model is reported as that folding plan builds it (`bnngen report --plan`),
and the plan's estimate (`bnngen estimate --plan`) is set against yosys per family.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import description as fmt  # noqa: E402
from gen.build.design_source import load_source  # noqa: E402
from gen.common.resources import FAMILIES  # noqa: E402
from gen.plan.plan_file import load_plan, plan_estimate  # noqa: E402
from gen.synth.report import build_report, default_jobs, write_report  # noqa: E402


RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/zoo/default.json")
    ap.add_argument("--jobs", type=int, default=None,
                    help="yosys runs at once (default: bnngen report's, "
                         "gen.synth.report.default_jobs)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--plan", help="report the model built as this plan (from `bnngen plan`)")
    args = ap.parse_args()
    fams = args.families.split(",")
    args.jobs = args.jobs or default_jobs(fams)
    start = time.perf_counter()
    src = load_source(args.model, args.plan)
    elaborate_s = time.perf_counter() - start
    rep = build_report(src, fams, use_cache=False, progress=True, jobs=args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(rep, Path(tmp) / "report")
    total = time.perf_counter() - start
    row = {"model": args.model, "plan": args.plan, "families": fams, "jobs": args.jobs,
           "cpus": os.cpu_count(),
           "load_average_at_end": os.getloadavg()[0], "elaborate_seconds": round(elaborate_s, 1),
           "yosys_seconds": {f: rep["results"][f]["yosys_seconds"] for f in fams},
           "total_seconds": round(total, 1),
           "total_luts": {f: rep["results"][f]["total"].get("lut") for f in fams if f != "asic"}}
    fpga = [f for f in fams if f != "asic"]
    row["yosys"] = {f: {layer: {k: r.get(k) for k in ("lut", "ff", "bram")}
                        for layer, r in [*rep["results"][f]["layers"].items(),
                                         ("total", rep["results"][f]["total"])]}
                    for f in fpga}
    if args.plan and fpga:
        est = plan_estimate(fmt.load(args.model), load_plan(args.plan), fpga)["estimate"]
        row["estimate"] = {f: {**est[f]["layers"], "total": est[f]["total"]} for f in fpga}
        row["lut_error"] = {f: round(est[f]["total"]["lut"] / row["total_luts"][f] - 1, 4)
                            for f in fpga}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_time.json").write_text(json.dumps(row, indent=1) + "\n")
    plan = f" --plan {args.plan}" if args.plan else ""
    md = (f"`nice .venv/bin/python bench/report_time.py --model {args.model} --jobs {args.jobs}"
          f"{plan}`"
          f": {row['total_seconds']:.0f} s in all on {row['cpus']} cores (load average "
          f"{row['load_average_at_end']:.1f} at the end); elaboration "
          f"{row['elaborate_seconds']:.0f} s; yosys per family (s): "
          + ", ".join(f"{f} {s:.0f}" for f, s in row["yosys_seconds"].items()))
    if "estimate" in row:
        md += "\n\n| family | yosys LUT | plan estimate | error | yosys BRAM | estimate |\n"
        md += "|---|---:|---:|---:|---:|---:|\n"
        for f in fpga:
            y, e = row["yosys"][f]["total"], row["estimate"][f]["total"]
            md += (f"| {f} | {y['lut']:,} | {e['lut']:,} | {row['lut_error'][f]:+.1%} | "
                   f"{y['bram']} | {e['bram']} |\n")
    (RESULTS / "report_time.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
