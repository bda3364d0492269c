"""Fit the estimator's per-family encoder and unrolled-engine coefficients against yosys.

For every factory description of the training seeds, the network is synthesized once per
family with its hierarchy kept; each block (encoder, window generator, engine, window OR)
gives one sample: its structural features (gen.estimate.blocks) against its yosys LUTs
and FFs. A non-negative least-squares fit per (family, block kind, metric), rows weighted
by 1/sqrt(yosys), so small blocks are not drowned by large ones. Runs where ABC9 crashed
and gen.synth fell back to classic ABC are left out (another mapping). The evaluation
seeds (bench/estimate_error.py) are disjoint from these.

    nice .venv/bin/python bench/estimate_fit.py            # ~1 h cold, a minute cached
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import factory  # noqa: E402
from gen.estimate.estimator import COEFFS_PATH, block_features  # noqa: E402
from gen.synth.estimate_check import yosys_blocks  # noqa: E402
from gen.synth.yosys import SynthError  # noqa: E402


FAMILIES = ["ice40", "ecp5", "xilinx", "gowin"]
OWN_KINDS = ("encoder", "engine")      # the block kinds this fit sets
# Small nets (the machines that fit this are small and shared): every block kind, both
# domains, both encoders; seeds disjoint from the evaluation's (bench/estimate_error.py),
# drawn with the same pins. Forty random seeds, plus three of the five largest nets (by
# the estimate) among seeds 140-599, so that the fit sees popcount trees of a few hundred
# leaves, as the random draw's tail holds them (yosys takes 5-15 min for each of those).
SMALL = {"height": 6, "width": 6, "max_channels": 8}
LARGE = [170, 210, 271]
TRAIN = [dict(SMALL, seed=s, convs=1 + s % 2) for s in [*range(100, 140), *LARGE]]


def training_descriptions():
    out = []
    for pins in TRAIN:
        pins = dict(pins)
        out.append(factory.random_description(pins.pop("seed"), **pins))
    return out


def nnls(a: np.ndarray, b: np.ndarray, iters: int = 500) -> np.ndarray:
    """Lawson-Hanson non-negative least squares (small problems)."""
    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = a.T @ (b - a @ x)
    for _ in range(iters):
        if passive.all() or w[~passive].max(initial=-1) <= 1e-10:
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > 1e-12
        w = a.T @ (b - a @ x)
    return x


def fit(samples: list[tuple[dict, float]], power: float = 0.5) -> dict[str, float]:
    """Coefficients minimizing the squared error weighted by 1/yosys**power."""
    names = sorted({k for f, _ in samples for k in f})
    a = np.array([[f.get(k, 0.0) for k in names] for f, _ in samples], dtype=float)
    y = np.array([t for _, t in samples], dtype=float)
    wt = 1.0 / np.maximum(y, 4.0) ** power
    coef = nnls(a * wt[:, None], y * wt)
    return {k: round(float(c), 5) for k, c in zip(names, coef) if c > 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(COEFFS_PATH))
    ap.add_argument("--cached-only", action="store_true",
                    help="use only nets whose yosys results are already cached")
    ap.add_argument("--families", default=",".join(FAMILIES),
                    help="refit these families only (the others' coefficients stay)")
    args = ap.parse_args()
    fams = args.families.split(",")
    start = time.perf_counter()
    samples: dict = {}
    used: list[str] = []
    for desc in tqdm(training_descriptions(), desc="yosys", unit="net"):
        try:
            data = yosys_blocks(desc, fams, cached_only=args.cached_only)
        except SynthError as e:  # a yosys crash on one net must not sink the whole fit
            print(f"skipped {desc.name}: {e}", file=sys.stderr)
            continue
        used.append(desc.name)
        for fam in fams:
            if data[fam]["mapper"] != "abc9":
                # gen.synth's classic-ABC fallback after an ABC9 crash maps differently
                # (area-driven, no delay target): the estimator models the ABC9 flow.
                print(f"{desc.name} {fam}: classic-ABC fallback, left out", file=sys.stderr)
                continue
            for _, block, got in data[fam]["blocks"]:
                feats = block_features(block, fam)
                for metric in ("lut", "ff"):
                    samples.setdefault((fam, block.kind, metric), []).append(
                        (feats[metric], got[metric]))
    # Window generators, window ORs and folded engines are bench/fit_blocks.py's (fitted on
    # standalone modules over wider shapes than these nets have): kept as they are.
    out = Path(args.out)
    coeffs: dict = json.loads(out.read_text()) if out.exists() else {}
    for (fam, kind, metric), rows in sorted(samples.items()):
        if kind in OWN_KINDS:
            coeffs.setdefault(fam, {}).setdefault(kind, {})[metric] = fit(rows)
    Path(args.out).write_text(json.dumps(coeffs, indent=1, sort_keys=True) + "\n")
    print(f"fitted on {', '.join(used)}")
    print(f"fitted {sum(len(v) for v in samples.values())} samples in "
          f"{time.perf_counter() - start:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
