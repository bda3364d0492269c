"""`bnngen demo`: the main job on the shipped default model, end to end, in minutes: layer
table, a plan for a small FPGA with its estimate, the planned Verilog with a self-checking
bench, and real Fashion-MNIST test images through that Verilog on Verilator, whose accuracy
must equal the golden model's bit for bit. (The fully unrolled model is covered by the
regression, sim/test_shipped.py.)"""

from __future__ import annotations

import json
import os
import sys
import time

from models import description as fmt
from models.errors import UserError

from models.info import layer_table
from gen.build.emit import DEFAULT_TOP, build
from gen.cli.build_cmd import bench_images
from gen.cli.model_cmd import DEFAULT_MODEL, golden_accuracy
from gen.common.staging import check_output_folder
from gen.plan.plan_file import plan_table
from gen.plan.search import plan_network, target_cycles
from gen.simulate.verify import verify
from gen.cli.args import MODEL_HELP, model_arg


DEMO_TARGET = {"fps": 1000.0, "clock": 50.0, "device": "ecp5-25f"}


def register(sub) -> None:
    p = sub.add_parser("demo", help="the shipped default model end to end: layer table, plan "
                                    "for a small FPGA, Verilog, RTL simulation of test images")
    p.add_argument("file", nargs="?", type=model_arg, default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("-o", "--output", default="build/demo", metavar="DIR",
                   help="where the plan, the Verilog and its bench go (default %(default)s)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if bnngen did not write it")
    p.add_argument("--images", type=int, default=1000,
                   help="Fashion-MNIST test images through the RTL (default %(default)s)")
    p.add_argument("--fps", type=float, default=DEMO_TARGET["fps"],
                   help="frames per second to plan for (default %(default)g)")
    p.add_argument("--clock", type=float, default=DEMO_TARGET["clock"], metavar="MHZ",
                   help="clock to plan for (default %(default)g)")
    p.add_argument("--device", default=DEMO_TARGET["device"],
                   help="device to plan for (default %(default)s)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="J",
                   help="simulations side by side (default %(default)s)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    if args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    check_output_folder(args.output, "build", force=args.force, inputs=[args.file])
    t0 = time.monotonic()
    desc = fmt.load(args.file)
    print(layer_table(desc))
    print()
    preds, labels = golden_accuracy(desc, "fashion-mnist", "test", None)
    print(f"golden accuracy: {(preds == labels).mean():.2%} on the {len(labels)} Fashion-MNIST "
          f"test images ({time.monotonic() - t0:.0f} s)")
    print()
    cycles = target_cycles(None, args.fps, args.clock)
    plan = plan_network(desc, cycles, device=args.device, clock_mhz=args.clock)
    print(f"plan for {plan.device} at {args.fps:g} frames/s, {args.clock:g} MHz "
          f"(`bnngen plan {args.file} --fps {args.fps:g} --clock {args.clock:g} "
          f"--device {args.device}`):")
    print(plan_table(plan), end="")
    if not plan.fits:
        raise UserError(f"the plan does not fit {plan.device}; try a larger --device")
    print()
    bench = bench_images(desc, args.images)
    out = build(desc, args.output, progress=sys.stderr.isatty(), plan=plan, force=args.force,
                inputs=[args.file], bench=bench)
    (out / "plan.json").write_text(json.dumps(plan.to_dict(), indent=1, allow_nan=False)
                                   + "\n")
    print(f"planned Verilog written to {out}/ ({time.monotonic() - t0:.0f} s so far)")
    print()
    labels = labels[:args.images] if bench[1].startswith("Fashion") else None
    code = verify(desc, bench[0], labels, build_dir=out, jobs=args.jobs, what=bench[1])
    print()
    print(f"The Verilog is {out}/{DEFAULT_TOP}.v (one file per layer in {out}/layers/); its "
          f"self-checking bench is {out}/tb/ (run it with Icarus or Verilator, no Python: "
          f"docs/verification.md); the plan is {out}/plan.json and the manifest, with ports, "
          f"latency and estimate, is {out}/manifest.json. Whole demo: "
          f"{time.monotonic() - t0:.0f} s.")
    return code
