"""Fit the costs of the window generator, the window OR, the folded engine, the FIFO in
front of a layer and the top's framing checker (with its pacer) on standalone modules,
from a few channels up to the 64-256 of a trained network.

These blocks do not depend on their neighbours (yosys keeps the hierarchy, so nothing is
optimized across a module boundary): each is elaborated alone over a grid of shapes and
synthesized per family, and a non-negative least-squares fit per (family, block kind,
metric) sets their entries of gen/estimate/estimate_coeffs.json (bench/estimate_fit.py owns the
others: encoder and unrolled engines, which need whole networks). The folded engines are
random layers under random folds, not the shipped model's.

    nice .venv/bin/python bench/fit_blocks.py [--jobs 2]     # ~25 min cold on 2 cores
    nice .venv/bin/python bench/fit_blocks.py --refit        # seconds: stored yosys counts
    nice .venv/bin/python bench/fit_blocks.py --kinds folded # the folded/streamed engines
    nice .venv/bin/python bench/fit_blocks.py --kinds fifo   # the FIFOs (a minute)
    nice .venv/bin/python bench/fit_blocks.py --kinds framing   # framing and pacer (minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.estimate_fit import fit, training_descriptions  # noqa: E402
from models.description import MaxPool  # noqa: E402
from models.factory import random_conv  # noqa: E402
from hw.dense.engine import StreamingDense  # noqa: E402
from hw.folded.engine import FoldedEngine  # noqa: E402
from hw.folded.planned import Buffered  # noqa: E402
from hw.folded.schedule import fold_shape  # noqa: E402
from hw.framing import Framing  # noqa: E402
from hw.network import needs_window  # noqa: E402
from hw.pool import WindowOr  # noqa: E402
from hw.window.generator import WindowGenerator  # noqa: E402
from gen.estimate.blocks import (fifo_block, framing_block, reduce_block,  # noqa: E402
                                 window_block)
from gen.estimate.estimator import COEFFS_PATH, block_features  # noqa: E402
from gen.estimate.folded_blocks import dense_block, folded_block  # noqa: E402
from gen.plan.search import pe_options, simd_options  # noqa: E402
from gen.synth.estimate_check import yosys_component  # noqa: E402


FAMILIES = ["ice40", "ecp5", "xilinx", "gowin"]
KINDS = ("window", "reduce", "folded", "fifo", "framing")

# (width, depth) of FIFOs in front of a layer: the planner's depths (3 up to a few hundred)
# on pixels of 8 to 256 channels; CNV-W1A1's plan has 64 x 63 and 128 x 23.
FIFOS = [(8, 3), (8, 17), (16, 5), (24, 40), (32, 9), (32, 300), (64, 63), (64, 130),
         (96, 12), (128, 23), (128, 70), (256, 33), (256, 5), (200, 520)]

# (pixel bits, pixels a frame, II) of the framing checker: no pacer (II 0), and pacers from
# one cycle a frame more than the pixels to a hundred times them (the shipped plans: 784
# pixels at 37,632 and 75,264), with II and pixels sharing powers of two or not (the
# deficit's low bits then stay 0).
FRAMINGS = [(1, 49, 0), (8, 36, 0), (8, 784, 0), (24, 1024, 0), (3, 256, 0), (64, 100, 0),
            (16, 4096, 0), (8, 36, 37), (8, 36, 121), (8, 784, 37632), (8, 784, 75264),
            (8, 784, 6004), (24, 1024, 3001), (1, 49, 5000), (3, 256, 1000), (64, 100, 250),
            (16, 4096, 409600), (8, 784, 785), (1, 16, 17), (24, 196, 19601)]


class Wire(wiring.Component):
    """A stream passed through: what Buffered wraps when its FIFO is measured alone."""

    def __init__(self, width: int):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
        return m

# (height, width, channels, kernel, stride, padding): the small maps of the factory nets
# and the wide ones of trained networks (3x3 convolutions, 2x2 pools), near but not equal
# to the shipped model's shapes (which bench/estimate_error.py evaluates).
WINDOWS = [
    (6, 6, 1, 3, 1, 1), (6, 6, 2, 2, 2, 0), (6, 6, 4, 3, 1, 0), (6, 6, 8, 5, 1, 2),
    (5, 7, 3, 3, 2, 1), (8, 8, 6, 2, 1, 0), (4, 4, 8, 3, 1, 1), (6, 6, 8, 1, 2, 0),
    (10, 10, 4, 5, 2, 2), (7, 5, 12, 3, 1, 1), (8, 8, 16, 3, 1, 1), (9, 9, 16, 2, 2, 0),
    (26, 26, 8, 3, 1, 1), (24, 24, 64, 2, 2, 0), (12, 12, 64, 3, 1, 1), (10, 10, 128, 2, 2, 0),
    (5, 5, 128, 3, 1, 1), (9, 9, 192, 2, 2, 0), (12, 12, 32, 3, 1, 1), (16, 16, 32, 2, 2, 0),
    (8, 8, 96, 3, 1, 1), (10, 10, 48, 3, 2, 1), (6, 6, 192, 2, 2, 0), (32, 32, 16, 3, 1, 1),
    (9, 9, 64, 3, 1, 1), (5, 5, 256, 3, 1, 0), (11, 11, 96, 2, 2, 0), (20, 20, 24, 3, 1, 1),
    # a dense layer's window: the kernel covers the whole map
    (3, 3, 128, 3, 1, 0), (4, 4, 96, 4, 1, 0), (2, 2, 256, 2, 1, 0), (3, 3, 320, 3, 1, 0),
    (5, 5, 32, 5, 1, 0), (3, 3, 16, 3, 1, 0),
]
REDUCES = [(4, 1), (4, 8), (9, 4), (4, 64), (4, 128), (4, 256), (9, 32), (2, 16), (25, 8)]
FOLDED = 36           # random folded engines


def folded_samples(n: int, seed: int = 7) -> list[tuple]:
    """(conv, pe, simd, memory): layers of 8-256 channels (3x3, 1x1 or dense; bipolar,
    pruned or sparse) under a random fold, small enough for yosys in a minute or two;
    then the layer shapes of a trained network (random weights) under other folds."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        c_in = int(rng.choice([8, 16, 32, 64, 128]))
        dense = rng.random() < 0.25
        scores = dense and rng.random() < 0.6
        hw_ = int(rng.choice([3, 4, 6])) if dense else 8
        oc = 10 if scores else int(rng.choice([10, 16, 32, 64, 128, 256]))
        groups = int(rng.choice([g for g in (1, 2, 4) if c_in % g == 0 and oc % g == 0]))
        domain = "sparse" if rng.random() < 0.25 else "bipolar"
        conv = random_conv(rng, "conv", (hw_, hw_, c_in), out_channels=oc,
                           kernel=None if dense else (3, 3) if rng.random() < 0.8 else (1, 1),
                           stride=(1, 1), padding=(0, 0), groups=1 if dense else groups,
                           domain=domain, prune=float(rng.choice([0.0, 0.0, 0.5])),
                           scores=scores, dense=dense)
        fan = int(conv.weights[0].size)
        simd = int(rng.choice([s for s in simd_options(conv) if 2 <= s <= 256] or [fan]))
        pe = int(rng.choice([p for p in pe_options(conv) if p <= 8]))
        chunks = conv.groups * -(-fan // simd) + 1
        if simd * chunks * pe > 24000 or pe * simd > 1024:
            continue
        steps = fold_shape(conv, pe, simd)
        small = steps.steps * steps.word_width <= 16384
        out.append((conv, pe, simd, str(rng.choice(["block", "distributed"])) if small
                    else "block"))
    for (h, c_in, oc, g, dense, pe, simd, mem) in TRAINED_SHAPES:
        conv = random_conv(rng, "conv", (h, h, c_in), out_channels=oc, kernel=(3, 3),
                           stride=(1, 1), padding=(1, 1), groups=g, domain="bipolar",
                           prune=0.0, scores=dense, dense=dense)
        out.append((conv, pe, simd, mem))
    return out


# (map size, C_in, C_out, groups, dense, pe, simd, memory): a GLT-8 Fashion-MNIST net's
# layers (conv64, conv128 g2, conv256 g2, dense 10) under folds other than its plan's.
TRAINED_SHAPES = [
    (28, 8, 64, 1, False, 4, 36, "distributed"), (28, 8, 64, 1, False, 1, 72, "block"),
    (14, 64, 128, 2, False, 1, 144, "block"), (14, 64, 128, 2, False, 4, 48, "block"),
    (7, 128, 256, 2, False, 2, 96, "block"), (7, 128, 256, 2, False, 1, 288, "block"),
    (3, 256, 10, 1, True, 2, 9, "block"), (3, 256, 10, 1, True, 10, 2, "block"),
    # CNV-W1A1-sized layers (FINN's network: 128-256 channels, 3x3, no groups) under folds
    # other than its plan's: thousands of block-RAM words, a lane of 128-256 thresholds
    (5, 128, 256, 1, False, 1, 144, "block"), (5, 256, 256, 1, False, 2, 192, "block"),
    (10, 64, 128, 1, False, 4, 96, "block"),
]


# (map side, C_in, C_out, scores, pe, simd, memory): streamed dense layers, costed in the
# folded engine's terms: one pixel (a fully connected layer: one sum register per lane) and
# several (a bank of sums per lane, in LUT-RAM where the family has it).
DENSE_SHAPES = [
    (1, 64, 32, False, 1, 16, "distributed"), (1, 128, 64, False, 1, 32, "block"),
    (1, 256, 128, False, 2, 32, "block"), (1, 256, 256, False, 1, 64, "block"),
    (1, 128, 10, True, 1, 16, "distributed"), (1, 512, 10, True, 2, 32, "block"),
    (3, 64, 32, False, 1, 16, "block"), (3, 128, 64, False, 2, 32, "block"),
    (4, 32, 16, False, 2, 8, "distributed"), (7, 32, 10, True, 1, 8, "block"),
    (3, 256, 10, True, 1, 32, "block"), (2, 128, 128, False, 4, 16, "block"),
    # weights in LUTs, 16 to 64 words deep and up to 2 kbit wide (SFC's shape of ROM)
    (1, 128, 128, False, 8, 128, "distributed"), (1, 256, 64, False, 4, 256, "distributed"),
    (1, 256, 64, False, 4, 64, "distributed"), (1, 64, 64, False, 4, 32, "distributed"),
    (1, 256, 256, False, 32, 128, "distributed"),
    # CNV-W1A1's fully connected layers' sizes, folds other than its plan's: a lane of 256
    # to 512 thresholds read in turn
    (1, 512, 256, False, 1, 64, "block"), (1, 256, 512, False, 2, 16, "block"),
]


def dense_samples(seed: int = 11) -> list[tuple]:
    """(conv, pe, simd, memory) of DENSE_SHAPES, random bipolar weights."""
    rng = np.random.default_rng(seed)
    return [(random_conv(rng, "dense", (h, h, c_in), out_channels=oc, groups=1,
                         domain="bipolar", prune=0.0, scores=scores, dense=True), pe, simd, mem)
            for h, c_in, oc, scores, pe, simd, mem in DENSE_SHAPES]


def factory_shapes() -> tuple[list[tuple], list[tuple]]:
    """The window generators and window ORs of bench/estimate_fit.py's training nets (the
    small factory nets; the evaluation seeds are disjoint), as (h, w, c, kernel, stride,
    padding) and (taps, c)."""
    windows, ors = [], []
    for desc in training_descriptions():
        for layer, (h, w, c) in zip(desc.layers, desc.layer_inputs()):
            if isinstance(layer, MaxPool):
                windows.append(((h, w, c), layer.kernel, layer.stride, (0, 0)))
                ors.append((layer.kernel[0] * layer.kernel[1], c))
            elif needs_window(layer):
                windows.append(((h, w, c), layer.kernel, layer.stride, layer.padding))
    return list(dict.fromkeys(windows)), list(dict.fromkeys(ors))


def jobs() -> list[tuple]:
    """(kind, label, component factory, Block)."""
    out = []
    small_windows, small_ors = factory_shapes()
    shapes = [((h, w, c), (k, k), (s, s), (p, p)) for h, w, c, k, s, p in WINDOWS]
    for shape, k, s, p in list(dict.fromkeys(shapes + small_windows)):
        h, w, c = shape
        out.append(("window", f"window {h}x{w}x{c} k{k} s{s} p{p}",
                    lambda h=h, w=w, c=c, k=k, s=s, p=p: WindowGenerator(h, w, c, k, s, p),
                    window_block(shape, k, s, p)))
    for taps, c in list(dict.fromkeys(REDUCES + small_ors)):
        out.append(("reduce", f"or {taps}x{c}", lambda t=taps, c=c: WindowOr(t, c),
                    reduce_block(c, taps)))
    for i, (conv, pe, simd, mem) in enumerate(folded_samples(FOLDED)):
        label = (f"folded#{i} {conv.weights.shape} g{conv.groups} {conv.domain} pe{pe} "
                 f"simd{simd} {mem}")
        out.append(("folded", label,
                    lambda conv=conv, pe=pe, simd=simd, mem=mem: FoldedEngine(
                        conv, pe, simd, 1, mem),
                    folded_block(conv, pe, simd, mem)))
    for width, depth in FIFOS:
        out.append(("fifo", f"fifo {width}x{depth}",
                    lambda w=width, d=depth: Buffered(Wire(w), d), fifo_block(width, depth)))
    for width, pixels, ii in FRAMINGS:
        out.append(("framing", f"framing {width}b {pixels}px ii{ii}",
                    lambda w=width, p=pixels, ii=ii: Framing(w, p, 8, ii=ii),
                    framing_block(width, pixels, ii)))
    for i, (conv, pe, simd, mem) in enumerate(dense_samples()):
        label = f"dense#{i} {conv.weights.shape} pe{pe} simd{simd} {mem}"
        out.append(("folded", label,
                    lambda conv=conv, pe=pe, simd=simd, mem=mem: StreamingDense(
                        conv, pe, simd, 1, mem),
                    dense_block(conv, pe, simd, mem)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(COEFFS_PATH))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", default="bench/results/fit_blocks.json")
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help="refit these families only (the others' samples and coefficients stay)")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="synthesize and refit these block kinds only (the others stay)")
    ap.add_argument("--refit", action="store_true",
                    help="no yosys: refit on the yosys counts stored in --data, with every "
                         "block's features recomputed (after a feature changed); samples "
                         "not stored are left out, or synthesized with --synth-missing")
    ap.add_argument("--synth-missing", action="store_true",
                    help="with --refit: synthesize the samples --data does not hold yet")
    args = ap.parse_args()
    fams, kinds = args.families.split(","), args.kinds.split(",")
    start = time.perf_counter()
    todo = [(j, fam) for j in jobs() for fam in fams if j[0] in kinds]
    old = json.loads(Path(args.data).read_text()) if Path(args.data).exists() else []
    rows = []

    def one(item):
        (kind, label, make, block), fam = item
        return kind, label, block, fam, yosys_component(make(), fam)

    if args.refit:
        stored = {(r["block"], r["family"]): r["yosys"] for r in old}
        missing = [f"{label} ({fam})" for (_, label, _, _), fam in todo
                   if (label, fam) not in stored]
        if missing and not args.synth_missing:
            print(f"{args.data} has no sample of {missing[0]} and {len(missing) - 1} more: "
                  "left out (--synth-missing synthesizes them)", file=sys.stderr)
        rows = [(kind, label, block, fam, stored[(label, fam)])
                for (kind, label, _, block), fam in todo if (label, fam) in stored]
        if args.synth_missing:
            new = [item for item in todo if (item[0][1], item[1]) not in stored]
            rows += list(tqdm(map(one, new), total=len(new), desc="yosys", unit="run"))
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            for kind, label, block, fam, got in tqdm(pool.map(one, todo), total=len(todo),
                                                     desc="yosys", unit="run"):
                rows.append((kind, label, block, fam, got))
    samples: dict = {}
    data = [row for row in old if row["family"] not in fams or row["kind"] not in kinds]
    for kind, label, block, fam, got in rows:
        feats = block_features(block, fam)
        for metric in ("lut", "ff"):
            samples.setdefault((fam, kind, metric), []).append((feats[metric], got[metric]))
        data.append({"kind": kind, "block": label, "family": fam, "yosys": got,
                     "features": feats})
    coeffs = json.loads(Path(args.out).read_text())
    for (fam, kind, metric), rs in sorted(samples.items()):
        # Relative errors weigh alike (rows by 1/yosys): leave-one-out over these samples
        # favours it over bench/estimate_fit.py's 1/sqrt(yosys) on every family.
        coeffs[fam].setdefault(kind, {})[metric] = fit(rs, power=1.0)
    Path(args.out).write_text(json.dumps(coeffs, indent=1, sort_keys=True) + "\n")
    Path(args.data).write_text(json.dumps(data, indent=1) + "\n")
    print(f"fitted {len(rows)} runs in {time.perf_counter() - start:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
