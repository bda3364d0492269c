"""End-to-end: whole networks from factory descriptions, bit-exact against the golden model
on both simulators, with random input gaps and 40% output backpressure. The chosen seeds
together use every layer kind and option (asserted)."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import Conv, MaxPool, Thermometer
from models.factory import random_description, random_images
from sim.harness import SIMULATORS
from sim.netcheck import frame_latencies, run_network


SEEDS = [272, 389, 34, 233, 94, 112, 93, 179, 216, 55]
DESCS = [random_description(s) for s in SEEDS]
OPTIONS = {"thermometer", "bitplanes", "maxpool", "bipolar", "sparse", "mask", "all_pruned",
           "groups", "depthwise", "stride2", "pad0", "pad1", "kernel1x1", "p<0", "p>0", "p=0",
           "flip", "multi_layer"}


def features(desc) -> set[str]:
    f = {"thermometer" if isinstance(desc.encoder, Thermometer) else "bitplanes"}
    if sum(isinstance(layer, Conv) for layer in desc.layers) > 1:
        f.add("multi_layer")
    for layer in desc.layers:
        if isinstance(layer, MaxPool):
            f.add("maxpool")
            continue
        f.add(layer.domain)
        if layer.mask is not None:
            f.add("mask")
            if (layer.mask.reshape(layer.out_channels, -1).sum(axis=1) == 0).any():
                f.add("all_pruned")
        if layer.groups > 1:
            f.add("groups")
            if layer.in_channels_per_group == 1 and layer.out_channels == layer.groups:
                f.add("depthwise")
        if max(layer.stride) > 1:
            f.add("stride2")
        if max(layer.padding) > 0:
            f.add(f"pad{layer.pad_bit}")
        if layer.kernel == (1, 1) and layer.scores is None:
            f.add("kernel1x1")
        if layer.domain == "sparse":
            f.add("p<0" if layer.p < 0 else "p>0" if layer.p > 0 else "p=0")
        if layer.activation is not None and layer.activation.flip.any():
            f.add("flip")
    return f


def test_seeds_cover_every_option():
    covered = set().union(*(features(d) for d in DESCS))
    assert covered >= OPTIONS, f"no factory seed covers {sorted(OPTIONS - covered)}"


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(SEEDS)), ids=[f"seed{s}" for s in SEEDS])
def test_network_factory(unit, simulator):
    desc = DESCS[unit]
    images = random_images(desc, 6, seed=unit)
    run_network("network-factory", DESCS, unit, simulator, images)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(SEEDS)), ids=[f"seed{s}" for s in SEEDS])
def test_network_latency(unit, simulator):
    """The manifest's latency, measured with frames back to back (the top paces a source
    that never pauses to the II where that is above one pixel per clock, so the paced
    latency holds for it too), and the results one II apart."""
    from gen.build.emit import latency_fields
    from hw.network import Network
    desc = DESCS[unit]
    ii = Network(desc).timing.ii
    expect = latency_fields(desc, ii)
    assert expect["back_to_back_cycles"] == expect["paced_cycles"]
    out = run_network("network-factory", DESCS, unit, simulator, random_images(desc, 4, seed=9),
                      gap=0.0, stall=0.0)
    measured = frame_latencies(desc, out)
    assert measured == [expect["paced_cycles"]] * len(measured), (
        f"{desc.name}: measured latency {measured}, manifest {expect['paced_cycles']}")
    spacing = [int(d) for d in np.diff(out["out_cycles"])]
    assert spacing == [ii] * len(spacing), (desc.name, ii, spacing)
