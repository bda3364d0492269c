"""The shipped model, fully unrolled, end to end: 25 real Fashion-MNIST test images on
Verilator under random gaps and 40% backpressure, bit-exact with the golden model (the
class and every score; each image drives every layer's whole data path, so more images add
time, not coverage: the planned build of the same model runs the whole test set through
`bnngen verify`, and `make demo` 1,000 images); the steady-state frame
period and latency measured without gaps or backpressure equal the manifest's; a short
Icarus run of the same network (opt-in: it is slow on the fully unrolled shipped model)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from models import description as fmt
from models.datasets import fashion_mnist
from sim.netcheck import run_network


MODEL = Path(__file__).resolve().parents[1] / "models/zoo/default.json"


@pytest.fixture(scope="module")
def shipped():
    return fmt.load(MODEL)


def test_shipped_25_images_verilator(shipped):
    images, _ = fashion_mnist("test")
    run_network("network-shipped", [shipped], 0, "verilator", images[:25])


def test_shipped_cycles_per_frame(shipped):
    """At steady state one frame every H*W cycles: one input pixel per clock."""
    from gen.build.emit import latency_fields
    from hw.network import Network
    images, _ = fashion_mnist("test")
    out = run_network("network-shipped", [shipped], 0, "verilator", images[100:106],
                      gap=0.0, stall=0.0)
    timing = Network(shipped).timing
    h, w = shipped.input.height, shipped.input.width
    period = np.diff(out["out_cycles"])[2:]
    assert set(period.tolist()) == {h * w}, f"frame periods {period.tolist()}"
    assert timing.ii == h * w
    last_pixel = out["in_cycles"][h * w - 1::h * w]
    latency = out["out_cycles"] - last_pixel
    manifest = latency_fields(shipped, timing.ii)
    assert manifest["back_to_back_cycles"] == manifest["paced_cycles"]
    assert latency.tolist() == [manifest["paced_cycles"]] * len(latency), (
        f"measured latency {latency.tolist()}, manifest {manifest['paced_cycles']}")


@pytest.mark.skipif(not os.environ.get("BNNGEN_SLOW"), reason="Icarus on the 31 MB shipped "
                    "network takes minutes per image; set BNNGEN_SLOW=1")
def test_shipped_icarus(shipped):
    images, _ = fashion_mnist("test")
    run_network("network-shipped", [shipped], 0, "icarus", images[:2])
