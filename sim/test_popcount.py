"""PopcountTree: counts against NumPy, every pipeline depth, on both simulators."""

from __future__ import annotations

import pytest

from sim.common import rng_for, run_stream
from sim.harness import SIMULATORS

# (width, register stages)
CONFIGS = [(1, 0), (7, 1), (16, 2), (33, 3), (64, 8)]


def make(cfg):
    from hw.popcount import PopcountTree
    return PopcountTree(*cfg)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)))
def test_popcount(unit, simulator):
    from hw.popcount import count_width
    width, _ = CONFIGS[unit]
    rng = rng_for("popcount", unit)
    words = [0, (1 << width) - 1] + [
        sum(int(b) << k for k, b in enumerate(rng.integers(0, 2, width))) for _ in range(60)]
    expected = [bin(w).count("1") for w in words]
    run_stream("popcount", CONFIGS, make, unit, simulator, words, width, expected,
               count_width(width), (1, 1, len(words)), channel_bits=count_width(width))
