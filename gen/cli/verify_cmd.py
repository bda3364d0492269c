"""`bnngen verify MODEL [--plan PLAN] --images N|all`: the command line of
gen.simulate.verify."""

from __future__ import annotations

import os

from models import description as fmt
from models.errors import UserError

from gen.simulate.verify import DATASETS, SIMULATORS, dataset_images, verify
from gen.cli.args import MODEL_HELP, model_arg


def register(sub) -> None:
    p = sub.add_parser("verify", help="run test images through the model's Verilog (the "
                                      "self-checking bench) and compare every bit with the "
                                      "golden model")
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    p.add_argument("--plan", metavar="PLAN", help="folding plan from `bnngen plan` (default: "
                                                  "every layer unrolled)")
    p.add_argument("--build", metavar="DIR", help="use this `bnngen build` folder instead of "
                                                  "building (its manifest must name the model)")
    p.add_argument("--images", default="1000", metavar="N|all",
                   help="how many test images (default %(default)s)")
    p.add_argument("--dataset", default="fashion-mnist", choices=DATASETS,
                   help="test images (default %(default)s); `random`: seeded random inputs "
                        "of the model's shape, no labels")
    p.add_argument("--simulator", default="verilator", choices=SIMULATORS)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="J",
                   help="simulations side by side, each on a slice of the images "
                        "(default %(default)s)")
    p.add_argument("--gap", type=int, default=0, metavar="PCT",
                   help="percent of cycles the source pauses (default 0: back to back)")
    p.add_argument("--stall", type=int, default=0, metavar="PCT",
                   help="percent of cycles the sink refuses a result (default 0)")
    p.add_argument("--seed", type=int, default=1, help="seed of the pauses and of `random`")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    for name in ("gap", "stall"):
        if not 0 <= getattr(args, name) <= 99:
            raise UserError(f"--{name} must be a percentage from 0 to 99, got "
                            f"{getattr(args, name)}")
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    desc = fmt.load(args.file)
    plan = None
    if args.plan:
        from gen.plan.plan_file import load_checked_plan
        plan = load_checked_plan(args.plan, desc)
    images, labels = dataset_images(desc, args.dataset, args.images, args.seed)
    return verify(desc, images, labels, plan=plan, build_dir=args.build,
                  simulator=args.simulator, jobs=args.jobs, gap=args.gap, stall=args.stall,
                  seed=args.seed, what=f"{args.dataset} test images")
