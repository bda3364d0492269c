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


def make(cfg):
    from hw.window.generator import WindowGenerator
    return WindowGenerator(*cfg)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)))
def test_window(unit, simulator):
    cfg = CONFIGS[unit]
    h, w, c, k, s, p, pb = cfg
    frames = 3
    rng = np.random.default_rng(zlib.crc32(repr(cfg).encode()))
    x = rng.integers(0, 2, (frames, h, w, c)).astype(np.uint8)
    x[0] = 0 if pb else 1   # a frame that differs from the pad everywhere
    win = reference_windows(x, k, s, p, pb)
    width = k[0] * k[1] * c
    expected = pack_bits(win)
    vec = {"inputs": to_npz(pack_bits(x), c), "count": len(expected), "out_width": width,
           "seed": 7, "gap": 0.3, "stall": 0.4, "timeout": 50 * frames * h * w + 2000}
    out = run_bench("window", CONFIGS, make, unit, "stream_bench", simulator, vec)
    check_outputs("window", expected, out, win.shape[:3])
