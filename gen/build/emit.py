"""Verilog and manifest for a description: what `bnngen build FILE -o DIR` writes.

Output layout (stable; `bnngen report` and other tools read it through manifest.json):

    DIR/
      bnn_top.v            the whole accelerator: module `bnn_top` (name set by --top) with
                           AXI4-Stream ports, aclk and aresetn (manifest "ports", "input",
                           "output"; docs/interface.md); its blocks are submodules
                           `bnn_top.<block>`
      layers/encoder.v     module `encoder`: the encoder alone (ports i__*, o__*, clk, rst)
      layers/<layer>.v     module `<layer>` (the layer name, made a Verilog identifier): one
                           self-contained module per layer, stream ports i__valid/i__ready/
                           i__payload and o__valid/o__ready/o__payload, clk, rst (sync, high)
      lint.vlt             Verilator waivers for Amaranth's Verilog style, each justified
      bnn_top.core, constraints/, tb/   FuseSoC core, clock constraints per family, reset
                           bench of the core's sim target (gen/build/ip_files.py)
      bnn_top_regs.h       (--control) the AXI4-Lite register offsets (hw/control.py)
      manifest.json        ports, packing, per-block timing, II, latency, file hashes

Block classes (hw/): `Encoder`, `ConvLayer` (= `WindowGenerator` + `ConvEngine`, the window
generator left out for 1x1 stride-1 unpadded kernels), `PoolLayer` (= `WindowGenerator` +
`WindowOr`), `Network`. Each has `timing` (hw.timing.Timing: latency, ii, widths, stages).

Emission is deterministic (no source locations, no timestamps, sorted JSON), so two builds
of one description give byte-identical files; the folder is written next to DIR under a
temporary name and renamed into place, so DIR is never left half written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from models.description import Conv, Description
from models.errors import UserError

from gen.common.staging import check_output_folder, staged_folder


MANIFEST_VERSION = 2          # 2: aclk/aresetn, tlast framing, byte-aligned result beat
TIMESCALE = "`timescale 1ns/1ps\n"
DEFAULT_TOP = "bnn_top"

# Verilator -Wall findings that are properties of Amaranth's (yosys') Verilog, not of the
# design; each waiver says why it is harmless.
LINT_WAIVERS = {
    "PROCASSINIT": "every register carries its power-up value as a declaration initialiser "
                   "and is also assigned in its always block (FPGA init + sync reset)",
    "WIDTHEXPAND": "Amaranth arithmetic widens operands explicitly by its own rules; yosys "
                   "prints the operands at their natural widths",
    "WIDTHTRUNC": "Amaranth truncates results to the target width on purpose (e.g. modular "
                  "row counters, sums wider than the register that keeps them)",
    "UNUSEDSIGNAL": "intermediate nets and unused high bits the generator names for "
                    "readability; synthesis removes them",
    "CASEINCOMPLETE": "case statements follow a default assignment, so a missing item keeps "
                      "the default by construction",
    "CMPCONST": "generic comparisons that are constant for some shapes (e.g. step < W when the "
                "row period is W); synthesis folds them",
    "UNSIGNED": "comparisons of unsigned values against 0 in shape-generic code; folded away",
    "DECLFILENAME": "one file holds a module and its submodules, named after the module",
}


def verilog_name(name: str) -> str:
    """A layer name as a plain Verilog identifier."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not ident or not (ident[0].isalpha() or ident[0] == "_"):
        ident = "l_" + ident
    return ident


def block_modules(desc: Description) -> list[tuple[str, str]]:
    """(block name, module name) of the encoder and every layer, unique and stable."""
    out, used = [], set()
    for name in ["encoder"] + [layer.name for layer in desc.layers]:
        mod = verilog_name(name)
        while mod in used or mod == DEFAULT_TOP:
            mod += "_"
        used.add(mod)
        out.append((name, mod))
    return out


LATENCY_DEFINITION = ("cycles from the rising edge of aclk that transfers a frame's last input "
                      "beat (the one with s_axis_tlast) to the rising edge that transfers its "
                      "result beat, with m_axis_tready held high")


def latency_fields(desc: Description, ii: int, plan=None, stages: int = 1) -> dict:
    """The build's latency (LATENCY_DEFINITION) from the timing model of gen/estimate/flow_model.py,
    with the source paced at the initiation interval (pixel p of frame f offered at cycle
    f*II + p*II//(H*W)), as `bnngen plan` predicts it. A source that never pauses sees the
    same latency: where II > H*W the top paces its input to that schedule (hw/framing.py),
    so frames never queue inside."""
    if plan is not None:
        paced = plan.latency
    else:
        from gen.estimate.flow_model import analyse
        paced = analyse(desc, {}, stages).latency
    pixels = desc.input.height * desc.input.width
    return {"definition": LATENCY_DEFINITION, "paced_cycles": paced,
            "paced_source": f"pixel p of frame f offered at cycle f*{ii} + p*{ii}//{pixels}",
            "back_to_back_cycles": paced,
            "back_to_back_note": ("the paced source is back to back (one pixel per clock)"
                                  if ii == pixels else
                                  "the top takes the input no faster than the paced source "
                                  "(s_axis_tready follows that schedule), so a source that "
                                  "never pauses sees the paced latency")}


def manifest(desc: Description, net, top: str, files: dict[str, str],
             stages: int, plan=None) -> dict:
    """Everything a user of the Verilog needs, as plain JSON."""
    from hw.engine import class_width, score_width
    from hw.framing import ERROR_BITS, FLIGHT_DEPTH
    from hw.network import result_bytes
    inp = desc.input
    last: Conv = desc.layers[-1]
    cb, sb = result_bytes(last)
    timing = net.timing
    blocks = []
    shapes = [inp.shape] + [desc.encoded_shape] + [layer.out_shape for layer in desc.layers]
    for k, ((name, block), (_, mod)) in enumerate(zip(net.blocks, block_modules(desc))):
        t = block.timing
        entry = {"name": name, "kind": "encoder" if k == 0 else desc.layers[k - 1].kind,
                 "module": mod, "file": f"layers/{mod}.v", "class": type(block).__name__,
                 "in_shape": list(shapes[k]), "out_shape": list(shapes[k + 1]),
                 "in_width": t.in_width, "out_width": t.out_width,
                 "in_items": t.in_items, "out_items": t.out_items,
                 "latency_cycles": t.latency, "ii_cycles": t.ii, "stages": t.stages}
        window = getattr(block, "window", None)
        if window is not None:
            p = window.plan
            entry["window"] = {"line_buffers": p.banks, "line_words": p.width,
                               "row_period": p.period, "spilled_per_row": p.flush,
                               "shift_columns": p.length}
        blocks.append(entry)
    pixels = inp.height * inp.width
    latency = latency_fields(desc, timing.ii, plan, stages)
    return {
        "bnngen_manifest": MANIFEST_VERSION,
        "name": desc.name,
        "top": top,
        "verilog": sorted(files),
        "timescale": "1ns/1ps",
        "clock": {"port": "aclk", "edge": "rising"},
        "reset": {"port": "aresetn", "kind": "synchronous, active low",
                  "note": "s_axis_tready is 0 while aresetn is 0; hold aresetn low for at "
                          "least one rising edge of aclk"},
        "ports": {
            "aclk": {"dir": "in", "width": 1},
            "aresetn": {"dir": "in", "width": 1},
            "s_axis_tdata": {"dir": "in", "width": net.in_width},
            "s_axis_tvalid": {"dir": "in", "width": 1},
            "s_axis_tready": {"dir": "out", "width": 1},
            "s_axis_tlast": {"dir": "in", "width": 1},
            "m_axis_tdata": {"dir": "out", "width": net.out_width},
            "m_axis_tvalid": {"dir": "out", "width": 1},
            "m_axis_tready": {"dir": "in", "width": 1},
            "m_axis_tlast": {"dir": "out", "width": 1},
            "framing_errors": {"dir": "out", "width": ERROR_BITS},
        },
        "input": {"height": inp.height, "width": inp.width, "channels": inp.channels,
                  "sample_bits": inp.bits, "frame_pixels": pixels,
                  "packing": "one pixel per transfer, raster order; sample c at bits "
                             f"[c*{inp.bits}, (c+1)*{inp.bits}), zero padded to bytes",
                  "tlast": f"on a frame's last pixel (transfer {pixels}). A frame whose "
                           "tlast comes early, late or not at all is dropped (no result) "
                           "and framing_errors counts it; the next transfer after a frame's "
                           f"{pixels} starts a new frame, and a new frame whose tlast comes "
                           "early right after a frame without tlast is that frame's tail, "
                           "dropped without a second count (docs/interface.md)",
                  "frames_in_flight": FLIGHT_DEPTH},
        "output": {"transfers_per_frame": 1,
                   "class": {"byte": 0, "bytes": cb, "lsb": 0, "width": 8 * cb,
                             "significant_bits": class_width(last.out_channels)},
                   "scores": [{"class": o, "byte": cb + o * sb, "bytes": sb,
                               "lsb": 8 * (cb + o * sb), "width": 8 * sb,
                               "significant_bits": score_width(last), "signed": True}
                              for o in range(last.out_channels)],
                   "result_width": net.out_width,
                   "layout": "whole bytes, little end first: the class (unsigned) in bytes "
                             f"[0, {cb}), then score o (two's complement, sign-extended) in "
                             f"bytes [{cb} + o*{sb}, {cb} + (o+1)*{sb})",
                   "tlast": "1 on every result"},
        "framing_errors": {"port": "framing_errors", "width": ERROR_BITS,
                           "counts": "frames dropped for a wrong tlast; saturates at all ones;"
                                     " cleared by reset"},
        "options": {"popcount_stages": stages, "runtime_thresholds": False},
        "layers": blocks,
        "pipeline_depth": timing.stages,
        "latency": latency,
        "latency_cycles": latency["paced_cycles"],
        "latency_note": "latency.paced_cycles; latency.definition says what is counted",
        "initiation_interval_cycles": timing.ii,
        "cycles_per_frame": timing.ii,
        "one_pixel_per_clock": timing.ii == pixels,
        "files": files,
    }


def emit(desc: Description, *, top: str = DEFAULT_TOP, stages: int = 1,
         progress: bool = False, plan=None, clock_mhz: float | None = None,
         control: bool = False, bench=None) -> dict[str, str]:
    """All output files of a build as {relative path: text}. `plan` (gen.plan.plan_file.Plan): build
    each layer as the folding plan says (its popcount stages win over `stages`).
    `clock_mhz`: the constraint files' clock (default: the plan's, else 100 MHz).
    `control`: the AXI4-Lite control port (hw/control.py) and its C header.
    `bench` (images, where they come from): the self-checking bench (gen/build/testbench.py) on
    those images replaces the reset bench of tb/."""
    from gen.build.ip_files import DEFAULT_CLOCK_MHZ, FAMILY_FILES, core_name, ip_files
    from amaranth.back import verilog

    from hw.network import Network, layer_block
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top):
        raise UserError(f"--top {top!r} is not a Verilog identifier")
    modules = block_modules(desc)
    jobs = [("top", None)] + [(name, mod) for name, mod in modules]
    bar = _progress(len(jobs), progress)
    texts: dict[str, str] = {}
    if plan is not None:
        from gen.plan.planned_top import planned_top
        net, stages = planned_top(desc, plan, control=control), plan.stages
    else:
        net = Network(desc, stages=stages, control=control)
    texts[f"{top}.v"] = TIMESCALE + verilog.convert(net, name=top, emit_src=False)
    bar.update()
    shapes = desc.layer_inputs()
    for k, (_, mod) in enumerate(modules):
        if k == 0:
            from hw.encoder import Encoder
            inp = desc.input
            block = Encoder(inp.channels, inp.bits, desc.encoder)
        else:
            block = (layer_block(desc.layers[k - 1], shapes[k - 1], stages) if plan is None
                     else _planned_layer(desc.layers[k - 1], shapes[k - 1], plan))
        texts[f"layers/{mod}.v"] = TIMESCALE + verilog.convert(block, name=mod, emit_src=False)
        bar.update()
    bar.close()
    texts["lint.vlt"] = lint_waivers()
    if clock_mhz is None:
        clock_mhz = (plan.clock_mhz if plan is not None and plan.clock_mhz else
                     DEFAULT_CLOCK_MHZ)
    if not clock_mhz > 0:
        raise UserError(f"--clock must be positive, not {clock_mhz:g} MHz")
    texts.update(ip_files(desc.name, top, [f"{top}.v"], net.in_width, clock_mhz))
    doc = manifest(desc, net, top, {}, stages, plan)
    if control:
        texts[f"{top}_regs.h"] = _control_fields(desc, net, top, doc)
    if bench is not None:
        texts.update(_bench(desc, top, doc, *bench))
    hashes = {path: hashlib.sha256(text.encode()).hexdigest()
              for path, text in sorted(texts.items()) if path.endswith(".v")}
    doc["verilog"], doc["files"] = sorted(hashes), hashes
    doc["integration"] = {
        "fusesoc_core": f"{top}.core", "core_name": core_name(desc.name),
        "targets": {"default": "the RTL", "sim": f"Icarus, tb/{top}_tb.v (reset check)",
                    "lint": "Verilator --lint-only", **{f: f"the RTL + {f} constraints"
                                                        for f in FAMILY_FILES}},
        "clock_mhz": clock_mhz,
        "constraints": {f: f"constraints/{top}.{ext}" for f, (ext, _) in FAMILY_FILES.items()},
    }
    if plan is not None:
        from gen.plan.planned_top import manifest_fields
        doc.update(manifest_fields(plan))
    texts["manifest.json"] = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return texts


def _bench(desc: Description, top: str, doc: dict, images, source: str) -> dict[str, str]:
    """The self-checking bench on `images` (golden results), the core's sim target on it,
    and the manifest's `testbench` entry."""
    from models.golden import predict

    from gen.build.ip_files import core_file
    from gen.build.testbench import DATA_FILES, bench_files
    classes, scores = predict(desc, images)
    doc["testbench"] = {
        "bench": f"tb/{top}_tb.v", "frames": len(images), "images": source,
        "data": list(DATA_FILES), "checks": "every result beat against the golden model's "
        "class and scores; tlast on every result; s_axis_tready 0 during reset; "
        "framing_errors 0", "verdict": "last line `bnngen-tb: PASS ...` (exit 0) or "
        "`bnngen-tb: FAIL ...` ($fatal, exit 1)"}
    return {**bench_files(top, doc, images, classes, scores),
            f"{top}.core": core_file(desc.name, top, [f"{top}.v"], DATA_FILES)}


def _control_fields(desc: Description, net, top: str, doc: dict) -> str:
    """Put the control port in the manifest; return the C header."""
    from hw.control import ADDR_BITS, axil_members, c_header, register_map
    thresholds = len(net.control.init)
    for name, member in axil_members().items():
        doc["ports"][name] = {"dir": "in" if member.flow.name == "In" else "out",
                              "width": member.shape}
    doc["options"]["runtime_thresholds"] = bool(thresholds)
    doc["control"] = {
        "protocol": "AXI4-Lite slave s_axil_*, 32-bit data, byte addresses "
                    f"({ADDR_BITS} bits), OKAY responses",
        "c_header": f"{top}_regs.h",
        "registers": [{"name": n, "offset": off, "access": a}
                      for n, off, a in register_map(desc.num_classes, thresholds)],
        "soft_reset": "CONTROL bit 0: one cycle of reset of the data path; thresholds back "
                      "to the description's; FRAMES_DONE and LAST_* kept",
        "thresholds": "THRESHOLD_k, k = c*T + t, written while running; a write takes "
                      "effect on the next pixel" if thresholds else "none (bitplane encoder)",
    }
    return c_header(top, desc.num_classes, thresholds)


def lint_waivers() -> str:
    lines = ["`verilator_config", "// Waivers for `verilator --lint-only -Wall lint.vlt *.v`:",
             "// each finding below is a property of Amaranth's Verilog style, not a bug."]
    for rule, why in LINT_WAIVERS.items():
        lines += [f"// {rule}: {why}", f"lint_off -rule {rule}"]
    return "\n".join(lines) + "\n"


def write_atomic(out_dir: str | os.PathLike, texts: dict[str, str], *, force: bool = False,
                 inputs=()) -> Path:
    """Write the files into a temporary sibling folder, then swap it into place (only over
    a folder bnngen wrote, see gen.common.staging, unless `force`)."""
    out = Path(out_dir)
    with staged_folder(out, "build", force=force, inputs=inputs) as tmp:
        for rel, text in texts.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return out


def build(desc: Description, out_dir, *, top: str = DEFAULT_TOP, stages: int = 1,
          progress: bool = False, plan=None, force: bool = False, inputs=(),
          clock_mhz: float | None = None, control: bool = False, bench=None) -> Path:
    """Emit and write a build; the output folder is checked before the (long) emission."""
    check_output_folder(out_dir, "build", force=force, inputs=inputs)
    return write_atomic(out_dir, emit(desc, top=top, stages=stages, progress=progress,
                                      plan=plan, clock_mhz=clock_mhz, control=control,
                                      bench=bench),
                        force=force, inputs=inputs)


def _planned_layer(layer, shape, plan):
    from hw.folded.planned import planned_block
    return planned_block(layer, shape, plan.choices().get(layer.name), plan.stages)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc="emitting Verilog", unit="module", disable=not enabled,
                leave=False)
