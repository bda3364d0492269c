"""`bnngen demo` and `bnngen build --popcount-stages` end to end: the Verilog the command
line writes, simulated (Verilator for the demo, Icarus for the builds) against the golden
model, on small models so that they stay quick."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from models import description as fmt
from models.datasets import fashion_mnist
from models.factory import random_description, random_images
from models.golden import forward
from gen.cli.entry import main
from sim.netcheck import compare_results, frame_latencies, result_words, simulate_network


def test_demo_on_a_small_model(tmp_path, capsys, monkeypatch):
    """Exit 0; the golden accuracy on the whole test set, and the RTL accuracy on the
    simulated images equal to the golden model's on those images (the naive reference's
    count). -o into a folder of the user's needs --force."""
    from models.naive import naive_predictions
    monkeypatch.chdir(tmp_path)
    desc = random_description(1, height=28, width=28, channels=1, bits=8, convs=1,
                              max_channels=2, pool=True, classes=10)
    fmt.save(desc, "m.json")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["demo", "m.json", "-o", "mine", "--images", "4"]) == 2
    assert (tmp_path / "mine" / "notes.txt").exists()
    capsys.readouterr()
    assert main(["demo", "m.json", "-o", "mine", "--images", "4", "--force", "--fps", "500",
                 "--clock", "40", "--device", "ecp5-85f", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "plan for ecp5-85f at 500 frames/s, 40 MHz" in out, out
    plan = json.loads((tmp_path / "mine" / "plan.json").read_text())
    assert plan["device"] == "ecp5-85f" and plan["clock_mhz"] == 40
    assert plan["target_cycles"] == 40_000_000 // 500
    assert "on 1 verilator process " in out, out
    images, labels = fashion_mnist("test")
    whole = forward(desc, images, keep_maps=False).predictions
    assert f"{(whole == labels).mean():.2%}" in out          # the golden accuracy, whole set
    expected = np.mean(np.array(naive_predictions(desc, images[:4])) == labels[:4])
    rtl = re.search(r"RTL accuracy:\s+([\d.]+)% on (\d+) ", out)
    assert rtl and rtl.group(2) == "4", out
    assert float(rtl.group(1)) == pytest.approx(100 * expected, abs=0.005)
    golden_same = re.findall(r"golden accuracy[:\s]+([\d.]+)%", out)
    assert f"{100 * expected:.2f}" in golden_same, out
    assert not (tmp_path / "mine" / "notes.txt").exists()
    assert (tmp_path / "mine" / "manifest.json").exists()


@pytest.mark.parametrize("stages", [0, 2])
def test_built_popcount_stages(tmp_path, capsys, stages):
    """A whole network built with 0 or 2 popcount stages per tree: the manifest says so,
    its latency differs from the default build's by the stages, and the Verilog `bnngen
    build` wrote gives the golden results on Icarus with the manifest's latency."""
    desc = random_description(34)
    path = tmp_path / "m.json"
    fmt.save(desc, path)
    assert main(["build", str(path), "-o", str(tmp_path / "b"),
                 "--popcount-stages", str(stages)]) == 0
    assert main(["build", str(path), "-o", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    one = json.loads((tmp_path / "one" / "manifest.json").read_text())
    convs = sum(isinstance(layer, fmt.Conv) for layer in desc.layers)
    assert man["options"]["popcount_stages"] == stages
    assert man["latency_cycles"] - one["latency_cycles"] == (stages - 1) * convs
    images = random_images(desc, 4, seed=3)
    gold = forward(desc, images, keep_maps=False)
    out = simulate_network(f"built-stages{stages}", [desc], 0, "icarus", images, gap=0.0,
                           stall=0.0, pace=man["initiation_interval_cycles"],
                           verilog=tmp_path / "b" / f"{man['top']}.v", toplevel=man["top"])
    compare_results(desc, result_words(desc, gold.scores, gold.predictions), out["actual"])
    assert frame_latencies(desc, out) == [man["latency_cycles"]] * 4
