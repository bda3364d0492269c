"""End-to-end bench: pixels in on s_axis (tlast on each frame's last pixel), results out of
m_axis under random gaps and backpressure; saves the results and their cycles."""

from __future__ import annotations

import cocotb

from sim.benches.tb import StreamTB, array_words, load_vectors, save_outputs, words_array

AXIS_IN = ("s_axis_tvalid", "s_axis_tready", "s_axis_tdata")
AXIS_OUT = ("m_axis_tvalid", "m_axis_tready", "m_axis_tdata")


@cocotb.test()
async def network(dut):
    vec = load_vectors()
    unit, units = int(vec["unit"]), int(vec["units"])
    for k in range(units):
        getattr(dut, f"u{k}_aclk").value = 0
        getattr(dut, f"u{k}_aresetn").value = 0
        getattr(dut, f"u{k}_s_axis_tvalid").value = 0
        getattr(dut, f"u{k}_s_axis_tlast").value = 0
        getattr(dut, f"u{k}_m_axis_tready").value = 0
    prefix = f"u{unit}_" if units else ""    # units == 0: a plain top from `bnngen build`
    tb = StreamTB(dut, prefix=prefix, i=AXIS_IN, o=AXIS_OUT, seed=int(vec["seed"]),
                  gap=float(vec["gap"]), stall=float(vec["stall"]), clock=f"{prefix}aclk",
                  reset=f"{prefix}aresetn", reset_level=0)
    tb.last = getattr(dut, f"{prefix}s_axis_tlast")
    tb.frame_pixels = int(vec["frame_pixels"])
    tb.pace = int(vec["pace"]) if "pace" in vec else 0
    await tb.start()
    try:
        cocotb.start_soon(tb.send(array_words(vec["inputs"])))
        await tb.receive(int(vec["count"]), timeout=int(vec["timeout"]))
    finally:
        save_outputs(outputs=words_array(tb.received, int(vec["out_width"])),
                     out_cycles=tb.out_cycles, in_cycles=tb.in_cycles)
