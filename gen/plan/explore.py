"""Throughput against LUTs and BRAMs: the plans the planner makes for targets from fully
unrolled to fully folded, their Pareto front, its table and its plot (`bnngen explore`,
gen/cli/explore_cmd.py, writes them into a folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.description import Conv, Description

from gen.estimate.flow_model import analyse
from gen.plan.search import plan_network


def slowest(desc: Description) -> int:
    """The interval with every convolution on one lane of one bit."""
    from hw.dense.schedule import dense_pixel_steps, is_dense
    steps = {}
    for layer, shape in zip(desc.layers, desc.layer_inputs()):
        if isinstance(layer, Conv) and is_dense(layer, shape):
            steps[layer.name] = dense_pixel_steps(layer, 1, 1)
        elif isinstance(layer, Conv):
            steps[layer.name] = max(1, int(layer.kept.sum()) if layer.domain == "bipolar"
                                    else int(layer.weights.size))
    return analyse(desc, steps).ii


def targets(desc: Description, points: int) -> list[int]:
    lo, hi = analyse(desc, {}).ii, slowest(desc)
    grid = np.geomspace(lo, max(hi, lo + 1), max(2, points))
    return sorted({int(round(t)) for t in grid})


def pareto(rows: list[dict]) -> list[bool]:
    """Rows no other row beats or equals on interval, LUTs and BRAMs all at once."""
    keys = [(r["ii"], r["lut"], r["bram"]) for r in rows]
    front = []
    for i, a in enumerate(keys):
        dominated = any(all(x <= y for x, y in zip(b, a)) and b != a
                        for j, b in enumerate(keys) if j != i)
        duplicate = any(b == a for b in keys[:i])
        front.append(not dominated and not duplicate)
    return front


def explore(desc: Description, *, family=None, device=None, memory="auto", points=16,
            clock_mhz=None, fold=False, progress=True) -> list[dict]:
    rows = []
    for t in tqdm(targets(desc, points), desc="planning", unit="plan", disable=not progress,
                  leave=False):
        plan = plan_network(desc, t, family=family, device=device, memory=memory,
                            clock_mhz=clock_mhz, fold=fold)
        folding = {lp.name: (lp.pe, lp.simd) if lp.engine == "folded" else "unrolled"
                   for lp in plan.layers if lp.kind == "conv"}
        rows.append({"target": t, "ii": plan.ii, "latency": plan.latency,
                     "fps": plan.fps, "fits": plan.fits, **plan.total, "folding": folding})
    for row, keep in zip(rows, pareto(rows)):
        row["pareto"] = keep
    return rows


def markdown(desc: Description, rows: list[dict], family: str) -> str:
    fps = rows[0]["fps"] is not None
    head = "| cycles/frame | " + ("frames/s | " if fps else "") + "LUT | FF | BRAM | folding |"
    lines = [f"# Pareto front of {desc.name} ({family} estimates)", "", head,
             "|---:|" + ("---:|" if fps else "") + "---:|---:|---:|---|"]
    for r in rows:
        if r["pareto"]:
            fold = ", ".join(f"{k} {v[0]}x{v[1]}" if isinstance(v, tuple | list) else
                             f"{k} {v}" for k, v in r["folding"].items())
            rate = f"{r['fps']:.1f} | " if fps else ""
            lines.append(f"| {r['ii']} | {rate}{r['lut']} | {r['ff']} | {r['bram']} | "
                         f"{fold} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ii = [r["ii"] for r in rows]
    for ax, key in zip(axes, ("lut", "bram")):
        ax.scatter(ii, [r[key] for r in rows], c="#bbbbbb", label="plans")
        front = sorted((r["ii"], r[key]) for r in rows if r["pareto"])
        ax.step([f[0] for f in front], [f[1] for f in front], where="post", c="C0",
                marker="o", label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel("cycles per frame (initiation interval)")
        ax.set_ylabel(key.upper() + "s (estimate)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
