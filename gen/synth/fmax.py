"""Place and route with nextpnr (iCE40, ECP5, Gowin) for Fmax after routing, the critical
path and utilization, per device.

nextpnr is asked for the clock the design was planned for (`timing-allow-fail`: a design
that misses it is still routed, and its Fmax reported). Each run has a time limit that
scales with the design's cells; a run that reaches it is stopped and reported as such,
with the stage it was in and the placer's estimate if it got that far.

The top is wrapped (gen.synth.wrapper): every port but the clock and the reset registered,
wide outputs XOR-folded onto a few pins. A device the design does not fit is reported
with the reason nextpnr (or the capacity check before it) gives.

The critical path's ends are named by layer and block: yosys flattens the wrapped design,
and a flattened cell keeps its instance path (`core.conv0.engine.acc_TRELLIS_FF_Q_3` is a
flip-flop of net `acc` in module `top.conv0.engine`, layer conv0, block engine).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.errors import UserError

from gen.build.design_source import verilog_modules
from gen.common import procs
from gen.common.devices import DEVICES, Device, find_device
from gen.common.resources import classify
from gen.synth.scripts import FALLBACK_COMMANDS, KEEP_COPIES
from gen.synth.yosys import SynthError, yosys_executable
from gen.synth.wrapper import (CORE, WRAPPER, clock_constraint, pin_constraints,
                               wrapper_ports, wrapper_verilog)


DEFAULT_CLOCK_MHZ = 100.0      # asked for when neither the plan nor --clock gives a clock
PNR_FAMILIES = ("ice40", "ecp5", "gowin")

# nextpnr's time limit per run: TIMEOUT_BASE_S plus TIMEOUT_PER_CELL_S for each cell of the
# synthesized netlist (measured: BENCHMARKS.md, "Fmax after routing").
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_CELL_S = 0.03

# yosys per family, flattened (the pins are the wrapper's): LUT4s only on ECP5 and Gowin,
# as `bnngen report` maps them (gen.synth.scripts.SYNTH_COMMANDS).
SYNTH = {"ice40": "synth_ice40", "ecp5": "synth_ecp5 -nowidelut",
         "gowin": "synth_gowin -nowidelut"}
# nextpnr's extra options per family; ECP5 routes with router2 (faster than router1 on
# the shipped model's planned build) and rips up critical nets to reroute them for timing
# (the shipped model's 100 MHz plan on the 25F: 90.7 MHz without, 100.3 with;
# BENCHMARKS.md).
PNR_OPTIONS = {"ice40": (), "ecp5": ("--router", "router2", "--tmg-ripup"), "gowin": ()}
# nextpnr's --report utilization keys: logic cells, flip-flops, BRAM, I/O.
UTILIZATION = {
    "ice40": {"lut": "ICESTORM_LC", "bram": "ICESTORM_RAM", "io": "SB_IO"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "io": "TRELLIS_IO"},
    "gowin": {"lut": "LUT4", "ff": "DFF", "bram": "BSRAM", "io": "IOB"},
}


def check_devices(names: list[str]) -> list[str]:
    """The devices' names (gen.common.devices.find_device's: the table's, or an ECP5's faster
    speed grade), each once, in the order given; one that nextpnr cannot place on is a
    UserError."""
    out = []
    for n in names:
        dev = find_device(n)
        if dev.family not in PNR_FAMILIES:
            raise UserError(f"device {n!r}: no place and route for {dev.family}")
        out.append(dev.name)
    return list(dict.fromkeys(out))


def devices_of(families: list[str]) -> list[str]:
    """Every device of the table that nextpnr places on, of a family among `families`."""
    return [d.name for d in DEVICES.values()
            if d.family in families and d.family in PNR_FAMILIES]


def pnr_timeout(cells: int) -> float:
    """nextpnr's time limit for a netlist of `cells` cells."""
    return TIMEOUT_BASE_S + TIMEOUT_PER_CELL_S * cells


def _run(cmd: list[str], cwd: str, timeout: float | None) -> tuple[int | None, str]:
    """Run `cmd` (gen.common.procs: an interrupt kills it); its exit code (None when killed at
    `timeout` seconds) and its stderr."""
    try:
        p = procs.run(cmd, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, e.stderr or ""
    return p.returncode, p.stderr


def _nextpnr(family: str) -> list[str]:
    name = "himbaechel-gowin" if family == "gowin" else family
    exe = Path(sys.executable).parent / f"yowasp-nextpnr-{name}"
    return [str(exe) if exe.exists() else f"yowasp-nextpnr-{name}"]


def _fit_error(log: str) -> str:
    for ln in log.splitlines():
        if "ERROR" in ln:
            return ln.split("ERROR:", 1)[-1].strip()
    return "nextpnr failed"


def place_and_route(verilog: str, top: str, devices: list[str], *,
                    clock_mhz: float = DEFAULT_CLOCK_MHZ, timeout: float | None = None,
                    seed: int = 1, jobs: int = 1) -> dict[str, dict]:
    """Per device (names as check_devices gives them): Fmax after routing at the requested
    clock, the critical path's ends, utilization; or fits=False with the reason; or
    timed_out=True. The wrapped design is synthesized once per family. `timeout`: each
    nextpnr run's limit in seconds (default: pnr_timeout of the netlist's cells). `jobs`
    yosys runs (one per family), then nextpnr runs (one per device), at once."""
    from concurrent.futures import ThreadPoolExecutor

    if clock_mhz <= 0:
        raise UserError(f"the clock must be positive, not {clock_mhz:g} MHz")
    clock_mhz = float(clock_mhz)
    modules = set(verilog_modules(verilog))
    devs = [find_device(name) for name in devices]
    families = list(dict.fromkeys(d.family for d in devs))
    with tempfile.TemporaryDirectory(prefix="bnngen-pnr-") as work, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        Path(work, "design.v").write_text(verilog + "\n" + wrapper_verilog(verilog, top))
        Path(work, "out").mkdir()  # nextpnr exits 125 at the end when this folder is missing
        ports = wrapper_ports(verilog, top)

        def place(dev: Device) -> dict:
            cells, mapper = cells_of[dev.family]
            r = _place(work, dev, cells, ports, clock_mhz, timeout, seed)
            if mapper != "abc9":
                r["mapper"] = mapper
            if r.get("critical_path"):
                r["critical_path"] = {k: (locate(v, top, modules) if k in ("from", "to")
                                          else v) for k, v in r["critical_path"].items()}
            return r

        try:
            cells_of = dict(zip(families, pool.map(lambda f: _synth_netlist(work, f),
                                                   families)))
            return {dev.name: r for dev, r in zip(devs, pool.map(place, devs))}
        except BaseException:   # no new run (Ctrl-C: the CLI's gen.common.procs.stop_all kills all)
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _synth_netlist(work: str, family: str) -> tuple[dict[str, int], str]:
    """yosys for `family` on the wrapper: netlist-<family>.json, its cell counts and the LUT
    mapper. Where ABC9 crashes on the flattened netlist (a yosys bug, as gen.synth.yosys
    meets it per module), the LUTs are mapped with classic ABC instead."""
    rc, err = _yosys_netlist(work, family, f"{SYNTH[family]} -top {WRAPPER}")
    mapper = "abc9"
    if rc != 0 and _abc9_crashed(work, family, err):
        mapper = "abc"
        rc, err = _yosys_netlist(work, family, FALLBACK_COMMANDS[family].format(top=WRAPPER)
                                 .replace("-noflatten ", ""))
    if rc != 0 or not Path(work, f"netlist-{family}.json").exists():
        raise SynthError(f"yosys {family} for place and route failed: {err.strip()[-200:]}")
    stat = json.loads(Path(work, f"stat-{family}.json").read_text())
    return stat["design"]["num_cells_by_type"], mapper


def _yosys_netlist(work: str, family: str, synth: str) -> tuple[int | None, str]:
    script = (f"read_verilog -sv design.v; {KEEP_COPIES}; {synth}; "
              f"write_json netlist-{family}.json; "
              f"tee -q -o stat-{family}.json stat -json")
    return _run([*yosys_executable(), "-q", "-l", f"yosys-{family}.log", "-p", script],
                work, None)


def _abc9_crashed(work: str, family: str, err: str) -> bool:
    log = Path(work, f"yosys-{family}.log")
    text = err + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
    return "ABC9" in text and ("Assert" in text or "wasm trap" in text)


def _place(work: str, dev: Device, cells: dict[str, int], ports, clock_mhz: float,
           timeout: float | None, seed: int) -> dict:
    res = classify(dev.family, cells)
    pins = sum(w for _, _, w in ports)
    base = {"device": dev.name, "family": dev.family, "requested_mhz": clock_mhz}
    over = [f"{n:,} {what} of {cap:,}" for n, cap, what in
            ((res["lut"], dev.lut, "LUTs"), (res["bram"], dev.bram, "BRAMs"),
             (pins, dev.io, "pins")) if n > cap]
    if over:
        return {**base, "fits": False, "reason": "needs " + ", ".join(over)}
    ncells = sum(v for k, v in cells.items() if not k.startswith("$"))
    limit = pnr_timeout(ncells) if timeout is None else timeout
    report, log = f"report-{dev.name}.json", f"nextpnr-{dev.name}.log"
    cmd = [*_nextpnr(dev.family), *dev.pnr, *PNR_OPTIONS[dev.family],
           "--json", f"netlist-{dev.family}.json", "--report", report, "--seed", str(seed),
           "--freq", f"{clock_mhz:g}", "--timing-allow-fail", "-q", "-l", log]
    if dev.family == "ice40":
        cmd += ["--asc", f"out/{dev.name}.asc"]
    elif dev.family == "ecp5":
        cmd += ["--textcfg", f"out/{dev.name}.config"]
        if dev.clock_pin:
            Path(work, f"{dev.name}.lpf").write_text(clock_constraint(ports, dev.clock_pin))
            cmd += ["--lpf", f"{dev.name}.lpf", "--lpf-allow-unconstrained"]
    else:
        Path(work, f"{dev.name}.cst").write_text(pin_constraints(ports, dev.pins))
        cmd += ["--vopt", f"cst={dev.name}.cst"]
    start = time.perf_counter()
    rc, err = _run(cmd, work, limit)
    seconds = round(time.perf_counter() - start, 1)
    text = Path(work, log).read_text(errors="replace") if Path(work, log).exists() else ""
    base.update(cells=ncells, timeout_s=round(limit), seconds=seconds)
    if rc is None:
        stage = _stage(text)
        placed = _placed_fmax(text) if stage == "routing" else None
        note = (f"; Fmax after placement {placed:.1f} MHz (an estimate)" if placed else "")
        return {**base, "fits": True, "timed_out": True, "stage": stage,
                "placed_fmax_mhz": placed,
                "reason": f"nextpnr stopped at its {limit:.0f} s limit while {stage} "
                          f"({ncells:,} cells){note}"}
    rpath = Path(work, report)
    if rc != 0 or not rpath.exists():
        return {**base, "fits": False, "reason": _fit_error(text + err)}
    rep = json.loads(rpath.read_text())
    fmax = [v["achieved"] for v in rep.get("fmax", {}).values() if v.get("achieved")]
    fmax_mhz = round(min(fmax), 2) if fmax else None
    return {**base, "fits": True, "timed_out": False, "fmax_mhz": fmax_mhz,
            "placed_fmax_mhz": _placed_fmax(text),
            "meets": fmax_mhz is not None and fmax_mhz >= clock_mhz,
            "critical_path": critical_path(rep),
            "utilization": _utilization(dev.family, rep.get("utilization", {}))}


# nextpnr's log lines that open each stage, latest stage first (ECP5, iCE40, Gowin).
_STAGES = ((re.compile(r"^Info: (Routing|Running router)", re.M), "routing"),
           (re.compile(r"^Info: .*(placer|placement)", re.M), "placing"),
           (re.compile(r"^Info: Pack", re.M), "packing"))


def _stage(log: str) -> str:
    """What nextpnr was doing when stopped, from its log."""
    for marker, stage in _STAGES:
        if marker.search(log):
            return stage
    return "reading the netlist"


_MAX_FREQ = re.compile(r"Max frequency for clock [^:]*:\s*([\d.]+) MHz")


def _placed_fmax(log: str) -> float | None:
    """The timing analysis after placement (the first; the last is after routing)."""
    m = _MAX_FREQ.search(log)
    return float(m.group(1)) if m else None


def critical_path(rep: dict) -> dict | None:
    """From nextpnr's --report: the worst clock-to-clock path's start and end (the cells,
    and the net the start drives: an anonymous register's name) and its delay (ns), split
    into logic and routing."""
    paths = [p for p in rep.get("critical_paths", [])
             if "<async>" not in (p.get("from"), p.get("to")) and p.get("path")]
    if not paths:
        return None
    path = max(paths, key=lambda p: sum(s.get("delay", 0) for s in p["path"]))["path"]
    cells = [s[end]["cell"] for s in path for end in ("from", "to") if s.get(end)]
    nets = [s["net"] for s in path if s.get("type") == "routing" and s.get("net")]
    total = sum(s.get("delay", 0) for s in path)
    routing = sum(s.get("delay", 0) for s in path if s.get("type") == "routing")
    # (an end may be one of the wrapper's port registers: outside the core, no layer)
    return {"from": {"cell": cells[0], "net": nets[0] if nets else None},
            "to": {"cell": cells[-1], "net": None}, "delay_ns": round(total, 2),
            "logic_ns": round(total - routing, 2), "routing_ns": round(routing, 2)}


# A flattened cell's name: `<instance path>.<net>_<cell type>...`; the net is the text
# before the first cell-type suffix yosys or nextpnr added.
_CELL_SUFFIX = re.compile(r"_(?:TRELLIS|SB_|LUT\d|CCU2|DP16KD|PDPW16KD|DFF|ALU|IBUF|OBUF|"
                          r"RAM16|SDPB|DPB|pROM|MUX2)")


_YOSYS_SUFFIX = re.compile(r"\$\d+(?=[.\[]|$)")


def locate(end: dict, top: str, modules: set[str]) -> dict:
    """The layer and block of one end of a path ({"cell", "net"}: flattened names): the
    deepest module of the design whose instance path prefixes the cell's name; and the
    net, read off the cell's name (an anonymous cell's: the given net, without that
    path). Outside the core: the wrapper's pins, no layer."""
    cell, net = end["cell"], end.get("net")
    if not cell.startswith(CORE + "."):
        return {"cell": cell, "layer": None, "block": None, "net": net or cell}
    parts = cell[len(CORE) + 1:].split(".")
    depth = 0
    while depth < len(parts) - 1 and ".".join([top, *parts[:depth + 1]]) in modules:
        depth += 1
    rest = ".".join(parts[depth:])
    own = _CELL_SUFFIX.split(rest, 1)[0] or rest
    prefix = ".".join([CORE, *parts[:depth]]) + "."
    if own.startswith("$") and net and net.startswith(prefix):
        own = net[len(prefix):]
    if not own.startswith("$"):
        own = _YOSYS_SUFFIX.sub("", own)    # `o__payload$7.cls`: yosys's renaming
    return {"cell": cell, "layer": parts[0] if depth else None,
            "block": ".".join(parts[1:depth]) or None, "net": own}


def describe_end(end: dict) -> str:
    """`conv0.engine (acc)`: layer, block and net of one end of a path."""
    if end.get("layer") is None:
        return f"top ({end['net']})"
    where = ".".join(p for p in (end["layer"], end.get("block")) if p)
    return f"{where} ({end['net']})"


def _utilization(family: str, util: dict) -> dict:
    """[used, available] of logic cells, flip-flops (ECP5 and Gowin), BRAM and I/O, from
    nextpnr's --report."""
    out = {}
    for key, name in UTILIZATION[family].items():
        u = util.get(name)
        out[key] = [u["used"], u["available"]] if u else None
    return out
