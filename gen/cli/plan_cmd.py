"""`bnngen plan FILE`: choose every layer's folding for a throughput target, print the plan
table and write the plan JSON (which `bnngen build FILE --plan PLAN` builds)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from models import description as fmt

from gen.common.devices import DEVICES
from gen.common.resources import FPGA_FAMILIES as FAMILIES
from gen.common.staging import check_output_file, write_file_atomic
from gen.plan.plan_file import plan_table
from gen.plan.search import (LOGIC_FILL, OBJECTIVES, STYLES, check_positive, plan_network,
                             target_cycles)
from gen.cli.args import MODEL_HELP, model_arg


def add_target_options(p, target: bool = True) -> None:
    """--cycles / --fps (if `target`), --clock, --device, --family, --memory (shared with
    explore)."""
    if target:
        p.add_argument("--cycles", type=int, help="target initiation interval, cycles/frame")
        p.add_argument("--fps", type=float, help="target frames per second (with --clock)")
    p.add_argument("--clock", type=float, metavar="MHZ", help="clock frequency in MHz")
    p.add_argument("--device", help=f"device budget: {', '.join(DEVICES)} (ECP5 also with a "
                   "speed grade, e.g. ecp5-85f-8: the default is -6, the slowest)")
    p.add_argument("--family", choices=FAMILIES, default=None,
                   help="FPGA family for the estimates when no --device (default ecp5)")
    p.add_argument("--memory", choices=STYLES, default="auto",
                   help="weight memories of folded layers: block RAM, LUT-RAM, or cheaper")
    p.add_argument("--fold-all", action="store_true",
                   help="fold every convolution, even where unrolled would be cheaper")


def register(sub) -> None:
    p = sub.add_parser("plan", help="choose each layer's folding for a throughput target",
                       description=__doc__)
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    add_target_options(p)
    p.add_argument("--objective", choices=OBJECTIVES, default="balanced",
                   help="on a --device: keep the larger of the LUT and BRAM utilizations "
                        "least (balanced, default), or spend BRAMs to keep LUTs and "
                        "flip-flops least (logic: shorter routes at a demanding clock)")
    p.add_argument("-o", "--output", help="write the plan JSON here (an existing file only "
                                           "if it is a plan)")
    p.add_argument("--force", action="store_true",
                   help="replace the output file even if it is not a plan")
    p.set_defaults(func=run_plan)


def check_clock(clock: float | None) -> None:
    check_positive(clock, "--clock")


def is_plan_file(path: Path) -> bool:
    """A file `bnngen plan -o` may replace: an earlier plan."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"format": "bnngen-plan"' in head


def run_plan(args) -> int:
    cycles = target_cycles(args.cycles, args.fps, args.clock)
    if args.output is not None:
        check_output_file(args.output, is_plan_file, force=args.force, inputs=[args.file])
    desc = fmt.load(args.file)
    plan = plan_network(desc, cycles, family=args.family, device=args.device,
                        memory=args.memory, clock_mhz=args.clock, fold=args.fold_all,
                        objective=args.objective)
    print(plan_table(plan), end="")
    if args.objective == "logic" and plan.device and not plan.within(LOGIC_FILL):
        print(f"bnngen: note: the plan takes more than {LOGIC_FILL:.0%} of {plan.device}'s "
              "LUTs or BRAMs", file=sys.stderr)
    if args.output is not None:
        write_file_atomic(args.output, json.dumps(plan.to_dict(), indent=1,
                                                  allow_nan=False) + "\n")
        print(f"plan written to {args.output}")
    if not plan.fits:
        print(f"bnngen: error: the plan does not fit {plan.device} (see the total)",
              file=sys.stderr)
        return 1
    return 0
