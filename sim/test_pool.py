"""BinaryMaxPool against the golden max-pool, on both simulators."""

from __future__ import annotations

import numpy as np
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


# The FIFO's timing, depths 1 to 3, each beside the bare pool it wraps (depth 0): pools whose
# last window reads the frame's last pixel (a ragged map's last result does not wait for
# it, and the FIFO then takes it earlier than the bare pool would: no latency adds up).
TIMED = [(1, CONFIGS[0]), (2, CONFIGS[1]), (3, CONFIGS[0]), (3, CONFIGS[3])]
FIFO_TIMING = [(d, pool) for depth, pool in TIMED for d in (0, depth)]


def make_timed(cfg):
    from hw.pool import BinaryMaxPool
    return make_buffered(cfg) if cfg[0] else BinaryMaxPool(*cfg[1])


def frame_cycles(out: dict, pixels: int, windows: int) -> tuple[int, list[int]]:
    """(first frame's latency: its last input's transfer to its last output's, cycles
    between the frames' last outputs) of a run without gaps or backpressure."""
    ins = np.asarray(out["in_cycles"], dtype=np.int64)
    ends = np.asarray(out["out_cycles"], dtype=np.int64)[windows - 1::windows]
    return int(ends[0] - ins[pixels - 1]), np.diff(ends).tolist()


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(TIMED)))
def test_fifo_timing(unit, simulator):
    """No gaps, no backpressure: behind the FIFO a frame's result comes exactly
    `fifo_delay(depth)` cycles later than from the bare pool (both measured on the RTL),
    and Buffered's `timing` gives the latency and frame interval measured."""
    from hw.folded.planned import fifo_delay
    depth, (h, w, c, k, s) = TIMED[unit]
    frames, out_shape = 4, ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1, c)
    x = (rng_for("fifo-timing", unit).random((frames, h, w, c)) < 0.25).astype("uint8")
    y = maxpool(x, MaxPool("pool", k, s, out_shape))
    runs = [run_stream("fifo-timing", FIFO_TIMING, make_timed, 2 * unit + i, simulator,
                       pack_bits(x), c, pack_bits(y), c, y.shape[:3], gap=0.0, stall=0.0)
            for i in (0, 1)]
    (bare, _), (lat, gaps) = [frame_cycles(r, h * w, out_shape[0] * out_shape[1])
                              for r in runs]
    assert lat - bare == fifo_delay(depth), (depth, lat, bare)
    timing = make_buffered(TIMED[unit]).timing
    assert (lat, gaps) == (timing.latency, [timing.ii] * (frames - 1)), (depth, timing)
