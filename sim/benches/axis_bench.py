"""A network top driven as an integrator would: cocotbext-axi's AxiStreamSource and
AxiStreamSink on s_axis/m_axis, aclk/aresetn, with random pauses on both sides.

The run, in order: reset held (s_axis_tready must stay 0); the `plan` of frames (the
number of pixels of each, tlast on its last), back to back; a reset in the middle of a
frame (tready 0 again) and then `after` good frames. Saves every result word, the framing
error count before that reset, right after it and at the end, and whether tready was ever
1 during a reset.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from sim.benches.tb import (PERIOD_NS, array_words, load_vectors, quiet_units, save_outputs,
                            words_array)


class TB:
    def __init__(self, dut, prefix: str, seed: int):
        self.dut = dut
        self.clk = getattr(dut, f"{prefix}aclk")
        self.rstn = getattr(dut, f"{prefix}aresetn")
        self.tready = getattr(dut, f"{prefix}s_axis_tready")
        self.errors = getattr(dut, f"{prefix}framing_errors")
        self.rng = random.Random(seed)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, f"{prefix}s_axis"),
                                      self.clk, self.rstn, reset_active_level=False)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, f"{prefix}m_axis"),
                                  self.clk, self.rstn, reset_active_level=False)
        self.ready_in_reset = False
        self.cycle = 0
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    def pauses(self, chance: float):
        def gen():
            while True:
                yield self.rng.random() < chance
        return gen()

    async def reset(self, cycles: int = 4):
        await FallingEdge(self.clk)
        self.rstn.value = 0
        for _ in range(cycles):
            await RisingEdge(self.clk)
            await ReadOnly()
            self.ready_in_reset |= bool(self.tready.value)
        await FallingEdge(self.clk)
        self.rstn.value = 1
        await RisingEdge(self.clk)

    async def results(self, count: int, timeout: int) -> list[int]:
        out = []
        limit = self.cycle + timeout
        while len(out) < count:
            if self.sink.empty():
                await RisingEdge(self.clk)
                if self.cycle > limit:
                    break
                continue
            frame = await self.sink.recv()
            out.append(int.from_bytes(bytes(frame.tdata), "little"))
            # Each result is one beat with tlast: a frame of more beats would hold more bytes.
            assert len(frame.tdata) == self.out_bytes, f"result of {len(frame.tdata)} bytes"
        return out


def frame_bytes(words: list[int], in_bytes: int) -> bytes:
    return b"".join(w.to_bytes(in_bytes, "little") for w in words)


@cocotb.test()
async def axis_top(dut):
    vec = load_vectors()
    unit, units = int(vec["unit"]), int(vec["units"])
    quiet_units(dut, units, unit, inputs=("aclk", "aresetn", "s_axis_tvalid", "s_axis_tlast"),
                outputs=("m_axis_tready",))
    prefix = f"u{unit}_" if units else ""
    tb = TB(dut, prefix, int(vec["seed"]))
    tb.out_bytes = int(vec["out_bytes"])
    in_bytes = int(vec["in_bytes"])
    pixels = array_words(vec["inputs"])
    cocotb.start_soon(Clock(tb.clk, PERIOD_NS, unit="ns").start())
    tb.rstn.value = 0
    await tb.reset()
    outputs, errors = [], []
    timeout = int(vec["timeout"])
    try:
        tb.source.set_pause_generator(tb.pauses(float(vec["gap"])))
        tb.sink.set_pause_generator(tb.pauses(float(vec["stall"])))
        at = 0
        for count in vec["plan"].tolist():   # tlast on each frame's last transfer
            tb.source.send_nowait(AxiStreamFrame(frame_bytes(pixels[at:at + count], in_bytes)))
            at += count
        outputs += await tb.results(int(vec["good"]), timeout)
        await tb.source.wait()
        errors.append(int(tb.errors.value))
        # A reset in the middle of a frame: the half frame is lost, the next ones are right.
        frame = int(vec["frame_pixels"])
        tb.source.send_nowait(AxiStreamFrame(frame_bytes(pixels[at:at + frame], in_bytes)))
        for _ in range(frame // 2):
            await RisingEdge(tb.clk)
        await tb.reset()
        errors.append(int(tb.errors.value))
        after = int(vec["after"])
        at += frame
        for _ in range(after):
            tb.source.send_nowait(AxiStreamFrame(frame_bytes(pixels[at:at + frame], in_bytes)))
            at += frame
        outputs += await tb.results(after, timeout)
        await Timer(10 * PERIOD_NS, "ns")
        outputs += [int.from_bytes(bytes(f.tdata), "little") for f in _drain(tb.sink)]
        errors.append(int(tb.errors.value))
    finally:
        save_outputs(outputs=words_array(outputs, 8 * tb.out_bytes), errors=errors,
                     ready_in_reset=tb.ready_in_reset)


def _drain(sink):
    frames = []
    while not sink.empty():
        frames.append(sink.recv_nowait())
    return frames

