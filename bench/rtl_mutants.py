"""Hand-written RTL mutations of hw/, each run against the quick sim tests that should catch
it, on Icarus and on Verilator. Writes bench/results/rtl_mutants.{json,md}.

    .venv/bin/python bench/rtl_mutants.py [NAME ...]     # control first, then each mutation

Each mutation is a text substitution in one hw/ file, applied to a fresh copy of the working
tree (its tracked and untracked-but-not-ignored files) in a temporary folder, so the mutated
generator is the one imported, and the copy's own empty sim_build/ (keyed on its hw/ sources)
means every simulated design is built from the mutated code. A mutation is caught on a
simulator when its tests fail there; one that passes has survived. The control (the tree
unchanged) runs first and must pass every one of those tests on both simulators.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SIMULATORS = ("icarus", "verilator")


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation("popcount-leaf", "a popcount tree drops its first leaf", "hw/popcount.py",
             "return reduce_tree(m, list(bits), ",
             "return reduce_tree(m, list(bits)[1:] or [Const(0, 1)], ",
             ("sim/test_popcount.py", "sim/test_engine.py")),
    Mutation("score-register", "a score register one bit narrower than score_width",
             "hw/engine.py",
             'reg = Signal(signed(sw), name=f"score{k}")',
             'reg = Signal(signed(sw - 1), name=f"score{k}")',
             ("sim/test_engine.py",)),
    Mutation("threshold", "an unrolled engine's threshold off by one (s >= tau + 1)",
             "hw/engine.py",
             "(s <= tau) if act.flip[o] else (s >= tau)",
             "(s <= tau) if act.flip[o] else (s >= tau + 1)",
             ("sim/test_engine.py",)),
    Mutation("pad-bit", "the window generator pads with the other bit", "hw/window/generator.py",
             "pad_word = Const(((1 << c) - 1) if self.pad_bit else 0, c)",
             "pad_word = Const(((1 << c) - 1) if not self.pad_bit else 0, c)",
             ("sim/test_window.py",)),
    Mutation("channel-group", "output channel group j reads group g-1-j's input channels",
             "hw/engine.py",
             "            j = o // og\n",
             "            j = conv.groups - 1 - o // og\n",
             ("sim/test_engine.py",)),
    Mutation("valid-backpressure", "a pipeline output drops its valid while stalled "
             "(valid loaded every cycle, not only when the pipeline advances)",
             "hw/pipeline.py",
             "            with m.If(adv):\n                m.d.sync += o.valid.eq(valid)\n",
             "            if True:\n                m.d.sync += o.valid.eq(valid & adv)\n",
             ("sim/test_engine.py", "sim/test_pool.py")),
]


def copy_tree(dest: Path) -> None:
    """The working tree as git sees it (tracked + untracked, not ignored) into `dest`."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


# The control: no change; the union of the mutations' tests must pass on it, so that a
# failure under a mutation is the mutation's, not the setup's.
CONTROL = Mutation("control", "no mutation: every test below must pass", "hw/__init__.py", "",
                   "", tuple(dict.fromkeys(t for m in MUTATIONS for t in m.tests)))


def apply(tree: Path, mut: Mutation) -> None:
    if mut is CONTROL:
        return
    path = tree / mut.path
    text = path.read_text()
    if text.count(mut.old) != 1:
        raise SystemExit(f"{mut.name}: {mut.path} holds the original text "
                         f"{text.count(mut.old)} times, not once; update the mutation")
    path.write_text(text.replace(mut.old, mut.new))


def run_tests(tree: Path, mut: Mutation, simulator: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    bindir = Path(sys.executable).parent
    verilator = bindir.parent / "lib/python3.11/site-packages/verilator/bin"
    env["PATH"] = os.pathsep.join([str(bindir), str(verilator), env.get("PATH", "")])
    # The mutated hw/ must be what the tests import, not an installed or other copy.
    where = subprocess.run([sys.executable, "-c", "import hw, sim; print(hw.__file__, "
                            "sim.__file__)"], cwd=tree, env=env, capture_output=True, text=True)
    assert all(p.startswith(str(tree)) for p in where.stdout.split()), where
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-k", simulator, *mut.tests], cwd=tree, env=env,
                          capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    failed = [ln.split(" ")[1] for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    return {"rc": proc.returncode, "caught": proc.returncode == 1 and bool(failed),
            "failed": failed, "summary": lines[-1] if lines else proc.stderr[-300:],
            "seconds": round(time.monotonic() - start, 1)}


def main(names: list[str]) -> int:
    chosen = [m for m in [CONTROL, *MUTATIONS] if not names or m.name in names]
    # A run of some mutations replaces their rows of the last results, keeps the others.
    path = RESULTS / "rtl_mutants.json"
    kept = {r["name"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    results = []
    with tempfile.TemporaryDirectory(prefix="bnngen-rtl-mutants-") as tmp:
        for mut in chosen:
            tree = Path(tmp) / mut.name
            copy_tree(tree)
            apply(tree, mut)
            row = {"name": mut.name, "what": mut.what, "file": mut.path,
                   "tests": list(mut.tests)}
            for sim in SIMULATORS:
                row[sim] = run_tests(tree, mut, sim)
                verdict = ("passed" if row[sim]["rc"] == 0 else "FAILED") if mut is CONTROL \
                    else ("caught" if row[sim]["caught"] else "SURVIVED")
                print(f"{mut.name:20} {sim:10} {verdict}  {row[sim]['summary']}", flush=True)
            if mut is CONTROL and any(row[s]["rc"] != 0 for s in SIMULATORS):
                raise SystemExit("the unmutated tree fails its tests: fix that first")
            results.append(row)
            shutil.rmtree(tree, ignore_errors=True)
    order = [m.name for m in [CONTROL, *MUTATIONS]]
    results = sorted({**kept, **{r["name"]: r for r in results}}.values(),
                     key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rtl_mutants.json").write_text(json.dumps(results, indent=2) + "\n")
    md = ["| mutation | file | tests | Icarus | Verilator |", "|---|---|---|---|---|"]
    for r in results:
        if r["name"] == "control":
            cells = [f"{'passed' if r[s]['rc'] == 0 else '**failed**'} ({r[s]['summary']}, "
                     f"{r[s]['seconds']:.0f} s)" for s in SIMULATORS]
        else:
            cells = [f"{'caught' if r[s]['caught'] else '**survived**'} "
                     f"({len(r[s]['failed'])} failed, {r[s]['seconds']:.0f} s)"
                     for s in SIMULATORS]
        md.append(f"| {r['name']}: {r['what']} | {r['file']} | {', '.join(r['tests'])} | "
                  + " | ".join(cells) + " |")
    (RESULTS / "rtl_mutants.md").write_text("\n".join(md) + "\n")
    results = [r for r in results if r["name"] != "control"]
    survived = [r["name"] for r in results if not all(r[s]["caught"] for s in SIMULATORS)]
    print(f"{len(results) - len(survived)}/{len(results)} RTL mutations caught on both "
          f"simulators" + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
