"""CNV-W1A1 planned at FINN's rate (32,768 cycles a frame) for 100 MHz on an ECP5-85F:
synthesized, placed and (with --route) routed by nextpnr, and its slowest placed
register-to-register paths by a simple delay model.

    nice .venv/bin/python bench/cnv_timing.py [--route SECONDS] [--objective balanced|logic]
                                              [--floorplan none|stream]
                                              [--placer static|heap] [--seed N] [--paths N]
                                              [--device ecp5-85f[-7|-8]] [--tmg-ripup]
                                              [--keep DIR]

`--objective` is `bnngen plan`'s (gen/plan/search.py: "logic" spends block RAMs to keep
LUTs and flip-flops least). The results go to bench/results/cnv_timing.md, or with
options other than their defaults (but --route) to a name of their own:
`--objective logic --seed 2` to cnv_timing_logic_seed2.md, `--objective logic --floorplan
stream` to cnv_timing_logic_floorplan.md, `... --tmg-ripup` to
cnv_timing_logic_floorplan_ripup.md, `... --device ecp5-85f-8` (the fastest speed grade; the
default, ecp5-85f, is the slowest, -6) to cnv_timing_logic_floorplan_ecp5-85f-8.md, and
without --route to cnv_timing_placed.md.

`--floorplan stream` pins each layer's block RAMs to neighbouring sites, in stream order
(gen/synth/floorplan.py), before nextpnr places the rest; `none` (the default) leaves every
site to nextpnr, which spreads a layer's RAMs, and with them its logic, across the die.

nextpnr places the design (after 6 minutes of yosys) with its analytical `static` placer
(9-12 minutes here; `--placer heap`, nextpnr's default, took 24 on the balanced plan, which
then routed at 56.9 MHz, not 70.3, and 6 on the floorplanned logic plan of 332f56e: 86.8
MHz, not 86.4); its Fmax line is then an estimate, and names no path. With
--route a second nextpnr routes the placed netlist with router2 and reports the routed Fmax
and nextpnr's critical path, unless it is still routing after SECONDS (then the last count
of overused wires is reported). With `--tmg-ripup` it routes as `bnngen report --fmax` does:
once the routing is legal it reroutes the arcs that miss the clock, for up to 1,500
iterations while some keep missing it (25-30 minutes on CNV here; on 332f56e's CNV 99.3 MHz
where the same placement routed at 86.4 without). SIGINT
or SIGTERM stops yosys and nextpnr and leaves no temporary folder.

The paths listed come from the placed netlist (`--write`): a LUT level 0.45 ns, a carry
0.1 ns, a block RAM's clock-to-output 4.3 ns, a register's 0.5 ns, a net 0.3 ns plus 0.07
ns per tile between driver and load, setup 0.2 ns. Rough numbers, for finding which blocks
to look at, not for sign-off; paths from the top's pins (not timed by nextpnr) are left out.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gen.synth.fmax as pnr  # noqa: E402
import gen.synth.wrapper as wrap  # noqa: E402
from gen.common import procs  # noqa: E402
from gen.build.design_source import network_source  # noqa: E402
from gen.common.devices import find_device  # noqa: E402
from gen.synth.floorplan import ebr_sites, pin_block_rams  # noqa: E402
from gen.plan.plan_file import plan_table  # noqa: E402
from gen.plan.search import OBJECTIVES, plan_network  # noqa: E402
from models.errors import UserError  # noqa: E402
from models.reference import cnv  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CYCLES, DEVICE, CLOCK_MHZ = 32768, "ecp5-85f", 100.0   # DEVICE: --device's default
LUT_NS, CARRY_NS, BRAM_NS, REG_NS, NET_NS, TILE_NS, SETUP_NS = 0.45, 0.1, 4.3, 0.5, 0.3, 0.07, 0.2


def log(msg: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:6.0f} s] {msg}", flush=True)


def placed_paths(placed: dict, count: int) -> list[dict]:
    """The `count` slowest register-to-register paths of a placed netlist (one per start and
    end block), by the module docstring's delay model."""
    mod = max(placed["modules"].values(), key=lambda m: len(m.get("cells", {})))
    cells = mod["cells"]
    names: dict[int, str] = {}
    for name, net in mod["netnames"].items():
        for bit in net["bits"]:
            if isinstance(bit, int) and (bit not in names or len(name) < len(names[bit])):
                names[bit] = name
    where, driver, loads = {}, {}, collections.defaultdict(list)
    for cname, cell in cells.items():
        bel = re.match(r"X(\d+)/Y(\d+)/", cell.get("attributes", {}).get("NEXTPNR_BEL", ""))
        where[cname] = (int(bel.group(1)), int(bel.group(2))) if bel else None
        for port, bits in cell["connections"].items():
            out = cell["port_directions"].get(port) == "output"
            for bit in (b for b in bits if isinstance(b, int)):
                if out:
                    driver[bit] = (cname, port)
                else:
                    loads[bit].append((cname, port))

    def wire(bit: int, cname: str) -> float:
        a, b = where.get(driver[bit][0]), where.get(cname)
        return NET_NS + TILE_NS * (abs(a[0] - b[0]) + abs(a[1] - b[1])) if a and b else 0.0

    # Arrival times, from registers and block RAMs through the LUTs (TRELLIS_COMB), in
    # topological order; anything else drives at 0 and is not a path's start.
    arrival, source = {}, {}
    for bit, (cname, _) in driver.items():
        kind = cells[cname]["type"]
        if kind in ("TRELLIS_FF", "DP16KD"):
            arrival[bit], source[bit] = (REG_NS if kind == "TRELLIS_FF" else BRAM_NS), None
    inputs = {c: {b for p, bits in cell["connections"].items()
                  if cell["port_directions"].get(p) != "output" for b in bits
                  if isinstance(b, int)}
              for c, cell in cells.items() if cell["type"] == "TRELLIS_COMB"}
    users = collections.defaultdict(list)
    for cname, bits in inputs.items():
        for bit in bits:
            users[bit].append(cname)
    waiting = {c: len(bits) for c, bits in inputs.items()}
    ready = [b for b in set(driver) | set(loads) if b not in driver or
             cells[driver[b][0]]["type"] != "TRELLIS_COMB"]
    while ready:
        bit = ready.pop()
        for cname in users.get(bit, []):
            waiting[cname] -= 1
            if waiting[cname]:
                continue
            cell = cells[cname]
            at, via = max(((arrival.get(b, 0.0) + (wire(b, cname) if b in driver else 0.0), b)
                           for b in inputs[cname]), default=(0.0, None))
            for port, bits in cell["connections"].items():
                if cell["port_directions"].get(port) == "output":
                    for out in (b for b in bits if isinstance(b, int)):
                        arrival[out] = at + (CARRY_NS if port == "FCO" else LUT_NS)
                        source[out] = via
                        ready.append(out)
    ends = []
    for bit, sinks in loads.items():
        if bit not in driver or bit not in arrival:
            continue
        for cname, port in sinks:
            kind = cells[cname]["type"]
            if (kind == "TRELLIS_FF" and port in ("DI", "M", "CE")) or (
                    kind == "DP16KD" and not port.startswith(("CLK", "RST"))):
                ends.append((arrival[bit] + wire(bit, cname) + SETUP_NS, bit, cname, port))
    ends.sort(reverse=True)
    out, seen = [], set()
    for ns, bit, cname, port in ends:
        chain = [bit]
        while source.get(chain[-1]) is not None:
            chain.append(source[chain[-1]])
        start = driver.get(chain[-1])
        if start is None or cells[start[0]]["type"] not in ("TRELLIS_FF", "DP16KD"):
            continue    # from a pin
        # one path per (start, end block): the end's hierarchy without its register
        key = (chain[-1], cname.rsplit(".", 1)[0])
        if key in seen:
            continue
        seen.add(key)
        a, b = where[start[0]], where[cname]
        out.append({"ns": round(ns, 2), "from": names.get(chain[-1], start[0]),
                    "from_cell": cells[start[0]]["type"], "to": cname, "pin": port,
                    "luts": len(chain) - 1,
                    "tiles": abs(a[0] - b[0]) + abs(a[1] - b[1]) if a and b else None})
        if len(out) >= count:
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--route", type=float, metavar="SECONDS",
                    help="route the placed design too, for at most SECONDS")
    ap.add_argument("--objective", choices=OBJECTIVES, default="balanced",
                    help="the planner's objective on the device (default: balanced)")
    ap.add_argument("--floorplan", choices=("none", "stream"), default="none",
                    help="none: nextpnr places the block RAMs; stream: pinned per layer "
                         "in stream order (default: none)")
    ap.add_argument("--device", default=DEVICE,
                    help=f"an ECP5 85F, with a speed grade (default: {DEVICE}, grade 6; "
                         "ecp5-85f-8: grade 8)")
    ap.add_argument("--placer", choices=("static", "heap"), default="static",
                    help="nextpnr's placer (default: static)")
    ap.add_argument("--seed", type=int,
                    help="nextpnr's placement seed (default: none given)")
    ap.add_argument("--tmg-ripup", action="store_true",
                    help="route as `bnngen report --fmax` does, rerouting the arcs that miss "
                         "the clock (nextpnr's --tmg-ripup)")
    ap.add_argument("--paths", type=int, default=20, help="slowest paths to list")
    ap.add_argument("--keep", type=Path, help="keep the work folder here (a new or empty one)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # unwinds like an interrupt
    if args.paths < 1:
        raise SystemExit(f"--paths {args.paths}: give at least 1")
    if args.seed is not None and args.seed < 0:
        raise SystemExit(f"--seed {args.seed}: give a non-negative number")
    if args.route is not None and not 0 < args.route < math.inf:
        raise SystemExit(f"--route {args.route:g}: give a positive number of seconds")
    try:
        dev = find_device(args.device)
    except UserError as e:
        raise SystemExit(f"--device: {e}") from None
    if not dev.name.startswith(DEVICE):     # the part itself or a faster grade of it
        raise SystemExit(f"--device {args.device}: give an ECP5 85F ({DEVICE}, with a grade)")
    args.device = dev.name     # its table name, in the command and the results' name
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"--keep {args.keep}: not an empty folder; give a new one")
    # the options given that are not their defaults, as the command and the results' name
    chosen = [(f"--{name}", f"{value:g}" if isinstance(value, float) else value)
              for name, value in (("route", args.route), ("objective", args.objective),
                                  ("floorplan", args.floorplan), ("placer", args.placer),
                                  ("seed", args.seed), ("device", args.device),
                                  ("tmg-ripup", args.tmg_ripup or None))
              if value is not None and value != ap.get_default(name.replace("-", "_"))]
    start = time.perf_counter()
    desc = cnv()
    plan = plan_network(desc, CYCLES, device=dev.name, clock_mhz=CLOCK_MHZ,
                        objective=args.objective)
    log(f"planned: II {plan.ii}, {plan.to_dict()['total']}", start)
    src = network_source(desc, plan=plan)
    log("Verilog", start)
    with tempfile.TemporaryDirectory(prefix="bnngen-cnv-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "design.v").write_text(src.verilog + "\n" + wrap.wrapper_verilog(src.verilog,
                                                                              src.top))
        (work / "out").mkdir(exist_ok=True)
        cells, _ = pnr._synth_netlist(str(work), dev.family)
        log(f"yosys: {cells.get('LUT4', 0):,} LUT4, {cells.get('TRELLIS_FF', 0):,} FF, "
            f"{cells.get('DP16KD', 0)} DP16KD", start)
        if args.floorplan == "stream":
            netlist = json.loads((work / "netlist-ecp5.json").read_text())
            pinned = pin_block_rams(netlist, [name for name, _ in src.layers], dev,
                                    prefix=f"{pnr.CORE}.")
            if not pinned:
                raise SystemExit(f"no floorplan: {cells.get('DP16KD', 0)} block RAMs, "
                                 f"{len(ebr_sites(dev))} known sites on {dev.name}")
            (work / "netlist-ecp5.json").write_text(json.dumps(netlist))
            log(f"floorplan: {len(pinned)} block RAMs pinned in stream order", start)
        ports = wrap.wrapper_ports(src.verilog, src.top)
        (work / "clock.lpf").write_text(wrap.clock_constraint(ports, dev.clock_pin))
        # (the router goes into placed.json's settings, which win over the second run's)
        common = [*pnr._nextpnr(dev.family), *dev.pnr, "--lpf", "clock.lpf",
                  "--lpf-allow-unconstrained", "--freq", f"{CLOCK_MHZ:g}",
                  "--timing-allow-fail", "--router", "router2", "-q"]
        placer = ["--placer", args.placer] + ([] if args.seed is None else
                                              ["--seed", str(args.seed)])
        run = procs.run(common + placer + ["--json", "netlist-ecp5.json", "--no-route",
                                  "--write", "placed.json", "-l", "place.log"], cwd=work)
        if run.returncode:   # its warnings (unconstrained pins) are in the log
            raise SystemExit(f"nextpnr failed: {run.stderr.strip()[-500:]}")
        placed_mhz = pnr._placed_fmax((work / "place.log").read_text())
        log(f"placed: nextpnr's estimate {placed_mhz} MHz", start)
        paths = placed_paths(json.loads((work / "placed.json").read_text()), args.paths)
        routed = stopped = None
        if args.route is not None:
            try:
                ripup = ["--tmg-ripup"] if args.tmg_ripup else []
                run = procs.run(common + ripup + ["--json", "placed.json", "--no-place",
                                          "--report", "report.json", "-l", "route.log"],
                                cwd=work, timeout=args.route)
            except subprocess.TimeoutExpired:
                text = (work / "route.log").read_text(errors="replace") \
                    if (work / "route.log").exists() else ""
                left = re.findall(r"overused=(\d+)", text)
                stopped = f"routing stopped at the {args.route:g} s limit" + (
                    f" with {int(left[-1]):,} wires overused" if left else "")
            else:
                report = work / "report.json"
                rep = json.loads(report.read_text()) if report.exists() else {}
                fmax = [v["achieved"] for v in rep.get("fmax", {}).values()
                        if v.get("achieved")]
                if run.returncode or not fmax:
                    stopped = "routing failed: " + pnr._fit_error(run.stderr)
                else:
                    routed = (round(min(fmax), 2), pnr.critical_path(rep))
            log(stopped or f"routed: {routed[0]} MHz", start)
    if routed:
        crit = routed[1]
        result = (f"nextpnr after routing: **{routed[0]} MHz** (after placement: {placed_mhz} "
                  "MHz); " + (f"critical path `{crit['from']['cell']}` -> `{crit['to']['cell']}`, "
                              f"{crit['delay_ns']} ns ({crit['logic_ns']} logic, "
                              f"{crit['routing_ns']} routing)" if crit else
                              "no clock-to-clock path in nextpnr's report"))
    else:
        result = f"nextpnr after placement: **{placed_mhz} MHz** (estimate)" + (
            f"; {stopped}" if stopped else "")
    options = "".join(f" {flag}" + ("" if value is True else f" {value}")
                      for flag, value in chosen)
    lines = [f"CNV-W1A1, {CYCLES:,} cycles/frame, planned for {CLOCK_MHZ:g} MHz on {dev.name} "
             f"(II {plan.ii:,}; estimate {plan.to_dict()['total']}); yosys "
             f"{cells.get('LUT4', 0):,} LUT4, {cells.get('TRELLIS_FF', 0):,} FF, "
             f"{cells.get('DP16KD', 0)} DP16KD; {result}. Command: "
             f"`nice .venv/bin/python bench/cnv_timing.py{options}`.", "",
             plan_table(plan)]
    if paths:
        lines += ["Slowest placed paths by the simple delay model (bench/cnv_timing.py):", "",
                  "| ns | from | to | LUT levels | tiles apart |", "|---:|---|---|---:|---:|"]
        lines += [f"| {p['ns']} | `{p['from'][-60:]}` ({p['from_cell']}) | "
                  f"`{p['to'][-60:]}`.{p['pin']} | {p['luts']} | {p['tiles']} |" for p in paths]
    RESULTS.mkdir(exist_ok=True)
    name = "_".join(["cnv_timing"] + [f"seed{value}" if flag == "--seed" else
                                      "floorplan" if flag == "--floorplan" else
                                      "ripup" if flag == "--tmg-ripup" else str(value)
                                      for flag, value in chosen if flag != "--route"]
                    + ([] if routed or stopped else ["placed"])) + ".md"
    (RESULTS / name).write_text("\n".join(lines) + "\n")
    log(f"wrote {RESULTS / name}", start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
