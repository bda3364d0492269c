"""The simulation build cache (sim/harness.py) serves only the RTL it was built from: a
change outside hw/ that changes the Verilog (here the planner's) rebuilds a warm
sim_build/, an unchanged text reuses its build, and a build that never finished is not
taken up."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from models import golden
from models.factory import random_description, random_images
from sim import harness
from sim.netcheck import decode
from sim.vectors import pack_samples, stream_widths, to_npz


DESC = random_description(21, height=4, width=4, convs=1, channels=2, max_channels=4)
CONFIG = ["planned", 21, 3]          # the test's configuration: the same in every run


def planned():
    from gen.estimate.flow_model import analyse
    from gen.plan.search import plan_network
    return plan_network(DESC, CONFIG[2] * analyse(DESC, {}).ii, fold=True)


def make_unit(_config):
    from hw.folded.planned import PlannedNetwork
    plan = planned()
    return PlannedNetwork(DESC, plan.choices(), stages=plan.stages)


def simulate() -> None:
    """Three frames through the planned network on Icarus, bit-exact with the golden model."""
    images = random_images(DESC, 3, seed=4)
    in_width, out_width = stream_widths(DESC)
    vec = {"inputs": to_npz(pack_samples(images, DESC.input.bits), in_width), "count": 3,
           "out_width": out_width, "frame_pixels": 16, "seed": 3, "gap": 0.2, "stall": 0.3,
           "timeout": 20000, "pace": 0}
    harness.forget_emitted()          # a new pytest process: the Verilog is emitted again
    out = harness.run_bench("planned", [CONFIG], make_unit, 0, "network_bench", "icarus", vec)
    from sim.benches.tb import array_words
    ref = golden.forward(DESC, images)
    got = [decode(DESC, w) for w in array_words(out["outputs"])]
    assert got == [(int(c), s.tolist()) for c, s in zip(ref.predictions, ref.scores)]
    assert not out["failed"]


def builds(root) -> dict[str, int]:
    """Every finished build under `root`: its folder and when its build finished."""
    return {str(m.parent.relative_to(root)): m.stat().st_mtime_ns
            for m in root.glob(f"*/*/{harness.COMPLETE}")}


@pytest.fixture
def sim_build(tmp_path, monkeypatch):
    root = tmp_path / "sim_build"
    monkeypatch.setattr(harness, "SIM_BUILD", root)
    yield root
    harness.forget_emitted()


def test_a_planner_change_rebuilds_a_warm_sim_build(sim_build, monkeypatch):
    simulate()
    warm = builds(sim_build)
    assert len(warm) == 1
    # Change a planner input outside hw/ (the parallelism gen.plan offers): the test's
    # configuration and hw/ are the same, the plan and so the Verilog are not.
    before = planned().choices()
    monkeypatch.setattr("gen.plan.search.pe_options", lambda conv: [conv.out_channels])
    assert planned().choices() != before
    simulate()
    after = builds(sim_build)
    assert len(after) == 2 and set(warm) < set(after), "the old RTL was simulated again"
    assert after[next(iter(warm))] == warm[next(iter(warm))]
    # The planner as it was: the first build is found again, not rebuilt.
    monkeypatch.undo()
    monkeypatch.setattr(harness, "SIM_BUILD", sim_build)
    simulate()
    assert builds(sim_build) == after


def test_an_unfinished_build_is_not_taken_up(sim_build):
    simulate()
    (done,) = builds(sim_build)
    folder = sim_build / done
    # What a killed compiler, or a build tried without the simulator on PATH, leaves.
    (folder / harness.COMPLETE).unlink()
    shutil.copy(folder.parent / "dut.v", folder / "sim.vvp")
    simulate()
    assert (folder / harness.COMPLETE).exists()
    assert (folder / "sim.vvp").read_bytes() != (folder.parent / "dut.v").read_bytes()


def test_builds_are_keyed_on_the_toolchain(monkeypatch, tmp_path):
    """Without the simulator on PATH a build lands elsewhere than with it."""
    with_it = harness.build_dir_for(tmp_path, "verilator", "-O0", False, "network_bench")
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    without = harness.build_dir_for(tmp_path, "verilator", "-O0", False, "network_bench")
    assert with_it != without
    other_bench = harness.build_dir_for(tmp_path, "verilator", "-O0", False, "stream_bench")
    assert other_bench != without


def test_configurations_are_keyed_whole():
    """numpy's repr elides long arrays; the key does not."""
    a, b = np.zeros(5000, dtype=np.uint8), np.zeros(5000, dtype=np.uint8)
    b[2500] = 1
    assert repr(a) == repr(b)
    assert harness.canonical([a]) != harness.canonical([b])
