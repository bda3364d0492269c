"""BinaryMaxPool against the golden max-pool, on both simulators."""

from __future__ import annotations

import pytest

from models.description import MaxPool
from models.golden import maxpool
from sim.common import rng_for, run_stream
from sim.harness import SIMULATORS
from sim.vectors import pack_bits


# (H, W, C, kernel, stride)
CONFIGS = [
    (4, 4, 2, (2, 2), (2, 2)),
    (5, 5, 3, (2, 2), (1, 1)),    # overlapping windows
    (7, 6, 1, (3, 3), (2, 2)),    # odd size: last row/column dropped
    (3, 3, 2, (3, 3), (1, 1)),    # global pool
    (5, 4, 2, (1, 1), (1, 1)),    # identity
    (6, 7, 4, (3, 2), (3, 2)),
]


def make(cfg):
    from hw.pool import BinaryMaxPool
    return BinaryMaxPool(*cfg, skid=CONFIGS.index(cfg) % 2 == 1)   # half with a skid register


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)))
def test_pool(unit, simulator):
    h, w, c, k, s = CONFIGS[unit]
    rng = rng_for("pool", unit)
    # Sparse ones so that ORs are not trivially all 1.
    x = (rng.random((3, h, w, c)) < 0.25).astype("uint8")
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    y = maxpool(x, MaxPool("pool", k, s, (ho, wo, c)))
    run_stream("pool", CONFIGS, make, unit, simulator, pack_bits(x), c, pack_bits(y), c,
               y.shape[:3])


# The FIFO a plan puts in front of a layer (hw.folded.planned.Buffered), on its own around a
# pool block: depths 1 to 3, with heavy backpressure so that it fills and drains.
BUFFERED = [(1, CONFIGS[0]), (2, CONFIGS[2]), (3, CONFIGS[1])]


def make_buffered(cfg):
    from hw.folded.planned import Buffered
    from hw.pool import BinaryMaxPool
    depth, pool = cfg
    return Buffered(BinaryMaxPool(*pool), depth)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(BUFFERED)))
def test_fifo_in_front_of_a_block(unit, simulator):
    depth, (h, w, c, k, s) = BUFFERED[unit]
    rng = rng_for("fifo", unit)
    x = (rng.random((4, h, w, c)) < 0.25).astype("uint8")
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    y = maxpool(x, MaxPool("pool", k, s, (ho, wo, c)))
    run_stream("fifo", BUFFERED, make_buffered, unit, simulator, pack_bits(x), c,
               pack_bits(y), c, y.shape[:3], gap=0.1, stall=0.7, seed=unit)
