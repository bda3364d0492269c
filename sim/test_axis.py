"""The network top as an integrator drives it, with cocotbext-axi (AxiStreamSource/Sink) on
an unrolled and a planned build, both simulators: results bit-exact with the golden model
under random pauses and backpressure; an early, a late and a missing tlast each cost the
bad frame alone and `framing_errors` counts each; s_axis_tready is 0 during reset; a reset
in the middle of a frame recovers (and clears the counter). The AXI4-Lite control port
(AxiLiteMaster), on both builds: status registers, thresholds rewritten at run time change
the results as the golden model with those thresholds says, soft reset."""

from __future__ import annotations

import numpy as np
import pytest

from models import golden
from models.factory import random_description, random_images
from sim.harness import SIMULATORS, run_bench
from sim.netcheck import result_words
from sim.test_folded import verilator_makeflags
from sim.vectors import pack_samples, stream_widths, to_npz


@pytest.fixture(autouse=True)
def _verilator_make(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", verilator_makeflags())


# (kind, factory seed or test_folded_network plan); the build is keyed on this list.
# Seed 21's results follow its thresholds (deeper factory nets often saturate); its planned
# build folds every convolution.
CONFIGS = [["unrolled", 34], ["planned", 0], ["control", 21], ["planned-control", 21]]
UNITS = [kind for kind, _ in CONFIGS]
FRAMING = UNITS[:2]
CONTROL = UNITS[2:]


def design(kind: str):
    """(description, plan or None) of one unit: a small factory net, unrolled or folded."""
    number = dict(CONFIGS)[kind]
    if kind == "planned-control":      # seed 21 with every convolution folded
        from gen.estimate.flow_model import analyse
        from gen.plan.search import plan_network
        desc = random_description(number)
        return desc, plan_network(desc, 3 * analyse(desc, {}).ii, fold=True, family="ecp5")
    if kind != "planned":
        return random_description(number), None
    from sim.test_folded_network import planned
    return planned(number)


def make_unit(cfg):
    kind = cfg[0]
    desc, plan = design(kind)
    if plan is None:
        from hw.network import Network
        return Network(desc, control=kind == "control")
    from hw.folded.planned import PlannedNetwork
    return PlannedNetwork(desc, plan.choices(), stages=plan.stages,
                          control=kind.endswith("control"))


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(FRAMING)), ids=FRAMING)
def test_axis_framing(unit, simulator):
    desc, plan = design(UNITS[unit])
    hw_ = desc.input.height * desc.input.width
    # good, early (3 short), good, late (2 long), good, missing (image 5 without tlast, then
    # image 6 with it), good (image 6 again); then (after the mid-frame reset) a half-sent
    # frame and `after` good ones. Each bad frame costs itself alone.
    lengths = [hw_, hw_ - 3, hw_, hw_ + 2, hw_, 2 * hw_, hw_]
    good = [0, 2, 4, 6, 6]
    after = 2
    images = random_images(desc, len(lengths) + 2 + after, seed=unit)
    words = [pack_samples(images[n:n + 2], desc.input.bits) for n in range(len(images) - 1)]
    pixels = [w for n, count in enumerate(lengths) for w in words[n][:count]]
    tail = list(range(len(lengths), len(lengths) + 1 + after))
    pixels += [w for n in tail for w in words[n][:hw_]]
    kept = good + tail[1:]
    ref = golden.forward(desc, images[kept], keep_maps=False)
    expected = result_words(desc, ref.scores, ref.predictions)
    in_width, out_width = stream_widths(desc)
    ii = plan.ii if plan is not None else hw_
    vec = {"inputs": to_npz(pixels, in_width), "plan": lengths, "good": len(good),
           "after": after, "frame_pixels": hw_, "in_bytes": in_width // 8,
           "out_bytes": out_width // 8, "seed": 3 + unit, "gap": 0.3, "stall": 0.4,
           "timeout": 6 * ii * (len(lengths) + 4) + 5000}
    out = run_bench("axis-ip", CONFIGS, make_unit, unit, "axis_bench", simulator, vec)
    from sim.benches.tb import array_words
    actual = array_words(out["outputs"])
    name = f"{desc.name} ({UNITS[unit]}, {simulator})"
    assert not out["ready_in_reset"], f"{name}: s_axis_tready was 1 during reset"
    assert len(actual) == len(expected), \
        f"{name}: {len(actual)} results, expected {len(expected)} (the good frames alone)"
    for n, (e, a) in enumerate(zip(expected, actual)):
        assert e == a, f"{name}: result {n}: expected {e:#x}, actual {a:#x}"
    assert out["errors"].tolist() == [3, 0, 0], \
        f"{name}: framing_errors {out['errors'].tolist()} (before reset, after it, at the end)"
    assert not out["failed"]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("kind", CONTROL)
def test_control_port(kind, simulator):
    from dataclasses import replace

    from hw.control import ID_VALUE
    unit = UNITS.index(kind)
    desc, plan = design(kind)
    hw_ = desc.input.height * desc.input.width
    images = random_images(desc, 7, seed=21)
    pixels = pack_samples(images, desc.input.bits)
    th = desc.encoder.channel_thresholds(desc.input.channels)
    gold = golden.forward(desc, images, keep_maps=False)
    for seed in range(100):     # new thresholds that change the results of frames 4 and 5
        rng = np.random.default_rng(seed)
        new = np.stack([np.sort(rng.choice(np.arange(1, 1 << desc.input.bits), th.shape[1],
                                           replace=False)) for _ in range(th.shape[0])])
        retuned = replace(desc, encoder=replace(desc.encoder, thresholds=new))
        gold_new = golden.forward(retuned, images, keep_maps=False)
        if (gold_new.scores[4:6] != gold.scores[4:6]).any():
            break
    assert (gold_new.scores[4:6] != gold.scores[4:6]).any()
    new = new.ravel()
    in_width, out_width = stream_widths(desc)
    expected = (result_words(desc, gold.scores[[0, 1, 3]], gold.predictions[[0, 1, 3]])
                + result_words(desc, gold_new.scores[4:6], gold_new.predictions[4:6])
                + result_words(desc, gold.scores[6:], gold.predictions[6:]))
    vec = {"inputs": to_npz(pixels, in_width), "thresholds": new, "classes": desc.num_classes,
           "frame_pixels": hw_, "in_bytes": in_width // 8, "out_bytes": out_width // 8,
           "seed": 8, "timeout": 200 * (plan.ii if plan is not None else hw_) + 5000}
    out = run_bench("axis-ip", CONFIGS, make_unit, unit, "axis_bench", simulator, vec)
    from sim.benches.tb import array_words
    actual = array_words(out["outputs"])
    assert actual == expected, \
        f"{simulator}: results {actual}, expected {expected}, registers {out['regs'].tolist()}"
    regs = [int(r) for r in out["regs"]]
    k = desc.num_classes
    scores = [int(v) & 0xFFFFFFFF for v in gold.scores[3]]
    assert regs[:4 + k] == [ID_VALUE, 3, 1, int(gold.predictions[3])] + scores, regs
    assert regs[4 + k:4 + k + new.size] == new.tolist(), "thresholds read back"
    assert regs[4 + k + new.size:] == [5, 0, int(th.ravel()[0])], "after the soft reset"
    assert not out["failed"]
