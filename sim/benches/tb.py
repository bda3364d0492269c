"""Simulator-side testbench pieces: clock and reset, a producer that inserts random
gaps, a consumer that applies random backpressure and records each word it receives with
the cycle it arrived in. Checks happen in pytest after the run (see sim/harness.py), so the
per-cycle Python path stays light."""

from __future__ import annotations

import os
import random

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

PERIOD_NS = 10


def load_vectors() -> dict[str, np.ndarray]:
    with np.load(os.environ["BNNGEN_VECTORS"]) as data:
        return {k: data[k] for k in data.files}


def save_outputs(**arrays) -> None:
    np.savez(os.environ["BNNGEN_OUTPUTS"], **arrays)


class StreamTB:
    """Drives one input stream and drains one output stream of a DUT.

    `i` and `o` name the (valid, ready, payload) ports of each side.
    """

    def __init__(self, dut, *, prefix: str = "", i=("i__valid", "i__ready", "i__payload"),
                 o=("o__valid", "o__ready", "o__payload"), seed: int = 1,
                 gap: float = 0.0, stall: float = 0.0, clock: str = "clk", reset: str = "rst",
                 reset_level: int = 1):
        """`clock`, `reset`: their port names; `reset_level`: the level that resets."""
        self.dut = dut
        self.clk = getattr(dut, clock)
        self.rst = getattr(dut, reset)
        self.reset_level = reset_level
        i = [prefix + n for n in i]
        o = [prefix + n for n in o]
        self.i_valid, self.i_ready, self.i_data = (getattr(dut, n) for n in i)
        self.o_valid, self.o_ready, self.o_data = (getattr(dut, n) for n in o)
        self.rng = random.Random(seed)
        self.gap, self.stall = gap, stall
        self.last = None          # optional tlast input, set on every `frame_pixels`-th word
        self.frame_pixels = 0
        self.pace = 0             # > 0: pixel n of frame f offered from cycle f*pace + n*pace//P
        self.received: list[int] = []
        self.out_cycles: list[int] = []
        self.in_cycles: list[int] = []

    def cycle(self) -> int:
        return int(get_sim_time("ns")) // PERIOD_NS

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.clk, PERIOD_NS, unit="ns").start())
        self.i_valid.value = 0
        self.o_ready.value = 0
        self.rst.value = self.reset_level
        for _ in range(3):
            await RisingEdge(self.clk)
        # Release reset away from the active edge (race-free on every simulator), and start
        # driving only after the first edge without reset.
        await FallingEdge(self.clk)
        self.rst.value = 1 - self.reset_level
        await RisingEdge(self.clk)

    async def send(self, words) -> None:
        """Offer each word, holding it until accepted; random idle cycles between words.

        Drivers change inputs at the falling edge and sample at ReadOnly, which is what
        the next rising edge sees: race-free on Icarus and Verilator alike."""
        clk = self.clk
        t0 = self.cycle() + 1
        for n, word in enumerate(words):
            await FallingEdge(clk)
            if self.pace:
                f, p = divmod(n, self.frame_pixels)
                while self.cycle() < t0 + f * self.pace + p * self.pace // self.frame_pixels:
                    self.i_valid.value = 0
                    await FallingEdge(clk)
            while self.gap and self.rng.random() < self.gap:
                self.i_valid.value = 0
                await FallingEdge(clk)
            self.i_data.value = int(word)
            self.i_valid.value = 1
            if self.last is not None:
                self.last.value = int(n % self.frame_pixels == self.frame_pixels - 1)
            while True:
                await ReadOnly()
                if self.i_ready.value:
                    self.in_cycles.append(self.cycle())
                    break
                await FallingEdge(clk)
        await FallingEdge(clk)
        self.i_valid.value = 0

    async def receive(self, count: int, timeout: int) -> None:
        """Collect `count` output words, refusing them at random (backpressure)."""
        clk = self.clk
        limit = self.cycle() + timeout
        while len(self.received) < count:
            await FallingEdge(clk)
            ready = not (self.stall and self.rng.random() < self.stall)
            self.o_ready.value = int(ready)
            await ReadOnly()
            if ready and self.o_valid.value:
                self.received.append(int(self.o_data.value))
                self.out_cycles.append(self.cycle())
            if self.cycle() > limit:
                raise TimeoutError(f"received {len(self.received)} of {count} words")
        await FallingEdge(clk)
        self.o_ready.value = 0


def words_array(values: list[int], width: int) -> np.ndarray:
    """Python ints of any width as an (N, ceil(width/64)) uint64 array (npz-safe)."""
    lanes = max(1, (width + 63) // 64)
    out = np.zeros((len(values), lanes), dtype=np.uint64)
    for n, v in enumerate(values):
        for k in range(lanes):
            out[n, k] = (v >> (64 * k)) & ((1 << 64) - 1)
    return out


def array_words(arr: np.ndarray) -> list[int]:
    return [sum(int(x) << (64 * k) for k, x in enumerate(row)) for row in arr]


def quiet_units(dut, units: int, skip: int, inputs=("i__valid",), outputs=("o__ready",)):
    """Hold the other units of a bundle idle (Icarus leaves undriven inputs at X)."""
    for k in range(units):
        if k != skip:
            for name in (*inputs, *outputs):
                getattr(dut, f"u{k}_{name}").value = 0
