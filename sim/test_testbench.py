"""The self-checking Verilog bench that `bnngen build --testbench N` exports, run the way a
hardware team runs it (plain iverilog/vvp, `verilator --binary`, no Python in the loop), and
`bnngen verify`, which drives it: they pass on correct RTL and fail on one wrong bit of an
expected vector or of the RTL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from models import description as fmt
from models import factory
from models.golden import forward
from gen.cli.entry import main
from gen.simulate.verify import VERILATOR_FLAGS, _tool


TOP = "bnn_top"
FRAMES = 8


def _run(cmd, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small factory network (a conv with a window, a pool, the scores layer) with the
    control port, built with an 8-frame bench."""
    root = tmp_path_factory.mktemp("bench")
    desc = factory.random_description(5)
    fmt.save(desc, root / "m.json")
    assert main(["build", str(root / "m.json"), "-o", str(root / "b"), "--testbench",
                 str(FRAMES), "--control"]) == 0
    return desc, root / "b"


def _icarus(build: Path, verilog: str = f"{TOP}.v") -> Path:
    out = build / "tb.vvp"
    r = _run([_tool("iverilog"), "-g2012", "-o", str(out), f"tb/{TOP}_tb.v", verilog], build)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def verilated(built):
    _, build = built
    r = _run([_tool("verilator"), *VERILATOR_FLAGS, "--top-module", f"{TOP}_tb",
              f"tb/{TOP}_tb.v", f"{TOP}.v"], build)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return build / f"obj_dir/V{TOP}_tb"


def _verdict(r: subprocess.CompletedProcess) -> str:
    lines = [s for s in r.stdout.splitlines() if "PASS" in s or "FAIL" in s]
    return lines[-1] if lines else r.stdout[-2000:]


def test_expected_words_follow_the_documented_layout(built):
    """tb/expected.hex: the class in byte 0, then each score sign-extended to whole bytes,
    from the golden model (checked here with plain integers)."""
    desc, build = built
    man = json.loads((build / "manifest.json").read_text())
    images = np.array([int(w, 16) for w in (build / "tb/frames.hex").read_text().split()])
    bits, c = desc.input.bits, desc.input.channels
    samples = (images[:, None] >> (bits * np.arange(c))) & ((1 << bits) - 1)
    gold = forward(desc, samples.reshape(FRAMES, *desc.input.shape), keep_maps=False)
    sb = man["output"]["scores"][0]["bytes"]
    for line, cls, row in zip((build / "tb/expected.hex").read_text().split(),
                              gold.predictions, gold.scores):
        word = int(line, 16)
        assert word & 0xFF == cls
        for o, s in enumerate(row):
            field = (word >> (8 + 8 * sb * o)) & ((1 << 8 * sb) - 1)
            assert field - (field >> (8 * sb - 1) << 8 * sb) == s
    assert man["testbench"]["frames"] == FRAMES


@pytest.mark.parametrize("pauses", [[], ["+gap=30", "+stall=40", "+seed=7"]],
                         ids=["back-to-back", "gaps-and-backpressure"])
def test_exported_bench_passes_on_icarus(built, pauses):
    _, build = built
    r = _run([_tool("vvp"), "-n", str(_icarus(build)), *pauses], build)
    assert r.returncode == 0 and f"PASS {TOP}: {FRAMES} frames bit-exact" in _verdict(r), r.stdout


def test_exported_bench_passes_on_verilator(built, verilated):
    _, build = built
    r = _run([str(verilated), "+gap=30", "+stall=40"], build)
    assert r.returncode == 0 and f"PASS {TOP}: {FRAMES} frames bit-exact" in _verdict(r), r.stdout


def _flip_expected(build: Path, frame: int, bit: int) -> Path:
    lines = (build / "tb/expected.hex").read_text().split()
    digits = len(lines[frame])
    lines[frame] = f"{int(lines[frame], 16) ^ (1 << bit):0{digits}x}"
    path = build / f"expected-flipped-{frame}-{bit}.hex"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_one_wrong_expected_bit_fails(built, verilated, simulator):
    _, build = built
    path = _flip_expected(build, 3, 9)       # a bit of the first score of frame 3
    cmd = ([_tool("vvp"), "-n", str(_icarus(build))] if simulator == "icarus"
           else [str(verilated)])
    r = _run([*cmd, f"+expected={path.name}"], build)
    assert r.returncode != 0
    assert f"FAIL {TOP}: 1 of {FRAMES} frames differ" in _verdict(r), r.stdout
    assert "frame 3: got" in r.stdout


def _broken_rtl(build: Path) -> str:
    """The top with one bit of a score byte of m_axis_tdata inverted."""
    text = (build / f"{TOP}.v").read_text()
    assigns = re.findall(r"  assign m_axis_tdata\[(\d+):(\d+)\] = ([^;]+);", text)
    hi, lo, expr = next(a for a in assigns if int(a[1]) >= 8)
    broken = text.replace(f"  assign m_axis_tdata[{hi}:{lo}] = {expr};",
                          f"  assign m_axis_tdata[{hi}:{lo}] = ({expr}) ^ 1'b1;")
    assert broken != text
    (build / "broken.v").write_text(broken)
    return "broken.v"


def test_one_broken_rtl_bit_fails_on_icarus(built):
    _, build = built
    r = _run([_tool("vvp"), "-n", str(_icarus(build, _broken_rtl(build)))], build)
    assert r.returncode != 0
    assert f"FAIL {TOP}: {FRAMES} of {FRAMES} frames differ" in _verdict(r), r.stdout


def test_verify_random_inputs_planned(tmp_path, capsys):
    """`bnngen verify --plan` on a folded plan: seeded random inputs, two Icarus processes
    side by side; pauses and backpressure spread the results beyond the II."""
    from gen.simulate.verify import dataset_images
    desc = factory.random_description(11)
    fmt.save(desc, tmp_path / "m.json")
    h, w = desc.input.height, desc.input.width
    assert main(["plan", str(tmp_path / "m.json"), "--cycles", str(4 * h * w), "-o",
                 str(tmp_path / "p.json")]) == 0
    capsys.readouterr()
    plan = json.loads((tmp_path / "p.json").read_text())
    assert any(layer["engine"] == "folded" for layer in plan["layers"])
    for pauses in (["--gap", "0", "--stall", "0"], ["--gap", "20", "--stall", "30"]):
        assert main(["verify", str(tmp_path / "m.json"), "--plan", str(tmp_path / "p.json"),
                     "--dataset", "random", "--images", "6", "--simulator", "icarus",
                     "--jobs", "2", "--seed", "3", *pauses]) == 0
        out = capsys.readouterr().out
        assert "bit-exact: 6/6 results" in out and "verdict: PASS" in out
        assert "on 2 icarus processes" in out
        lo, hi = map(int, re.search(r"results every (\d+)\.\.(\d+) cycles", out).groups())
        if pauses[1] == "0":
            assert lo == hi == plan["ii"]
        else:
            assert hi > plan["ii"]
    first, again, other = (dataset_images(desc, "random", "6", seed)[0]
                           for seed in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_verify_catches_broken_rtl(built, tmp_path, capsys):
    """`bnngen verify --build` on a build whose top has one bit inverted: exit 1, the
    differing results counted from the RTL's own output."""
    desc, build = built
    copy = tmp_path / "b"
    shutil.copytree(build, copy)
    (copy / f"{TOP}.v").write_text((copy / _broken_rtl(copy)).read_text())
    fmt.save(desc, tmp_path / "m.json")
    assert main(["verify", str(tmp_path / "m.json"), "--build", str(copy), "--dataset",
                 "random", "--images", "4", "--simulator", "icarus"]) == 1
    out = capsys.readouterr().out
    assert "bit-exact: 0/4 results" in out and "verdict: FAIL" in out


@pytest.mark.parametrize("args, message", [
    (["--images", "0"], "--images must be at least 1"),
    (["--images", "many"], "--images must be a number or `all`"),
    (["--gap", "100"], "--gap must be a percentage"),
    (["--dataset", "random", "--images", "all"], "--images all needs a dataset"),
    (["--dataset", "random", "--images", "1000000"], "at most 100000 random frames"),
    (["--dataset", "random", "--seed", "-1"], "--seed must lie in 0 .. 2^31-1"),
    ([], "dataset fashion-mnist has images [28, 28, 1], the model expects"),
])
def test_verify_refuses_bad_arguments(tmp_path, capsys, args, message):
    fmt.save(factory.random_description(11), tmp_path / "m.json")
    assert main(["verify", str(tmp_path / "m.json"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnngen: error:") and message in err and err.count("\n") == 1


def test_fusesoc_sim_target_runs_the_bench(built, tmp_path):
    """The core's `sim` target copies the data files and runs the self-checking bench."""
    import os
    _, build = built
    fusesoc = Path(os.sys.executable).parent / "fusesoc"
    name = json.loads((build / "manifest.json").read_text())["integration"]["core_name"]
    r = _run([str(fusesoc), "--cores-root", str(build), "run", "--build-root",
              str(tmp_path / "fs"), "--target", "sim", name], tmp_path)
    assert r.returncode == 0 and f"PASS {TOP}: {FRAMES} frames bit-exact" in r.stdout, (
        r.stdout[-3000:] + r.stderr[-3000:])
