"""Mutation testing of the Python that defines meaning and numbers (the golden model, the
description format, the estimator, the planner and the flow model) with mutmut, against the
quick tests named in pyproject.toml's [tool.mutmut]. Writes bench/results/mutation.{json,md}.

    .venv/bin/python bench/mutate.py [--sample N] [--seed S] [--jobs J]

mutmut makes every mutant of the modules in `only_mutate` (about 6,400); running the quick
tests on each takes hours on two cores, so by default a seeded sample of N mutants per
module is run (`--sample 0`: all of them). Results stay in mutants/ (mutmut's cache): a
second run only runs mutants whose code or tests changed. `mutmut show NAME` prints a
mutant's diff; `mutmut results` lists the survivors.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MUTMUT = Path(sys.executable).parent / "mutmut"
# mutmut's exit codes (mutmut/stats.py)
STATUS = {0: "survived", 1: "killed", 3: "killed", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", None: "not checked"}
# Mutants read and judged equivalent (no input can tell them from the original): name ->
# why. They count in neither the killed nor the survived column.
EQUIVALENT: dict[str, str] = {
    "models.golden.x_predict__mutmut_13":
        "keep_maps=None instead of False: forward only tests its truth",
    "models.golden.x_conv_sums__mutmut_155":
        "reshape(-2, ...) instead of reshape(-1, ...): NumPy takes any negative size as the "
        "one to infer",
    "models.golden.x_conv_sums__mutmut_119":
        "reshape(-2, k) instead of reshape(-1, k): NumPy takes any negative size as the one "
        "to infer",
    "models.golden.x_conv_sums__mutmut_29":
        "float64 always instead of float32 below 2^24: every count is exact in both",
    "models.golden.x_forward__mutmut_34":
        "sums = '' instead of None before the loop: a description has at least one layer, "
        "which sets it",
    "models.golden.x_sum_bound__mutmut_7":
        "a bipolar layer sent to the sparse bound (|q| + |p|) * k: q = 1 and p = 0 make it k",
    "gen.estimate.engine_blocks.x_engine_block__mutmut_84":
        "`sparse or p` instead of `sparse and p`: a bipolar layer has p = 0 (the format "
        "allows p only in the sparse domain)",
    "gen.estimate.engine_blocks.x_engine_block__mutmut_139":
        "`sparse or q > 1` instead of `sparse and q > 1`: a bipolar layer has q = 1",
    "gen.estimate.engine_blocks.x_constant_channels__mutmut_44":
        "a bipolar layer sent down the sparse branch: with q = 1 and p = 0 it computes the "
        "same range 0..top",
    "gen.estimate.memory_map.x_map_rom__mutmut_15":
        "`<=` instead of `<` between equal (bram, slices) keys: the mapping is those two "
        "numbers, the same either way",
    "gen.plan.plan_file.x_plan_estimate__mutmut_8":
        "estimate(..., stages=None, choices=plan.choices()): the choices name every layer, "
        "so the default stages are never read",
    "gen.plan.search.x_select__mutmut_19":
        "pick(None) instead of pick(1.0) without a device: weigh ignores the BRAM price "
        "when there is no device",
    "gen.estimate.flow_model.x_stages_of__mutmut_31":
        "a streamed dense stage's `steps` None instead of 1: run_chain reads pixel_steps "
        "for such a stage, never steps",
    "gen.estimate.flow_model.x_windowed__mutmut_105":
        "`row_top[r] <= b` instead of `<`: the equal case returned on the line before",
    "gen.estimate.flow_model.x_windowed__mutmut_110":
        "-(2 << 60) instead of -(1 << 60) for a slot never used: both lie below every time",
    "gen.estimate.flow_model.x_windowed__mutmut_137":
        "t_prev = start - 2 instead of start - 1: the first step is max(t_prev + 1, start), "
        "start either way, and t_prev is set from it",
    "gen.estimate.flow_model.x_windowed__mutmut_13":
        "accept times in float64 instead of int64: whole numbers far below 2^53, exact, and "
        "every result is taken through int()",
    "gen.estimate.flow_model.x_windowed__mutmut_274":
        "np.array(outputs) without dtype: the outputs are Python ints, int64 either way",
    "gen.plan.cost.x_option_blocks__mutmut_35":
        "conv_blocks(conv, shape, None, choice): with a choice (always given here) "
        "conv_blocks reads the stages from it",
}


def modules() -> list[str]:
    import tomllib
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(cfg["only_mutate"])


def meta(module: str) -> dict:
    path = ROOT / "mutants" / f"{module}.meta"
    return json.loads(path.read_text())["exit_code_by_key"] if path.exists() else {}


def mutmut(*names: str, jobs: int) -> None:
    subprocess.run([str(MUTMUT), "run", "--max-children", str(jobs), *names], cwd=ROOT,
                   check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=60, help="mutants per module (0: all)")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--survivors", action="store_true",
                    help="rerun only the sample's mutants not yet killed (after adding tests: "
                         "a killed mutant stays killed)")
    args = ap.parse_args()
    mods = modules()
    if not all(meta(m) for m in mods):   # first run: make the mutants (and run one)
        mutmut("models.golden.x_sum_bound__mutmut_1", jobs=args.jobs)
    chosen: dict[str, list[str]] = {}
    for m in mods:
        names = sorted(meta(m))
        if args.sample and len(names) > args.sample:
            names = sorted(random.Random(f"{args.seed}:{m}").sample(names, args.sample))
        chosen[m] = names
    run = [n for m, names in chosen.items() for n in names
           if not (args.survivors and STATUS.get(meta(m).get(n)) == "killed")]
    if run:
        mutmut(*run, jobs=args.jobs)
    rows, survivors = [], []
    for m in mods:
        codes = meta(m)
        count = Counter()
        for n in chosen[m]:
            status = "equivalent" if n in EQUIVALENT else STATUS.get(codes.get(n), "suspicious")
            count[status] += 1
            if status in ("survived", "no tests", "timeout", "suspicious", "not checked"):
                survivors.append(n)
        judged = count["killed"] + count["survived"] + count["no tests"] + count["timeout"]
        rows.append({"module": m, "mutants": len(codes), "run": len(chosen[m]), **count,
                     "score": count["killed"] / judged if judged else None})
    total = Counter()
    for r in rows:
        for k in ("mutants", "run", "killed", "survived", "no tests", "timeout",
                  "equivalent"):
            total[k] += r.get(k, 0)
    judged = total["killed"] + total["survived"] + total["no tests"] + total["timeout"]
    score = total["killed"] / judged if judged else 0.0
    md = ["| module | mutants | run | killed | survived | no tests | timeout | equivalent |"
          " score |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows + [{"module": "all", **total, "score": score}]:
        md.append(f"| {r['module']} | {r['mutants']} | {r['run']} | {r.get('killed', 0)} | "
                  f"{r.get('survived', 0)} | {r.get('no tests', 0)} | {r.get('timeout', 0)} | "
                  f"{r.get('equivalent', 0)} | "
                  + (f"{100 * r['score']:.1f}%" if r["score"] is not None else "-") + " |")
    # The sample's score per module, weighted by the module's mutants: the estimate for all.
    weighted = sum(r["score"] * r["mutants"] for r in rows if r["score"] is not None) / sum(
        r["mutants"] for r in rows if r["score"] is not None)
    md.append(f"\nweighted by each module's mutants: {100 * weighted:.1f}%")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mutation.json").write_text(json.dumps(
        {"sample": args.sample, "seed": args.seed, "modules": rows, "score": score,
         "weighted_score": weighted,
         "survivors": survivors, "equivalent": EQUIVALENT}, indent=2) + "\n")
    (RESULTS / "mutation.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print("survivors:", *survivors, sep="\n  ")
    return 0 if score >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
