"""StreamingDense against the golden model on both simulators: bit-exact pixels (and scores
and class) from a pixel stream under random input gaps and output backpressure; the frame
interval and latency equal the block's `timing`, and half the blocks pruned take at most
55% of the cycles."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import Conv
from models.factory import random_conv
from sim.harness import SIMULATORS, run_bench
from sim.test_folded import _with, check_outputs, half_pruned, verilator_makeflags
from sim.vectors import engine_output_bits, from_npz, pack_bits, to_npz


@pytest.fixture(autouse=True)
def _verilator_make(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", verilator_makeflags())


def layer(**options) -> dict:
    return dict(options, dense=True)


# (name, in_shape, conv options, pe, simd, stages): both domains (P_all or not), groups,
# masks inside chunks, whole-channel pruning, a partial last chunk, lanes holding several
# channels or none, scores and thresholds, stage counts 0..3.
CONFIGS = [
    ("bip", (3, 3, 8), layer(out_channels=6, groups=1, domain="bipolar", prune=0.0), 2, 3, 1),
    ("bip-groups-mask", (2, 3, 6), layer(out_channels=4, groups=2, domain="bipolar",
                                         prune=0.5), 3, 2, 0),
    ("sparse-p0", (3, 2, 4), layer(out_channels=4, groups=2, domain="sparse"), 4, 2, 2),
    ("sparse-pall", (2, 2, 6), layer(out_channels=3, groups=1, domain="sparse"), 1, 4, 1),
    ("scores", (3, 3, 4), layer(out_channels=5, groups=1, domain="bipolar", prune=0.5,
                                scores=True), 2, 3, 1),
    ("scores-wide", (2, 2, 8), layer(out_channels=10, groups=1, domain="bipolar",
                                     prune=0.0, scores=True), 10, 8, 1),
    # one pixel: each lane's channels one after the other on one accumulator
    ("one-pixel", (1, 1, 16), layer(out_channels=8, groups=1, domain="bipolar", prune=0.0),
     2, 4, 1),
    # scores from banked sums; channels that finish before the last pixel (simd 1 visits
    # only the one-bits of a sparse p = 0 layer)
    ("scores-banked", (2, 2, 6), layer(out_channels=5, groups=1, domain="bipolar",
                                       prune=0.5, scores=True), 2, 3, 2),
    ("sparse-order", (2, 2, 4), layer(out_channels=6, groups=1, domain="sparse"), 1, 1, 1),
    # a lane of more than 16 thresholds, read a step ahead (front 2), from a block RAM and
    # from a LUT ROM (MEMORY)
    ("thr-block", (2, 2, 3), layer(out_channels=24, groups=1, domain="bipolar", prune=0.0),
     1, 3, 2),
    ("thr-logic", (2, 2, 4), layer(out_channels=24, groups=2, domain="sparse"), 1, 2, 2),
    # a block RAM word of several slices, each read by its own counter and fire (front 2 and
    # up, skid)
    ("wide-block", (2, 2, 64), layer(out_channels=8, groups=1, domain="bipolar",
                                     prune=0.0), 4, 64, 1),
    # six lanes read one chunk multiplexer: two copies of its register (front 3, no skid)
    ("lane-copies", (2, 2, 8), layer(out_channels=12, groups=1, domain="bipolar", prune=0.0),
     6, 4, 0),
]
MEMORY = {"thr-block": "block", "thr-logic": "distributed", "wide-block": "block"}
# the registers a unit is there for (the others: `(stages + len(name)) % 4`)
FRONT = {"thr-block": 2, "thr-logic": 2, "wide-block": 2}
# The pruning measurement: a layer, and the same with half its (o, i) blocks pruned.
II_LAYER = ((3, 3, 8), layer(out_channels=4, groups=1, domain="bipolar", prune=0.0), 2, 1, 1)
UNITS = CONFIGS + [("ii-dense", *II_LAYER), ("ii-pruned", *II_LAYER)]


def unit_conv(cfg) -> Conv:
    name, in_shape, opts = cfg[:3]
    conv = random_conv(np.random.default_rng(len(name) + 40), name, in_shape, **opts)
    if name == "sparse-pall" and conv.p == 0:
        conv = _with(conv, p=-1)
    if name in ("sparse-p0", "sparse-order") and conv.p != 0:
        conv = _with(conv, p=0)
    if name == "ii-pruned":
        conv = half_pruned(conv, 6)
    return conv


def make_unit(cfg):
    from hw.dense.engine import StreamingDense
    _, _, _, pe, simd, stages = cfg
    name = cfg[0]   # every front (none, leaves, + weight word, + chunks), argmax stages 1..3
    return StreamingDense(unit_conv(cfg), pe, simd, stages, MEMORY.get(name, "auto"),
                          argmax_stages=stages + 1,
                          front=FRONT.get(name, (stages + len(name)) % 4), skid=len(name) % 2 == 0)


def run_dense(unit: int, simulator: str, frames: int, gap: float, stall: float, seed: int = 1):
    """Random frames, one pixel per transfer, through unit `unit`: (conv, x, out, timing)."""
    cfg = UNITS[unit]
    name, in_shape, _, pe, simd, stages = cfg
    conv = unit_conv(cfg)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (frames, *in_shape)).astype(np.uint8)
    x[0] = 1
    words = pack_bits(x.reshape(-1, in_shape[2]))
    timing = make_unit(cfg).timing
    out_width = engine_output_bits(conv)
    vec = {"inputs": to_npz(words, in_shape[2]), "count": frames, "out_width": out_width,
           "seed": seed, "gap": gap, "stall": stall,
           "timeout": 20 * frames * (timing.ii + timing.latency) + 2000}
    out = run_bench("dense", UNITS, make_unit, unit, "stream_bench", simulator, vec)
    return conv, x, out, timing


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)), ids=[c[0] for c in CONFIGS])
def test_streaming_dense(unit, simulator):
    conv, x, out, _ = run_dense(unit, simulator, frames=6, gap=0.3, stall=0.4)
    check_outputs(conv, x, from_npz(out["outputs"]))
    assert not out["failed"], f"{conv.name}: the bench failed"


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_dense_timing_and_pruning(simulator):
    """Without gaps or backpressure: frames every `timing.ii` cycles, the first result
    `timing.latency` cycles after the frame's last pixel; half the blocks pruned takes at
    most 55% of the cycles (simd 1: a chunk is one block's bit at one pixel)."""
    ii = {}
    for unit in range(len(CONFIGS), len(UNITS)):
        conv, x, out, timing = run_dense(unit, simulator, frames=3, gap=0.0, stall=0.0)
        check_outputs(conv, x, from_npz(out["outputs"]))
        outs = np.asarray(out["out_cycles"], dtype=np.int64)
        ins = np.asarray(out["in_cycles"], dtype=np.int64)
        pixels = x.shape[1] * x.shape[2]
        assert list(np.diff(outs)) == [timing.ii] * 2, (UNITS[unit][0], outs, timing)
        assert outs[0] - ins[pixels - 1] == timing.latency, (UNITS[unit][0], outs, ins, timing)
        ii[UNITS[unit][0]] = timing.ii
    ratio = ii["ii-pruned"] / ii["ii-dense"]
    print(f"{simulator}: cycles per frame dense {ii['ii-dense']}, 50% pruned "
          f"{ii['ii-pruned']}: ratio {ratio:.3f}")
    assert ratio <= 0.55, f"pruned/dense cycles {ratio:.3f}"
