"""The network top as an integrator drives it, with cocotbext-axi (AxiStreamSource/Sink) on
an unrolled and a planned build, both simulators: results bit-exact with the golden model
under random pauses and backpressure; an early, a late and a missing tlast each cost the
bad frame alone and `framing_errors` counts each; s_axis_tready is 0 during reset; a reset
in the middle of a frame recovers (and clears the counter)."""

from __future__ import annotations

import pytest

from models import golden
from models.factory import random_description, random_images
from sim.harness import SIMULATORS, run_bench
from sim.netcheck import result_words
from sim.test_folded import verilator_makeflags
from sim.vectors import pack_samples, to_npz


@pytest.fixture(autouse=True)
def _verilator_make(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", verilator_makeflags())


UNITS = ["unrolled", "planned"]


def design(kind: str):
    """(description, plan or None) of one unit: a small factory net, unrolled or folded."""
    if kind == "unrolled":
        return random_description(34), None
    from sim.test_folded_network import planned
    return planned(0)


def make_unit(kind: str):
    desc, plan = design(kind)
    if plan is None:
        from hw.network import Network
        return Network(desc)
    from hw.folded_layer import PlannedNetwork
    return PlannedNetwork(desc, plan.choices(), stages=plan.stages)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(UNITS)), ids=UNITS)
def test_axis_framing(unit, simulator):
    from hw.network import port_widths
    desc, plan = design(UNITS[unit])
    hw_ = desc.input.height * desc.input.width
    # good, early (3 short), good, late (2 long), good, missing (two images, one tlast), good;
    # then (after the mid-frame reset) a half-sent frame and `after` good ones.
    lengths = [hw_, hw_ - 3, hw_, hw_ + 2, hw_, 2 * hw_, hw_]
    good = [0, 2, 4, 6]
    after = 2
    images = random_images(desc, len(lengths) + 2 + after, seed=unit)
    words = [pack_samples(images[n:n + 2], desc.input.bits) for n in range(len(images) - 1)]
    pixels = [w for n, count in enumerate(lengths) for w in words[n][:count]]
    tail = list(range(len(lengths), len(lengths) + 1 + after))
    pixels += [w for n in tail for w in words[n][:hw_]]
    kept = good + tail[1:]
    ref = golden.forward(desc, images[kept], keep_maps=False)
    expected = result_words(desc, ref.scores, ref.predictions)
    in_width, out_width = port_widths(desc)
    ii = plan.ii if plan is not None else hw_
    vec = {"inputs": to_npz(pixels, in_width), "plan": lengths, "good": len(good),
           "after": after, "frame_pixels": hw_, "in_bytes": in_width // 8,
           "out_bytes": out_width // 8, "seed": 3 + unit, "gap": 0.3, "stall": 0.4,
           "timeout": 6 * ii * (len(lengths) + 4) + 5000}
    out = run_bench("axis-ip", UNITS, make_unit, unit, "axis_bench", simulator, vec)
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
