"""`bnngen explore FILE`: throughput against LUTs and BRAMs, the Pareto front of the plans
the planner makes for targets from fully unrolled to fully folded.

Writes explore.json (every plan's interval and estimated cost, the front marked),
explore.md (the front as a table) and explore.png (LUT and BRAM against cycles per
frame) into a folder, atomically: a temporary folder renamed into place.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from models import description as fmt
from models.errors import UserError

from gen.cli.plan_cmd import add_target_options, check_clock
from gen.common.staging import check_output_folder, staged_folder
from gen.plan.explore import explore, markdown, plot
from gen.cli.args import MODEL_HELP, model_arg


MAX_POINTS = 1000


def register(sub) -> None:
    p = sub.add_parser("explore", help="throughput vs LUT/BRAM Pareto front (table + plot)",
                       description=__doc__)
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    add_target_options(p, target=False)
    p.add_argument("--points", type=int, default=16, help="targets to plan (default 16)")
    p.add_argument("-o", "--output", default="explore",
                   help="output folder (default explore; an existing folder is replaced only "
                        "if bnngen wrote it)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if bnngen did not write it")
    p.set_defaults(func=run_explore)


def run_explore(args) -> int:
    if args.points < 2:
        raise UserError(f"--points must be at least 2, not {args.points}")
    if args.points > MAX_POINTS:
        raise UserError(f"--points must be at most {MAX_POINTS}, not {args.points}")
    check_clock(args.clock)
    check_output_folder(args.output, "explore", force=args.force, inputs=[args.file])
    desc = fmt.load(args.file)
    rows = explore(desc, family=args.family, device=args.device, memory=args.memory,
                   points=args.points, clock_mhz=args.clock, fold=args.fold_all,
                   progress=sys.stderr.isatty())
    family = args.family or ("from " + args.device if args.device else "ecp5")
    out = Path(args.output)
    with staged_folder(out, "explore", force=args.force, inputs=[args.file]) as tmp:
        (tmp / "explore.json").write_text(json.dumps(
            {"model": desc.name, "family": family, "plans": rows}, indent=1) + "\n")
        table = markdown(desc, rows, family)
        (tmp / "explore.md").write_text(table)
        plot(rows, tmp / "explore.png", f"{desc.name}: throughput vs resources")
    print(table, end="")
    print(f"written to {out}/ (explore.json, explore.md, explore.png)")
    return 0
