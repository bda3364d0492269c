"""Place and route with the real nextpnr: Fmax after routing at the requested clock, the
critical path named by layer and block, Gowin, and a run stopped at its time limit."""

from __future__ import annotations

import json

import pytest

from gen.build.design_source import network_source
from gen.cli.entry import main
from gen.common.devices import DEVICES
from gen.synth.fmax import locate
from gen.synth.wrapper import pin_constraints


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """A small factory description, planned (every convolution folded) and pipelined for
    50 MHz on ECP5 (gen.estimate.timing_model)."""
    from gen.estimate.flow_model import analyse
    from gen.plan.search import plan_network
    from models import description as fmt
    from models.factory import random_description

    desc = random_description(3, height=6, width=6, max_channels=6)
    plan = plan_network(desc, 4 * analyse(desc, {}).ii, fold=True, clock_mhz=50,
                        family="ecp5")
    d = tmp_path_factory.mktemp("planned")
    fmt.save(desc, d / "net.json")
    (d / "plan.json").write_text(json.dumps(plan.to_dict()))
    return network_source(desc, plan=plan), d


def test_routed_fmax_at_the_planned_clock_names_the_critical_path(planned, tmp_path, capsys):
    """`bnngen report --fmax --device --clock -j` on the plan pipelined for 50 MHz: routed at
    the 45 MHz asked for (not the plan's 50), on each device, each meeting it; the 25F's
    fastest speed grade, -8, is faster than its default, -6 (nextpnr was told the grade)."""
    src, d = planned
    assert src.clock_mhz == 50
    layers = {name for name, _ in src.layers}
    out = tmp_path / "rep"
    assert main(["report", str(d / "net.json"), "--plan", str(d / "plan.json"), "--family",
                 "ecp5,gowin", "--fmax", "--device", "25f,25f-8,gw1nr9", "--clock", "45",
                 "-j", "2",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    res = json.loads((out / "report.json").read_text())["fmax"]
    assert list(res) == ["ecp5-25f", "ecp5-25f-8", "gowin-gw1nr9"]
    assert res["ecp5-25f-8"]["fmax_mhz"] > res["ecp5-25f"]["fmax_mhz"]
    table = (out / "report.md").read_text()
    for dev, r in res.items():
        assert r["fits"] and not r["timed_out"] and r["requested_mhz"] == 45
        assert r["meets"] == (r["fmax_mhz"] >= 45) and r["meets"]
        assert dev in table and f"{r['fmax_mhz']:.1f}" in table
        assert r["placed_fmax_mhz"] > 0     # nextpnr's estimate before routing, apart
        # The Fmax is the routed critical path's: one period is that path's delay.
        cp = r["critical_path"]
        assert cp["delay_ns"] == pytest.approx(1000 / r["fmax_mhz"], rel=0.01)
        assert cp["logic_ns"] > 0 and cp["routing_ns"] > 0
        for end in (cp["from"], cp["to"]):
            # a layer, the AXI framing block (hw.framing), the top's own registers (yosys
            # names a register after the top's net it drives: the framing_errors counter),
            # or a port register of the wrapper (`<port>_q`: outside the core, no layer)
            assert end["cell"].startswith("core.") or end["layer"] is None, (dev, cp)
            assert end["layer"] in layers | {"framing", None}, (dev, cp)
            if end["layer"] is not None:
                assert end["cell"].startswith(f"core.{end['layer']}.")
        used, avail = r["utilization"]["lut"]
        assert 0 < used < avail


def test_a_run_stopped_at_its_time_limit_says_so_in_one_line(planned, tmp_path, capsys):
    _, d = planned
    out = tmp_path / "rep"
    assert main(["report", str(d / "net.json"), "--plan", str(d / "plan.json"), "--family",
                 "ecp5", "--fmax", "--device", "25f", "--pnr-timeout", "1", "-o",
                 str(out)]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: note: ecp5-25f: nextpnr stopped at its 1 s limit while ")
    assert "\n" not in err
    rep = json.loads((out / "report.json").read_text())["fmax"]["ecp5-25f"]
    assert rep["timed_out"] and rep["fits"] and rep["timeout_s"] == 1
    assert rep["requested_mhz"] == 50 and "fmax_mhz" not in rep
    assert "timed out" in (out / "report.md").read_text()


def test_cells_are_located_by_the_deepest_module_of_their_instance_path():
    modules = {"top", "top.conv0", "top.conv0.engine", "top.conv0.engine.pc"}

    def at(cell, net=None):
        return locate({"cell": cell, "net": net}, "top", modules)

    assert at("core.conv0.engine.pc.acc_TRELLIS_FF_Q_3") == {
        "cell": "core.conv0.engine.pc.acc_TRELLIS_FF_Q_3", "layer": "conv0",
        "block": "engine.pc", "net": "acc"}
    # An anonymous register is named by the net it drives; a named one by its own name.
    assert at("core.conv0.engine.$11_TRELLIS_FF_Q", "core.conv0.engine.result[3]") == {
        "cell": "core.conv0.engine.$11_TRELLIS_FF_Q", "layer": "conv0", "block": "engine",
        "net": "result[3]"}
    assert at("core.conv0.engine.acc_SB_DFFESR_Q_32_DFFLC",
              "core.conv0.engine.o_SB_DFFESR_Q_40_D_SB_LUT4_O_I0[1]")["net"] == "acc"
    assert at("core.conv0.o__payload.cls_SB_DFFE_Q")["block"] is None
    assert at("core.conv0.o__payload.cls_SB_DFFE_Q")["net"] == "o__payload.cls"
    assert at("core.conv0.o__payload$7.cls_TRELLIS_FF_Q")["net"] == "o__payload.cls"
    glue = at("core.fifo_r_DFFRE_Q")
    assert glue["layer"] is None and glue["net"] == "fifo_r"
    assert at("$nextpnr_CCU2C_3")["layer"] is None


def test_gowin_pins_put_the_clock_on_the_global_clock_pin():
    pins = DEVICES["gowin-gw1nr9"].pins
    cst = pin_constraints([("input", "rst", 1), ("input", "clk", 1), ("output", "o", 2)],
                          pins)
    assert cst.splitlines() == [f'IO_LOC "clk" {pins[0]};', f'IO_LOC "rst" {pins[1]};',
                                f'IO_LOC "o[0]" {pins[2]};', f'IO_LOC "o[1]" {pins[3]};']
    assert len(set(pins)) == len(pins) == DEVICES["gowin-gw1nr9"].io


def test_ecp5_clock_goes_on_a_clock_pin():
    from gen.synth.wrapper import clock_constraint
    lpf = clock_constraint([("input", "rst", 1), ("input", "aclk", 1), ("output", "o", 2)],
                           DEVICES["ecp5-25f"].clock_pin)
    assert lpf == 'LOCATE COMP "aclk" SITE "P6";\n'
    assert all(d.clock_pin for d in DEVICES.values() if d.family == "ecp5")


@pytest.mark.parametrize("log, stage", [
    ("", "reading the netlist"),
    ("Info: Packing IOs..\n", "packing"),
    ("Info: Pack IOBs...\nInfo: Running custom HCLK placer...\n", "placing"),
    ("Info: Packing IOs..\nInfo: Creating initial analytic placement for 9 cells\n"
     "Info: Max frequency for clock 'clk': 20.71 MHz (FAIL at 50.00 MHz)\n"
     "Info: Routing globals...\n", "routing"),
])
def test_a_stopped_run_names_the_stage_from_the_log(log, stage):
    from gen.synth.fmax import _placed_fmax, _stage

    assert _stage(log) == stage
    assert _placed_fmax(log) == (20.71 if stage == "routing" else None)


@pytest.mark.parametrize("args, message", [
    (["--clock", "0"], "--clock must be a positive number"),
    (["--clock", "nan"], "--clock must be a positive number"),
    (["--clock", "inf"], "--clock must be a positive number"),
    (["--device", "xc7z020"], "no place and route for xilinx"),
    (["--pnr-timeout", "-1"], "--pnr-timeout must be 1 to 604,800 seconds"),
    (["--pnr-timeout", str(2 ** 70)], "--pnr-timeout must be 1 to 604,800 seconds"),
    (["--device", "xc7a35t"], "unknown device 'xc7a35t'"),
    (["--family", "xilinx,asic"], "none of them is among the families"),
])
def test_fmax_option_errors_are_one_line(planned, tmp_path, capsys, args, message):
    _, d = planned
    out = tmp_path / "rep"
    assert main(["report", str(d / "net.json"), "--plan", str(d / "plan.json"), "--fmax",
                 *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: error:") and "\n" not in err and message in err
    assert not out.exists()


def test_devices_the_synthesis_cannot_fit_are_not_placed():
    """`bnngen report --fmax` leaves out, before any flattened synthesis, a device whose block
    RAMs the report's synthesis already exceeds, or whose LUTs by more than OVER_LUTS; a
    family the report did not synthesize is placed and routed as asked."""
    from gen.cli.report_cmd import OVER_LUTS, _beyond
    up5k = DEVICES["ice40-up5k"]
    fits = {"ice40": {"total": {"bram": up5k.bram, "lut": up5k.lut}}}
    assert _beyond("up5k", fits) is None
    assert _beyond("up5k", {"ice40": {"total": {"bram": up5k.bram + 1, "lut": 1}}}) == \
        f"needs {up5k.bram + 1:,} BRAMs of {up5k.bram:,}"
    over = int(OVER_LUTS * up5k.lut) + 1
    assert _beyond("up5k", {"ice40": {"total": {"bram": 0, "lut": over}}}) == \
        f"needs {over:,} LUTs of {up5k.lut:,}"
    assert _beyond("up5k", {"ecp5": {"total": {"bram": 999, "lut": 10 ** 6}}}) is None
