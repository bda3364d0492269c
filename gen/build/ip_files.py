"""What an integrator's flow reads beside the Verilog of a build: a FuseSoC core file, one
clock constraint file per family, and a small self-checking Verilog bench for the core's
simulation target.

    <top>.core                  FuseSoC CAPI2 core `bnngen:bnn:<name>:<version>`: targets
                                `default` (the RTL), `sim` (Icarus, the bench below) and
                                `lint` (Verilator --lint-only
                                with lint.vlt's waivers); one fileset per family's
                                constraints (added to targets `ice40`, `ecp5`, ...)
    constraints/<top>.pcf       iCE40 (nextpnr): set_frequency aclk MHZ
    constraints/<top>.lpf       ECP5 (nextpnr, Diamond): FREQUENCY PORT "aclk" MHZ
    constraints/<top>.cst       Gowin: aclk on a global clock buffer (Gowin's timing
                                constraint is the SDC file, which Gowin EDA reads too)
    constraints/<top>.xdc       Xilinx (Vivado): create_clock on aclk
    constraints/<top>.sdc       ASIC (and Gowin) timing: create_clock on aclk
    tb/<top>_tb.v               holds aresetn low (s_axis_tready must stay 0), releases it
                                (s_axis_tready must rise), prints PASS or FAIL

No pin locations: those belong to the integrator's board. The clock is the plan's
(`bnngen plan --clock`) or `bnngen build --clock`, DEFAULT_CLOCK_MHZ otherwise.
"""

from __future__ import annotations

import re

DEFAULT_CLOCK_MHZ = 100.0
CORE_VERSION = "0.1.0"
FAMILY_FILES = {"ice40": ("pcf", "PCF"), "ecp5": ("lpf", "LPF"), "gowin": ("cst", "CST"),
                "xilinx": ("xdc", "xdc"), "asic": ("sdc", "SDC")}


def core_name(model: str) -> str:
    """The core's VLNV name: lower case letters, digits, `_` and `-`."""
    name = re.sub(r"[^a-z0-9_-]", "_", model.lower()) or "model"
    return f"bnngen:bnn:{name}:{CORE_VERSION}"


def constraints(top: str, clock_mhz: float) -> dict[str, str]:
    """{relative path: text} of the five constraint files."""
    period = 1000.0 / clock_mhz
    head = f"bnngen: {top}, aclk at {clock_mhz:g} MHz ({period:.3f} ns)"
    sdc = (f"# {head}\ncreate_clock -name aclk -period {period:.3f} [get_ports aclk]\n")
    return {
        f"constraints/{top}.pcf": f"# {head}\nset_frequency aclk {clock_mhz:g}\n",
        f"constraints/{top}.lpf": f'# {head}\nFREQUENCY PORT "aclk" {clock_mhz:g} MHz;\n',
        f"constraints/{top}.cst": (f"// {head}; timing: {top}.sdc\n"
                                   'CLOCK_LOC "aclk" BUFG;\n'),
        f"constraints/{top}.xdc": (f"# {head}\ncreate_clock -period {period:.3f} -name aclk "
                                   "[get_ports aclk]\n"),
        f"constraints/{top}.sdc": sdc,
    }


def testbench(top: str, in_width: int) -> str:
    return f"""`timescale 1ns/1ps
// bnngen: reset check of {top} for FuseSoC's `sim` target (no stimulus beyond reset: the
// bit-exact regression is bnngen's cocotb suite, sim/ in the bnngen repository).
module {top}_tb;
  reg aclk = 1'b0, aresetn = 1'b0;
  wire s_axis_tready;
  integer fails = 0, k;
  always #5 aclk = ~aclk;
  {top} dut (.aclk(aclk), .aresetn(aresetn), .s_axis_tdata({in_width}'d0),
    .s_axis_tvalid(1'b0), .s_axis_tlast(1'b0), .s_axis_tready(s_axis_tready),
    .m_axis_tdata(), .m_axis_tvalid(), .m_axis_tready(1'b1), .m_axis_tlast(),
    .framing_errors());
  initial begin
    for (k = 0; k < 4; k = k + 1) begin
      @(negedge aclk);
      if (s_axis_tready !== 1'b0) fails = fails + 1;
    end
    aresetn = 1'b1;
    @(negedge aclk); @(negedge aclk);
    if (s_axis_tready !== 1'b1) fails = fails + 1;
    if (fails == 0) $display("{top}_tb: PASS");
    else $display("{top}_tb: FAIL (%0d checks)", fails);
    $finish;
  end
endmodule
"""


def core_file(model: str, top: str, verilog: list[str], data: tuple[str, ...] = ()) -> str:
    """FuseSoC CAPI2 core over the build's files (paths relative to the core file); `data`:
    the bench's $readmemh files, copied to the same relative paths in the work folder."""
    lines = ["CAPI=2:", "", f"name: {core_name(model)}",
             f"description: bnngen accelerator for {model!r} (AXI4-Stream; manifest.json)",
             "", "filesets:", "  rtl:", "    files:"]
    lines += [f"      - {path}" for path in verilog]
    lines += ["    file_type: verilogSource", "  tb:", "    files:",
              f"      - tb/{top}_tb.v"]
    for path in data:
        lines += [f"      - {path}:", "          file_type: user", f"          copyto: {path}"]
    lines += ["    file_type: verilogSource",
              "  waivers:", "    files:", "      - lint.vlt:", "          file_type: vlt"]
    for family, (ext, kind) in FAMILY_FILES.items():
        lines += [f"  {family}:", "    files:", f"      - constraints/{top}.{ext}:",
                  f"          file_type: {kind}"]
        if family == "gowin":
            lines += [f"      - constraints/{top}.sdc:", "          file_type: SDC"]
    lines += ["", "targets:", "  default: &default", "    filesets: [rtl]",
              f"    toplevel: {top}", "  sim:", "    default_tool: icarus",
              "    filesets: [rtl, tb]", f"    toplevel: {top}_tb",
              "  lint:", "    default_tool: verilator", "    filesets: [waivers, rtl]",
              "    tools:", "      verilator:", "        mode: lint-only",
              f"    toplevel: {top}"]
    for family in FAMILY_FILES:
        lines += [f"  {family}:", f"    filesets: [rtl, {family}]", f"    toplevel: {top}"]
    return "\n".join(lines) + "\n"


def ip_files(model: str, top: str, verilog: list[str], in_width: int,
             clock_mhz: float) -> dict[str, str]:
    """Every file of this module's list, {relative path: text}."""
    return {f"{top}.core": core_file(model, top, verilog),
            f"tb/{top}_tb.v": testbench(top, in_width),
            **constraints(top, clock_mhz)}
