"""The wrapper a design is placed and routed in (gen.synth.fmax), and its pin constraints.

Every port but the clock and the reset gets a register, as the design around the core
would give it, so that the paths between the core and those registers are timed and the
core's logic is not drawn towards pins that nextpnr places at the die's edge (on the
shipped 100 MHz plan a pin pulled the framing checker's handshake 50 tiles away: 77.9
MHz). The network's output word (scores of every class) is wider than a small package has
pins: outputs wider than FOLD_BITS are XOR-folded, after their registers, onto FOLD_BITS
pins. Every output bit still drives a pin, so no logic is optimized away; the pins and
their registers are the wrapper's (counted in nextpnr's utilization), the core is the
design's.
"""

from __future__ import annotations

import re

from models.errors import UserError

from gen.synth.yosys import SynthError


FOLD_BITS = 8
WRAPPER = "bnngen_fmax_wrapper"
CORE = "core"                  # the wrapper's instance of the design's top

_PORT_RE = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                      r"(\\\S+|[A-Za-z_]\w*)\s*;", re.MULTILINE)


def module_ports(verilog: str, module: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of `module`'s ports, from its declarations."""
    m = re.search(r"^\s*module\s+\\?" + re.escape(module) + r"\b", verilog, re.MULTILINE)
    if not m:
        raise UserError(f"module {module!r} not found in the Verilog")
    end = verilog.find("endmodule", m.end())
    body = verilog[m.end():end]
    ports = []
    for d, hi, lo, name in _PORT_RE.findall(body):
        width = abs(int(hi) - int(lo)) + 1 if hi else 1
        ports.append((d, name, width))
    return ports


def _pin_name(name: str) -> str:
    return name.lstrip("\\").replace(".", "_")


def wrapper_ports(verilog: str, top: str) -> list[tuple[str, str, int]]:
    """The wrapper's pins: inputs as they are, outputs folded to FOLD_BITS."""
    return [(d, _pin_name(n), w if d == "input" else min(w, FOLD_BITS))
            for d, n, w in module_ports(verilog, top)]


def wrapper_verilog(verilog: str, top: str) -> str:
    """A wrapper that registers every port of `top` but its clock and reset (the
    surrounding design's registers: the paths between them and the core are timed, and
    the core's logic is not drawn to wherever nextpnr puts a pin) and XOR-folds each
    wide output, after its register, onto at most FOLD_BITS pins."""
    ports = module_ports(verilog, top)
    clock = next((_pin_name(name) for d, name, _ in ports
                  if d == "input" and _pin_name(name) in CLOCKS), None)
    decls, conns, assigns, names = [], [], [], []
    for d, name, w in ports:
        clean = _pin_name(name)
        names.append(clean)
        timed = clock is not None and clean not in CLOCKS + RESETS
        if d == "input":
            decls.append(f"  input [{w - 1}:0] {clean};")
            if timed:
                decls.append(f"  reg [{w - 1}:0] {clean}_q;")
                assigns.append(f"  always @(posedge {clock}) {clean}_q <= {clean};")
            conns.append(f"    .{name} ({clean}_q)" if timed else f"    .{name} ({clean})")
            continue
        out_w = min(w, FOLD_BITS)
        decls.append(f"  output [{out_w - 1}:0] {clean};")
        decls.append(f"  wire [{w - 1}:0] {clean}_full;")
        conns.append(f"    .{name} ({clean}_full)")
        source = f"{clean}_full"
        if timed:
            decls.append(f"  reg [{w - 1}:0] {clean}_q;")
            assigns.append(f"  always @(posedge {clock}) {clean}_q <= {clean}_full;")
            source = f"{clean}_q"
        chunks = [f"{source}[{min(i + out_w, w) - 1}:{i}]" for i in range(0, w, out_w)]
        assigns.append(f"  assign {clean} = {' ^ '.join(chunks)};")
    top_ref = top if re.fullmatch(r"[A-Za-z_]\w*", top) else f"\\{top} "
    return "\n".join([f"module {WRAPPER}({', '.join(names)});", *decls,
                      f"  {top_ref} {CORE} (", ",\n".join(conns), "  );", *assigns,
                      "endmodule", ""])


def pin_constraints(ports: list[tuple[str, str, int]], pins: tuple[str, ...]) -> str:
    """A Gowin CST placing every wrapper pin on a package pin, the clock (`aclk` of a
    network top, `clk` of a block) on the first (a global clock input)."""
    bits = [n if w == 1 else f"{n}[{i}]" for _, n, w in ports for i in range(w)]
    bits.sort(key=lambda b: b not in CLOCKS)
    return "".join(f'IO_LOC "{b}" {p};\n' for b, p in zip(bits, pins))


CLOCKS = ("aclk", "clk")
# Left unregistered by the wrapper: a reset's paths (to every flip-flop) are not timed.
RESETS = ("aresetn", "rst")


def clock_constraint(ports: list[tuple[str, str, int]], pin: str) -> str:
    """An ECP5 LPF that puts the clock on `pin`; the other pins go where nextpnr likes."""
    clock = next((n for _, n, _ in ports if n in CLOCKS), None)
    if clock is None:
        raise SynthError(f"no clock port ({' or '.join(CLOCKS)}) to put on pin {pin}")
    return f'LOCATE COMP "{clock}" SITE "{pin}";\n'
