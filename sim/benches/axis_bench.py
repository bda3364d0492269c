"""cocotb bench for a network top in a bundle: sends pixels on s_axis, collects one result
per frame on m_axis under random gaps and backpressure, saves them with their cycles."""

from __future__ import annotations

import cocotb

from sim.benches.tb import (StreamTB, array_words, load_vectors, quiet_units, save_outputs,
                            words_array)

AXIS_IN = ("s_axis_tvalid", "s_axis_tready", "s_axis_tdata")
AXIS_OUT = ("m_axis_tvalid", "m_axis_tready", "m_axis_tdata")


@cocotb.test()
async def axis_network(dut):
    vec = load_vectors()
    inputs = array_words(vec["inputs"])
    count = int(vec["count"])
    unit = int(vec["unit"])
    quiet_units(dut, int(vec["units"]), unit, inputs=("s_axis_tvalid", "s_axis_tlast"),
                outputs=("m_axis_tready",))
    getattr(dut, f"u{unit}_s_axis_tlast").value = 0
    tb = StreamTB(dut, prefix=f"u{unit}_", i=AXIS_IN, o=AXIS_OUT, seed=int(vec["seed"]),
                  gap=float(vec["gap"]), stall=float(vec["stall"]))
    await tb.start()
    cocotb.start_soon(tb.send(inputs))
    try:
        await tb.receive(count, timeout=int(vec["timeout"]))
    finally:  # partial outputs still tell pytest where things went wrong
        save_outputs(outputs=words_array(tb.received, int(vec["out_width"])),
                     out_cycles=tb.out_cycles, in_cycles=tb.in_cycles)
