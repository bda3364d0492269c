"""Place and route with nextpnr (ice40, ECP5) for Fmax and utilization, per device.

The network's output word (scores of every class) is wider than a small package has pins,
so the top is wrapped: outputs wider than FOLD_BITS are XOR-folded onto FOLD_BITS pins.
Every output bit still drives a pin, so no logic is optimized away; the pins are the
wrapper's, the core is the design's. A device the design does not fit is reported with the
reason nextpnr (or the capacity check before it) gives.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError

from . import procs
from .synth import SynthError, yosys_executable

FOLD_BITS = 8
WRAPPER = "bnngen_fmax_wrapper"


@dataclass(frozen=True)
class Device:
    name: str
    family: str           # ice40 | ecp5
    args: tuple[str, ...]  # nextpnr device/package arguments
    luts: int             # logic cells (LUT4s)
    brams: int            # SB_RAM40_4K or DP16KD blocks
    pins: int             # user I/O pins of the package


DEVICES = {
    "up5k": Device("up5k", "ice40", ("--up5k", "--package", "sg48"), 5280, 30, 39),
    "hx8k": Device("hx8k", "ice40", ("--hx8k", "--package", "ct256"), 7680, 32, 206),
    "25f": Device("25f", "ecp5", ("--25k", "--package", "CABGA256"), 24288, 56, 197),
    "85f": Device("85f", "ecp5", ("--85k", "--package", "CABGA381"), 83640, 208, 205),
}


def check_devices(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in DEVICES]
    if unknown:
        raise UserError(f"unknown device {unknown[0]!r}: choose from {', '.join(DEVICES)}")
    return list(dict.fromkeys(names))


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


def wrapper_ports(verilog: str, top: str) -> list[tuple[str, str, int]]:
    """The wrapper's pins: inputs as they are, outputs folded to FOLD_BITS."""
    return [(d, n, w if d == "input" else min(w, FOLD_BITS))
            for d, n, w in module_ports(verilog, top)]


def wrapper_verilog(verilog: str, top: str) -> str:
    """A wrapper that XOR-folds each wide output of `top` onto at most FOLD_BITS pins."""
    ports = module_ports(verilog, top)
    decls, conns, assigns, names = [], [], [], []
    for d, name, w in ports:
        clean = name.lstrip("\\").replace(".", "_")
        if d == "input":
            decls.append(f"  input [{w - 1}:0] {clean};")
            conns.append(f"    .{name} ({clean})")
            names.append(clean)
            continue
        out_w = min(w, FOLD_BITS)
        decls.append(f"  output [{out_w - 1}:0] {clean};")
        decls.append(f"  wire [{w - 1}:0] {clean}_full;")
        conns.append(f"    .{name} ({clean}_full)")
        names.append(clean)
        chunks = [f"{clean}_full[{min(i + out_w, w) - 1}:{i}]" for i in range(0, w, out_w)]
        assigns.append(f"  assign {clean} = {' ^ '.join(chunks)};")
    top_ref = top if re.fullmatch(r"[A-Za-z_]\w*", top) else f"\\{top} "
    return "\n".join([f"module {WRAPPER}({', '.join(names)});", *decls,
                      f"  {top_ref} core (", ",\n".join(conns), "  );", *assigns,
                      "endmodule", ""])


def _run(cmd: list[str], cwd: str, timeout: float | None) -> subprocess.CompletedProcess:
    try:
        return procs.run(cmd, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise UserError(f"{cmd[0]} timed out after {timeout:.0f} s") from e


def _nextpnr(family: str) -> list[str]:
    exe = Path(sys.executable).parent / f"yowasp-nextpnr-{family}"
    return [str(exe) if exe.exists() else f"yowasp-nextpnr-{family}"]


def _fit_error(log: str) -> str:
    for ln in log.splitlines():
        if "ERROR" in ln:
            return ln.split("ERROR:", 1)[-1].strip()
    return "nextpnr failed"


def place_and_route(verilog: str, top: str, devices: list[str], *,
                    timeout: float | None = 600, seed: int = 1) -> dict[str, dict]:
    """Per device: Fmax (MHz) and utilization, or fits=False with the reason. The wrapped
    design is synthesized once per family (ice40, ecp5) and placed on each device."""
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bnngen-pnr-") as work:
        Path(work, "design.v").write_text(verilog + "\n" + wrapper_verilog(verilog, top))
        Path(work, "out").mkdir()  # nextpnr exits 125 at the end when this folder is missing
        pins = sum(w for _, _, w in wrapper_ports(verilog, top))
        cells_of: dict[str, dict] = {}
        for device in devices:
            dev = DEVICES[device]
            if dev.family not in cells_of:
                cells_of[dev.family] = _synth_netlist(work, dev.family, timeout)
            results[device] = _place(work, dev, cells_of[dev.family], pins, timeout, seed)
    return results


def _synth_netlist(work: str, family: str, timeout: float | None) -> dict[str, int]:
    """yosys for `family` on the wrapper: netlist-<family>.json and its cell counts."""
    # ECP5 as `bnngen report` maps it (gen.synth.SYNTH_COMMANDS): LUT4s only.
    synth = "synth_ice40" if family == "ice40" else "synth_ecp5 -nowidelut"
    script = (f"read_verilog -sv design.v; {synth} -top {WRAPPER} -json netlist-{family}.json; "
              f"tee -q -o stat-{family}.json stat -json")
    y = _run([*yosys_executable(), "-q", "-l", f"yosys-{family}.log", "-p", script], work,
             timeout)
    if y.returncode != 0 or not Path(work, f"netlist-{family}.json").exists():
        raise SynthError(f"yosys {family} for place and route failed: "
                         f"{y.stderr.strip()[-200:]}")
    stat = json.loads(Path(work, f"stat-{family}.json").read_text())
    return stat["design"]["num_cells_by_type"]


def _place(work: str, dev: Device, cells: dict[str, int], pins: int, timeout, seed) -> dict:
    luts = cells.get("SB_LUT4", 0) if dev.family == "ice40" else cells.get("LUT4", 0)
    brams = sum(v for k, v in cells.items() if k.startswith(("SB_RAM40", "DP16KD", "PDPW16KD")))
    over = [f"{n:,} {what} of {cap:,}" for n, cap, what in
            ((luts, dev.luts, "LUTs"), (brams, dev.brams, "BRAMs"), (pins, dev.pins, "pins"))
            if n > cap]
    if over:
        return {"fits": False, "reason": "needs " + ", ".join(over), "device": dev.name}
    out = f"out/{dev.name}.asc" if dev.family == "ice40" else f"out/{dev.name}.config"
    flag = "--asc" if dev.family == "ice40" else "--textcfg"
    report, log = f"report-{dev.name}.json", f"nextpnr-{dev.name}.log"
    cmd = [*_nextpnr(dev.family), *dev.args, "--json", f"netlist-{dev.family}.json", flag, out,
           "--report", report, "--seed", str(seed), "--freq", "12", "-q", "-l", log]
    p = _run(cmd, work, timeout)
    text = Path(work, log).read_text(errors="replace") if Path(work, log).exists() else ""
    rpath = Path(work, report)
    if p.returncode != 0 or not rpath.exists():
        return {"fits": False, "reason": _fit_error(text + p.stderr), "device": dev.name}
    rep = json.loads(rpath.read_text())
    fmax = [v.get("achieved") for v in rep.get("fmax", {}).values() if v.get("achieved")]
    return {"fits": True, "device": dev.name,
            "fmax_mhz": round(min(fmax), 2) if fmax else None,
            "utilization": _utilization(dev.family, rep.get("utilization", {}))}


def _utilization(family: str, util: dict) -> dict:
    """[used, available] of logic cells, flip-flops (ECP5 only reports slices' FFs via
    TRELLIS_FF) and BRAM, from nextpnr's --report."""
    def pair(key):
        u = util.get(key)
        return [u["used"], u["available"]] if u else None
    if family == "ice40":
        return {"lut": pair("ICESTORM_LC"), "bram": pair("ICESTORM_RAM"),
                "io": pair("SB_IO")}
    return {"lut": pair("TRELLIS_COMB"), "ff": pair("TRELLIS_FF"), "bram": pair("DP16KD"),
            "io": pair("TRELLIS_IO")}
