"""Encoder (thermometer, bitplanes, run-time thresholds) against golden.encode."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import Bitplanes, Thermometer
from models.golden import encode
from sim.common import rng_for, run_stream
from sim.harness import SIMULATORS, run_bench
from sim.vectors import check_outputs, pack_bits, pack_samples, to_npz


def _th(rows):
    return Thermometer(thresholds=np.array(rows, dtype=np.int64))


# (channels, bits, encoder)
CONFIGS = [
    (1, 8, _th([[16, 40, 80, 120, 160, 200, 250]])),        # shared, 8-bit (the default)
    (3, 4, _th([[1, 7, 15], [2, 3, 4], [5, 9, 14]])),        # per channel, range ends
    (2, 5, Bitplanes()),
    (1, 1, _th([[1]])),                                      # 1-bit samples, T = 1
    (1, 16, Bitplanes()),                                    # widest samples
    (2, 8, _th([[1, 128, 255]])),                            # shared by 2 channels, ends
]
RUNTIME = (2, 8, _th([[10, 100, 200], [50, 60, 70]]))        # run-time variant


def make(cfg):
    from hw.encoder import Encoder
    if cfg is RUNTIME or cfg[3:] == ("runtime",):
        return Encoder(*cfg[:3], runtime=True)
    return Encoder(*cfg)


def samples(channels, bits, encoder, count, key):
    rng = rng_for("encoder", key)
    top = (1 << bits) - 1
    x = rng.integers(0, top + 1, (count, 1, 1, channels))
    x[0], x[1] = 0, top
    if isinstance(encoder, Thermometer):  # every threshold, and one below it
        th = encoder.channel_thresholds(channels)
        for k, t in enumerate(th.T[:, :]):
            x[2 + 2 * k % (count - 4), 0, 0] = t
            x[3 + 2 * k % (count - 4), 0, 0] = np.maximum(t - 1, 0)
    return x


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)))
def test_encoder(unit, simulator):
    c, b, enc = CONFIGS[unit]
    x = samples(c, b, enc, 64, unit)
    y = encode(x, enc, b)
    run_stream("encoder", CONFIGS, make, unit, simulator, pack_samples(x, b), c * b,
               pack_bits(y), y.shape[-1], (1, 1, len(x)))


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_encoder_runtime_thresholds(simulator):
    """Encode, rewrite every threshold through the config port, encode again."""
    c, b, enc = RUNTIME
    x = samples(c, b, enc, 40, "runtime")
    new = _th([[3, 4, 250], [0x80, 0x81, 0xFF]])
    before, after = encode(x, enc, b), encode(x, new, b)
    t = new.planes
    writes = [(ch * t + k, int(new.thresholds[ch, k])) for ch in range(c) for k in range(t)]
    vec = {"inputs": to_npz(pack_samples(x, b), c * b), "count": len(x),
           "out_width": c * t, "seed": 3, "gap": 0.3, "stall": 0.4, "timeout": 4000,
           "cfg_addr": np.array([a for a, _ in writes]),
           "cfg_data": np.array([d for _, d in writes])}
    out = run_bench("encoder-runtime", [RUNTIME], make, 0, "encoder_runtime_bench", simulator,
                    vec)
    check_outputs("encoder", pack_bits(before) + pack_bits(after), out, (2, 1, len(x)))
