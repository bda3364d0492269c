"""FoldedEngine against the golden model on both simulators: bit-exact pixels (and scores),
random input gaps and output backpressure; the initiation interval and the cycles a
block-pruned layer saves, measured without gaps or backpressure."""

from __future__ import annotations

import os

import numpy as np
import pytest

from models import golden
from models.description import Conv
from models.factory import random_conv
from sim.harness import SIMULATORS, run_bench
from sim.vectors import (compare_words, engine_output_bits, from_npz, pack_bits,
                         reference_windows, result_fields, to_npz, unpack_result)


def verilator_makeflags() -> str:
    """MAKEFLAGS for this module's Verilator builds: -O0, since these simulations are short
    and the C++ compile dominates (a bundle of networks builds several times faster)."""
    return " ".join(filter(None, [os.environ.get("MAKEFLAGS"), "OPT_FAST=-O0",
                                  "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]))


@pytest.fixture(autouse=True)
def _verilator_make(monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", verilator_makeflags())


def layer(**options) -> dict:
    """Pinned `random_conv` options."""
    return options


# (name, in_shape, conv options, pe, simd, stages): every domain, grouping, pruning kind,
# a scores layer, a partial last chunk, masks inside chunks, stage counts 0..3.
CONFIGS = [
    ("bip-dense", (4, 4, 4), layer(out_channels=6, kernel=(3, 3), padding=(1, 1),
                                   stride=(1, 1), groups=1, domain="bipolar", prune=0.0), 2, 9, 1),
    ("bip-pruned", (4, 5, 4), layer(out_channels=8, kernel=(3, 3), padding=(1, 1),
                                    stride=(2, 2), groups=2, domain="bipolar", prune=0.0), 3, 9, 2),
    ("bip-mask", (3, 4, 6), layer(out_channels=4, kernel=(2, 2), padding=(0, 0), stride=(1, 1),
                                  groups=1, domain="bipolar", prune=0.5), 2, 7, 0),
    ("sparse-p0", (4, 4, 2), layer(out_channels=4, kernel=(3, 3), padding=(1, 1),
                                   stride=(1, 1), groups=2, domain="sparse"), 4, 4, 1),
    ("sparse-all", (4, 3, 3), layer(out_channels=3, kernel=(1, 3), padding=(0, 1),
                                    stride=(1, 1), groups=1, domain="sparse"), 1, 5, 1),
    ("scores", (3, 3, 4), layer(out_channels=5, dense=True, groups=1, domain="bipolar",
                                prune=0.5, scores=True), 2, 6, 1),
    # a lane of more than 16 thresholds, read a step ahead (front 2), from a block RAM and
    # from a LUT ROM (MEMORY)
    ("thr-block", (3, 3, 2), layer(out_channels=24, kernel=(1, 1), padding=(0, 0),
                                   stride=(1, 1), groups=1, domain="bipolar", prune=0.0), 1, 2, 2),
    ("thr-logic", (3, 3, 4), layer(out_channels=24, kernel=(1, 1), padding=(0, 0),
                                   stride=(1, 1), groups=2, domain="bipolar", prune=0.0),
     1, 2, 2),
    # a window of two enable groups (hw.fanout), with the skid's `ready` copies
    ("wide-win", (3, 3, 16), layer(out_channels=4, kernel=(3, 3), padding=(1, 1),
                                   stride=(1, 1), groups=1, domain="bipolar", prune=0.0), 2, 48, 1),
    # a block RAM word of several slices, each read by its own counter and fire (front 2 and
    # up, skid)
    ("wide-block", (3, 3, 16), layer(out_channels=8, kernel=(3, 3), padding=(1, 1),
                                     stride=(1, 1), groups=1, domain="bipolar", prune=0.0),
     4, 72, 1),
    # six lanes read one chunk multiplexer: two copies of its register (front 3, skid)
    ("lanes-copied", (3, 3, 4), layer(out_channels=12, kernel=(3, 3), padding=(1, 1),
                                      stride=(1, 1), groups=1, domain="bipolar", prune=0.0),
     6, 12, 3),
]
# the threshold units again with `front` 3: the comparison a cycle after the accumulator
CONFIGS += [(f"{name}-3", *rest) for name, *rest in CONFIGS if name.startswith("thr-")]
MEMORY = {"thr-block": "block", "thr-logic": "distributed", "wide-block": "block",
          "thr-block-3": "block", "thr-logic-3": "distributed"}
# the registers a unit is there for (the others: `(stages + len(name)) % 4`)
FRONT = {"thr-block": 2, "thr-logic": 2, "wide-block": 2, "thr-block-3": 3, "thr-logic-3": 3}


# The two layers of the pruning measurement: dense, and the same with half its blocks pruned.
II_LAYER = ((3, 3, 8), layer(out_channels=8, kernel=(3, 3), padding=(1, 1), stride=(1, 1),
                             groups=1, domain="bipolar", prune=0.0), 2, 9, 1)
UNITS = CONFIGS + [("ii-dense", *II_LAYER), ("ii-pruned", *II_LAYER)]


def unit_conv(cfg) -> Conv:
    name, in_shape, opts = cfg[:3]
    if name.startswith("ii-"):
        conv = random_conv(np.random.default_rng(5), "dense", in_shape, **opts)
        return half_pruned(conv, 6) if name == "ii-pruned" else conv
    return make_conv(name, in_shape, opts, seed=len(name))


def make_unit(cfg):
    from hw.folded.engine import FoldedEngine
    _, _, _, pe, simd, stages = cfg
    name = cfg[0]   # every front (none, leaves, + weight word, + chunks), argmax stages 1..3
    return FoldedEngine(unit_conv(cfg), pe, simd, stages, MEMORY.get(name, "auto"),
                        argmax_stages=stages + 1,
                        front=FRONT.get(name, (stages + len(name)) % 4), skid=len(name) % 2 == 0)


def make_conv(name: str, in_shape, opts: dict, seed: int) -> Conv:
    rng = np.random.default_rng(seed)
    conv = random_conv(rng, name, in_shape, **opts)
    if name == "sparse-all" and conv.p == 0:
        conv = _with(conv, p=-1)
    if name == "sparse-p0" and conv.p != 0:
        conv = _with(conv, p=0)
    if name == "bip-pruned":  # kernel-slice blocks (the factory may prune whole channels)
        conv = half_pruned(conv, seed)
    return conv


def _with(conv: Conv, **fields) -> Conv:
    from dataclasses import replace
    return replace(conv, **fields)


def decode_results(words: list[int], conv: Conv) -> tuple[np.ndarray, np.ndarray]:
    """(classes, scores) from result words laid out from the description (sim.vectors)."""
    decoded = [unpack_result(w, conv.out_channels, *result_fields(conv)) for w in words]
    cls = np.array([c for c, _ in decoded], dtype=np.int64)
    scores = np.array([s for _, s in decoded], dtype=np.int64).reshape(len(words), -1)
    return cls, scores


def run_engine(unit: int, simulator: str, frames: int, gap: float, stall: float,
               seed: int = 1):
    """Windows of random frames through unit `unit`: (conv, inputs, out dict, steps)."""
    from hw.folded.schedule import fold_steps
    cfg = UNITS[unit]
    name, in_shape, _, pe, simd, stages = cfg
    conv = unit_conv(cfg)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (frames, *in_shape)).astype(np.uint8)
    x[0] = 1
    win = reference_windows(x, conv.kernel, conv.stride, conv.padding, conv.pad_bit)
    words = pack_bits(win)
    steps = fold_steps(conv, pe, simd)
    out_width = engine_output_bits(conv)
    vec = {"inputs": to_npz(words, win.shape[-1]), "count": len(words), "out_width": out_width,
           "seed": seed, "gap": gap, "stall": stall,
           "timeout": 20 * len(words) * (steps + stages + 4) + 2000}
    out = run_bench("folded", UNITS, make_unit, unit, "stream_bench", simulator, vec)
    return conv, x, out, steps


def check_outputs(conv: Conv, x: np.ndarray, words: list[int]) -> None:
    sums = golden.conv_sums(x, conv)
    if conv.scores is None:
        expected = golden.activate(sums, conv.activation)
        compare_words(conv.name, pack_bits(expected), words, expected.shape[:3])
        return
    scores = (sums * conv.scores.scale + conv.scores.offset).reshape(-1, conv.out_channels)
    cls, got = decode_results(words, conv)
    for n in range(len(scores)):
        if not (got[n] == scores[n]).all() or cls[n] != int(np.argmax(scores[n])):
            o = int(np.flatnonzero(got[n] != scores[n])[0]) if (got[n] != scores[n]).any() else -1
            raise AssertionError(f"{conv.name}: frame {n}: channel {o}: expected scores "
                                 f"{scores[n].tolist()} class {int(np.argmax(scores[n]))}, "
                                 f"actual {got[n].tolist()} class {cls[n]}")


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("unit", range(len(CONFIGS)), ids=[c[0] for c in CONFIGS])
def test_folded_engine(unit, simulator):
    scores = UNITS[unit][2].get("scores", False)
    conv, x, out, _ = run_engine(unit, simulator, frames=6 if scores else 2, gap=0.3,
                                 stall=0.4)
    check_outputs(conv, x, from_npz(out["outputs"]))
    assert not out["failed"], f"{conv.name}: the bench failed"


def steady_period(cycles: np.ndarray, skip: int = 2) -> float:
    """Cycles per output at steady state (the first outputs include the pipeline fill)."""
    c = np.asarray(cycles, dtype=np.int64)
    return float(c[-1] - c[skip]) / (len(c) - 1 - skip)


def half_pruned(conv: Conv, seed: int) -> Conv:
    """The same layer with exactly half of its (o, i) kernel slices pruned."""
    o, kh, kw, cg = conv.weights.shape
    rng = np.random.default_rng(seed)
    keep = np.zeros(o * cg, dtype=np.uint8)
    keep[rng.permutation(o * cg)[:o * cg // 2]] = 1
    mask = np.broadcast_to(keep.reshape(o, 1, 1, cg), conv.weights.shape)
    return _with(conv, mask=mask.astype(np.uint8))


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_pruning_saves_cycles(simulator):
    """A layer with 50% of its blocks pruned takes at most 55% of the dense layer's cycles,
    and both run at the schedule's predicted rate (steps per window, within 2%)."""
    periods = {}
    for unit in (len(CONFIGS), len(CONFIGS) + 1):
        conv, x, out, steps = run_engine(unit, simulator, frames=2, gap=0.0, stall=0.0)
        check_outputs(conv, x, from_npz(out["outputs"]))
        period = steady_period(out["out_cycles"])
        assert abs(period - steps) <= 0.02 * steps, (UNITS[unit][0], period, steps)
        periods[UNITS[unit][0]] = period
    ratio = periods["ii-pruned"] / periods["ii-dense"]
    print(f"{simulator}: cycles per window dense {periods['ii-dense']:.2f}, 50% pruned "
          f"{periods['ii-pruned']:.2f}: ratio {ratio:.3f}")
    assert ratio <= 0.55, f"pruned/dense cycles {ratio:.3f}"
