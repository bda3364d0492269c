"""FINN's reference topologies (models/reference.py): the shapes FINN publishes, valid
descriptions, and a planner that meets FINN's rates on them with its default choices."""

from __future__ import annotations

import pytest

from models import description as fmt
from models.reference import cnv, lfc, sfc
from gen.plan.search import plan_network


def test_reference_shapes():
    c = cnv()
    assert c.input.shape == (32, 32, 3) and c.encoded_shape == (32, 32, 24)
    assert [layer.out_shape for layer in c.layers] == [
        (30, 30, 64), (28, 28, 64), (14, 14, 64), (12, 12, 128), (10, 10, 128), (5, 5, 128),
        (3, 3, 256), (1, 1, 256), (1, 1, 512), (1, 1, 512), (1, 1, 10)]
    assert c.weight_bits() == (1554944, 1554944)
    s, f = sfc(), lfc()
    assert [layer.out_channels for layer in s.layers] == [256, 256, 256, 10]
    assert [layer.out_channels for layer in f.layers] == [1024, 1024, 1024, 10]
    assert s.encoded_shape == f.encoded_shape == (1, 1, 784)


@pytest.mark.parametrize("make", [cnv, sfc])
def test_reference_descriptions_round_trip(make, tmp_path):
    desc = make()
    fmt.save(desc, tmp_path / "d.json")
    back = fmt.load(tmp_path / "d.json")
    assert [layer.name for layer in back.layers] == [layer.name for layer in desc.layers]
    assert (back.layers[0].weights == desc.layers[0].weights).all()


def test_planner_meets_finn_rates():
    """CNV at FINN's cnv-w1a1 rate on a Pynq-Z2 part, SFC at SFC-max's 16 cycles/frame:
    within the target, fits, every layer folded onto the streamed or folded engines."""
    for desc, cycles, device in ((cnv(), 32768, "xc7z020"), (sfc(), 16, "xc7z045")):
        plan = plan_network(desc, cycles, device=device)
        assert plan.ii <= cycles and plan.fits
        assert all(lp.engine == "folded" for lp in plan.layers if lp.kind == "conv")
