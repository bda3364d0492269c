"""`bnngen plan FILE`: choose every layer's folding for a throughput target, print the plan
table and write the plan JSON (which `bnngen build FILE --plan PLAN` builds)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from models import description as fmt

from .plan import DEVICES, STYLES, plan_network, plan_table, target_cycles
from .resources import FPGA_FAMILIES as FAMILIES


def add_target_options(p, target: bool = True) -> None:
    """--cycles / --fps (if `target`), --clock, --device, --family, --memory (shared with
    explore)."""
    if target:
        p.add_argument("--cycles", type=int, help="target initiation interval, cycles/frame")
        p.add_argument("--fps", type=float, help="target frames per second (with --clock)")
    p.add_argument("--clock", type=float, metavar="MHZ", help="clock frequency in MHz")
    p.add_argument("--device", help=f"device budget: {', '.join(DEVICES)}")
    p.add_argument("--family", choices=FAMILIES, default=None,
                   help="FPGA family for the estimates when no --device (default ecp5)")
    p.add_argument("--memory", choices=STYLES, default="auto",
                   help="weight memories of folded layers: block RAM, LUT-RAM, or cheaper")
    p.add_argument("--fold-all", action="store_true",
                   help="fold every convolution, even where unrolled would be cheaper")


def register(sub) -> None:
    p = sub.add_parser("plan", help="choose each layer's folding for a throughput target",
                       description=__doc__)
    p.add_argument("file", help="model description (JSON)")
    add_target_options(p)
    p.add_argument("-o", "--output", help="write the plan JSON here")
    p.set_defaults(func=run_plan)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_plan(args) -> int:
    desc = fmt.load(args.file)
    cycles = target_cycles(args.cycles, args.fps, args.clock)
    plan = plan_network(desc, cycles, family=args.family, device=args.device,
                        memory=args.memory, clock_mhz=args.clock, fold=args.fold_all)
    print(plan_table(plan), end="")
    if args.output:
        write_atomic(Path(args.output), json.dumps(plan.to_dict(), indent=1) + "\n")
        print(f"plan written to {args.output}")
    if not plan.fits:
        print(f"bnngen: error: the plan does not fit {plan.device} (see the total)",
              file=sys.stderr)
        return 1
    return 0
