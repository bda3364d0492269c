"""Generic cocotb bench for a one-in/one-out stream block: sends `inputs`, collects
`count` outputs under random gaps and backpressure, saves them with their cycles."""

from __future__ import annotations

import cocotb

from sim.benches.tb import (StreamTB, array_words, load_vectors, quiet_units, save_outputs,
                            words_array)


@cocotb.test()
async def stream_block(dut):
    vec = load_vectors()
    inputs = array_words(vec["inputs"])
    count = int(vec["count"])
    width = int(vec["out_width"])
    unit = int(vec["unit"])
    quiet_units(dut, int(vec["units"]), unit)
    tb = StreamTB(dut, prefix=f"u{unit}_", seed=int(vec["seed"]), gap=float(vec["gap"]),
                  stall=float(vec["stall"]))
    await tb.start()
    cocotb.start_soon(tb.send(inputs))
    try:
        await tb.receive(count, timeout=int(vec["timeout"]))
    finally:  # partial outputs still tell pytest where things went wrong
        save_outputs(outputs=words_array(tb.received, width),
                     out_cycles=tb.out_cycles, in_cycles=tb.in_cycles)
