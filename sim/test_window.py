"""WindowGenerator against an independent NumPy sliding window, on both simulators."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from sim.harness import SIMULATORS, run_bench
from sim.vectors import check_outputs, pack_bits, reference_windows, to_npz


# (H, W, C, kernel, stride, padding, pad_bit)
CONFIGS = [
    (5, 6, 2, (3, 3), (1, 1), (1, 1), 0),     # "same" padding, spilled window per row
    (6, 5, 3, (3, 3), (1, 1), (1, 1), 1),     # pad_bit 1
    (4, 4, 2, (1, 1), (1, 1), (0, 0), 0),     # 1x1 kernel
    (7, 6, 1, (3, 2), (2, 2), (1, 1), 1),     # stride 2, asymmetric kernel
    (5, 5, 2, (2, 2), (1, 1), (1, 1), 0),     # padding = kernel - 1: more windows than pixels
    (4, 5, 2, (4, 5), (1, 1), (0, 0), 0),     # dense: one window per frame
    (6, 6, 1, (5, 5), (2, 2), (2, 2), 1),     # big pad, stride 2
    (5, 6, 24, (3, 3), (1, 1), (1, 1), 0),    # wide: two enable groups (hw.fanout)
    (4, 5, 48, (3, 3), (2, 1), (1, 1), 1),    # four groups, one read enable per bank
]


# The same generators again in front of a consumer whose `ready` is a register (as a folded
# engine with a skid register is): the generator's enables are then registers of their own.
UNITS = [(cfg, False) for cfg in CONFIGS] + [(cfg, True) for cfg in CONFIGS[2:3] + CONFIGS[-6:]]


def make(unit):
    from hw.window.generator import WindowGenerator
    cfg, registered = unit
    gen = WindowGenerator(*cfg)
    return registered_sink(gen) if registered else gen


def registered_sink(gen):
    """`gen` in front of a pool's OR stage of one tap with a skid register (hw.pool.WindowOr,
    which passes each window on as it is): its `ready` is that register, and it gives
    `gen` the register's next value (`ready_next`), as in a pool pipelined for a clock."""
    from amaranth import Module
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    from hw.pool import WindowOr

    class RegisteredSink(wiring.Component):
        def __init__(self):
            self.sink = WindowOr(1, len(gen.o.payload), skid=True)
            gen.ready_next, gen.pipelined = self.sink.ready_next, True
            super().__init__({"i": In(stream.Signature(gen.channels)),
                              "o": Out(stream.Signature(len(gen.o.payload)))})

        def elaborate(self, platform):
            m = Module()
            m.submodules.gen, m.submodules.sink = gen, self.sink
            wiring.connect(m, wiring.flipped(self.i), gen.i)
            wiring.connect(m, gen.o, self.sink.i)
            wiring.connect(m, self.sink.o, wiring.flipped(self.o))
            return m
    return RegisteredSink()


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(UNITS)))
def test_window(unit, simulator):
    cfg = UNITS[unit][0]
    h, w, c, k, s, p, pb = cfg
    frames = 3
    rng = np.random.default_rng(zlib.crc32(repr(UNITS[unit]).encode()))
    x = rng.integers(0, 2, (frames, h, w, c)).astype(np.uint8)
    x[0] = 0 if pb else 1   # a frame that differs from the pad everywhere
    win = reference_windows(x, k, s, p, pb)
    width = k[0] * k[1] * c
    expected = pack_bits(win)
    vec = {"inputs": to_npz(pack_bits(x), c), "count": len(expected), "out_width": width,
           "seed": 7, "gap": 0.3, "stall": 0.4, "timeout": 50 * frames * h * w + 2000}
    out = run_bench("window", UNITS, make, unit, "stream_bench", simulator, vec)
    check_outputs("window", expected, out, win.shape[:3])
