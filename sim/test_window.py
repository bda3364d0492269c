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
    """`gen` into a buffer of two words whose `ready` is a register, set from the buffer's
    next fill (`gen.ready_next`): it takes a word every cycle while the output drains it,
    and holds the generator while it is full."""
    from amaranth import Module, Signal
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    class RegisteredSink(wiring.Component):
        def __init__(self):
            gen.ready_next, gen.pipelined = Signal(name="ready_next"), True
            super().__init__({"i": In(stream.Signature(gen.channels)),
                              "o": Out(stream.Signature(len(gen.o.payload)))})

        def elaborate(self, platform):
            m = Module()
            m.submodules.gen = gen
            wiring.connect(m, wiring.flipped(self.i), gen.i)
            ready, second = Signal(init=1), Signal.like(self.o.payload)
            level = Signal(range(3))
            took, gave = gen.o.valid & ready, self.o.valid & self.o.ready
            level_next = level + took - gave
            m.d.comb += [gen.o.ready.eq(ready), gen.ready_next.eq(level_next < 2),
                         self.o.valid.eq(level != 0)]
            m.d.sync += [ready.eq(level_next < 2), level.eq(level_next)]
            with m.If(took & ((level == 0) | ((level == 1) & gave))):
                m.d.sync += self.o.payload.eq(gen.o.payload)
            with m.Elif(gave & (level == 2)):
                m.d.sync += self.o.payload.eq(second)
            with m.If(took & (level == 1) & ~gave):
                m.d.sync += second.eq(gen.o.payload)
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
