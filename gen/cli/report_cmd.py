"""The `report` and `estimate` subcommands."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from models.errors import UserError

from gen.common.resources import FAMILIES
from gen.common.staging import check_output_folder
from gen.synth.scripts import check_families
from gen.cli.args import MODEL_HELP, model_arg


# Above this many estimated LUTs (any FPGA family) a fully unrolled description fits no
# iCE40, ECP5 or Gowin device and yosys runs for hours: `report` asks for a plan instead.
UNROLLED_LIMIT_LUTS = 100_000
MAX_PNR_TIMEOUT_S = 7 * 24 * 3600      # --pnr-timeout: a week at most


def _list(text: str) -> list[str]:
    return [t.strip().lower() for t in text.split(",") if t.strip()]


def register(sub) -> None:
    p = sub.add_parser("report", help="yosys resources per layer and family (+ nextpnr Fmax)")
    p.add_argument("source", type=model_arg,
                   help=f"a build folder (from `bnngen build`) or a {MODEL_HELP}")
    p.add_argument("--family", default=",".join(FAMILIES),
                   help=f"comma-separated families from {','.join(FAMILIES)} (default: all)")
    p.add_argument("--fmax", action="store_true",
                   help="also place and route with nextpnr for Fmax and utilization")
    p.add_argument("--device", default=None,
                   help="devices for --fmax, e.g. 25f,up5k,gw1nr9 (default: every device of "
                        "the families reported: ice40-up5k, ice40-hx8k, ecp5-25f, ecp5-85f, "
                        "gowin-gw1nr9; an ECP5's faster speed grade as e.g. 85f-8, the "
                        "default being the slowest, -6)")
    p.add_argument("--clock", type=float, metavar="MHZ", default=None,
                   help="clock nextpnr is asked for (default: the plan's clock, else "
                        "100 MHz)")
    p.add_argument("--pnr-timeout", type=int, metavar="S", default=None,
                   help="time limit of each nextpnr run in seconds (default: 60 s plus "
                        "30 ms per cell of the design)")
    p.add_argument("-o", "--out", default=None,
                   help="report folder (default: SOURCE/report for a build folder, "
                        "else report-NAME)")
    p.add_argument("--plan", metavar="PLAN",
                   help="report a description built as this folding plan (from `bnngen plan`) "
                        "instead of fully unrolled")
    p.add_argument("--no-cache", action="store_true", help="rerun yosys even for cached results")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="yosys runs at once, one family each, and nextpnr runs, one device "
                        "each (default: one per CPU core, at most one per family or device)")
    p.add_argument("--force", action="store_true",
                   help=f"synthesize a description fully unrolled even above "
                        f"{UNROLLED_LIMIT_LUTS:,} estimated LUTs (yosys takes hours), and "
                        "replace the output folder even if bnngen did not write it")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("estimate", help="analytical LUT/FF/BRAM estimate per layer (instant)")
    p.add_argument("file", type=model_arg, help=MODEL_HELP)
    p.add_argument("--family", default="ice40,ecp5,xilinx,gowin",
                   help="comma-separated FPGA families (default: ice40,ecp5,xilinx,gowin)")
    p.add_argument("--plan", metavar="PLAN",
                   help="estimate the description built as this folding plan (from `bnngen plan`)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_estimate)


def _default_out(source: Path) -> Path:
    if source.is_dir():
        return source / "report"
    return Path(f"report-{source.stem}")


def cmd_report(args) -> int:
    from gen.build.design_source import load_source
    from gen.synth.report import build_report, default_jobs, markdown, write_report

    families = check_families(_list(args.family))
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    devices: list[str] = []
    if args.fmax:
        devices = _devices(args, families)
    source = Path(args.source)
    if args.out == "":
        raise UserError("the output path is empty")
    out = Path(args.out) if args.out is not None else _default_out(source)
    inputs = [source] + ([args.plan] if args.plan else [])
    check_output_folder(out, "report", force=args.force, inputs=inputs)
    if source.is_file() and not args.plan and not args.force:
        _check_unrolled_size(source, families)
    src = load_source(source, args.plan)
    report = build_report(src, families, use_cache=not args.no_cache,
                          progress=sys.stderr.isatty(), jobs=args.jobs or default_jobs(families))
    if args.fmax:
        report["fmax"] = _fmax(src, devices, args.clock, args.pnr_timeout,
                               args.jobs or default_jobs(devices), report["results"])
    out = write_report(report, out, force=args.force, inputs=inputs)
    print(markdown(report))
    print(f"report written to {out}/ (report.json, report.md, resources.png)")
    return 0


def _check_unrolled_size(path: Path, families: list[str]) -> None:
    """Refuse, before elaborating, a fully unrolled build that only a plan makes sensible."""
    from models import description as fmt

    from gen.estimate.estimator import estimate

    desc = fmt.load(path)
    fams = [f for f in families if f != "asic"] or ["ice40"]
    est = estimate(desc, fams)["estimate"]
    fam = max(fams, key=lambda f: est[f]["total"]["lut"])
    luts = est[fam]["total"]["lut"]
    if luts > UNROLLED_LIMIT_LUTS:
        raise UserError(f"{path}: fully unrolled, {desc.name} is about {luts:,} {fam} LUTs by "
                        f"the estimate and yosys would run for hours; report it as a folding "
                        f"plan builds it (bnngen plan {path} --fps N --clock MHZ -o PLAN, then "
                        f"bnngen report {path} --plan PLAN), or pass --force")


def _devices(args, families: list[str]) -> list[str]:
    from gen.synth.fmax import PNR_FAMILIES, check_devices, devices_of

    if args.clock is not None and not (math.isfinite(args.clock) and args.clock > 0):
        raise UserError(f"--clock must be a positive number of MHz, not {args.clock:g}")
    if args.pnr_timeout is not None and not 0 < args.pnr_timeout <= MAX_PNR_TIMEOUT_S:
        raise UserError(f"--pnr-timeout must be 1 to {MAX_PNR_TIMEOUT_S:,} seconds, not "
                        f"{args.pnr_timeout}")
    if args.device is not None:
        return check_devices(_list(args.device))
    devices = devices_of(families)
    if not devices:
        raise UserError(f"--fmax places and routes for {', '.join(PNR_FAMILIES)}: none of "
                        f"them is among the families reported ({', '.join(families)})")
    return devices


# A device is left out of place and route when the report's synthesis (hierarchy kept)
# already needs more block RAMs than it has, or this many times its LUTs: flattening changes
# the LUT count by a few percent, never the block RAMs.
OVER_LUTS = 1.25


def _beyond(device: str, synthesized: dict) -> str | None:
    """Why `device` cannot hold the design as the report's synthesis counted it, or None."""
    from gen.common.devices import find_device

    dev = find_device(device)
    total = synthesized.get(dev.family, {}).get("total")
    if not total:
        return None
    if total["bram"] > dev.bram:
        return f"needs {total['bram']:,} BRAMs of {dev.bram:,}"
    if total["lut"] > OVER_LUTS * dev.lut:
        return f"needs {total['lut']:,} LUTs of {dev.lut:,}"
    return None


def _fmax(src, devices: list[str], clock: float | None, timeout: float | None,
          jobs: int, synthesized: dict) -> dict:
    """Place and route on each device at the requested clock (--clock, else the plan's,
    else DEFAULT_CLOCK_MHZ), except where the report's synthesis (`synthesized`, per family)
    shows the design cannot fit (`_beyond`: no flattened synthesis for those); devices it
    does not fit or that nextpnr did not finish are noted on stderr, and a design that fits
    none of the requested devices is an error (and no report is written)."""
    from gen.common.devices import find_device
    from gen.synth.fmax import DEFAULT_CLOCK_MHZ, place_and_route

    clock = float(clock or src.clock_mhz or DEFAULT_CLOCK_MHZ)
    beyond = {d: _beyond(d, synthesized) for d in devices}
    routed = [d for d in devices if beyond[d] is None]
    placed = place_and_route(src.verilog, src.top, routed, clock_mhz=clock, timeout=timeout,
                             jobs=jobs) if routed else {}
    results = {}
    for d in devices:
        dev = find_device(d)
        results[dev.name] = placed.get(dev.name) or {
            "device": dev.name, "family": dev.family, "requested_mhz": clock, "fits": False,
            "reason": beyond[d] + " (synthesized with the hierarchy kept)"}
    if not any(r["fits"] for r in results.values()):
        reasons = "; ".join(f"{d}: {r['reason']}" for d, r in results.items())
        raise UserError(f"{src.name} does not fit {' or '.join(devices)} ({reasons})")
    for dev, r in results.items():
        if not r["fits"]:
            print(f"bnngen: note: {src.name} does not fit {dev}: {r['reason']}",
                  file=sys.stderr)
        elif r["timed_out"]:
            print(f"bnngen: note: {dev}: {r['reason']}", file=sys.stderr)
    return results


def cmd_estimate(args) -> int:
    import json

    from models import description as fmt

    from gen.estimate.estimator import estimate, estimate_table

    families = check_families(_list(args.family))
    if "asic" in families:
        raise UserError("the estimator covers FPGA families only (ice40, ecp5, xilinx, gowin)")
    desc = fmt.load(args.file)
    if args.plan:
        from gen.plan.plan_file import load_checked_plan, plan_estimate
        est = plan_estimate(desc, load_checked_plan(args.plan, desc), families)
    else:
        est = estimate(desc, families)
    print(json.dumps(est, indent=1, sort_keys=True) if args.json else estimate_table(est))
    return 0
