"""Helpers shared by the block tests: run a stream block unit and check it."""

from __future__ import annotations

import zlib

import numpy as np

from sim.harness import run_bench
from sim.vectors import check_outputs, to_npz


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def run_stream(name: str, configs: list, make_unit, unit: int, simulator: str,
               inputs: list[int], in_width: int, expected: list[int], out_width: int,
               shape: tuple[int, ...], channel_bits: int = 1, gap: float = 0.3,
               stall: float = 0.4, seed: int = 7) -> dict:
    """Stream `inputs` through unit `unit` with random gaps and backpressure; compare."""
    vec = {"inputs": to_npz(inputs, in_width), "count": len(expected), "out_width": out_width,
           "seed": seed, "gap": gap, "stall": stall,
           "timeout": 20 * (len(inputs) + len(expected)) + 2000}
    out = run_bench(name, configs, make_unit, unit, "stream_bench", simulator, vec)
    check_outputs(name, expected, out, shape, channel_bits)
    return out
