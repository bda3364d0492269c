"""`bnngen build FILE -o DIR`: Verilog for the top and every layer, plus the manifest."""

from __future__ import annotations

import json
import sys

from models import description as fmt
from models.errors import UserError

from gen.build.emit import DEFAULT_TOP, build
from gen.common.staging import check_output_folder
from gen.cli.args import MODEL_HELP, model_arg


def register(sub) -> None:
    p = sub.add_parser("build", help="emit Verilog (top + one module per layer) and a "
                                     "manifest for a model description")
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output folder (replaced atomically; an existing folder only if "
                        "bnngen wrote it)")
    p.add_argument("--top", default=DEFAULT_TOP, help="top module name (default %(default)s)")
    p.add_argument("--popcount-stages", type=int, default=1, metavar="N",
                   help="register stages inside each popcount tree (default %(default)s)")
    p.add_argument("--plan", metavar="PLAN",
                   help="folding plan from `bnngen plan` (default: every layer unrolled)")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="the clock written into the constraint files (default: the plan's, "
                        "else 100)")
    p.add_argument("--control", action="store_true",
                   help="add the AXI4-Lite control port (status, soft reset, run-time "
                        "thresholds) and its C header")
    p.add_argument("--testbench", type=int, metavar="N",
                   help="write a self-checking Verilog bench (tb/, no Python needed) on N "
                        "test images: Fashion-MNIST's where the input fits, else seeded "
                        "random ones")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if bnngen did not write it")
    p.set_defaults(func=cmd_build)


def cmd_build(args) -> int:
    if args.clock is not None and not 0 < args.clock < float("inf"):
        raise UserError(f"--clock must be a positive number of MHz, not {args.clock:g}")
    if args.popcount_stages < 0:
        raise UserError(f"--popcount-stages must be >= 0, got {args.popcount_stages}")
    inputs = [args.file] + ([args.plan] if args.plan else [])
    check_output_folder(args.output, "build", force=args.force, inputs=inputs)
    desc = fmt.load(args.file)
    plan = None
    if args.plan:
        from gen.plan.plan_file import load_checked_plan
        plan = load_checked_plan(args.plan, desc)
    bench = None if args.testbench is None else bench_images(desc, args.testbench)
    out = build(desc, args.output, top=args.top, stages=args.popcount_stages,
                progress=sys.stderr.isatty(), plan=plan, force=args.force, inputs=inputs,
                clock_mhz=args.clock, control=args.control, bench=bench)
    man = json.loads((out / "manifest.json").read_text())
    print(f"{out}/{args.top}.v: {man['name']}, {len(man['layers'])} blocks, "
          f"{man['cycles_per_frame']} cycles per frame "
          f"({'one pixel per clock' if man['one_pixel_per_clock'] else 'below one pixel/clock'}), "
          f"latency {man['latency_cycles']} cycles")
    if bench is not None:
        print(f"{out}/tb/{args.top}_tb.v: self-checking bench on {len(bench[0])} {bench[1]} "
              f"(docs/verification.md)")
    return 0


def bench_images(desc, count: int):
    """(images, where they come from) for `--testbench N`."""
    from gen.simulate.verify import dataset_images
    fashion = desc.input.shape == (28, 28, 1) and desc.input.bits == 8
    images = dataset_images(desc, "fashion-mnist" if fashion else "random", str(count), 0,
                            "--testbench")[0]
    return images, "Fashion-MNIST test images" if fashion else "seeded random inputs (seed 0)"
