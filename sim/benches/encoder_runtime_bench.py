"""Run-time thresholds: a frame with the reset thresholds, then config writes, then the
same samples again; pytest checks both halves against the golden encoder."""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

from sim.benches.tb import StreamTB, array_words, load_vectors, save_outputs, words_array


@cocotb.test()
async def encoder_runtime(dut):
    vec = load_vectors()
    inputs = array_words(vec["inputs"])
    count, width = int(vec["count"]), int(vec["out_width"])
    tb = StreamTB(dut, prefix="u0_", seed=int(vec["seed"]), gap=float(vec["gap"]),
                  stall=float(vec["stall"]))
    dut.u0_cfg__valid.value = 0
    await tb.start()
    try:
        cocotb.start_soon(tb.send(inputs))
        await tb.receive(count, timeout=int(vec["timeout"]))
        for addr, data in zip(vec["cfg_addr"], vec["cfg_data"]):
            await FallingEdge(dut.clk)
            dut.u0_cfg__payload.value = int(addr) | (int(data) << _addr_bits(dut))
            dut.u0_cfg__valid.value = 1
        await FallingEdge(dut.clk)
        dut.u0_cfg__valid.value = 0
        cocotb.start_soon(tb.send(inputs))
        await tb.receive(2 * count, timeout=int(vec["timeout"]))
    finally:
        save_outputs(outputs=words_array(tb.received, width), out_cycles=tb.out_cycles,
                     in_cycles=tb.in_cycles)


def _addr_bits(dut) -> int:
    return len(dut.u0_cfg__payload) - 8   # {addr, data}: data (B = 8 bits) is the high field
