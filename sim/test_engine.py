"""ConvEngine (one window -> one output pixel) against the golden convolution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.description import Activation
from models.factory import block_mask, random_conv
from models.golden import layer_forward
from sim.common import rng_for, run_stream
from sim.harness import SIMULATORS
from sim.vectors import engine_output_bits, pack_bits, pack_result, result_fields


def _conv(seed, in_shape, **pins):
    return random_conv(np.random.default_rng(seed), f"engine{seed}", in_shape, **pins)


def _all_pruned_channel(conv):
    mask = block_mask(np.random.default_rng(1), conv.weights.shape, 0.5, block="kernel")
    mask[0] = 0                                             # channel 0: no wire at all
    return dataclasses.replace(conv, mask=mask)


def _range_end_thresholds(conv):
    """Thresholds on both ends of each channel's sum range (and beyond), flips mixed."""
    o = conv.out_channels
    fan = conv.weights[0].size
    th = np.array([[0, fan, fan + 1, -1][k % 4] for k in range(o)], dtype=np.int64)
    flip = np.array([k // 4 % 2 for k in range(o)], dtype=np.uint8)
    return dataclasses.replace(conv, activation=Activation(thresholds=th, flip=flip))


CONFIGS = [
    _conv(1, (3, 3, 4), kernel=(3, 3), domain="bipolar", prune=0.5, out_channels=6),
    _all_pruned_channel(_conv(2, (2, 2, 4), kernel=(2, 2), domain="bipolar", out_channels=4,
                              groups=2)),
    dataclasses.replace(_conv(3, (3, 3, 6), kernel=(3, 3), domain="sparse", groups=3,
                              out_channels=6), p=-2, q=3),          # sparse, p < 0
    _conv(4, (1, 1, 8), kernel=(1, 1), domain="sparse", out_channels=8, groups=8),  # depthwise
    _range_end_thresholds(_conv(5, (2, 3, 3), kernel=(2, 3), domain="bipolar", prune=0.0,
                                out_channels=8)),
    _conv(6, (3, 3, 4), domain="bipolar", scores=True, dense=True, out_channels=5),
    dataclasses.replace(_conv(7, (2, 2, 2), domain="sparse", scores=True, dense=True,
                              out_channels=4), p=1, q=2),
]


def make(conv):
    from hw.engine import ConvEngine
    # 0, 1 and 2 popcount stages; the scores layers' argmax with 2 and 3 register stages
    return ConvEngine(conv, stages=conv.kernel[0] % 3, argmax_stages=conv.kernel[1] % 4)


def _single_window(conv):
    """The conv applied to one kh x kw window: no padding, stride 1, 1x1 output."""
    return dataclasses.replace(conv, padding=(0, 0), stride=(1, 1),
                               out_shape=(1, 1, conv.out_channels))


def expected_words(conv, windows):
    """The golden outputs as words; a scores layer's laid out from the description
    (sim.vectors.result_fields), its scores compared whole."""
    out, _ = layer_forward(windows, _single_window(conv))
    if conv.scores is None:
        return pack_bits(out), conv.out_channels, 1
    scores = out.reshape(len(windows), -1)
    cb, sb = result_fields(conv)
    words = [pack_result(int(np.argmax(row)), row, cb, sb) for row in scores]
    return words, engine_output_bits(conv), sb


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)))
def test_engine(unit, simulator):
    conv = CONFIGS[unit]
    kh, kw = conv.kernel
    cin = conv.in_channels_per_group * conv.groups
    rng = rng_for("engine", unit)
    windows = rng.integers(0, 2, (48, kh, kw, cin)).astype(np.uint8)
    windows[0], windows[1] = 0, 1
    words, width, channel_bits = expected_words(conv, windows)
    run_stream("engine", CONFIGS, make, unit, simulator, pack_bits(windows.reshape(48, -1)),
               kh * kw * cin, words, width, (1, 1, len(words)), channel_bits=channel_bits)
