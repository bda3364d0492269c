"""How the estimator turns block counts into LUT/FF/BRAM/LUT-RAM (gen/estimate/estimator.py) and how
the planner adds costs (gen/plan/cost.py), on hand-made blocks with coefficients written
here, or with the fitted coefficients where they are plain structure (1.0 per bit); every
expected number was worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from models.description import (Activation, Conv, Description, InputSpec, MaxPool, Scores,
                                Thermometer)
from gen.estimate import estimator as ge
from gen.estimate.blocks import Block, framing_block, reduce_block, skid_block
from gen.plan import cost as pc


WINDOWISH = {"features": {"out_bits": 4, "one": 1}, "ff": 10, "memories": [(28, 1)],
             "muxes": [(2, 3)], "ors": [(3, 4)], "roms": [(3000, 5)],
             "logic_roms": [(16, 5), (17, 2)], "banks": [(28, 1)]}


def test_block_features_ecp5_lutram_window():
    f = ge.block_features(Block("window", **WINDOWISH), "ecp5")
    # 28x1 line buffer and bank: two 16x4 LUT-RAMs each; muxes 2*(3-1) + the bank's 1*(2-1)
    assert f["lut"] == {"out_bits": 4, "one": 1, "mux_luts": 5, "or_luts": 3, "rom_luts": 5,
                        "rom_bits": 34, "rom_mux_luts": 10, "read_bypass_bits": -1,
                        "flag_bookkeeping": 1, "logic_mem_bits": 0, "lutram": 2}
    assert f["ff"] == {"ff": 10, "one": 1, "logic_mem_bits": 0, "lutram_out_bits": 1}


def test_block_features_ice40_logic_memories():
    f = ge.block_features(Block("window", **WINDOWISH), "ice40")
    # no LUT-RAM: the line buffer is 28 bits of logic, the bank 28 registers and a 28-way mux
    assert f["lut"] == {"out_bits": 4, "one": 1, "mux_luts": 4 + 27, "or_luts": 3,
                        "rom_luts": 5, "rom_bits": 34, "rom_mux_luts": 10,
                        "flag_bookkeeping": 1, "logic_mem_bits": 28, "lutram": 0}
    assert f["ff"] == {"ff": 38, "one": 1, "logic_mem_bits": 28, "lutram_out_bits": 0}
    engine = ge.block_features(Block("engine", **WINDOWISH), "ecp5")
    assert "read_bypass_bits" not in engine["lut"]
    muxes_only = ge.block_features(Block("window", {"one": 1}, muxes=[(2, 3)]), "ice40")
    assert muxes_only["lut"] == {"one": 1, "mux_luts": 4, "flag_bookkeeping": 1}
    bare = ge.block_features(Block("engine", {"tree_bits": 3}, ff=2), "ecp5")
    assert bare == {"lut": {"tree_bits": 3}, "ff": {"ff": 2, "one": 1}}


COEFFS = {"ecp5": {"window": {
    "lut": {"out_bits": 2, "one": 3, "mux_luts": 1, "or_luts": 1, "rom_luts": 1,
            "rom_bits": 0.5, "rom_mux_luts": 1, "read_bypass_bits": 1, "lutram": 10},
    "ff": {"ff": 1, "one": 2, "lutram_out_bits": 3}}}}


def test_block_cost_by_hand():
    cost = ge.block_cost(Block("window", **WINDOWISH), "ecp5", COEFFS)
    assert cost == {"bram": 1, "lutram": 4, "lut": 8 + 3 + 5 + 3 + 5 + 17 + 10 - 1 + 20,
                    "ff": 10 + 2 + 3}
    # fitted coefficients of 1.0 per bit: a pool's OR and a skid register
    assert ge.block_cost(reduce_block(3, 4), "ecp5") == {"bram": 0, "lutram": 0, "lut": 4.0,
                                                         "ff": 4.0}
    assert ge.block_cost(skid_block(5), "gowin") == {"bram": 0, "lutram": 0, "lut": 5.0,
                                                     "ff": 6.0}


FRAMING = {"ecp5": {"framing": {"lut": {"one": 50, "data_bits": 1, "count_bits": 2,
                                          "pacer": 5, "pacer_bits": 2}, "ff": {"ff": 1}}}}


def test_framing_block_by_hand():
    # 36 pixels: a 6-bit counter; registers 6 + 8 flags + 3 + 3 pointers + 4 in flight + 16
    # errors + 5 flags, + 3 + 3 for the late flag write (its slot, write and flag) and the
    # frame that left; no pacer at one pixel per clock
    assert framing_block(8, 36, 0) == framing_block(8, 36, 36) == Block(
        "framing", {"one": 1, "data_bits": 8, "count_bits": 6}, ff=51)
    # II 37: the deficit spans -36*37 = -1332 .. 37, 12 bits signed; gcd 1, all bits live
    assert framing_block(8, 36, 37) == Block(
        "framing", {"one": 1, "data_bits": 8, "count_bits": 6, "pacer": 1,
                    "pacer_bits": 12}, ff=51 + 12 + 1)
    # the shipped plan: 784 pixels at 37,632, -29,503,488 .. 37,632: 26 bits; the deficit
    # moves by multiples of gcd = 784 = 16 * 49, so its 4 low bits stay 0
    big = framing_block(3, 784, 37632)
    assert big.features == {"one": 1, "data_bits": 3, "count_bits": 10, "pacer": 1,
                            "pacer_bits": 22}
    assert big.ff == 10 + 45 + 22 + 1
    assert ge.block_cost(big, "ecp5", FRAMING) == {"bram": 0, "lutram": 0,
                                                   "lut": 50 + 3 + 20 + 5 + 44, "ff": 78}


def _desc():
    """2x2x1 2-bit input, thermometer (3 comparators of 2 bits... 2 planes), a 2x2 pool,
    a 1x1 scores layer."""
    th = Thermometer(thresholds=np.array([[1, 2]]))
    pool = MaxPool(name="p", kernel=(2, 2), stride=(2, 2), out_shape=(1, 1, 2))
    w = np.ones((3, 1, 1, 2), dtype=np.uint8)
    out = Conv(name="out", out_channels=3, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
               pad_bit=0, groups=1, domain="bipolar", weights=w,
               scores=Scores(np.array([1, 1, 1]), np.array([0, 0, 0])), out_shape=(1, 1, 3))
    return Description(name="tiny", input=InputSpec(2, 2, 1, 2), encoder=th,
                       layers=(pool, out))


def test_estimate_rows_and_totals():
    est = ge.estimate(_desc(), ["ecp5", "ice40"])
    assert est["design"] == "tiny" and est["families"] == ["ecp5", "ice40"]
    assert est["layers"] == ["encoder", "p", "out"] and est["seconds"] >= 0
    # at an II of 100 cycles a frame the input is paced
    paced = ge.estimate(_desc(), ["ecp5", "ice40"], ii=100)
    for fam in ("ecp5", "ice40"):
        c = ge.coefficients()[fam]["encoder"]["lut"]
        f = ge.coefficients()[fam]["framing"]
        rows = est["estimate"][fam]["layers"]
        # encoder: 1 channel x 2 planes x 2 bits of comparators, 2+1 registers; framing:
        # 2-bit pixels, a 2-bit counter (4 pixels: a pixel per clock, no pacer), 2 + 45
        # registers
        framing = f["lut"]["one"] + 2 * f["lut"]["data_bits"] + 2 * f["lut"]["count_bits"]
        assert rows["encoder"] == {"lut": round(framing + 4 * c["cmp_bits"] + c["one"]),
                                   "ff": round(47 * f["ff"]["ff"] + 3), "bram": 0,
                                   "lutram": 0}
        total = est["estimate"][fam]["total"]
        assert total == {k: sum(r[k] for r in rows.values()) for k in ge.METRICS}
        # the pacer's deficit: -400 .. 100, 10 bits signed, gcd(100, 4) = 4: 2 stay 0
        pacer = f["lut"].get("pacer", 0) + 8 * f["lut"]["pacer_bits"]
        assert paced["estimate"][fam]["layers"]["encoder"] == {
            "lut": round(framing + pacer + 4 * c["cmp_bits"] + c["one"]),
            "ff": round(56 * f["ff"]["ff"] + 3), "bram": 0, "lutram": 0}
        assert {k: v for k, v in paced["estimate"][fam]["layers"].items() if k != "encoder"} \
            == {k: v for k, v in rows.items() if k != "encoder"}
    assert list(est["estimate"]) == ["ecp5", "ice40"]


def test_estimate_table_by_hand():
    row = {"lut": 1234, "ff": 56, "bram": 1, "lutram": 0}
    est = {"design": "d", "seconds": 0.0123, "families": ["ice40", "ecp5"],
           "layers": ["encoder", "c1"],
           "estimate": {f: {"layers": {"encoder": row, "c1": {"lut": 5, "ff": 6, "bram": 0,
                                                               "lutram": 2}},
                            "total": {"lut": 1239, "ff": 62, "bram": 1, "lutram": 2}}
                        for f in ("ice40", "ecp5")}}
    lines = ge.estimate_table(est).split("\n")
    head = "layer       " + "ice40 lut/ff/bram/lutram".rjust(34) + \
        "ecp5 lut/ff/bram/lutram".rjust(34)
    assert lines == [
        "estimate of d (analytical, 12 ms)", head, "-" * 80,
        "encoder     " + "     1,234/     56/   1/    0".rjust(34) * 2,
        "c1          " + "         5/      6/   0/    2".rjust(34) * 2,
        "total       " + "     1,239/     62/   1/    2".rjust(34) * 2]


def test_cost_arithmetic():
    a = pc.Cost(1.5, 2.0, 1, 2)
    b = pc.Cost(0.25, 1.0, 3, 4)
    assert a + b == pc.Cost(1.75, 3.0, 4, 6)
    assert a.lut_equivalent == 1.5 + 4 * 2
    assert pc.Cost(2.5, 3.5, 1, 2).rounded() == {"lut": 2, "ff": 4, "bram": 1, "lutram": 2}
    assert pc.Cost(3.5, 2.4, 0, 0).rounded() == {"lut": 4, "ff": 2, "bram": 0, "lutram": 0}
    assert pc.Cost() == pc.Cost(0.0, 0.0, 0, 0)
    assert pc.check_family("gowin") == "gowin"
    with pytest.raises(ValueError) as e:
        pc.check_family("asic")
    assert str(e.value) == "unknown family 'asic': choose from ice40, ecp5, xilinx, gowin"


def test_blocks_and_shared_costs():
    assert pc.blocks_cost([reduce_block(3, 4), skid_block(5)], "ecp5") == pc.Cost(9.0, 10.0,
                                                                                  0, 0)
    assert pc.blocks_cost([], "ecp5") == pc.Cost()
    desc = _desc()
    shared = pc.shared_costs(desc, "ecp5")
    assert list(shared) == ["encoder", "p"]
    c = ge.coefficients()["ecp5"]["encoder"]["lut"]
    f = ge.coefficients()["ecp5"]["framing"]
    enc = shared["encoder"]
    # the encoder and the framing checker (as in test_estimate_rows_and_totals)
    framing = f["lut"]["one"] + 2 * f["lut"]["data_bits"] + 2 * f["lut"]["count_bits"]
    assert enc.lut == pytest.approx(framing + 4 * c["cmp_bits"] + c["one"])
    assert (enc.ff, enc.bram, enc.lutram) == (pytest.approx(47 * f["ff"]["ff"] + 3), 0, 0)
    # a plan's interval of 100 cycles: the pacer's 8 live deficit bits and its flag
    paced = pc.shared_costs(desc, "ecp5", ii=100)["encoder"]
    assert paced.lut == pytest.approx(enc.lut + f["lut"].get("pacer", 0)
                                      + 8 * f["lut"]["pacer_bits"])
    assert paced.ff == pytest.approx(enc.ff + 9 * f["ff"]["ff"])
    from gen.estimate.blocks import pool_blocks
    assert shared["p"] == pc.blocks_cost(pool_blocks(desc.layers[0], (2, 2, 2)), "ecp5")
    # at a fast enough clock the pool gets its skid register: one more LUT and FF a channel
    # (+1 FF for its valid), as skid_block counts it; and its window generator, pipelined in
    # front of a `ready` register, five registers more: that `ready`, and the enables of the
    # window, the shift column and the two line buffers' reads (one group each)
    fast = pc.shared_costs(desc, "ecp5", clock_mhz=5000.0)
    window_ff = ge.coefficients()["ecp5"]["window"]["ff"]["ff"]
    assert fast["p"] == shared["p"] + pc.Cost(2.0, 3.0 + 5 * window_ff, 0, 0)
    assert pc.shared_costs(desc, "ecp5", clock_mhz=1.0)["p"] == shared["p"]


def test_option_blocks_follow_the_choice():
    w = np.ones((4, 3, 3, 2), dtype=np.uint8)
    act = Activation(thresholds=np.array([5, 6, 7, 8]), flip=np.zeros(4, dtype=np.uint8))
    conv = Conv(name="c", out_channels=4, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                pad_bit=0, groups=1, domain="bipolar", weights=w, activation=act,
                out_shape=(5, 5, 4))
    from gen.estimate.timing_model import Pipelining
    unrolled = pc.option_blocks(conv, "unrolled", 1, 1, "", 2, (5, 5, 2))
    assert [b.kind for b in unrolled] == ["window", "engine"]
    assert unrolled == pc.option_blocks(conv, "unrolled", 0, 0, "", Pipelining(2), (5, 5, 2))
    folded = pc.option_blocks(conv, "folded", 2, 6, "block", Pipelining(1, 1, 0, True),
                              (5, 5, 2))
    assert [b.kind for b in folded] == ["window", "folded", "skid"]
    assert folded[2].ff == 4 + 1
    # front 1 and a skid register: each of the 2 lanes enabled by a copy of `adv` of its own,
    # and the last step's flag a step ahead (hw.folded.memory)
    unskid = pc.option_blocks(conv, "folded", 2, 6, "block", Pipelining(1, 1, 0, False),
                              (5, 5, 2))
    assert folded[1].ff - unskid[1].ff == 2 - 1 + 1
    assert [b.kind for b in pc.option_blocks(conv, "folded", 2, 6, "block",
                                             Pipelining(1, 1, 0, False), (5, 5, 2))] == [
        "window", "folded"]
    assert folded[1].roms and not folded[1].logic_roms
    logic = pc.option_blocks(conv, "folded", 2, 6, "distributed", 1, (5, 5, 2))
    assert logic[1].logic_roms and not logic[1].roms
    assert pc.deep_rom_bits(logic) == sum(d * w for d, w in logic[1].logic_roms if d > 16)
    # no style: "auto" picks block RAM for a ROM of 1,152 words (64 channels x 18 bits a lane)
    big = Conv(**{**conv.__dict__, "out_channels": 64, "weights": np.ones((64, 3, 3, 2),
                                                                          dtype=np.uint8),
                  "activation": Activation(thresholds=np.zeros(64, dtype=np.int64),
                                           flip=np.zeros(64, dtype=np.uint8)),
                  "out_shape": (5, 5, 64)})
    auto = pc.option_blocks(big, "folded", 1, 1, "", 1, (5, 5, 2))
    assert [d for d, _ in auto[1].roms] == [1152] and not auto[1].logic_roms
    assert pc.deep_rom_bits([Block("x", logic_roms=[(16, 3), (17, 2), (40, 1)])]) == 74
    assert pc.option_cost(conv, "folded", 2, 6, "block", "ecp5", 1, (5, 5, 2)) == \
        pc.blocks_cost(pc.option_blocks(conv, "folded", 2, 6, "block", 1, (5, 5, 2)), "ecp5")
