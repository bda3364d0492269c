"""Pruning really shrinks hardware: a description and its copy with 50% of the weight
blocks (kernel slices, as models.factory.block_mask makes them) pruned in every layer; yosys LUTs
of the engines (every layer's `engine` module) before and after, per family.
Writes bench/results/report_prune.{json,md}.

    nice .venv/bin/python bench/report_prune.py [--families ice40,xilinx]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import factory  # noqa: E402
from models.description import Conv  # noqa: E402
from gen.estimate.estimator import estimate  # noqa: E402
from gen.synth.estimate_check import yosys_blocks  # noqa: E402


RESULTS = Path(__file__).resolve().parent / "results"


def base_description():
    """A bipolar net with no pruning yet (wide enough for the engines to dominate)."""
    d = factory.random_description(7, height=8, width=8, channels=1, bits=4,
                                   encoder="thermometer", planes=3, convs=2, pool=False,
                                   domain="bipolar", classes=4)
    layers = tuple(dataclasses.replace(ly, mask=None) if isinstance(ly, Conv) else ly
                   for ly in d.layers)
    return dataclasses.replace(d, name="prune-base", layers=layers)


def half_block_mask(rng, shape) -> np.ndarray:
    """factory.block_mask's kernel blocks (one (o, i) kernel slice each), but exactly half of
    them pruned, so the comparison is not at the mercy of a coin's luck on few blocks."""
    o, kh, kw, cg = shape
    keep = np.zeros(o * cg, dtype=np.uint8)
    keep[rng.permutation(o * cg)[: (o * cg) // 2]] = 1
    return np.broadcast_to(keep.reshape(o, 1, 1, cg), shape).astype(np.uint8).copy()


def pruned(desc, seed: int = 1):
    rng = np.random.default_rng(seed)
    layers = []
    for ly in desc.layers:
        if isinstance(ly, Conv):
            ly = dataclasses.replace(ly, mask=half_block_mask(rng, ly.weights.shape))
        layers.append(ly)
    return dataclasses.replace(desc, name="prune-50", layers=tuple(layers))


def engine_luts(data: dict, fam: str) -> int:
    return sum(got["lut"] for _, b, got in data[fam]["blocks"] if b.kind == "engine")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="ice40,ecp5,xilinx,gowin")
    args = ap.parse_args()
    fams = args.families.split(",")
    base = base_description()
    half = pruned(base)
    kept = [float(ly.kept.mean()) for ly in half.layers if isinstance(ly, Conv)]
    a, b = yosys_blocks(base, fams), yosys_blocks(half, fams)
    ea, eb = estimate(base, fams), estimate(half, fams)
    rows = []
    for f in fams:
        if a[f]["mapper"] != b[f]["mapper"]:
            # ABC9 crashed on one net only: LUT counts of two mappers do not compare (ABC9
            # maps for delay, classic ABC for area), so map both with classic ABC.
            a[f] = yosys_blocks(base, [f], classic_abc=True)[f]
            b[f] = yosys_blocks(half, [f], classic_abc=True)[f]
        la, lb = engine_luts(a, f), engine_luts(b, f)
        rows.append({"family": f, "mapper": a[f]["mapper"],
                     "engine_luts": la, "engine_luts_pruned": lb,
                     "drop": round(1 - lb / la, 4), "total_luts": a[f]["total"]["lut"],
                     "total_luts_pruned": b[f]["total"]["lut"],
                     "estimate_total": ea["estimate"][f]["total"]["lut"],
                     "estimate_total_pruned": eb["estimate"][f]["total"]["lut"]})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_prune.json").write_text(json.dumps(
        {"kept_fraction_per_conv": kept, "rows": rows}, indent=1) + "\n")
    lines = [f"`nice .venv/bin/python bench/report_prune.py --families {args.families}`", "",
             f"kept weight fraction per conv after pruning: {', '.join(f'{k:.2f}' for k in kept)}",
             "", "| family | mapper | engine LUTs | pruned | drop | total LUTs | pruned |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['mapper']} | {r['engine_luts']:,} | "
                     f"{r['engine_luts_pruned']:,} | "
                     f"{r['drop']:.0%} | {r['total_luts']:,} | {r['total_luts_pruned']:,} |")
    md = "\n".join(lines)
    (RESULTS / "report_prune.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
