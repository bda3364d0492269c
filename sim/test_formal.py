"""Proofs of the stream protocol (sim/formal.py) for every block kind and for network tops,
by bounded model checking to a depth of at least the block's latency plus its initiation
interval; and broken blocks that they must catch."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from models.description import Bitplanes, Thermometer
from models.factory import random_conv, random_description
from sim.formal import Liveness, axis_ports, block_ports, missing_tools, prove


pytestmark = pytest.mark.skipif(missing_tools() is not None,
                                reason=f"no formal tools: {missing_tools()}")

# Cycles past latency + II: the reset cycle and one to see the last output leave.
MARGIN = 2
# Short blocks are checked deeper than that, long enough to fill a FIFO of 3 and drain it.
MIN_DEPTH = 12


def conv(name: str, in_shape, seed: int, **options):
    return random_conv(np.random.default_rng(seed), name, in_shape, **options)


def depth_of(timing) -> int:
    return max(MIN_DEPTH, max(0, timing.latency) + timing.ii + MARGIN)


# ---- blocks: (component, its Timing), tiny configurations of every kind


def encoder():
    from hw.encoder import Encoder
    block = Encoder(2, 4, Thermometer(thresholds=np.array([[1, 7, 15]])), pixels=1)
    return block, block.timing


def encoder_bitplanes():
    from hw.encoder import Encoder
    block = Encoder(1, 3, Bitplanes())
    return block, block.timing


def window():
    from hw.window.generator import WindowGenerator
    block = WindowGenerator(3, 3, 1, (3, 3), (1, 1), (1, 1), 1)
    return block, block.timing


def window_stride():
    from hw.window.generator import WindowGenerator
    block = WindowGenerator(4, 3, 2, (2, 2), (2, 2), (0, 0), 0)
    return block, block.timing


def popcount():
    from hw.popcount import PopcountTree
    block = PopcountTree(7, stages=1)
    return block, block.timing


def engine():
    from hw.engine import ConvEngine
    block = ConvEngine(conv("c", (3, 3, 2), 1, out_channels=3, kernel=(3, 3), padding=(1, 1),
                            stride=(1, 1), groups=1, domain="bipolar", prune=0.3), stages=1)
    return block, block.timing


def engine_scores():
    from hw.engine import ConvEngine
    block = ConvEngine(conv("c", (2, 2, 2), 2, out_channels=3, dense=True, groups=1,
                            domain="sparse", scores=True), stages=1, argmax_stages=1)
    return block, block.timing


def folded():
    from hw.folded.engine import FoldedEngine
    block = FoldedEngine(conv("c", (3, 3, 2), 3, out_channels=4, kernel=(2, 2),
                              padding=(0, 0), stride=(1, 1), groups=1, domain="bipolar",
                              prune=0.0), pe=2, simd=4, stages=1, front=1, skid=True)
    return block, block.timing


def folded_scores():
    from hw.folded.engine import FoldedEngine
    block = FoldedEngine(conv("c", (2, 2, 2), 4, out_channels=3, dense=True, groups=1,
                              domain="bipolar", prune=0.0, scores=True), pe=2, simd=4,
                         stages=1, argmax_stages=1, front=2)
    return block, block.timing


def dense():
    from hw.dense.engine import StreamingDense
    block = StreamingDense(conv("c", (2, 2, 4), 5, out_channels=3, dense=True, groups=1,
                                domain="bipolar", prune=0.0), pe=2, simd=2, stages=1)
    return block, block.timing


def dense_scores():
    from hw.dense.engine import StreamingDense
    block = StreamingDense(conv("c", (2, 2, 2), 6, out_channels=3, dense=True, groups=1,
                                domain="sparse", scores=True), pe=3, simd=2, stages=1,
                           skid=True)
    return block, block.timing


def pool():
    from hw.pool import BinaryMaxPool
    block = BinaryMaxPool(3, 3, 2, (2, 2), (1, 1))
    return block, block.timing


def pool_skid():
    from hw.pool import BinaryMaxPool
    block = BinaryMaxPool(4, 4, 1, (2, 2), (2, 2), skid=True)
    return block, block.timing


def fifo():
    """The FIFO in front of a planned layer (hw.folded.planned.Buffered), here in front of the
    cheapest block there is: a one-bit popcount, which is a register."""
    from hw.folded.planned import Buffered
    from hw.popcount import PopcountTree
    block = Buffered(PopcountTree(1, stages=0), 3)
    return block, block.timing


BLOCKS = {f.__name__: f for f in (encoder, encoder_bitplanes, window, window_stride, popcount,
                                  engine, engine_scores, folded, folded_scores, dense,
                                  dense_scores, pool, pool_skid, fifo)}


def emit(component, name: str) -> str:
    from amaranth.back import verilog
    return verilog.convert(component, name=name, emit_src=False)


@pytest.mark.parametrize("kind", BLOCKS)
def test_block_protocol(kind):
    block, timing = BLOCKS[kind]()
    ports = block_ports(block)
    proof = prove(f"block-{kind}", emit(block, "dut"), "dut", ports, depth_of(timing))
    assert proof.passed, proof.summary()


# ---- network tops: factory networks of 3x3 pixels (a pool or not, both encoders, both
# domains, groups) and a planned one


# (kind, factory seed): unrolled, or planned with every convolution folded (seed 7: a 3x3
# convolution behind its window generator, an unrolled pool, a folded classifier)
TOPS = [("factory", 7), ("factory", 9), ("factory", 5), ("planned", 7)]
TINY = {"height": 3, "width": 3, "channels": 1, "bits": 2, "convs": 1, "max_channels": 4,
        "classes": 2}


@cache
def top(kind: str, seed: int):
    """(Verilog, ports, latency, II, Liveness) of a network top. The liveness bound is the
    manifest's latency (a source paced at the II) plus one II: a faster source brings a
    frame's last beat up to an II earlier, and its result no earlier."""
    from gen.build.emit import latency_fields
    from hw.network import Network
    desc = random_description(seed, **TINY)
    if kind == "factory":
        net, plan = Network(desc), None
    else:
        from gen.estimate.flow_model import analyse
        from gen.plan.search import plan_network
        from gen.plan.planned_top import planned_top
        plan = plan_network(desc, 2 * analyse(desc, {}).ii, fold=True)
        net = planned_top(desc, plan)
    ii = net.timing.ii if plan is None else plan.ii
    latency = latency_fields(desc, ii, plan)["paced_cycles"]
    pixels = desc.input.height * desc.input.width
    return emit(net, "top"), axis_ports(net), latency, ii, Liveness(pixels, latency + ii)


@pytest.mark.parametrize("mode", ["bmc", "live", "cover"])
@pytest.mark.parametrize("kind, seed", TOPS, ids=[f"{k}{s}" for k, s in TOPS])
def test_top_protocol(kind, seed, mode):
    verilog, ports, latency, ii, live = top(kind, seed)
    name = f"top-{kind}{seed}-{mode}"
    if mode == "bmc":
        proof = prove(name, verilog, "top", ports, latency + ii + MARGIN)
    else:   # deep enough to check a frame sent back to back
        proof = prove(name, verilog, "top", ports, live.pixels + live.latency + MARGIN,
                      liveness=live, mode="cover" if mode == "cover" else "bmc")
    assert proof.passed, proof.summary()


def test_live_bound_bites():
    """A bound one cycle under the latency of a network taking a pixel per clock (so a
    frame sent back to back has exactly the manifest's latency) must fail: `live` is no
    empty promise."""
    verilog, ports, latency, ii, live = top("factory", 7)
    assert ii == live.pixels
    tight = Liveness(live.pixels, latency - 1)
    proof = prove("top-factory7-tight", verilog, "top", ports,
                  live.pixels + latency + MARGIN, liveness=tight)
    assert proof.failed == ("live",), proof.summary()


# ---- broken blocks: the proofs must catch them


def fickle_encoder():
    """An encoder whose output payload changes while it waits for ready."""
    from hw.encoder import Encoder

    class Fickle(Encoder):
        def elaborate(self, platform):
            m = super().elaborate(platform)
            with m.If(self.o.valid & ~self.o.ready):
                m.d.sync += self.o.payload.eq(~self.o.payload)
            return m

    return Fickle(1, 3, Bitplanes())


def resetless_pool():
    """A max-pool that ignores reset (its registers in a domain without one)."""
    from amaranth import ClockDomain, ClockSignal, DomainRenamer, Module
    from amaranth.lib import wiring

    from hw.pool import BinaryMaxPool

    class ResetIgnored(wiring.Component):
        def __init__(self, block):
            self.block = block
            super().__init__(block.signature)

        def elaborate(self, platform):
            m = Module()
            m.domains.free = free = ClockDomain(reset_less=True, local=True)
            m.d.comb += free.clk.eq(ClockSignal("sync"))
            m.submodules.block = block = DomainRenamer("free")(self.block)
            wiring.connect(m, wiring.flipped(self.i), block.i)
            wiring.connect(m, block.o, wiring.flipped(self.o))
            return m

    return ResetIgnored(BinaryMaxPool(3, 3, 1, (2, 2), (1, 1)))


@pytest.mark.parametrize("broken, caught", [(fickle_encoder, {"hold"}),
                                            (resetless_pool, {"causal", "idle"})])
def test_broken_block_is_caught(broken, caught):
    block = broken()
    proof = prove(f"broken-{broken.__name__}", emit(block, "dut"), "dut", block_ports(block),
                  MIN_DEPTH)
    assert not proof.passed, f"{broken.__name__}: the proof passed\n{proof.summary()}"
    assert set(proof.failed) & caught, (
        f"{broken.__name__}: expected a counterexample to {sorted(caught)}, "
        f"got {proof.failed}\n{proof.summary()}")
    assert proof.trace is not None, f"{broken.__name__}: no counterexample trace"
