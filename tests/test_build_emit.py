"""`bnngen build`: deterministic Verilog, Verilator lint, manifest contents, atomic output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from models import description as fmt
from models.factory import random_description
from gen.build.emit import build
from gen.cli.entry import main


ROOT = Path(__file__).resolve().parents[1]
VERILATOR = ROOT / ".venv/lib/python3.11/site-packages/verilator/bin/verilator"


# A multi-layer factory network with padding, pooling and stride 2: emitting and linting the
# shipped model (11 MB of Verilog) would cost minutes of CI; sim/test_shipped.py builds it.
SMALL = random_description(93)
# Its timing, recorded: conv0 pads the 10x10 input to an 11x11 map, one window per clock, so
# a frame takes 121 cycles; the latency, 43 cycles, is what
# sim/test_network.py::test_network_latency[seed93-verilator] measures.
SMALL_II, SMALL_LATENCY = 121, 43


@pytest.fixture(scope="module")
def shipped_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "build"
    build(SMALL, out)
    return out


def test_shipped_model_streams_one_pixel_per_clock():
    from hw.network import Network
    desc = fmt.load(ROOT / "models/zoo/default.json")
    timing = Network(desc).timing
    assert timing.ii == desc.input.height * desc.input.width


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(tmp_path):
    desc = random_description(272)
    a = build(desc, tmp_path / "a")
    b = build(desc, tmp_path / "b")
    assert _files(a) == _files(b)


def _verilator() -> str:
    exe = shutil.which("verilator") or (str(VERILATOR) if VERILATOR.exists() else None)
    if exe is None:
        pytest.skip("verilator not installed")
    return exe


def test_lint_clean_with_justified_waivers(shipped_build):
    exe = _verilator()
    waivers = (shipped_build / "lint.vlt").read_text()
    rules = re.findall(r"lint_off -rule (\w+)", waivers)
    for rule in rules:  # every waiver carries its reason on the line above
        assert re.search(rf"// {rule}: \S", waivers), f"waiver {rule} is not justified"
    man = json.loads((shipped_build / "manifest.json").read_text())
    # The top holds every block; one standalone layer file stands for the others (same
    # generator, and linting the big classifier twice costs CI time).
    for rel in [f"{man['top']}.v", man["layers"][1]["file"]]:
        r = subprocess.run([exe, "--lint-only", "-Wall", "lint.vlt", rel], cwd=shipped_build,
                           capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), f"{rel}: {r.stderr[:2000]}"


def test_manifest_matches_verilog(shipped_build):
    man = json.loads((shipped_build / "manifest.json").read_text())
    top = (shipped_build / f"{man['top']}.v").read_text()
    for port, spec in man["ports"].items():
        m = re.search(rf"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?{port};", top, re.MULTILINE)
        assert m, f"port {port} missing"
        assert m.group(1) == {"in": "input", "out": "output"}[spec["dir"]]
        assert (int(m.group(2)) + 1 if m.group(2) else 1) == spec["width"], port
    # Timing as recorded for SMALL, not as the code that writes the manifest computes it.
    assert man["cycles_per_frame"] == man["initiation_interval_cycles"] == SMALL_II
    assert man["one_pixel_per_clock"] is False
    assert man["latency_cycles"] == man["latency"]["paced_cycles"] == SMALL_LATENCY
    assert man["latency"]["back_to_back_cycles"] == SMALL_LATENCY   # the input is paced
    desc = SMALL
    assert [b["name"] for b in man["layers"]] == ["encoder"] + [x.name for x in desc.layers]
    for block in man["layers"]:
        text = (shipped_build / block["file"]).read_text()
        assert re.search(rf"^module {block['module']}\(", text, re.MULTILINE), block
    # The result layout from the description (sim.vectors), not from hw/.
    from sim.vectors import result_fields, stream_widths
    cb, sb = result_fields(desc.layers[-1])
    cls = man["output"]["class"]
    assert (cls["lsb"], cls["width"], cls["significant_bits"]) == (0, 8 * -(-cb // 8), cb)
    scores = man["output"]["scores"]
    assert len(scores) == desc.num_classes
    for o, field in enumerate(scores):
        width = 8 * -(-sb // 8)
        assert (field["lsb"], field["width"], field["significant_bits"]) == (
            cls["width"] + o * width, width, sb)
    assert man["output"]["result_width"] == stream_widths(desc)[1] == \
        man["ports"]["m_axis_tdata"]["width"]
    assert man["ports"]["s_axis_tdata"]["width"] == stream_widths(desc)[0]
    for rel, digest in man["files"].items():
        import hashlib
        assert hashlib.sha256((shipped_build / rel).read_bytes()).hexdigest() == digest


def test_build_replaces_a_previous_build_atomically(tmp_path):
    desc = random_description(34)
    out = tmp_path / "out"
    build(desc, out)
    (out / "stale.v").write_text("// left over\n")
    build(desc, out)
    assert not (out / "stale.v").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_cli_refuses_a_foreign_folder(tmp_path, capsys):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    path = tmp_path / "m.json"
    fmt.save(random_description(34), path)
    assert main(["build", str(path), "-o", str(foreign)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "refusing" in err
    assert (foreign / "notes.txt").read_text() == "mine"
    assert main(["build", str(path), "-o", str(tmp_path / "x"), "--top", "9bad"]) == 2


def test_cli_build_prints_summary(tmp_path, capsys):
    path = tmp_path / "m.json"
    fmt.save(random_description(34), path)
    assert main(["build", str(path), "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "cycles per frame" in out and os.path.exists(tmp_path / "b" / "manifest.json")


def test_integration_files_beside_the_verilog(shipped_build):
    man = json.loads((shipped_build / "manifest.json").read_text())
    top = man["top"]
    for rel in [f"{top}.v", *(f"layers/{b['module']}.v" for b in man["layers"])]:
        assert (shipped_build / rel).read_text().startswith("`timescale 1ns/1ps\n"), rel
    integ = man["integration"]
    assert integ["clock_mhz"] == 100.0
    period = {"pcf": "set_frequency aclk 100", "lpf": 'FREQUENCY PORT "aclk" 100 MHz;',
              "cst": 'CLOCK_LOC "aclk" BUFG;', "xdc": "create_clock -period 10.000 -name aclk",
              "sdc": "create_clock -name aclk -period 10.000 [get_ports aclk]"}
    assert sorted(integ["constraints"]) == ["asic", "ecp5", "gowin", "ice40", "xilinx"]
    for rel in integ["constraints"].values():
        assert period[rel.rsplit(".", 1)[1]] in (shipped_build / rel).read_text(), rel
    core = (shipped_build / integ["fusesoc_core"]).read_text()
    assert core.startswith("CAPI=2:") and f"name: {integ['core_name']}" in core


def test_build_clock_option(tmp_path):
    path = tmp_path / "m.json"
    fmt.save(random_description(34), path)
    assert main(["build", str(path), "-o", str(tmp_path / "b"), "--clock", "48"]) == 0
    assert "set_frequency aclk 48" in (tmp_path / "b/constraints/bnn_top.pcf").read_text()
    assert main(["build", str(path), "-o", str(tmp_path / "c"), "--clock", "0"]) == 2


def test_fusesoc_runs_the_build_on_icarus(shipped_build, tmp_path):
    """The core's `sim` target through FuseSoC (offline: the core is its own library)."""
    fusesoc = Path(os.sys.executable).parent / "fusesoc"
    if not fusesoc.exists() or shutil.which("iverilog") is None:
        pytest.skip("fusesoc or iverilog not installed")
    man = json.loads((shipped_build / "manifest.json").read_text())
    env = dict(os.environ, **{k: str(tmp_path / k) for k in
                              ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")})
    r = subprocess.run([str(fusesoc), "--cores-root", str(shipped_build), "run", "--build-root",
                        str(tmp_path / "fusesoc"), "--target", "sim",
                        man["integration"]["core_name"]],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f"{man['top']}_tb: PASS" in r.stdout, r.stdout[-2000:]


def test_plan_and_build_report_the_same_latency(tmp_path, capsys):
    """`bnngen plan` and `bnngen build --plan` print one latency and one II; the manifest
    carries them and the plan's clock reaches the constraint files."""
    path = tmp_path / "m.json"
    fmt.save(random_description(3, max_channels=8, height=6, width=6, convs=2, pool=True),
             path)
    plan = tmp_path / "plan.json"
    assert main(["plan", str(path), "--cycles", "150", "--clock", "40", "--family", "ecp5",
                 "-o", str(plan)]) == 0
    planned = re.search(r"predicted II (\d+) cycles/frame, latency (\d+) cycles",
                        capsys.readouterr().out)
    assert main(["build", str(path), "-o", str(tmp_path / "b"), "--plan", str(plan)]) == 0
    built = re.search(r"(\d+) cycles per frame .*latency (\d+) cycles", capsys.readouterr().out)
    assert planned and built and planned.groups() == built.groups()
    man = json.loads((tmp_path / "b/manifest.json").read_text())
    assert man["latency"]["paced_cycles"] == man["plan"]["predicted_latency"] == \
        int(planned.group(2))
    assert man["integration"]["clock_mhz"] == 40.0


def test_build_control_port(tmp_path):
    """`--control`: the AXI4-Lite ports in the top and the manifest, the register map, the
    C header (sim/test_axis.py drives the port)."""
    path = tmp_path / "m.json"
    desc = random_description(34)          # a thermometer encoder: run-time thresholds
    fmt.save(desc, path)
    assert main(["build", str(path), "-o", str(tmp_path / "b"), "--control"]) == 0
    man = json.loads((tmp_path / "b/manifest.json").read_text())
    top = (tmp_path / "b/bnn_top.v").read_text()
    for port, spec in man["ports"].items():
        width = rf"\[{spec['width'] - 1}:0\]\s+" if spec["width"] > 1 else ""
        assert re.search(rf"^\s*{spec['dir']}put\s+{width}{port};", top, re.M), port
    assert man["options"]["runtime_thresholds"]
    names = [r["name"] for r in man["control"]["registers"]]
    assert names[:5] == ["ID", "CONTROL", "FRAMES_DONE", "FRAMING_ERRORS", "LAST_CLASS"]
    assert names[-1] == "THRESHOLD_0" and len(names) == 5 + desc.num_classes + 1
    header = (tmp_path / "b/bnn_top_regs.h").read_text()
    for reg in man["control"]["registers"]:
        assert f"#define BNN_TOP_{reg['name']} 0x{reg['offset']:03X}u" in header
