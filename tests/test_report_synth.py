"""The yosys runner, cell classification and the atomic report writer, on small Amaranth
designs whose register and memory bits are known from their parameters (real yosys runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib import memory

from gen.build.design_source import DesignSource, load_build_dir
from gen.cli.entry import main
from gen.common.resources import classify
from gen.synth import scripts
from gen.synth import yosys as synth
from gen.synth.report import build_report, markdown, write_report


def popcount_design(n: int, mem_depth: int = 0, mem_width: int = 8) -> tuple[str, int]:
    """Verilog of a registered popcount of `n` bits XORed with a constant (plus an optional
    line-buffer-like memory), and its number of flip-flops outside the memory."""
    m = Module()
    i = Signal(n)
    x = Signal(n)
    o = Signal(range(n + 1))
    m.d.sync += x.eq(i ^ (0x5A5A5A5A5A5A5A5A & ((1 << n) - 1)))
    m.d.sync += o.eq(sum(x[k] for k in range(n)))
    ports = [i, o]
    if mem_depth:
        m.submodules.mem = mem = memory.Memory(shape=mem_width, depth=mem_depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=[wp])
        addr = Signal(range(mem_depth))
        wd, rd = Signal(mem_width), Signal(mem_width)
        m.d.sync += addr.eq(addr + 1)
        m.d.comb += [wp.addr.eq(addr), wp.data.eq(wd), wp.en.eq(1), rp.addr.eq(addr + 1),
                     rd.eq(rp.data)]
        ports += [wd, rd]
    text = verilog.convert(m, name="pc", ports=ports)
    return text, n + len(o)


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Every test runs yosys for real (no results from earlier runs)."""
    monkeypatch.setenv("BNNGEN_SYNTH_CACHE", str(tmp_path / "cache"))


def test_classify_counts_every_family_table():
    cells = {"SB_LUT4": 5, "SB_DFFE": 3, "SB_DFF": 1, "SB_CARRY": 2, "SB_RAM40_4K": 1}
    assert classify("ice40", cells) == {"lut": 5, "ff": 4, "carry": 2, "bram": 1, "lutram": 0,
                                        "dsp": 0, "mux": 0, "other": 0}
    x = classify("xilinx", {"LUT6": 2, "LUT2": 1, "INV": 1, "FDRE": 7, "CARRY4": 1,
                            "RAMB36E1": 1, "RAMB18E1": 1, "RAM64M": 2, "MUXF7": 3})
    assert (x["lut"], x["ff"], x["carry"], x["bram"], x["lutram"], x["mux"]) == (4, 7, 1, 3, 2, 3)
    g = classify("gowin", {"LUT4": 3, "DFFR": 2, "ALU": 4, "SDPB": 1, "RAM16SDP4": 2, "VCC": 1,
                           "MUX2_LUT5": 1})
    assert (g["lut"], g["ff"], g["carry"], g["bram"], g["lutram"], g["other"]) == (3, 2, 4, 1, 2, 0)
    e = classify("ecp5", {"LUT4": 9, "TRELLIS_FF": 4, "CCU2C": 2, "DP16KD": 1,
                          "TRELLIS_DPR16X4": 3, "PFUMX": 1})
    assert (e["lut"], e["ff"], e["carry"], e["bram"], e["lutram"], e["mux"]) == (9, 4, 2, 1, 3, 1)


@pytest.mark.parametrize("family", ["ice40", "ecp5", "xilinx", "gowin"])
def test_flip_flops_match_the_design_registers(family):
    text, ffs = popcount_design(12)
    r = synth.run_yosys(text, family, "pc")
    got = classify(family, r.cells)
    assert got["ff"] == ffs
    assert got["lut"] > 0 and got["other"] == 0


def test_cache_returns_the_same_numbers_without_yosys():
    text, _ = popcount_design(10)
    first = synth.run_yosys(text, "ice40", "pc")
    again = synth.run_yosys(text, "ice40", "pc")
    assert not first.cached and again.cached and again.cells == first.cells


def test_classic_abc_maps_the_same_registers():
    """The crash fallback's mapper, asked for up front (to compare two nets under one mapper):
    LUT4s, the same flip-flops, and its own cache entry."""
    text, ffs = popcount_design(12)
    abc9 = synth.run_yosys(text, "ecp5", "pc")
    abc = synth.run_yosys(text, "ecp5", "pc", classic_abc=True)
    assert (abc9.mapper, abc.mapper) == ("abc9", "abc") and not abc.cached
    assert classify("ecp5", abc.cells)["ff"] == classify("ecp5", abc9.cells)["ff"] == ffs
    assert abc.cells.get("LUT4", 0) > 0
    assert synth.run_yosys(text, "ecp5", "pc", classic_abc=True).cells == abc.cells


def test_a_fallback_result_of_another_fallback_script_is_recomputed(tmp_path, monkeypatch):
    """A cached ABC9-crash fallback result is keyed by the ABC9 script it stands for: when
    the fallback script changes, the entry is synthesized again, not returned."""
    monkeypatch.setenv("BNNGEN_SYNTH_CACHE", str(tmp_path))
    text, _ = popcount_design(10)
    first = synth.run_yosys(text, "gowin", "pc")
    [entry] = tmp_path.glob("*/*.json")
    data = json.loads(entry.read_text())
    data.update(mapper="abc", fallback="an older fallback script", modules={})
    entry.write_text(json.dumps(data))
    again = synth.run_yosys(text, "gowin", "pc")
    assert not again.cached and again.cells == first.cells


def test_abc9_crash_falls_back_to_classic_abc_for_the_crashing_module_only():
    import gzip
    from types import SimpleNamespace

    from gen.build.design_source import verilog_modules

    # A small factory net on which yowasp's ABC9 aborts (reproducibly) in one module, its
    # window generator: random_description(1, convs=2, height=6, width=6, max_channels=8)
    # as bnngen built it before issue 24's window generator flags (which ABC9 maps).
    fixture = Path(__file__).parent / "data" / "abc9_crash.v.gz"
    src = SimpleNamespace(verilog=gzip.decompress(fixture.read_bytes()).decode(), top="top")
    r = synth.run_yosys(src.verilog, "gowin", src.top, use_cache=False)
    assert r.mapper == "abc9+abc" and r.fallback_modules
    assert set(r.fallback_modules) < set(r.modules)
    # ABC9 crashes on each fallback module alone (the others as empty boxes).
    names = verilog_modules(src.verilog)
    for name in r.fallback_modules:
        others = tuple(n for n in names if n != name)
        with pytest.raises(synth.SynthError, match="wasm trap|Assert"):
            synth._run_script(src.verilog, "gowin", name,
                              scripts.yosys_script("gowin", name, blackbox=others), None)
    # Mapping moves no flip-flop: the same as classic ABC on the whole net.
    whole = synth.run_yosys(src.verilog, "gowin", src.top, classic_abc=True, use_cache=False)
    assert classify("gowin", r.cells)["ff"] == classify("gowin", whole.cells)["ff"] > 0


def test_report_names_the_modules_mapped_by_the_fallback():
    from gen.synth.report import markdown

    row = {"lut": 10, "ff": 2, "carry": 0, "bram": 0, "lutram": 0, "dsp": 0, "mux": 0}
    res = {"layers": {"conv0": row}, "total": row, "lut_mapper": "abc9+abc",
           "fallback_modules": ["top.conv0.window"]}
    text = markdown({"design": "d", "yosys": "0.70", "families": ["gowin", "ice40"],
                     "results": {"gowin": res, "ice40": {**res, "lut_mapper": "abc9",
                                                         "fallback_modules": []}}})
    assert text.count("ABC9 crashed on top.conv0.window") == 1
    assert text.index("## gowin") < text.index("ABC9 crashed") < text.index("## ice40")


# yosys's CMOS table for the gates `asic` maps to: NAND/NOR 4, NOT 2, plain DFF 16.
CMOS_TRANSISTORS = {"$_NAND_": 4, "$_NOR_": 4, "$_NOT_": 2, "$_DFF_P_": 16}


def transistors_of(cells: dict[str, int]) -> int:
    assert set(cells) <= set(CMOS_TRANSISTORS)
    return sum(CMOS_TRANSISTORS[k] * v for k, v in cells.items())


def test_asic_counts_transistors_from_the_gates():
    text, ffs = popcount_design(8)
    r = synth.run_yosys(text, "asic", "pc")
    assert r.subtree_transistors("pc") == transistors_of(r.cells)
    assert r.cells["$_DFF_P_"] == ffs


def test_memory_goes_to_bram_on_ice40_and_lutram_on_xilinx():
    text, _ = popcount_design(4, mem_depth=64, mem_width=16)
    ice = classify("ice40", synth.run_yosys(text, "ice40", "pc").cells)
    xil = classify("xilinx", synth.run_yosys(text, "xilinx", "pc").cells)
    assert ice["bram"] == 1          # 1 kbit fits one 4 kbit SB_RAM40_4K
    assert xil["bram"] == 0 and xil["lutram"] > 0


def test_yosys_error_is_one_line_user_error():
    with pytest.raises(synth.SynthError) as e:
        synth.run_yosys("module broken(input a; endmodule\n", "ice40", "broken")
    assert "\n" not in str(e.value) and "ice40" in str(e.value)


def two_layer_design(sizes=(5, 9)) -> tuple[str, list[int]]:
    """A top with one popcount submodule per size, each on its own ports; and each one's
    flip-flops."""
    top = Module()
    ports, ffs = [], []
    for k, n in enumerate(sizes):
        sub = Module()
        i, x, o = Signal(n, name="i"), Signal(n, name="x"), Signal(range(n + 1), name="o")
        sub.d.sync += [x.eq(i ^ ((1 << n) - 1) // 3), o.eq(sum(x[j] for j in range(n)))]
        top.submodules[f"layer{k}"] = sub
        ti, to = Signal(n, name=f"in{k}"), Signal(range(n + 1), name=f"out{k}")
        top.d.comb += [i.eq(ti), to.eq(o)]
        ports += [ti, to]
        ffs.append(n + (n + 1).bit_length())
    return verilog.convert(top, name="top", ports=ports), ffs


def test_hierarchy_gives_each_layer_its_subtree():
    text, ffs = two_layer_design()
    for family in ("ice40", "xilinx"):
        r = synth.run_yosys(text, family, "top")
        rows = [classify(family, r.subtree(f"top.layer{k}"))["ff"] for k in range(2)]
        assert rows == ffs
        assert classify(family, r.cells)["ff"] == sum(ffs)


def test_asic_transistors_of_a_hierarchy_count_each_gate_once():
    text, _ = two_layer_design()
    r = synth.run_yosys(text, "asic", "top")
    for k in range(2):
        layer = f"top.layer{k}"
        assert r.subtree_transistors(layer) == transistors_of(r.subtree(layer)) > 0
    assert r.subtree_transistors("top") == transistors_of(r.cells)


def rom_and_ram_design() -> str:
    """A top with a 32 x 6 ROM (every bit varies) and, in a submodule, a 64 x 16 RAM."""
    top = Module()
    top.submodules.rom = rom = memory.Memory(shape=6, depth=32,
                                             init=[(k * 37 + 11) % 64 for k in range(32)])
    rp = rom.read_port()
    addr, q = Signal(5), Signal(6)
    top.d.sync += addr.eq(addr + 1)
    top.d.comb += [rp.addr.eq(addr), q.eq(rp.data)]
    sub = Module()
    sub.submodules.mem = ram = memory.Memory(shape=16, depth=64, init=[])
    wp, rd = ram.write_port(), ram.read_port(transparent_for=[])
    wd, data, waddr = Signal(16), Signal(16), Signal(6)
    sub.d.sync += waddr.eq(waddr + 1)
    sub.d.comb += [wp.addr.eq(waddr), wp.data.eq(wd), wp.en.eq(1), rd.addr.eq(waddr + 3),
                   data.eq(rd.data)]
    top.submodules.buf = sub
    return verilog.convert(top, name="top", ports=[q, wd, data])


def test_asic_keeps_memories_as_macros_outside_the_transistor_count():
    r = synth.run_yosys(rom_and_ram_design(), "asic", "top")
    assert [(m.words, m.width, m.write_ports) for m in r.subtree_memories("top.buf")] == [
        (64, 16, 1)]
    assert sorted((m.words, m.width, m.write_ports) for m in r.subtree_memories("top")) == [
        (32, 6, 0), (64, 16, 1)]
    gates = {k: v for k, v in r.cells.items() if k != "$mem_v2"}
    assert r.cells["$mem_v2"] == 2
    assert r.subtree_transistors("top") == transistors_of(gates) > 0
    rep = build_report(DesignSource(name="m", verilog=rom_and_ram_design(), top="top",
                                    layers=(("buf", "top.buf"),), origin="test"),
                       ["asic"], progress=False)
    total, layer = rep["results"]["asic"]["total"], rep["results"]["asic"]["layers"]["buf"]
    assert (total["memories"], total["memory_bits"]) == (2, 32 * 6 + 64 * 16)
    assert layer["memory_macros"] == [{"words": 64, "width": 16, "read_ports": 1,
                                       "write_ports": 1, "kind": "ram", "count": 1}]
    assert total["gates"] == sum(gates.values()) - total["ff"]
    assert "SRAM/ROM macros" in markdown(rep)


def _src() -> DesignSource:
    text, _ = popcount_design(6)
    return DesignSource(name="pc", verilog=text, top="pc", layers=(("only", "pc"),),
                        origin="test")


def test_report_folder_is_complete_and_replaced_atomically(tmp_path):
    rep = build_report(_src(), ["ice40", "asic"], progress=False)
    out = write_report(rep, tmp_path / "rep")
    assert sorted(p.name for p in out.iterdir()) == [".bnngen-output", "report.json", "report.md",
                                                     "resources.png"]
    data = json.loads((out / "report.json").read_text())
    assert data["results"]["ice40"]["total"]["lut"] == rep["results"]["ice40"]["total"]["lut"]
    assert "| **total** |" in (out / "report.md").read_text()
    # A failing write leaves the old report untouched and no temporary folder behind.
    bad = dict(rep, families=["nope"])
    with pytest.raises(KeyError):
        write_report(bad, tmp_path / "rep")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "rep"]
    assert json.loads((out / "report.json").read_text()) == data


def _build_dir(tmp_path, manifest) -> str:
    d = tmp_path / "build"
    d.mkdir()
    text, _ = popcount_design(4)
    (d / "top.v").write_text(text)
    (d / "manifest.json").write_text(manifest if isinstance(manifest, str)
                                     else json.dumps(manifest))
    return str(d)


def test_build_folder_with_manifest_reports(tmp_path, capsys):
    d = _build_dir(tmp_path, {"top": "pc", "verilog": "top.v",
                              "layers": [{"name": "l0", "module": "pc"}]})
    assert load_build_dir(d).layers == (("l0", "pc"),)
    assert main(["report", d, "--family", "gowin"]) == 0
    rep = json.loads((tmp_path / "build" / "report" / "report.json").read_text())
    assert rep["layers"] == ["l0"] and rep["results"]["gowin"]["total"]["lut"] > 0


USER_ERRORS = {
    "missing": "nowhere: no such build folder or model description",
    "no_manifest": "empty: not a build folder (no manifest.json)",
    "garbled": "build/manifest.json: garbled manifest",
    "bad_top": "top module 'elsewhere' is not in the Verilog",
    "family": "unknown family 'vhdl': choose from ice40, ecp5, xilinx, gowin, asic",
}


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_errors_are_one_line_and_leave_no_report(tmp_path, capsys, case):
    if case == "missing":
        args = [str(tmp_path / "nowhere")]
    elif case == "family":
        args = [_build_dir(tmp_path, {"top": "pc"}), "--family", "ice40,vhdl"]
    elif case == "no_manifest":
        (tmp_path / "empty").mkdir()
        args = [str(tmp_path / "empty")]
    elif case == "garbled":
        args = [_build_dir(tmp_path, "{not json")]
    elif case == "bad_top":
        args = [_build_dir(tmp_path, {"top": "elsewhere"})]
    out = tmp_path / "out"
    assert main(["report", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: error:") and "\n" not in err
    assert USER_ERRORS[case] in err, err
    assert not out.exists()


def test_fmax_places_and_routes_and_reports_utilization(tmp_path):
    from gen.synth.fmax import place_and_route
    text, _ = popcount_design(6)
    res = place_and_route(text, "pc", ["up5k", "25f"])
    for dev in ("ice40-up5k", "ecp5-25f"):
        r = res[dev]
        assert r["fits"] and not r["timed_out"] and r["requested_mhz"] == 100
        # nextpnr's Fmax is one over the routed critical path (its own report, apart).
        assert r["fmax_mhz"] == pytest.approx(1000 / r["critical_path"]["delay_ns"], rel=0.01)
        assert r["meets"] == (r["fmax_mhz"] >= 100)
        used, avail = res[dev]["utilization"]["lut"]
        assert 0 < used < avail


def test_design_that_fits_no_device_is_an_error_and_writes_nothing(tmp_path, capsys):
    text, _ = popcount_design(48)          # 48 input pins: more than the UP5K's 39
    d = tmp_path / "build"
    d.mkdir()
    (d / "top.v").write_text(text)
    (d / "manifest.json").write_text(json.dumps({"top": "pc", "verilog": "top.v"}))
    out = tmp_path / "out"
    assert main(["report", str(d), "--family", "ice40", "--fmax", "--device", "up5k",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: error:") and "\n" not in err
    assert "does not fit ice40-up5k" in err and "pins of 39" in err
    assert not out.exists()


def _described(tmp_path, seed: int = 3):
    """A small factory description on disk, and a fold-everything plan for it."""
    from gen.estimate.flow_model import analyse
    from gen.plan.search import plan_network
    from models import description as fmt
    from models.factory import random_description

    desc = random_description(seed, height=6, width=6, max_channels=6)
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "net.json"
    fmt.save(desc, path)
    plan = plan_network(desc, 4 * analyse(desc, {}).ii, fold=True)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan.to_dict()))
    return desc, path, plan, plan_path


def test_description_reports_as_its_folding_plan_builds_it(tmp_path):
    from gen.build.design_source import load_source

    desc, path, plan, plan_path = _described(tmp_path)
    unrolled, folded = load_source(path), load_source(path, plan_path)
    assert [n for n, _ in folded.layers] == ["encoder"] + [la.name for la in desc.layers]
    assert folded.verilog != unrolled.verilog
    assert main(["report", str(path), "--plan", str(plan_path), "--family", "ice40",
                 "-o", str(tmp_path / "rep")]) == 0
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["layers"] == [n for n, _ in folded.layers]
    assert rep["results"]["ice40"]["total"]["lut"] > 0


def test_shipped_model_unrolled_asks_for_a_plan(tmp_path, capsys):
    """The shipped model fully unrolled is hundreds of thousands of LUTs: refused in
    milliseconds, before elaboration, with the way out in the one line."""
    shipped = Path(__file__).resolve().parents[1] / "models" / "zoo" / "default.json"
    out = tmp_path / "out"
    assert main(["report", str(shipped), "--family", "ecp5", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: error:") and "\n" not in err
    assert "--plan PLAN" in err and "--force" in err and "ecp5 LUTs" in err
    assert not out.exists()


PLAN_ERRORS = {
    "plan_on_build": "build: --plan applies to a model description",
    "plan_of_other_model": "other/plan.json: the plan is for layers ['conv0', 'conv1', "
                           "'pool1', 'classifier'], the model has ['conv0', 'pool0', "
                           "'classifier']",
    "plan_garbled": "plan.json: not a JSON plan",
}


@pytest.mark.parametrize("case", sorted(PLAN_ERRORS))
def test_plan_errors_are_one_line_and_leave_no_report(tmp_path, capsys, case):
    desc, path, plan, plan_path = _described(tmp_path)
    if case == "plan_on_build":
        args = [_build_dir(tmp_path, {"top": "pc"}), "--plan", str(plan_path)]
    elif case == "plan_of_other_model":
        _, _, _, other = _described(tmp_path / "other", seed=8)
        args = [str(path), "--plan", str(other)]
    else:
        plan_path.write_text("{")
        args = [str(path), "--plan", str(plan_path)]
    out = tmp_path / "out"
    assert main(["report", *args, "--family", "ice40", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bnngen: error:") and "\n" not in err
    assert PLAN_ERRORS[case] in err, err
    assert not out.exists()
