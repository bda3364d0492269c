"""`bnngen report`: synthesize the top and every layer's module per family, then write
report.json, report.md and resources.png into a folder, atomically.

Yosys runs `jobs` families at once (default_jobs: one per core; on 2 cores the shipped
model's five families took 257 s so, against 290 s three at a time, measured back to back;
BENCHMARKS.md, "Resources"); the Verilog is read once for all of them (gen.synth.yosys.to_rtlil),
while the longest family reads it itself. Each result is cached by content (gen.synth), so a
rerun of an unchanged design is instant.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from gen.build.design_source import DesignSource
from gen.common.resources import CLASSES, classify, unknown_cells
from gen.common.staging import staged_folder
from gen.synth.yosys import SynthError, is_cached, run_yosys, to_rtlil, yosys_version


# Columns shown per family in the Markdown table (asic has its own).
FPGA_COLUMNS = ("lut", "ff", "carry", "bram", "lutram", "dsp", "mux")
ASIC_COLUMNS = ("gates", "ff", "transistors", "memories", "memory_bits")
TOTAL = "total"


def _summary(family: str, cells: dict[str, int], transistors: int | None,
             memories: list | None = None) -> dict:
    if family == "asic":
        # Memory macros are cells too ($mem_v2), but neither gates nor transistors.
        cls = classify(family, {k: v for k, v in cells.items() if k != "$mem_v2"})
        memories = memories or []
        return {"gates": cls["other"], "ff": cls["ff"], "transistors": transistors,
                "memories": len(memories), "memory_bits": sum(m.bits for m in memories),
                "memory_macros": _macros(memories),
                "cells": dict(sorted(cells.items()))}
    out = {k: v for k, v in classify(family, cells).items() if k in CLASSES}
    out["cells"] = dict(sorted(cells.items()))
    unknown = unknown_cells(family, cells)
    if unknown:
        out["unclassified"] = unknown
    return out


def _macros(memories: list) -> list[dict]:
    """Distinct macro shapes with their counts, largest first."""
    shapes = Counter(memories)
    return [{"words": m.words, "width": m.width, "read_ports": m.read_ports,
             "write_ports": m.write_ports, "kind": "ram" if m.write_ports else "rom",
             "count": n} for m, n in sorted(shapes.items(), key=lambda mn: -mn[0].bits)]


# Relative yosys time per family on the shipped model's planned build (bench/report_time.py).
YOSYS_WEIGHT = {"xilinx": 1.4, "gowin": 1.1, "ice40": 1.2, "ecp5": 0.8, "asic": 0.3}


def synthesize(src: DesignSource, families: list[str], *, use_cache: bool = True,
               progress: bool = True, jobs: int = 1) -> dict:
    """Per family, one yosys run of the top with its hierarchy kept: the design total, and
    each layer's module with its submodules (its subtree). `jobs` families run at once."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    # Several families to run: read the Verilog once (to_rtlil), not once per family. With
    # more than one job, the longest family reads it itself meanwhile, so that no core
    # waits for that read.
    todo = [f for f in families if not (use_cache and is_cached(src.verilog, f, src.top))]
    shared = tempfile.TemporaryDirectory(prefix="bnngen-rtlil-") if len(todo) > 1 else None

    def one(fam: str, rtlil: Path | None):
        return run_yosys(src.verilog, fam, src.top, use_cache=use_cache, rtlil=rtlil)

    results: dict[str, dict] = {}
    bar = tqdm(total=len(families), desc="yosys", unit="family", disable=not progress,
               leave=False)
    # Longest first, so that parallel jobs finish together (yosys time on the shipped model).
    order = sorted(families, key=lambda f: -YOSYS_WEIGHT.get(f, 1.0))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            runs = {}
            if shared and jobs > 1:
                first = next(f for f in order if f in todo)
                runs[first] = pool.submit(one, first, None)
            rtlil = to_rtlil(src.verilog, Path(shared.name)) if shared else None
            for fam in order:
                if fam not in runs:
                    runs[fam] = pool.submit(one, fam, rtlil)
            for fam in order:
                results[fam] = _family_result(src, fam, runs[fam].result())
                bar.update()
    finally:
        bar.close()
        if shared:
            shared.cleanup()
    return {fam: results[fam] for fam in families}


def _family_result(src: DesignSource, fam: str, r) -> dict:
    res: dict = {"layers": {}}
    res[TOTAL] = _summary(fam, r.cells, r.subtree_transistors(src.top),
                          r.subtree_memories(src.top))
    res[TOTAL]["module"] = src.top
    for layer, mod in src.layers:
        if mod not in r.modules:
            raise SynthError(f"yosys {fam}: module {mod!r} of layer {layer!r} vanished "
                             "during synthesis")
        row = _summary(fam, r.subtree(mod), r.subtree_transistors(mod),
                       r.subtree_memories(mod))
        row["module"] = mod
        res["layers"][layer] = row
    res["yosys_seconds"] = round(r.seconds, 2)
    res["cached"] = r.cached
    res["lut_mapper"] = r.mapper
    if r.fallback_modules:
        res["fallback_modules"] = list(r.fallback_modules)
    return res


def default_jobs(families: list[str]) -> int:
    """Yosys runs at once: one per core (yosys is single-threaded, and a third run on 2
    cores only made the runs share the cores: 290 s against 257 s), at most one per
    family."""
    return max(1, min(len(families), os.cpu_count() or 1))


def build_report(src: DesignSource, families: list[str], *, fmax: dict | None = None,
                 use_cache: bool = True, progress: bool = True, jobs: int = 1) -> dict:
    start = time.perf_counter()
    results = synthesize(src, families, use_cache=use_cache, progress=progress, jobs=jobs)
    report = {
        "design": src.name,
        "source": src.origin,
        "top": src.top,
        "layers": [layer for layer, _ in src.layers],
        "families": families,
        "yosys": yosys_version(),
        "results": results,
    }
    if fmax is not None:
        report["fmax"] = fmax
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def markdown(report: dict) -> str:
    """One table per family: a row per layer and the top's total."""
    lines = [f"# Resources of {report['design']}", "",
             f"yosys {report['yosys']}; the top is synthesized once per family with its "
             "hierarchy kept: a row is a layer's module with its submodules, `total` is the "
             "whole design (layers plus the glue between them).", ""]
    for fam in report["families"]:
        res = report["results"][fam]
        cols = ASIC_COLUMNS if fam == "asic" else FPGA_COLUMNS
        lines += [f"## {fam}", "", "| layer | " + " | ".join(cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        rows = [*res["layers"].items(), (TOTAL, res[TOTAL])]
        for name, row in rows:
            cells = " | ".join(_fmt(row.get(c)) for c in cols)
            label = f"**{name}**" if name == TOTAL else name
            lines.append(f"| {label} | {cells} |")
        if fam == "asic":
            lines += ["", "Transistors: the logic's (gates and flip-flops, yosys's CMOS table). "
                      "The memories (line buffers, weight and threshold ROMs) are SRAM/ROM "
                      "macros from a memory compiler, not in that count; report.json lists "
                      "each layer's macros (words x bits, ports)."]
        if res.get("fallback_modules"):
            lines += ["", f"yosys's ABC9 crashed on {', '.join(res['fallback_modules'])}: "
                      "mapped with classic ABC (LUT4s only), the rest with ABC9."]
        lines.append("")
    if "fmax" in report:
        lines += fmax_markdown(report["fmax"])
    return "\n".join(lines)


def fmax_markdown(fmax: dict) -> list[str]:
    """The place-and-route table: Fmax after routing at the requested clock, the critical
    path's ends (layer.block (net)), utilization; a device not fitted or not finished
    says why under the table."""
    from gen.synth.fmax import describe_end

    lines = ["## Fmax after routing (nextpnr)", "",
             "| device | asked MHz | Fmax MHz | meets | critical path (from -> to) | ns "
             "(logic + routing) | LUT/LC | FF | BRAM | nextpnr s |",
             "|---|---:|---:|---|---|---:|---:|---:|---:|---:|"]
    notes = []
    for dev, r in fmax.items():
        if not r["fits"] or r.get("timed_out"):
            notes.append(f"- {dev}: {'does not fit: ' if not r['fits'] else ''}{r['reason']}")
            lines.append(f"| {dev} | {_fmt(r.get('requested_mhz'))} | - | "
                         f"{'does not fit' if not r['fits'] else 'timed out'} | | | | | | "
                         f"{_fmt(r.get('seconds'))} |")
            continue
        if r.get("mapper"):
            notes.append(f"- {dev}: ABC9 crashed on the flattened netlist (a yosys bug); its "
                         f"LUTs were mapped with classic ABC ({r['mapper']})")
        cp, util = r.get("critical_path"), r.get("utilization", {})
        path = (f"{describe_end(cp['from'])} -> {describe_end(cp['to'])}" if cp else "-")
        delay = (f"{cp['delay_ns']:.1f} ({cp['logic_ns']:.1f} + {cp['routing_ns']:.1f})"
                 if cp else "-")
        lines.append(f"| {dev} | {_fmt(r['requested_mhz'])} | {_fmt(r.get('fmax_mhz'))} | "
                     f"{'yes' if r.get('meets') else 'no'} | {path} | {delay} | "
                     f"{_util(util, 'lut')} | {_util(util, 'ff')} | {_util(util, 'bram')} | "
                     f"{_fmt(r.get('seconds'))} |")
    return [*lines, "", *notes, *([""] if notes else [])]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _util(util: dict, key: str) -> str:
    u = util.get(key)
    return f"{u[0]:,}/{u[1]:,}" if u else "-"


def plot(report: dict, path: Path) -> None:
    """Bar chart of LUTs (and FFs) per layer, one bar group per family."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fams = [f for f in report["families"] if f != "asic"]
    layers = report["layers"]
    metrics = [("lut", "LUTs"), ("ff", "flip-flops")]
    if "asic" in report["families"]:
        metrics.append(("transistors", "ASIC transistors"))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6, 1.2 * len(layers) + 2),
                                                        3 * len(metrics)), squeeze=False)
    x = np.arange(len(layers))
    for ax, (key, title) in zip(axes[:, 0], metrics):
        group = ["asic"] if key == "transistors" else fams
        width = 0.8 / max(1, len(group))
        for i, fam in enumerate(group):
            vals = [report["results"][fam]["layers"].get(ly, {}).get(key) or 0 for ly in layers]
            ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=fam)
        ax.set_xticks(x, layers)
        ax.set_title(f"{title} per layer")
        ax.legend(fontsize="small")
    fig.suptitle(f"{report['design']}: resources per layer (yosys)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def write_report(report: dict, out: str | Path, *, force: bool = False, inputs=()) -> Path:
    """Write the folder `out` whole or not at all: fill a sibling temporary folder, then
    swap it into place (only over a folder bnngen wrote, see gen.common.staging, unless `force`)."""
    out = Path(out)
    with staged_folder(out, "report", force=force, inputs=inputs) as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        (tmp / "report.md").write_text(markdown(report))
        plot(report, tmp / "resources.png")
    return out
